//! Reading one named value out of a delivery: a header, or a field of the parsed body.
//!
//! Every extracted value passes through here, so the rules that keep a hostile sender from
//! polluting the index live in one place:
//!
//! - only strings count as event types; delivery ids (and override targets) also accept
//!   numbers, rendered as their exact JSON text (`arbitrary_precision` keeps `820982911946154508`
//!   exact); booleans, null, objects and arrays never count;
//! - an empty value counts as absent (an empty delivery id would make every such delivery a
//!   duplicate of the first);
//! - nothing is trimmed, and values are cut to [`MAX_FIELD_CHARS`] characters.
//!
//! It also unwraps form deliveries that carry their JSON in a single `payload` field (GitHub
//! hooks set to `application/x-www-form-urlencoded`, Slack interactivity), see [`document`].
//!
//! Pure: no I/O, no tokio, axum or SQL; depends only on `model` and `serde_json`.

use std::borrow::Cow;

use serde_json::Value;

use crate::model::Header;

/// The longest event type or delivery id kept, in characters. Both become index and dedup keys,
/// so a sender must not be able to make them megabytes long; real ones are far shorter.
pub const MAX_FIELD_CHARS: usize = 512;

pub(crate) use crate::model::header;

/// Whether header `name` was sent at all, even empty: detection keys on presence, so an empty
/// `Stripe-Signature` still marks a Stripe delivery (whose signature then fails).
pub(crate) fn has_header(headers: &[Header], name: &str) -> bool {
    header(headers, name).is_some()
}

/// A header's value as an extracted field: non-empty, capped.
pub(crate) fn header_text(headers: &[Header], name: &str) -> Option<String> {
    header(headers, name).and_then(capped)
}

/// A string value, capped; `None` for anything else or an empty string.
pub(crate) fn string_text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).and_then(capped)
}

/// A string or a number (as its exact JSON text), capped; `None` for anything else.
pub(crate) fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => capped(s),
        Value::Number(n) => capped(&n.to_string()),
        _ => None,
    }
}

/// Top-level string field `key` of the body, without capping, for comparisons.
pub(crate) fn str_at<'a>(body: Option<&'a Value>, key: &str) -> Option<&'a str> {
    body?.get(key)?.as_str()
}

/// `s` cut to [`MAX_FIELD_CHARS`] characters; `None` when empty.
pub(crate) fn capped(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    match s.char_indices().nth(MAX_FIELD_CHARS) {
        Some((end, _)) => Some(s[..end].to_owned()),
        None => Some(s.to_owned()),
    }
}

/// The document provider fields are read from. A body that is exactly one field `payload`
/// holding a JSON object (how GitHub posts form-encoded hooks, and how Slack posts interactive
/// actions) is read through to that object, so `action` or `type` are found where the sender put
/// them. Any other body is used as it is. The inner text is parsed with the same recursion limit
/// as any body, so nesting cannot overflow the stack here either.
pub(crate) fn document(body: Option<&Value>) -> Option<Cow<'_, Value>> {
    let body = body?;
    let inner = match body.as_object() {
        Some(map) if map.len() == 1 => map.get("payload").and_then(Value::as_str),
        _ => None,
    };
    match inner.map(serde_json::from_str::<Value>) {
        Some(Ok(doc)) if doc.is_object() => Some(Cow::Owned(doc)),
        _ => Some(Cow::Borrowed(body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_long_value_is_cut_to_the_cap_on_a_char_boundary() {
        let long = "é".repeat(MAX_FIELD_CHARS + 10);
        let cut = capped(&long).unwrap_or_default();
        assert_eq!(cut.chars().count(), MAX_FIELD_CHARS);
        assert_eq!(capped(""), None);
        assert_eq!(capped(" a ").as_deref(), Some(" a "));
    }

    #[test]
    fn numbers_count_as_ids_but_booleans_and_objects_do_not() {
        let body = json!({"n": 820982911946154508u64, "b": true, "o": {}, "s": "x"});
        assert_eq!(
            scalar_text(body.get("n")).as_deref(),
            Some("820982911946154508")
        );
        assert_eq!(scalar_text(body.get("b")), None);
        assert_eq!(scalar_text(body.get("o")), None);
        assert_eq!(string_text(body.get("n")), None);
        assert_eq!(string_text(body.get("s")).as_deref(), Some("x"));
    }

    #[test]
    fn a_lone_payload_field_with_json_is_read_through() {
        let form = json!({"payload": "{\"action\":\"opened\"}"});
        let doc = document(Some(&form));
        assert_eq!(str_at(doc.as_deref(), "action"), Some("opened"));

        let two = json!({"payload": "{\"action\":\"opened\"}", "type": "x"});
        assert_eq!(str_at(document(Some(&two)).as_deref(), "type"), Some("x"));

        let not_json = json!({"payload": "hello"});
        assert_eq!(document(Some(&not_json)).as_deref(), Some(&not_json));
    }

    #[test]
    fn header_lookup_ignores_case_and_takes_the_first() {
        let headers = vec![
            ("X-Request-Id".to_owned(), "a".to_owned()),
            ("x-request-id".to_owned(), "b".to_owned()),
            ("idempotency-key".to_owned(), String::new()),
        ];
        assert_eq!(header_text(&headers, "x-request-id").as_deref(), Some("a"));
        assert!(has_header(&headers, "idempotency-key"));
        assert_eq!(header_text(&headers, "idempotency-key"), None);
    }
}
