//! Alerts (SPEC §8, issue 6): notice bursts, errors, silence and forged deliveries, store each
//! firing and resolution, stream it, and tell people through sinks.
//!
//! The evaluator is one task (`spawn`) off the ingest path: it subscribes to the feed, runs
//! every stored event through the rules (`engine`, pure), ticks once a second for silences
//! and drained windows, asks the store to claim each transition (`Store::claim_alert`: in a
//! cluster only one instance wins it), then publishes it on the feed (`event: alert`) and
//! hands it to the sinks (`sink`, one task and bounded queue each).
//!
//! Layout: `rule` (a rule and an event's facts), `tracker` (one rule × one source),
//! `engine` (all of them), `view` (JSON and summary), `sink/` (one file per kind),
//! `http` (`GET /api/alerts`). Depends on `feed`, `store`, `model`; nothing depends on it
//! except `app` and `cli`.

pub mod engine;
pub mod http;
pub mod rule;
pub mod sink;
pub mod tracker;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::feed::{Feed, FeedItem};
use crate::model::{Alert, NewAlert};
use crate::store::Store;
use engine::Engine;
use rule::{Facts, Rule};
use sink::{SinkConfig, Sinks};

/// How often time alone is evaluated (SPEC §8: at least once a second).
const TICK: Duration = Duration::from_secs(1);

/// The `[alerts]` settings, resolved and validated by `config::alerts`.
#[derive(Debug, Clone, Default)]
pub struct AlertSettings {
    pub rules: Vec<Rule>,
    pub sinks: Vec<SinkConfig>,
}

/// Starts the evaluator; `None` when no rule is configured (nothing to evaluate).
pub fn spawn(
    settings: AlertSettings,
    store: Store,
    feed: Feed,
    shutdown: CancellationToken,
) -> Option<JoinHandle<()>> {
    if settings.rules.is_empty() {
        return None;
    }
    // Subscribe before anything else, so no event stored after start-up is missed.
    let events = feed.subscribe();
    let sinks = Sinks::start(settings.sinks);
    let evaluator = Evaluator {
        engine: Engine::new(settings.rules),
        store,
        feed,
        sinks,
    };
    Some(tokio::spawn(evaluator.run(events, shutdown)))
}

struct Evaluator {
    engine: Engine,
    store: Store,
    feed: Feed,
    sinks: Sinks,
}

impl Evaluator {
    async fn run(
        mut self,
        mut events: tokio::sync::broadcast::Receiver<FeedItem>,
        shutdown: CancellationToken,
    ) {
        self.seed().await;
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let alerts = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => self.engine.tick(Utc::now()),
                item = events.recv() => match item {
                    Ok(FeedItem::Event(event)) => self.engine.observe(&Facts::of(&event)),
                    Ok(FeedItem::Alert(_)) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "Alert evaluator lagged; those events were not evaluated.");
                        continue;
                    }
                    Err(RecvError::Closed) => break,
                },
            };
            for alert in alerts {
                self.emit(alert).await;
            }
        }
    }

    /// Starts silence watches for sources already in the store, so a source that stopped
    /// while hookwatch was down is still noticed.
    async fn seed(&mut self) {
        match self.store.sources().await {
            Ok(rows) => {
                for row in rows {
                    self.engine.seed(&row.source, row.last_received);
                }
            }
            Err(error) => tracing::warn!(error = %error, "Cannot read sources for silence rules."),
        }
    }

    /// Claims, publishes and sends one transition.
    async fn emit(&self, new: NewAlert) {
        let id = match self.store.claim_alert(&new).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                tracing::debug!(rule = %new.rule, source = %new.source, "Alert already claimed elsewhere.");
                return;
            }
            Err(error) => {
                // Better told twice than never: send it even though it could not be stored.
                tracing::error!(error = %error, rule = %new.rule, "Cannot store alert; sending it anyway.");
                0
            }
        };
        let alert = Arc::new(Alert { id, new });
        self.feed.publish(FeedItem::Alert(alert.clone()));
        self.sinks.send(&alert);
    }
}
