//! Enrichment: attach outside context to events, after the `200`, never on the
//! ingest path.
//!
//! ## Tasks and channels
//!
//! ```text
//! feed (broadcast) ─► select ─► bounded mpsc (queue_size) ─► work ─► service ─► store
//! ```
//!
//! - `select` subscribes to the feed, keeps the events the rule wants (`rule`), and hands them
//!   on with `try_send`: when the queue is full the event is skipped and counted, so ingest
//!   never waits for enrichment.
//! - `work` takes one event at a time: claims it in the store, then runs the [`Enricher`]
//!   (template → cache → budget → call with retries → document → store). One at a time is
//!   deliberate: the service is rate-limited and paid per call, and a storm of identical
//!   events then costs one call, the rest being cache hits.
//!
//! ## Clusters: each event enriched once
//!
//! Before calling out, the worker claims the event with `Store::claim_enrichment`, an atomic
//! "set `enrichment` to `{"pending":true}` where it is still NULL" that reports whether this
//! process won. Several instances fed the same event (PostgreSQL `LISTEN`, or each receiving
//! its share) race on that one row; exactly one wins and calls. The claim is a lease, longer
//! than the longest enrichment can take (`Enricher::lease`): a process that dies between claim
//! and result leaves `{"pending":true}` only until the lease runs out, and then `sweep` (in
//! every process, at start and every minute) finds the expired claim and queues the event
//! again, so the work is not lost. The cache and the daily budget are per process.
//!
//! Module map: `settings` (typed config), `template` (the query), `rule` (which events),
//! `cache`, `budget` (pure, time passed in), `call` (one POST with timeout and retries),
//! `swiftsearch` and `http_kind` (the two kinds), `enricher` (one enrichment), `http` (the
//! on-demand endpoint). Depends on `model`, `provider`, `query::view`, `store` and `feed`.

pub mod budget;
pub mod cache;
pub mod call;
mod enricher;
pub mod http;
pub mod http_kind;
pub mod rule;
pub mod settings;
pub mod swiftsearch;
pub mod template;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

pub use enricher::{EnrichError, Enricher, Trigger};
pub use settings::{ApiKey, EnrichSettings, Kind};

use crate::feed::{Feed, FeedItem};
use crate::metrics::Metrics;
use crate::model::Event;
use crate::store::Store;

/// Starts the worker; it stops at `shutdown` or when the feed closes. Returns the shared
/// enricher for the on-demand endpoint. Must be called inside the runtime.
pub fn spawn(
    settings: EnrichSettings,
    store: Store,
    feed: &Feed,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> Result<Arc<Enricher>, EnrichError> {
    if settings.rule.types.is_empty() && !settings.rule.errors {
        tracing::warn!(
            "Enrichment has neither when_types nor when_errors: it runs only on demand."
        );
    }
    let (queue, work_queue) = mpsc::channel(settings.queue_size.max(1));
    let enricher = Arc::new(Enricher::new(settings, store, metrics)?);
    tokio::spawn(select(
        feed.subscribe(),
        queue.clone(),
        enricher.clone(),
        shutdown.clone(),
    ));
    tokio::spawn(sweep(queue, enricher.clone(), shutdown.clone()));
    tokio::spawn(work(work_queue, enricher.clone(), shutdown));
    Ok(enricher)
}

/// How often every process looks for claims whose process died.
const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// Expired claims taken per sweep; the rest wait for the next one.
const SWEEP_BATCH: u32 = 100;

/// At start and every `SWEEP_EVERY`: events whose enrichment claim expired → the queue, whole
/// (read from the store), for `work` to claim again.
async fn sweep(
    queue: mpsc::Sender<Arc<Event>>,
    enricher: Arc<Enricher>,
    shutdown: CancellationToken,
) {
    loop {
        let store = &enricher.store;
        match store
            .expired_enrichment_claims(Utc::now(), SWEEP_BATCH)
            .await
        {
            Ok(ids) => {
                for id in ids {
                    if let Ok(Some(event)) = store.get(id).await {
                        tracing::info!(event_id = id, "Taking over an expired enrichment claim.");
                        if queue.try_send(Arc::new(event)).is_err() {
                            break; // full (or closed): the next sweep finds the rest
                        }
                    }
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, "Cannot look for expired enrichment claims.")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(SWEEP_EVERY) => {}
        }
    }
}

/// Feed → queue, keeping only what the rule wants; never waits on a full queue.
async fn select(
    mut feed: broadcast::Receiver<FeedItem>,
    queue: mpsc::Sender<Arc<Event>>,
    enricher: Arc<Enricher>,
    shutdown: CancellationToken,
) {
    loop {
        let item = tokio::select! {
            _ = shutdown.cancelled() => return,
            item = feed.recv() => item,
        };
        match item {
            Ok(FeedItem::Event(event)) => {
                if enricher.wants(&event)
                    && let Err(mpsc::error::TrySendError::Full(_)) = queue.try_send(event)
                {
                    enricher.note_skipped(1, "queue full");
                }
            }
            Ok(FeedItem::Alert(_)) => {}
            Err(RecvError::Lagged(missed)) => enricher.note_skipped(missed, "feed lagged"),
            Err(RecvError::Closed) => return,
        }
    }
}

/// Queue → claim → enrich, one event at a time, until shutdown.
async fn work(
    mut queue: mpsc::Receiver<Arc<Event>>,
    enricher: Arc<Enricher>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = shutdown.cancelled() => return,
            event = queue.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = claim_and_enrich(&enricher, &event) => {}
        }
    }
}

async fn claim_and_enrich(enricher: &Enricher, event: &Event) {
    let now = Utc::now();
    let until = now + enricher.lease();
    match enricher.store.claim_enrichment(event.id, now, until).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::debug!(
                event_id = event.id,
                "Enrichment claimed elsewhere; skipped."
            );
            return;
        }
        Err(error) => {
            tracing::warn!(event_id = event.id, error = %error, "Cannot claim enrichment.");
            return;
        }
    }
    let whole = match event.lacks_body() {
        false => None,
        // Another instance stored it (the feed carries a summary): the query and the `http`
        // kind may need the body.
        true => match enricher.store.get(event.id).await {
            Ok(whole) => whole,
            Err(error) => {
                tracing::warn!(event_id = event.id, error = %error, "Cannot read the event.");
                return;
            }
        },
    };
    let event = whole.as_ref().unwrap_or(event);
    if let Err(error) = enricher.enrich(event, Trigger::Feed).await {
        tracing::warn!(event_id = event.id, error = %error, "Cannot store enrichment.");
    }
}
