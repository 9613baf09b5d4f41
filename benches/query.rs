//! Query benchmark: load 1,000,000 events through the store, then measure the read API of the
//! real `hookwatch serve` on that database (p50/p99 per query) and the server's peak memory.
//!
//! Run: `cargo bench --bench query` (`BENCH_EVENTS=N` to change the size; the loaded database
//! is kept in `target/bench/` and reused by later runs of the same size).

mod support;

use std::time::Instant;

use support::seed::{self, SOURCES, TYPES};
use support::*;

const SAMPLES: usize = 300;

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

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let count: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let path = seed::seeded_database(count).await;
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
    let urls = |path: &str| (0..n).map(|_| format!("{base}{path}")).collect::<Vec<_>>();
    measure(
        &client,
        "/api/events?since=1h&type=push",
        urls("/api/events?since=1h&type=push"),
    )
    .await;
    measure(
        &client,
        "/api/events?error=true",
        urls("/api/events?error=true"),
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
