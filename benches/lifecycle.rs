//! Lifecycle benchmark on SQLite: `export` and `import` of BENCH_EVENTS events (default
//! 1,000,000) by the real binary, with rate and peak memory, and the file size under steady
//! ingest with `max_events = 100000` while pruning runs.
//!
//! Run: `cargo bench --bench lifecycle` (`BENCH_EVENTS=N` to change the size). The seeded
//! database is the read benchmarks' (`target/bench/query-<N>.db`), loaded once through the
//! store. Printed ratios are measured / target: at least 1.0 is a pass for the rates, at most
//! 1.0 for memory and growth.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hookwatch::retention::{Retention, task};
use hookwatch::store::{self, DatabaseUrl, StoreSettings};
use support::{BIN, peak_rss_mib, seed};
use tokio_util::sync::CancellationToken;

/// Targets: events a second for export and import, and peak memory of each.
const EXPORT_PER_SEC: f64 = 50_000.0;
const IMPORT_PER_SEC: f64 = 20_000.0;
const PEAK_MIB: f64 = 100.0;
/// Steady ingest: the limit, and the two moments whose file sizes are compared.
const MAX_EVENTS: u64 = 100_000;
const EARLY: u64 = 150_000;
const LATE: u64 = 500_000;
/// The most the file may grow between them.
const GROWTH: f64 = 1.20;
/// How many events arrive between two pruning rounds in the steady-ingest run.
const ROUND: u64 = 10_000;

#[tokio::main]
async fn main() {
    let count: u64 = std::env::var("BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let seeded = seed::seeded_database(count).await;
    let dir = tempfile::tempdir().unwrap();
    let source = seed::copy_database(&seeded, dir.path());
    let export_file = dir.path().join("events.ndjson");
    let source_url = format!("sqlite://{}", source.display());
    let export = run(
        dir.path(),
        &[
            "export",
            "--database",
            &source_url,
            "--output",
            export_file.to_str().unwrap(),
        ],
    );
    report("export", count, export, EXPORT_PER_SEC);
    let target_url = format!("sqlite://{}", dir.path().join("imported.db").display());
    let import = run(
        dir.path(),
        &[
            "import",
            "--database",
            &target_url,
            export_file.to_str().unwrap(),
        ],
    );
    report("import", count, import, IMPORT_PER_SEC);
    steady_ingest(dir.path()).await;
}

/// Runs the binary to its end; answers its wall time and the last peak memory seen.
fn run(dir: &Path, args: &[&str]) -> (Duration, f64) {
    let started = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .spawn()
        .expect("start hookwatch");
    let pid = child.id();
    let mut peak: f64 = 0.0;
    loop {
        // VmHWM only grows, so the last reading before the exit is the peak, to 10 ms.
        let now = peak_rss_mib(pid);
        if now.is_finite() {
            peak = peak.max(now);
        }
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "hookwatch {args:?} failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    (started.elapsed(), peak)
}

fn report(what: &str, count: u64, (took, peak): (Duration, f64), target: f64) {
    let rate = count as f64 / took.as_secs_f64();
    println!(
        "{what}: {count} events in {:.1}s = {rate:.0}/s (target {target:.0}/s, ratio {:.2}); \
         peak RSS {peak:.1} MiB (target < {PEAK_MIB}, ratio {:.2})",
        took.as_secs_f64(),
        rate / target,
        peak / PEAK_MIB
    );
}

/// Ingest through the store with a pruning round every `ROUND` events; compares the file at
/// `EARLY` and `LATE` events received.
async fn steady_ingest(dir: &Path) {
    let path = dir.join("steady.db");
    let store = store::open(
        &DatabaseUrl::Sqlite(path.clone()),
        &StoreSettings::default(),
    )
    .await
    .unwrap();
    let retention = Retention {
        max_events: Some(MAX_EVENTS),
        ..Retention::default()
    };
    let never = CancellationToken::new();
    let mut early = 0;
    let mut received = 0;
    while received < LATE {
        let mut inserts = Vec::new();
        for n in received..received + ROUND {
            let store = store.clone();
            inserts.push(tokio::spawn(
                async move { store.insert(seed::event(n)).await },
            ));
        }
        for insert in inserts {
            insert.await.unwrap().unwrap();
        }
        received += ROUND;
        task::run(&store, &retention.plan(chrono::Utc::now()), &never)
            .await
            .unwrap();
        if received == EARLY {
            early = file_size(&path);
        }
    }
    let late = file_size(&path);
    let ratio = late as f64 / early as f64;
    println!(
        "steady ingest, max_events {MAX_EVENTS}: file {:.1} MiB at {EARLY} events, {:.1} MiB \
         at {LATE} (ratio {ratio:.2}, target ≤ {GROWTH}: {:.2} of the allowance)",
        early as f64 / 1048576.0,
        late as f64 / 1048576.0,
        ratio / GROWTH
    );
}

/// The database file with its WAL.
fn file_size(path: &Path) -> u64 {
    let wal = path.with_extension("db-wal");
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    size(path) + size(&wal)
}
