//! The export format: one JSON object per line per event, and back.
//!
//! A line is the event detail of `/api/events/{id}` (`query::view::detail`) with every field,
//! plus what is needed to store the event again exactly: `raw_body_base64` always (the exact
//! bytes), `headers_raw` (`[[name, value], …]` in arrival order), `signature_failure` (whether
//! the event counts as a signature failure in the stats), and `forwards` (its deliveries as the
//! event detail shows them, for the record). `import` reads the stored fields back and ignores
//! the derived ones (`headers`, `body`, `raw_body`) and `forwards` (deliveries are the
//! exporting server's history, not the event's content), so exporting an imported event gives
//! the same line, byte for byte, when the exported one had not been forwarded.
//!
//! Header values are exported as the text ingest stored; ingest keeps a value that is not
//! UTF-8 as Latin-1 text, one character per byte. A `{"base64": "…"}` value is read too, and
//! stored the way ingest would store those bytes.
//!
//! Pure: no I/O. The commands are `cli::export` and `cli::import`.

mod parse;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::model::Event;
use crate::query::view;

pub use parse::{LineError, from_line};

/// The line of one event, without its newline; `forwards` as the event detail shows them.
pub fn to_line(event: &Event, forwards: Vec<Value>) -> String {
    let mut value = to_value(event);
    value["forwards"] = Value::Array(forwards);
    value.to_string()
}

/// The object of one event's line, with no `forwards`: what import compares.
pub fn to_value(event: &Event) -> Value {
    let Value::Object(detail) = view::detail(event) else {
        return Value::Null;
    };
    let n = &event.new;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&n.body);
    let mut line = Map::new();
    for (key, value) in detail {
        match key.as_str() {
            "raw_body_base64" => {}
            "raw_body" => {
                line.insert(key, value);
                line.insert("raw_body_base64".into(), json!(encoded));
            }
            _ => {
                line.insert(key, value);
            }
        }
    }
    line.insert("signature_failure".into(), json!(n.signature_failure));
    let headers: Vec<Value> = n.headers.iter().map(|(k, v)| json!([k, v])).collect();
    line.insert("headers_raw".into(), Value::Array(headers));
    line.insert("forwards".into(), json!([]));
    Value::Object(line)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::model::{NewEvent, Signature, Status};

    fn sample() -> Event {
        let mut new = NewEvent::sample("shop", 7);
        new.received_at = DateTime::<Utc>::from_timestamp_micros(1_764_374_399_123_456).unwrap();
        new.content_type = Some("application/x-www-form-urlencoded".into());
        new.body = b"a=1&b=two&a=3".to_vec();
        new.headers = vec![
            ("x-dup".into(), "one".into()),
            (
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ),
            ("x-dup".into(), "two".into()),
            ("x-latin".into(), "caf\u{e9}\u{ff}".into()),
        ];
        new.delivery_id = Some("d-1".into());
        new.signature = Signature::Invalid;
        new.signature_reason = Some("wrong secret".into());
        new.signature_failure = true;
        new.status = Status::Rejected;
        Event {
            id: 42,
            new,
            size: 13,
            duplicates: 2,
            enrichment: Some(json!({"query": "q", "results": [], "at": "x"})),
        }
    }

    #[test]
    fn a_line_has_the_detail_and_the_exact_parts() {
        let value = to_value(&sample());
        assert_eq!(value["id"], 42);
        assert_eq!(value["body"], json!({"a": ["1", "3"], "b": "two"}));
        assert_eq!(value["raw_body"], "a=1&b=two&a=3");
        assert_eq!(value["raw_body_base64"], "YT0xJmI9dHdvJmE9Mw==");
        assert_eq!(value["headers"]["x-dup"], json!(["one", "two"]));
        assert_eq!(value["headers_raw"][2], json!(["x-dup", "two"]));
        assert_eq!(value["signature_failure"], true);
        assert_eq!(value["forwards"], json!([]));
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        let raw = keys.iter().position(|k| *k == "raw_body").unwrap();
        assert_eq!(keys[raw + 1], "raw_body_base64", "next to raw_body, always");
    }

    #[test]
    fn a_line_reads_back_as_the_same_event_and_the_same_line() {
        for body in [
            b"a=1&b=two&a=3".to_vec(),
            vec![0, 159, 146, 150, 255],
            Vec::new(),
        ] {
            let mut event = sample();
            event.size = body.len() as i64;
            event.new.body = body;
            let line = to_line(&event, Vec::new());
            let back = from_line(&line).unwrap();
            assert_eq!(back, event);
            assert_eq!(to_line(&back, Vec::new()), line);
        }
    }
}
