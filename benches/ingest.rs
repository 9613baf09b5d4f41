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

/// Alerts off versus 50 rules: both servers run side by side and take turns, three rounds
/// each, so a change in the machine's load during the run hits both alike.
async fn rules_versus_none(duration: std::time::Duration, template: Arc<String>) {
    let plain_dir = tempfile::tempdir().unwrap();
    let rules_dir = tempfile::tempdir().unwrap();
    std::fs::write(rules_dir.path().join("hookwatch.toml"), fifty_rules()).unwrap();
    let servers = [
        Hookwatch::start(plain_dir.path(), &[]).await,
        Hookwatch::start(rules_dir.path(), &[]).await,
    ];
    let mut totals = [(0usize, 0f64, Vec::new()), (0, 0.0, Vec::new())];
    let mut cpu = [0f64; 2];
    for _round in 0..3 {
        for ((server, total), cpu) in servers.iter().zip(totals.iter_mut()).zip(cpu.iter_mut()) {
            let url = format!("{}/webhook/stripe", server.base);
            let pid = server.child.id().unwrap();
            let before = cpu_seconds(pid);
            let r = load(&url, CONCURRENCY, duration / 3, signed(template.clone())).await;
            *cpu += cpu_seconds(pid) - before;
            total.0 += r.ok;
            total.1 += r.seconds;
            total.2.push(r.rps());
        }
    }
    let rps = |t: &(usize, f64, Vec<f64>)| t.0 as f64 / t.1;
    for (name, total) in ["(d) no rules, interleaved", "(d) 50 rules, interleaved"]
        .iter()
        .zip(&totals)
    {
        let rounds: Vec<String> = total.2.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{name:<34} {:>9.0} req/s  rounds {}",
            rps(total),
            rounds.join(" / ")
        );
    }
    println!(
        "    50 rules / no rules: {:.3}",
        rps(&totals[1]) / rps(&totals[0])
    );
    // CPU per request is steadier than throughput on a shared machine.
    let per_request = |i: usize| cpu[i] / totals[i].0 as f64 * 1e6;
    println!(
        "    server CPU per request: {:.1} µs without rules, {:.1} µs with 50 ({:+.1}%)",
        per_request(0),
        per_request(1),
        (per_request(1) / per_request(0) - 1.0) * 100.0
    );
    for server in servers {
        server.stop().await;
    }
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

    rules_versus_none(duration, template.clone()).await;

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

    for instances in [1, 2] {
        let run = support::postgres::postgres_run(
            instances,
            CONCURRENCY,
            duration,
            signed(template.clone()),
        )
        .await;
        let Some((report, stored)) = run else { break };
        row(
            &format!("(d) hookwatch, PostgreSQL, {instances} inst."),
            &report,
            Some(&reference),
        );
        println!("    stored rows {stored} = 200s {}", report.ok);
    }
}
