//! Query benchmark: load 1,000,000 events through the store, then measure the read API of the
//! real `hookwatch serve` on that database (p50/p99 per query) and the server's peak memory.
//!
//! Run: `cargo bench --bench query` (`BENCH_EVENTS=N` to change the size; the loaded database
//! is kept in `target/bench/` and reused by later runs of the same size).

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use hookwatch::model::{NewEvent, Provider, Signature, Status};
use hookwatch::store::Store;
use hookwatch::store::sqlite::SqliteStore;
use support::*;

const SOURCES: [&str; 5] = ["stripe", "github", "slack", "shopify", "generic"];
const TYPES: [&str; 10] = [
    "charge.failed",
    "charge.succeeded",
    "invoice.paid",
    "push",
    "pull_request.opened",
    "message",
    "orders/create",
    "customer.created",
    "payment_intent.payment_failed",
    "ping",
];
const SAMPLES: usize = 300;

fn event(n: u64) -> NewEvent {
    let source = SOURCES[(n % 5) as usize];
    let event_type = TYPES[((n / 5) % 10) as usize];
    let body = format!(
        "{{\"id\":\"evt_{n:012}\",\"type\":\"{event_type}\",\"data\":{{\"object\":{{\"amount\":{},\"currency\":\"usd\",\"description\":\"benchmark event number {n} with some padding to look like a real payload\"}}}}}}",
        n % 10_000
    );
    NewEvent {
        source: source.into(),
        received_at: Utc::now(),
        method: "POST".into(),
        path: format!("/webhook/{source}"),
        query: String::new(),
        remote_addr: "127.0.0.1".into(),
        content_type: Some("application/json".into()),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "bench/1.0".into()),
        ],
        body: body.into_bytes(),
        provider: Provider::Generic,
        event_type: Some(event_type.into()),
        delivery_id: Some(format!("evt_{n:012}")),
        signature: Signature::Unverified,
        signature_reason: None,
        signature_failure: false,
        status: Status::Received,
        is_error: event_type.ends_with("failed"),
    }
}

/// Loads `count` events with many inserts in flight, so group commit batches them.
async fn populate(path: &Path, count: u64) {
    let store = Store::Sqlite(SqliteStore::open(path).unwrap());
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..512 {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    break;
                }
                store.insert(event(n)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    println!(
        "loaded {count} events in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

async fn measure(client: &reqwest::Client, name: &str, urls: Vec<String>) {
    let mut samples = Vec::with_capacity(urls.len());
    for url in &urls {
        let started = Instant::now();
        let response = client.get(url).send().await.unwrap();
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let _ = response.bytes().await.unwrap();
        samples.push(started.elapsed().as_micros() as u32);
    }
    samples.sort_unstable();
    println!(
        "{name:<44} p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests)",
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        samples.len()
    );
}

fn database_path(count: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("query-{count}.db"))
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let count: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let path = database_path(count);
    if !path.exists() {
        populate(&path, count).await;
    } else {
        println!("reusing {} ({count} events)", path.display());
    }
    let db = format!("sqlite://{}", path.display());
    let dir = tempfile::tempdir().unwrap();
    let server = Hookwatch::start(dir.path(), &["--database", &db]).await;
    let base = &server.base;
    let client = reqwest::Client::new();
    let n = SAMPLES;
    let ids = |i: usize| (i as u64 * 7_919 % count) as i64 + 1;
    measure(
        &client,
        "/api/events (newest 50)",
        (0..n).map(|_| format!("{base}/api/events")).collect(),
    )
    .await;
    measure(
        &client,
        "/api/events?source&type (exact)",
        (0..n)
            .map(|i| {
                format!(
                    "{base}/api/events?source={}&type={}",
                    SOURCES[i % 5],
                    TYPES[(i * 3) % 10]
                )
            })
            .collect(),
    )
    .await;
    measure(
        &client,
        "/api/events?source&type=charge.*",
        (0..n)
            .map(|i| format!("{base}/api/events?source={}&type=charge.*", SOURCES[i % 5]))
            .collect(),
    )
    .await;
    measure(
        &client,
        "/api/events?before=<deep> (limit 50)",
        (0..n)
            .map(|i| format!("{base}/api/events?before={}", ids(i).max(100)))
            .collect(),
    )
    .await;
    measure(
        &client,
        "/api/events?source&before=<deep>",
        (0..n)
            .map(|i| format!("{base}/api/events?source=github&before={}", ids(i).max(100)))
            .collect(),
    )
    .await;
    measure(
        &client,
        "/api/events/{id}",
        (0..n)
            .map(|i| format!("{base}/api/events/{}", ids(i)))
            .collect(),
    )
    .await;
    measure(
        &client,
        "/api/stats?since=24h",
        (0..n / 3)
            .map(|_| format!("{base}/api/stats?since=24h"))
            .collect(),
    )
    .await;
    measure(
        &client,
        "/api/sources",
        (0..n / 3).map(|_| format!("{base}/api/sources")).collect(),
    )
    .await;
    println!(
        "server peak RSS {:.1} MiB (target < 150)",
        server.peak_rss_mib()
    );
    server.stop().await;
}
