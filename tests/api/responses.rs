//! `[sources.NAME.response]`: the configured answer, sent only after the commit, the same for a
//! redelivery, and never in place of Slack's handshake or a refusal.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

const CUSTOM: &str = r#"
[sources.custom]
delivery_id = "header:x-hook-id"
[sources.custom.response]
status = 202
body = "{{\"ok\":{event_id},\"delivery\":\"{delivery_id}\"}}"
content_type = "application/vnd.acme+json"
headers = { "X-Handled-By" = "hookwatch" }
"#;

#[tokio::test]
async fn a_configured_response_names_the_stored_event_and_a_duplicate_gets_the_same() {
    let app = spawn_app_with(CUSTOM).await;
    let response = app.post("custom", &[("x-hook-id", "d-1")], "{}").await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.acme+json"
    );
    assert_eq!(response.headers()["x-handled-by"], "hookwatch");
    let first: Value = response.json().await.unwrap();
    assert_eq!(first["delivery"], "d-1");
    let id = first["ok"].as_i64().expect("the event id");
    let status = app.get_status(&format!("/api/events/{id}")).await;
    assert_eq!(status, 200, "the event is committed before the answer");

    let again = app.post("custom", &[("x-hook-id", "d-1")], "{}").await;
    assert_eq!(again.status(), 202);
    let second: Value = again.json().await.unwrap();
    assert_eq!(
        second, first,
        "a duplicate is answered with the first event's id"
    );

    let none = app.post("custom", &[], "{}").await;
    let third: Value = none.json().await.unwrap();
    assert_eq!(third["delivery"], "", "no delivery id renders empty");
}

#[tokio::test]
async fn a_non_2xx_status_without_a_body_keeps_the_default_json() {
    let toml = "[sources.flaky.response]\nstatus = 503\n";
    let app = spawn_app_with(toml).await;
    let response = app.post("flaky", &[], "{}").await;
    assert_eq!(response.status(), 503);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["status"], "received",
        "stored all the same: {answer}"
    );
    let id = answer["id"].as_i64().unwrap();
    assert_eq!(app.get_status(&format!("/api/events/{id}")).await, 200);
}

#[tokio::test]
async fn a_delayed_response_waits_at_least_its_delay() {
    let toml = "[sources.slow.response]\ndelay_ms = 400\nbody = \"late\"\n";
    let app = spawn_app_with(toml).await;
    let started = Instant::now();
    let response = app.post("slow", &[], "{}").await;
    let took = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    assert_eq!(response.text().await.unwrap(), "late");
    assert!(took >= Duration::from_millis(400), "{took:?}");
}

#[tokio::test]
async fn slack_url_verification_and_refusals_keep_their_own_answers() {
    let toml = "[sources.slack]\nprovider = \"slack\"\n[sources.slack.response]\n\
                status = 202\nbody = \"ok\"\n\
                [sources.guarded]\nallow_ips = [\"203.0.113.0/24\"]\n\
                [sources.guarded.response]\nstatus = 202\nbody = \"ok\"\n";
    let app = spawn_app_with(toml).await;
    let f = fixture("payloads/slack/url_verification.json");
    let challenge = serde_json::from_slice::<Value>(&f.body).unwrap()["challenge"].clone();
    let (status, answer) = app.post_fixture("slack", &f).await;
    assert_eq!(status, 200);
    assert_eq!(answer, challenge);
    let response = app.post("guarded", &[], "{}").await;
    assert_eq!(response.status(), 403);
}

#[test]
fn a_response_delay_above_the_cap_or_a_bad_status_stops_start_up() {
    let cases = [
        (
            "[sources.s.response]\ndelay_ms = 30001\n",
            "sources.s.response.delay_ms",
            "30000",
        ),
        (
            "[sources.s.response]\nstatus = 199\n",
            "sources.s.response.status",
            "199",
        ),
        (
            "[sources.s.response]\nbody = \"{id}\"\n",
            "sources.s.response.body",
            "{id}",
        ),
        (
            "[sources.s.response]\nheaders = { \"Content-Length\" = \"1\" }\n",
            "sources.s.response.headers",
            "Content-Length",
        ),
    ];
    for (text, key, problem) in cases {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let out = Command::new(BIN)
            .args(["serve", "--config", "bad.toml"])
            .current_dir(dir.path())
            .env_remove("HOOKWATCH_DATABASE")
            .env_remove("HOOKWATCH_CONFIG")
            .output()
            .expect("run hookwatch");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(key), "names {key}: {stderr}");
        assert!(stderr.contains(problem), "says {problem}: {stderr}");
    }
}
