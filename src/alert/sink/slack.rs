//! The `slack` sink: an incoming-webhook message with a readable `text` (shown in
//! notifications) and `blocks` that link to the dashboard.

use serde_json::{Value, json};

use super::Secret;
use crate::alert::view;
use crate::model::{Alert, AlertState};

/// The incoming-webhook URL is itself the credential, so it is a `Secret`.
#[derive(Debug, Clone)]
pub struct SlackConfig {
    pub url: Secret,
    /// Where "Open in hookwatch" points: the sink's `dashboard_url`, else `public_url`.
    pub dashboard_url: Option<String>,
}

/// The message body Slack expects.
pub fn message(alert: &Alert, config: &SlackConfig) -> Value {
    let a = &alert.new;
    let text = view::summary(alert);
    let emoji = match a.state {
        AlertState::Firing => ":rotating_light:",
        AlertState::Resolved => ":white_check_mark:",
    };
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("{emoji} *{}*", escape(&text))}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "{} `{}` · kind `{}` · window {} s · at {}",
            view::subject(a.kind), escape(&a.source), a.kind.as_str(), a.window_secs, crate::query::view::time(a.at)
        )}]}),
    ];
    if let Some(base) = &config.dashboard_url {
        let link = view::dashboard_link(base, alert);
        blocks.push(json!({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open in hookwatch"}, "url": link
        }]}));
    }
    json!({ "text": text, "blocks": blocks })
}

/// Slack's mrkdwn treats `&`, `<` and `>` as control characters.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
