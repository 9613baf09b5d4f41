//! What `tail` prints: an event's summary as one readable line, an alert as one line, and
//! the outcome of forwarding an event. Pure formatting, so the layout is tested directly.

use std::time::Duration;

use serde::Deserialize;

/// The fields of an event summary (the `data` of an `event: webhook`) that `tail` uses.
#[derive(Debug, Clone, Deserialize)]
pub struct Summary {
    pub id: i64,
    #[serde(default)]
    pub source: String,
    #[serde(default)]
    pub received_at: String,
    #[serde(default)]
    pub method: String,
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub event_type: Option<String>,
    #[serde(default)]
    pub signature: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub size: i64,
}

impl Summary {
    /// A rejected delivery (bad or missing signature on a strict source) is shown but never
    /// forwarded: the application must not act on what hookwatch refused.
    pub fn is_rejected(&self) -> bool {
        self.status == "rejected"
    }
}

/// The fields of an `event: alert` that `tail` shows.
#[derive(Debug, Clone, Deserialize)]
pub struct AlertLine {
    #[serde(default)]
    pub rule: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub count: i64,
    #[serde(default)]
    pub at: String,
}

/// `TIME  SOURCE  TYPE  SIGNATURE  STATUS  #ID  SIZE`; a rejected event's status is in
/// capitals so it stands out.
pub fn event_line(s: &Summary) -> String {
    let status = if s.is_rejected() {
        s.status.to_uppercase()
    } else {
        s.status.clone()
    };
    format!(
        "{}  {:<14}  {:<28}  {:<10}  {:<8}  #{}  {} B",
        s.received_at,
        s.source,
        s.event_type.as_deref().unwrap_or("-"),
        s.signature,
        status,
        s.id,
        s.size
    )
}

/// `TIME  ALERT  RULE (KIND) STATE: COUNT [on SOURCE]`
pub fn alert_line(a: &AlertLine) -> String {
    let on = a
        .source
        .as_deref()
        .map(|s| format!(" on {s}"))
        .unwrap_or_default();
    format!(
        "{}  ALERT  {} ({}) {}: {}{on}",
        a.at, a.rule, a.kind, a.state, a.count
    )
}

/// What happened when `tail` re-sent one event to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forwarded {
    /// The application answered (any status, printed as it came).
    Answered {
        status: u16,
        reason: Option<&'static str>,
        took: Duration,
    },
    /// The application could not be reached or did not answer in time.
    Failed(String),
    /// A rejected event: not sent.
    SkippedRejected,
    /// The server no longer has the event (pruned in between): nothing to send.
    SkippedGone,
}

/// `  #ID -> 200 OK (3 ms)` and the like, indented under the event's line.
pub fn forward_line(id: i64, outcome: &Forwarded) -> String {
    match outcome {
        Forwarded::Answered {
            status,
            reason,
            took,
        } => {
            let reason = reason.map(|r| format!(" {r}")).unwrap_or_default();
            format!("  #{id} -> {status}{reason} ({} ms)", took.as_millis())
        }
        Forwarded::Failed(why) => format!("  #{id} -> not delivered: {why}"),
        Forwarded::SkippedRejected => format!("  #{id} -> not forwarded: rejected"),
        Forwarded::SkippedGone => format!("  #{id} -> not forwarded: no longer stored"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(status: &str) -> Summary {
        serde_json::from_value(serde_json::json!({
            "id": 42, "source": "stripe", "received_at": "2026-12-05T16:10:00.123456Z",
            "method": "POST", "query": "", "event_type": "charge.failed",
            "signature": "valid", "status": status, "size": 1234, "extra": true
        }))
        .unwrap()
    }

    #[test]
    fn an_event_line_has_time_source_type_signature_status_id_and_size() {
        assert_eq!(
            event_line(&summary("received")),
            "2026-12-05T16:10:00.123456Z  stripe          charge.failed                 \
             valid       received  #42  1234 B"
        );
    }

    #[test]
    fn a_rejected_event_is_marked_in_capitals() {
        let s = summary("rejected");
        assert!(s.is_rejected());
        assert!(event_line(&s).contains("REJECTED  #42"));
    }

    #[test]
    fn forward_outcomes_name_the_event_and_what_the_application_said() {
        let answered = Forwarded::Answered {
            status: 503,
            reason: Some("Service Unavailable"),
            took: Duration::from_millis(12),
        };
        assert_eq!(
            forward_line(7, &answered),
            "  #7 -> 503 Service Unavailable (12 ms)"
        );
        let failed = Forwarded::Failed("Connection refused (os error 111)".into());
        assert_eq!(
            forward_line(7, &failed),
            "  #7 -> not delivered: Connection refused (os error 111)"
        );
    }

    #[test]
    fn an_alert_line_says_rule_state_and_count() {
        let a: AlertLine = serde_json::from_value(serde_json::json!({
            "rule": "burst", "kind": "burst", "source": "stripe", "state": "firing",
            "count": 120, "at": "2026-12-05T16:10:00.000000Z"
        }))
        .unwrap();
        assert_eq!(
            alert_line(&a),
            "2026-12-05T16:10:00.000000Z  ALERT  burst (burst) firing: 120 on stripe"
        );
    }
}
