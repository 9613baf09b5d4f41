//! Enrichment end to end: the real app, and a local service (`fake`) that records requests.

mod config;
mod fake;
mod worker;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::metrics::metric;
use crate::support::*;
use fake::{KEY, KEY_VAR, Reply, service, set_key};

/// The `[enrichment]` table for SwiftSearch at `url`, plus extra lines.
fn swift(url: &str, extra: &str) -> String {
    set_key();
    format!(
        "[enrichment]\nkind = \"swiftsearch\"\nurl = \"{url}\"\napi_key_env = \"{KEY_VAR}\"\n\
         when_types = [\"*.failed\", \"error\"]\nmax_results = 2\n{extra}"
    )
}

/// Posts a JSON body to a source; returns the event id.
async fn post_json(app: &TestApp, source: &str, body: Value) -> i64 {
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

fn failed_charge(code: &str) -> Value {
    json!({"type": "charge.failed", "data": {"object": {"failure_code": code}}})
}

/// The event's enrichment once it is no longer missing or pending (10 s deadline).
async fn enrichment(app: &TestApp, id: i64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let detail = app.get_json(&format!("/api/events/{id}")).await;
        let found = &detail["enrichment"];
        if !found.is_null() && found.get("pending").is_none() {
            return found.clone();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("event {id} was never enriched");
}

fn expected_results() -> Value {
    json!([
        {"title": "Card declines", "url": "https://docs.stripe.com/declines"},
        {"title": "Decline codes", "url": "https://docs.stripe.com/declines/codes"},
    ])
}

#[tokio::test]
async fn a_failed_charge_is_enriched_with_the_exact_swiftsearch_request() {
    let service = service("/api/v1/swiftsearch", vec![]).await;
    let query = "query = \"{source} {event_type} {/data/object/failure_code} docs\"\n";
    let app = spawn_app_with(&swift(&service.url, query)).await;
    let id = post_json(&app, "stripe", failed_charge("card_declined")).await;
    let document = enrichment(&app, id).await;
    let seen = service.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "POST");
    assert_eq!(seen[0].path, "/api/v1/swiftsearch");
    assert_eq!(
        seen[0].authorization.as_deref(),
        Some(&*format!("Bearer {KEY}"))
    );
    assert_eq!(seen[0].content_type.as_deref(), Some("application/json"));
    let query = "stripe charge.failed card_declined docs";
    assert_eq!(
        seen[0].body,
        json!({"query": query, "max_results": 2, "auto_scrape_top": 0})
    );
    assert_eq!(document["query"], query);
    assert_eq!(document["results"], expected_results());
    let at = document["at"].as_str().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(at).is_ok(), "{at}");
    assert!(!document.to_string().contains(KEY));
}

#[tokio::test]
async fn only_matching_types_and_errors_are_enriched_and_rejected_events_never() {
    let service = service("/s", vec![]).await;
    let toml = format!(
        "[sources.signed]\nprovider = \"github\"\nsecrets = [\"s3cret\"]\n{}",
        swift(&service.url, "when_errors = true\ncache_secs = 0\n")
    );
    let app = spawn_app_with(&toml).await;
    let ok = post_json(&app, "shop", json!({"type": "charge.succeeded"})).await;
    let forged = app
        .post(
            "signed",
            &[
                ("x-github-event", "charge"),
                ("x-hub-signature-256", "sha256=00"),
            ],
            json!({"action": "failed"}).to_string(),
        )
        .await;
    assert_eq!(forged.status(), 401);
    let typed = post_json(&app, "shop", json!({"type": "error"})).await;
    let errored = post_json(&app, "shop", json!({"type": "order", "status": "failed"})).await;
    assert_eq!(enrichment(&app, typed).await["results"], expected_results());
    assert_eq!(
        enrichment(&app, errored).await["query"],
        "shop order troubleshooting documentation"
    );
    let events = app.get_json("/api/events?status=rejected").await;
    let forged_id = events["events"][0]["id"].as_i64().unwrap();
    for id in [ok, forged_id] {
        let detail = app.get_json(&format!("/api/events/{id}")).await;
        assert_eq!(detail["enrichment"], Value::Null, "event {id}");
    }
    assert_eq!(service.seen().len(), 2, "one call per enriched event");
}

#[tokio::test]
async fn identical_failures_cost_one_call() {
    let service = service("/s", vec![]).await;
    let app = spawn_app_with(&swift(&service.url, "")).await;
    let a = post_json(&app, "stripe", failed_charge("card_declined")).await;
    let b = post_json(&app, "stripe", failed_charge("card_declined")).await;
    let first = enrichment(&app, a).await;
    let second = enrichment(&app, b).await;
    assert_eq!(first["results"], second["results"]);
    assert_eq!(first["query"], second["query"]);
    assert_eq!(
        service.seen().len(),
        1,
        "the second answer came from the cache"
    );
    let calls = "hookwatch_enrichment_calls_total";
    assert_eq!(metric(&app, calls, &[("result", "ok")]).await, Some(1.0));
    assert_eq!(
        metric(&app, calls, &[("result", "cached")]).await,
        Some(1.0)
    );
}

#[tokio::test]
async fn after_the_daily_budget_events_get_the_budget_error() {
    let service = service("/s", vec![]).await;
    let app = spawn_app_with(&swift(
        &service.url,
        "max_calls_per_day = 1\ncache_secs = 0\n",
    ))
    .await;
    let a = post_json(&app, "stripe", failed_charge("a")).await;
    let b = post_json(&app, "stripe", failed_charge("b")).await;
    assert_eq!(enrichment(&app, a).await["results"], expected_results());
    let paused = enrichment(&app, b).await;
    assert_eq!(paused["error"], "daily budget of 1 calls used");
    assert_eq!(
        paused["query"],
        "stripe charge.failed troubleshooting documentation"
    );
    assert!(paused["at"].is_string());
    assert_eq!(service.seen().len(), 1);
    let labels = [("result", "budget_exhausted")];
    let exhausted = metric(&app, "hookwatch_enrichment_calls_total", &labels).await;
    assert_eq!(exhausted, Some(1.0));
}

#[tokio::test]
async fn a_429_with_retry_after_is_retried_after_the_wait_and_then_succeeds() {
    let script = vec![Reply::Status(429, Some("1"), "slow down")];
    let service = service("/s", script).await;
    let app = spawn_app_with(&swift(&service.url, "")).await;
    let id = post_json(&app, "stripe", failed_charge("x")).await;
    assert_eq!(enrichment(&app, id).await["results"], expected_results());
    let seen = service.seen();
    assert_eq!(seen.len(), 2);
    let waited = seen[1].at - seen[0].at;
    assert!(waited >= Duration::from_millis(950), "waited {waited:?}");
}

#[tokio::test]
async fn a_500_is_retried_and_then_succeeds() {
    let service = service("/s", vec![Reply::Status(500, None, "oops")]).await;
    let app = spawn_app_with(&swift(&service.url, "")).await;
    let id = post_json(&app, "stripe", failed_charge("x")).await;
    assert_eq!(enrichment(&app, id).await["results"], expected_results());
    assert_eq!(service.seen().len(), 2);
}

#[tokio::test]
async fn repeated_500s_give_up_after_three_attempts_and_store_the_error() {
    let script = vec![Reply::Status(503, Some("0"), ""); 3];
    let service = service("/s", script).await;
    let app = spawn_app_with(&swift(&service.url, "")).await;
    let id = post_json(&app, "stripe", failed_charge("x")).await;
    let document = enrichment(&app, id).await;
    assert!(
        document["error"].as_str().unwrap().contains("HTTP 503"),
        "{document}"
    );
    assert_eq!(service.seen().len(), 3);
}

#[tokio::test]
async fn a_hanging_service_hits_the_timeout_and_the_error_is_stored() {
    let service = service("/s", vec![Reply::Hang]).await;
    let app = spawn_app_with(&swift(&service.url, "timeout_secs = 1\n")).await;
    let id = post_json(&app, "stripe", failed_charge("x")).await;
    let document = enrichment(&app, id).await;
    let error = document["error"].as_str().unwrap();
    assert!(error.contains("within 1 s"), "{error}");
    assert_eq!(service.seen().len(), 1, "a timeout is not retried");
}

#[tokio::test]
async fn ingest_answers_well_before_a_slow_enricher_finishes() {
    let service = service("/s", vec![Reply::Slow(Duration::from_secs(2))]).await;
    let app = spawn_app_with(&swift(&service.url, "")).await;
    let started = Instant::now();
    let id = post_json(&app, "stripe", failed_charge("x")).await;
    let answered = started.elapsed();
    assert!(
        answered < Duration::from_millis(1000),
        "ingest took {answered:?}"
    );
    eventually("the event is claimed while the call runs", || async {
        let detail = app.get_json(&format!("/api/events/{id}")).await;
        detail["enrichment"] == json!({"pending": true})
    })
    .await;
    assert_eq!(enrichment(&app, id).await["results"], expected_results());
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test]
async fn the_http_kind_posts_the_event_and_stores_the_answer() {
    let script = vec![Reply::Answer(
        json!({"owner": "payments-team", "runbook": "https://wiki/x"}),
    )];
    let service = service("/lookup", script).await;
    let toml = format!(
        "[enrichment]\nkind = \"http\"\nurl = \"{}\"\nwhen_types = [\"charge.*\"]\ninclude_body = true\n\
         query = \"{{/data/object/failure_code}}\"\n",
        service.url
    );
    let app = spawn_app_with(&toml).await;
    let id = post_json(&app, "stripe", failed_charge("card_declined")).await;
    let document = enrichment(&app, id).await;
    assert_eq!(document["kind"], "http");
    assert_eq!(document["query"], "card_declined");
    assert_eq!(
        document["result"],
        json!({"owner": "payments-team", "runbook": "https://wiki/x"})
    );
    let seen = service.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/lookup");
    assert_eq!(seen[0].authorization, None, "no key configured, none sent");
    let sent = &seen[0].body;
    assert_eq!(sent["query"], "card_declined");
    assert_eq!(sent["event"]["id"], id);
    assert_eq!(sent["event"]["event_type"], "charge.failed");
    assert_eq!(sent["event"]["body"], failed_charge("card_declined"));
    assert!(
        sent["event"].get("headers").is_none(),
        "headers are never sent"
    );
}

#[tokio::test]
async fn post_enrich_reruns_on_demand_behind_the_token() {
    let service = service("/s", vec![]).await;
    let toml = format!(
        "[enrichment]\nkind = \"swiftsearch\"\nurl = \"{}\"\napi_key_env = \"{KEY_VAR}\"\n",
        service.url
    );
    set_key();
    let app = spawn_in(tempfile::tempdir().unwrap(), &toml, Some("tok")).await;
    let response = app
        .post(
            "stripe",
            &[("content-type", "application/json")],
            failed_charge("x").to_string(),
        )
        .await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let url = app.url(&format!("/api/events/{id}/enrich"));
    let anonymous = app.client.post(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    assert_eq!(
        service.seen().len(),
        0,
        "no when_types: nothing runs unasked"
    );
    let response = app
        .client
        .post(&url)
        .bearer_auth("tok")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let document: Value = response.json().await.unwrap();
    assert_eq!(document["results"].as_array().unwrap().len(), 3);
    let detail: Value = app
        .client
        .get(app.url(&format!("/api/events/{id}")))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(detail["enrichment"], document);
    let missing = app
        .client
        .post(app.url("/api/events/999999/enrich"))
        .bearer_auth("tok")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(service.seen().len(), 1);
}

#[tokio::test]
async fn post_enrich_without_enrichment_configured_is_a_conflict() {
    let app = spawn_app().await;
    let id = post_json(&app, "s", json!({"type": "x"})).await;
    let response = app
        .client
        .post(app.url(&format!("/api/events/{id}/enrich")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "enrichment_not_configured");
}

#[tokio::test]
async fn the_key_never_reaches_a_stored_error_even_when_the_service_echoes_it() {
    let echo: &'static str = Box::leak(format!("invalid key Bearer {KEY}").into_boxed_str());
    let service = service("/s", vec![Reply::Status(401, None, echo)]).await;
    let app = spawn_app_with(&swift(&service.url, "")).await;
    let id = post_json(&app, "stripe", failed_charge("x")).await;
    let document = enrichment(&app, id).await;
    let error = document["error"].as_str().unwrap();
    assert!(
        error.contains("HTTP 401") && error.contains("[redacted]"),
        "{error}"
    );
    let detail = app.get_json(&format!("/api/events/{id}")).await;
    assert!(!detail.to_string().contains(KEY));
}

#[tokio::test]
async fn with_two_instances_on_postgresql_each_event_is_enriched_once() {
    let Some(db) = crate::pg::fresh_db().await else {
        return;
    };
    let service = service("/search", Vec::new()).await;
    // The query reads the body: an instance that enriches an event another instance stored
    // (its feed carries only a summary) must read the body from the database.
    let extra = "cache_secs = 0\nquery = \"{source} {/data/object/failure_code}\"\n";
    let toml = swift(&service.url, extra);
    let a = spawn_at(tempfile::tempdir().unwrap(), &toml, None, &db.url).await;
    let b = spawn_at(tempfile::tempdir().unwrap(), &toml, None, &db.url).await;
    let mut ids = Vec::new();
    for n in 0..6 {
        let app = if n % 2 == 0 { &a } else { &b };
        ids.push(post_json(app, "stripe", failed_charge(&format!("code_{n}"))).await);
    }
    for (n, id) in ids.iter().enumerate() {
        let found = enrichment(&a, *id).await;
        assert_eq!(found["results"], expected_results(), "{found}");
        assert_eq!(found["query"], format!("stripe code_{n}"), "{found}");
    }
    // Both instances saw every event on their feeds; the claim let only one call out.
    assert_eq!(
        service.seen().len(),
        ids.len(),
        "one call per event across the cluster"
    );
}

/// Makes an event's enrichment look like the claim of a process killed mid-call: pending,
/// with a lease that ran out long ago.
const DEAD_CLAIM: &str =
    "UPDATE events SET enrichment = '{\"pending\":true}', enrichment_lease = 1 WHERE id = ";

#[tokio::test]
async fn a_claim_left_by_a_dead_instance_is_taken_over_by_a_living_one() {
    let Some(db) = crate::pg::fresh_db().await else {
        return;
    };
    let service = service("/search", Vec::new()).await;
    let plain = spawn_at(tempfile::tempdir().unwrap(), "", None, &db.url).await;
    let id = post_json(&plain, "stripe", failed_charge("code_dead")).await;
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    client
        .batch_execute(&format!("{DEAD_CLAIM}{id}"))
        .await
        .expect("fake a dead claim");
    // An instance that enriches finds the expired claim when it starts, and does the work.
    let toml = swift(
        &service.url,
        "query = \"{source} {/data/object/failure_code}\"\n",
    );
    let living = spawn_at(tempfile::tempdir().unwrap(), &toml, None, &db.url).await;
    let found = enrichment(&living, id).await;
    assert_eq!(found["query"], "stripe code_dead", "{found}");
    assert_eq!(found["results"], expected_results(), "{found}");
    assert_eq!(service.seen().len(), 1);
}

#[tokio::test]
async fn a_claim_left_when_hookwatch_was_killed_is_finished_after_a_restart() {
    let service = service("/search", Vec::new()).await;
    let toml = swift(&service.url, "");
    let app = spawn_app_with("").await;
    let id = post_json(&app, "stripe", failed_charge("x")).await;
    let dir = app.stop().await;
    let db = rusqlite::Connection::open(dir.path().join("hookwatch.db")).expect("open");
    db.execute_batch(&format!("{DEAD_CLAIM}{id}"))
        .expect("fake a dead claim");
    drop(db);
    let app = spawn_in(dir, &toml, None).await;
    assert_eq!(enrichment(&app, id).await["results"], expected_results());
}
