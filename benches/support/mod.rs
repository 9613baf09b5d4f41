//! Shared pieces of the benchmarks: start the real binary, a no-op reference server, a load
//! generator with latency percentiles, and peak memory of a process.

#![allow(dead_code)] // each bench uses a different part

pub mod delay;
pub mod postgres;
pub mod seed;
pub mod sinks;
pub mod stream;

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};

/// The release binary cargo built for this bench.
pub const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

/// A running `hookwatch serve`.
pub struct Hookwatch {
    pub child: tokio::process::Child,
    pub base: String,
}

impl Hookwatch {
    /// Starts `hookwatch serve` in `dir` on a free loopback port; waits for its banner.
    pub async fn start(dir: &Path, extra: &[&str]) -> Hookwatch {
        Hookwatch::start_binary(BIN, dir, extra).await
    }

    /// The same with another build of hookwatch (a baseline to compare with).
    pub async fn start_binary(binary: &str, dir: &Path, extra: &[&str]) -> Hookwatch {
        let mut child = tokio::process::Command::new(binary)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(extra)
            .current_dir(dir)
            .env("HOOKWATCH_LOG", "error")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start hookwatch");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next_line().await.unwrap().expect("banner");
        let base = first.split_whitespace().last().unwrap().to_string();
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Hookwatch { child, base }
    }

    /// Peak resident memory (VmHWM) in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        peak_rss_mib(self.child.id().unwrap())
    }

    pub async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let _ = self.child.wait().await;
    }
}

/// CPU time (user + system) a process has used so far, in seconds, from /proc (clock ticks
/// of 1/100 s, the Linux default).
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses and may contain spaces).
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time every PostgreSQL server process on this machine has used so far, in seconds:
/// the benchmarks' load is the only load on it, so this is the store's own cost (backends,
/// WAL writer, checkpointer). Backends that exit between two readings drop out of the sum,
/// so compare readings over a run whose connections stay open.
pub fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .map(cpu_seconds)
        .filter(|s| s.is_finite())
        .sum()
}

/// Busy and total CPU time of the whole machine so far, in clock ticks, from /proc/stat: how
/// close a run came to using every core.
pub fn machine_ticks() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let ticks: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: f64 = ticks.iter().sum();
    let idle = ticks.get(3).copied().unwrap_or(0.0) + ticks.get(4).copied().unwrap_or(0.0);
    (total - idle, total)
}

/// The parts of a benchmark named on its command line (`cargo bench --bench ingest --
/// forward`), or all of them when none is named.
pub struct Parts(Vec<String>);

impl Parts {
    /// The parts named; one the benchmark (`bench`) does not have among `known` stops the run.
    pub fn from_args(bench: &str, known: &[&str]) -> Parts {
        let named: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| !a.starts_with("--"))
            .collect();
        if let Some(unknown) = named.iter().find(|p| !known.contains(&p.as_str())) {
            panic!("no part {unknown:?} in the {bench} benchmark; its parts: {known:?}");
        }
        Parts(named)
    }

    pub fn runs(&self, part: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|p| p == part)
    }
}

/// Waits until the machine is quiet (under a fifth of its CPU busy over a quarter second),
/// at most `QUIET_DEADLINE`: what a server left to do after its round (indexing, draining a
/// forwarding backlog) is done before the next round, not counted against it. Answers the
/// seconds waited.
pub async fn settle() -> f64 {
    const WINDOW: Duration = Duration::from_millis(250);
    const QUIET_DEADLINE: Duration = Duration::from_secs(60);
    let started = Instant::now();
    loop {
        let (busy_before, all_before) = machine_ticks();
        tokio::time::sleep(WINDOW).await;
        let (busy_after, all_after) = machine_ticks();
        let busy = (busy_after - busy_before) / (all_after - all_before).max(1.0);
        if busy < 0.2 || started.elapsed() > QUIET_DEADLINE {
            return started.elapsed().as_secs_f64();
        }
    }
}

/// VmHWM of a process from /proc, in MiB.
pub fn peak_rss_mib(pid: u32) -> f64 {
    status_mib(pid, "VmHWM")
}

/// A memory field of /proc/PID/status (`VmRSS`, `VmHWM`), in MiB.
pub fn status_mib(pid: u32, field: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// The ~2 KB Stripe event the load sends: the compact JSON of the real fixture, about the
/// size of Stripe's smaller events.
pub fn payload_template() -> String {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/payloads/stripe/charge.failed.json"
    );
    let full: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    serde_json::to_string(&full).unwrap()
}

/// The template with a unique id per request (so none is a redelivery).
pub fn stripe_body(template: &str, n: u64) -> Vec<u8> {
    template
        .replacen(
            "evt_YaW1HPMKJVd7TyO6FGbiUSCT",
            &format!("evt_bench_{n:016}"),
            1,
        )
        .into_bytes()
}

/// The flag that makes a benchmark binary run as the no-op reference server instead.
pub const NOOP_FLAG: &str = "--noop-server";

/// The reference server, in its own process like `hookwatch serve` so both are measured the
/// same way: this benchmark binary started again with `NOOP_FLAG`. Returns it with its URL.
pub async fn start_noop_server() -> Hookwatch {
    let exe = std::env::current_exe().expect("the benchmark binary");
    let mut child = tokio::process::Command::new(exe)
        .arg(NOOP_FLAG)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the no-op server");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next_line().await.unwrap().expect("banner");
    let base = first.split_whitespace().last().unwrap().to_string();
    Hookwatch { child, base }
}

/// Runs the no-op server until killed: a multi-threaded runtime like hookwatch's, reading each
/// body and answering 200 with a small JSON — everything hookwatch does except the work.
pub fn run_noop_server() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let app = axum::Router::new().route(
            "/webhook/{source}",
            axum::routing::post(|body: axum::body::Bytes| async move {
                axum::Json(serde_json::json!({"status": "received", "size": body.len()}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        println!(
            "no-op server listening on http://{}",
            listener.local_addr().unwrap()
        );
        axum::serve(listener, app).await.unwrap();
    });
}

/// What one load run measured.
#[derive(Debug, Clone)]
pub struct Report {
    pub ok: usize,
    pub errors: usize,
    pub seconds: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Report {
    pub fn rps(&self) -> f64 {
        self.ok as f64 / self.seconds
    }
}

/// A request to send: path, headers and body, built fresh for each request number.
pub type MakeRequest = Arc<dyn Fn(u64) -> (Vec<(String, String)>, Vec<u8>) + Send + Sync>;

/// Request numbers, unique across every load of the process, so no two runs send the same
/// delivery id (which would be answered `duplicate` instead of stored).
static NEXT_REQUEST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// When a load stops: at a moment, or after a number of requests.
#[derive(Clone, Copy)]
pub enum Stop {
    At(Instant),
    After(u64),
}

/// Sends requests from `concurrency` connections for `duration`; counts 200s as ok.
pub async fn load(url: &str, concurrency: usize, duration: Duration, make: MakeRequest) -> Report {
    load_until(url, concurrency, Stop::At(Instant::now() + duration), make).await
}

/// Sends requests from `concurrency` connections until `stop`; counts 200s as ok.
pub async fn load_until(url: &str, concurrency: usize, stop: Stop, make: MakeRequest) -> Report {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let start = Instant::now();
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, make, sent) =
            (client.clone(), url.to_string(), make.clone(), sent.clone());
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut errors) = (Vec::new(), 0usize);
            loop {
                let more = match stop {
                    Stop::At(deadline) => Instant::now() < deadline,
                    Stop::After(count) => {
                        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < count
                    }
                };
                if !more {
                    break;
                }
                match send_one(&client, &url, &make).await {
                    Some(micros) => latencies.push(micros),
                    None => errors += 1,
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.unwrap();
        all.extend(latencies);
        errors += e;
    }
    report(all, errors, start)
}

/// Sends `rate` requests a second for `duration`, each as its time comes whatever the
/// answers before it (an open loop, as webhooks arrive), at most `MOST_OPEN` at once: a
/// request that would exceed it is counted as an error, since the server fell behind.
pub async fn paced_load(url: &str, rate: u32, duration: Duration, make: MakeRequest) -> Report {
    const MOST_OPEN: usize = 256;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(MOST_OPEN)
        .build()
        .unwrap();
    let open = Arc::new(tokio::sync::Semaphore::new(MOST_OPEN));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut errors = 0;
    while start.elapsed() < duration {
        tick.tick().await;
        let Ok(permit) = open.clone().try_acquire_owned() else {
            errors += 1;
            continue;
        };
        let (client, url, make) = (client.clone(), url.to_string(), make.clone());
        tasks.spawn(async move {
            let answered = send_one(&client, &url, &make).await;
            drop(permit);
            answered
        });
    }
    let mut all = Vec::new();
    while let Some(answered) = tasks.join_next().await {
        match answered.unwrap() {
            Some(micros) => all.push(micros),
            None => errors += 1,
        }
    }
    report(all, errors, start)
}

/// Sends the next numbered request; answers its latency in microseconds when it got a 200.
async fn send_one(client: &reqwest::Client, url: &str, make: &MakeRequest) -> Option<u32> {
    let n = NEXT_REQUEST.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (headers, body) = make(n);
    let mut request = client.post(url).body(body);
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let sent = Instant::now();
    match request.send().await {
        Ok(r) if r.status() == 200 => {
            let _ = r.bytes().await;
            Some(sent.elapsed().as_micros() as u32)
        }
        _ => None,
    }
}

fn report(mut latencies: Vec<u32>, errors: usize, start: Instant) -> Report {
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_unstable();
    Report {
        ok: latencies.len(),
        errors,
        seconds,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
    }
}

/// The q-th percentile of sorted microsecond samples, in milliseconds.
pub fn percentile(sorted_micros: &[u32], q: f64) -> f64 {
    if sorted_micros.is_empty() {
        return f64::NAN;
    }
    let index = ((sorted_micros.len() as f64 - 1.0) * q).round() as usize;
    sorted_micros[index] as f64 / 1000.0
}

/// Seconds per load run: `BENCH_SECS`, default 10.
pub fn bench_duration() -> Duration {
    let secs = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    Duration::from_secs(secs)
}
