//! PostgreSQL for the benchmarks. Ingest: a fresh database on the local server (dropped
//! afterwards) and one load split across one or more `hookwatch serve` instances sharing it.
//! Query: `seeded_database`, a loaded database kept between runs like the SQLite file.
//!
//! The server is `HOOKWATCH_BENCH_PG` (a base URL such as `postgres://me@127.0.0.1:5432`),
//! else `postgres://postgres@127.0.0.1:5432`. Unreachable: the run is skipped with a message.

use std::time::Instant;

use hookwatch::store::{self, DatabaseUrl, Store, StoreError, StoreSettings};
use tokio_postgres::NoTls;

use super::{Hookwatch, seed};

/// The server's base URL, without a database name or a trailing slash.
fn server_base() -> String {
    let base = std::env::var("HOOKWATCH_BENCH_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    base.trim_end_matches('/').to_string()
}

/// A connection to the server's `postgres` database, from which others are created and
/// dropped; `None`, after saying so, when PostgreSQL is unreachable.
async fn admin_client(admin: &str) -> Option<tokio_postgres::Client> {
    match tokio_postgres::connect(admin, NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Some(client)
        }
        Err(error) => {
            eprintln!("skipping PostgreSQL runs: {error}");
            None
        }
    }
}

/// A database that lives for one benchmark run.
pub struct BenchDb {
    pub url: String,
    name: String,
    admin: String,
}

impl BenchDb {
    /// Creates `hookwatch_bench_<pid>_<n>`, or `None` when PostgreSQL is unreachable.
    pub async fn create(n: usize) -> Option<BenchDb> {
        let base = server_base();
        let admin = format!("{base}/postgres");
        let client = admin_client(&admin).await?;
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

/// The query benchmark's database with `count` events, `hookwatch_bench_query_<count>`, kept
/// between runs like the SQLite file: reused when it holds exactly `count` events, else made
/// again and loaded with `seed::load`, so both stores hold the same events. Returns its URL,
/// or `None` when PostgreSQL is unreachable.
pub async fn seeded_database(count: u64) -> Option<String> {
    let base = server_base();
    let admin = admin_client(&format!("{base}/postgres")).await?;
    let name = format!("hookwatch_bench_query_{count}");
    // Plain TCP on loopback, as over a Unix socket: the figures measure the store, not TLS
    // (which libpq's `prefer` default would negotiate with a server that has `ssl = on`).
    let url = format!("{base}/{name}?sslmode=disable");
    if stored_events(&url).await == Some(count as i64) {
        println!("reusing PostgreSQL database {name} ({count} events)");
    } else {
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            admin
                .batch_execute(&sql)
                .await
                .expect("recreate the query database");
        }
        populate(&url, count).await;
    }
    Some(url)
}

async fn open_store(url: &str) -> Result<Store, StoreError> {
    store::open(
        &DatabaseUrl::Postgres(url.into()),
        &StoreSettings::default(),
    )
    .await
}

/// Events in the database at `url`, by the store's own count; `None` when there is no such
/// database (or it cannot be read), which means: load it again.
async fn stored_events(url: &str) -> Option<i64> {
    let store = open_store(url).await.ok()?;
    store.stats(None).await.ok().map(|stats| stats.total)
}

/// Loads `count` events through `Store::Postgres`, then vacuums and analyzes. A freshly loaded
/// table has no planner statistics and no visibility map, which a database in service has
/// (autovacuum): without this the first run would measure other plans than later runs, with
/// autovacuum working beside it.
async fn populate(url: &str, count: u64) {
    let store = open_store(url).await.expect("open the query database");
    seed::load(&store, count).await;
    let started = Instant::now();
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .expect("connect to the query database");
    tokio::spawn(connection);
    client
        .batch_execute("VACUUM (ANALYZE)")
        .await
        .expect("vacuum the query database");
    println!(
        "vacuumed and analyzed in {:.1}s",
        started.elapsed().as_secs_f64()
    );
}

/// `instances` servers of `hookwatch serve` on one fresh database, for the ingest benchmark;
/// `None` without PostgreSQL. The database is dropped with the returned `BenchDb`.
pub async fn cluster(instances: usize, dir: &std::path::Path) -> Option<(BenchDb, Vec<Hookwatch>)> {
    cluster_of(super::BIN, instances, dir).await
}

/// The same with another build of hookwatch (`baseline_binary`).
pub async fn cluster_of(
    binary: &str,
    instances: usize,
    dir: &std::path::Path,
) -> Option<(BenchDb, Vec<Hookwatch>)> {
    // Numbered apart from `cluster`'s, so both may exist in one run.
    let number = instances + if binary == super::BIN { 0 } else { 100 };
    let db = BenchDb::create(number).await?;
    let mut servers = Vec::new();
    for _ in 0..instances {
        servers.push(Hookwatch::start_binary(binary, dir, &["--database", &db.url]).await);
    }
    Some((db, servers))
}

/// The build to compare the PostgreSQL figures with, from `HOOKWATCH_BENCH_BASELINE` (the
/// path of another `hookwatch` binary, e.g. a release build of the commit before a change);
/// `None` when it is not set. An unusable path stops the run: a comparison silently left
/// out would read as a pass.
pub fn baseline_binary() -> Option<String> {
    let path = std::env::var("HOOKWATCH_BENCH_BASELINE").ok()?;
    assert!(
        std::path::Path::new(&path).is_file(),
        "HOOKWATCH_BENCH_BASELINE={path} is not a file"
    );
    Some(path)
}
