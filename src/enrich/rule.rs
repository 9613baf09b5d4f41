//! Which events are enriched automatically: a type matching one of `when_types` (globs where
//! `*` matches any run of characters, dots included), or an error when `when_errors` is set.
//! Rejected events never are: their content is unproven and possibly forged. Pure.

use crate::model::{Event, Status};

/// The configured selection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rule {
    pub types: Vec<String>,
    pub errors: bool,
}

impl Rule {
    /// Whether the worker should enrich this event without being asked.
    pub fn matches(&self, event: &Event) -> bool {
        if event.new.status == Status::Rejected {
            return false;
        }
        if self.errors && event.new.is_error {
            return true;
        }
        let Some(event_type) = event.new.event_type.as_deref() else {
            return false;
        };
        self.types.iter().any(|p| glob(p, event_type))
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (none too).
/// Greedy-free and linear in practice: each literal piece is found left to right.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty(); // no `*` at all: an exact match
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewEvent, Provider, Signature};

    fn event(event_type: Option<&str>, is_error: bool, status: Status) -> Event {
        Event {
            id: 1,
            size: 0,
            duplicates: 0,
            enrichment: None,
            new: NewEvent {
                source: "s".into(),
                received_at: chrono::DateTime::default(),
                method: "POST".into(),
                path: "/webhook/s".into(),
                query: String::new(),
                remote_addr: "127.0.0.1".into(),
                content_type: None,
                headers: Vec::new(),
                body: Vec::new(),
                provider: Provider::Generic,
                event_type: event_type.map(str::to_string),
                delivery_id: None,
                signature: Signature::Unverified,
                signature_reason: None,
                signature_failure: false,
                status,
                is_error,
            },
        }
    }

    #[test]
    fn a_star_matches_anywhere_and_no_star_is_exact() {
        assert!(glob("*.failed", "charge.failed"));
        assert!(glob("*.failed", "payment_intent.payment.failed"));
        assert!(!glob("*.failed", "charge.failed.not"));
        assert!(glob("charge.*", "charge.failed"));
        assert!(glob("*payment*", "invoice.payment_failed"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*b*c", "acb"));
        assert!(glob("*", "anything"));
        assert!(glob("error", "error"));
        assert!(!glob("error", "errors"));
        assert!(!glob("ab*ba", "aba"), "pieces may not overlap");
    }

    #[test]
    fn types_errors_and_rejections_decide() {
        let rule = Rule {
            types: vec!["*.failed".into(), "error".into()],
            errors: false,
        };
        assert!(rule.matches(&event(Some("charge.failed"), true, Status::Received)));
        assert!(rule.matches(&event(Some("error"), false, Status::Received)));
        assert!(!rule.matches(&event(Some("charge.succeeded"), false, Status::Received)));
        assert!(!rule.matches(&event(None, true, Status::Received)));
        assert!(!rule.matches(&event(Some("charge.failed"), true, Status::Rejected)));
        let errors = Rule {
            types: vec![],
            errors: true,
        };
        assert!(errors.matches(&event(None, true, Status::Received)));
        assert!(!errors.matches(&event(Some("x.failed"), false, Status::Received)));
        assert!(!errors.matches(&event(None, true, Status::Rejected)));
    }
}
