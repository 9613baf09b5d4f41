//! PostgreSQL for tests: a fresh database per test on the shared server, dropped afterwards.
//!
//! The server is `127.0.0.1:5432` with trust auth (user `postgres`, else `root`), or the base
//! URL in `HOOKWATCH_TEST_PG` (e.g. `postgres://me@127.0.0.1:5432`). When it is unreachable a
//! test is skipped loudly; with `CI` set it fails instead, so CI never silently skips.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio_postgres::NoTls;

/// The advisory lock every writer of the PostgreSQL store holds from drawing event ids to its
/// COMMIT (`batch::IDS_LOCK`): whatever else inserts into `events` must take it too.
pub const IDS_LOCK: i64 = 0x686f_6f6b_6964_7321;

/// A database that exists for one test; dropped (with its connections) when this is dropped.
pub struct TestDb {
    /// Connection URL of the fresh database.
    pub url: String,
    name: String,
    admin: String,
}

/// Base URLs tried in order when `HOOKWATCH_TEST_PG` is not set.
const CANDIDATES: [&str; 2] = [
    "postgres://postgres@127.0.0.1:5432",
    "postgres://root@127.0.0.1:5432",
];

/// Whether a missing PostgreSQL must fail the test rather than skip it.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A fresh, empty database, or `None` (after saying so) when PostgreSQL is unreachable.
pub async fn fresh_db() -> Option<TestDb> {
    let bases: Vec<String> = match std::env::var("HOOKWATCH_TEST_PG") {
        Ok(base) => vec![base.trim_end_matches('/').to_string()],
        Err(_) => CANDIDATES.iter().map(|s| s.to_string()).collect(),
    };
    let mut errors = Vec::new();
    for base in &bases {
        for admin_db in ["postgres", "test"] {
            let admin = format!("{base}/{admin_db}");
            match tokio_postgres::connect(&admin, NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    let name = unique_name();
                    client
                        .batch_execute(&format!("CREATE DATABASE {name}"))
                        .await
                        .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
                    let url = format!("{base}/{name}");
                    return Some(TestDb { url, name, admin });
                }
                Err(e) => errors.push(format!("{admin}: {e}")),
            }
        }
    }
    let message = format!("PostgreSQL is unreachable ({})", errors.join("; "));
    if in_ci() {
        panic!("{message}; CI is set, so PostgreSQL tests may not be skipped");
    }
    eprintln!("SKIPPED (PostgreSQL test): {message}");
    None
}

/// `hookwatch_test_<random>`: unique across parallel tests and concurrent test runs.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let random = RandomState::new().hash_one((std::process::id(), n, std::time::SystemTime::now()));
    format!("hookwatch_test_{random:016x}")
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = self.admin.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin, NoTls)
                    .await
                    .map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                client.batch_execute(&sql).await.map_err(|e| e.to_string())
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database {}: {error}", self.name);
        }
    }
}
