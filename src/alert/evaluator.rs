//! The two alert tasks. The evaluator feeds events, clock ticks and forwarding attempt
//! outcomes to the `Engine`; when it
//! lags behind the feed it reads the missed events from the store. The emitter claims,
//! publishes and sends each transition in order.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::AlertSettings;
use super::engine::Engine;
use super::rule::Facts;
use super::sink::{OnDone, Sinks};
use crate::feed::{Feed, FeedItem};
use crate::forward::outcome::AttemptOutcome;
use crate::metrics::Metrics;
use crate::model::{Alert, NewAlert};
use crate::store::{EventFilter, Store};

/// How often time alone is evaluated (at least once a second).
const TICK: Duration = Duration::from_secs(1);
/// Stored alerts read at start to continue open alerts and cooldowns.
const STORED_ALERTS: u32 = 1000;
/// Transitions waiting for the emitter; the evaluator waits when it is full.
const EMIT_QUEUE: usize = 1024;
/// Events read per store page when catching up after a lag.
const REFILL_PAGE: u32 = 1000;
/// How long the process that claimed an alert has to get it to every sink before another
/// may send it. The process renews it on every sweep while a sink still works on the alert
/// (one down for hours keeps retrying, or its queue is long), so only a dead process loses
/// it.
const NOTIFY_LEASE: TimeDelta = TimeDelta::minutes(10);
/// How often every process renews the leases of the alerts it is still sending and looks for
/// alerts whose sender died; many times within a lease.
const NOTIFY_SWEEP: Duration = Duration::from_secs(60);

/// Starts the evaluator and the emitter; the handle ends when both have.
pub(super) fn start(
    settings: AlertSettings,
    store: Store,
    feed: Feed,
    metrics: Metrics,
    attempts: broadcast::Receiver<AttemptOutcome>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    // Subscribe before anything else, so no event stored after start-up is missed.
    let events = feed.subscribe();
    let (emit, pending) = mpsc::channel(EMIT_QUEUE);
    let sinks = Sinks::start(settings.sinks, &metrics);
    let sending = Sending::default();
    let sender = Sender {
        store: store.clone(),
        sinks,
        sending,
        metrics,
    };
    tokio::spawn(send_unnotified(sender.clone(), shutdown.clone()));
    let emitter = tokio::spawn(emit_all(pending, feed, sender));
    let evaluator = Evaluator {
        engine: Engine::new(settings.rules),
        store,
        emit,
        covered_up_to: 0,
        last_id: 0,
    };
    tokio::spawn(async move {
        evaluator.run(events, attempts, shutdown).await;
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
    async fn run(
        mut self,
        mut events: broadcast::Receiver<FeedItem>,
        attempts: broadcast::Receiver<AttemptOutcome>,
        shutdown: CancellationToken,
    ) {
        let mut attempts = Some(attempts);
        self.seed().await;
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let alerts = tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = ticks.tick() => self.engine.tick(Utc::now()),
                outcome = next_outcome(&mut attempts) => match outcome {
                    Ok(outcome) => self.engine.attempt(&outcome),
                    Err(RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "Alert evaluator missed forwarding outcomes.");
                        continue;
                    }
                    // Forwarding stopped (shutdown): only events are left to watch.
                    Err(RecvError::Closed) => {
                        attempts = None;
                        continue;
                    }
                },
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

/// The next forwarding outcome; never, once forwarding has stopped (`None`).
async fn next_outcome(
    attempts: &mut Option<broadcast::Receiver<AttemptOutcome>>,
) -> Result<AttemptOutcome, RecvError> {
    match attempts {
        Some(receiver) => receiver.recv().await,
        None => std::future::pending().await,
    }
}

/// The alerts this process is still sending: claimed or taken over, and not every sink done
/// with them yet. Their leases are renewed on every sweep.
#[derive(Clone, Default)]
struct Sending(Arc<Mutex<BTreeSet<i64>>>);

impl Sending {
    fn start(&self, id: i64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).insert(id);
    }

    fn done(&self, id: i64) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
    }

    fn ids(&self) -> Vec<i64> {
        let ids = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ids.iter().copied().collect()
    }
}

/// What hands alerts to the sinks and keeps their sending leases.
#[derive(Clone)]
struct Sender {
    store: Store,
    sinks: Sinks,
    sending: Sending,
    /// Counts each transition this process claimed.
    metrics: Metrics,
}

impl Sender {
    /// Sends a stored alert to every sink, holding its lease until every sink is done with it
    /// (or sends one that could not be stored, `id` 0, without a lease).
    fn send(&self, alert: Arc<Alert>) {
        let id = alert.id;
        if id == 0 {
            self.sinks.send(&alert, None);
            return;
        }
        self.sending.start(id);
        let (store, sending) = (self.store.clone(), self.sending.clone());
        let done: OnDone = Box::new(move || {
            sending.done(id);
            let store = store.clone();
            tokio::spawn(async move {
                if let Err(error) = store.alert_notified(id).await {
                    tracing::warn!(error = %error, alert = id, "Cannot record that an alert was sent.");
                }
            });
        });
        self.sinks.send(&alert, Some(done));
    }

    /// One sweep at `now`: renews the leases of the alerts this process is still sending,
    /// then sends those whose sender died (their lease ran out). A sink that had already
    /// received one of those receives it again: at least once, never lost.
    async fn sweep(&self, now: DateTime<Utc>) {
        for id in self.sending.ids() {
            if let Err(error) = self.store.renew_alert_lease(id, now + NOTIFY_LEASE).await {
                tracing::warn!(error = %error, alert = id, "Cannot renew an alert's sending lease.");
            }
        }
        let taken = self
            .store
            .take_unnotified_alerts(now, now + NOTIFY_LEASE, 100)
            .await;
        match taken {
            Ok(alerts) => {
                for alert in alerts {
                    tracing::info!(alert = alert.id, rule = %alert.new.rule,
                        "Sending an alert whose sender stopped before it was done.");
                    self.send(Arc::new(alert));
                }
            }
            Err(error) => tracing::warn!(error = %error, "Cannot look for unsent alerts."),
        }
    }
}

/// Claims, publishes and sends each transition, in the order decided.
async fn emit_all(mut pending: mpsc::Receiver<NewAlert>, feed: Feed, sender: Sender) {
    while let Some(new) = pending.recv().await {
        let claimed = sender
            .store
            .claim_alert(&new, Utc::now() + NOTIFY_LEASE)
            .await;
        let id = match claimed {
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
        sender.metrics.alert(&new.rule, new.state.as_str());
        let alert = Arc::new(Alert { id, new });
        feed.publish(FeedItem::Alert(alert.clone()));
        sender.send(alert);
    }
}

/// At start and every `NOTIFY_SWEEP`, a sweep (`Sender::sweep`).
async fn send_unnotified(sender: Sender, shutdown: CancellationToken) {
    loop {
        sender.sweep(Utc::now()).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(NOTIFY_SWEEP) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AlertKind, AlertState};
    use crate::store::{DatabaseUrl, StoreSettings};

    fn burst() -> NewAlert {
        NewAlert {
            rule: "burst".into(),
            kind: AlertKind::Burst,
            source: "s".into(),
            state: AlertState::Firing,
            count: 3,
            window_secs: 60,
            at: Utc::now(),
            sample_event_ids: vec![1],
        }
    }

    /// Whether another process sweeping at `at` would take the alert over.
    async fn taken_over_at(store: &Store, at: DateTime<Utc>) -> Vec<i64> {
        let taken = store.take_unnotified_alerts(at, at + NOTIFY_LEASE, 10);
        taken.await.unwrap().iter().map(|a| a.id).collect()
    }

    #[tokio::test]
    async fn a_sweep_renews_the_lease_of_an_alert_still_being_sent_and_only_that() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(
            &DatabaseUrl::Sqlite(dir.path().join("s.db")),
            &StoreSettings::default(),
        )
        .await
        .unwrap();
        let start = Utc::now();
        let claim = |new: NewAlert| {
            let store = store.clone();
            async move {
                let claimed = store.claim_alert(&new, start + NOTIFY_LEASE).await;
                claimed.unwrap().expect("claimed")
            }
        };
        let busy = claim(burst()).await;
        let sender = Sender {
            store: store.clone(),
            sinks: Sinks::start(Vec::new(), &Metrics::default()),
            sending: Sending::default(),
            metrics: Metrics::default(),
        };
        sender.sending.start(busy);
        // Claimed by a process that died: in no one's `sending`.
        let mut orphan = burst();
        orphan.state = AlertState::Resolved;
        let orphan = claim(orphan).await;

        sender
            .sweep(start + NOTIFY_LEASE - TimeDelta::minutes(1))
            .await;
        let after_the_first_lease = start + NOTIFY_LEASE + TimeDelta::minutes(1);
        assert_eq!(
            taken_over_at(&store, after_the_first_lease).await,
            [orphan],
            "the sender's alert was renewed, the orphan was not"
        );
    }
}
