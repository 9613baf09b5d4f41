//! The alert as one human sentence (and its JSON, from `query::view`). One place, so
//! `/api/alerts`, the live stream, the CLI and every sink agree.

use crate::model::{Alert, AlertKind, AlertState};

/// The alert's JSON; it lives with the other JSON views in `query::view`.
pub use crate::query::view::alert as json;

/// What happened, for a person: `FIRING "stripe burst": 100 events from stripe in 60 s`.
pub fn summary(alert: &Alert) -> String {
    let a = &alert.new;
    let state = match a.state {
        AlertState::Firing => "FIRING",
        AlertState::Resolved => "RESOLVED",
    };
    let what = match (a.kind, a.state) {
        (AlertKind::Silence, AlertState::Firing) => {
            format!("no events from {} for {} s", a.source, a.window_secs)
        }
        (AlertKind::Silence, AlertState::Resolved) => format!("{} is sending again", a.source),
        (AlertKind::ForwardFailures, AlertState::Firing) => format!(
            "{} failed deliveries to target {} in the last {} s",
            a.count, a.source, a.window_secs
        ),
        (AlertKind::ForwardFailures, AlertState::Resolved) => {
            format!("target {} takes deliveries again", a.source)
        }
        (kind, _) => {
            let noun = match kind {
                AlertKind::Errors => "error events",
                AlertKind::SignatureFailures => "signature failures",
                _ => "events",
            };
            format!(
                "{} {noun} from {} in the last {} s",
                a.count, a.source, a.window_secs
            )
        }
    };
    format!("{state} \"{}\" ({}): {what}", a.rule, a.kind.as_str())
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use serde_json::json;

    use super::*;
    use crate::model::NewAlert;

    #[test]
    fn the_summary_names_rule_kind_source_and_count() {
        let alert = Alert {
            id: 3,
            new: NewAlert {
                rule: "stripe burst".into(),
                kind: AlertKind::Burst,
                source: "stripe".into(),
                state: AlertState::Firing,
                count: 100,
                window_secs: 60,
                at: DateTime::UNIX_EPOCH,
                sample_event_ids: vec![1, 2],
            },
        };
        assert_eq!(
            summary(&alert),
            "FIRING \"stripe burst\" (burst): 100 events from stripe in the last 60 s"
        );
        assert_eq!(json(&alert)["sample_event_ids"], json!([1, 2]));
        assert_eq!(json(&alert)["at"], "1970-01-01T00:00:00.000000Z");
    }
}
