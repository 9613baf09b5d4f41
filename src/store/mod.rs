//! Durable storage of events, behind one small interface with a backend per folder.
//!
//! `open(url, settings)` is the only way in: it returns a `Store`, and callers never know
//! which backend they talk to (`sqlite`, `postgres` are private). Everything the features
//! need is here: insert with dedup, read one, list with filters, stats and sources, claims
//! and leases, and the feed of stored events. Depends only on `model`, `feed` and the writers' `metrics`; knows
//! nothing of HTTP.

mod archive;
mod error;
mod filter;
mod forward;
mod forward_sql;
mod index;
mod postgres;
mod prune;
mod rollup;
mod search;
mod session;
mod sql;
mod sqlite;
mod url;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use error::{Cause, Causes, StoreError};
pub use filter::{EventFilter, TypeMatch};
pub use forward::{
    After, AttemptRecord, ClaimScope, Delivery, DeliveryFilter, DeliveryState, Finished, Lease,
    NewDelivery, TargetTotals,
};
pub(crate) use forward::{ForwardRead, ForwardRows, ForwardWrite};
pub use index::{IndexStep, STEP_BYTES, STEP_EVENTS};
pub use prune::AgeCut;
pub use session::SessionRecord;
pub(crate) use session::SessionWrite;
pub use url::DatabaseUrl;

use tokio_util::sync::CancellationToken;

use crate::feed::Feed;
use crate::metrics::StoreMetrics;
use crate::model::{Alert, Event, NewAlert, NewEvent};

/// A write to an event's enrichment (`events.enrichment` and its lease, in microseconds).
#[derive(Debug, Clone)]
pub(crate) enum EnrichmentWrite {
    /// `{"pending":true}` until `until`, where there is no enrichment or the lease ran out
    /// before `now`.
    Claim { now: i64, until: i64 },
    /// The document, as JSON text; ends the lease.
    Set(String),
}

/// What to do about alert notifications (`Store::alert_notified`, `take_unnotified_alerts`).
#[derive(Debug, Clone, Copy)]
pub(crate) enum AlertNotice {
    /// Every sink is done with this alert.
    Done(i64),
    /// Lease alerts whose lease ran out before `now` until `until`, at most `limit`.
    Take { now: i64, until: i64, limit: u32 },
    /// The sender of alert `id` is still at work: extend its lease to `until`.
    Renew { id: i64, until: i64 },
}

/// What happened to a delivery handed to `insert`.
#[derive(Debug)]
pub enum Inserted {
    /// Committed durably; the stored event with its new id (shared with the feed).
    Stored(Arc<Event>),
    /// Same source and delivery id as an earlier received event: not stored again.
    Duplicate { id: i64 },
}

/// Totals for `/api/stats`.
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Stats {
    pub total: i64,
    pub by_source: BTreeMap<String, i64>,
    pub by_type: BTreeMap<String, i64>,
    pub errors: i64,
    pub duplicates: i64,
    pub rejected: i64,
    pub signature_failures: i64,
    pub latest: BTreeMap<String, DateTime<Utc>>,
    pub rate: Vec<RatePoint>,
}

/// Events of one source in one minute, for the dashboard's chart.
#[derive(Debug, Serialize, PartialEq)]
pub struct RatePoint {
    pub minute: DateTime<Utc>,
    pub source: String,
    pub count: i64,
}

/// One source as seen in the data, for `/api/sources`.
#[derive(Debug, Serialize, PartialEq)]
pub struct SourceRow {
    pub source: String,
    pub count: i64,
    pub errors: i64,
    pub last_received: DateTime<Utc>,
    pub provider: String,
}

/// PostgreSQL connections per instance when nothing says otherwise: enough for the writer,
/// the listener and a dashboard's worth of API requests, few enough that several instances
/// stay well under PostgreSQL's default `max_connections` of 100.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How to open a store, beyond its URL.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// PostgreSQL connections per instance (at least 2); SQLite ignores it.
    pub pool_size: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings {
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

/// Opens (creating and migrating as needed) the store `url` names. PostgreSQL connects at
/// once, so an unreachable or misconfigured server is noticed at start.
pub async fn open(url: &DatabaseUrl, settings: &StoreSettings) -> Result<Store, StoreError> {
    let metrics = StoreMetrics::default();
    let backend = match url {
        DatabaseUrl::Sqlite(path) => Backend::Sqlite(sqlite::SqliteStore::open(path, metrics)?),
        DatabaseUrl::Postgres(url) => {
            Backend::Postgres(postgres::PgStore::open(url, settings.pool_size, metrics).await?)
        }
    };
    Ok(Store(backend))
}

/// The opened store; cheap to clone.
#[derive(Clone)]
pub struct Store(Backend);

/// A plain enum rather than a trait object: the set of backends is closed and known, and
/// matching keeps every call static.
#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// The batch writer's timings, for `/metrics`.
    pub fn metrics(&self) -> &StoreMetrics {
        match &self.0 {
            Backend::Sqlite(s) => s.metrics(),
            Backend::Postgres(s) => s.metrics(),
        }
    }

    /// Stores a delivery, or reports it as a duplicate; returns only after the commit.
    pub async fn insert(&self, event: NewEvent) -> Result<Inserted, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.insert(event).await,
            Backend::Postgres(s) => s.insert(event).await,
        }
    }

    /// One whole event with headers and body, or `None`.
    pub async fn get(&self, id: i64) -> Result<Option<Event>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.get(id).await,
            Backend::Postgres(s) => s.get(id).await,
        }
    }

    /// Whole events with headers and bodies, in one read; ids not stored are left out, the
    /// rest come in no set order.
    pub async fn get_many(&self, ids: Vec<i64>) -> Result<Vec<Event>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.get_many(ids).await,
            Backend::Postgres(s) => s.get_many(ids).await,
        }
    }

    /// Event summaries matching the filter, newest first (oldest first with `after`).
    pub async fn list(&self, filter: EventFilter) -> Result<Vec<Event>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.list(filter, false).await,
            Backend::Postgres(s) => s.list(filter, false).await,
        }
    }

    /// Whether `list` checks the order of a search's phrases itself. When it does not, its
    /// answer holds every event with a phrase's words, and the caller checks their order
    /// (`search::TextQuery::phrases_occur`).
    pub fn checks_phrases(&self) -> bool {
        match &self.0 {
            Backend::Sqlite(_) => true,
            Backend::Postgres(_) => false,
        }
    }

    /// Like `list`, with each event's headers and body: candidates for filters that look
    /// inside them (`field`).
    pub async fn list_details(&self, filter: EventFilter) -> Result<Vec<Event>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.list(filter, true).await,
            Backend::Postgres(s) => s.list(filter, true).await,
        }
    }

    /// Counts since the given time.
    pub async fn stats(&self, since: Option<DateTime<Utc>>) -> Result<Stats, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.stats(since).await,
            Backend::Postgres(s) => s.stats(since).await,
        }
    }

    /// Every source that has sent at least one event.
    pub async fn sources(&self) -> Result<Vec<SourceRow>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.sources().await,
            Backend::Postgres(s) => s.sources().await,
        }
    }

    /// Claims an event for enrichment until `until`: marks it `{"pending":true}` only if it
    /// has no enrichment yet or its claim's lease ran out before `now` (the process that held
    /// it died), atomically, and answers whether this caller won. With several instances on
    /// one database exactly one holds a claim at a time.
    pub async fn claim_enrichment(
        &self,
        id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let claim = EnrichmentWrite::Claim {
            now: now.timestamp_micros(),
            until: until.timestamp_micros(),
        };
        match &self.0 {
            Backend::Sqlite(s) => s.write_enrichment(id, claim).await,
            Backend::Postgres(s) => s.write_enrichment(id, claim).await,
        }
    }

    /// Stores an event's enrichment document, replacing any claim or earlier result; answers
    /// whether the event exists.
    pub async fn set_enrichment(
        &self,
        id: i64,
        enrichment: &serde_json::Value,
    ) -> Result<bool, StoreError> {
        let set = EnrichmentWrite::Set(enrichment.to_string());
        match &self.0 {
            Backend::Sqlite(s) => s.write_enrichment(id, set).await,
            Backend::Postgres(s) => s.write_enrichment(id, set).await,
        }
    }

    /// Events whose enrichment claim ran out before `now`, oldest lease first, at most
    /// `limit`: work a dead process dropped, for the living to take over.
    pub async fn expired_enrichment_claims(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let now = now.timestamp_micros();
        match &self.0 {
            Backend::Sqlite(s) => s.expired_enrichment_claims(now, limit).await,
            Backend::Postgres(s) => s.expired_enrichment_claims(now, limit).await,
        }
    }

    /// Records an alert transition and says whether this caller may send it: `Some(id)` when
    /// this call stored it, `None` when the same `(rule, source, state, at)` was already
    /// stored (by another instance evaluating the same events). The insert itself is the
    /// decision, made atomic by a unique key: SQLite `ON CONFLICT DO NOTHING` here, and the
    /// same statement on PostgreSQL, so exactly one instance of a cluster wins each alert.
    /// The winner holds the sending until `notify_until` (`alert_notified` ends it early).
    pub async fn claim_alert(
        &self,
        alert: &NewAlert,
        notify_until: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let until = notify_until.timestamp_micros();
        match &self.0 {
            Backend::Sqlite(s) => s.claim_alert(alert, until).await,
            Backend::Postgres(s) => s.claim_alert(alert, until).await,
        }
    }

    /// Every sink is done with this alert: nobody needs to send it again.
    pub async fn alert_notified(&self, id: i64) -> Result<(), StoreError> {
        self.alert_notice(AlertNotice::Done(id)).await.map(|_| ())
    }

    /// The caller is still sending this alert (a sink is slow or retrying): extends its lease
    /// to `until`, so no other process takes it over while this one lives. Does nothing to an
    /// alert every sink is done with.
    pub async fn renew_alert_lease(&self, id: i64, until: DateTime<Utc>) -> Result<(), StoreError> {
        let until = until.timestamp_micros();
        let renew = AlertNotice::Renew { id, until };
        self.alert_notice(renew).await.map(|_| ())
    }

    /// Alerts whose sending was claimed by a process that died (the lease ran out before
    /// `now`), leased again to this caller until `until`: at most `limit`, oldest first.
    pub async fn take_unnotified_alerts(
        &self,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Alert>, StoreError> {
        self.alert_notice(AlertNotice::Take {
            now: now.timestamp_micros(),
            until: until.timestamp_micros(),
            limit,
        })
        .await
    }

    async fn alert_notice(&self, notice: AlertNotice) -> Result<Vec<Alert>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.alert_notice(notice).await,
            Backend::Postgres(s) => s.alert_notice(notice).await,
        }
    }

    /// Stored alerts, newest first.
    pub async fn alerts(&self, limit: u32) -> Result<Vec<Alert>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.alerts(limit).await,
            Backend::Postgres(s) => s.alerts(limit).await,
        }
    }

    /// Succeeds when the store can answer queries (for `/healthz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.ping().await,
            Backend::Postgres(s) => s.ping().await,
        }
    }

    /// Hands the app's feed to the store, which publishes every stored event on it once, in
    /// id order, after it is committed (SQLite: the writer, after each commit; PostgreSQL: a
    /// listener tailing every instance's events, stopping on `shutdown`).
    pub fn start_feed(&self, feed: Feed, shutdown: CancellationToken) {
        match &self.0 {
            Backend::Sqlite(s) => s.start_feed(feed),
            Backend::Postgres(s) => s.start_feed(feed, shutdown),
        }
    }
}
