//! Forwarding end to end: the real server sends received events to a real target server on
//! loopback, and every fault a target can have is met as documented.

use std::time::Duration;

use hookwatch::verify::{Outcome, Request, Scheme, Verifier};
use serde_json::{Value, json};

use crate::forward_target::{Reply, Target, free_port};
use crate::support::*;

/// A config forwarding every event of every source to `to` as target `app`, plus `extra`
/// keys in the rule.
pub fn forward_all(to: &str, extra: &str) -> String {
    format!("[[forward]]\nname = \"app\"\nsource = \"*\"\nto = \"{to}\"\n{extra}\n")
}

/// Waits (at most 30 s) until `check` holds for the JSON at `path`, and answers it.
pub async fn wait_json(app: &TestApp, path: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let value = app.get_json(path).await;
        if check(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never became as expected: {value}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until event `id`'s only forward is in `state`; answers the event detail.
pub async fn wait_state(app: &TestApp, id: i64, state: &str) -> Value {
    wait_json(app, &format!("/api/events/{id}"), |e| {
        e["forwards"][0]["state"] == state
    })
    .await
}

pub async fn post_json(app: &TestApp, source: &str, body: &str) -> i64 {
    let response = app
        .post(
            source,
            &[("content-type", "application/json")],
            body.to_string(),
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

/// Posts `{"n":0}` … to the `app` source of the server at `base`; answers the events' ids.
pub async fn post_numbered(base: &str, count: usize) -> Vec<i64> {
    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for n in 0..count {
        let answer: Value = client
            .post(format!("{base}/webhook/app"))
            .body(format!("{{\"n\":{n}}}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(answer["id"].as_i64().unwrap());
    }
    ids
}

pub async fn attempts(app: &TestApp, id: i64) -> Vec<Value> {
    let answer = app.get_json(&format!("/api/events/{id}/attempts")).await;
    answer["attempts"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_event_arrives_byte_exact_with_its_method_headers_and_query_and_its_signature_passes() {
    let target = Target::start(Reply::Status(200)).await;
    let secret = "whsec_forwarding";
    let toml = format!(
        "[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{secret}\"]\n{}",
        forward_all(
            &target.url("/hooks?env=test"),
            "add_headers = { \"X-Env\" = \"staging\" }"
        )
    );
    let app = spawn_app_with(&toml).await;
    let body = "{\"id\":\"evt_fwd\",\"type\":\"charge.failed\",\"note\":\"café ✓\"}";
    let mut headers = crate::signatures::sign("stripe", "stripe", secret, body, 1, None);
    headers.push(("content-type".into(), "application/json".into()));
    headers.push(("x-custom".into(), "one".into()));
    let mut request = app
        .client
        .post(app.url("/webhook/stripe?x=1&y=two"))
        .body(body);
    for (name, value) in &headers {
        request = request.header(name, value);
    }
    request = request
        .header("x-custom", "two")
        .header("x-hookwatch-attempt", "99");
    let answer: Value = request.send().await.unwrap().json().await.unwrap();
    let id = answer["id"].as_i64().unwrap();
    let stored = app.get_json(&format!("/api/events/{id}")).await;
    assert_eq!(stored["signature"], "valid", "{stored}");

    let got = &target.wait_for(1).await[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.uri, "/hooks?env=test&x=1&y=two");
    assert_eq!(got.body, body.as_bytes());
    let signature = headers
        .iter()
        .find(|(n, _)| n == "stripe-signature")
        .unwrap();
    assert_eq!(got.header("stripe-signature"), Some(signature.1.as_str()));
    assert_eq!(got.header("content-type"), Some("application/json"));
    let custom: Vec<&str> = got
        .headers
        .iter()
        .filter(|(n, _)| n == "x-custom")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(custom, ["one", "two"], "repeated headers travel in order");
    assert_eq!(
        got.header("x-hookwatch-event-id"),
        Some(id.to_string().as_str())
    );
    assert_eq!(got.header("x-hookwatch-source"), Some("stripe"));
    assert_eq!(
        got.header("x-hookwatch-attempt"),
        Some("1"),
        "a sender's own is dropped"
    );
    assert_eq!(got.header("x-env"), Some("staging"));
    assert_eq!(got.header("host"), Some(target.addr.to_string().as_str()));
    assert_eq!(
        got.header("content-length"),
        Some(body.len().to_string().as_str())
    );
    let verifier = Verifier {
        scheme: Scheme::Stripe,
        secrets: vec![secret.to_string()],
        tolerance_secs: 300,
    };
    let request = Request {
        headers: &got.headers,
        body: &got.body,
        url: None,
        query: "",
        content_type: Some("application/json"),
    };
    let outcome = verifier.verify(&request, chrono::Utc::now().timestamp());
    assert_eq!(
        outcome,
        Outcome::Valid,
        "the application's own check passes"
    );

    let event = wait_state(&app, id, "delivered").await;
    assert_eq!(
        event["forwards"],
        json!([{"target": "app", "state": "delivered", "attempts": 1, "next_at": null}])
    );
    let tried = attempts(&app, id).await;
    assert_eq!(tried.len(), 1);
    assert_eq!(tried[0]["target"], "app");
    assert_eq!(tried[0]["n"], 1);
    assert_eq!(tried[0]["status"], 200);
    assert_eq!(tried[0]["error"], Value::Null);
    assert_eq!(tried[0]["response_excerpt"], "answer 200");
    assert_eq!(tried[0]["replay"], false);
    assert!(tried[0]["ms"].as_i64().unwrap() >= 0);

    let patch = app
        .client
        .patch(app.url("/webhook/other"))
        .body("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let second = &target.wait_for(2).await[1];
    assert_eq!(
        (second.method.as_str(), second.body.as_slice()),
        ("PATCH", b"plain".as_slice())
    );
}

#[tokio::test]
async fn a_rule_with_a_filter_takes_only_the_events_every_condition_holds_for() {
    let target = Target::start(Reply::Status(200)).await;
    let toml = format!(
        "[[forward]]\nsource = \"*\"\nto = \"{}\"\n\
         filter = [\"/data/amount>=1000\", \"header:x-kind=live\"]\n",
        target.url("/t")
    );
    let app = spawn_app_with(&toml).await;
    let send = |body: &'static str, live: bool| {
        let app = &app;
        async move {
            let mut headers = vec![("content-type", "application/json")];
            if live {
                headers.push(("x-kind", "live"));
            }
            let response = app.post("shop", &headers, body).await;
            assert_eq!(response.status(), 200);
            response.json::<Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        }
    };
    let small = send(r#"{"data":{"amount":5}}"#, true).await;
    send(r#"{"data":{"amount":2000}}"#, false).await;
    let big = send(r#"{"data":{"amount":"2500"}}"#, true).await;
    let later = send(r#"{"data":{"amount":1000}}"#, true).await;
    let got = target.wait_for(2).await;
    let mut ids: Vec<i64> = got.iter().map(|r| r.event_id()).collect();
    ids.sort();
    assert_eq!(
        ids,
        vec![big, later],
        "only events every condition holds for"
    );
    let replay = app
        .client
        .post(app.url(&format!("/api/events/{small}/replay")))
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), 409, "no rule takes it");
    assert_eq!(target.received().len(), 2);
}

#[tokio::test]
async fn a_rejected_event_is_never_forwarded_and_a_type_rule_takes_only_its_types() {
    let target = Target::start(Reply::Status(200)).await;
    let toml = format!(
        "[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"whsec_x\"]\n\
         [[forward]]\nsource = \"*\"\ntype = \"order.*\"\nto = \"{}\"\n",
        target.url("/t")
    );
    let app = spawn_app_with(&toml).await;
    let forged = app
        .post(
            "stripe",
            &[("stripe-signature", "t=1,v1=00")],
            "{\"type\":\"order.x\"}",
        )
        .await;
    assert_eq!(forged.status(), 401);
    post_json(&app, "shop", "{\"type\":\"refund.created\"}").await;
    let wanted = post_json(&app, "shop", "{\"type\":\"order.created\"}").await;
    let got = target.wait_for(1).await;
    assert_eq!(got[0].event_id(), wanted);
    let all = wait_json(&app, "/api/forwards", |f| {
        f["forwards"][0]["state"] == "delivered"
    })
    .await;
    assert_eq!(all["forwards"].as_array().unwrap().len(), 1, "{all}");
    assert_eq!(
        all["forwards"][0]["target"], "127.0.0.1-1",
        "the default name"
    );
}

#[tokio::test]
async fn a_target_that_is_down_gets_every_event_once_it_is_up() {
    let port = free_port().await;
    let to = format!("http://127.0.0.1:{port}/hooks");
    let app = spawn_app_with(&forward_all(&to, "max_attempts = 20")).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(post_json(&app, "app", &format!("{{\"n\":{n}}}")).await);
    }
    let waiting = wait_json(&app, "/api/forwards?state=pending", |f| {
        let list = f["forwards"].as_array().unwrap();
        list.len() == 3 && list.iter().all(|d| d["attempts"].as_i64() >= Some(1))
    })
    .await;
    let first = &waiting["forwards"][0];
    assert_eq!(first["last_status"], Value::Null);
    assert!(
        first["last_error"].as_str().unwrap().contains("connect"),
        "{first}"
    );
    assert!(first["next_at"].is_string());
    let target = Target::start_on(port, Reply::Status(204)).await;
    let got = target.wait_for(3).await;
    let mut arrived: Vec<i64> = got.iter().map(|r| r.event_id()).collect();
    arrived.sort();
    arrived.dedup();
    assert_eq!(arrived, ids);
    for id in ids {
        wait_state(&app, id, "delivered").await;
        let tried = attempts(&app, id).await;
        assert!(tried.len() >= 2);
        assert_eq!(tried.last().unwrap()["status"], 204);
        assert_eq!(tried[0]["status"], Value::Null);
        assert!(tried[0]["error"].is_string());
    }
}

#[tokio::test]
async fn a_hanging_target_times_out_and_the_retry_delivers() {
    let target = Target::start(Reply::Status(200)).await;
    target.then(&[Reply::Hang]);
    let app = spawn_app_with(&forward_all(&target.url("/"), "timeout_secs = 1")).await;
    let id = post_json(&app, "app", "{}").await;
    wait_state(&app, id, "delivered").await;
    let tried = attempts(&app, id).await;
    assert_eq!(tried.len(), 2);
    assert_eq!(tried[0]["status"], Value::Null);
    assert!(
        tried[0]["error"].as_str().unwrap().contains("timeout_secs"),
        "{}",
        tried[0]
    );
    assert!(tried[0]["ms"].as_i64().unwrap() >= 1000);
    assert_eq!(tried[1]["status"], 200);
    assert_eq!(
        target.received()[1].header("x-hookwatch-attempt"),
        Some("2")
    );
}

#[tokio::test]
async fn a_target_failing_for_ever_makes_the_delivery_dead_after_max_attempts() {
    let target = Target::start(Reply::Soon(500)).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "max_attempts = 2")).await;
    let id = post_json(&app, "app", "{}").await;
    let event = wait_state(&app, id, "dead").await;
    assert_eq!(event["forwards"][0]["attempts"], 2);
    assert_eq!(event["forwards"][0]["next_at"], Value::Null);
    let tried = attempts(&app, id).await;
    let statuses: Vec<&Value> = tried.iter().map(|a| &a["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(500)]);
    assert_eq!(tried[1]["response_excerpt"], "later");
    assert_eq!(target.received().len(), 2);
    let dead = app.get_json("/api/forwards?state=dead").await;
    assert_eq!(dead["forwards"][0]["last_status"], 500);
    let attempts_of = |result: &'static str| {
        let app = &app;
        async move {
            let labels = [("target", "app"), ("result", result)];
            crate::metrics::metric(app, "hookwatch_forward_attempts_total", &labels).await
        }
    };
    assert_eq!(attempts_of("failed").await, Some(1.0));
    assert_eq!(attempts_of("dead").await, Some(1.0));
    assert_eq!(attempts_of("delivered").await, None);
    let pending = wait_json(&app, "/api/forwards/targets", |t| {
        t["targets"][0]["pending"] == 0
    })
    .await;
    assert_eq!(pending["targets"][0]["dead"], 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let gauge = crate::metrics::metric(&app, "hookwatch_forward_pending", &[("target", "app")]);
        if gauge.await == Some(0.0) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the pending gauge never read 0"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn gone_makes_the_delivery_dead_at_once() {
    let target = Target::start(Reply::Status(410)).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "max_attempts = 5")).await;
    let id = post_json(&app, "app", "{}").await;
    let event = wait_state(&app, id, "dead").await;
    assert_eq!(event["forwards"][0]["attempts"], 1);
    assert_eq!(target.received().len(), 1);
}

#[tokio::test]
async fn of_a_huge_answer_only_the_first_kib_is_kept() {
    let target = Target::start(Reply::Huge).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "")).await;
    let id = post_json(&app, "app", "{}").await;
    wait_state(&app, id, "delivered").await;
    let tried = attempts(&app, id).await;
    assert_eq!(tried[0]["response_excerpt"], "x".repeat(1024));
}

#[tokio::test]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let target = Target::start(Reply::Redirect).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "max_attempts = 1")).await;
    let id = post_json(&app, "app", "{}").await;
    wait_state(&app, id, "dead").await;
    let tried = attempts(&app, id).await;
    assert_eq!(tried[0]["status"], 302);
    let got = target.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].uri, "/");
}

#[test]
fn a_loop_or_a_target_hookwatch_cannot_send_to_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("http://127.0.0.1:18080/webhook/stripe", "loop"),
        ("nats://127.0.0.1:4222", "needs a subject"),
        ("redis://127.0.0.1:6379/0", "needs a stream"),
        ("ftp://example.com/x", "ftp"),
        ("not a url", "not a URL"),
    ];
    for (to, problem) in cases {
        let toml = format!("listen = \"127.0.0.1:18080\"\n{}", forward_all(to, ""));
        std::fs::write(dir.path().join("f.toml"), toml).unwrap();
        for command in ["serve", "check-config"] {
            let run =
                crate::strict_input::hookwatch(dir.path(), &[command, "--config", "f.toml"], &[]);
            assert_eq!(run.code, Some(2), "{command} {to}: {}", run.stderr);
            assert!(run.stderr.contains("`forward[0].to`"), "{}", run.stderr);
            assert!(run.stderr.contains(problem), "{}", run.stderr);
        }
    }
    for (extra, key) in [
        ("max_attempts = 0", "forward[0].max_attempts"),
        ("name = \"has space\"", "forward[0].name"),
        ("timeout_secs = 0", "forward[0].timeout_secs"),
        ("rate_per_sec = -1", "forward[0].rate_per_sec"),
        ("resign = true", "forward[0].resign"),
        ("filter = [\"/a=>1\"]", "forward[0].filter"),
        ("filter = [\"nothing\"]", "forward[0].filter"),
        ("surprise = 1", "surprise"),
    ] {
        let toml =
            format!("[[forward]]\nto = \"http://127.0.0.1:9/x\"\nsource = \"stripe\"\n{extra}\n");
        std::fs::write(dir.path().join("f.toml"), toml).unwrap();
        let run = crate::strict_input::hookwatch(
            dir.path(),
            &["check-config", "--config", "f.toml"],
            &[],
        );
        assert_eq!(run.code, Some(2), "{extra}: {}", run.stderr);
        assert!(run.stderr.contains(key), "{extra}: {}", run.stderr);
    }
    for (to, extra, key) in [
        (
            "nats://127.0.0.1:4222/s",
            "add_headers = { x = \"1\" }",
            "forward[0].add_headers",
        ),
        (
            "redis://127.0.0.1:6379/0?stream=s",
            "create_stream = true",
            "forward[0].create_stream",
        ),
        (
            "http://127.0.0.1:9/x",
            "create_stream = false",
            "forward[0].create_stream",
        ),
        (
            "amqp://127.0.0.1:5672/%2f?routing_key=k",
            "resign = true",
            "forward[0].resign",
        ),
    ] {
        std::fs::write(dir.path().join("f.toml"), forward_all(to, extra)).unwrap();
        let run = crate::strict_input::hookwatch(
            dir.path(),
            &["check-config", "--config", "f.toml"],
            &[],
        );
        assert_eq!(run.code, Some(2), "{extra}: {}", run.stderr);
        assert!(run.stderr.contains(key), "{extra}: {}", run.stderr);
    }
    let twice = format!(
        "{}{}",
        forward_all("http://127.0.0.1:9/a", ""),
        forward_all("http://127.0.0.1:9/b", "")
    );
    std::fs::write(dir.path().join("f.toml"), twice).unwrap();
    let run =
        crate::strict_input::hookwatch(dir.path(), &["check-config", "--config", "f.toml"], &[]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("`forward[1].name`"), "{}", run.stderr);
}

#[test]
fn check_config_shows_each_rule_with_its_defaults_and_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let toml = forward_all(
        "http://u:pw@127.0.0.1:9/x?token=t0k",
        "add_headers = { \"Authorization\" = \"Bearer b34rer\" }\ntype = \"charge.*\"",
    );
    std::fs::write(dir.path().join("f.toml"), toml).unwrap();
    let run = crate::strict_input::hookwatch(
        dir.path(),
        &["check-config", "--config", "f.toml", "--json"],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let shown: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        shown["forward"],
        json!([{
            "name": "app", "source": "*", "type": "charge.*",
            "to": "http://u:***@127.0.0.1:9/x?token=***",
            "timeout_secs": 10, "max_attempts": 12, "max_in_flight": 8, "resign": false,
            "add_headers": {"authorization": "(set, hidden)"}
        }])
    );
    assert!(!run.stdout.contains("pw@") && !run.stdout.contains("b34rer"));
}
