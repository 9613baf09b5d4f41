//! The `forward_failures` alert through the live server: a target that answers `500` until
//! its deliveries die fires the alert at a webhook sink, and its next delivered one resolves
//! it, on SQLite and on PostgreSQL.

use crate::alert_support::{Answer, start_receiver};
use crate::forward::{forward_all, post_json, wait_state};
use crate::forward_target::{Reply, Target};
use crate::support::*;

#[tokio::test]
async fn a_failing_target_fires_the_alert_and_its_next_delivery_resolves_it() {
    fires_then_resolves(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_forward_failures_alert_works_the_same_on_postgresql() {
    fires_then_resolves(Backend::Postgres).await;
}

async fn fires_then_resolves(backend: Backend) {
    let sink = start_receiver(Answer::Ok).await;
    let target = Target::start(Reply::Status(200)).await;
    target.then(&[Reply::Soon(500), Reply::Soon(500)]);
    let config = format!(
        "{}\n[[alerts.rules]]\nname = \"app down\"\nkind = \"forward_failures\"\n\
         target = \"app\"\nthreshold = 2\nwindow_secs = 60\ncooldown_secs = 0\n\n\
         [[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\n",
        forward_all(&target.url("/in"), "max_attempts = 2"),
        sink.url("/hook"),
    );
    let Some(app) = spawn_on(backend, &config).await else {
        return;
    };
    let failing = post_json(&app, "shop", "{\"n\":1}").await;
    wait_state(&app, failing, "dead").await;
    eventually("the firing alert at the sink", || async {
        !sink.bodies("/hook").is_empty()
    })
    .await;
    let fired = &sink.bodies("/hook")[0]["alert"];
    assert_eq!(fired["rule"], "app down");
    assert_eq!(fired["kind"], "forward_failures");
    assert_eq!(fired["source"], "app");
    assert_eq!(fired["state"], "firing");
    assert_eq!(fired["count"], 2);
    assert_eq!(
        fired["sample_event_ids"],
        serde_json::json!([failing, failing])
    );

    let delivered = post_json(&app, "shop", "{\"n\":2}").await;
    wait_state(&app, delivered, "delivered").await;
    eventually("the resolution at the sink", || async {
        sink.bodies("/hook").len() >= 2
    })
    .await;
    let bodies = sink.bodies("/hook");
    assert_eq!(bodies.len(), 2, "{bodies:?}");
    assert_eq!(bodies[1]["alert"]["state"], "resolved");
    assert_eq!(bodies[1]["alert"]["source"], "app");
    let stored = app.get_json("/api/alerts").await;
    let states: Vec<&str> = stored["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["resolved", "firing"]);
}
