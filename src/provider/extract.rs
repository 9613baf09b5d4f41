//! Each provider's own places for the event type and the delivery id.
//!
//! `body` here is already the readable document (see `field::document`): a GitHub form
//! delivery's `payload` JSON, say. Event types count only when they are strings; delivery ids
//! may also be numbers. Values are capped and empty ones are absent (see `field`).
//!
//! Pure: no I/O, no tokio, axum or SQL. Entry points: [`event_type`], [`delivery_id`].

use serde_json::Value;

use crate::model::{Header, Provider};

use super::field::{capped, header, header_text, scalar_text, str_at, string_text};

/// The event type the provider puts in the delivery, `None` when it has none.
pub(crate) fn event_type(
    provider: Provider,
    headers: &[Header],
    body: Option<&Value>,
) -> Option<String> {
    let field = |key: &str| string_text(body.and_then(|b| b.get(key)));
    match provider {
        Provider::Stripe | Provider::Standard => field("type"),
        Provider::Github => github_type(headers, body),
        Provider::Slack => slack_type(body),
        Provider::Shopify => header_text(headers, "x-shopify-topic"),
        Provider::Twilio => field("MessageStatus")
            .or_else(|| field("CallStatus"))
            .or_else(|| field("SmsStatus")),
        Provider::Generic => field("type")
            .or_else(|| field("event"))
            .or_else(|| field("event_type")),
    }
}

/// The sender's own id for this delivery, the key redeliveries are recognised by.
pub(crate) fn delivery_id(
    provider: Provider,
    headers: &[Header],
    body: Option<&Value>,
) -> Option<String> {
    let field = |key: &str| scalar_text(body.and_then(|b| b.get(key)));
    match provider {
        Provider::Stripe => field("id"),
        Provider::Github => header_text(headers, "x-github-delivery"),
        Provider::Slack => field("event_id"),
        Provider::Shopify => header_text(headers, "x-shopify-webhook-id"),
        Provider::Standard => {
            header_text(headers, "webhook-id").or_else(|| header_text(headers, "svix-id"))
        }
        Provider::Twilio => header_text(headers, "i-twilio-idempotency-token"),
        Provider::Generic => {
            header_text(headers, "idempotency-key").or_else(|| header_text(headers, "x-request-id"))
        }
    }
}

/// `X-GitHub-Event`, plus `.` and the body's `action` when it has one (`pull_request.opened`).
/// Without the header there is no type: the action alone says too little.
fn github_type(headers: &[Header], body: Option<&Value>) -> Option<String> {
    let event = header(headers, "x-github-event").filter(|e| !e.is_empty())?;
    match str_at(body, "action").filter(|a| !a.is_empty()) {
        Some(action) => capped(&format!("{event}.{action}")),
        None => capped(event),
    }
}

/// For `event_callback` the inner `event.type` (`message`, `app_mention`) says what happened;
/// every other Slack body (`url_verification`, `app_rate_limited`) is typed by `type`.
fn slack_type(body: Option<&Value>) -> Option<String> {
    let outer = str_at(body, "type");
    if outer == Some("event_callback") {
        let inner = string_text(body.and_then(|b| b.pointer("/event/type")));
        if inner.is_some() {
            return inner;
        }
    }
    outer.and_then(capped)
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

    #[test]
    fn github_adds_the_action_only_when_it_is_a_non_empty_string() {
        let headers = h(&[("x-github-event", "issues")]);
        let typed = |body: Value| event_type(Provider::Github, &headers, Some(&body));
        assert_eq!(
            typed(json!({"action": "opened"})).as_deref(),
            Some("issues.opened")
        );
        assert_eq!(typed(json!({"action": ""})).as_deref(), Some("issues"));
        assert_eq!(typed(json!({"action": 3})).as_deref(), Some("issues"));
        assert_eq!(
            event_type(Provider::Github, &[], Some(&json!({"action": "x"}))),
            None
        );
    }

    #[test]
    fn slack_event_callback_without_an_inner_type_keeps_the_outer_one() {
        let body = json!({"type": "event_callback", "event": {}});
        assert_eq!(
            event_type(Provider::Slack, &[], Some(&body)).as_deref(),
            Some("event_callback")
        );
    }

    #[test]
    fn generic_types_skip_values_that_are_not_strings() {
        let body = json!({"type": 7, "event": {"type": "x"}, "event_type": "user.created"});
        assert_eq!(
            event_type(Provider::Generic, &[], Some(&body)).as_deref(),
            Some("user.created")
        );
    }

    #[test]
    fn a_numeric_stripe_id_is_rendered_as_its_text() {
        let body = json!({"id": 12345678901234567890u64});
        assert_eq!(
            delivery_id(Provider::Stripe, &[], Some(&body)).as_deref(),
            Some("12345678901234567890")
        );
    }

    #[test]
    fn generic_delivery_ids_prefer_the_idempotency_key() {
        let headers = h(&[("x-request-id", "r"), ("idempotency-key", "k")]);
        assert_eq!(
            delivery_id(Provider::Generic, &headers, None).as_deref(),
            Some("k")
        );
        let headers = h(&[("x-request-id", "r")]);
        assert_eq!(
            delivery_id(Provider::Generic, &headers, None).as_deref(),
            Some("r")
        );
        assert_eq!(delivery_id(Provider::Generic, &[], None), None);
    }

    #[test]
    fn twilio_prefers_message_status_then_call_status() {
        let body = json!({"CallStatus": "completed", "SmsStatus": "sent"});
        assert_eq!(
            event_type(Provider::Twilio, &[], Some(&body)).as_deref(),
            Some("completed")
        );
    }
}
