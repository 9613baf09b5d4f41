//! PostgreSQL runs for the ingest benchmark: a fresh database on the local server (dropped
//! afterwards) and one load split across one or more `hookwatch serve` instances sharing it.
//!
//! The server is `HOOKWATCH_BENCH_PG` (a base URL such as `postgres://me@127.0.0.1:5432`),
//! else `postgres://postgres@127.0.0.1:5432`. Unreachable: the run is skipped with a message.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::NoTls;

use super::{Hookwatch, MakeRequest, Report, load};

/// A database that lives for one benchmark run.
pub struct BenchDb {
    pub url: String,
    name: String,
    admin: String,
}

impl BenchDb {
    /// Creates `hookwatch_bench_<pid>_<n>`, or `None` when PostgreSQL is unreachable.
    pub async fn create(n: usize) -> Option<BenchDb> {
        let base = std::env::var("HOOKWATCH_BENCH_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let admin = format!("{}/postgres", base.trim_end_matches('/'));
        let (client, connection) = match tokio_postgres::connect(&admin, NoTls).await {
            Ok(pair) => pair,
            Err(error) => {
                eprintln!("skipping PostgreSQL runs: {error}");
                return None;
            }
        };
        tokio::spawn(connection);
        let name = format!("hookwatch_bench_{}_{n}", std::process::id());
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the bench database");
        // Plain TCP on loopback, as over a Unix socket: the figures measure the store, not
        // TLS (which a `prefer` default would negotiate with a server that has `ssl = on`).
        let url = format!("{}/{name}?sslmode=disable", base.trim_end_matches('/'));
        Some(BenchDb { url, name, admin })
    }
}

impl Drop for BenchDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let (client, connection) = tokio_postgres::connect(&admin, NoTls)
                    .await
                    .map_err(std::io::Error::other)?;
                tokio::spawn(connection);
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                client
                    .batch_execute(&sql)
                    .await
                    .map_err(std::io::Error::other)
            })
        })
        .join();
    }
}

/// Starts `instances` servers on one fresh database and loads them at once, `concurrency`
/// connections split between them. Request numbers are interleaved (instance k sends
/// k, k + instances, …) so no two instances send the same delivery id. Returns the merged
/// report (p50/p99: the worst instance's) and the rows stored, or `None` without PostgreSQL.
pub async fn postgres_run(
    instances: usize,
    concurrency: usize,
    duration: Duration,
    make: MakeRequest,
) -> Option<(Report, i64)> {
    let db = BenchDb::create(instances).await?;
    let dir = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    for _ in 0..instances {
        servers.push(Hookwatch::start(dir.path(), &["--database", &db.url]).await);
    }
    let runs = servers.iter().enumerate().map(|(k, server)| {
        let make = make.clone();
        let interleaved: MakeRequest = Arc::new(move |n| make(n * instances as u64 + k as u64));
        let url = format!("{}/webhook/stripe", server.base);
        async move { load(&url, concurrency / instances, duration, interleaved).await }
    });
    let reports = futures_util::future::join_all(runs).await;
    let stats: serde_json::Value = reqwest::get(format!("{}/api/stats", servers[0].base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for server in servers {
        server.stop().await;
    }
    let merged = Report {
        ok: reports.iter().map(|r| r.ok).sum(),
        errors: reports.iter().map(|r| r.errors).sum(),
        seconds: reports.iter().map(|r| r.seconds).fold(0.0, f64::max),
        p50_ms: reports.iter().map(|r| r.p50_ms).fold(0.0, f64::max),
        p99_ms: reports.iter().map(|r| r.p99_ms).fold(0.0, f64::max),
    };
    Some((merged, stats["total"].as_i64().unwrap_or(-1)))
}
