//! Redis Streams targets: one `XADD` per event, body and metadata as fields.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hookwatch::forward::broker::{Publisher, Target};
use redis::aio::MultiplexedConnection;

use super::{assert_carries, event, fixture_events, require, unique};

const SERVER: &str = "redis://127.0.0.1:6379/0";

async fn redis() -> MultiplexedConnection {
    require(
        6379,
        "Redis",
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no",
    )
    .await;
    redis::Client::open(SERVER)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("connect to Redis")
}

fn publisher() -> Publisher {
    Publisher::new(Duration::from_secs(5))
}

#[tokio::test]
async fn redis_events_arrive_byte_exact_with_every_field() {
    let mut redis = redis().await;
    let prefix = unique("hw");
    let to = format!("{SERVER}?stream={prefix}.{{source}}");
    let target = Target {
        name: "redis-test",
        to: &to,
        create_stream: false,
    };
    let key = format!("{prefix}.fixture");
    let publisher = publisher();
    let events = fixture_events();
    let mut ids = Vec::new();
    for event in &events {
        let answer = publisher.publish(&target, event, None).await.unwrap();
        let id = answer
            .strip_prefix(&format!("stream {key} id "))
            .unwrap_or_else(|| panic!("{answer}"));
        ids.push(id.to_string());
    }
    let entries: Vec<(String, Vec<Vec<u8>>)> = redis::cmd("XRANGE")
        .arg(&key)
        .arg("-")
        .arg("+")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(entries.len(), events.len());
    for ((id, flat), (event, want_id)) in entries.into_iter().zip(events.iter().zip(&ids)) {
        assert_eq!(&id, want_id);
        let mut body = None;
        let mut fields = BTreeMap::new();
        for pair in flat.chunks(2) {
            let name = String::from_utf8(pair[0].clone()).unwrap();
            if name == "body" {
                body = Some(pair[1].clone());
            } else {
                fields.insert(name, String::from_utf8(pair[1].clone()).unwrap());
            }
        }
        assert_carries(event, &body.expect("a body field"), &fields, &[]);
    }
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_maxlen_trims_the_stream() {
    let mut redis = redis().await;
    let key = unique("hw-trim");
    let to = format!("{SERVER}?stream={key}&maxlen=10");
    let target = Target {
        name: "redis-trim",
        to: &to,
        create_stream: false,
    };
    let publisher = publisher();
    for id in 1..=300 {
        let event = event("payloads/github/ping.json", id);
        publisher.publish(&target, &event, None).await.unwrap();
    }
    let len: u64 = redis::cmd("XLEN")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    // Approximate trimming drops whole nodes (100 entries by default), never below maxlen.
    assert!((10..200).contains(&len), "{len} entries");
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
}

#[tokio::test]
async fn redis_a_server_that_is_not_running_fails_at_once_and_says_so() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let to = format!("redis://127.0.0.1:{port}/0?stream=x");
    let target = Target {
        name: "redis-down",
        to: &to,
        create_stream: false,
    };
    let started = Instant::now();
    let error = publisher()
        .publish(&target, &event("payloads/github/push.json", 1), None)
        .await
        .unwrap_err();
    assert!(error.to_ascii_lowercase().contains("refused"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
}
