//! Broker targets against real brokers: NATS with JetStream, RabbitMQ and Redis on their
//! usual loopback ports (scripts/test.sh starts whichever is not running), and a NATS server
//! of the test's own where one is stopped and started again. Messages are read back with the
//! same client crates a consumer would use.
//!
//! A broker that is not running fails the test with how to start it: a skipped test would
//! pass in CI while proving nothing.

mod amqp;
mod nats;
mod nats_restart;
mod publisher;
mod redis;
mod serve;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use hookwatch::model::{Event, NewEvent, Provider, Signature, Status};

use crate::support::{Fixture, fixture};

/// Fixtures published by every broker's round trip: JSON, a form, and a body that is not
/// UTF-8.
const FIXTURES: [&str; 4] = [
    "payloads/stripe/charge.failed.json",
    "payloads/github/push.json",
    "payloads/twilio/sms_status_callback.txt",
    "payloads/malformed/invalid_utf8.bin",
];

/// A name no other test (or earlier run) uses: streams, subjects and queues are per test.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = Utc::now().timestamp_subsec_nanos();
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// Fails, saying how to start it, unless something listens on `port`.
pub async fn require(port: u16, broker: &str, start: &str) {
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => {}
        _ => panic!(
            "{broker} is not reachable on 127.0.0.1:{port}; start it with `{start}` \
             (scripts/test.sh does this before the tests)"
        ),
    }
}

/// The event hookwatch would have stored for fixture `file`, with id `id`; a hop-by-hop header
/// and a repeated one are added, as a proxy in front of hookwatch might send them.
pub fn event(file: &str, id: i64) -> Event {
    let Fixture {
        body,
        headers,
        expect,
        ..
    } = fixture(file);
    let mut headers: Vec<(String, String)> = headers
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value))
        .collect();
    headers.push(("connection".into(), "keep-alive".into()));
    headers.push(("x-forwarded-for".into(), "10.0.0.1".into()));
    headers.push(("x-forwarded-for".into(), "10.0.0.2".into()));
    let content_type = headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.clone());
    let text = |key: &str| expect[key].as_str().map(str::to_string);
    let new = NewEvent {
        source: "fixture".into(),
        received_at: Utc.with_ymd_and_hms(2026, 11, 28, 23, 59, 59).unwrap()
            + chrono::Duration::microseconds(123_456),
        method: "POST".into(),
        path: "/webhook/fixture".into(),
        query: String::new(),
        remote_addr: "127.0.0.1".into(),
        content_type,
        headers,
        provider: Provider::parse(expect["provider"].as_str().unwrap()).unwrap(),
        event_type: text("event_type"),
        delivery_id: text("delivery_id"),
        signature: Signature::Valid,
        signature_reason: None,
        signature_failure: false,
        status: Status::Received,
        is_error: false,
        body,
    };
    Event {
        id,
        size: new.body.len() as i64,
        new,
        duplicates: 0,
        enrichment: None,
    }
}

/// Every fixture's event, ids from 1.
pub fn fixture_events() -> Vec<Event> {
    FIXTURES
        .iter()
        .enumerate()
        .map(|(i, file)| event(file, i as i64 + 1))
        .collect()
}

/// What must arrive beside the body, written out from the event rather than computed the way
/// the publisher does.
pub fn expected_metadata(event: &Event) -> BTreeMap<String, String> {
    let new = &event.new;
    let mut want = BTreeMap::from([
        ("hookwatch-event-id".to_string(), event.id.to_string()),
        ("source".to_string(), new.source.clone()),
        ("signature".to_string(), "valid".to_string()),
        (
            "received-at".to_string(),
            "2026-11-28T23:59:59.123456Z".to_string(),
        ),
        (
            "hdr-x-forwarded-for".to_string(),
            "10.0.0.1, 10.0.0.2".to_string(),
        ),
    ]);
    if let Some(t) = &new.event_type {
        want.insert("event-type".into(), t.clone());
    }
    if let Some(d) = &new.delivery_id {
        want.insert("delivery-id".into(), d.clone());
    }
    if let Some(c) = &new.content_type {
        want.insert("content-type".into(), c.clone());
    }
    for (name, value) in &new.headers {
        if name != "connection" && name != "x-forwarded-for" {
            want.insert(format!("hdr-{name}"), value.clone());
        }
    }
    want
}

/// Checks that what arrived carries the event: the exact body, and every metadata field with
/// nothing else beside them but what `extra` allows (a broker's own fields).
pub fn assert_carries(
    event: &Event,
    body: &[u8],
    fields: &BTreeMap<String, String>,
    extra: &[&str],
) {
    assert_eq!(
        body,
        event.new.body.as_slice(),
        "body of event {}",
        event.id
    );
    let mut fields = fields.clone();
    fields.retain(|name, _| !extra.contains(&name.as_str()));
    assert_eq!(
        fields,
        expected_metadata(event),
        "metadata of event {}",
        event.id
    );
    assert!(
        !fields.contains_key("hdr-connection"),
        "hop-by-hop left out"
    );
}
