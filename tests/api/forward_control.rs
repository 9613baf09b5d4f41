//! Forwarding under control: replay, pause and resume, the listings, a `kill -9` while
//! deliveries wait, and PostgreSQL (one instance, and two sharing the queue).

use std::time::Duration;

use serde_json::{Value, json};

use crate::forward::{attempts, forward_all, post_json, post_numbered, wait_json, wait_state};
use crate::forward_target::{Reply, Target, free_port};
use crate::support::*;

async fn post_api(app: &TestApp, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = app.client.post(app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn replay_sends_again_through_the_rules_or_to_a_given_url() {
    let target = Target::start(Reply::Status(200)).await;
    let elsewhere = Target::start(Reply::Status(202)).await;
    let app = spawn_app_with(&forward_all(&target.url("/a"), "")).await;
    let id = post_json(&app, "app", "{\"n\":1}").await;
    wait_state(&app, id, "delivered").await;

    let (status, answer) = post_api(&app, &format!("/api/events/{id}/replay"), None).await;
    assert_eq!(
        (status, answer),
        (202, json!({"queued": [{"target": "app"}]}))
    );
    let got = target.wait_for(2).await;
    assert_eq!(got[1].event_id(), id);
    assert_eq!(got[1].header("x-hookwatch-attempt"), Some("1"));

    let to = elsewhere.url("/b?token=s3cret");
    let (status, answer) = post_api(
        &app,
        &format!("/api/events/{id}/replay"),
        Some(json!({ "to": to })),
    )
    .await;
    assert_eq!(status, 202);
    let masked = elsewhere.url("/b?token=***");
    assert_eq!(answer, json!({"queued": [{"target": masked}]}));
    let other = elsewhere.wait_for(1).await;
    assert_eq!(other[0].body, b"{\"n\":1}");
    assert_eq!(other[0].uri, "/b?token=s3cret");
    let tried = wait_json(&app, &format!("/api/events/{id}/attempts"), |a| {
        a["attempts"].as_array().unwrap().len() == 3
    })
    .await;
    let replays: Vec<&Value> = tried["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["replay"])
        .collect();
    assert_eq!(replays, [&json!(false), &json!(true), &json!(true)]);
    let detail = app.get_json(&format!("/api/events/{id}")).await;
    assert!(!detail.to_string().contains("s3cret"), "{detail}");
}

#[tokio::test]
async fn replay_refuses_an_unknown_event_a_bad_to_and_an_event_no_rule_takes() {
    let target = Target::start(Reply::Status(200)).await;
    let toml = format!(
        "[[forward]]\nsource = \"shop\"\nto = \"{}\"\n",
        target.url("/")
    );
    let app = spawn_app_with(&toml).await;
    let id = post_json(&app, "other", "{}").await;
    let (status, answer) = post_api(&app, "/api/events/999/replay", None).await;
    assert_eq!(status, 404, "{answer}");
    let (status, answer) = post_api(&app, "/api/events/x/replay", None).await;
    assert_eq!(status, 400, "{answer}");
    let (status, answer) = post_api(&app, &format!("/api/events/{id}/replay"), None).await;
    assert_eq!(status, 409, "{answer}");
    let own = app.url("/webhook/other");
    for (body, problem) in [
        (json!({"to": own}), "loop"),
        (json!({"to": "ftp://x/y"}), "ftp"),
        (json!({"to": "nats://127.0.0.1:4222/x"}), "broker"),
        (json!({"to": "http://x/", "extra": 1}), "extra"),
    ] {
        let (status, answer) =
            post_api(&app, &format!("/api/events/{id}/replay"), Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(problem),
            "{answer}"
        );
    }
    let listed = app.get_json("/api/forwards").await;
    assert_eq!(listed["forwards"], json!([]), "nothing was queued");
}

#[tokio::test]
async fn a_paused_target_gets_nothing_until_it_is_resumed() {
    let held = Target::start(Reply::Status(200)).await;
    let open = Target::start(Reply::Status(200)).await;
    let toml = format!(
        "[[forward]]\nname = \"held\"\nsource = \"*\"\nto = \"{}\"\n\
         [[forward]]\nname = \"open\"\nsource = \"*\"\nto = \"{}\"\n",
        held.url("/h?key=k3y"),
        open.url("/o")
    );
    let app = spawn_app_with(&toml).await;
    let (status, answer) = post_api(&app, "/api/forwards/targets/held/pause", None).await;
    assert_eq!(
        (status, answer),
        (200, json!({"target": "held", "state": "paused"}))
    );
    let (status, _) = post_api(&app, "/api/forwards/targets/nope/pause", None).await;
    assert_eq!(status, 404);
    let id = post_json(&app, "app", "{}").await;
    open.wait_for(1).await;
    wait_json(&app, "/api/forwards?target=open", |f| {
        f["forwards"][0]["state"] == "delivered"
    })
    .await;
    assert!(held.received().is_empty());
    let tried = attempts(&app, id).await;
    assert_eq!(
        tried.len(),
        1,
        "no attempt is counted for the paused target"
    );
    let targets = app.get_json("/api/forwards/targets").await;
    let held_row = &targets["targets"][0];
    assert_eq!(held_row["name"], "held");
    assert_eq!(held_row["state"], "paused");
    assert_eq!(held_row["pending"], 1);
    assert_eq!(held_row["to"], held.url("/h?key=***"));
    let open_row = &targets["targets"][1];
    assert_eq!(
        (&open_row["state"], &open_row["delivered"]),
        (&json!("active"), &json!(1))
    );
    assert!(open_row["last_success_at"].is_string());

    let (status, answer) = post_api(&app, "/api/forwards/targets/held/resume", None).await;
    assert_eq!(
        (status, answer),
        (200, json!({"target": "held", "state": "active"}))
    );
    let got = held.wait_for(1).await;
    assert_eq!(got[0].event_id(), id);
}

#[tokio::test]
async fn the_forwards_listing_filters_pages_and_refuses_unknown_parameters() {
    let target = Target::start(Reply::Status(200)).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "")).await;
    for source in ["a", "b", "a"] {
        post_json(&app, source, "{}").await;
    }
    target.wait_for(3).await;
    wait_json(&app, "/api/forwards?state=delivered", |f| {
        f["forwards"].as_array().unwrap().len() == 3
    })
    .await;
    let page = app.get_json("/api/forwards?limit=2").await;
    let ids: Vec<&Value> = page["forwards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["event_id"])
        .collect();
    assert_eq!(ids, [&json!(3), &json!(2)]);
    let before = page["next_before"].as_i64().unwrap();
    let rest = app
        .get_json(&format!("/api/forwards?before={before}"))
        .await;
    assert_eq!(rest["forwards"].as_array().unwrap().len(), 1);
    assert_eq!(rest["next_before"], Value::Null);
    let a = app.get_json("/api/forwards?source=a&target=app").await;
    assert_eq!(a["forwards"].as_array().unwrap().len(), 2);
    let first = &a["forwards"][0];
    assert_eq!(first["source"], "a");
    assert_eq!(first["last_status"], 200);
    assert_eq!(first["last_error"], Value::Null);
    for query in ["state=lost", "limit=0", "before=x", "surprise=1"] {
        assert_eq!(
            app.get_status(&format!("/api/forwards?{query}")).await,
            400,
            "{query}"
        );
    }
    assert_eq!(app.get_status("/api/events/1/attempts?x=1").await, 400);
    assert_eq!(app.get_status("/api/events/99/attempts").await, 404);
}

#[tokio::test]
async fn deliveries_waiting_for_a_retry_survive_a_kill_9_and_all_arrive_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port().await;
    let to = format!("http://127.0.0.1:{port}/hooks");
    std::fs::write(
        dir.path().join("hookwatch.toml"),
        forward_all(&to, "max_attempts = 50"),
    )
    .unwrap();
    let mut server =
        crate::process::Server::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]).await;
    let ids = post_numbered(&server.base, 5).await;
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let listed: Value = client
            .get(format!("{}/api/forwards?state=pending", server.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let list = listed["forwards"].as_array().unwrap();
        if list.len() == 5 && list.iter().all(|d| d["attempts"].as_i64() >= Some(1)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{listed}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.signal("-KILL");
    server.wait().await;
    let target = Target::start_on(port, Reply::Status(200)).await;
    let _again = crate::process::Server::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]).await;
    let got = target.wait_for(5).await;
    let mut arrived: Vec<i64> = got.iter().map(|r| r.event_id()).collect();
    arrived.sort();
    arrived.dedup();
    assert_eq!(arrived, ids);
}

#[tokio::test]
async fn sigterm_waits_for_an_attempt_under_way_to_be_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(Reply::Slow(700)).await;
    let toml = forward_all(&target.url("/"), "");
    std::fs::write(dir.path().join("hookwatch.toml"), toml).unwrap();
    let args = ["--listen", "127.0.0.1:0"];
    let mut server = crate::process::Server::start(dir.path(), &args, &[]).await;
    let client = reqwest::Client::new();
    let answer: Value = client
        .post(format!("{}/webhook/app", server.base))
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = answer["id"].as_i64().unwrap();
    target.wait_for(1).await;
    server.signal("-TERM");
    assert!(server.wait().await.success());
    let again = crate::process::Server::start(dir.path(), &args, &[]).await;
    let event: Value = client
        .get(format!("{}/api/events/{id}", again.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(event["forwards"][0]["state"], "delivered", "{event}");
    assert_eq!(event["forwards"][0]["attempts"], 1);
    assert_eq!(target.received().len(), 1);
}

#[tokio::test]
async fn forwarding_works_the_same_on_postgresql() {
    let target = Target::start(Reply::Status(200)).await;
    target.then(&[Reply::Soon(503)]);
    let Some(app) = spawn_on(Backend::Postgres, &forward_all(&target.url("/p"), "")).await else {
        return;
    };
    let id = post_json(&app, "app", "{\"pg\":true}").await;
    let event = wait_state(&app, id, "delivered").await;
    assert_eq!(event["forwards"][0]["attempts"], 2);
    let got = target.wait_for(2).await;
    assert_eq!(got[1].body, b"{\"pg\":true}");
    let tried = attempts(&app, id).await;
    assert_eq!(tried[0]["status"], 503);
    let (status, _) = post_api(&app, &format!("/api/events/{id}/replay"), None).await;
    assert_eq!(status, 202);
    target.wait_for(3).await;
    let (status, _) = post_api(&app, "/api/forwards/targets/app/pause", None).await;
    assert_eq!(status, 200);
    let targets = app.get_json("/api/forwards/targets").await;
    assert_eq!(targets["targets"][0]["state"], "paused");
}

#[tokio::test]
async fn two_instances_on_one_postgresql_deliver_each_event_once() {
    let Some(db) = crate::pg::fresh_db().await else {
        return;
    };
    let target = Target::start(Reply::Status(200)).await;
    let toml = forward_all(&target.url("/"), "max_in_flight = 2");
    let one = spawn_at(tempfile::tempdir().unwrap(), &toml, None, &db.url).await;
    let two = spawn_at(tempfile::tempdir().unwrap(), &toml, None, &db.url).await;
    let mut ids = Vec::new();
    for n in 0..30 {
        let app = if n % 2 == 0 { &one } else { &two };
        ids.push(post_json(app, "app", &format!("{{\"n\":{n}}}")).await);
    }
    target.wait_for(30).await;
    wait_json(&one, "/api/forwards?state=delivered&limit=1000", |f| {
        f["forwards"].as_array().unwrap().len() == 30
    })
    .await;
    let listed = two.get_json("/api/forwards?limit=1000").await;
    let all = listed["forwards"].as_array().unwrap();
    assert_eq!(all.len(), 30);
    assert!(
        all.iter()
            .all(|d| d["attempts"] == 1 && d["state"] == "delivered")
    );
    let mut arrived: Vec<i64> = target.received().iter().map(|r| r.event_id()).collect();
    arrived.sort();
    ids.sort();
    assert_eq!(arrived, ids, "every event exactly once");
}
