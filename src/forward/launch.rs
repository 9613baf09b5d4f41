//! The launcher: reads the events of the deliveries the worker starts, many in one read, and
//! runs each attempt as its own task.
//!
//! The worker counts a delivery in flight when it hands it over, so what waits here is
//! bounded by the lanes' limits (twice `max_in_flight`), and so are the bodies read; each
//! attempt sends only while it holds one of its lane's `max_in_flight` permits, so the next
//! events are read while the previous attempts run. One read at a time, for
//! every delivery waiting, keeps forwarding to one reader connection and one blocking call
//! per batch instead of one per attempt (each costs a thread hop, and SQLite's memory on
//! every thread that reads, which the C allocator keeps per thread).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::Utc;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::attempt::{self, Context, Route};
use super::lane::{Claimed, LEASE_MARGIN, chrono_of};
use super::record::Record;
use super::wake::Wake;
use crate::model::Event;
use crate::store::{ClaimScope, Lease};

/// The most deliveries whose events are read together.
const MOST: usize = 256;

/// One target as its attempts share it.
pub struct Lane {
    pub route: Route,
    pub scope: ClaimScope,
    /// Deliveries handed over and not ended (see `lane::Queue::start`).
    pub in_flight: AtomicU32,
    /// `max_in_flight` permits: an attempt sends only while it holds one, so a target never
    /// has more at once however many were handed over.
    pub sending: Semaphore,
}

/// Where the worker hands deliveries to start. Unbounded, because each item is already
/// counted in its lane's `in_flight`.
#[derive(Clone)]
pub struct Launcher(mpsc::UnboundedSender<Handed>);

/// A delivery handed over: its lane, its lease, and `Wake::pause_count` at the time.
struct Handed {
    lane: Arc<Lane>,
    claimed: Claimed,
    pauses: u64,
}

impl Launcher {
    /// Starts the launcher on `tasks`; it ends once every `Launcher` is dropped and what it
    /// was handed is started.
    pub fn start(
        context: Context,
        recorder: mpsc::Sender<Record>,
        wake: Arc<Wake>,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Launcher {
        let (sender, receiver) = mpsc::unbounded_channel();
        let launch = Launch {
            context,
            recorder,
            wake,
            tasks: tasks.clone(),
            shutdown,
        };
        tasks.spawn(launch.run(receiver));
        Launcher(sender)
    }

    /// Starts an attempt at `claimed` (counted in `lane.in_flight` by the caller); `pauses`
    /// is `Wake::pause_count` now. It is given back unsent if, when its turn to send comes, a
    /// target was paused since, the server is stopping, or its lease would not outlast the
    /// attempt (it waited for a slot).
    pub fn launch(&self, lane: Arc<Lane>, claimed: Claimed, pauses: u64) {
        let handed = Handed {
            lane,
            claimed,
            pauses,
        };
        if let Err(mpsc::error::SendError(handed)) = self.0.send(handed) {
            // The launcher is gone only when the process stops; the lease runs out.
            handed.lane.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct Launch {
    context: Context,
    recorder: mpsc::Sender<Record>,
    wake: Arc<Wake>,
    tasks: TaskTracker,
    shutdown: CancellationToken,
}

impl Launch {
    async fn run(self, mut handed: mpsc::UnboundedReceiver<Handed>) {
        let mut batch = Vec::with_capacity(MOST);
        while handed.recv_many(&mut batch, MOST).await > 0 {
            let ids = batch.iter().map(|h| h.claimed.delivery.event_id).collect();
            let mut events: HashMap<i64, _> = match self.context.store.get_many(ids).await {
                Ok(found) => found.into_iter().map(|e| (e.id, e)).collect(),
                Err(error) => {
                    tracing::error!(error = %error, "Cannot read events to forward; their leases will run out.");
                    for handed in batch.drain(..) {
                        self.ended(&handed.lane);
                    }
                    continue;
                }
            };
            // Two deliveries of one event (two targets, a replay) each get a copy.
            let mut left: HashMap<i64, usize> = HashMap::new();
            for handed in &batch {
                *left.entry(handed.claimed.delivery.event_id).or_default() += 1;
            }
            for handed in batch.drain(..) {
                let id = handed.claimed.delivery.event_id;
                let last = left.get_mut(&id).is_none_or(|n| {
                    *n -= 1;
                    *n == 0
                });
                let event = match last {
                    true => events.remove(&id),
                    false => events.get(&id).cloned(),
                };
                self.attempt(handed, event);
            }
        }
    }

    fn attempt(&self, handed: Handed, event: Option<Event>) {
        let (context, recorder) = (self.context.clone(), self.recorder.clone());
        let (wake, shutdown) = (self.wake.clone(), self.shutdown.clone());
        let Handed {
            lane,
            claimed,
            pauses,
        } = handed;
        self.tasks.spawn(async move {
            // The semaphore is never closed; the permit is held while the attempt sends.
            let record = match lane.sending.acquire().await {
                Ok(_sending) => {
                    let need = chrono_of(lane.route.settings.timeout + LEASE_MARGIN);
                    let send = wake.pause_count() == pauses
                        && !shutdown.is_cancelled()
                        && Utc::now() + need < claimed.until;
                    match send {
                        true => {
                            let delivery = claimed.delivery;
                            Some(attempt::make(&context, &lane.route, delivery, event).await)
                        }
                        false => {
                            give_back(&context, &claimed).await;
                            None
                        }
                    }
                }
                Err(_) => None,
            };
            if let Some(record) = record {
                let _ = recorder.send(record).await;
            }
            lane.in_flight.fetch_sub(1, Ordering::SeqCst);
            wake.slot();
        });
    }

    /// An attempt that will not be made: its slot is free again.
    fn ended(&self, lane: &Lane) {
        lane.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.wake.slot();
    }
}

/// Ends the lease of a delivery not sent, so it is claimed again at once (a paused target's
/// once it is resumed; after a stop, by the next start).
async fn give_back(context: &Context, claimed: &Claimed) {
    let lease = Lease {
        delivery_id: claimed.delivery.id,
        until: claimed.until,
    };
    if let Err(error) = context.store.release_deliveries(vec![lease]).await {
        tracing::warn!(error = %error, "Cannot give back a held delivery; its lease will run out.");
    }
}
