//! Forwarding benchmark: the real `hookwatch serve` on SQLite (a temp dir) with one
//! `[[forward]]` rule (`max_in_flight` at its default, 8), counted where the events land.
//!
//! 1. Sustained, HTTP: the ingest benchmark's load (64 connections, the ~2 KB Stripe payload)
//!    for `BENCH_SECS` against hookwatch forwarding to a `200` server in this process; the
//!    ingest rate, the rate delivered at the target in the same window and their ratio; then
//!    how long the backlog took to drain, and whether the target holds every event once. Then
//!    the same with the store in PostgreSQL (a fresh database on the local server; skipped
//!    with a note when it is not reachable).
//! 2. Backlog: the target paused through the API while `BENCH_BACKLOG` events arrive, then
//!    resumed: the drain rate, hookwatch's resident memory before and after the backlog and
//!    its peak during the drain, and the count at the target.
//! 3. Brokers (NATS JetStream on 4222, Redis on 6379; skipped with a note when not listening):
//!    the sustained figures again with a `nats://` and a `redis://` target, then the delay from
//!    the `200` to a consumer reading the message, for events sent one at a time at 200/s
//!    after the backlog has drained (so the delay is not queueing under saturation).
//!
//! Run: `cargo bench --bench forward` (`BENCH_SECS=N` for the seconds of load, default 10;
//! `BENCH_BACKLOG=N` for the backlog's events, default 100,000; `BENCH_IN_FLIGHT=N` for the
//! rule's `max_in_flight`). Parts can be named to run only them: `cargo bench --bench forward
//! -- postgres` (`http`, `postgres`, `backlog`, `nats`, `redis`).

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::delay::{Arrivals, paced_delays, read_stream, read_subject};
use support::sinks::{Sink, counting_target};
use support::*;

const CONCURRENCY: usize = 64;
fn backlog_size() -> u64 {
    std::env::var("BENCH_BACKLOG")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000)
}

/// The rule's `max_in_flight` (`BENCH_IN_FLIGHT`; default: the rule's own default, 8).
fn in_flight() -> Option<u32> {
    std::env::var("BENCH_IN_FLIGHT")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// Unsigned Stripe events (the source has no secret), a unique id each.
fn requests(template: &Arc<String>) -> MakeRequest {
    let template = template.clone();
    Arc::new(move |n| {
        let headers = vec![("content-type".into(), "application/json".into())];
        (headers, stripe_body(&template, n))
    })
}

/// hookwatch in `dir` (and `extra` arguments) with one rule named `name` taking every event
/// to `to`.
async fn start(dir: &Path, name: &str, to: &str, extra: &[&str]) -> Hookwatch {
    let mut rule = format!("[[forward]]\nname = \"{name}\"\nsource = \"*\"\nto = \"{to}\"\n");
    if let Some(n) = in_flight() {
        rule += &format!("max_in_flight = {n}\n");
    }
    std::fs::write(dir.join("hookwatch.toml"), rule).unwrap();
    Hookwatch::start(dir, extra).await
}

async fn get_json(url: String) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn stored(base: &str) -> u64 {
    get_json(format!("{base}/api/stats")).await["total"]
        .as_u64()
        .unwrap()
}

/// The target's pending deliveries, from `GET /api/forwards/targets`.
async fn pending(base: &str, name: &str) -> u64 {
    let targets = get_json(format!("{base}/api/forwards/targets")).await;
    targets["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .and_then(|t| t["pending"].as_u64())
        .expect("the target's pending count")
}

async fn set_state(base: &str, name: &str, action: &str) {
    let url = format!("{base}/api/forwards/targets/{name}/{action}");
    let answer = reqwest::Client::new().post(url).send().await.unwrap();
    assert_eq!(answer.status(), 200, "{action} {name}");
}

/// Waits until the sink holds `events` and nothing is pending; the time it took, or `None`
/// at the deadline (a minute, plus 2 ms an event). The sink is counted first: the pending
/// count is a query of the store, which the drain would otherwise share with the polling.
async fn drain(base: &str, name: &str, sink: &mut Sink, events: u64) -> Option<Duration> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60) + Duration::from_millis(2 * events);
    while Instant::now() < deadline {
        if sink.count().await >= events && pending(base, name).await == 0 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

/// "at target N = events M: yes, duplicates D".
async fn check(sink: &mut Sink, events: u64) -> String {
    let landed = sink.landed().await;
    let verdict = if landed.distinct == events {
        "yes"
    } else {
        "NO"
    };
    format!(
        "at target {} = events {events}: {verdict}, duplicates {}",
        landed.distinct, landed.duplicates
    )
}

/// Full-rate load for `duration`, then the drain: prints the rates, their ratio, the drain
/// time and the count at the target.
async fn sustained(label: &str, hw: &Hookwatch, name: &str, sink: &mut Sink, duration: Duration) {
    let template = Arc::new(payload_template());
    let before = sink.count().await;
    let url = format!("{}/webhook/stripe", hw.base);
    let report = load(&url, CONCURRENCY, duration, requests(&template)).await;
    let delivered = sink.count().await - before;
    let ingest_rate = report.rps();
    let delivered_rate = delivered as f64 / report.seconds;
    println!(
        "{label:<16} ingest {ingest_rate:>7.0} events/s   delivered {delivered_rate:>7.0} events/s   delivered / ingest {:.3} (target ≥ 0.5)   errors {}",
        delivered_rate / ingest_rate,
        report.errors
    );
    let events = stored(&hw.base).await;
    let drained = drain(&hw.base, name, sink, events).await;
    let drained = drained.map_or("NOT within the deadline".into(), |d| {
        format!("in {:.1} s", d.as_secs_f64())
    });
    println!(
        "    backlog drained {drained}; {}",
        check(sink, events).await
    );
}

async fn http_sustained(duration: Duration) {
    let (to, counter) = counting_target().await;
    let dir = tempfile::tempdir().unwrap();
    let hw = start(dir.path(), "app", &to, &[]).await;
    sustained("HTTP", &hw, "app", &mut Sink::Http(counter), duration).await;
    hw.stop().await;
}

/// The same with the store, and so the queue, in PostgreSQL (a fresh database on the local
/// server, dropped afterwards).
async fn http_sustained_postgres(duration: Duration) {
    let Some(db) = support::postgres::BenchDb::create(1).await else {
        println!("HTTP, PostgreSQL skipped: PostgreSQL is not reachable");
        return;
    };
    let (to, counter) = counting_target().await;
    let dir = tempfile::tempdir().unwrap();
    let hw = start(dir.path(), "app", &to, &["--database", &db.url]).await;
    let mut sink = Sink::Http(counter);
    sustained("HTTP, PostgreSQL", &hw, "app", &mut sink, duration).await;
    hw.stop().await;
}

/// The target paused while the backlog arrives, then resumed.
async fn backlog(events: u64) {
    let (to, counter) = counting_target().await;
    let mut sink = Sink::Http(counter);
    let dir = tempfile::tempdir().unwrap();
    let hw = start(dir.path(), "app", &to, &[]).await;
    let pid = hw.child.id().unwrap();
    set_state(&hw.base, "app", "pause").await;
    let rss_before = status_mib(pid, "VmRSS");
    let template = Arc::new(payload_template());
    let url = format!("{}/webhook/stripe", hw.base);
    let report = load_until(&url, CONCURRENCY, Stop::After(events), requests(&template)).await;
    let stored = stored(&hw.base).await;
    let (rss_after, peak_after) = (status_mib(pid, "VmRSS"), status_mib(pid, "VmHWM"));
    println!(
        "backlog          {stored} events sent with the target paused in {:.1} s ({} errors), {} pending; RSS {rss_before:.1} MiB before, {rss_after:.1} MiB after (peak so far {peak_after:.1} MiB)",
        report.seconds,
        report.errors,
        pending(&hw.base, "app").await
    );
    // Writing 5 to clear_refs resets VmHWM, so the peak read after is the drain's own.
    let reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
    set_state(&hw.base, "app", "resume").await;
    let drained = drain(&hw.base, "app", &mut sink, stored).await;
    let peak = status_mib(pid, "VmHWM");
    let peak_of = if reset {
        "during the drain"
    } else {
        "since start"
    };
    let drained = drained.map_or("NOT drained within the deadline".into(), |d| {
        format!(
            "drained in {:.1} s = {:.0} events/s",
            d.as_secs_f64(),
            stored as f64 / d.as_secs_f64()
        )
    });
    println!(
        "    {drained}; peak RSS {peak_of} {peak:.1} MiB vs {rss_after:.1} MiB before it; {}",
        check(&mut sink, stored).await
    );
    hw.stop().await;
}

async fn listening(port: u16) -> bool {
    let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
    matches!(
        tokio::time::timeout(Duration::from_secs(1), connect).await,
        Ok(Ok(_))
    )
}

async fn nats(duration: Duration) {
    let run = std::process::id();
    let (stream_name, subject) = (format!("benchfwd{run}"), format!("benchfwd{run}.events"));
    let client = async_nats::connect("nats://127.0.0.1:4222").await.unwrap();
    let jetstream = async_nats::jetstream::new(client.clone());
    let stream = jetstream
        .create_stream(async_nats::jetstream::stream::Config {
            name: stream_name.clone(),
            subjects: vec![subject.clone()],
            ..Default::default()
        })
        .await
        .expect("create the stream");
    let dir = tempfile::tempdir().unwrap();
    let hw = start(
        dir.path(),
        "nats",
        &format!("nats://127.0.0.1:4222/{subject}"),
        &[],
    )
    .await;
    sustained(
        "NATS JetStream",
        &hw,
        "nats",
        &mut Sink::Nats(Box::new(stream)),
        duration,
    )
    .await;
    let arrivals = Arrivals::default();
    let reader = read_subject(&client, subject, arrivals.clone()).await;
    paced_delays(&hw.base, &arrivals).await;
    reader.abort();
    hw.stop().await;
    let _ = jetstream.delete_stream(stream_name).await;
}

async fn redis_streams(duration: Duration) {
    let key = format!("benchfwd-{}", std::process::id());
    let redis = redis::Client::open("redis://127.0.0.1:6379/0").unwrap();
    let conn = redis.get_multiplexed_async_connection().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let to = format!("redis://127.0.0.1:6379/0?stream={key}");
    let hw = start(dir.path(), "redis", &to, &[]).await;
    let mut sink = Sink::Redis(conn.clone(), key.clone());
    sustained("Redis Streams", &hw, "redis", &mut sink, duration).await;
    let arrivals = Arrivals::default();
    let reader = tokio::spawn(read_stream(redis.clone(), key.clone(), arrivals.clone()));
    paced_delays(&hw.base, &arrivals).await;
    reader.abort();
    hw.stop().await;
    let mut conn = conn;
    let _: i64 = redis::cmd("DEL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .unwrap();
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists; nothing to list
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let duration = bench_duration();
    println!(
        "forward benchmark: {} B payload, {CONCURRENCY} connections, {} s of load per target, one rule with max_in_flight {}, SQLite (and PostgreSQL for HTTP)",
        payload_template().len(),
        duration.as_secs(),
        in_flight().map_or("8 (the default)".to_string(), |n| n.to_string())
    );
    let parts = Parts::from_args("forward", &["http", "postgres", "backlog", "nats", "redis"]);
    if parts.runs("http") {
        http_sustained(duration).await;
    }
    if parts.runs("postgres") {
        http_sustained_postgres(duration).await;
    }
    if parts.runs("backlog") {
        backlog(backlog_size()).await;
    }
    if parts.runs("nats") {
        match listening(4222).await {
            true => nats(duration).await,
            false => println!("NATS JetStream   skipped: nothing listening on 127.0.0.1:4222"),
        }
    }
    if parts.runs("redis") {
        match listening(6379).await {
            true => redis_streams(duration).await,
            false => println!("Redis Streams    skipped: nothing listening on 127.0.0.1:6379"),
        }
    }
}
