//! The recorder: writes finished attempts to the store in batches, then tells their outcomes.
//!
//! Attempts end one by one, but each write to the store costs a commit; the recorder takes
//! every finished attempt waiting (up to `MOST`) and records them in one write, so while
//! one write runs the next batch gathers. Nothing waits for a timer: a lone attempt is
//! written at once. An outcome is told only once its attempt is recorded. A failed write
//! loses nothing: the deliveries keep their leases and are attempted again after them.
//! Recorded retries are told to the worker ([`Wake::retried`]), which then learns when they
//! fall due.
//!
//! It runs until every sender is gone (the worker and every attempt), so at shutdown it
//! records the last attempts before it ends.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::outcome::{AttemptOutcome, Outcomes};
use super::wake::Wake;
use crate::store::{After, Finished, Store};

/// The most attempts recorded in one write.
const MOST: usize = 512;
/// Finished attempts waiting to be recorded before attempts wait to hand theirs over.
const QUEUE: usize = 4096;

/// A finished attempt, and what to tell once it is recorded (`None` for an ad-hoc replay).
pub struct Record {
    pub finished: Finished,
    pub outcome: Option<AttemptOutcome>,
}

/// Starts the recorder on `tasks`; records what is sent on the answer.
/// `wake` learns of recorded retries.
pub fn start(
    store: Store,
    outcomes: Outcomes,
    wake: Arc<Wake>,
    tasks: &TaskTracker,
) -> mpsc::Sender<Record> {
    let (sender, receiver) = mpsc::channel(QUEUE);
    tasks.spawn(run(store, outcomes, wake, receiver));
    sender
}

async fn run(
    store: Store,
    outcomes: Outcomes,
    wake: Arc<Wake>,
    mut records: mpsc::Receiver<Record>,
) {
    let mut batch = Vec::with_capacity(MOST);
    while records.recv_many(&mut batch, MOST).await > 0 {
        let (finished, told): (Vec<Finished>, Vec<Option<AttemptOutcome>>) =
            batch.drain(..).map(|r| (r.finished, r.outcome)).unzip();
        let count = finished.len();
        let retry = finished
            .iter()
            .any(|f| matches!(f.after, After::RetryAt(_)));
        match store.finish_attempts(finished).await {
            Ok(()) => {
                if retry {
                    wake.retried();
                }
                told.into_iter().flatten().for_each(|o| outcomes.send(o));
            }
            Err(error) => {
                tracing::error!(error = %error, count, "Cannot record attempts; they will be made again.");
            }
        }
    }
}
