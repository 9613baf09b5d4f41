//! Broker publish benchmark: events per second that the `Publisher` hands to NATS JetStream,
//! RabbitMQ and Redis Streams with the broker's acknowledgement awaited, one at a time (the
//! latency of a single delivery) and with 32 in flight (a target's concurrent deliveries).
//! The brokers must be running on their usual loopback ports (scripts/test.sh starts them).
//!
//! Run: `cargo bench --bench brokers` (`BENCH_EVENTS=N` to change the events per figure).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use hookwatch::forward::broker::{Publisher, Target};
use hookwatch::model::{Event, NewEvent, Provider, Signature, Status};
use tokio::task::JoinSet;

const IN_FLIGHT: usize = 32;

static NEXT_ID: AtomicI64 = AtomicI64::new(1);

fn events_per_figure() -> i64 {
    std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

/// A Stripe delivery as stored: the fixture body (about 2 KB) and the headers Stripe sends.
fn event(id: i64) -> Event {
    let fixtures = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/payloads/stripe/"
    );
    let body = std::fs::read(format!("{fixtures}charge.failed.json")).expect("the fixture");
    let sidecar = std::fs::read(format!("{fixtures}charge.failed.headers.json")).expect("headers");
    let headers: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&sidecar).expect("a JSON object");
    let new = NewEvent {
        source: "stripe".into(),
        received_at: Utc::now(),
        method: "POST".into(),
        path: "/webhook/stripe".into(),
        query: String::new(),
        remote_addr: "127.0.0.1".into(),
        content_type: Some("application/json".into()),
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string()))
            .collect(),
        provider: Provider::Stripe,
        event_type: Some("charge.failed".into()),
        delivery_id: Some("evt_bench".into()),
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

/// Events per second publishing `count` events with `in_flight` awaiting their ack at once.
async fn rate(publisher: &Publisher, target: Target<'static>, count: i64, in_flight: usize) -> f64 {
    let template = Arc::new(event(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    // Fresh ids for every figure: a repeated one would be dropped as a duplicate by JetStream.
    let first = NEXT_ID.fetch_add(count, Ordering::Relaxed);
    for id in first..first + count {
        if tasks.len() >= in_flight {
            tasks.join_next().await.expect("a task").expect("no panic");
        }
        let publisher = publisher.clone();
        let mut event = (*template).clone();
        event.id = id;
        tasks.spawn(async move {
            if let Err(error) = publisher.publish(&target, &event, None).await {
                panic!("publish to {} failed: {error}", target.name);
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("no panic");
    }
    count as f64 / started.elapsed().as_secs_f64()
}

/// A target name and `to` that live as long as the benchmark.
fn target(name: String, to: String) -> Target<'static> {
    Target {
        name: Box::leak(name.into_boxed_str()),
        to: Box::leak(to.into_boxed_str()),
        create_stream: true,
    }
}

#[tokio::main]
async fn main() {
    let count = events_per_figure();
    let run = std::process::id();
    let publisher = Publisher::new(Duration::from_secs(10));
    let nats_subject = format!("bench{run}.{{source}}");
    let stream = format!("bench{run}");
    let redis_stream = format!("bench-{run}");
    let cases = [
        (
            "NATS JetStream",
            target(
                stream.clone(),
                format!("nats://127.0.0.1:4222/{nats_subject}"),
            ),
        ),
        (
            "RabbitMQ (default exchange, a queue)",
            target(
                format!("amqp{run}"),
                format!("amqp://guest:guest@127.0.0.1:5672/%2f?routing_key={redis_stream}"),
            ),
        ),
        (
            "Redis Streams",
            target(
                format!("redis{run}"),
                format!("redis://127.0.0.1:6379/0?stream={redis_stream}&maxlen=10000"),
            ),
        ),
    ];
    let (_connection, channel) = amqp_queue(&redis_stream).await;
    println!(
        "{count} events of {} bytes per figure, ack awaited",
        event(0).new.body.len()
    );
    for (broker, target) in cases {
        let one = rate(&publisher, target, count, 1).await;
        let many = rate(&publisher, target, count, IN_FLIGHT).await;
        println!(
            "{broker:<38} 1 in flight: {one:>8.0} events/s   {IN_FLIGHT} in flight: {many:>8.0} events/s"
        );
    }
    cleanup(&stream, &redis_stream, channel).await;
}

/// A queue for the RabbitMQ figures (a mandatory message needs one to land in).
async fn amqp_queue(name: &str) -> (lapin::Connection, lapin::Channel) {
    let connection = lapin::Connection::connect(
        "amqp://guest:guest@127.0.0.1:5672/%2f",
        lapin::ConnectionProperties::default(),
    )
    .await
    .expect("RabbitMQ on 127.0.0.1:5672");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .queue_declare(name.into(), Default::default(), Default::default())
        .await
        .expect("declare the queue");
    (connection, channel)
}

async fn cleanup(stream: &str, redis_stream: &str, channel: lapin::Channel) {
    let nats = async_nats::connect("nats://127.0.0.1:4222")
        .await
        .expect("NATS");
    let _ = async_nats::jetstream::new(nats)
        .delete_stream(format!("hookwatch-{stream}"))
        .await;
    let _ = channel
        .queue_delete(redis_stream.into(), Default::default())
        .await;
    let mut redis = redis::Client::open("redis://127.0.0.1:6379/0")
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("Redis");
    let _: Result<i64, _> = redis::cmd("DEL")
        .arg(redis_stream)
        .query_async(&mut redis)
        .await;
}
