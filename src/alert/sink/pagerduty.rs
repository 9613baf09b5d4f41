//! The `pagerduty` sink: Events API v2. A firing triggers and a resolution resolves the same
//! incident, because both carry the same `dedup_key` (per rule and source).

use serde_json::{Value, json};

use super::Secret;
use crate::alert::view;
use crate::model::{Alert, AlertState};

/// PagerDuty's public endpoint, used when the sink gives no `url`.
pub const DEFAULT_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// Severities the Events API accepts.
pub const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

#[derive(Debug, Clone)]
pub struct PagerDutyConfig {
    pub url: String,
    /// The integration key, read from `routing_key_env`.
    pub routing_key: Secret,
    pub severity: String,
    pub dashboard_url: Option<String>,
}

/// Stable per rule and source, so PagerDuty groups firings and matches the resolution.
pub fn dedup_key(alert: &Alert) -> String {
    format!("hookwatch/{}/{}", alert.new.rule, alert.new.source)
}

/// The Events API v2 body.
pub fn event(alert: &Alert, config: &PagerDutyConfig) -> Value {
    let a = &alert.new;
    let mut event = json!({
        "routing_key": config.routing_key.expose(),
        "dedup_key": dedup_key(alert),
        "client": "hookwatch",
    });
    match a.state {
        AlertState::Firing => {
            event["event_action"] = json!("trigger");
            event["payload"] = json!({
                "summary": view::summary(alert),
                "source": a.source,
                "severity": config.severity,
                "timestamp": crate::query::view::time(a.at),
                "component": "hookwatch",
                "class": a.kind.as_str(),
                "custom_details": view::json(alert),
            });
        }
        AlertState::Resolved => event["event_action"] = json!("resolve"),
    }
    if let Some(url) = &config.dashboard_url {
        event["client_url"] = json!(url);
    }
    event
}
