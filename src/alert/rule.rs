//! A rule as configured, and the facts of one event it looks at. Pure: no tokio, no I/O.
//!
//! Entry points: `Rule` (what to watch), `Facts::of` (what the rule needs from an event), and
//! `Rule::selects` / `Rule::counts`, which decide whether an event concerns the rule and
//! whether it counts toward the threshold.

use chrono::{DateTime, Utc};

use crate::model::{AlertKind, Event};
use crate::store::TypeMatch;

/// Seconds a rule stays quiet after firing, when the config does not say.
pub const DEFAULT_COOLDOWN_SECS: u64 = 300;

/// A validated alert rule (built by `config::alerts`, so every value here is already sane:
/// a window of at least one second, a threshold of at least one).
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub name: String,
    pub kind: AlertKind,
    /// `None`: every source, each evaluated on its own.
    pub source: Option<String>,
    /// Only events of this type (a trailing `*` in the config matches by prefix).
    pub event_type: Option<TypeMatch>,
    /// Matching events in the window that make it fire (unused by `silence`).
    pub threshold: u32,
    pub window_secs: u64,
    pub cooldown_secs: u64,
    /// `forward_failures` only: the forwarding target watched (`None`: each on its own).
    pub target: Option<String>,
}

impl Rule {
    /// The window in microseconds (config caps it far below overflow).
    pub fn window_micros(&self) -> i64 {
        (self.window_secs.min(u32::MAX as u64) as i64) * 1_000_000
    }

    pub fn cooldown_micros(&self) -> i64 {
        (self.cooldown_secs.min(u32::MAX as u64) as i64) * 1_000_000
    }

    /// Whether the event concerns this rule at all (its source and type).
    pub fn selects(&self, facts: &Facts) -> bool {
        if self.kind == AlertKind::ForwardFailures {
            return false; // fed forwarding attempts, not events (`forward_failures`)
        }
        let source_ok = self.source.as_deref().is_none_or(|s| s == facts.source);
        let type_ok = match (&self.event_type, facts.event_type) {
            (None, _) => true,
            (Some(TypeMatch::Exact(want)), Some(have)) => want == have,
            (Some(TypeMatch::Prefix(prefix)), Some(have)) => have.starts_with(prefix.as_str()),
            (Some(_), None) => false,
        };
        source_ok && type_ok
    }

    /// Whether a selected event counts toward the threshold: every event for `burst` and
    /// `silence`, errors for `errors`, bad signatures for `signature_failures`.
    pub fn counts(&self, facts: &Facts) -> bool {
        match self.kind {
            AlertKind::Burst | AlertKind::Silence => true,
            AlertKind::Errors => facts.is_error,
            AlertKind::SignatureFailures => facts.signature_failure,
            AlertKind::ForwardFailures => false,
        }
    }
}

/// What rules need to know about an event; time is the event's `received_at`.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub id: i64,
    pub source: &'a str,
    pub event_type: Option<&'a str>,
    pub at: DateTime<Utc>,
    pub is_error: bool,
    /// Invalid, or missing on a source that has secrets (the event's own flag).
    pub signature_failure: bool,
}

impl<'a> Facts<'a> {
    pub fn of(event: &'a Event) -> Facts<'a> {
        Facts {
            id: event.id,
            source: &event.new.source,
            event_type: event.new.event_type.as_deref(),
            at: event.new.received_at,
            is_error: event.new.is_error,
            signature_failure: event.new.signature_failure,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: AlertKind) -> Rule {
        Rule {
            name: "r".into(),
            kind,
            source: Some("stripe".into()),
            event_type: Some(TypeMatch::Prefix("charge.".into())),
            threshold: 1,
            window_secs: 60,
            cooldown_secs: 0,
            target: None,
        }
    }

    fn facts<'a>(source: &'a str, event_type: Option<&'a str>) -> Facts<'a> {
        Facts {
            id: 1,
            source,
            event_type,
            at: DateTime::UNIX_EPOCH,
            is_error: false,
            signature_failure: true,
        }
    }

    #[test]
    fn a_rule_selects_by_source_and_type_prefix() {
        let r = rule(AlertKind::Burst);
        assert!(r.selects(&facts("stripe", Some("charge.failed"))));
        assert!(!r.selects(&facts("github", Some("charge.failed"))));
        assert!(!r.selects(&facts("stripe", Some("invoice.paid"))));
        assert!(!r.selects(&facts("stripe", None)));
    }

    #[test]
    fn each_kind_counts_its_own_events() {
        let f = facts("stripe", Some("charge.x"));
        assert!(rule(AlertKind::Burst).counts(&f));
        assert!(!rule(AlertKind::Errors).counts(&f));
        assert!(rule(AlertKind::SignatureFailures).counts(&f));
    }
}
