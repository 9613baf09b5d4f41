//! Key API scenarios run through the live server on both backends (`case::on_sqlite`,
//! `case::on_postgres`): what a sender and a dashboard see must not depend on the store.

use std::time::Duration;

use serde_json::Value;

use crate::sse::SseReader;
use crate::support::*;

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use crate::support::Backend;

            #[tokio::test]
            async fn on_sqlite() {
                super::$case(Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                super::$case(Backend::Postgres).await;
            }
        }
    )*};
}

on_both_backends!(
    every_fixture_round_trips_with_its_facts_and_exact_bytes,
    a_redelivery_is_answered_duplicate_and_counted,
    the_stream_delivers_new_events_and_resumes_after_last_event_id,
    filters_stats_and_sources_answer_alike,
    everything_stored_is_still_there_after_a_restart,
);

async fn every_fixture_round_trips_with_its_facts_and_exact_bytes(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let fixtures = all_fixtures();
    for (n, fixture) in fixtures.iter().enumerate() {
        let source = format!("src{n}");
        let (status, answer) = app.post_fixture(&source, fixture).await;
        assert_eq!(status, 200, "{}: {answer}", fixture.name);
        let listed = app.get_json(&format!("/api/events?source={source}")).await;
        let id = listed["events"][0]["id"].as_i64().expect("id");
        let event = app.get_json(&format!("/api/events/{id}")).await;
        for key in ["provider", "event_type", "delivery_id"] {
            assert_eq!(event[key], fixture.expect[key], "{} {key}", fixture.name);
        }
        let raw = app
            .client
            .get(app.url(&format!("/api/events/{id}/raw")))
            .send()
            .await;
        let raw = raw.expect("raw").bytes().await.expect("bytes");
        assert_eq!(raw.as_ref(), fixture.body.as_slice(), "{}", fixture.name);
    }
    let listed = app.get_json("/api/events?limit=1000").await;
    assert_eq!(
        listed["events"].as_array().map(Vec::len),
        Some(fixtures.len())
    );
}

async fn a_redelivery_is_answered_duplicate_and_counted(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let first = fixture("payloads/slack/event_callback.message.json");
    let retry = fixture("payloads/slack/event_callback.message.retry.json");
    let (_, original) = app.post_fixture("slack", &first).await;
    let (status, again) = app.post_fixture("slack", &retry).await;
    assert_eq!((status, &again["status"]), (200, &Value::from("duplicate")));
    assert_eq!(again["id"], original["id"]);
    let event = app
        .get_json(&format!("/api/events/{}", original["id"]))
        .await;
    assert_eq!(event["duplicates"], 1);
    let stats = app.get_json("/api/stats").await;
    assert_eq!(
        (stats["total"].as_i64(), stats["duplicates"].as_i64()),
        (Some(1), Some(1))
    );
}

async fn post_numbered(app: &TestApp, source: &str, n: usize) -> i64 {
    let body = format!(r#"{{"type":"order.created","n":{n}}}"#);
    let response = app
        .post(source, &[("content-type", "application/json")], body)
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.expect("json");
    answer["id"].as_i64().expect("id")
}

async fn the_stream_delivers_new_events_and_resumes_after_last_event_id(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    let stream_url = app.url("/api/stream?source=shop");
    let mut live = SseReader::open(&app.client, &stream_url, None).await;
    let mut posted = Vec::new();
    for n in 0..5 {
        posted.push(post_numbered(&app, "shop", n).await);
        post_numbered(&app, "other", n).await;
    }
    let seen = live.next_ids(5, Duration::from_secs(5)).await;
    assert_eq!(seen, posted, "live events in order, filtered by source");
    let mut resumed = SseReader::open(&app.client, &stream_url, Some(posted[1])).await;
    let backlog = resumed.next_ids(3, Duration::from_secs(5)).await;
    assert_eq!(backlog, posted[2..].to_vec(), "resumes after Last-Event-ID");
    let next = post_numbered(&app, "shop", 99).await;
    assert_eq!(resumed.next_id(Duration::from_secs(5)).await, Some(next));
    assert_eq!(live.next_id(Duration::from_secs(5)).await, Some(next));
}

async fn filters_stats_and_sources_answer_alike(backend: Backend) {
    let Some(app) = spawn_on(backend, "").await else {
        return;
    };
    for f in ["charge.failed", "charge.succeeded", "invoice.paid"] {
        app.post_fixture("stripe", &fixture(&format!("payloads/stripe/{f}.json")))
            .await;
    }
    let prefix = app.get_json("/api/events?type=charge.*").await;
    assert_eq!(prefix["events"].as_array().map(Vec::len), Some(2));
    let errors = app.get_json("/api/events?error=true&since=1h").await;
    assert_eq!(errors["events"][0]["event_type"], "charge.failed");
    let page = app.get_json("/api/events?limit=2").await;
    let before = page["next_before"].as_i64().expect("a next page");
    let rest = app
        .get_json(&format!("/api/events?limit=2&before={before}"))
        .await;
    assert_eq!(rest["events"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest["next_before"], Value::Null);
    let stats = app.get_json("/api/stats?since=1h").await;
    assert_eq!(stats["total"], 3);
    assert_eq!(stats["by_source"]["stripe"], 3);
    assert_eq!(stats["errors"], 1);
    let sources = app.get_json("/api/sources").await;
    assert_eq!(sources["sources"][0]["count"], 3);
    assert_eq!(app.get_status("/healthz").await, 200);
}

async fn everything_stored_is_still_there_after_a_restart(backend: Backend) {
    let Some(mut app) = spawn_on(backend, "").await else {
        return;
    };
    for f in all_fixtures().iter().take(10) {
        app.post_fixture("restart", f).await;
    }
    let before = app.get_json("/api/events?limit=1000").await;
    let (database, pg) = (app.database.clone(), app.pg.take());
    let dir = app.stop().await;
    let app = spawn_at(dir, "", None, &database).await;
    let after = app.get_json("/api/events?limit=1000").await;
    assert_eq!(before, after);
    assert_eq!(after["events"].as_array().map(Vec::len), Some(10));
    drop(pg);
}
