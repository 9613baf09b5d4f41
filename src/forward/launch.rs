//! The launcher: reads the events of the deliveries the worker starts, many in one read, and
//! runs each attempt as its own task.
//!
//! The worker counts a delivery in flight when it hands it over, so what waits here is
//! bounded by the lanes' `max_in_flight`, and so are the bodies read. One read at a time, for
//! every delivery waiting, keeps forwarding to one reader connection and one blocking call
//! per batch instead of one per attempt (each costs a thread hop, and SQLite's memory on
//! every thread that reads, which the C allocator keeps per thread).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::attempt::{self, Context, Route};
use super::record::Record;
use super::wake::Wake;
use crate::model::Event;
use crate::store::{ClaimScope, Delivery};

/// The most deliveries whose events are read together.
const MOST: usize = 256;

/// One target as its attempts share it.
pub struct Lane {
    pub route: Route,
    pub scope: ClaimScope,
    /// Attempts handed over and not ended.
    pub in_flight: AtomicU32,
}

/// Where the worker hands deliveries to start. Unbounded, because each item is already
/// counted in its lane's `in_flight`.
#[derive(Clone)]
pub struct Launcher(mpsc::UnboundedSender<(Arc<Lane>, Delivery)>);

impl Launcher {
    /// Starts the launcher on `tasks`; it ends once every `Launcher` is dropped and what it
    /// was handed is started.
    pub fn start(
        context: Context,
        recorder: mpsc::Sender<Record>,
        wake: Arc<Wake>,
        tasks: &TaskTracker,
    ) -> Launcher {
        let (sender, receiver) = mpsc::unbounded_channel();
        let launch = Launch {
            context,
            recorder,
            wake,
            tasks: tasks.clone(),
        };
        tasks.spawn(launch.run(receiver));
        Launcher(sender)
    }

    /// Starts an attempt at `delivery` (counted in `lane.in_flight` by the caller).
    pub fn launch(&self, lane: Arc<Lane>, delivery: Delivery) {
        if let Err(mpsc::error::SendError((lane, _))) = self.0.send((lane, delivery)) {
            // The launcher is gone only when the process stops; the lease runs out.
            lane.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct Launch {
    context: Context,
    recorder: mpsc::Sender<Record>,
    wake: Arc<Wake>,
    tasks: TaskTracker,
}

impl Launch {
    async fn run(self, mut handed: mpsc::UnboundedReceiver<(Arc<Lane>, Delivery)>) {
        let mut batch = Vec::with_capacity(MOST);
        while handed.recv_many(&mut batch, MOST).await > 0 {
            let ids = batch.iter().map(|(_, d)| d.event_id).collect();
            let mut events: HashMap<i64, _> = match self.context.store.get_many(ids).await {
                Ok(found) => found.into_iter().map(|e| (e.id, e)).collect(),
                Err(error) => {
                    tracing::error!(error = %error, "Cannot read events to forward; their leases will run out.");
                    for (lane, _) in batch.drain(..) {
                        self.ended(&lane);
                    }
                    continue;
                }
            };
            // Two deliveries of one event (two targets, a replay) each get a copy.
            let mut left: HashMap<i64, usize> = HashMap::new();
            for (_, d) in &batch {
                *left.entry(d.event_id).or_default() += 1;
            }
            for (lane, delivery) in batch.drain(..) {
                let id = delivery.event_id;
                let last = left.get_mut(&id).is_none_or(|n| {
                    *n -= 1;
                    *n == 0
                });
                let event = match last {
                    true => events.remove(&id),
                    false => events.get(&id).cloned(),
                };
                self.attempt(lane, delivery, event);
            }
        }
    }

    fn attempt(&self, lane: Arc<Lane>, delivery: Delivery, event: Option<Event>) {
        let (context, recorder) = (self.context.clone(), self.recorder.clone());
        let wake = self.wake.clone();
        self.tasks.spawn(async move {
            let record = attempt::make(&context, &lane.route, delivery, event).await;
            let _ = recorder.send(record).await;
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
