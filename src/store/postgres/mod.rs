//! The PostgreSQL store: for production and for several instances sharing one database.
//!
//! A `deadpool-postgres` pool serves reads; one group-committing writer task per instance
//! turns concurrent deliveries into one transaction per batch (`writer`); a listener task
//! turns `NOTIFY`s from every instance into feed items (`listen`). Dedup is a unique index,
//! so it holds across instances. Entry point: `PgStore::open`. Schema in `schema`, queries in
//! `read`. The cluster design (ordering, claiming work once) is in `ARCHITECTURE-postgres.md`.

mod alerts;
mod batch;
mod ledger;
mod listen;
mod read;
mod rollup;
mod schema;
mod sessions;
mod settle;
pub(crate) mod tls;
mod writer;

pub use tls::is_on_this_machine;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::feed::Feed;
use crate::model::{Alert, Event, NewAlert, NewEvent};
use crate::store::sql::{dollar_placeholders, enrichment as enrichment_sql};
use crate::store::{
    AlertNotice, EnrichmentWrite, EventFilter, Inserted, SessionRecord, SessionWrite, SourceRow,
    Stats, StoreError,
};

/// Connections in the pool when nothing says otherwise: enough for the writer, the listener's
/// catch-up reads and a dashboard's worth of API requests, small enough that a few instances
/// stay well under PostgreSQL's default `max_connections` of 100.
pub const DEFAULT_POOL_SIZE: usize = 16;
/// Writes waiting for the writer before senders wait too; bounds memory under overload.
const QUEUE_DEPTH: usize = 4096;
/// How long a request waits for a connection, or for one to be made, before it is told the
/// store is unavailable (503). Short: a sender retries, a hung request helps nobody.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// What `PgStore::open` needs.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// A `postgres://` URL; may carry a password, so it is never logged. Its `sslmode` and
    /// `sslrootcert` (libpq's names) choose TLS, see `tls`.
    pub url: String,
    pub pool_size: usize,
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
    /// The settled bound when the store opened (`settle`): the listener publishes what
    /// follows, even events stored before it got to run.
    feed_from: i64,
    /// The ids this instance's writer drew and what became of them, for its listener.
    ledger: Arc<ledger::Ledger>,
}

impl PgStore {
    /// Connects, applies pending migrations (under an advisory lock) and starts the writer.
    /// Fails when the database is unreachable, so a misconfigured URL is noticed at start.
    pub async fn open(config: &PgConfig) -> Result<PgStore, StoreError> {
        let tls::ConnectOptions {
            config: mut pg_config,
            tls,
        } = tls::connect_options(&config.url).map_err(|e| StoreError::Open(e.to_string()))?;
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
            .max_size(config.pool_size.max(2))
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let mut client = pool.get().await.map_err(|e| {
            StoreError::Open(format!("cannot connect to PostgreSQL: {}", causes(&e)))
        })?;
        schema::migrate(&mut client)
            .await
            .map_err(|e| StoreError::Open(format!("migrating the PostgreSQL schema: {e}")))?;
        // The live feed starts here: events committed from now on, by any instance.
        let feed_from = settle::settled_now(&client, POOL_TIMEOUT)
            .await
            .map_err(|e| StoreError::Open(e.to_string()))?;
        drop(client);
        let (jobs, receiver) = mpsc::channel(QUEUE_DEPTH);
        let ledger = Arc::new(ledger::Ledger::default());
        tokio::spawn(writer::run(pool.clone(), receiver, ledger.clone()));
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool,
                jobs,
                pg_config,
                tls,
                feed_from,
                ledger,
            }),
        })
    }

    pub(super) async fn insert(&self, event: NewEvent) -> Result<Inserted, StoreError> {
        let (reply, answer) = oneshot::channel();
        let gone = || StoreError::Unavailable("the writer has stopped".into());
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

    pub(super) async fn list(&self, filter: EventFilter) -> Result<Vec<Event>, StoreError> {
        read::list(&*self.client().await?, &filter)
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
            ledger: self.inner.ledger.clone(),
        };
        tokio::spawn(listener.run(self.inner.feed_from, shutdown));
    }

    async fn client(&self) -> Result<Object, StoreError> {
        self.inner.pool.get().await.map_err(unavailable)
    }
}

/// An error with its causes (`error performing TLS handshake: invalid peer certificate:
/// UnknownIssuer`): tokio-postgres keeps the reason a connection failed in `source()`.
pub(super) fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let more = inner.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = inner.source();
    }
    text
}

/// Every database failure on the request path means "try again later" to the caller.
fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}
