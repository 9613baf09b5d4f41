//! Broker targets through `serve`: a `[[forward]]` rule whose `to` names a broker takes every
//! event through the same queue as an HTTP target, counts it delivered on the broker's
//! acknowledgement, and records the answer; a broker that is down holds up nothing else.

use std::time::Duration;

use redis::AsyncCommands;
use serde_json::Value;

use super::{require, unique};
use crate::forward::{attempts, forward_all, post_json, wait_state};
use crate::support::{fixture, spawn_app_with};

#[tokio::test]
async fn serve_publishes_each_event_to_jetstream_and_a_replay_is_a_new_message() {
    require(4222, "nats-server with JetStream", "see scripts/test.sh").await;
    let js = super::nats::jetstream_at("nats://127.0.0.1:4222").await;
    let name = unique("hw");
    let stream = super::nats::make_stream(&js, &name, &format!("{name}.>")).await;
    let to = format!("nats://127.0.0.1:4222/{name}.{{source}}");
    let app = spawn_app_with(&forward_all(&to, "")).await;

    let binary = fixture("payloads/malformed/invalid_utf8.bin");
    let response = app
        .post(
            "odd",
            &[("content-type", "application/octet-stream")],
            binary.body.clone(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let first = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let second = post_json(&app, "shop", r#"{"type":"order.paid","n":1}"#).await;
    for id in [first, second] {
        wait_state(&app, id, "delivered").await;
        let tried = attempts(&app, id).await;
        assert_eq!(tried.len(), 1, "{tried:?}");
        assert_eq!(tried[0]["status"], Value::Null);
        assert_eq!(tried[0]["error"], Value::Null);
        let answer = tried[0]["response_excerpt"].as_str().unwrap();
        assert!(
            answer.starts_with(&format!("stream {name} seq ")),
            "{answer}"
        );
    }
    assert_eq!(super::nats::count(&js, &name).await, 2);
    let message = stream.get_raw_message(1).await.unwrap();
    assert_eq!(message.subject.as_str(), format!("{name}.odd"));
    assert_eq!(&message.payload[..], &binary.body[..], "the exact bytes");

    let replay = app
        .client
        .post(app.url(&format!("/api/events/{second}/replay")))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while super::nats::count(&js, &name).await < 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the replay never arrived"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let replayed = stream.get_raw_message(3).await.unwrap();
    let id = replayed.headers.get("Nats-Msg-Id").unwrap().as_str();
    assert_eq!(id, format!("hookwatch-app-{second}-r1"));
    js.delete_stream(&name).await.unwrap();
}

#[tokio::test]
async fn serve_appends_to_a_redis_stream_and_a_broker_that_is_down_only_delays_its_own() {
    require(6379, "Redis", "see scripts/test.sh").await;
    let key = unique("hw");
    let toml = format!(
        "{}{}",
        forward_all(&format!("redis://127.0.0.1:6379/0?stream={key}"), ""),
        "[[forward]]\nname = \"down\"\nsource = \"*\"\nto = \"redis://127.0.0.1:1/0?stream=x\"\n\
         timeout_secs = 2\n"
    );
    let app = spawn_app_with(&toml).await;
    let id = post_json(&app, "shop", r#"{"type":"order.paid"}"#).await;
    let detail = crate::forward::wait_json(&app, &format!("/api/events/{id}"), |e| {
        let forwards = e["forwards"].as_array().cloned().unwrap_or_default();
        let of = |name: &str| forwards.iter().find(|f| f["target"] == name).cloned();
        of("app").is_some_and(|f| f["state"] == "delivered")
            && of("down").is_some_and(|f| f["attempts"].as_i64() >= Some(1))
    })
    .await;
    let down = detail["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["target"] == "down")
        .unwrap()
        .clone();
    assert_eq!(
        down["state"], "pending",
        "a refused connection is retried: {down}"
    );
    let tried = attempts(&app, id).await;
    let failed = tried.iter().find(|a| a["target"] == "down").unwrap();
    assert!(failed["error"].as_str().unwrap().len() > 5, "{failed}");

    let mut redis = redis::Client::open("redis://127.0.0.1:6379/0")
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let len: u64 = redis.xlen(&key).await.unwrap();
    assert_eq!(len, 1);
    let _: i64 = redis.del(&key).await.unwrap();
    assert_eq!(app.get_json("/healthz").await["status"], "ok");
}

#[test]
fn check_config_masks_a_broker_password_and_shows_create_stream() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        "{}{}",
        forward_all(
            "amqp://guest:hunter2secret@127.0.0.1:5672/%2f?exchange=x&routing_key={source}",
            ""
        ),
        "[[forward]]\nname = \"bus\"\nsource = \"*\"\nto = \"nats://127.0.0.1:4222/hooks.{type}\"\n\
         create_stream = true\n"
    );
    std::fs::write(dir.path().join("f.toml"), toml).unwrap();
    for args in [
        &["check-config", "--config", "f.toml"][..],
        &["check-config", "--config", "f.toml", "--json"],
    ] {
        let run = crate::strict_input::hookwatch(dir.path(), args, &[]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(!run.stdout.contains("hunter2secret"), "{}", run.stdout);
        assert!(run.stdout.contains("guest:***@127.0.0.1"), "{}", run.stdout);
        assert!(run.stdout.contains("create_stream"), "{}", run.stdout);
    }
}
