//! Query benchmark: the read API of the real `hookwatch serve` on SQLite and on PostgreSQL,
//! side by side on the same 1,000,000 events: p50/p99 per query for each store, the
//! PostgreSQL/SQLite ratio of both, and each server's peak memory.
//!
//! Run: `cargo bench --bench query` (`BENCH_EVENTS=N` to change the size). Both databases are
//! loaded once through the store, with the same generated events, and kept for later runs of
//! the same size: SQLite in `target/bench/query-<N>.db`, PostgreSQL as the database
//! `hookwatch_bench_query_<N>` on the server `HOOKWATCH_BENCH_PG` (a base URL such as
//! `postgres://me@127.0.0.1:5432`, default `postgres://postgres@127.0.0.1:5432`). When
//! PostgreSQL is unreachable only SQLite is measured. The stores are measured one after the
//! other, each with its own server, so neither competes with the other for the machine.
//!
//! The searches (`q`, `field`) are also shown as a ratio to the plain list of the same run.
//!
//! The time-window queries (`since=1h`, `since=24h`) see what was loaded in that window: the
//! run warns when the two databases were loaded far apart (delete or drop the older one).

mod support;

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use support::seed::{self, SOURCES, TYPES};
use support::{Hookwatch, percentile, postgres};

const SAMPLES: usize = 300;
/// Loads further apart than this make the time-window queries compare different rows.
const LOADED_APART: Duration = Duration::from_secs(600);

/// One read query: its label and the URLs to request, one per sample.
struct Query {
    name: &'static str,
    urls: Vec<String>,
}

/// `samples` URLs under `base`, the i-th with the path `path(i)`.
fn urls(base: &str, samples: usize, path: impl Fn(usize) -> String) -> Vec<String> {
    (0..samples).map(|i| format!("{base}{}", path(i))).collect()
}

/// The read queries, written once so every store answers the same list. `count` spreads the
/// ids of deep pages and single reads over the whole table.
fn queries(base: &str, count: u64) -> Vec<Query> {
    let n = SAMPLES;
    let ids = |i: usize| (i as u64 * 7_919 % count) as i64 + 1;
    let query = |name, urls| Query { name, urls };
    vec![
        query(
            "/api/events (newest 50)",
            urls(base, n, |_| "/api/events".into()),
        ),
        query(
            "/api/events?source&type (exact)",
            urls(base, n, |i| {
                format!(
                    "/api/events?source={}&type={}",
                    SOURCES[i % 5],
                    TYPES[(i * 3) % 10]
                )
            }),
        ),
        query(
            "/api/events?source&type=charge.*",
            urls(base, n, |i| {
                format!("/api/events?source={}&type=charge.*", SOURCES[i % 5])
            }),
        ),
        query(
            "/api/events?before=<deep> (limit 50)",
            urls(base, n, |i| {
                format!("/api/events?before={}", ids(i).max(100))
            }),
        ),
        query(
            "/api/events?source&before=<deep>",
            urls(base, n, |i| {
                format!("/api/events?source=github&before={}", ids(i).max(100))
            }),
        ),
        query(
            "/api/events?since=1h&type=push",
            urls(base, n, |_| "/api/events?since=1h&type=push".into()),
        ),
        query(
            "/api/events?error=true",
            urls(base, n, |_| "/api/events?error=true".into()),
        ),
        query(
            "/api/events?source=github&error=true",
            urls(base, n, |_| "/api/events?source=github&error=true".into()),
        ),
        query(
            "/api/events?q=<common word>",
            urls(base, n, |_| "/api/events?q=benchmark".into()),
        ),
        query(
            "/api/events?q=<rare word>",
            urls(base, n, |i| format!("/api/events?q={:012}", ids(i) - 1)),
        ),
        query(
            "/api/events?q=<common prefix>&source",
            urls(base, n, |i| {
                format!("/api/events?q=pad*&source={}", SOURCES[i % 5])
            }),
        ),
        query(
            "/api/events?field=<every event>",
            urls(base, n, |_| {
                "/api/events?field=/data/object/currency%3Dusd".into()
            }),
        ),
        query(
            "/api/events?field=amount>=1000&source=stripe",
            urls(base, n, |_| {
                "/api/events?field=/data/object/amount%3E%3D1000&source=stripe".into()
            }),
        ),
        query(
            "/api/events?field=<1 in 1000>",
            urls(base, n / 3, |_| {
                "/api/events?field=/data/object/amount%3E%3D9990".into()
            }),
        ),
        query(
            "/api/events/{id}",
            urls(base, n, |i| format!("/api/events/{}", ids(i))),
        ),
        query(
            "/api/stats?since=24h",
            urls(base, n / 3, |_| "/api/stats?since=24h".into()),
        ),
        query("/api/sources", urls(base, n / 3, |_| "/api/sources".into())),
    ]
}

/// p50 and p99 of one query, in milliseconds.
#[derive(Clone, Copy)]
struct Timing {
    p50: f64,
    p99: f64,
}

/// Requests each URL of `query` in turn (one at a time: latency, not throughput) and prints
/// its line.
async fn measure(client: &reqwest::Client, query: &Query) -> Timing {
    let mut samples = Vec::with_capacity(query.urls.len());
    for url in &query.urls {
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
    let timing = Timing {
        p50: percentile(&samples, 0.5),
        p99: percentile(&samples, 0.99),
    };
    println!(
        "{:<44} p50 {:>7.2} ms  p99 {:>7.2} ms  ({} requests)",
        query.name,
        timing.p50,
        timing.p99,
        samples.len()
    );
    timing
}

/// What one store's server measured.
struct StoreRun {
    timings: Vec<(&'static str, Timing)>,
    peak_rss_mib: f64,
    /// When the newest event was received: when the data was loaded.
    newest: Option<DateTime<Utc>>,
}

/// Starts `hookwatch serve` on `database`, measures every query, and prints the block under
/// `title` with the server's peak RSS.
async fn run_store(title: &str, database: &str, count: u64) -> StoreRun {
    let dir = tempfile::tempdir().unwrap();
    let server = Hookwatch::start(dir.path(), &["--database", database]).await;
    println!("\n== {title} ==");
    let client = reqwest::Client::new();
    let mut timings = Vec::new();
    for query in queries(&server.base, count) {
        timings.push((query.name, measure(&client, &query).await));
    }
    print_search_ratios(&timings);
    let peak_rss_mib = server.peak_rss_mib();
    println!("hookwatch peak RSS {peak_rss_mib:.1} MiB (target < 150)");
    let newest = newest_event(&client, &server.base).await;
    server.stop().await;
    StoreRun {
        timings,
        peak_rss_mib,
        newest,
    }
}

/// Each search's p50 and p99 over the plain newest-50 list of the same run (target: p99 of a
/// search ≤ 50 ms).
fn print_search_ratios(timings: &[(&'static str, Timing)]) {
    let Some((_, plain)) = timings.first() else {
        return;
    };
    for (name, timing) in timings {
        if name.contains("?q=") || name.contains("?field=") {
            println!(
                "{name:<44} p50 ×{:>6.1} p99 ×{:>6.1} of the plain list",
                timing.p50 / plain.p50,
                timing.p99 / plain.p99
            );
        }
    }
}

/// When the newest event was received, from the list API.
async fn newest_event(client: &reqwest::Client, base: &str) -> Option<DateTime<Utc>> {
    let url = format!("{base}/api/events?limit=1");
    let page: serde_json::Value = client.get(url).send().await.ok()?.json().await.ok()?;
    page["events"][0]["received_at"].as_str()?.parse().ok()
}

/// The PostgreSQL/SQLite ratio of each query's p50 and p99 (above 1: PostgreSQL is slower),
/// and both servers' peak RSS.
fn print_ratios(sqlite: &StoreRun, pg: &StoreRun) {
    println!("\n== PostgreSQL / SQLite (above 1: PostgreSQL slower) ==");
    for ((name, lite), (_, pg)) in sqlite.timings.iter().zip(&pg.timings) {
        println!(
            "{name:<44} p50 ×{:>5.2}          p99 ×{:>5.2}",
            pg.p50 / lite.p50,
            pg.p99 / lite.p99
        );
    }
    println!(
        "hookwatch peak RSS: SQLite {:.1} MiB, PostgreSQL {:.1} MiB (PostgreSQL's own processes not counted)",
        sqlite.peak_rss_mib, pg.peak_rss_mib
    );
}

/// Says so when the two databases were loaded far apart: the time-window queries would then
/// compare different rows.
fn warn_if_loaded_apart(sqlite: &StoreRun, pg: &StoreRun) {
    if let (Some(a), Some(b)) = (sqlite.newest, pg.newest) {
        let apart = (a - b).abs().to_std().unwrap_or_default();
        if apart > LOADED_APART {
            println!(
                "warning: the databases were loaded {} min apart, so `since=` queries see \
                 different rows; delete the older one to load it again",
                apart.as_secs() / 60
            );
        }
    }
}

/// `BENCH_EVENTS`, else 1,000,000.
fn event_count() -> u64 {
    std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let count = event_count();
    let sqlite_path = seed::seeded_database(count).await;
    let pg_url = postgres::seeded_database(count).await;
    let sqlite_url = format!("sqlite://{}", sqlite_path.display());
    let sqlite = run_store(&format!("SQLite, {count} events"), &sqlite_url, count).await;
    let Some(pg_url) = pg_url else { return };
    let pg = run_store(&format!("PostgreSQL, {count} events"), &pg_url, count).await;
    print_ratios(&sqlite, &pg);
    warn_if_loaded_apart(&sqlite, &pg);
}
