//! The `webhook` sink: the alert document (as `/api/alerts` shows it, plus a `summary`)
//! POSTed as JSON to any URL.

use serde_json::{Value, json};

use super::Secret;
use crate::alert::view;
use crate::model::Alert;

/// The URL may carry a token in its path or query, so it is a `Secret`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub url: Secret,
    pub dashboard_url: Option<String>,
}

/// `{"alert": {…}, "summary": "…", "dashboard_url": …}`
pub fn document(alert: &Alert, config: &WebhookConfig) -> Value {
    json!({
        "alert": view::json(alert),
        "summary": view::summary(alert),
        "dashboard_url": config.dashboard_url,
    })
}
