//! Ingest benchmark: the real `hookwatch serve` on SQLite against a no-op HTTP server built
//! here, with the same ~2 KB Stripe payload, 64 connections and the same duration, in one run.
//! Also: signature verification on for every request versus off, and 50 alert rules
//! configured versus none (alerts run off the feed, so ingest should not notice them).
//!
//! Run: `cargo bench --bench ingest` (`BENCH_SECS=N` to change the duration per run).

mod support;

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::*;

const CONCURRENCY: usize = 64;
const SECRET: &str = "whsec_bench_secret";

/// Every run sends the same signed requests, so the client does the same work in each and
/// only the server side differs (a source without a secret ignores the signature).
/// A ~2 KB Stripe event with a unique id per request (so none is a redelivery).
fn stripe_body(template: &str, n: u64) -> Vec<u8> {
    template
        .replacen(
            "evt_YaW1HPMKJVd7TyO6FGbiUSCT",
            &format!("evt_bench_{n:016}"),
            1,
        )
        .into_bytes()
}

fn payload_template() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/payloads/stripe/charge.failed.json"
    );
    let full: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // Compact JSON of the real fixture: about 2 KB, as Stripe's smaller events are.
    serde_json::to_string(&full).unwrap()
}

fn signed(template: Arc<String>) -> MakeRequest {
    Arc::new(move |n| {
        let body = stripe_body(&template, n);
        let t = chrono::Utc::now().timestamp();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&body);
        let signature = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
        (
            vec![
                ("content-type".into(), "application/json".into()),
                ("stripe-signature".into(), signature),
            ],
            body,
        )
    })
}

fn row(name: &str, r: &Report, reference: Option<&Report>) {
    let ratio = reference
        .map(|b| format!("{:.2}", r.rps() / b.rps()))
        .unwrap_or_else(|| "-".into());
    println!(
        "{name:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {:>5}  ratio {ratio}",
        r.rps(),
        r.p50_ms,
        r.p99_ms,
        r.errors
    );
}

async fn stored_total(base: &str) -> i64 {
    let stats: Value = reqwest::get(format!("{base}/api/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["total"].as_i64().unwrap()
}

/// 50 rules of every kind, half on `stripe` and half on every source, some with a type
/// filter, one that fires (so the claim and a sink run too) and the rest that only count.
fn fifty_rules() -> String {
    let kinds = ["burst", "errors", "signature_failures", "silence"];
    let mut config = String::from(
        "[[alerts.rules]]\nname = \"fires\"\nkind = \"burst\"\nthreshold = 100\nwindow_secs = 1\n\n\
         [[alerts.sinks]]\nkind = \"log\"\n\n",
    );
    for i in 1..50 {
        let kind = kinds[i % kinds.len()];
        config += &format!(
            "[[alerts.rules]]\nname = \"rule {i}\"\nkind = \"{kind}\"\nthreshold = 10000\nwindow_secs = 60\n"
        );
        if i % 2 == 0 {
            config += "source = \"stripe\"\n";
        }
        if i % 5 == 0 {
            config += "type = \"charge.*\"\n";
        }
        config += "\n";
    }
    config
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list
    }
    let duration = bench_duration();
    let template = Arc::new(payload_template());
    println!(
        "ingest benchmark: {} B payload, {CONCURRENCY} connections, {}s per run",
        template.len(),
        duration.as_secs()
    );

    let noop = start_noop_server();
    let reference = load(
        &format!("{noop}/webhook/stripe"),
        CONCURRENCY,
        duration,
        signed(template.clone()),
    )
    .await;
    row("(b) no-op server", &reference, None);

    let dir = tempfile::tempdir().unwrap();
    let server = Hookwatch::start(dir.path(), &[]).await;
    let plain = load(
        &format!("{}/webhook/stripe", server.base),
        CONCURRENCY,
        duration,
        signed(template.clone()),
    )
    .await;
    row(
        "(a) hookwatch, SQLite, unverified",
        &plain,
        Some(&reference),
    );
    let stored = stored_total(&server.base).await;
    println!(
        "    stored rows {stored} = 200s {}: {}",
        plain.ok,
        if stored == plain.ok as i64 {
            "yes"
        } else {
            "NO"
        }
    );
    println!("    peak RSS {:.1} MiB", server.peak_rss_mib());
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hookwatch.toml"), fifty_rules()).unwrap();
    let server = Hookwatch::start(dir.path(), &[]).await;
    let alerting = load(
        &format!("{}/webhook/stripe", server.base),
        CONCURRENCY,
        duration,
        signed(template.clone()),
    )
    .await;
    row(
        "(d) hookwatch, SQLite, 50 rules",
        &alerting,
        Some(&reference),
    );
    println!(
        "    50 rules / no rules: {:.3}",
        alerting.rps() / plain.rps()
    );
    println!("    peak RSS {:.1} MiB", server.peak_rss_mib());
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let config = format!("[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{SECRET}\"]\n");
    std::fs::write(dir.path().join("hookwatch.toml"), config).unwrap();
    let server = Hookwatch::start(dir.path(), &[]).await;
    let verified = load(
        &format!("{}/webhook/stripe", server.base),
        CONCURRENCY,
        duration,
        signed(template.clone()),
    )
    .await;
    row(
        "(c) hookwatch, SQLite, verified",
        &verified,
        Some(&reference),
    );
    println!(
        "    verification on / off: {:.3}",
        verified.rps() / plain.rps()
    );
    let stored = stored_total(&server.base).await;
    println!(
        "    stored rows {stored} = 200s {}: {}",
        verified.ok,
        if stored == verified.ok as i64 {
            "yes"
        } else {
            "NO"
        }
    );
    server.stop().await;
}
