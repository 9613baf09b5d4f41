//! The writer of one instance: group commit.
//!
//! One task takes every job waiting in its queue (up to `MAX_BATCH`, or `MAX_BATCH_BYTES` of
//! bodies), writes them with a handful of multi-row statements in one transaction (`batch`),
//! commits once, and only then answers each waiting request. A failed transaction answers
//! every job in it with `Unavailable` (503), so nothing is acknowledged that is not committed.
//! Transient conflicts (deadlock, serialization failure, an original deleted under a
//! redelivery) are retried a bounded number of times before giving up.

use std::sync::Arc;

use deadpool_postgres::{ClientWrapper, Pool};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;

use super::batch::{self, Applied};
use super::ledger::Ledger;
use super::rollup;
use crate::model::{Event, NewEvent};
use crate::store::{Inserted, StoreError};

/// Most jobs committed together; bounds the latency one commit adds to the first job.
const MAX_BATCH: usize = 1024;
/// Stop adding jobs to a batch once its bodies reach this size (bodies may be 25 MiB each).
const MAX_BATCH_BYTES: usize = 64 * 1024 * 1024;
/// Tries of one batch when PostgreSQL reports a transient conflict.
const ATTEMPTS: usize = 3;

/// One delivery waiting for its commit.
pub(super) struct Job {
    pub event: NewEvent,
    pub reply: oneshot::Sender<Result<Inserted, StoreError>>,
}

/// Why a batch was not committed.
#[derive(Debug, thiserror::Error)]
pub(super) enum WriteError {
    #[error("no connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the original of a redelivery disappeared while it was counted")]
    Vanished,
}

impl WriteError {
    /// Whether trying the same batch again may succeed at once. A connection lost during
    /// COMMIT is not retried: the outcome is unknown, and the sender's own retry (after the
    /// 503) is answered `duplicate` when it did commit.
    fn is_transient(&self) -> bool {
        match self {
            WriteError::Vanished => true,
            WriteError::Db(e) => matches!(
                e.code(),
                Some(&SqlState::T_R_DEADLOCK_DETECTED) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
            ),
            WriteError::Pool(_) => false,
        }
    }
}

/// Runs the writer until every sender is dropped.
pub(super) async fn run(pool: Pool, mut jobs: mpsc::Receiver<Job>, ledger: Arc<Ledger>) {
    let shard = rollup::pick_shard();
    while let Some(first) = jobs.recv().await {
        let mut bytes = first.event.body.len();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH && bytes < MAX_BATCH_BYTES {
            match jobs.try_recv() {
                Ok(job) => {
                    bytes += job.event.body.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        commit_batch(&pool, batch, &ledger, shard).await;
    }
}

async fn commit_batch(pool: &Pool, batch: Vec<Job>, ledger: &Ledger, shard: i16) {
    let (events, replies): (Vec<NewEvent>, Vec<_>) =
        batch.into_iter().map(|job| (job.event, job.reply)).unzip();
    let jobs = events.len();
    match write(pool, events, ledger, shard).await {
        Ok(answers) => {
            for (reply, inserted) in replies.into_iter().zip(answers) {
                let _ = reply.send(Ok(inserted));
            }
        }
        Err(error) => {
            tracing::error!(error = %error, jobs, "Commit failed; nothing acknowledged.");
            for reply in replies {
                let _ = reply.send(Err(StoreError::Unavailable(error.to_string())));
            }
        }
    }
}

/// One transaction on one connection; never hands the connection back to the pool inside a
/// transaction (when COMMIT already ended it, the ROLLBACK is a harmless no-op).
async fn write(
    pool: &Pool,
    events: Vec<NewEvent>,
    ledger: &Ledger,
    shard: i16,
) -> Result<Vec<Inserted>, WriteError> {
    let client = pool.get().await?;
    let result = write_on(&client, events, ledger, shard).await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

/// Stages the batch (again, after a transient conflict), tells the listener what it stored,
/// then commits and tells it the outcome (`ledger`): the listener publishes these events
/// without reading them back.
async fn write_on(
    client: &ClientWrapper,
    events: Vec<NewEvent>,
    ledger: &Ledger,
    shard: i16,
) -> Result<Vec<Inserted>, WriteError> {
    let staged = {
        let events: Vec<&NewEvent> = events.iter().collect();
        let mut attempt = 1;
        loop {
            match batch::stage(client, &events).await {
                Err(error) if error.is_transient() && attempt < ATTEMPTS => {
                    tracing::debug!(error = %error, attempt, "Batch conflicted; retrying.");
                    client.batch_execute("ROLLBACK").await?;
                    attempt += 1;
                }
                result => break result?,
            }
        }
    };
    let answers: Vec<Inserted> = events
        .into_iter()
        .zip(&staged.applied)
        .map(|(event, &applied)| inserted(event, applied))
        .collect();
    let stored: Vec<Arc<Event>> = answers
        .iter()
        .filter_map(|answer| match answer {
            Inserted::Stored(event) => Some(event.clone()),
            Inserted::Duplicate { .. } => None,
        })
        .collect();
    ledger.staged(&stored, &staged.absent);
    if let Err(error) = batch::commit(client, &stored, &staged, shard).await {
        let drawn = stored
            .iter()
            .map(|e| e.id)
            .chain(staged.absent.iter().copied());
        ledger.forget(drawn);
        return Err(error);
    }
    ledger.committed(&stored);
    Ok(answers)
}

fn inserted(event: NewEvent, applied: Applied) -> Inserted {
    match applied {
        Applied::Stored(id) => Inserted::Stored(Arc::new(Event {
            id,
            size: event.body.len() as i64,
            new: event,
            duplicates: 0,
            enrichment: None,
        })),
        Applied::Duplicate(id) => Inserted::Duplicate { id },
    }
}
