//! Decoding a payload for reading fields: JSON, or a URL-encoded form as an object.
//!
//! The raw bytes are what ingest stores; this view exists so provider fields can be read and so
//! the API can show a `body`. When nothing fits, the answer is `None`, never an error: every
//! delivery is kept whatever its body.
//!
//! How the content type decides (its media type, case-insensitive, parameters ignored):
//!
//! | content type | body |
//! | --- | --- |
//! | `application/json`, `text/json`, `*/*+json` | any JSON value, else `None` |
//! | `application/x-www-form-urlencoded` | always a form object (an empty body gives `{}`) |
//! | none | a JSON object or array; else a form when the body *looks like* one; else `None` |
//! | anything else | a JSON object or array (senders such as AWS SNS post JSON as `text/plain`), else `None` |
//!
//! A body "looks like" a form when it is non-empty printable ASCII without spaces and every
//! `&`-separated part has a non-empty key before an `=`: `event=x&id=1` does, `hello` does not.
//!
//! JSON: a leading UTF-8 byte-order mark is skipped; serde_json's recursion limit stays on, so
//! 10,000-deep nesting gives `None` instead of overflowing the stack. Forms: values are strings,
//! `+` and percent-escapes are decoded, a repeated key gives an array of its values in order, an
//! empty value is `""`; bytes that are not UTF-8 become U+FFFD (the stored raw body keeps them).
//!
//! Pure: no I/O, no tokio, axum or SQL. Entry point: [`parse_body`].

use serde_json::{Map, Value};

use super::skeleton::{Shape, skeleton};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What kind of body the content type announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    Json,
    Form,
    Missing,
    Other,
}

/// The payload decoded for reading fields: parsed JSON, or a form as an object of strings (a
/// repeated key gives an array). `None` when the body is neither; see the module doc for how the
/// content type decides. Never panics and never recurses deeper than serde_json's limit.
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Option<Value> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    match declared(content_type) {
        Declared::Json => serde_json::from_slice(body).ok(),
        Declared::Form => Some(form(body)),
        Declared::Missing => {
            json_container(body).or_else(|| looks_like_form(body).then(|| form(body)))
        }
        Declared::Other => json_container(body),
    }
}

/// The payload as ingest needs it to read the facts: like [`parse_body`], but a JSON object keeps
/// only the fields provider knowledge reads (see `skeleton`), which is several times faster on
/// real payloads. Give the result only to [`crate::provider::facts`] and
/// [`crate::provider::slack_challenge`]; anything that shows or searches the body uses
/// [`parse_body`].
pub fn parse_for_facts(content_type: Option<&str>, body: &[u8]) -> Option<Value> {
    let body = body.strip_prefix(BOM).unwrap_or(body);
    let declared = declared(content_type);
    if declared == Declared::Form {
        return Some(form(body));
    }
    match (skeleton(body), declared) {
        (Shape::Object(object), _) => Some(object),
        (Shape::Array, _) => Some(Value::Array(Vec::new())),
        (Shape::Scalar, Declared::Json) => Some(Value::Null),
        (_, Declared::Missing) if looks_like_form(body) => Some(form(body)),
        _ => None,
    }
}

/// Classifies a `Content-Type` value by its media type.
fn declared(content_type: Option<&str>) -> Declared {
    let Some(value) = content_type else {
        return Declared::Missing;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    if essence.is_empty() {
        return Declared::Missing;
    }
    let essence = essence.to_ascii_lowercase();
    if essence == "application/json" || essence == "text/json" || essence.ends_with("+json") {
        Declared::Json
    } else if essence == "application/x-www-form-urlencoded" {
        Declared::Form
    } else {
        Declared::Other
    }
}

/// JSON that was not announced as such counts only as an object or array, so a plain-text `42`
/// or `true` is not mistaken for a document.
fn json_container(body: &[u8]) -> Option<Value> {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v.is_object() || v.is_array() => Some(v),
        _ => None,
    }
}

/// Whether an unlabelled body is shaped like `key=value&key=value`.
fn looks_like_form(body: &[u8]) -> bool {
    !body.is_empty()
        && body.iter().all(|b| b.is_ascii_graphic())
        && body
            .split(|&b| b == b'&')
            .all(|pair| pair.iter().position(|&b| b == b'=').is_some_and(|i| i > 0))
}

/// Decodes a URL-encoded form into an object in key order of first appearance.
fn form(body: &[u8]) -> Value {
    let mut map = Map::new();
    for (key, value) in form_urlencoded::parse(body) {
        let value = Value::String(value.into_owned());
        match map.get_mut(key.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => {
                let first = first.take();
                map.insert(key.into_owned(), Value::Array(vec![first, value]));
            }
            None => {
                map.insert(key.into_owned(), value);
            }
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FORM: &str = "application/x-www-form-urlencoded";

    fn fixture(path: &str) -> Vec<u8> {
        let full = format!(
            "{}/tests/fixtures/payloads/{path}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&full).unwrap_or_else(|e| panic!("read {full}: {e}"))
    }

    #[test]
    fn a_form_with_a_repeated_key_gives_an_array_in_order() {
        let body = parse_body(Some(FORM), b"a=1&tags=x&tags=y&tags=z&b=");
        assert_eq!(
            body,
            Some(json!({"a": "1", "tags": ["x", "y", "z"], "b": ""}))
        );
    }

    #[test]
    fn the_generic_form_fixture_decodes_plus_and_percent_escapes() {
        let body = parse_body(Some(FORM), &fixture("generic/form.txt"));
        let expected = json!({
            "event": "order.created", "order_id": "1001", "amount": "19.99", "currency": "EUR",
            "note": "café & crème brûlée", "tags": ["a", "b"], "empty": ""
        });
        assert_eq!(body, Some(expected));
    }

    #[test]
    fn json_after_a_byte_order_mark_parses() {
        let body = parse_body(
            Some("application/json"),
            &fixture("malformed/utf8_bom.json"),
        );
        assert_eq!(body, Some(json!({"type": "bom.test", "ok": true})));
        assert!(parse_body(None, b"\xEF\xBB\xBF{\"a\":1}").is_some());
    }

    #[test]
    fn ten_thousand_deep_nesting_gives_none_without_overflowing_the_stack() {
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_body(Some("application/json"), deep.as_bytes()), None);
        assert_eq!(parse_body(None, deep.as_bytes()), None);
        let form = format!("payload={}", "%5B".repeat(10_000));
        assert!(parse_body(Some(FORM), form.as_bytes()).is_some());
    }

    #[test]
    fn shopify_big_integers_survive_parse_and_reserialise_exactly() {
        let raw = fixture("shopify/orders.create.json");
        let parsed = parse_body(Some("application/json"), &raw);
        let text = parsed.map(|v| serde_json::to_string(&v).unwrap_or_default());
        let text = text.unwrap_or_default();
        assert!(text.contains("820982911946154508"), "id lost precision");
        assert!(!text.contains("820982911946154500,"));
        assert_eq!(text.as_bytes(), raw.trim_ascii_end());
    }

    #[test]
    fn the_content_type_parameters_and_case_are_ignored() {
        let body = b"{\"type\":\"x\"}";
        let ct = Some("Application/JSON; charset=utf-8");
        assert_eq!(parse_body(ct, body), Some(json!({"type": "x"})));
        assert_eq!(
            parse_body(Some("application/vnd.api+json"), body),
            Some(json!({"type": "x"}))
        );
        assert_eq!(parse_body(Some("application/json"), b"42"), Some(json!(42)));
    }

    #[test]
    fn an_unlabelled_body_is_json_or_a_form_or_nothing() {
        assert_eq!(parse_body(None, b"[1]"), Some(json!([1])));
        assert_eq!(
            parse_body(None, b"a=1&b=2"),
            Some(json!({"a": "1", "b": "2"}))
        );
        assert_eq!(parse_body(None, b"hello world"), None);
        assert_eq!(parse_body(None, b"hello"), None);
        assert_eq!(parse_body(None, b"=1"), None);
        assert_eq!(parse_body(None, b"42"), None);
        assert_eq!(parse_body(None, b""), None);
        assert_eq!(parse_body(Some(""), b"a=1"), Some(json!({"a": "1"})));
    }

    #[test]
    fn other_content_types_give_only_json_documents() {
        assert_eq!(
            parse_body(Some("text/plain"), b"{\"a\":1}"),
            Some(json!({"a": 1}))
        );
        assert_eq!(parse_body(Some("text/plain"), b"a=1"), None);
        assert_eq!(
            parse_body(Some("application/octet-stream"), b"\xff\x00"),
            None
        );
    }

    #[test]
    fn bad_json_and_empty_bodies_give_none() {
        let json = Some("application/json");
        assert_eq!(parse_body(json, b""), None);
        assert_eq!(parse_body(json, &fixture("malformed/truncated.json")), None);
        assert_eq!(
            parse_body(json, &fixture("malformed/invalid_utf8.bin")),
            None
        );
        assert_eq!(parse_body(Some(FORM), b""), Some(json!({})));
    }

    #[test]
    fn a_form_with_invalid_utf8_is_decoded_lossily() {
        let body = parse_body(Some(FORM), b"a=caf%E9&b=\xff");
        assert_eq!(body, Some(json!({"a": "caf\u{FFFD}", "b": "\u{FFFD}"})));
    }
}
