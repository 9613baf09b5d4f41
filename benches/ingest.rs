//! Ingest benchmark: the real `hookwatch serve` on SQLite against a no-op HTTP server built
//! here, with the same ~2 KB Stripe payload, 64 connections and the same duration, in one run.
//! Also: signature verification on for every request versus off, and 50 alert rules
//! configured versus none (alerts run off the feed, so ingest should not notice them).
//!
//! Run: `cargo bench --bench ingest` (`BENCH_SECS=N` to change the duration per run).

mod support;

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::*;

const CONCURRENCY: usize = 64;
const SECRET: &str = "whsec_bench_secret";
/// Load before measuring, so every server starts measured rounds with warm files and caches.
const WARM_UP: Duration = Duration::from_secs(2);

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

async fn stored_total(base: &str) -> i64 {
    let stats: Value = reqwest::get(format!("{base}/api/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    stats["total"].as_i64().unwrap()
}

/// One server taking part in an interleaved comparison.
struct Target {
    name: &'static str,
    url: String,
    /// The server process, for its CPU time.
    pid: Option<u32>,
}

/// What a target did over all its rounds.
#[derive(Default)]
struct Totals {
    /// Acknowledged during the warm-up, not measured (but stored).
    warm_ok: usize,
    ok: usize,
    errors: usize,
    seconds: f64,
    rounds: Vec<f64>,
    /// The worst round's percentiles: conservative, since rounds are short.
    p50_ms: f64,
    p99_ms: f64,
    cpu_seconds: f64,
}

impl Totals {
    fn rps(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
}

/// Every target is warmed up, then they take turns for three rounds, so a change in the
/// machine's load (or a cold file system) during the run hits them all alike.
async fn interleaved(
    targets: &[Target],
    duration: Duration,
    template: &Arc<String>,
) -> Vec<Totals> {
    let mut totals: Vec<Totals> = targets.iter().map(|_| Totals::default()).collect();
    for (target, total) in targets.iter().zip(totals.iter_mut()) {
        total.warm_ok = load(&target.url, CONCURRENCY, WARM_UP, signed(template.clone()))
            .await
            .ok;
    }
    for _round in 0..3 {
        for (target, total) in targets.iter().zip(totals.iter_mut()) {
            let before = target.pid.map(cpu_seconds).unwrap_or(0.0);
            let r = load(
                &target.url,
                CONCURRENCY,
                duration / 3,
                signed(template.clone()),
            )
            .await;
            total.cpu_seconds += target.pid.map(cpu_seconds).unwrap_or(0.0) - before;
            total.ok += r.ok;
            total.errors += r.errors;
            total.seconds += r.seconds;
            total.rounds.push(r.rps());
            total.p50_ms = total.p50_ms.max(r.p50_ms);
            total.p99_ms = total.p99_ms.max(r.p99_ms);
        }
    }
    for (target, total) in targets.iter().zip(&totals) {
        let rounds: Vec<String> = total.rounds.iter().map(|r| format!("{r:.0}")).collect();
        println!(
            "{:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {:>4}  rounds {}",
            target.name,
            total.rps(),
            total.p50_ms,
            total.p99_ms,
            total.errors,
            rounds.join(" / ")
        );
    }
    totals
}

/// Server CPU per request, steadier than throughput on a shared machine.
fn cpu_per_request(total: &Totals) -> f64 {
    total.cpu_seconds / total.ok.max(1) as f64 * 1e6
}

/// Checks that every acknowledged request is a stored row.
async fn check_stored(name: &str, base: &str, acknowledged: usize) {
    let stored = stored_total(base).await;
    let verdict = if stored == acknowledged as i64 {
        "yes"
    } else {
        "NO"
    };
    println!("    {name}: stored rows {stored} = 200s {acknowledged}: {verdict}");
}

/// The headline comparison: the no-op server, hookwatch without and with verification.
async fn sqlite_versus_noop(duration: Duration, template: &Arc<String>) -> f64 {
    let noop = start_noop_server().await;
    let plain_dir = tempfile::tempdir().unwrap();
    let verified_dir = tempfile::tempdir().unwrap();
    let config = format!("[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{SECRET}\"]\n");
    std::fs::write(verified_dir.path().join("hookwatch.toml"), config).unwrap();
    let plain = Hookwatch::start(plain_dir.path(), &[]).await;
    let verified = Hookwatch::start(verified_dir.path(), &[]).await;
    let targets = [
        Target {
            name: "(b) no-op server",
            url: format!("{}/webhook/stripe", noop.base),
            pid: noop.child.id(),
        },
        Target {
            name: "(a) hookwatch, SQLite, unverified",
            url: format!("{}/webhook/stripe", plain.base),
            pid: plain.child.id(),
        },
        Target {
            name: "(c) hookwatch, SQLite, verified",
            url: format!("{}/webhook/stripe", verified.base),
            pid: verified.child.id(),
        },
    ];
    let totals = interleaved(&targets, duration, template).await;
    println!(
        "    (a) / (b): {:.3}   (c) / (b): {:.3}",
        totals[1].rps() / totals[0].rps(),
        totals[2].rps() / totals[0].rps()
    );
    println!(
        "    verification on / off: {:.3} throughput; server CPU per request {:.1} µs off, {:.1} µs on ({:+.1}%)",
        totals[2].rps() / totals[1].rps(),
        cpu_per_request(&totals[1]),
        cpu_per_request(&totals[2]),
        (cpu_per_request(&totals[2]) / cpu_per_request(&totals[1]) - 1.0) * 100.0
    );
    check_stored("(a)", &plain.base, totals[1].warm_ok + totals[1].ok).await;
    check_stored("(c)", &verified.base, totals[2].warm_ok + totals[2].ok).await;
    let verify = verify_micros(template);
    println!(
        "    the Stripe check itself, timed in-process: {verify:.2} µs per request = {:.1}% of (a)'s server CPU per request",
        verify / cpu_per_request(&totals[1]) * 100.0
    );
    println!("    peak RSS of (a): {:.1} MiB", plain.peak_rss_mib());
    plain.stop().await;
    verified.stop().await;
    noop.stop().await;
    totals[0].rps()
}

/// What one signature check costs, measured without the noise of a loaded machine's HTTP:
/// the verifier hookwatch runs, on the benchmark's own signed requests.
fn verify_micros(template: &Arc<String>) -> f64 {
    use hookwatch::verify::{Request, Scheme, Verifier};
    let verifier = Verifier {
        scheme: Scheme::Stripe,
        secrets: vec![SECRET.into()],
        tolerance_secs: 300,
    };
    let make = signed(template.clone());
    let requests: Vec<_> = (0..1000u64).map(|n| make(n)).collect();
    let now = chrono::Utc::now().timestamp();
    let rounds = 100;
    let started = std::time::Instant::now();
    for _ in 0..rounds {
        for (headers, body) in &requests {
            let request = Request {
                headers,
                body,
                url: None,
                content_type: Some("application/json"),
            };
            assert_eq!(verifier.verify(&request, now).signature().as_str(), "valid");
        }
    }
    started.elapsed().as_secs_f64() * 1e6 / (rounds * requests.len()) as f64
}

/// Alerts off versus 50 rules, interleaved like the headline comparison.
async fn rules_versus_none(duration: Duration, template: &Arc<String>) {
    let plain_dir = tempfile::tempdir().unwrap();
    let rules_dir = tempfile::tempdir().unwrap();
    std::fs::write(rules_dir.path().join("hookwatch.toml"), fifty_rules()).unwrap();
    let plain = Hookwatch::start(plain_dir.path(), &[]).await;
    let rules = Hookwatch::start(rules_dir.path(), &[]).await;
    let targets = [
        Target {
            name: "(e) hookwatch, no rules",
            url: format!("{}/webhook/stripe", plain.base),
            pid: plain.child.id(),
        },
        Target {
            name: "(e) hookwatch, 50 rules",
            url: format!("{}/webhook/stripe", rules.base),
            pid: rules.child.id(),
        },
    ];
    let totals = interleaved(&targets, duration, template).await;
    println!(
        "    50 rules / no rules: {:.3} throughput; server CPU per request {:.1} µs without, {:.1} µs with ({:+.1}%)",
        totals[1].rps() / totals[0].rps(),
        cpu_per_request(&totals[0]),
        cpu_per_request(&totals[1]),
        (cpu_per_request(&totals[1]) / cpu_per_request(&totals[0]) - 1.0) * 100.0
    );
    plain.stop().await;
    rules.stop().await;
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

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list
    }
    if std::env::args().any(|a| a == NOOP_FLAG) {
        return run_noop_server();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let duration = bench_duration();
    let template = Arc::new(payload_template());
    println!(
        "ingest benchmark: {} B payload, {CONCURRENCY} connections, {}s per target ({} s warm-up, then 3 interleaved rounds)",
        template.len(),
        duration.as_secs(),
        WARM_UP.as_secs()
    );
    let reference = sqlite_versus_noop(duration, &template).await;
    rules_versus_none(duration, &template).await;
    for instances in [1, 2] {
        let run = support::postgres::postgres_run(
            instances,
            CONCURRENCY,
            duration,
            signed(template.clone()),
        )
        .await;
        let Some((report, stored)) = run else { break };
        println!(
            "{:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {:>4}  ratio to (b) {:.3}",
            format!("(d) hookwatch, PostgreSQL, {instances} inst."),
            report.rps(),
            report.p50_ms,
            report.p99_ms,
            report.errors,
            report.rps() / reference
        );
        println!("    stored rows {stored} = 200s {}", report.ok);
    }
}
