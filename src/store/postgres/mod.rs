//! The PostgreSQL store: for production and for several instances sharing one database.
//!
//! A `deadpool-postgres` pool serves reads; one group-committing writer task per instance
//! turns concurrent deliveries into one statement per batch (`writer`, `batch`,
//! `redeliver`); a listener task tails the `events` table and publishes every instance's
//! events on the feed (`listen`, whose module doc explains why ids become visible in order).
//! Dedup is a unique index, so it holds across instances. Entry point: `PgStore::open`.
//! Schema in `schema`, queries in `read`, alerts in `alerts`, TLS in `tls`.

mod alerts;
mod archive;
mod batch;
mod forward;
mod index;
mod listen;
mod prune;
mod read;
mod redeliver;
mod rollup;
mod schema;
mod sessions;
mod tls;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;
use tokio_util::sync::CancellationToken;

pub use tls::PgUrlError;

use crate::feed::Feed;
use crate::metrics::StoreMetrics;
use crate::model::{Alert, Event, NewAlert, NewEvent};
use crate::store::sql::{dollar_placeholders, enrichment as enrichment_sql};
use crate::store::{
    AlertNotice, Cause, Causes, EnrichmentWrite, EventFilter, ForwardRead, ForwardRows,
    ForwardWrite, Inserted, SessionRecord, SessionWrite, SourceRow, Stats, StoreError,
};

/// Writes waiting for the writer before senders wait too; bounds memory under overload.
const QUEUE_DEPTH: usize = 4096;
/// How long a request waits for a connection, or for one to be made, before it is told the
/// store is unavailable (503). Short: a sender retries, a hung request helps nobody.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// What went wrong in PostgreSQL. Messages never contain the URL: it may carry a password.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error(transparent)]
    Url(#[from] PgUrlError),
    #[error("cannot set up the connection pool: {0}")]
    Build(#[source] deadpool_postgres::BuildError),
    /// The first connection, at start; the message carries every cause (a TLS handshake's
    /// reason is several sources deep).
    #[error("cannot connect to PostgreSQL: {}", Causes(.0))]
    Connect(#[source] deadpool_postgres::PoolError),
    #[error("migrating the PostgreSQL schema: {0}")]
    Migrate(#[source] tokio_postgres::Error),
    #[error("no connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the original of a redelivery disappeared while it was counted")]
    Vanished,
    #[error("the listening connection closed")]
    ListenerLost,
}

impl PgError {
    /// Whether trying the same batch again may succeed at once. A connection lost while the
    /// batch statement ran is not retried: the outcome is unknown, and the sender's own retry
    /// (after the 503) is answered `duplicate` when it did commit.
    fn is_transient(&self) -> bool {
        let PgError::Db(e) = self else { return false };
        matches!(
            e.code(),
            Some(&SqlState::T_R_DEADLOCK_DETECTED) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
        )
    }
}

/// Checks a `postgres://` URL as `PgStore::open` will read it (`sslmode`, `sslrootcert`).
pub fn check_url(url: &str) -> Result<(), PgUrlError> {
    tls::connect_options(url).map(|_| ())
}

/// A handle to the store; cheap to clone.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    jobs: mpsc::Sender<writer::Job>,
    /// For the listener's own connection, which must live outside the pool.
    pg_config: tokio_postgres::Config,
    /// The TLS connector of the pool, for that connection too.
    tls: tls::Connector,
    /// The newest visible id when the store opened: the listener publishes what follows,
    /// even events stored before it got to run.
    feed_from: i64,
    /// The writer's batch timings.
    metrics: StoreMetrics,
}

impl PgStore {
    /// Connects, applies pending migrations (under an advisory lock) and starts the writer,
    /// with at most `pool_size` pooled connections. Fails when the database is unreachable,
    /// so a misconfigured URL is noticed at start.
    pub async fn open(
        url: &str,
        pool_size: usize,
        metrics: StoreMetrics,
    ) -> Result<PgStore, StoreError> {
        Self::connect(url, pool_size, metrics)
            .await
            .map_err(StoreError::open)
    }

    async fn connect(
        url: &str,
        pool_size: usize,
        metrics: StoreMetrics,
    ) -> Result<PgStore, PgError> {
        let tls::ConnectOptions {
            config: mut pg_config,
            tls,
        } = tls::connect_options(url)?;
        if pg_config.get_connect_timeout().is_none() {
            pg_config.connect_timeout(POOL_TIMEOUT);
        }
        if pg_config.get_application_name().is_none() {
            pg_config.application_name("hookwatch");
        }
        let manager = Manager::from_config(
            pg_config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(2))
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(PgError::Build)?;
        let mut client = pool.get().await.map_err(PgError::Connect)?;
        schema::migrate(&mut client)
            .await
            .map_err(PgError::Migrate)?;
        // The live feed starts here: every id up to the newest visible one is final.
        let feed_from = client
            .query_one("SELECT COALESCE(MAX(id), 0) FROM events", &[])
            .await?
            .get(0);
        drop(client);
        let (jobs, receiver) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(writer::run(pool.clone(), receiver, metrics.clone()));
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool,
                jobs,
                pg_config,
                tls,
                feed_from,
                metrics,
            }),
        })
    }

    /// The writer's batch timings.
    pub(super) fn metrics(&self) -> &StoreMetrics {
        &self.inner.metrics
    }

    pub(super) async fn insert(&self, event: NewEvent) -> Result<Inserted, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable(Cause::WriterStopped);
        self.inner
            .jobs
            .send(writer::Job { event, reply })
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }

    pub(super) async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
        read::get(&*self.client().await?, id)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn get_many(&self, ids: Vec<i64>) -> Result<Vec<Event>, StoreError> {
        read::get_many(&*self.client().await?, &ids)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn list(
        &self,
        filter: EventFilter,
        bodies: bool,
    ) -> Result<Vec<Event>, StoreError> {
        read::list(&*self.client().await?, &filter, bodies)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn stats(&self, since: Option<DateTime<Utc>>) -> Result<Stats, StoreError> {
        read::stats(&*self.client().await?, since, Utc::now())
            .await
            .map_err(unavailable)
    }

    pub(super) async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        read::sources(&*self.client().await?)
            .await
            .map_err(unavailable)
    }

    /// A claim or a document (see `Store::claim_enrichment`); answers whether a row changed.
    pub(super) async fn write_enrichment(
        &self,
        id: i64,
        write: EnrichmentWrite,
    ) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let changed = match write {
            EnrichmentWrite::Claim { now, until } => {
                let sql = dollar_placeholders(enrichment_sql::CLAIM);
                let pending = enrichment_sql::PENDING;
                client.execute(&sql, &[&id, &pending, &now, &until]).await
            }
            EnrichmentWrite::Set(document) => {
                let sql = dollar_placeholders(enrichment_sql::SET);
                client.execute(&sql, &[&id, &document]).await
            }
        };
        changed.map(|rows| rows > 0).map_err(unavailable)
    }

    pub(super) async fn expired_enrichment_claims(
        &self,
        now: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let client = self.client().await?;
        let sql = dollar_placeholders(enrichment_sql::EXPIRED);
        let rows = client
            .query(&sql, &[&now, &i64::from(limit)])
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(unavailable))
            .collect()
    }

    pub(super) async fn claim_alert(
        &self,
        alert: &NewAlert,
        until: i64,
    ) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        alerts::claim(&client, alert, until)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn alert_notice(&self, notice: AlertNotice) -> Result<Vec<Alert>, StoreError> {
        let client = self.client().await?;
        alerts::notice(&client, notice).await.map_err(unavailable)
    }

    pub(super) async fn alerts(&self, limit: u32) -> Result<Vec<Alert>, StoreError> {
        let client = self.client().await?;
        alerts::list(&client, limit).await.map_err(unavailable)
    }

    /// A forwarding queue write (see `store::forward`) on a pooled connection.
    pub(super) async fn forward_write(
        &self,
        write: ForwardWrite,
    ) -> Result<ForwardRows, StoreError> {
        let mut client = self.client().await?;
        forward::write(&mut client, &write)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn forward_read(&self, read: ForwardRead) -> Result<ForwardRows, StoreError> {
        let client = self.client().await?;
        forward::read(&client, &read).await.map_err(unavailable)
    }

    /// A session write (see `store::session`) on a pooled connection.
    pub(super) async fn write_session(&self, write: SessionWrite) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        sessions::write(&mut client, &write)
            .await
            .map_err(unavailable)
    }

    pub(super) async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        let client = self.client().await?;
        sessions::get(&client, id_hash).await.map_err(unavailable)
    }

    pub(super) async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Starts the listener that publishes every instance's new events on `feed`, in id order,
    /// until `shutdown`; the only publisher of PostgreSQL events, so each reaches the feed once.
    pub(super) fn start_feed(&self, feed: Feed, shutdown: CancellationToken) {
        let listener = listen::Listener {
            pg_config: self.inner.pg_config.clone(),
            tls: self.inner.tls.clone(),
            feed,
        };
        tokio::spawn(listener.run(self.inner.feed_from, shutdown));
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.inner.pool.get().await.map_err(unavailable)
    }
}

/// Every database failure on the request path means "try again later" to the caller.
fn unavailable(error: impl Into<PgError>) -> StoreError {
    StoreError::unavailable(error.into())
}
