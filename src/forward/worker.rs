//! The worker: claims due deliveries from the store and sends them, per target within its
//! `max_in_flight` and `rate_per_sec`, recording every attempt.
//!
//! It sleeps until the earliest moment something may be claimed (a retry's `next_at`, a
//! lease running out), or until woken: by the enqueuer, a replay, a resume, or a send that
//! finished and freed a slot. Claims are leases, so a delivery this instance dies holding
//! is claimed again by whoever runs once the lease is over.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Reports;
use super::broker::Publisher;
use super::outcome::{AttemptOutcome, Ended};
use super::schedule::{self, Verdict};
use super::send::{self, Attempt};
use super::settings::TargetSettings;
use super::target::Kind;
use crate::config::SourceSettings;
use crate::store::{After, ClaimScope, Delivery, Finished, Store};

/// How long a claim holds beyond the attempt's own timeout: time to record the result.
const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// The longest sleep: instances on one database learn of each other's pauses and resumes
/// no later than this.
const MAX_SLEEP: Duration = Duration::from_secs(5);
/// The sleep when something is due that this instance cannot take yet (every slot busy).
const BUSY_SLEEP: Duration = Duration::from_secs(1);

/// One target as the worker tracks it.
struct Lane {
    settings: TargetSettings,
    scope: ClaimScope,
    in_flight: AtomicU32,
    /// With `rate_per_sec`: the earliest start of the next delivery.
    next_start: Mutex<Instant>,
    /// A broker target's connection keeper; `None` for HTTP.
    publisher: Option<Publisher>,
}

/// The metrics' target label of replays to a caller's own `to` (never the URL itself).
const AD_HOC_LABEL: &str = "_replay_to";

/// What every send needs.
#[derive(Clone)]
struct Shared {
    store: Store,
    client: reqwest::Client,
    sources: Arc<BTreeMap<String, SourceSettings>>,
    /// Told how each attempt ended (the outcomes only of recorded attempts to a configured
    /// target).
    reports: Reports,
    wake: Arc<Notify>,
    /// Where attempts run, so the server waits for them at shutdown.
    tasks: TaskTracker,
}

/// Runs until `shutdown`; `wake` is notified by whoever queued or released work.
pub async fn run(
    store: Store,
    targets: Arc<Vec<TargetSettings>>,
    sources: Arc<BTreeMap<String, SourceSettings>>,
    reports: Reports,
    wake: Arc<Notify>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let client = match send::client() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Cannot build the HTTP client; forwarding is off.");
            return;
        }
    };
    let mut lanes: Vec<Arc<Lane>> = targets
        .iter()
        .map(|t| lane(t.clone(), ClaimScope::Target(t.name.clone())))
        .collect();
    lanes.push(lane(TargetSettings::ad_hoc(""), ClaimScope::AdHoc));
    let shared = Shared {
        store,
        client,
        sources,
        reports,
        wake,
        tasks,
    };
    while !shutdown.is_cancelled() {
        let pass = dispatch(&shared, &lanes).await;
        let until = next_wake(&shared.store, &pass).await;
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = shared.wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
    }
}

fn lane(settings: TargetSettings, scope: ClaimScope) -> Arc<Lane> {
    let publisher = (settings.kind != Kind::Http).then(|| Publisher::new(settings.timeout));
    Arc::new(Lane {
        publisher,
        settings,
        scope,
        in_flight: AtomicU32::new(0),
        next_start: Mutex::new(Instant::now()),
    })
}

/// What a dispatch pass left waiting.
struct Pass {
    /// The earliest moment a rate-limited lane may start again.
    rate_wait: Option<Instant>,
    /// Some lane had every slot busy: a finishing send will wake the worker.
    full: bool,
    /// When the pass began: a delivery due by then was there for every claim of the pass.
    began: chrono::DateTime<Utc>,
}

/// Claims and starts what every lane may take now.
async fn dispatch(shared: &Shared, lanes: &[Arc<Lane>]) -> Pass {
    let began = Utc::now();
    let mut rate_wait: Option<Instant> = None;
    let mut full = false;
    for lane in lanes {
        let busy = lane.in_flight.load(Ordering::SeqCst);
        let mut free = lane.settings.max_in_flight.saturating_sub(busy);
        if free == 0 {
            full = true;
            continue;
        }
        if lane.settings.rate_per_sec.is_some() {
            let next = *lane.next_start.lock().unwrap_or_else(|e| e.into_inner());
            if next > Instant::now() {
                rate_wait = Some(rate_wait.map_or(next, |w| w.min(next)));
                continue;
            }
            free = 1;
        }
        let now = Utc::now();
        let lease = lane.settings.timeout + LEASE_MARGIN;
        let until = now + to_chrono(lease);
        let claimed = match shared
            .store
            .claim_deliveries(lane.scope.clone(), now, until, free)
            .await
        {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(error = %error, "Cannot claim deliveries.");
                continue;
            }
        };
        for delivery in claimed {
            if let Some(rate) = lane.settings.rate_per_sec {
                let gap = Duration::from_secs_f64(1.0 / rate);
                *lane.next_start.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now() + gap;
            }
            lane.in_flight.fetch_add(1, Ordering::SeqCst);
            let (shared, lane) = (shared.clone(), lane.clone());
            let tasks = shared.tasks.clone();
            tasks.spawn(async move {
                attempt(&shared, &lane, delivery).await;
                lane.in_flight.fetch_sub(1, Ordering::SeqCst);
                shared.wake.notify_one();
            });
        }
    }
    Pass {
        rate_wait,
        full,
        began,
    }
}

/// When to look again: when the next delivery falls due, or a rate-limited lane may start.
/// Something that fell due during the pass is claimed at once. Something due before it that
/// no lane took belongs to a full lane (a finishing send wakes the worker), or to a target no
/// longer configured, which waits for its rule to return.
async fn next_wake(store: &Store, pass: &Pass) -> Instant {
    let now = Instant::now();
    let due = match store.next_delivery_due().await {
        Ok(Some(at)) => match (at - Utc::now()).to_std().unwrap_or(Duration::ZERO) {
            wait if !wait.is_zero() => now + wait.min(MAX_SLEEP),
            _ if at > pass.began => now,
            _ if pass.full => now + BUSY_SLEEP,
            _ => now + MAX_SLEEP,
        },
        Ok(None) => now + MAX_SLEEP,
        Err(error) => {
            tracing::error!(error = %error, "Cannot read when the next delivery is due.");
            now + BUSY_SLEEP
        }
    };
    pass.rate_wait.map_or(due, |w| w.min(due))
}

/// Makes one attempt at `delivery` and records it.
async fn attempt(shared: &Shared, lane: &Lane, delivery: Delivery) {
    let target = &lane.settings;
    let n = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
    let started = Instant::now();
    let mut finished = Finished {
        delivery_id: delivery.id,
        n: delivery.attempts + 1,
        at: Utc::now(),
        status: None,
        ms: 0,
        error: None,
        response_excerpt: String::new(),
        after: After::Dead,
    };
    let event = match shared.store.get(delivery.event_id).await {
        Ok(Some(event)) => event,
        Ok(None) => {
            finished.error = Some("the event is no longer stored".into());
            return record(shared, None, finished).await;
        }
        Err(error) => {
            tracing::error!(error = %error, "Cannot read an event to forward; its lease will run out.");
            return;
        }
    };
    let resign = match target.resign {
        true => shared
            .sources
            .get(&event.new.source)
            .and_then(|s| s.verifier.as_ref()),
        false => None,
    };
    let sent = match &lane.publisher {
        Some(publisher) => send::publish(publisher, target, &event, delivery.replay).await,
        None => {
            send::send(
                &shared.client,
                Attempt {
                    event: &event,
                    to: delivery.to.as_deref().unwrap_or(&target.to),
                    n,
                    timeout: target.timeout,
                    add_headers: &target.add_headers,
                    resign,
                    now: finished.at,
                },
            )
            .await
        }
    };
    let now = Utc::now();
    let verdict = schedule::judge(&sent.outcome, n, target.max_attempts, jitter(), now);
    let (after, result) = match verdict {
        Verdict::Delivered => (After::Delivered, "delivered"),
        Verdict::Dead => (After::Dead, "dead"),
        Verdict::RetryAfter(wait) => (After::RetryAt(now + to_chrono(wait)), "failed"),
    };
    finished.after = after;
    let label = match lane.scope {
        ClaimScope::AdHoc => AD_HOC_LABEL,
        _ => target.name.as_str(),
    };
    shared.reports.metrics.forward_attempt(label, result);
    finished.ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
    finished.status = sent.status.map(i64::from);
    finished.error = sent.error;
    finished.response_excerpt = sent.excerpt;
    // Replays to an ad-hoc `to` belong to no target: nothing to tell.
    let outcome = delivery.to.is_none().then(|| AttemptOutcome {
        target: target.name.clone(),
        event_id: delivery.event_id,
        at: now,
        ended: match finished.after {
            After::Delivered => Ended::Delivered,
            After::Dead => Ended::Dead,
            After::RetryAt(_) => Ended::Failed,
        },
    });
    record(shared, outcome, finished).await;
}

/// Records the attempt, then tells its outcome (only once it is recorded).
async fn record(shared: &Shared, outcome: Option<AttemptOutcome>, finished: Finished) {
    let delivery = finished.delivery_id;
    match shared.store.finish_attempt(finished).await {
        Ok(_) => {
            if let Some(outcome) = outcome {
                shared.reports.outcomes.send(outcome);
            }
        }
        Err(error) => {
            tracing::error!(error = %error, delivery, "Cannot record an attempt; it will be made again.");
        }
    }
}

fn to_chrono(wait: Duration) -> chrono::Duration {
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
}

/// A number in `[0, 1)` that spreads retries apart.
fn jitter() -> f64 {
    getrandom::u64()
        .map(|bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
        .unwrap_or(0.5)
}
