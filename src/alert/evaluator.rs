//! The two alert tasks. The evaluator feeds events and clock ticks to the `Engine`; when it
//! lags behind the feed it reads the missed events from the store. The emitter claims,
//! publishes and sends each transition in order.

use std::sync::Arc;
use std::time::Duration;

use chrono::{TimeDelta, Utc};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::AlertSettings;
use super::engine::Engine;
use super::rule::Facts;
use super::sink::{OnDone, Sinks};
use crate::feed::{Feed, FeedItem};
use crate::model::{Alert, NewAlert};
use crate::store::{EventFilter, Store};

/// How often time alone is evaluated (SPEC §8: at least once a second).
const TICK: Duration = Duration::from_secs(1);
/// Stored alerts read at start to continue open alerts and cooldowns.
const STORED_ALERTS: u32 = 1000;
/// Transitions waiting for the emitter; the evaluator waits when it is full.
const EMIT_QUEUE: usize = 1024;
/// Events read per store page when catching up after a lag.
const REFILL_PAGE: u32 = 1000;
/// How long the process that claimed an alert has to get it to every sink before another
/// may send it: far longer than a sink's retries take, so only a dead process loses it.
const NOTIFY_LEASE: TimeDelta = TimeDelta::minutes(10);
/// How often every process looks for alerts whose sender died.
const NOTIFY_SWEEP: Duration = Duration::from_secs(60);

/// Starts the evaluator and the emitter; the handle ends when both have.
pub(super) fn start(
    settings: AlertSettings,
    store: Store,
    feed: Feed,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    // Subscribe before anything else, so no event stored after start-up is missed.
    let events = feed.subscribe();
    let (emit, pending) = mpsc::channel(EMIT_QUEUE);
    let sinks = Sinks::start(settings.sinks);
    tokio::spawn(send_unnotified(
        store.clone(),
        sinks.clone(),
        shutdown.clone(),
    ));
    let emitter = tokio::spawn(emit_all(pending, store.clone(), feed, sinks));
    let evaluator = Evaluator {
        engine: Engine::new(settings.rules),
        store,
        emit,
        covered_up_to: 0,
        last_id: 0,
    };
    tokio::spawn(async move {
        evaluator.run(events, shutdown).await;
        let _ = emitter.await;
    })
}

struct Evaluator {
    engine: Engine,
    store: Store,
    emit: mpsc::Sender<NewAlert>,
    /// Events up to this id were read from the store after a lag; skip them on the feed.
    covered_up_to: i64,
    /// The highest event id evaluated.
    last_id: i64,
}

impl Evaluator {
    async fn run(mut self, mut events: broadcast::Receiver<FeedItem>, shutdown: CancellationToken) {
        self.seed().await;
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let alerts = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => self.engine.tick(Utc::now()),
                item = events.recv() => match item {
                    Ok(FeedItem::Event(event)) if event.id > self.covered_up_to => {
                        self.last_id = self.last_id.max(event.id);
                        self.engine.observe(&Facts::of(&event))
                    }
                    Ok(_) => continue,
                    Err(RecvError::Lagged(missed)) => {
                        tracing::debug!(missed, "Alert evaluator lagged; reading from the store.");
                        self.refill().await
                    }
                    Err(RecvError::Closed) => break,
                },
            };
            for alert in alerts {
                if self.emit.send(alert).await.is_err() {
                    return;
                }
            }
        }
    }

    /// Evaluates every stored event after the last one seen, page by page. Ids are given
    /// out in commit order by one writer, so all ids up to the last one read are committed
    /// and were read: later feed items with such ids are skipped.
    async fn refill(&mut self) -> Vec<NewAlert> {
        let mut alerts = Vec::new();
        loop {
            let filter = EventFilter {
                after: Some(self.last_id),
                limit: REFILL_PAGE,
                ..EventFilter::default()
            };
            let page = match self.store.list(filter).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(error = %error, "Alert evaluator cannot catch up; events skipped.");
                    return alerts;
                }
            };
            for event in &page {
                self.last_id = self.last_id.max(event.id);
                alerts.extend(self.engine.observe(&Facts::of(event)));
            }
            self.covered_up_to = self.last_id;
            if (page.len() as u32) < REFILL_PAGE {
                return alerts;
            }
        }
    }

    /// Starts silence watches for sources already in the store, so a source that stopped
    /// while hookwatch was down is still noticed, and continues the state of stored alerts.
    async fn seed(&mut self) {
        match self.store.sources().await {
            Ok(rows) => {
                for row in rows {
                    self.engine.seed(&row.source, row.last_received);
                }
            }
            Err(error) => tracing::warn!(error = %error, "Cannot read sources for silence rules."),
        }
        match self.store.alerts(STORED_ALERTS).await {
            Ok(stored) => self.engine.remember(&stored),
            Err(error) => {
                tracing::warn!(error = %error, "Cannot read stored alerts for cooldowns.")
            }
        }
    }
}

/// Claims, publishes and sends each transition, in the order decided.
async fn emit_all(mut pending: mpsc::Receiver<NewAlert>, store: Store, feed: Feed, sinks: Sinks) {
    while let Some(new) = pending.recv().await {
        let id = match store.claim_alert(&new, Utc::now() + NOTIFY_LEASE).await {
            Ok(Some(id)) => id,
            Ok(None) => {
                tracing::debug!(rule = %new.rule, source = %new.source, "Alert already claimed elsewhere.");
                continue;
            }
            Err(error) => {
                // Better told twice than never: send it even though it could not be stored.
                tracing::error!(error = %error, rule = %new.rule, "Cannot store alert; sending it anyway.");
                0
            }
        };
        let alert = Arc::new(Alert { id, new });
        feed.publish(FeedItem::Alert(alert.clone()));
        sinks.send(&alert, notified(&store, id));
    }
}

/// Ends the alert's sending lease once every sink is done with it (none for an alert that
/// could not be stored).
fn notified(store: &Store, id: i64) -> Option<OnDone> {
    if id == 0 {
        return None;
    }
    let store = store.clone();
    Some(Box::new(move || {
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.alert_notified(id).await {
                tracing::warn!(error = %error, alert = id, "Cannot record that an alert was sent.");
            }
        });
    }))
}

/// At start and every `NOTIFY_SWEEP`: alerts whose sending lease ran out (the process that
/// claimed them died before every sink was done) go to the sinks from here. A sink that had
/// already received one then receives it again: at least once, never lost.
async fn send_unnotified(store: Store, sinks: Sinks, shutdown: CancellationToken) {
    loop {
        let now = Utc::now();
        match store
            .take_unnotified_alerts(now, now + NOTIFY_LEASE, 100)
            .await
        {
            Ok(alerts) => {
                for alert in alerts {
                    tracing::info!(alert = alert.id, rule = %alert.new.rule,
                        "Sending an alert whose sender stopped before it was done.");
                    let id = alert.id;
                    sinks.send(&Arc::new(alert), notified(&store, id));
                }
            }
            Err(error) => tracing::warn!(error = %error, "Cannot look for unsent alerts."),
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(NOTIFY_SWEEP) => {}
        }
    }
}
