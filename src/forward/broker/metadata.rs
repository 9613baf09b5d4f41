//! What travels beside the body to a broker: NATS headers, the AMQP headers table and the
//! Redis stream fields all carry the same names and values, computed here once, so a consumer
//! reads an event the same way whichever broker brought it.
//!
//! The body itself is the exact raw bytes as received; only this metadata is text. The
//! sender's headers come along as `hdr-NAME`, less those that describe the connection rather
//! than the message (the rule HTTP deliveries follow too); a repeated header becomes one entry,
//! its values joined with `, ` as HTTP allows. Pure.

use crate::forward::outbound::forwarded_headers;
use crate::model::Event;
use crate::query::view;

/// The event id: a consumer drops a message it already handled (delivery is at least once).
pub const EVENT_ID: &str = "hookwatch-event-id";

/// The metadata of `event`, as `(name, value)` pairs in a fixed order: hookwatch's own
/// fields first, then the sender's headers in the order they first appeared.
pub fn metadata(event: &Event) -> Vec<(String, String)> {
    let new = &event.new;
    let mut fields = vec![
        (EVENT_ID.to_string(), event.id.to_string()),
        ("source".to_string(), new.source.clone()),
    ];
    if let Some(event_type) = &new.event_type {
        fields.push(("event-type".to_string(), event_type.clone()));
    }
    if let Some(delivery_id) = &new.delivery_id {
        fields.push(("delivery-id".to_string(), delivery_id.clone()));
    }
    fields.push(("signature".to_string(), new.signature.as_str().to_string()));
    fields.push(("received-at".to_string(), view::time(new.received_at)));
    if let Some(content_type) = &new.content_type {
        fields.push(("content-type".to_string(), content_type.clone()));
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (name, value) in forwarded_headers(&new.headers) {
        let name = format!("hdr-{}", name.to_ascii_lowercase());
        match headers.iter_mut().find(|(seen, _)| *seen == name) {
            Some((_, joined)) => {
                joined.push_str(", ");
                joined.push_str(value);
            }
            None => headers.push((name, value.clone())),
        }
    }
    fields.extend(headers);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{NewEvent, Signature};
    use chrono::{TimeZone, Utc};

    fn event() -> Event {
        let mut new = NewEvent::sample("stripe", 1);
        new.received_at = Utc.with_ymd_and_hms(2026, 11, 28, 23, 59, 59).unwrap()
            + chrono::Duration::microseconds(123_456);
        new.event_type = Some("charge.failed".into());
        new.delivery_id = Some("evt_1".into());
        new.signature = Signature::Valid;
        new.content_type = Some("application/json".into());
        new.headers = vec![
            ("Host".into(), "hooks.example.com".into()),
            ("Content-Type".into(), "application/json".into()),
            ("x-multi".into(), "1".into()),
            ("connection".into(), "keep-alive".into()),
            ("stripe-signature".into(), "t=1,v1=ff".into()),
            ("x-multi".into(), "2".into()),
            ("transfer-encoding".into(), "chunked".into()),
        ];
        Event {
            id: 42,
            size: new.body.len() as i64,
            new,
            duplicates: 0,
            enrichment: None,
        }
    }

    fn pairs(fields: &[(String, String)]) -> Vec<(&str, &str)> {
        fields
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn every_field_is_there_and_repeated_headers_are_joined() {
        assert_eq!(
            pairs(&metadata(&event())),
            [
                ("hookwatch-event-id", "42"),
                ("source", "stripe"),
                ("event-type", "charge.failed"),
                ("delivery-id", "evt_1"),
                ("signature", "valid"),
                ("received-at", "2026-11-28T23:59:59.123456Z"),
                ("content-type", "application/json"),
                ("hdr-content-type", "application/json"),
                ("hdr-x-multi", "1, 2"),
                ("hdr-stripe-signature", "t=1,v1=ff"),
            ]
        );
    }

    #[test]
    fn a_missing_type_delivery_id_or_content_type_is_left_out() {
        let mut event = event();
        event.new.event_type = None;
        event.new.delivery_id = None;
        event.new.content_type = None;
        event.new.headers.clear();
        let names: Vec<String> = metadata(&event).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            names,
            ["hookwatch-event-id", "source", "signature", "received-at"]
        );
    }
}
