//! The event as JSON: the summary used in lists and the live stream, and the
//! detail with headers and body. One place, so the API, the stream and `--json` agree.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::model::{Alert, Event, Header};
use crate::provider;

/// Times as RFC 3339 in UTC with microseconds, like `2026-11-28T23:59:59.123456Z`.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The event without headers, body and enrichment.
pub fn summary(e: &Event) -> Value {
    let n = &e.new;
    json!({
        "id": e.id,
        "source": n.source,
        "received_at": time(n.received_at),
        "method": n.method,
        "path": n.path,
        "query": n.query,
        "remote_addr": n.remote_addr,
        "content_type": n.content_type,
        "size": e.size,
        "provider": n.provider.as_str(),
        "event_type": n.event_type,
        "delivery_id": n.delivery_id,
        "signature": n.signature.as_str(),
        "status": n.status.as_str(),
        "is_error": n.is_error,
        "duplicates": e.duplicates,
    })
}

/// An alert as `/api/alerts`, `event: alert` and the sinks show it.
pub fn alert(alert: &Alert) -> Value {
    let a = &alert.new;
    json!({
        "id": alert.id,
        "rule": a.rule,
        "kind": a.kind.as_str(),
        "source": a.source,
        "state": a.state.as_str(),
        "count": a.count,
        "window_secs": a.window_secs,
        "at": time(a.at),
        "sample_event_ids": a.sample_event_ids,
    })
}

/// The whole event: the summary plus headers, parsed body, raw body and enrichment.
pub fn detail(e: &Event) -> Value {
    let mut value = summary(e);
    let Value::Object(map) = &mut value else {
        return value;
    };
    let n = &e.new;
    map.insert("signature_reason".into(), json!(n.signature_reason));
    map.insert("headers".into(), headers(&n.headers));
    let body = provider::parse_body(n.content_type.as_deref(), &n.body);
    map.insert("body".into(), body.unwrap_or(Value::Null));
    match std::str::from_utf8(&n.body) {
        Ok(text) => {
            map.insert("raw_body".into(), json!(text));
        }
        Err(_) => {
            map.insert("raw_body".into(), Value::Null);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&n.body);
            map.insert("raw_body_base64".into(), json!(encoded));
        }
    }
    map.insert(
        "enrichment".into(),
        e.enrichment.clone().unwrap_or(Value::Null),
    );
    value
}

/// Headers as an object; a header sent several times becomes an array of its values.
pub fn headers(pairs: &[Header]) -> Value {
    let mut map = Map::new();
    for (name, value) in pairs {
        match map.get_mut(name) {
            None => {
                map.insert(name.clone(), json!(value));
            }
            Some(Value::Array(values)) => values.push(json!(value)),
            Some(first) => *first = json!([first.take(), value]),
        }
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_header_becomes_an_array() {
        let pairs = vec![
            ("x-a".to_string(), "1".to_string()),
            ("x-b".to_string(), "2".to_string()),
            ("x-a".to_string(), "3".to_string()),
            ("x-a".to_string(), "4".to_string()),
        ];
        assert_eq!(headers(&pairs), json!({"x-a": ["1", "3", "4"], "x-b": "2"}));
    }

    #[test]
    fn times_have_microseconds_and_a_z() {
        let t = DateTime::from_timestamp_micros(1_764_374_399_123_456).unwrap();
        assert_eq!(time(t), "2025-11-28T23:59:59.123456Z");
    }
}
