//! A fast, partial parse of JSON payloads for ingest: only the fields provider knowledge reads.
//!
//! Ingest needs a handful of fields (`type`, `id`, `event.type`, `workflow_run.conclusion`, …)
//! from payloads that are often kilobytes of nested objects. Building a whole `serde_json::Value`
//! for each delivery was the largest cost on the ingest path; here the JSON is still fully
//! validated (with serde_json's recursion limit), but everything else is skipped without
//! allocating. The detail API parses the whole body when someone looks at it.
//!
//! Keep `WHOLE` and `PICKED` in step with `extract`, `failure` and `field`: the test
//! `the_skeleton_gives_the_same_facts_as_the_whole_body` compares both on every fixture.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Top-level fields read whole.
const WHOLE: [&str; 12] = [
    "type",
    "id",
    "event_id",
    "event_type",
    "action",
    "status",
    "conclusion",
    "challenge",
    "payload",
    "MessageStatus",
    "CallStatus",
    "SmsStatus",
];

/// Top-level objects of which only some fields are read.
const PICKED: [(&str, &[&str]); 6] = [
    ("event", &["type"]),
    ("workflow_run", &["conclusion"]),
    ("workflow_job", &["conclusion"]),
    ("check_suite", &["conclusion"]),
    ("check_run", &["conclusion"]),
    ("deployment_status", &["state"]),
];

/// How serde_json (with `arbitrary_precision`) hands a number to a visitor: as a one-field map.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Stands in for the fields left out, so an object keeps more than one field when the original
/// had more (a lone `payload` field is read through; see `field::document`).
const OMITTED: &str = "\u{0}omitted";

/// What the top level of a JSON body was.
#[derive(Debug, PartialEq)]
pub enum Shape {
    Object(Value),
    Array,
    Scalar,
    Invalid,
}

/// Validates `body` as JSON and keeps only the fields provider knowledge reads.
pub fn skeleton(body: &[u8]) -> Shape {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let shape = match deserializer.deserialize_any(TopVisitor) {
        Ok(shape) => shape,
        Err(_) => return Shape::Invalid,
    };
    match deserializer.end() {
        Ok(()) => shape,
        Err(_) => Shape::Invalid,
    }
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Shape;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("JSON")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == NUMBER_TOKEN {
                map.next_value::<IgnoredAny>()?;
                return Ok(Shape::Scalar);
            }
            if WHOLE.contains(&key.as_ref()) {
                kept.insert(key.into_owned(), map.next_value::<Value>()?);
            } else if let Some((_, fields)) = PICKED.iter().find(|(name, _)| *name == key) {
                let value = map.next_value_seed(Picked(fields))?;
                kept.insert(key.into_owned(), value);
            } else {
                map.next_value::<IgnoredAny>()?;
                kept.insert(OMITTED.to_string(), Value::Null);
            }
        }
        Ok(Shape::Object(Value::Object(kept)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Shape::Array)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }

    fn visit_unit<E>(self) -> Result<Shape, E> {
        Ok(Shape::Scalar)
    }
}

/// An object of which only `fields` are kept; any other value is kept whole (it is small or
/// scalar in every payload that matters, and readers find nothing in it anyway).
struct Picked(&'static [&'static str]);

impl<'de> DeserializeSeed<'de> for Picked {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(PickedVisitor(self.0))
    }
}

struct PickedVisitor(&'static [&'static str]);

impl<'de> Visitor<'de> for PickedVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut kept = Map::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if self.0.contains(&key.as_ref()) {
                kept.insert(key.into_owned(), map.next_value::<Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(Value::Object(kept))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Array(Vec::new()))
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use serde_json::json;

    use super::*;
    use crate::model::Header;
    use crate::provider::{SourceRules, facts, parse_body, parse_for_facts, slack_challenge};

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

    /// Facts and challenge from the whole body and from the skeleton must agree.
    fn assert_same(name: &str, content_type: Option<&str>, headers: &[Header], body: &[u8]) {
        let rules = SourceRules::default();
        let whole = parse_body(content_type, body);
        let partial = parse_for_facts(content_type, body);
        let (a, b) = (
            facts(&rules, headers, whole.as_ref()),
            facts(&rules, headers, partial.as_ref()),
        );
        assert_eq!(a, b, "{name}");
        assert_eq!(
            slack_challenge(a.provider, whole.as_ref()),
            slack_challenge(b.provider, partial.as_ref()),
            "{name}"
        );
    }

    #[test]
    fn the_skeleton_gives_the_same_facts_as_the_whole_body() {
        let index: Value = serde_json::from_slice(
            &std::fs::read(Path::new(FIXTURES).join("payloads/index.json")).unwrap(),
        )
        .unwrap();
        let entries = index["payloads"].as_array().unwrap();
        for entry in entries {
            let file = entry["file"].as_str().unwrap();
            let body = std::fs::read(Path::new(FIXTURES).join(file)).unwrap();
            let sidecar: Map<String, Value> = serde_json::from_slice(
                &std::fs::read(Path::new(FIXTURES).join(entry["headers_file"].as_str().unwrap()))
                    .unwrap(),
            )
            .unwrap();
            let headers: Vec<Header> = sidecar
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap().to_string()))
                .collect();
            let content_type = sidecar
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .and_then(|(_, v)| v.as_str());
            assert_same(file, content_type, &headers, &body);
            assert_same(file, None, &headers, &body);
            assert_same(file, Some("text/plain"), &headers, &body);
        }
        assert!(entries.len() >= 30);
    }

    #[test]
    fn crafted_bodies_give_the_same_facts_both_ways() {
        let github = vec![(
            "x-github-event".to_string(),
            "deployment_status".to_string(),
        )];
        let bodies = [
            json!({"payload": "{\"action\":\"created\"}"}),
            json!({"payload": "{\"action\":\"created\"}", "other": 1}),
            json!({"type": "error", "data": {"type": "x"}}),
            json!({"status": "failed", "event": "order.paid"}),
            json!({"event": {"type": "message", "text": "hi"}, "type": "event_callback", "event_id": "Ev1"}),
            json!({"deployment_status": {"state": "error", "x": [1, 2]}, "action": "created"}),
            json!({"workflow_run": "not an object", "conclusion": "failure"}),
            json!({"id": 12345678901234567890u64, "type": 7, "event_type": "user.created"}),
            json!([{"type": "error"}]),
            json!(42),
            json!("text"),
        ];
        for body in bodies {
            let bytes = serde_json::to_vec(&body).unwrap();
            for content_type in [Some("application/json"), None, Some("text/plain")] {
                assert_same(&body.to_string(), content_type, &github, &bytes);
                assert_same(&body.to_string(), content_type, &[], &bytes);
            }
        }
        for raw in [
            "",
            "{",
            "a=1&type=error",
            "[[[]]",
            "{\"type\":\"x\"} trailing",
        ] {
            for content_type in [Some("application/json"), None, Some("text/plain")] {
                assert_same(raw, content_type, &[], raw.as_bytes());
            }
        }
    }

    #[test]
    fn deep_nesting_is_skipped_without_overflowing_the_stack() {
        let deep = format!(
            "{{\"type\":\"t\",\"data\":{}{}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        let Shape::Object(kept) = skeleton(deep.as_bytes()) else {
            panic!("an object")
        };
        assert_eq!(kept["type"], "t");
        let deep_kept = format!("{{\"type\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            skeleton(deep_kept.as_bytes()),
            Shape::Invalid,
            "a kept field keeps the limit"
        );
    }

    #[test]
    fn only_the_read_fields_are_kept() {
        let body = br#"{"id":"evt_1","type":"charge.failed","data":{"object":{"a":1}},"workflow_run":{"conclusion":"failure","big":[1,2,3]}}"#;
        let Shape::Object(kept) = skeleton(body) else {
            panic!("an object")
        };
        assert_eq!(kept["id"], "evt_1");
        assert_eq!(kept["workflow_run"], json!({"conclusion": "failure"}));
        assert!(kept.get("data").is_none());
        assert_eq!(skeleton(b"12345678901234567890123"), Shape::Scalar);
    }
}
