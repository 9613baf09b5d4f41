//! NATS JetStream targets: PubAck-confirmed publishes, deduplication by message id, streams
//! that are missing or made on request (a server going away is in `nats_restart`).

use std::collections::BTreeMap;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use hookwatch::forward::broker::{Publisher, Target};

use super::{assert_carries, event, fixture_events, require, unique};

const URL: &str = "nats://127.0.0.1:4222";

pub async fn jetstream_at(url: &str) -> jetstream::Context {
    jetstream::new(async_nats::connect(url).await.expect("connect to NATS"))
}

async fn jetstream() -> jetstream::Context {
    require(
        4222,
        "nats-server with JetStream",
        "start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
         -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server",
    )
    .await;
    jetstream_at(URL).await
}

/// A stream on `subjects`, named `name`, kept on disk.
pub async fn make_stream(js: &jetstream::Context, name: &str, subjects: &str) -> stream::Stream {
    js.create_stream(stream::Config {
        name: name.to_string(),
        subjects: vec![subjects.to_string()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create the stream")
}

pub async fn count(js: &jetstream::Context, name: &str) -> u64 {
    let mut stream = js.get_stream(name).await.expect("the stream");
    stream.info().await.expect("stream info").state.messages
}

pub fn publisher() -> Publisher {
    Publisher::new(Duration::from_secs(5))
}

#[tokio::test]
async fn nats_events_arrive_byte_exact_with_every_header() {
    let js = jetstream().await;
    let name = unique("hw");
    let stream = make_stream(&js, &name, &format!("{name}.>")).await;
    let to = format!("{URL}/{name}.{{source}}.{{type}}");
    let target = Target {
        name: "nats-test",
        to: &to,
        create_stream: false,
    };
    let publisher = publisher();
    for event in fixture_events() {
        let answer = publisher.publish(&target, &event, None).await.unwrap();
        assert!(
            answer.starts_with(&format!("stream {name} seq ")),
            "{answer}"
        );
        let seq: u64 = answer.rsplit(' ').next().unwrap().parse().unwrap();
        let message = stream.get_raw_message(seq).await.unwrap();
        let event_type = event.new.event_type.as_deref().unwrap();
        assert_eq!(
            message.subject.as_str(),
            format!("{name}.fixture.{event_type}")
        );
        let fields: BTreeMap<String, String> = message
            .headers
            .iter()
            .map(|(name, values)| {
                let values: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
                (name.to_string(), values.join(", "))
            })
            .collect();
        assert_eq!(
            fields["Nats-Msg-Id"],
            format!("hookwatch-nats-test-{}", event.id)
        );
        assert_carries(&event, &message.payload, &fields, &["Nats-Msg-Id"]);
    }
    js.delete_stream(&name).await.unwrap();
}

#[tokio::test]
async fn nats_the_same_event_again_is_dropped_as_a_duplicate_but_a_replay_is_not() {
    let js = jetstream().await;
    let name = unique("hw");
    make_stream(&js, &name, &name).await;
    let to = format!("{URL}/{name}");
    let target = Target {
        name: &name,
        to: &to,
        create_stream: false,
    };
    let publisher = publisher();
    let event = event("payloads/stripe/charge.failed.json", 7);
    let first = publisher.publish(&target, &event, None).await.unwrap();
    let again = publisher.publish(&target, &event, None).await.unwrap();
    assert!(!first.contains("duplicate"), "{first}");
    assert!(
        again.ends_with("(duplicate)"),
        "a duplicate is delivered: {again}"
    );
    assert_eq!(count(&js, &name).await, 1);
    publisher.publish(&target, &event, Some(1)).await.unwrap();
    publisher.publish(&target, &event, Some(2)).await.unwrap();
    assert_eq!(count(&js, &name).await, 3, "each replay is a new message");
    js.delete_stream(&name).await.unwrap();
}

#[tokio::test]
async fn nats_a_subject_no_stream_takes_fails_naming_it_and_creates_nothing() {
    let js = jetstream().await;
    let subject = unique("nostream");
    let to = format!("{URL}/{subject}");
    let target = Target {
        name: "nats-missing",
        to: &to,
        create_stream: false,
    };
    let event = event("payloads/github/push.json", 1);
    let error = publisher()
        .publish(&target, &event, None)
        .await
        .unwrap_err();
    assert!(
        error.contains("no stream") && error.contains(&subject),
        "{error}"
    );
    assert!(js.stream_by_subject(subject.as_str()).await.is_err());
}

#[tokio::test]
async fn nats_create_stream_makes_one_stream_for_every_source_and_type_of_the_rule() {
    let js = jetstream().await;
    let prefix = unique("made");
    let target_name = unique("rule.made");
    let to = format!("{URL}/{prefix}.{{source}}.{{type}}");
    let target = Target {
        name: &target_name,
        to: &to,
        create_stream: true,
    };
    let publisher = publisher();
    let mut other = event("payloads/github/push.json", 2);
    other.new.source = "other".into();
    publisher
        .publish(
            &target,
            &event("payloads/stripe/charge.failed.json", 1),
            None,
        )
        .await
        .unwrap();
    publisher.publish(&target, &other, None).await.unwrap();
    let stream_name = format!("hookwatch-{}", target_name.replace('.', "_"));
    assert_eq!(count(&js, &stream_name).await, 2);
    js.delete_stream(&stream_name).await.unwrap();
}

#[tokio::test]
async fn nats_a_header_nats_cannot_carry_is_left_out_and_the_event_still_goes() {
    let js = jetstream().await;
    let name = unique("hw");
    let stream = make_stream(&js, &name, &name).await;
    let to = format!("{URL}/{name}");
    let target = Target {
        name: "nats-odd",
        to: &to,
        create_stream: false,
    };
    let mut event = event("payloads/github/push.json", 1);
    event.new.headers.push(("odd:name".into(), "x".into()));
    event.new.headers.push(("x-broken".into(), "a\r\nb".into()));
    let answer = publisher().publish(&target, &event, None).await.unwrap();
    let seq: u64 = answer.rsplit(' ').next().unwrap().parse().unwrap();
    let message = stream.get_raw_message(seq).await.unwrap();
    assert!(
        !message
            .headers
            .iter()
            .any(|(name, _)| name.to_string().contains("odd"))
    );
    assert_eq!(
        message.headers.get("hdr-x-broken").unwrap().as_str(),
        "a  b"
    );
    assert_eq!(&message.payload[..], event.new.body.as_slice());
    js.delete_stream(&name).await.unwrap();
}

#[tokio::test]
async fn nats_an_event_type_that_makes_no_subject_fails_the_attempt_readably() {
    jetstream().await;
    let to = format!("{URL}/{}.{{type}}", unique("hw"));
    let target = Target {
        name: "nats-bad-subject",
        to: &to,
        create_stream: false,
    };
    let mut event = event("payloads/github/push.json", 1);
    event.new.event_type = Some("a..b".into());
    let error = publisher()
        .publish(&target, &event, None)
        .await
        .unwrap_err();
    assert!(error.contains("is not a NATS subject"), "{error}");
}
