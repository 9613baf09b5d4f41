//! The `Publisher` as a whole: a broker that does not answer holds up only its own
//! deliveries, and for no longer than the time limit.

use std::time::{Duration, Instant};

use hookwatch::forward::broker::{Publisher, Target};

use super::{event, require, unique};

#[tokio::test]
async fn a_broker_that_never_answers_holds_up_nothing_else_and_times_out() {
    require(
        6379,
        "Redis",
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379",
    )
    .await;
    // Takes connections (the kernel's backlog) and never says a word, like a hung broker.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let publisher = Publisher::new(Duration::from_secs(2));
    let hung_to = format!("nats://127.0.0.1:{port}/x");
    let hung = {
        let publisher = publisher.clone();
        tokio::spawn(async move {
            let target = Target {
                name: "hung",
                to: &hung_to,
                create_stream: false,
            };
            let started = Instant::now();
            let result = publisher
                .publish(&target, &event("payloads/github/push.json", 1), None)
                .await;
            (result, started.elapsed())
        })
    };

    let stream = unique("hw-live");
    let live_to = format!("redis://127.0.0.1:6379/0?stream={stream}");
    let live = Target {
        name: "live",
        to: &live_to,
        create_stream: false,
    };
    let started = Instant::now();
    publisher
        .publish(&live, &event("payloads/github/push.json", 1), None)
        .await
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the live target waited {:?}",
        started.elapsed()
    );
    assert!(!hung.is_finished(), "the hung target is still waiting");

    let (result, waited) = hung.await.unwrap();
    let error = result.unwrap_err();
    assert!(error.contains("no answer"), "{error}");
    assert!(waited < Duration::from_secs(3), "{waited:?}");
    drop(silent);
    let mut redis = redis::Client::open("redis://127.0.0.1:6379/0")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: i64 = redis::cmd("DEL")
        .arg(&stream)
        .query_async(&mut redis)
        .await
        .unwrap();
}
