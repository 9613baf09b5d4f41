//! A large database for the read benchmarks: events loaded straight through the store (with
//! many inserts in flight, so group commit batches them), kept in `target/bench/` and reused by
//! later runs of the same size. `load` is shared with the PostgreSQL copy (`postgres`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::Utc;
use hookwatch::model::{NewEvent, Provider, Signature, Status};
use hookwatch::store::{self, DatabaseUrl, Store, StoreSettings};

pub const SOURCES: [&str; 5] = ["stripe", "github", "slack", "shopify", "generic"];
pub const TYPES: [&str; 10] = [
    "charge.failed",
    "charge.succeeded",
    "invoice.paid",
    "push",
    "pull_request.opened",
    "message",
    "orders/create",
    "customer.created",
    "payment_intent.payment_failed",
    "ping",
];

pub fn event(n: u64) -> NewEvent {
    let source = SOURCES[(n % 5) as usize];
    let event_type = TYPES[((n / 5) % 10) as usize];
    let body = format!(
        "{{\"id\":\"evt_{n:012}\",\"type\":\"{event_type}\",\"data\":{{\"object\":{{\"amount\":{},\"currency\":\"usd\",\"description\":\"benchmark event number {n} with some padding to look like a real payload\"}}}}}}",
        n % 10_000
    );
    NewEvent {
        source: source.into(),
        received_at: Utc::now(),
        method: "POST".into(),
        path: format!("/webhook/{source}"),
        query: String::new(),
        remote_addr: "127.0.0.1".into(),
        content_type: Some("application/json".into()),
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("user-agent".into(), "bench/1.0".into()),
        ],
        body: body.into_bytes(),
        provider: Provider::Generic,
        event_type: Some(event_type.into()),
        delivery_id: Some(format!("evt_{n:012}")),
        signature: Signature::Unverified,
        signature_reason: None,
        signature_failure: false,
        status: Status::Received,
        is_error: event_type.ends_with("failed"),
    }
}

/// Inserts `count` generated events through `store` with many inserts in flight, so group
/// commit batches them; the same loader for every backend, so both hold the same data.
pub async fn load(store: &Store, count: u64) {
    let started = Instant::now();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..512 {
        let (store, next) = (store.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= count {
                    break;
                }
                store.insert(event(n)).await.unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    println!(
        "loaded {count} events in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    index_all(store).await;
}

/// Runs the full-text index's steps until it holds every event, as a server's indexer does
/// once ingest is quiet, and prints how fast it went.
pub async fn index_all(store: &Store) {
    let started = Instant::now();
    let mut indexed = 0;
    loop {
        let step = store.index_step().await.unwrap();
        indexed += step.indexed;
        if !step.behind() {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "indexed {indexed} events for search in {secs:.1}s ({:.0} events/s)",
        indexed as f64 / secs
    );
}

pub fn database_path(count: u64) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("query-{count}.db"))
}

/// The database with `count` events, loading it first when no earlier run left one.
pub async fn seeded_database(count: u64) -> PathBuf {
    let path = database_path(count);
    if path.exists() {
        println!("reusing {} ({count} events)", path.display());
    } else {
        let url = DatabaseUrl::Sqlite(path.clone());
        let store = store::open(&url, &StoreSettings::default()).await.unwrap();
        load(&store, count).await;
    }
    path
}

/// Copies a seeded database (with its WAL, which holds the last commits) to `dir`, so a run
/// that writes does not change the shared copy.
pub fn copy_database(from: &Path, dir: &Path) -> PathBuf {
    let to = dir.join("bench.db");
    std::fs::copy(from, &to).unwrap();
    let wal = from.with_extension("db-wal");
    if wal.exists() {
        std::fs::copy(&wal, dir.join("bench.db-wal")).unwrap();
    }
    to
}
