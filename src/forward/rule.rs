//! Which events a `[[forward]]` rule takes.
//!
//! A rule names one source or `*` for every source, optionally an event-type pattern with a
//! trailing `*` (`charge.*`), as the `type` filter of `/api/events` reads it, and optionally
//! field conditions in the grammar of `/api/events`' `field` (`search::field`). A rejected
//! record never matches: it failed verification, so handing it to an application would pass
//! a forgery on as if hookwatch had vouched for it.

use crate::model::{NewEvent, Status};
use crate::search::FieldFilter;
use crate::store::TypeMatch;

/// The sources a rule takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceMatch {
    /// `*`: every source.
    Any,
    Named(String),
}

impl SourceMatch {
    /// `*` or a source name, as written in the config file.
    pub fn parse(text: &str) -> SourceMatch {
        match text {
            "*" => SourceMatch::Any,
            name => SourceMatch::Named(name.to_string()),
        }
    }
}

/// The event-selecting part of a `[[forward]]` rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub source: SourceMatch,
    /// `None` takes every type, and events without one.
    pub event_type: Option<TypeMatch>,
    /// `filter`: conditions on the body or headers, all of which must hold.
    pub filter: Vec<FieldFilter>,
}

impl Rule {
    /// Whether an event of `source` and `event_type` with `status` goes to this rule's target.
    pub fn takes(&self, source: &str, event_type: Option<&str>, status: Status) -> bool {
        if status != Status::Received {
            return false;
        }
        let source_ok = match &self.source {
            SourceMatch::Any => true,
            SourceMatch::Named(name) => name == source,
        };
        let type_ok = match (&self.event_type, event_type) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(TypeMatch::Exact(want)), Some(have)) => want == have,
            (Some(TypeMatch::Prefix(prefix)), Some(have)) => have.starts_with(prefix.as_str()),
        };
        source_ok && type_ok
    }

    /// Whether this whole event (with its body and headers when the rule has a `filter`)
    /// goes to this rule's target.
    pub fn takes_event(&self, e: &NewEvent) -> bool {
        self.takes(&e.source, e.event_type.as_deref(), e.status) && self.filter_holds(e)
    }

    fn filter_holds(&self, e: &NewEvent) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        let body = crate::provider::parse_body(e.content_type.as_deref(), &e.body);
        self.filter
            .iter()
            .all(|f| f.matches(body.as_ref(), &e.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::type_match;

    fn rule(source: &str, event_type: Option<&str>) -> Rule {
        Rule {
            source: SourceMatch::parse(source),
            event_type: event_type.map(type_match),
            filter: Vec::new(),
        }
    }

    #[test]
    fn a_named_source_takes_only_its_own_events() {
        let stripe = rule("stripe", None);
        assert!(stripe.takes("stripe", Some("charge.failed"), Status::Received));
        assert!(stripe.takes("stripe", None, Status::Received));
        assert!(!stripe.takes("github", Some("push"), Status::Received));
    }

    #[test]
    fn a_star_takes_every_source() {
        let all = rule("*", None);
        assert!(all.takes("stripe", None, Status::Received));
        assert!(all.takes("anything-else", Some("x"), Status::Received));
    }

    #[test]
    fn a_type_pattern_matches_exactly_or_by_prefix() {
        let charges = rule("*", Some("charge.*"));
        assert!(charges.takes("stripe", Some("charge.failed"), Status::Received));
        assert!(!charges.takes("stripe", Some("payout.paid"), Status::Received));
        assert!(
            !charges.takes("stripe", None, Status::Received),
            "no type, no match"
        );
        let push = rule("github", Some("push"));
        assert!(push.takes("github", Some("push"), Status::Received));
        assert!(!push.takes("github", Some("push.more"), Status::Received));
    }

    #[test]
    fn a_rejected_record_is_never_forwarded() {
        let all = rule("*", None);
        assert!(!all.takes("stripe", Some("charge.failed"), Status::Rejected));
    }
}
