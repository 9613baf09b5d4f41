//! Metrics benchmark: how long a Prometheus scrape of `/metrics` takes with 1,000 configured
//! sources (half of them checking signatures) and 100 unconfigured ones that have sent
//! something, over HTTP from the release binary; and rendering alone, in-process.
//!
//! Run: `cargo bench --bench metrics`. Target: a scrape under 50 ms.

mod support;

use std::time::Instant;

use hookwatch::metrics::{Metrics, StoreMetrics};
use support::{Hookwatch, percentile};

const SOURCES: usize = 1000;
const UNCONFIGURED: usize = 100;
const SCRAPES: usize = 50;
const TOKEN: &str = "bench-metrics-token";

fn config() -> String {
    let mut toml = String::new();
    for n in 0..SOURCES {
        match n % 2 {
            0 => toml += &format!("[sources.s{n}]\nprovider = \"github\"\nsecrets = [\"k{n}\"]\n"),
            _ => toml += &format!("[sources.s{n}]\nprovider = \"stripe\"\n"),
        }
    }
    toml
}

fn report(what: &str, micros: &mut [u32]) {
    micros.sort_unstable();
    println!(
        "    {what}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (target < 50 ms)",
        percentile(micros, 0.50),
        percentile(micros, 0.99),
        percentile(micros, 1.0)
    );
}

async fn over_http() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hookwatch.toml"), config()).unwrap();
    let server = Hookwatch::start(dir.path(), &["--token", TOKEN]).await;
    let client = reqwest::Client::new();
    let post = |source: String| {
        let request = client.post(format!("{}/webhook/{source}", server.base));
        async move { request.body("{}").send().await.unwrap().status() }
    };
    for n in 0..SOURCES {
        post(format!("s{n}")).await;
    }
    for n in 0..UNCONFIGURED {
        post(format!("u{n}")).await;
    }
    let mut micros = Vec::with_capacity(SCRAPES);
    let mut size = 0;
    for _ in 0..SCRAPES {
        let started = Instant::now();
        let scrape = client
            .get(format!("{}/metrics", server.base))
            .bearer_auth(TOKEN);
        let text = scrape.send().await.unwrap().text().await.unwrap();
        micros.push(started.elapsed().as_micros() as u32);
        size = text.len();
    }
    println!(
        "  scrape over HTTP, {SOURCES} configured + {UNCONFIGURED} unconfigured sources, {} KiB:",
        size / 1024
    );
    report("GET /metrics", &mut micros);
    server.stop().await;
}

fn in_process() {
    let configured = (0..SOURCES)
        .map(|n| (format!("s{n}"), n % 2 == 0))
        .collect();
    let metrics = Metrics::new(&StoreMetrics::default(), configured);
    for n in 0..SOURCES {
        metrics.source(&format!("s{n}")).received.inc();
    }
    let mut micros: Vec<u32> = (0..SCRAPES)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(metrics.render());
            started.elapsed().as_micros() as u32
        })
        .collect();
    println!("  rendering in-process, {SOURCES} sources:");
    report("Metrics::render", &mut micros);
    let started = Instant::now();
    for _ in 0..1_000_000 {
        std::hint::black_box(metrics.source("s1")).received.inc();
    }
    let per = started.elapsed() / 1_000_000;
    println!("    a source's counters looked up and counted once: {per:?}");
}

#[tokio::main]
async fn main() {
    println!("metrics:");
    in_process();
    over_http().await;
}
