//! The writer of one instance: group commit.
//!
//! One task takes every job waiting in its queue (up to `MAX_BATCH`, or `MAX_BATCH_BYTES` of
//! bodies), writes their new events with one statement that commits by itself and counts
//! their redeliveries in one small transaction after it (`batch`), and only then answers each
//! waiting request. A job whose write failed is answered `Unavailable` (503), so nothing is
//! acknowledged that is not committed. Transient conflicts (deadlock, serialization failure)
//! are retried a bounded number of times before giving up; a redelivery whose original was
//! deleted while it was counted is answered 503 too, and stored as new when sent again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::{ClientWrapper, Object, Pool};
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::error::SqlState;

use super::batch::{self, Plan};
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
/// The shortest time between two `NOTIFY`s of one writer. Only other instances need them
/// (this instance's listener hears from the writer itself, `ledger`), and a busy instance's
/// listener learns of everyone's events from its own writer's batches: so one per batch
/// under load would only cost every listener a wake-up. An idle instance still shows a busy
/// one's events within this (plus a probe).
const NOTIFY_GAP: Duration = Duration::from_millis(10);

/// One delivery waiting for its commit.
pub(super) struct Job {
    pub event: NewEvent,
    pub reply: oneshot::Sender<Result<Inserted, StoreError>>,
}

/// Why a job was not committed.
#[derive(Debug, thiserror::Error)]
pub(super) enum WriteError {
    #[error("no connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the original of a redelivery disappeared while it was counted")]
    Vanished,
    #[error("the batch statement answered no rows")]
    NoAnswer,
}

impl WriteError {
    /// Whether trying the same batch again may succeed at once. A connection lost while the
    /// batch statement ran is not retried: the outcome is unknown, and the sender's own retry
    /// (after the 503) is answered `duplicate` when it did commit.
    fn is_transient(&self) -> bool {
        match self {
            WriteError::Vanished | WriteError::NoAnswer => false,
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
    let mut writer = Writer {
        pool,
        ledger,
        shard: rollup::pick_shard(),
        connection: None,
        notified: None,
        owed: false,
    };
    loop {
        let first = match writer.notify_owed_at() {
            Some(at) => tokio::select! {
                job = jobs.recv() => job,
                () = tokio::time::sleep_until(at) => {
                    writer.notify_alone().await;
                    continue;
                }
            },
            None => jobs.recv().await,
        };
        let Some(first) = first else { return };
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
        writer.commit_batch(batch).await;
    }
}

/// One instance's writer and what it remembers between batches.
struct Writer {
    pool: Pool,
    ledger: Arc<Ledger>,
    /// This writer's shard of every rollup row (`rollup`).
    shard: i16,
    /// The connection of the last batch, kept for the next: one PostgreSQL backend, with its
    /// caches warm, does all of this writer's work.
    connection: Option<Object>,
    /// When this writer last sent a `NOTIFY`.
    notified: Option<Instant>,
    /// Whether a batch stored events that no `NOTIFY` has announced yet.
    owed: bool,
}

impl Writer {
    async fn commit_batch(&mut self, batch: Vec<Job>) {
        let (events, replies): (Vec<NewEvent>, Vec<_>) =
            batch.into_iter().map(|job| (job.event, job.reply)).unzip();
        let jobs = events.len();
        let answers = match self.connection().await {
            Ok(client) => {
                let answers = self.write(&client, events).await;
                // After any error the connection may be broken in a way not yet noticed
                // (`connection` notices one closed since).
                if answers.iter().all(Result::is_ok) {
                    self.connection = Some(client);
                }
                answers
            }
            Err(error) => failed_all(WriteError::from(error), jobs),
        };
        if let Some(Err(error)) = answers.iter().find(|a| a.is_err()) {
            let failed = answers.iter().filter(|a| a.is_err()).count();
            tracing::error!(error = %error, jobs, failed, "Commit failed; those jobs are not acknowledged.");
        }
        for (reply, answer) in replies.into_iter().zip(answers) {
            let answer = answer.map_err(|error| StoreError::Unavailable(error.to_string()));
            let _ = reply.send(answer);
        }
    }

    /// Writes one batch on one connection: its new events (tried again after a transient
    /// conflict), then its redeliveries; tells the listener what it stored (`ledger`), which
    /// then publishes these events without reading them back. Answers each job.
    async fn write(
        &mut self,
        client: &ClientWrapper,
        events: Vec<NewEvent>,
    ) -> Vec<Result<Inserted, Arc<WriteError>>> {
        let refs: Vec<&NewEvent> = events.iter().collect();
        let plan = Plan::of(&refs);
        let candidates = plan.candidates();
        let rows: Vec<&NewEvent> = candidates.iter().map(|&i| refs[i]).collect();
        let number = self.ledger.begin();
        let notify = self.notify_due();
        let written = match insert(client, &rows, self.shard, notify).await {
            Ok(written) => written,
            Err(error) => {
                self.ledger.finish(number, &[], &[], None);
                return failed_all(error, events.len());
            }
        };
        self.notified_now(notify, &written.drawn);
        let drawn = &written.drawn;
        let counts = batch::redeliveries(&plan, &candidates, drawn);
        let originals = match counts.is_empty() {
            true => Ok(HashMap::new()),
            false => count_duplicates(client, &refs, &plan, &counts, self.shard)
                .await
                .map_err(Arc::new),
        };
        let mut stored_as: Vec<Option<i64>> = vec![None; events.len()];
        let mut absent = Vec::new();
        for (&i, &(id, stored)) in candidates.iter().zip(drawn) {
            match stored {
                true => stored_as[i] = Some(id),
                false => absent.push(id),
            }
        }
        let answers = answer(events, &plan, &stored_as, &originals);
        let stored: Vec<Arc<Event>> = answers
            .iter()
            .filter_map(|answer| match answer {
                Ok(Inserted::Stored(event)) => Some(event.clone()),
                _ => None,
            })
            .collect();
        self.ledger
            .finish(number, &stored, &absent, Some(written.probe));
        answers
    }

    /// Whether this batch carries a `NOTIFY`: at most one per `NOTIFY_GAP`.
    fn notify_due(&self) -> bool {
        self.notified.is_none_or(|at| at.elapsed() >= NOTIFY_GAP)
    }

    /// Remembers whether the batch's events were announced.
    fn notified_now(&mut self, sent: bool, drawn: &[(i64, bool)]) {
        if sent {
            self.notified = Some(Instant::now());
            self.owed = false;
        }
        self.owed |= !sent && drawn.iter().any(|&(_, stored)| stored);
    }

    /// When to announce stored events on their own, if no batch does it first.
    fn notify_owed_at(&self) -> Option<tokio::time::Instant> {
        let at = self.notified? + NOTIFY_GAP;
        self.owed.then(|| at.into())
    }

    /// Sends the owed `NOTIFY` by itself; on failure the listeners find the events on their
    /// next timed probe.
    async fn notify_alone(&mut self) {
        self.notified = Some(Instant::now());
        self.owed = false;
        let client = match self.connection().await {
            Ok(client) => client,
            Err(error) => {
                tracing::debug!(error = %error, "NOTIFY failed; listeners catch up later.");
                return;
            }
        };
        match batch::send_notify(&client).await {
            Ok(()) => self.connection = Some(client),
            Err(error) => {
                tracing::debug!(error = %error, "NOTIFY failed; listeners catch up later.")
            }
        }
    }

    /// The connection kept from the last batch, or a new one from the pool.
    async fn connection(&mut self) -> Result<Object, deadpool_postgres::PoolError> {
        match self.connection.take() {
            Some(client) if !client.is_closed() => Ok(client),
            _ => self.pool.get().await,
        }
    }
}

/// Inserts the candidates, trying again a bounded number of times on a transient conflict
/// (nothing of a failed statement was committed).
async fn insert(
    client: &ClientWrapper,
    rows: &[&NewEvent],
    shard: i16,
    notify: bool,
) -> Result<batch::Written, WriteError> {
    let mut attempt = 1;
    loop {
        match batch::insert(client, rows, shard, notify).await {
            Err(error) if error.is_transient() && attempt < ATTEMPTS => {
                tracing::debug!(error = %error, attempt, "Batch conflicted; retrying.");
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// Counts the redeliveries in their own transaction; rolls it back on an error.
async fn count_duplicates(
    client: &ClientWrapper,
    events: &[&NewEvent],
    plan: &Plan,
    counts: &[(usize, i64)],
    shard: i16,
) -> Result<HashMap<usize, i64>, WriteError> {
    let result = batch::count_duplicates(client, events, plan, counts, shard).await;
    if result.is_err() {
        let _ = client.batch_execute("ROLLBACK").await;
    }
    result
}

/// Each job's answer: stored with its id, a duplicate of its original, or the error that
/// kept its redelivery from being counted (`originals` are by candidate job).
fn answer(
    events: Vec<NewEvent>,
    plan: &Plan,
    stored_as: &[Option<i64>],
    originals: &Result<HashMap<usize, i64>, Arc<WriteError>>,
) -> Vec<Result<Inserted, Arc<WriteError>>> {
    events
        .into_iter()
        .enumerate()
        .map(|(j, event)| {
            let leader = plan.repeats[j].unwrap_or(j);
            match (stored_as[j], originals) {
                (Some(id), _) => Ok(stored(event, id)),
                (_, Err(error)) => Err(error.clone()),
                (_, Ok(found)) => match found.get(&leader) {
                    Some(&id) => Ok(Inserted::Duplicate { id }),
                    None => Err(Arc::new(WriteError::Vanished)),
                },
            }
        })
        .collect()
}

/// The same error for every job of a batch.
fn failed_all(error: WriteError, jobs: usize) -> Vec<Result<Inserted, Arc<WriteError>>> {
    let error = Arc::new(error);
    (0..jobs).map(|_| Err(error.clone())).collect()
}

fn stored(event: NewEvent, id: i64) -> Inserted {
    Inserted::Stored(Arc::new(Event {
        id,
        size: event.body.len() as i64,
        new: event,
        duplicates: 0,
        enrichment: None,
    }))
}
