//! The embedded SQLite store: WAL mode, `synchronous=FULL`, one group-committing writer
//! thread and a small pool of read-only connections that never wait for it.
//!
//! Entry point: `SqliteStore::open`. Schema in `schema`, the writer in `writer`, queries in
//! `read`.

mod alerts;
mod archive;
mod forward;
mod index;
mod prune;
mod read;
mod schema;
mod sessions;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::feed::Feed;
use crate::metrics::StoreMetrics;
use crate::model::{Alert, Event, NewAlert, NewEvent};
use crate::store::sql::enrichment as enrichment_sql;
use crate::store::{
    AlertNotice, Cause, EnrichmentWrite, EventFilter, ForwardRead, ForwardRows, ForwardWrite,
    Inserted, SessionRecord, SessionWrite, SourceRow, Stats, StoreError,
};

/// Writes waiting for the writer before senders wait too; bounds memory under overload.
const QUEUE_DEPTH: usize = 4096;
/// Idle reader connections kept open.
const MAX_IDLE_READERS: usize = 8;

/// What went wrong in SQLite.
#[derive(Debug, thiserror::Error)]
pub enum SqliteError {
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
    #[error("{0}")]
    Db(#[from] rusqlite::Error),
    #[error("cannot start the writer thread: {0}")]
    Thread(#[source] std::io::Error),
    #[error("a read failed to finish: {0}")]
    Task(#[source] tokio::task::JoinError),
    #[error("internal: a job and its result are out of step")]
    OutOfStep,
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    jobs: mpsc::Sender<writer::Job>,
    readers: ReadPool,
    /// Where the writer publishes each committed event; set once the app has a feed.
    feed: Arc<OnceLock<Feed>>,
    /// The newest id when the store opened: the feed's starting position.
    newest_at_open: i64,
    /// The writer's batch timings.
    metrics: StoreMetrics,
}

impl SqliteStore {
    /// Opens (creating if needed) and migrates the database, then starts the writer thread.
    pub fn open(path: &Path, metrics: StoreMetrics) -> Result<SqliteStore, StoreError> {
        let open_err = |source| {
            let path = path.to_path_buf();
            StoreError::open(SqliteError::File { path, source })
        };
        let mut conn = Connection::open(path).map_err(open_err)?;
        configure(&conn).map_err(open_err)?;
        // A 32 MB page cache keeps the hot index pages in the writer's own memory instead of
        // re-reading them from the OS on every batch.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000;
             PRAGMA cache_size = -32768;",
        )
        .map_err(open_err)?;
        schema::migrate(&mut conn).map_err(open_err)?;
        let newest_at_open = conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |row| {
                row.get(0)
            })
            .map_err(open_err)?;
        let (jobs, receiver) = mpsc::channel(QUEUE_DEPTH);
        let feed = Arc::new(OnceLock::new());
        let writer_feed = feed.clone();
        let writer_metrics = metrics.clone();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer::run(conn, receiver, &writer_feed, &writer_metrics))
            .map_err(|e| StoreError::open(SqliteError::Thread(e)))?;
        let readers = ReadPool {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                jobs,
                readers,
                feed,
                newest_at_open,
                metrics,
            }),
        })
    }

    /// The writer's batch timings.
    pub(super) fn metrics(&self) -> &StoreMetrics {
        &self.inner.metrics
    }

    /// The writer publishes each event on `feed` right after its commit, batch by batch, so
    /// subscribers see ids in increasing order. Only the first feed given is used; call it
    /// before taking deliveries, as events committed earlier are not published.
    pub(super) fn start_feed(&self, feed: Feed) {
        feed.advance(self.inner.newest_at_open);
        let _ = self.inner.feed.set(feed);
    }

    pub(super) async fn insert(&self, event: NewEvent) -> Result<Inserted, StoreError> {
        self.write(|reply| writer::Job::Insert { event, reply })
            .await
    }

    /// A claim or a document (see `Store::claim_enrichment`), through the writer thread.
    pub(super) async fn write_enrichment(
        &self,
        id: i64,
        write: EnrichmentWrite,
    ) -> Result<bool, StoreError> {
        self.write(|reply| writer::Job::Enrichment { id, write, reply })
            .await
    }

    pub(super) async fn expired_enrichment_claims(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(enrichment_sql::EXPIRED)?;
            let ids = stmt.query_map(rusqlite::params![now, limit], |row| row.get(0))?;
            ids.collect()
        })
        .await
    }

    pub(super) async fn claim_alert(
        &self,
        alert: &NewAlert,
        until: i64,
    ) -> Result<Option<i64>, StoreError> {
        let alert = alert.clone();
        self.write(|reply| writer::Job::ClaimAlert {
            alert,
            until,
            reply,
        })
        .await
    }

    pub(super) async fn alert_notice(&self, notice: AlertNotice) -> Result<Vec<Alert>, StoreError> {
        self.write(|reply| writer::Job::AlertNotice { notice, reply })
            .await
    }

    /// A forwarding queue write (see `store::forward`), through the writer thread.
    pub(super) async fn forward_write(
        &self,
        write: ForwardWrite,
    ) -> Result<ForwardRows, StoreError> {
        self.write(|reply| writer::Job::Forward { write, reply })
            .await
    }

    pub(super) async fn forward_read(&self, read: ForwardRead) -> Result<ForwardRows, StoreError> {
        self.read(move |c| forward::read(c, &read)).await
    }

    /// A session write (see `store::session`), through the writer thread.
    pub(super) async fn write_session(&self, write: SessionWrite) -> Result<u64, StoreError> {
        self.write(|reply| writer::Job::Session { write, reply })
            .await
    }

    pub(super) async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let id_hash = id_hash.to_string();
        self.read(move |c| sessions::get(c, &id_hash)).await
    }

    /// Hands a job to the writer thread and waits for its answer, which comes after the
    /// commit.
    async fn write<T>(
        &self,
        job: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> writer::Job,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable(Cause::WriterStopped);
        self.inner.jobs.send(job(reply)).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    pub(super) async fn alerts(&self, limit: u32) -> Result<Vec<Alert>, StoreError> {
        self.read(move |c| alerts::list(c, limit)).await
    }

    pub(super) async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
        self.read(move |c| read::get(c, id)).await
    }

    /// One connection and one blocking call for all of `ids`.
    pub(super) async fn get_many(&self, ids: Vec<i64>) -> Result<Vec<Event>, StoreError> {
        self.read(move |c| {
            let found = ids.into_iter().map(|id| read::get(c, id));
            found.filter_map(Result::transpose).collect()
        })
        .await
    }

    pub(super) async fn list(
        &self,
        filter: EventFilter,
        bodies: bool,
    ) -> Result<Vec<Event>, StoreError> {
        self.read(move |c| read::list(c, &filter, bodies)).await
    }

    pub(super) async fn stats(&self, since: Option<DateTime<Utc>>) -> Result<Stats, StoreError> {
        self.read(move |c| read::stats(c, since, Utc::now())).await
    }

    pub(super) async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        self.read(read::sources).await
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        self.read(|c| c.query_row("SELECT 1", [], |_| Ok(()))).await
    }

    /// Runs a query on a reader connection off the async threads.
    async fn read<T, F>(&self, query: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.readers.with(query))
            .await
            .map_err(|e| StoreError::unavailable(SqliteError::Task(e)))?
    }
}

/// Read-only connections, reused. SQLite connections are cheap but not free to open
/// (schema parsing), and a handful covers any number of concurrent API requests.
struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    fn with<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let unavailable = |e| StoreError::unavailable(SqliteError::Db(e));
        let pooled = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match pooled {
            Some(conn) => conn,
            None => self.open().map_err(unavailable)?,
        };
        let result = query(&conn).map_err(unavailable);
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE_READERS
        {
            idle.push(conn);
        }
        result
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        configure(&conn)?;
        conn.execute_batch("PRAGMA busy_timeout = 5000; PRAGMA cache_size = -8192;")?;
        Ok(conn)
    }
}

/// What every connection is set to. The query planner's stability guarantee (QPSG): without
/// it SQLite, while planning, compares a statement's bound values with the literals of
/// partial indexes and of its own terms, and then prepares the statement again whenever a
/// new value is bound, so every event read, claim and finished attempt would be parsed and
/// planned afresh. The queries that need a partial index name its literal themselves
/// (`state = 'pending'`), not as a bound value.
fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::store::forward_sql;
    use crate::store::sql::detail_query;

    /// How many times `sql` was prepared again over three runs with different values.
    fn reprepared(conn: &Connection, sql: &str) -> i32 {
        for id in 1..=3i64 {
            let mut stmt = conn.prepare_cached(sql).unwrap();
            let rows = stmt.query_map([id], |_| Ok(())).unwrap();
            assert_eq!(rows.count(), 0);
        }
        let stmt = conn.prepare_cached(sql).unwrap();
        stmt.get_status(StatementStatus::RePrepare)
    }

    #[test]
    fn statements_are_planned_once_whatever_values_they_are_given() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hookwatch.db");
        let mut writer = Connection::open(&path).unwrap();
        schema::migrate(&mut writer).unwrap();
        let reader = ReadPool {
            path: path.clone(),
            idle: Mutex::new(Vec::new()),
        }
        .open()
        .unwrap();
        // An event with its body, and a queue read: tables with partial indexes and joins.
        for sql in [detail_query("?1"), forward_sql::OF_EVENT.to_string()] {
            assert_eq!(reprepared(&reader, &sql), 0, "{sql}");
        }
        // Partial indexes whose condition a query implies without a bound value still serve.
        let dedup = format!("EXPLAIN QUERY PLAN {}", writer::FIND_ORIGINAL);
        let plan: String = reader
            .query_row(&dedup, ["stripe", "evt_1"], |r| r.get(3))
            .unwrap();
        assert!(plan.contains("events_dedup"), "{plan}");
        let unconfigured = Connection::open(&path).unwrap();
        let sql = detail_query("?1");
        assert!(reprepared(&unconfigured, &sql) > 0, "SQLite's default");
    }
}
