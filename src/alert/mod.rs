//! Alerts: notice bursts, errors, silence, forged deliveries and failing forwarding targets,
//! store each firing and resolution, stream it, and tell people through sinks.
//!
//! The evaluator is one task (`spawn`) off the ingest path: it subscribes to the feed, runs
//! every stored event through the rules (`engine`, pure), ticks once a second for silences
//! and drained windows, and refills from the store when it lags, so no event goes uncounted.
//! It also hears the forwarding worker's attempt outcomes (`forward::outcome`) for
//! `forward_failures` rules; those are this instance's own attempts, so with several
//! instances each alerts on what it saw.
//! A second task, the emitter, claims each transition (`Store::claim_alert`: in a cluster
//! only one instance wins it), publishes it on the feed (`event: alert`) and hands it to the
//! sinks (`sink`, one task and bounded queue each), so a busy store never stalls evaluation.
//!
//! Layout: `rule` (a rule and an event's facts), `tracker` (one rule × one source),
//! `forward_failures` (those rules over targets),
//! `engine` (all of them), `evaluator` (the tasks), `view` (summary), `sink/` (one file per kind),
//! `http` (`GET /api/alerts`). Depends on `feed`, `store`, `model`; nothing depends on it
//! except `app` and `cli`.

pub mod engine;
mod evaluator;
pub mod forward_failures;
pub mod http;
pub mod rule;
pub mod sink;
pub mod tracker;
pub mod view;

use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::feed::Feed;
use crate::forward::outcome::AttemptOutcome;
use crate::metrics::Metrics;
use crate::store::Store;
use rule::Rule;
use sink::SinkConfig;

/// The `[alerts]` settings, resolved and validated by `config::alerts`.
#[derive(Debug, Clone, Default)]
pub struct AlertSettings {
    pub rules: Vec<Rule>,
    pub sinks: Vec<SinkConfig>,
}

/// Starts the evaluator (and the sinks); `None` when no rule is configured.
pub fn spawn(
    settings: AlertSettings,
    store: Store,
    feed: Feed,
    metrics: Metrics,
    attempts: broadcast::Receiver<AttemptOutcome>,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    if settings.rules.is_empty() {
        return None;
    }
    Some(evaluator::start(
        settings, store, feed, metrics, attempts, shutdown,
    ))
}
