//! Deliveries claimed ahead of their attempts: the limits still hold at the target, a pause
//! stops what was held, and a stop gives held deliveries back for the next start.

use serde_json::{Value, json};

use crate::forward::{forward_all, post_json, post_numbered, wait_json};
use crate::forward_target::{Reply, Target};
use crate::support::*;

async fn post_api(app: &TestApp, path: &str) -> u16 {
    let response = app.client.post(app.url(path)).send().await.unwrap();
    response.status().as_u16()
}

fn ids_once(got: &[crate::forward_target::Received]) -> Vec<i64> {
    let mut ids: Vec<i64> = got.iter().map(|r| r.event_id()).collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_target_never_has_more_than_max_in_flight_requests_open_however_many_are_claimed() {
    let target = Target::start(Reply::Slow(20)).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "max_in_flight = 3")).await;
    let mut ids = Vec::new();
    for n in 0..60 {
        ids.push(post_json(&app, "app", &format!("{{\"n\":{n}}}")).await);
    }
    let got = target.wait_for(60).await;
    assert_eq!(ids_once(&got), ids, "every event once");
    assert_eq!(
        target.most_at_once(),
        3,
        "the limit, reached and never passed"
    );
    wait_json(&app, "/api/forwards?state=delivered&limit=100", |f| {
        f["forwards"].as_array().unwrap().len() == 60
    })
    .await;
}

#[tokio::test]
async fn a_paused_target_gets_nothing_more_of_what_was_claimed_for_it() {
    let target = Target::start(Reply::Gated).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "max_in_flight = 1")).await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(post_json(&app, "app", &format!("{{\"n\":{n}}}")).await);
    }
    target.wait_for(1).await;
    assert_eq!(post_api(&app, "/api/forwards/targets/app/pause").await, 200);
    target.open();
    let targets = wait_json(&app, "/api/forwards/targets", |t| {
        t["targets"][0]["delivered"] == 1
    })
    .await;
    assert_eq!(targets["targets"][0]["pending"], 4, "{targets}");
    assert_eq!(target.received().len(), 1, "only the attempt under way");
    assert_eq!(
        post_api(&app, "/api/forwards/targets/app/resume").await,
        200
    );
    let got = target.wait_for(5).await;
    assert_eq!(ids_once(&got), ids);
    let listed: Value = wait_json(&app, "/api/forwards?state=delivered", |f| {
        f["forwards"].as_array().unwrap().len() == 5
    })
    .await;
    assert!(
        listed["forwards"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["attempts"] == json!(1))
    );
}

#[tokio::test]
async fn deliveries_held_at_a_stop_go_out_at_the_next_start_without_waiting_for_their_leases() {
    let dir = tempfile::tempdir().unwrap();
    let target = Target::start(Reply::Slow(300)).await;
    let toml = forward_all(&target.url("/"), "max_in_flight = 1");
    std::fs::write(dir.path().join("hookwatch.toml"), toml).unwrap();
    let args = ["--listen", "127.0.0.1:0"];
    let mut server = crate::process::Server::start(dir.path(), &args, &[]).await;
    let ids = post_numbered(&server.base, 5).await;
    target.wait_for(1).await;
    server.signal("-TERM");
    assert!(server.wait().await.success());
    let sent_before = target.received().len();
    assert!(sent_before < 5, "the stop came while deliveries were held");
    // Held leases last the timeout (10 s), 30 s and 15 s more: far past `wait_for`'s 30 s.
    let _again = crate::process::Server::start(dir.path(), &args, &[]).await;
    let got = target.wait_for(5).await;
    assert_eq!(ids_once(&got), ids, "each event once");
}

#[tokio::test]
async fn a_retry_goes_out_when_it_falls_due_not_at_the_next_idle_look() {
    let target = Target::start(Reply::Status(200)).await;
    target.then(&[Reply::Status(503)]);
    let app = spawn_app_with(&forward_all(&target.url("/"), "")).await;
    post_json(&app, "app", "{}").await;
    let got = target.wait_for(2).await;
    let gap = got[1].at - got[0].at;
    // The first retry waits 1 to 1.5 s; the worker's unasked look comes every 5 s.
    assert!(gap < std::time::Duration::from_secs(4), "{gap:?}");
}
