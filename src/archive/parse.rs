//! Reading an export line back into an event, refusing anything incomplete with the field
//! that is wrong.

use base64::Engine;
use chrono::DateTime;
use serde_json::{Map, Value};

use crate::model::{Event, Header, NewEvent, Provider, Signature, Status, is_valid_source_name};

/// Why a line is not an event.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum LineError {
    #[error("not a complete JSON object ({0})")]
    NotJson(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("`{field}`: {problem}")]
    Field {
        field: &'static str,
        problem: &'static str,
    },
}

fn bad(field: &'static str, problem: &'static str) -> LineError {
    LineError::Field { field, problem }
}

/// The event of one line (without its newline).
pub fn from_line(line: &str) -> Result<Event, LineError> {
    let value: Value = serde_json::from_str(line).map_err(|e| LineError::NotJson(e.to_string()))?;
    let Value::Object(o) = value else {
        return Err(LineError::NotObject);
    };
    let body = base64::engine::general_purpose::STANDARD
        .decode(text(&o, "raw_body_base64")?)
        .map_err(|_| bad("raw_body_base64", "is not base64"))?;
    let id = int(&o, "id")?;
    if id < 1 {
        return Err(bad("id", "must be 1 or more"));
    }
    let size = int(&o, "size")?;
    if size != body.len() as i64 {
        return Err(bad("size", "is not the length of raw_body_base64"));
    }
    let duplicates = int(&o, "duplicates")?;
    if duplicates < 0 {
        return Err(bad("duplicates", "must be 0 or more"));
    }
    let enrichment = match o.get("enrichment") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.clone()),
    };
    Ok(Event {
        id,
        new: delivery(&o, body)?,
        size,
        duplicates,
        enrichment,
    })
}

/// The delivery's own fields.
fn delivery(o: &Map<String, Value>, body: Vec<u8>) -> Result<NewEvent, LineError> {
    let source = text(o, "source")?;
    if !is_valid_source_name(source) {
        return Err(bad("source", "is not a source name"));
    }
    let received_at = DateTime::parse_from_rfc3339(text(o, "received_at")?)
        .map_err(|_| bad("received_at", "is not an RFC 3339 time"))?
        .to_utc();
    let signature = Signature::parse(text(o, "signature")?).ok_or(bad(
        "signature",
        "is not valid, invalid, missing or unverified",
    ))?;
    Ok(NewEvent {
        source: source.to_string(),
        received_at,
        method: text(o, "method")?.to_string(),
        path: text(o, "path")?.to_string(),
        query: text(o, "query")?.to_string(),
        remote_addr: text(o, "remote_addr")?.to_string(),
        content_type: optional_text(o, "content_type")?,
        headers: headers(o.get("headers_raw"))?,
        body,
        provider: Provider::parse(text(o, "provider")?)
            .ok_or(bad("provider", "is not a known provider"))?,
        event_type: optional_text(o, "event_type")?,
        delivery_id: optional_text(o, "delivery_id")?,
        signature,
        signature_reason: optional_text(o, "signature_reason")?,
        // Lines written elsewhere may lack it: an invalid signature is a failure.
        signature_failure: match o.get("signature_failure") {
            None => signature == Signature::Invalid,
            Some(v) => v
                .as_bool()
                .ok_or(bad("signature_failure", "is not true or false"))?,
        },
        status: Status::parse(text(o, "status")?)
            .ok_or(bad("status", "is not received or rejected"))?,
        is_error: o
            .get("is_error")
            .and_then(Value::as_bool)
            .ok_or(bad("is_error", "is missing or not true or false"))?,
    })
}

fn text<'a>(o: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, LineError> {
    o.get(field)
        .and_then(Value::as_str)
        .ok_or(bad(field, "is missing or not a string"))
}

fn optional_text(o: &Map<String, Value>, field: &'static str) -> Result<Option<String>, LineError> {
    match o.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(field, "is not a string or null")),
    }
}

fn int(o: &Map<String, Value>, field: &'static str) -> Result<i64, LineError> {
    o.get(field)
        .and_then(Value::as_i64)
        .ok_or(bad(field, "is missing or not a whole number"))
}

/// `[[name, value], …]`; a value may be `{"base64": "…"}` for bytes that are not UTF-8.
fn headers(value: Option<&Value>) -> Result<Vec<Header>, LineError> {
    const FIELD: &str = "headers_raw";
    let items = value
        .and_then(Value::as_array)
        .ok_or(bad(FIELD, "is missing or not a list"))?;
    items
        .iter()
        .map(|pair| {
            let [name, value] = pair.as_array().map(Vec::as_slice).unwrap_or_default() else {
                return Err(bad(FIELD, "has an item that is not [name, value]"));
            };
            let name = name
                .as_str()
                .ok_or(bad(FIELD, "has a name that is not a string"))?;
            Ok((name.to_string(), header_value(value)?))
        })
        .collect()
}

/// A value as ingest stores it: the text, or bytes as UTF-8 when they are, else Latin-1.
fn header_value(value: &Value) -> Result<String, LineError> {
    const FIELD: &str = "headers_raw";
    if let Some(text) = value.as_str() {
        return Ok(text.to_string());
    }
    let encoded = value.get("base64").and_then(Value::as_str).ok_or(bad(
        FIELD,
        "has a value that is neither a string nor {\"base64\": …}",
    ))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad(FIELD, "has a base64 value that is not base64"))?;
    Ok(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => e.as_bytes().iter().map(|&b| b as char).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"id":3,"source":"s","received_at":"2026-11-28T12:00:00.000001Z","method":"POST","path":"/webhook/s","query":"","remote_addr":"127.0.0.1","content_type":null,"size":2,"provider":"generic","event_type":null,"delivery_id":null,"signature":"unverified","status":"received","is_error":false,"duplicates":0,"raw_body_base64":"e30=","headers_raw":[["x-a",{"base64":"6Q=="}],["x-b","ok"]]}"#;

    #[test]
    fn a_minimal_line_is_read_with_base64_header_values_as_ingest_keeps_them() {
        let event = from_line(GOOD).unwrap();
        assert_eq!(event.id, 3);
        assert_eq!(event.new.body, b"{}");
        assert_eq!(event.new.headers[0].1, "\u{e9}");
        assert_eq!(event.new.headers[1].1, "ok");
        assert!(!event.new.signature_failure);
    }

    #[test]
    fn hostile_lines_name_what_is_wrong() {
        assert!(matches!(from_line("not json"), Err(LineError::NotJson(_))));
        assert!(matches!(
            from_line(&GOOD[..GOOD.len() - 5]),
            Err(LineError::NotJson(_))
        ));
        assert_eq!(from_line("[1,2]"), Err(LineError::NotObject));
        for (from, to, field) in [
            ("\"id\":3", "\"id\":0", "id"),
            ("\"size\":2", "\"size\":3", "size"),
            ("\"source\":\"s\"", "\"source\":\"a b\"", "source"),
            ("e30=", "e30", "raw_body_base64"),
            ("\"status\":\"received\"", "\"status\":\"kept\"", "status"),
            ("[\"x-b\",\"ok\"]", "[\"x-b\"]", "headers_raw"),
            ("2026-11-28T12", "2026-13-28T12", "received_at"),
        ] {
            let line = GOOD.replace(from, to);
            match from_line(&line) {
                Err(LineError::Field { field: f, .. }) => assert_eq!(f, field, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
    }
}
