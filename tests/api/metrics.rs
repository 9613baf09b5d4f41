//! `/metrics`: scraped and parsed with a Prometheus text parser after known requests, the way
//! a user checks the counts; behind the token; never a secret.

use hmac::{Hmac, KeyInit, Mac};
use prometheus_parse::{Scrape, Value};
use sha2::Sha256;

use crate::support::{Backend, TestApp, spawn_in, spawn_on};

const TOKEN: &str = "metrics-test-token";
const SECRET: &str = "gh-secret-never-shown";
const CONFIG: &str = "max_body_bytes = 64\n\
    [sources.gh]\nprovider = \"github\"\nsecrets = [\"gh-secret-never-shown\"]\n";

fn github_signature(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

async fn scrape_text(app: &TestApp) -> String {
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    response.text().await.expect("text")
}

async fn scrape(app: &TestApp) -> Scrape {
    let text = scrape_text(app).await;
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("a valid Prometheus scrape")
}

/// The value of the sample `name` whose labels include every pair of `labels`.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.last().map_or(0.0, |b| b.count),
            Value::Summary(_) => f64::NAN,
        })
}

/// One sample of a server started without a token, scraped now.
pub async fn metric(app: &TestApp, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = response.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    value(&scrape, name, labels)
}

fn webhooks(scrape: &Scrape, source: &str, outcome: &str) -> Option<f64> {
    let labels = [("source", source), ("outcome", outcome)];
    value(scrape, "hookwatch_webhooks_total", &labels)
}

const BODY: &[u8] = br#"{"zen":"Keep it logically awesome."}"#;

/// A GitHub `ping` to source `gh` with the given `X-Hub-Signature-256`; the status.
async fn send_github(app: &TestApp, delivery: &str, signature: Option<&str>) -> u16 {
    let mut headers = vec![
        ("x-github-event", "ping"),
        ("x-github-delivery", delivery),
        ("content-type", "application/json"),
    ];
    headers.extend(signature.map(|s| ("x-hub-signature-256", s)));
    app.post("gh", &headers, BODY.to_vec())
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_scrape_counts_the_deliveries_a_user_sent_by_source_and_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir, CONFIG, Some(TOKEN)).await;
    let good = github_signature(BODY);
    assert_eq!(send_github(&app, "d-1", Some(&good)).await, 200);
    assert_eq!(send_github(&app, "d-1", Some(&good)).await, 200); // a redelivery
    assert_eq!(send_github(&app, "d-2", Some("sha256=00")).await, 401);
    assert_eq!(send_github(&app, "d-3", None).await, 401);
    assert_eq!(app.post("misc", &[], "{}").await.status(), 200);
    assert_eq!(app.post("misc", &[], vec![b'x'; 65]).await.status(), 413);
    assert_eq!(app.post("bad%20name", &[], "{}").await.status(), 400);
    assert_eq!(app.post("a/b", &[], "{}").await.status(), 400);

    let scrape = scrape(&app).await;
    assert_eq!(webhooks(&scrape, "gh", "received"), Some(1.0));
    assert_eq!(webhooks(&scrape, "gh", "duplicate"), Some(1.0));
    assert_eq!(webhooks(&scrape, "gh", "rejected"), Some(2.0));
    assert_eq!(webhooks(&scrape, "gh", "unavailable"), Some(0.0));
    assert_eq!(webhooks(&scrape, "misc", "received"), Some(1.0));
    assert_eq!(webhooks(&scrape, "misc", "too_large"), Some(1.0));
    assert_eq!(webhooks(&scrape, "_invalid", "bad_request"), Some(2.0));
    let checks = |result| {
        let labels = [("source", "gh"), ("result", result)];
        value(&scrape, "hookwatch_signature_checks_total", &labels)
    };
    assert_eq!(checks("valid"), Some(2.0));
    assert_eq!(checks("invalid"), Some(1.0));
    assert_eq!(checks("missing"), Some(1.0));
    let sources_checked = scrape
        .samples
        .iter()
        .filter(|s| s.metric == "hookwatch_signature_checks_total")
        .all(|s| s.labels.get("source") == Some("gh"));
    assert!(
        sources_checked,
        "only a source with secrets checks signatures"
    );
    let requests = value(&scrape, "hookwatch_ingest_duration_seconds_count", &[]);
    assert_eq!(requests, Some(8.0));
    // Five records were stored (two received, two rejected, the redelivery's count).
    let batched = value(&scrape, "hookwatch_store_batch_size_sum", &[]).unwrap();
    assert!(batched >= 5.0, "batched {batched}");
    let commits = value(
        &scrape,
        "hookwatch_store_commit_duration_seconds_count",
        &[],
    );
    assert!(commits.unwrap() >= 1.0);
    let memory = value(&scrape, "process_resident_memory_bytes", &[]).unwrap();
    assert!(memory > 1_000_000.0, "resident memory {memory}");
    assert_eq!(
        value(&scrape, "hookwatch_stream_subscribers", &[]),
        Some(0.0)
    );
}

#[tokio::test]
async fn every_metric_is_described_before_it_counts_anything() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some(TOKEN)).await;
    let text = scrape_text(&app).await;
    for (name, kind) in [
        ("hookwatch_webhooks_total", "counter"),
        ("hookwatch_ingest_duration_seconds", "histogram"),
        ("hookwatch_store_commit_duration_seconds", "histogram"),
        ("hookwatch_store_batch_size", "histogram"),
        ("hookwatch_signature_checks_total", "counter"),
        ("hookwatch_forward_attempts_total", "counter"),
        ("hookwatch_forward_pending", "gauge"),
        ("hookwatch_enrichment_calls_total", "counter"),
        ("hookwatch_alerts_total", "counter"),
        ("hookwatch_sink_failures_total", "counter"),
        ("hookwatch_stream_subscribers", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
    ] {
        let line = format!("# TYPE {name} {kind}\n");
        assert_eq!(text.matches(&line).count(), 1, "{name} in:\n{text}");
    }
}

#[tokio::test]
async fn metrics_need_the_token_when_one_is_set() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some(TOKEN)).await;
    assert_eq!(app.get_status("/metrics").await, 401);
    let wrong = app.client.get(app.url("/metrics")).bearer_auth("nope");
    assert_eq!(wrong.send().await.unwrap().status(), 401);
    scrape(&app).await;
}

#[tokio::test]
async fn no_secret_or_token_appears_in_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let app = spawn_in(dir, CONFIG, Some(TOKEN)).await;
    send_github(&app, "d-1", Some(&github_signature(BODY))).await;
    send_github(&app, "d-2", Some(SECRET)).await;
    let text = scrape_text(&app).await;
    assert!(!text.contains(SECRET));
    assert!(!text.contains(TOKEN));
}

#[tokio::test]
async fn an_open_stream_counts_as_a_subscriber_until_it_closes() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some(TOKEN)).await;
    let stream = app
        .client
        .get(app.url("/api/stream"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let subscribers = |s: Scrape| value(&s, "hookwatch_stream_subscribers", &[]);
    assert_eq!(subscribers(scrape(&app).await), Some(1.0));
    drop(stream);
    crate::support::eventually("the stream to close", || async {
        subscribers(scrape(&app).await) == Some(0.0)
    })
    .await;
}

#[tokio::test]
async fn the_postgres_batch_writer_records_its_commits() {
    let Some(app) = spawn_on(Backend::Postgres, "").await else {
        return;
    };
    assert_eq!(app.post("pgsource", &[], "{}").await.status(), 200);
    let text = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = text.text().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
    let batched = value(&scrape, "hookwatch_store_batch_size_sum", &[]);
    assert_eq!(batched, Some(1.0));
    assert_eq!(webhooks(&scrape, "pgsource", "received"), Some(1.0));
}
