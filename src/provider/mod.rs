//! Provider knowledge: who sent a delivery, what kind of event it is, the sender's own id for it,
//! and whether it reports a failure.
//!
//! Pure: no I/O, no tokio, axum or SQL, no clock; it depends only on `model`. Ingest calls it
//! with the headers and the parsed body, and stores what it returns.
//!
//! Entry points:
//!
//! - [`parse_body`]: the payload decoded for reading fields (JSON, or a form as an object);
//! - [`facts`]: the one call ingest makes per delivery, giving [`Facts`];
//! - [`detect`]: the provider from headers, when the source configures none;
//! - [`slack_challenge`]: the answer to Slack's `url_verification` handshake;
//! - [`FieldRule`]: a per-source override, parsed from the config with `str::parse`.
//!
//! Layout: `body` decodes payloads, `detect` names the sender, `extract` knows each provider's
//! fields, `failure` decides `is_error`, `rule` parses and applies overrides, and `field` holds
//! the reading rules they share (strings only for types, numbers allowed for ids, empty means
//! absent, values capped at [`MAX_FIELD_CHARS`], form `payload` JSON read through).

mod body;
mod detect;
mod extract;
mod failure;
mod field;
mod rule;
pub mod samples;
mod skeleton;

#[cfg(test)]
mod fixtures;

use serde_json::Value;

use crate::model::{Header, Provider};

pub use body::{parse_body, parse_for_facts};
pub use detect::detect;
pub use field::MAX_FIELD_CHARS;
pub use rule::{FieldRule, RuleError};

/// The per-source config the provider layer needs, and nothing more: lower modules get their
/// own small config rather than the whole settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceRules {
    /// The configured provider; `None` means detect it from each delivery's headers.
    pub provider: Option<Provider>,
    /// Where to read the event type instead of the provider's default place.
    pub event_type: Option<FieldRule>,
    /// Where to read the delivery id instead of the provider's default place.
    pub delivery_id: Option<FieldRule>,
}

impl SourceRules {
    /// Whether an override reads the body by JSON pointer, which the fast partial parse of
    /// [`parse_for_facts`] cannot serve: such sources parse the whole body.
    pub fn needs_whole_body(&self) -> bool {
        [&self.event_type, &self.delivery_id]
            .into_iter()
            .any(|rule| matches!(rule, Some(FieldRule::Pointer(_))))
    }

    /// The body decoded for [`facts`]: the fast partial parse unless an override needs more.
    pub fn parse(&self, content_type: Option<&str>, body: &[u8]) -> Option<Value> {
        match self.needs_whole_body() {
            true => parse_body(content_type, body),
            false => parse_for_facts(content_type, body),
        }
    }
}

/// What hookwatch concludes about a delivery; stored with it and used for queries, dedup and
/// alerts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub provider: Provider,
    /// `None` when the delivery does not say.
    pub event_type: Option<String>,
    /// The sender's own id for the delivery, the dedup key; `None` when it has none.
    pub delivery_id: Option<String>,
    pub is_error: bool,
}

/// Everything hookwatch concludes about one delivery. `body` is what [`parse_body`] returned.
/// A configured provider skips detection; a configured override replaces the provider's
/// default place for that field (it does not fall back to it). `is_error` is judged on the
/// final event type.
pub fn facts(rules: &SourceRules, headers: &[Header], body: Option<&Value>) -> Facts {
    let provider = rules.provider.unwrap_or_else(|| detect(headers));
    let doc = field::document(body);
    let doc = doc.as_deref();
    let event_type = match &rules.event_type {
        Some(rule) => rule.read(headers, doc, body),
        None => extract::event_type(provider, headers, doc),
    };
    let delivery_id = match &rules.delivery_id {
        Some(rule) => rule.read(headers, doc, body),
        None => extract::delivery_id(provider, headers, doc),
    };
    let is_error = failure::is_error(provider, event_type.as_deref(), doc);
    Facts {
        provider,
        event_type,
        delivery_id,
        is_error,
    }
}

/// The value to answer Slack's `url_verification` handshake with, so a Slack app's request URL
/// can be saved: `Some(challenge)` when a Slack body is `{"type":"url_verification",
/// "challenge":"…"}`, else `None`. Not capped: it is echoed back, never indexed.
pub fn slack_challenge(provider: Provider, body: Option<&Value>) -> Option<String> {
    if provider != Provider::Slack || field::str_at(body, "type") != Some("url_verification") {
        return None;
    }
    field::str_at(body, "challenge").map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn h(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    fn rules(event_type: &str, delivery_id: &str) -> SourceRules {
        SourceRules {
            provider: None,
            event_type: event_type.parse().ok(),
            delivery_id: delivery_id.parse().ok(),
        }
    }

    #[test]
    fn an_override_by_pointer_reads_the_body() {
        let body = json!({"type": "ignored", "data": {"kind": "invoice.failed", "seq": 42}});
        let facts = facts(&rules("/data/kind", "/data/seq"), &[], Some(&body));
        assert_eq!(facts.event_type.as_deref(), Some("invoice.failed"));
        assert_eq!(facts.delivery_id.as_deref(), Some("42"));
        assert!(facts.is_error, "is_error follows the overridden type");
    }

    #[test]
    fn an_override_by_header_reads_the_header_in_any_case() {
        let headers = h(&[
            ("X-Hook-Id", "hk_1"),
            ("x-kind", "thing.made"),
            ("x-request-id", "r"),
        ]);
        let facts = facts(&rules("header:x-kind", "header:X-HOOK-ID"), &headers, None);
        assert_eq!(facts.event_type.as_deref(), Some("thing.made"));
        assert_eq!(facts.delivery_id.as_deref(), Some("hk_1"));
    }

    #[test]
    fn an_override_that_finds_nothing_gives_none_rather_than_the_default() {
        let headers = h(&[("x-request-id", "r")]);
        let body = json!({"type": "a.b"});
        let facts = facts(&rules("/kind", "header:x-hook-id"), &headers, Some(&body));
        assert_eq!((facts.event_type, facts.delivery_id), (None, None));
    }

    #[test]
    fn a_configured_provider_skips_detection() {
        let headers = h(&[("stripe-signature", "t=1,v1=00"), ("x-request-id", "r")]);
        let body = json!({"type": "x", "id": "evt_1"});
        let rules = SourceRules {
            provider: Some(Provider::Generic),
            ..SourceRules::default()
        };
        let facts = facts(&rules, &headers, Some(&body));
        assert_eq!(facts.provider, Provider::Generic);
        assert_eq!(facts.delivery_id.as_deref(), Some("r"));
    }

    #[test]
    fn a_pointer_override_reads_inside_a_form_payload_and_the_form_itself() {
        let body = json!({"payload": "{\"hook\":{\"id\":7}}"});
        let facts = facts(&rules("/payload", "/hook/id"), &[], Some(&body));
        assert_eq!(facts.delivery_id.as_deref(), Some("7"));
        assert_eq!(facts.event_type.as_deref(), Some("{\"hook\":{\"id\":7}}"));
    }

    #[test]
    fn a_hostile_type_is_capped() {
        let body = json!({"type": "x".repeat(100_000)});
        let facts = facts(&SourceRules::default(), &[], Some(&body));
        assert_eq!(facts.event_type.map(|t| t.len()), Some(MAX_FIELD_CHARS));
    }

    #[test]
    fn the_slack_challenge_is_only_answered_for_slack_url_verification() {
        let body = json!({"type": "url_verification", "challenge": "abc"});
        assert_eq!(
            slack_challenge(Provider::Slack, Some(&body)).as_deref(),
            Some("abc")
        );
        assert_eq!(slack_challenge(Provider::Generic, Some(&body)), None);
        let other = json!({"type": "event_callback", "challenge": "abc"});
        assert_eq!(slack_challenge(Provider::Slack, Some(&other)), None);
        assert_eq!(slack_challenge(Provider::Slack, None), None);
    }
}
