//! The worker: claims due deliveries from the store and starts their attempts, per target
//! within its `max_in_flight` and `rate_per_sec`.
//!
//! Each target is a lane ([`Queue`]): deliveries are claimed ahead in batches (leases,
//! so a delivery this instance dies holding is claimed again by whoever runs once the lease is
//! over), claims run beside the sends, deliveries to start go to the launcher
//! (`launch`), and attempts hand what they did to the recorder (`record`), which writes
//! them in batches. The worker sleeps until news arrives
//! ([`Wake`]: new work, a pause, a freed slot), a claim answers, or a lane's next moment comes
//! (a rate's next start, a held delivery to give back, a dry lane's next look). At shutdown
//! it gives back what it holds and has not started; attempts under way are recorded.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio::task::{self, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::Reports;
use super::attempt::{Context, Route};
use super::broker::Publisher;
use super::lane::{Claim, MAX_SLEEP, Queue, chrono_of};
use super::launch::{Lane, Launcher};
use super::record;
use super::settings::TargetSettings;
use super::target::Kind;
use super::wake::Wake;
use crate::config::SourceSettings;
use crate::store::{ClaimScope, Delivery, Lease, Store, StoreError};

/// The wait before a lane claims again after its claim failed.
const CLAIM_RETRY: Duration = Duration::from_secs(1);

/// The metrics' target label of replays to a caller's own `to` (never the URL itself).
const AD_HOC_LABEL: &str = "_replay_to";

/// What the worker needs besides its lanes.
struct Worker {
    store: Store,
    wake: Arc<Wake>,
    launcher: Launcher,
    /// `Wake::retry_count` at the last pass.
    retries: AtomicU64,
}

/// The claims under way: the tasks, and each task's lane (by index) and claim, so even a
/// claim task that panicked frees its lane to claim again.
#[derive(Default)]
struct Claims {
    tasks: JoinSet<Result<Vec<Delivery>, StoreError>>,
    of: HashMap<task::Id, (usize, Claim)>,
}

type ClaimAnswer = Result<(task::Id, Result<Vec<Delivery>, StoreError>), task::JoinError>;

/// Runs until `shutdown`; `wake` is told by whoever queued or released work.
pub async fn run(
    store: Store,
    targets: Arc<Vec<TargetSettings>>,
    sources: Arc<BTreeMap<String, SourceSettings>>,
    reports: Reports,
    wake: Arc<Wake>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
) {
    let client = match super::send::client() {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(error = %error, "Cannot build the HTTP client; forwarding is off.");
            return;
        }
    };
    let mut lanes: Vec<(Arc<Lane>, Queue)> = targets
        .iter()
        .map(|t| lane(t.clone(), ClaimScope::Target(t.name.clone())))
        .collect();
    lanes.push(lane(TargetSettings::ad_hoc(""), ClaimScope::AdHoc));
    let outcomes = reports.outcomes.clone();
    let recorder = record::start(store.clone(), outcomes, wake.clone(), &tasks);
    let context = Context {
        store: store.clone(),
        client,
        sources,
        metrics: reports.metrics,
    };
    let launcher = Launcher::start(context, recorder, wake.clone(), &tasks, shutdown.clone());
    let worker = Worker {
        store,
        wake,
        launcher,
        retries: AtomicU64::new(0),
    };
    let mut claims = Claims::default();
    while !shutdown.is_cancelled() {
        let until = worker.pass(&mut lanes, &mut claims).await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = worker.wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
            Some(answer) = claims.tasks.join_next_with_id() => {
                worker.claimed(&mut lanes, &mut claims, answer);
            }
        }
    }
    while let Some(answer) = claims.tasks.join_next_with_id().await {
        worker.claimed(&mut lanes, &mut claims, answer);
    }
    let held: Vec<Lease> = lanes
        .iter_mut()
        .flat_map(|(_, q)| q.release_all())
        .collect();
    worker.release(held).await;
}

fn lane(settings: TargetSettings, scope: ClaimScope) -> (Arc<Lane>, Queue) {
    let publisher = (settings.kind != Kind::Http).then(|| Publisher::new(settings.timeout));
    let label = match scope {
        ClaimScope::AdHoc => AD_HOC_LABEL.to_string(),
        ClaimScope::Target(_) => settings.name.clone(),
    };
    let queue = Queue::new(&settings);
    let route = Route {
        settings,
        publisher,
        label,
    };
    let lane = Lane {
        sending: Semaphore::new(route.settings.max_in_flight.max(1) as usize),
        route,
        scope,
        in_flight: AtomicU32::new(0),
    };
    (Arc::new(lane), queue)
}

impl Worker {
    /// Gives back what must be, starts the claims and the attempts each lane may make now;
    /// answers when to look again unless told sooner.
    async fn pass(&self, lanes: &mut [(Arc<Lane>, Queue)], claims: &mut Claims) -> Instant {
        let now = Utc::now();
        let release_all = self.wake.take_release();
        let retries = self.wake.retry_count();
        if self.retries.swap(retries, Ordering::SeqCst) != retries {
            lanes.iter_mut().for_each(|(_, q)| q.due_changed());
        }
        let mut give_back = Vec::new();
        for (index, (lane, queue)) in lanes.iter_mut().enumerate() {
            let work = self.wake.work_count(lane.scope == ClaimScope::AdHoc);
            match release_all {
                true => give_back.extend(queue.release_all()),
                false => give_back.extend(queue.expired(now)),
            }
            if let Some(claim) = queue.claim(now, work) {
                let (store, scope) = (self.store.clone(), lane.scope.clone());
                let task = claims.tasks.spawn(async move {
                    store
                        .claim_deliveries(scope, claim.now, claim.until, claim.limit)
                        .await
                });
                claims.of.insert(task.id(), (index, claim));
            }
            self.start(lane, queue, now);
        }
        self.release(give_back).await;
        for (lane, queue) in lanes.iter_mut().filter(|(_, q)| q.needs_due()) {
            self.read_due(lane, queue).await;
        }
        let wake_at = lanes
            .iter()
            .filter_map(|(lane, q)| q.wake_at(lane.in_flight.load(Ordering::SeqCst)))
            .min();
        instant_of(wake_at.map_or(now + chrono_of(MAX_SLEEP), |at| {
            at.min(now + chrono_of(MAX_SLEEP))
        }))
    }

    /// Starts every attempt the lane may start now (none while a pause is not yet seen).
    fn start(&self, lane: &Arc<Lane>, queue: &mut Queue, now: DateTime<Utc>) {
        let pauses = self.wake.pause_count();
        while !self.wake.release_pending()
            && let Some(claimed) = queue.start(now, lane.in_flight.load(Ordering::SeqCst))
        {
            lane.in_flight.fetch_add(1, Ordering::SeqCst);
            self.launcher.launch(lane.clone(), claimed, pauses);
        }
    }

    /// Takes a claim's answer into its lane (the next pass starts what it brought).
    fn claimed(&self, lanes: &mut [(Arc<Lane>, Queue)], claims: &mut Claims, answer: ClaimAnswer) {
        let (id, got) = match answer {
            Ok((id, got)) => (id, got.map_err(|e| e.to_string())),
            Err(error) => (error.id(), Err(error.to_string())),
        };
        let Some((index, claim)) = claims.of.remove(&id) else {
            return;
        };
        let Some((_, queue)) = lanes.get_mut(index) else {
            return;
        };
        match got {
            Ok(got) => queue.claimed(claim, got),
            Err(error) => {
                tracing::error!(error = %error, "Cannot claim deliveries.");
                queue.claim_failed(claim, Utc::now() + chrono_of(CLAIM_RETRY));
            }
        }
    }

    /// Tells a dry lane when its next delivery falls due.
    async fn read_due(&self, lane: &Lane, queue: &mut Queue) {
        let next = match self
            .store
            .next_delivery_due(lane.scope.clone(), Utc::now())
            .await
        {
            Ok(next) => next,
            Err(error) => {
                tracing::error!(error = %error, "Cannot read when the next delivery is due.");
                Some(Utc::now() + chrono_of(CLAIM_RETRY))
            }
        };
        queue.due(next, Utc::now());
    }

    /// Gives leases back; on failure they run out instead.
    async fn release(&self, leases: Vec<Lease>) {
        let count = leases.len();
        if let Err(error) = self.store.release_deliveries(leases).await {
            tracing::warn!(error = %error, count, "Cannot give back held deliveries; their leases will run out.");
        }
    }
}

fn instant_of(at: DateTime<Utc>) -> Instant {
    Instant::now() + (at - Utc::now()).to_std().unwrap_or(Duration::ZERO)
}
