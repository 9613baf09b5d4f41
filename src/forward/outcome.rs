//! What the worker tells others about each recorded attempt to a configured target, so the
//! `forward_failures` alert rule can watch targets without reading the store.
//!
//! A broadcast channel: sending with nobody listening costs nothing, and a listener that falls
//! behind misses outcomes (it is told how many) rather than slowing forwarding down. Each
//! instance reports only the attempts it made itself.

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

/// Outcomes waiting for a slow listener before it starts missing them.
const CAPACITY: usize = 4096;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Delivered,
    /// Failed; the delivery will be tried again.
    Failed,
    /// Failed, and the delivery is now dead.
    Dead,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The `[[forward]]` rule's name.
    pub target: String,
    pub event_id: i64,
    pub at: DateTime<Utc>,
    pub ended: Ended,
}

/// Where the worker sends outcomes; clones share one channel.
#[derive(Debug, Clone)]
pub struct Outcomes(broadcast::Sender<AttemptOutcome>);

impl Default for Outcomes {
    fn default() -> Outcomes {
        Outcomes(broadcast::channel(CAPACITY).0)
    }
}

impl Outcomes {
    /// Tells every listener; nobody listening is fine.
    pub fn send(&self, outcome: AttemptOutcome) {
        let _ = self.0.send(outcome);
    }

    /// A listener for outcomes sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<AttemptOutcome> {
        self.0.subscribe()
    }
}
