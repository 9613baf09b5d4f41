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

/// What an alert's `source` names: a source, or for `forward_failures` a forwarding target.
pub fn subject(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::ForwardFailures => "target",
        _ => "source",
    }
}

/// The dashboard page that shows what the alert is about, under `base`: the source's events,
/// or for `forward_failures` the target's deliveries.
pub fn dashboard_link(base: &str, alert: &Alert) -> String {
    let a = &alert.new;
    let base = base.trim_end_matches('/');
    match a.kind {
        AlertKind::ForwardFailures => format!("{base}/?view=deliveries&target={}", a.source),
        _ => format!("{base}/?source={}", a.source),
    }
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
        let link = dashboard_link("https://h.example/", &alert);
        assert_eq!(link, "https://h.example/?source=stripe");
    }

    #[test]
    fn a_forward_failures_alert_reads_as_the_target_and_links_to_its_deliveries() {
        let mut alert = Alert {
            id: 4,
            new: NewAlert {
                rule: "app down".into(),
                kind: AlertKind::ForwardFailures,
                source: "app".into(),
                state: AlertState::Firing,
                count: 5,
                window_secs: 300,
                at: DateTime::UNIX_EPOCH,
                sample_event_ids: vec![9],
            },
        };
        assert_eq!(
            summary(&alert),
            "FIRING \"app down\" (forward_failures): 5 failed deliveries to target app in the last 300 s"
        );
        let link = dashboard_link("https://h.example", &alert);
        assert_eq!(link, "https://h.example/?view=deliveries&target=app");
        alert.new.state = AlertState::Resolved;
        assert_eq!(
            summary(&alert),
            "RESOLVED \"app down\" (forward_failures): target app takes deliveries again"
        );
    }
}
