//! Forwarding: handing every received event on to the applications and brokers that need it,
//! after the `200` and never on the ingest path, through a queue kept in the store.
//!
//! The pure pieces decide what is sent where and when a failed delivery is tried again, and
//! are tested with fixed inputs and a fixed clock:
//!
//! - [`rule`]: which events a `[[forward]]` rule takes (a source or `*`, an optional type
//!   pattern; never a rejected record, whose content is not trusted).
//! - [`target`]: the rule's `to` — its kind (HTTP or a broker), its display form with
//!   credentials masked, its default name, and the loop check against hookwatch's own
//!   `/webhook/`.
//! - [`outbound`]: what an HTTP delivery carries — the original headers minus the hop-by-hop
//!   ones, the original query string, and hookwatch's own `X-Hookwatch-*` headers.
//! - [`schedule`]: the verdict on one attempt (delivered, dead, or retry after a backoff with
//!   jitter that honours `Retry-After`).
//! - [`settings`]: a resolved rule.
//!
//! The moving parts, started by [`spawn`] when rules exist:
//!
//! - [`enqueue`]: reads stored events after a cursor kept in the store and queues their
//!   deliveries (woken by the feed; the feed's items themselves are not trusted to be all).
//! - [`worker`]: claims due deliveries ahead, in batches (leases), per target ([`lane`]),
//!   and hands each delivery to [`launch`], which reads the events of many in one read and
//!   runs each [`attempt`]; an attempt sends through [`send`] — the one place that knows how
//!   to reach a kind of target; [`record`] writes the finished attempts in batches.
//!   [`wake`] tells the worker of new work, pauses and freed slots.
//! - [`broker`]: publishing to NATS JetStream, RabbitMQ and Redis Streams, acknowledged by
//!   the broker, over one kept connection per target (used by [`send`]).
//! - [`outcome`]: how each recorded attempt ended, told to whoever listens (alert rules).
//! - [`http`]: the API (attempts, deliveries, targets, pause and resume, replay).

pub mod attempt;
pub mod broker;
pub mod enqueue;
pub mod http;
pub mod lane;
pub mod launch;
pub mod outbound;
pub mod outcome;
pub mod record;
pub mod rule;
pub mod schedule;
pub mod send;
pub mod settings;
pub mod target;
pub mod view;
pub mod wake;
pub mod worker;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::metrics::Metrics;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::SourceSettings;
use crate::feed::Feed;
use crate::store::Store;
use settings::TargetSettings;
use wake::Wake;

/// The configured targets and a way to wake the worker, for the API.
#[derive(Clone)]
pub struct Forwarding {
    pub targets: Arc<Vec<TargetSettings>>,
    wake: Arc<Wake>,
}

impl Forwarding {
    /// The rule named `name`.
    pub fn target(&self, name: &str) -> Option<&TargetSettings> {
        self.targets.iter().find(|t| t.name == name)
    }

    /// Tells the worker there is work (a replay, a resumed target).
    pub fn wake(&self) {
        self.wake.work();
    }

    /// Tells the worker a target was paused, so it sends nothing more it claimed for it.
    pub fn paused(&self) {
        self.wake.paused();
    }
}

/// Where forwarding tells what became of its attempts: the metrics, and the alert rules
/// (through `outcome`).
#[derive(Clone)]
pub struct Reports {
    pub metrics: Metrics,
    pub outcomes: outcome::Outcomes,
}

/// Starts the enqueuer (when there are rules) and the worker (always: replays to an ad-hoc
/// `to` need it too) on `tasks`, so the server can wait at shutdown for attempts under way
/// to be recorded; they stop taking work on `shutdown`.
pub fn spawn(
    targets: Vec<TargetSettings>,
    store: Store,
    feed: &Feed,
    sources: Arc<BTreeMap<String, SourceSettings>>,
    reports: Reports,
    tasks: &TaskTracker,
    shutdown: CancellationToken,
) -> Forwarding {
    let targets = Arc::new(targets);
    let wake = Arc::new(Wake::default());
    if !targets.is_empty() {
        tokio::spawn(count_pending(
            store.clone(),
            targets.clone(),
            reports.metrics.clone(),
            shutdown.clone(),
        ));
        tasks.spawn(enqueue::run(
            store.clone(),
            targets.clone(),
            feed.clone(),
            wake.clone(),
            shutdown.clone(),
        ));
    }
    tasks.spawn(worker::run(
        store,
        targets.clone(),
        sources,
        reports,
        wake.clone(),
        tasks.clone(),
        shutdown,
    ));
    Forwarding { targets, wake }
}

/// How often `hookwatch_forward_pending` is brought up to date.
const PENDING_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Keeps each target's pending count in the metrics, read from the store (so it counts what
/// every instance sharing the queue has left, not only this one).
async fn count_pending(
    store: Store,
    targets: Arc<Vec<TargetSettings>>,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    loop {
        for target in targets.iter() {
            match store.pending_deliveries(&target.name).await {
                Ok(pending) => metrics.forward_pending(&target.name, pending),
                Err(error) => {
                    tracing::debug!(error = %error, "Cannot count pending deliveries.");
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(PENDING_EVERY) => {}
        }
    }
}
