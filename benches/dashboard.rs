//! Dashboard benchmark (a report, not a pass/fail test), in real headless Chromium:
//!
//! 1. time to first render with many stored events: from navigation start until the first
//!    page of rows is in the DOM;
//! 2. live feed delay at 200 events/s: from sending each webhook until its row is in the DOM.
//!
//! Run: `cargo bench --bench dashboard` (release) or, to skip the release build,
//! `cargo bench --bench dashboard --profile dev`. `BENCH_EVENTS` sets how many events are
//! stored first (default 1,000,000; the database is the query benchmark's, loaded once and
//! kept in `target/bench/`).

#[path = "../tests/api/browser/mod.rs"]
#[allow(dead_code)]
mod browser;
mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hookwatch::app::{self, ServeOptions};
use hookwatch::config::{Overrides, Settings};
use serde_json::json;
use tokio::net::TcpListener;

/// Records when each row enters the list, on the page's own clock (epoch milliseconds).
const ROW_CLOCK: &str = "window.__seen = {}; new MutationObserver((records) => { \
    const at = performance.timeOrigin + performance.now(); \
    for (const r of records) for (const n of r.addedNodes) if (n.dataset && n.dataset.id) \
    window.__seen[n.dataset.id] ??= at; }).observe(document, {childList: true, subtree: true});";

fn now_ms() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
        * 1000.0
}

#[tokio::main]
async fn main() {
    let Some(browser) = browser::launch().await else {
        return;
    };
    let stored: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let seeded = support::seed::seeded_database(stored).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = support::seed::copy_database(&seeded, dir.path());
    let base = serve(&dir, &database).await;
    let client = reqwest::Client::new();

    let tab = browser.open("about:blank").await;
    tab.add_init_script(ROW_CLOCK).await;
    let started = Instant::now();
    tab.goto(&format!("{base}/")).await;
    tab.until(
        "the first page",
        "document.querySelectorAll('#events tr').length >= 100",
    )
    .await;
    let first: f64 = tab
        .eval("Math.min(...Object.values(window.__seen)) - performance.timeOrigin")
        .await;
    println!(
        "first render with {stored} stored events: {first:.0} ms after navigation start (target < 1000; wall {:.0} ms)",
        started.elapsed().as_secs_f64() * 1000.0
    );
    tab.until("the stream is live", "document.querySelector('#conn.live')")
        .await;

    let sent = live(&client, &base, 200, Duration::from_secs(5)).await;
    let last = sent.keys().max().copied().unwrap_or(0);
    tab.until(
        "every live row",
        &format!("window.__seen['{last}'] !== undefined"),
    )
    .await;
    let seen: HashMap<String, f64> = tab.eval("window.__seen").await;
    let mut delays: Vec<f64> = sent
        .iter()
        .filter_map(|(id, at)| seen.get(&id.to_string()).map(|s| s - at))
        .collect();
    delays.sort_by(f64::total_cmp);
    let pick = |q: f64| delays[((delays.len() as f64 - 1.0) * q) as usize];
    println!(
        "live delay at 200 events/s over 5 s ({} of {} rows seen): p50 {:.0} ms, p99 {:.0} ms (target < 500), max {:.0} ms",
        delays.len(),
        sent.len(),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    browser.close().await;
}

async fn serve(dir: &tempfile::TempDir, database: &std::path::Path) -> String {
    let overrides = Overrides {
        database: Some(format!("sqlite://{}", database.display())),
        config: Some(dir.path().join("hookwatch.toml")),
        ..Overrides::default()
    };
    std::fs::write(dir.path().join("hookwatch.toml"), "").expect("config");
    let settings = Settings::resolve(&overrides).expect("settings");
    let store = app::open_store(&settings).await.expect("store");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let options = ServeOptions::from_settings(settings, store);
    tokio::spawn(app::serve(listener, options, std::future::pending()));
    base
}

async fn post(client: &reqwest::Client, base: &str, n: usize) -> Option<i64> {
    let body =
        json!({"type": format!("bench.{}", n % 7), "n": n, "data": {"pad": "x".repeat(200)}});
    let source = ["stripe", "github", "shop", "billing"][n % 4];
    let response = client
        .post(format!("{base}/webhook/{source}"))
        .json(&body)
        .send()
        .await
        .ok()?;
    let answer: serde_json::Value = response.json().await.ok()?;
    answer["id"].as_i64()
}

/// Sends `rate` events a second for `length`; returns each stored id with its send time.
async fn live(
    client: &reqwest::Client,
    base: &str,
    rate: u64,
    length: Duration,
) -> HashMap<i64, f64> {
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let total = rate * length.as_secs();
    let mut tasks = Vec::new();
    for n in 0..total {
        tick.tick().await;
        let (client, base) = (client.clone(), base.to_string());
        tasks.push(tokio::spawn(async move {
            let at = now_ms();
            post(&client, &base, n as usize).await.map(|id| (id, at))
        }));
    }
    let mut sent = HashMap::new();
    for task in tasks {
        if let Ok(Some((id, at))) = task.await {
            sent.insert(id, at);
        }
    }
    sent
}
