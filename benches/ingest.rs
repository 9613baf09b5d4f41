//! Ingest benchmark: the real `hookwatch serve` against a no-op HTTP server built here, with
//! the same ~2 KB Stripe payload, 64 connections and the same duration, in the same
//! interleaved rounds: on SQLite without and with signature verification, and on PostgreSQL
//! with one instance and with two sharing one database (the local server, plain TCP; see
//! `support::postgres`). Then PostgreSQL again, one instance against two at 256 connections
//! (many senders, as behind a load balancer), and 50 alert rules configured versus none
//! (alerts run off the feed, so ingest should not notice them), and one `[[forward]]` rule
//! versus none (forwarding runs off the ingest path too), saturated and then at a steady
//! rate with CPU to spare.
//!
//! Then the live stream's delay across two instances under load.
//!
//! Each round starts on a quiet machine (`settle`): what a server does after its round
//! (indexing, draining a forwarding backlog) would otherwise slow the next server's round.
//!
//! Run: `cargo bench --bench ingest` (`BENCH_SECS=N` to change the duration per run,
//! `HOOKWATCH_BENCH_PG` for another PostgreSQL server, `HOOKWATCH_BENCH_BASELINE=PATH` to add
//! another build of hookwatch to the headline rounds, unverified on SQLite and one instance on
//! PostgreSQL: a release build of the commit before a change, to see what the change costs).
//! Parts can be named to run only them: `cargo bench --bench ingest -- forward` (`headline`,
//! `scale`, `stream`, `alerts`, `forward`).

mod support;

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::*;

const CONCURRENCY: usize = 64;
/// The connections of the PostgreSQL comparison at scale (`postgres_at_scale`).
const MANY: usize = 256;
const SECRET: &str = "whsec_bench_secret";
/// Load before measuring, so every server starts measured rounds with warm files and caches.
const WARM_UP: Duration = Duration::from_secs(2);

/// A source that checks the benchmark's HMAC as a configured scheme: the same algorithm over
/// the same `{timestamp}.{body}` as Stripe's, read from other headers.
const HMAC_SOURCE: &str = "[sources.stripe]\nscheme = \"hmac\"\nheader = \"x-signature\"\n\
    prefix = \"sha256=\"\ntimestamp_header = \"x-timestamp\"\nsigned = \"{timestamp}.{body}\"\n\
    secrets = [\"whsec_bench_secret\"]\n";

/// Every run sends the same signed requests, so the client does the same work in each and
/// only the server side differs (a source without a secret ignores the signature).
fn signed(template: Arc<String>) -> MakeRequest {
    Arc::new(move |n| {
        let body = stripe_body(&template, n);
        let t = chrono::Utc::now().timestamp();
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(&body);
        let hex = hex::encode(mac.finalize().into_bytes());
        // The same HMAC twice: as Stripe sends it, and as a configured `hmac` scheme reads
        // it (`HMAC_SOURCE`), so that target's check does the same work on the same bytes.
        (
            vec![
                ("content-type".into(), "application/json".into()),
                ("stripe-signature".into(), format!("t={t},v1={hex}")),
                ("x-timestamp".into(), t.to_string()),
                ("x-signature".into(), format!("sha256={hex}")),
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

/// One server, or several sharing one database, taking part in an interleaved comparison.
struct Target {
    name: &'static str,
    /// Where to send; the connections are split evenly between these.
    urls: Vec<String>,
    /// The server processes, for their CPU time.
    pids: Vec<u32>,
    /// The load's connections, split evenly between `urls`.
    connections: usize,
}

impl Target {
    fn of(name: &'static str, servers: &[&Hookwatch]) -> Target {
        Target {
            name,
            urls: servers
                .iter()
                .map(|s| format!("{}/webhook/stripe", s.base))
                .collect(),
            pids: servers.iter().filter_map(|s| s.child.id()).collect(),
            connections: CONCURRENCY,
        }
    }

    fn with_connections(self, connections: usize) -> Target {
        Target {
            connections,
            ..self
        }
    }

    fn cpu_seconds(&self) -> f64 {
        self.pids.iter().map(|&pid| cpu_seconds(pid)).sum()
    }

    /// One load on every server at once; the worst server's percentiles.
    async fn load(&self, duration: Duration, template: &Arc<String>) -> Report {
        let each = self.connections / self.urls.len();
        let runs = self
            .urls
            .iter()
            .map(|url| load(url, each, duration, signed(template.clone())));
        let reports = futures_util::future::join_all(runs).await;
        Report {
            ok: reports.iter().map(|r| r.ok).sum(),
            errors: reports.iter().map(|r| r.errors).sum(),
            seconds: reports.iter().map(|r| r.seconds).fold(0.0, f64::max),
            p50_ms: reports.iter().map(|r| r.p50_ms).fold(0.0, f64::max),
            p99_ms: reports.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
        }
    }
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
    /// PostgreSQL's processes' CPU time over the rounds (all of them, whichever target).
    postgres_cpu_seconds: f64,
    /// This benchmark's own CPU time over the rounds: the load generator, which shares the
    /// machine with the servers.
    generator_cpu_seconds: f64,
    /// The machine's busy and total clock ticks over the rounds.
    busy_ticks: f64,
    all_ticks: f64,
    /// Seconds waited for the machine to be quiet before its rounds (`settle`).
    settled_seconds: f64,
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
        total.warm_ok = target.load(WARM_UP, template).await.ok;
    }
    for _round in 0..3 {
        for (target, total) in targets.iter().zip(totals.iter_mut()) {
            total.settled_seconds += settle().await;
            let before = target.cpu_seconds();
            let postgres_before = postgres_cpu_seconds();
            let generator_before = cpu_seconds(std::process::id());
            let (busy_before, all_before) = machine_ticks();
            let r = target.load(duration / 3, template).await;
            total.cpu_seconds += target.cpu_seconds() - before;
            total.postgres_cpu_seconds += postgres_cpu_seconds() - postgres_before;
            total.generator_cpu_seconds += cpu_seconds(std::process::id()) - generator_before;
            let (busy_after, all_after) = machine_ticks();
            total.busy_ticks += busy_after - busy_before;
            total.all_ticks += all_after - all_before;
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
            "{:<34} {:>9.0} req/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {:>4}  rounds {}  machine busy {:.0}%  waited for quiet {:.1} s",
            target.name,
            total.rps(),
            total.p50_ms,
            total.p99_ms,
            total.errors,
            rounds.join(" / "),
            total.busy_ticks / total.all_ticks.max(1.0) * 100.0,
            total.settled_seconds
        );
    }
    totals
}

/// Server CPU per request, steadier than throughput on a shared machine.
fn cpu_per_request(total: &Totals) -> f64 {
    total.cpu_seconds / total.ok.max(1) as f64 * 1e6
}

/// PostgreSQL's CPU per request acknowledged, for the targets that use it.
fn postgres_cpu_per_request(total: &Totals) -> f64 {
    total.postgres_cpu_seconds / total.ok.max(1) as f64 * 1e6
}

/// The load generator's CPU per request acknowledged: what the servers could not use.
fn generator_cpu_per_request(total: &Totals) -> f64 {
    total.generator_cpu_seconds / total.ok.max(1) as f64 * 1e6
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

/// What the PostgreSQL comparisons found, for the summary at the end.
#[derive(Default)]
struct Figures {
    two_over_one: Option<f64>,
    one_over_baseline: Option<f64>,
    stream_p99_ms: Option<f64>,
}

/// The headline comparison, every target in the same interleaved rounds: the no-op server;
/// hookwatch on SQLite without and with verification; on PostgreSQL with one instance and
/// with two sharing one database (skipped without PostgreSQL), and one instance of the
/// baseline build when `HOOKWATCH_BENCH_BASELINE` names one.
async fn headline(duration: Duration, template: &Arc<String>, figures: &mut Figures) {
    let noop = start_noop_server().await;
    let plain_dir = tempfile::tempdir().unwrap();
    let verified_dir = tempfile::tempdir().unwrap();
    let config = format!("[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{SECRET}\"]\n");
    std::fs::write(verified_dir.path().join("hookwatch.toml"), config).unwrap();
    let hmac_dir = tempfile::tempdir().unwrap();
    std::fs::write(hmac_dir.path().join("hookwatch.toml"), HMAC_SOURCE).unwrap();
    let plain = Hookwatch::start(plain_dir.path(), &[]).await;
    let verified = Hookwatch::start(verified_dir.path(), &[]).await;
    let hmac = Hookwatch::start(hmac_dir.path(), &[]).await;
    let mut targets = vec![
        Target::of("(b) no-op server", &[&noop]),
        Target::of("(a) hookwatch, SQLite, unverified", &[&plain]),
        Target::of("(c) hookwatch, SQLite, verified", &[&verified]),
        Target::of("(h) hookwatch, SQLite, configured hmac", &[&hmac]),
    ];
    let pg_dir = tempfile::tempdir().unwrap();
    let one = support::postgres::cluster(1, pg_dir.path()).await;
    let two = support::postgres::cluster(2, pg_dir.path()).await;
    let baseline_binary = support::postgres::baseline_binary();
    let baseline = match &baseline_binary {
        Some(binary) => support::postgres::cluster_of(binary, 1, pg_dir.path()).await,
        None => None,
    };
    let sqlite_baseline_dir = tempfile::tempdir().unwrap();
    let sqlite_baseline = match &baseline_binary {
        Some(binary) => {
            Some(Hookwatch::start_binary(binary, sqlite_baseline_dir.path(), &[]).await)
        }
        None => None,
    };
    if let (Some((_, one)), Some((_, two))) = (&one, &two) {
        targets.push(Target::of("(d) hookwatch, PostgreSQL, 1 inst.", &[&one[0]]));
        targets.push(Target::of(
            "(d) hookwatch, PostgreSQL, 2 inst.",
            &[&two[0], &two[1]],
        ));
        if let Some((_, old)) = &baseline {
            targets.push(Target::of("(d) baseline, PostgreSQL, 1 inst.", &[&old[0]]));
        }
    }
    let sqlite_baseline_at = sqlite_baseline.as_ref().map(|old| {
        targets.push(Target::of("(a) baseline, SQLite, unverified", &[old]));
        targets.len() - 1
    });
    let totals = interleaved(&targets, duration, template).await;
    let ratio = |a: usize, b: usize| totals[a].rps() / totals[b].rps();
    if let (Some(at), Some(old)) = (sqlite_baseline_at, &sqlite_baseline) {
        println!(
            "    (a) / baseline (a): {:.3} (target ≥ 0.95)   server CPU per request {:.1} µs, baseline {:.1} µs",
            ratio(1, at),
            cpu_per_request(&totals[1]),
            cpu_per_request(&totals[at])
        );
        check_stored(
            "baseline (a)",
            &old.base,
            totals[at].warm_ok + totals[at].ok,
        )
        .await;
    }
    println!(
        "    (a) / (b): {:.3}   (c) / (b): {:.3}",
        ratio(1, 0),
        ratio(2, 0)
    );
    println!(
        "    verification on / off: {:.3} throughput; server CPU per request {:.1} µs off, {:.1} µs on ({:+.1}%)",
        ratio(2, 1),
        cpu_per_request(&totals[1]),
        cpu_per_request(&totals[2]),
        (cpu_per_request(&totals[2]) / cpu_per_request(&totals[1]) - 1.0) * 100.0
    );
    check_stored("(a)", &plain.base, totals[1].warm_ok + totals[1].ok).await;
    check_stored("(c)", &verified.base, totals[2].warm_ok + totals[2].ok).await;
    println!(
        "    configured hmac / Stripe check: {:.3} throughput; server CPU per request {:.1} µs with the Stripe check, {:.1} µs with the configured scheme",
        ratio(3, 2),
        cpu_per_request(&totals[2]),
        cpu_per_request(&totals[3])
    );
    check_stored("(h)", &hmac.base, totals[3].warm_ok + totals[3].ok).await;
    let verify = verify_micros(template);
    println!(
        "    the Stripe check itself, timed in-process: {verify:.2} µs per request = {:.1}% of (a)'s server CPU per request",
        verify / cpu_per_request(&totals[1]) * 100.0
    );
    println!("    peak RSS of (a): {:.1} MiB", plain.peak_rss_mib());
    if let (Some((_, one)), Some((_, two))) = (&one, &two) {
        println!(
            "    PostgreSQL 1 inst. / (b): {:.3}   2 inst. / 1 inst.: {:.3}   2 inst. / (b): {:.3}",
            ratio(4, 0),
            ratio(5, 4),
            ratio(5, 0)
        );
        compare_instances(&totals[4], &totals[5], &one[0], &two[0]).await;
        figures.two_over_one = Some(ratio(5, 4));
        if let Some((_, old)) = &baseline {
            let old_total = &totals[6];
            println!(
                "    PostgreSQL 1 inst. / baseline 1 inst.: {:.3}   hookwatch CPU per request {:.1} µs, baseline {:.1} µs; PostgreSQL's {:.1} µs and {:.1} µs",
                ratio(4, 6),
                cpu_per_request(&totals[4]),
                cpu_per_request(old_total),
                postgres_cpu_per_request(&totals[4]),
                postgres_cpu_per_request(old_total)
            );
            check_stored("baseline", &old[0].base, old_total.warm_ok + old_total.ok).await;
            figures.one_over_baseline = Some(ratio(4, 6));
        }
    }
    for (_, servers) in [one, two, baseline].into_iter().flatten() {
        for server in servers {
            server.stop().await;
        }
    }
    plain.stop().await;
    verified.stop().await;
    hmac.stop().await;
    noop.stop().await;
    if let Some(old) = sqlite_baseline {
        old.stop().await;
    }
}

/// CPU per request and stored rows of one PostgreSQL instance against two (`one`, `two`:
/// a server of each, whose stats count every instance's events).
async fn compare_instances(
    one: &Totals,
    two: &Totals,
    one_server: &Hookwatch,
    two_server: &Hookwatch,
) {
    println!(
        "    hookwatch CPU per request: {:.1} µs with 1 instance, {:.1} µs with 2; PostgreSQL's: {:.1} µs and {:.1} µs; the load generator's: {:.1} µs and {:.1} µs",
        cpu_per_request(one),
        cpu_per_request(two),
        postgres_cpu_per_request(one),
        postgres_cpu_per_request(two),
        generator_cpu_per_request(one),
        generator_cpu_per_request(two)
    );
    check_stored("1 inst.", &one_server.base, one.warm_ok + one.ok).await;
    check_stored("2 inst.", &two_server.base, two.warm_ok + two.ok).await;
}

/// PostgreSQL with one instance and with two, at `MANY` connections: a cluster behind a load
/// balancer serves many senders at once, and how many requests each writer's batch holds
/// decides what a commit costs per event (at 64 connections two instances' batches are
/// half as full as one's).
async fn postgres_at_scale(duration: Duration, template: &Arc<String>) {
    let dir = tempfile::tempdir().unwrap();
    let one = support::postgres::cluster(1, dir.path()).await;
    let two = support::postgres::cluster(2, dir.path()).await;
    // The databases live until the end (dropping one drops its database).
    let (Some((_one_db, one)), Some((_two_db, two))) = (one, two) else {
        return;
    };
    let targets = [
        Target::of("(f) PostgreSQL, 1 inst., 256 conn.", &[&one[0]]).with_connections(MANY),
        Target::of("(f) PostgreSQL, 2 inst., 256 conn.", &[&two[0], &two[1]])
            .with_connections(MANY),
    ];
    let totals = interleaved(&targets, duration, template).await;
    println!(
        "    at {MANY} connections, PostgreSQL 2 inst. / 1 inst.: {:.3}",
        totals[1].rps() / totals[0].rps()
    );
    compare_instances(&totals[0], &totals[1], &one[0], &two[0]).await;
    for server in one.into_iter().chain(two) {
        server.stop().await;
    }
}

/// The live stream across instances under load: two instances take the benchmark's load
/// while probe events posted to the first are timed from their `200` to the second's
/// `/api/stream`.
async fn stream_delay(duration: Duration, template: &Arc<String>, figures: &mut Figures) {
    let dir = tempfile::tempdir().unwrap();
    let Some((_db, two)) = support::postgres::cluster(2, dir.path()).await else {
        return;
    };
    let target = Target::of("(g) PostgreSQL, 2 inst., probed", &[&two[0], &two[1]]);
    target.load(WARM_UP, template).await;
    let stream = support::stream::probe_stream(&two[1].base).await;
    let until = std::time::Instant::now() + duration;
    let (report, (delays, lost)) = tokio::join!(
        target.load(duration, template),
        support::stream::stream_delays(&two[0].base, stream, until)
    );
    let p99 = percentile(&delays, 0.99);
    println!(
        "{:<34} {:>9.0} req/s  stream delay from the 200 to the other instance: p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  ({} probes, {lost} not seen)",
        target.name,
        report.rps(),
        percentile(&delays, 0.50),
        p99,
        percentile(&delays, 1.0),
        delays.len()
    );
    figures.stream_p99_ms = Some(p99);
    for server in two {
        server.stop().await;
    }
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
                query: "",
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
        Target::of("(e) hookwatch, no rules", &[&plain]),
        Target::of("(e) hookwatch, 50 rules", &[&rules]),
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

/// Ingest with one `[[forward]]` rule (every event sent on to the no-op server) versus none:
/// forwarding runs off the ingest path, so the target is at least 0.9. The same rule with its
/// target paused (every event queued, none sent) tells the queue's cost from the sending's.
/// Then the three at a steady rate, for the `200`'s latency when the sending has CPU to spare.
async fn forward_versus_none(duration: Duration, template: &Arc<String>) {
    let noop = start_noop_server().await;
    let plain_dir = tempfile::tempdir().unwrap();
    let forward_dir = tempfile::tempdir().unwrap();
    let paused_dir = tempfile::tempdir().unwrap();
    let rule = format!(
        "[[forward]]\nname = \"app\"\nsource = \"*\"\nto = \"{}/webhook/app\"\n",
        noop.base
    );
    std::fs::write(forward_dir.path().join("hookwatch.toml"), &rule).unwrap();
    std::fs::write(paused_dir.path().join("hookwatch.toml"), &rule).unwrap();
    let plain = Hookwatch::start(plain_dir.path(), &[]).await;
    let forwarding = Hookwatch::start(forward_dir.path(), &[]).await;
    let paused = Hookwatch::start(paused_dir.path(), &[]).await;
    let pause = format!("{}/api/forwards/targets/app/pause", paused.base);
    let answer = reqwest::Client::new().post(pause).send().await.unwrap();
    assert!(answer.status().is_success(), "pause: {}", answer.status());
    let targets = [
        Target::of("(f) hookwatch, no forwarding", &[&plain]),
        Target::of("(f) hookwatch, one forward rule", &[&forwarding]),
        Target::of("(f) hookwatch, one rule, target paused", &[&paused]),
    ];
    let totals = interleaved(&targets, duration, template).await;
    println!(
        "    one forward rule / none: {:.3} throughput (target ≥ 0.9); server CPU per request {:.1} µs without, {:.1} µs with",
        totals[1].rps() / totals[0].rps(),
        cpu_per_request(&totals[0]),
        cpu_per_request(&totals[1]),
    );
    println!(
        "    the rule with its target paused (queued, not sent) / none: {:.3} throughput; server CPU per request {:.1} µs",
        totals[2].rps() / totals[0].rps(),
        cpu_per_request(&totals[2]),
    );
    paced_rounds(&targets, duration, template).await;
    plain.stop().await;
    forwarding.stop().await;
    paused.stop().await;
    noop.stop().await;
}

/// Requests a second of `paced_rounds`: well under what one rule's server takes saturated.
const PACED_RATE: u32 = 3000;

/// The `200`'s latency at a steady `PACED_RATE` (an open loop, as webhooks arrive) on each
/// target, in interleaved rounds on a quiet machine: with CPU to spare, what runs after the
/// `200` must not slow it.
async fn paced_rounds(targets: &[Target], duration: Duration, template: &Arc<String>) {
    let mut reports: Vec<Vec<Report>> = targets.iter().map(|_| Vec::new()).collect();
    let mut cpu: Vec<f64> = targets.iter().map(|_| 0.0).collect();
    for _round in 0..3 {
        for (i, target) in targets.iter().enumerate() {
            settle().await;
            let before = target.cpu_seconds();
            let signed = signed(template.clone());
            let r = paced_load(&target.urls[0], PACED_RATE, duration / 3, signed).await;
            cpu[i] += target.cpu_seconds() - before;
            reports[i].push(r);
        }
    }
    for ((target, rounds), cpu) in targets.iter().zip(&reports).zip(&cpu) {
        let ok: usize = rounds.iter().map(|r| r.ok).sum();
        let errors: usize = rounds.iter().map(|r| r.errors).sum();
        let worst = |f: fn(&Report) -> f64| rounds.iter().map(f).fold(0.0, f64::max);
        println!(
            "{:<34} at {PACED_RATE}/s  p50 {:>6.2} ms  p99 {:>6.2} ms  errors {errors:>4}  server CPU per request {:.1} µs",
            target.name,
            worst(|r| r.p50_ms),
            worst(|r| r.p99_ms),
            cpu / ok.max(1) as f64 * 1e6,
        );
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
    let mut figures = Figures::default();
    let parts = Parts::from_args(
        "ingest",
        &["headline", "scale", "stream", "alerts", "forward"],
    );
    if parts.runs("headline") {
        headline(duration, &template, &mut figures).await;
    }
    if parts.runs("scale") {
        postgres_at_scale(duration, &template).await;
    }
    if parts.runs("stream") {
        stream_delay(duration, &template, &mut figures).await;
    }
    if parts.runs("alerts") {
        rules_versus_none(duration, &template).await;
    }
    if parts.runs("forward") {
        forward_versus_none(duration, &template).await;
    }
    let show = |figure: Option<f64>| figure.map_or("-".to_string(), |f| format!("{f:.3}"));
    println!(
        "PostgreSQL: 1 inst. / baseline 1 inst. {} (target ≥ 0.9); 2 inst. / 1 inst. at {CONCURRENCY} conn. {} (≥ 0.7); stream delay p99 {} ms (< 100)",
        show(figures.one_over_baseline),
        show(figures.two_over_one),
        show(figures.stream_p99_ms)
    );
}
