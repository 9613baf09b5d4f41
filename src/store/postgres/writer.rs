//! The writer of one instance: group commit.
//!
//! One task takes every job waiting in its queue (up to `MAX_BATCH`, or `MAX_BATCH_BYTES` of
//! bodies), writes their new events with one statement that commits by itself (`batch`) and
//! counts their redeliveries in one small transaction after it (`redeliver`), and only then
//! answers each waiting request. A job whose write failed is answered `Unavailable` (503), so
//! nothing is acknowledged that is not committed. Transient conflicts (deadlock,
//! serialization failure) are retried a bounded number of times before giving up; a
//! redelivery whose original was deleted while it was counted is answered 503 too, and
//! stored as new when sent again. The writer publishes nothing: the listener reads every
//! instance's events back in id order (`listen`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use deadpool_postgres::{ClientWrapper, Object, Pool};
use tokio::sync::{mpsc, oneshot};

use super::redeliver::{self, Plan};
use super::{PgError, batch, rollup};
use crate::metrics::StoreMetrics;
use crate::model::{Event, NewEvent};
use crate::store::{Cause, Inserted, StoreError};

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

type Answer = Result<Inserted, Cause>;

/// Runs the writer until every sender is dropped.
pub(super) async fn run(pool: Pool, mut jobs: mpsc::Receiver<Job>, metrics: StoreMetrics) {
    let mut writer = Writer {
        pool,
        shard: rollup::pick_shard(),
        connection: None,
    };
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
        let started = Instant::now();
        let size = batch.len();
        writer.commit_batch(batch).await;
        metrics.batch(size, started.elapsed());
    }
}

/// One instance's writer and what it keeps between batches.
struct Writer {
    pool: Pool,
    /// This writer's shard of every rollup row (`rollup`).
    shard: i16,
    /// The connection of the last batch, kept for the next: one PostgreSQL backend, with its
    /// caches warm, does all of this writer's work.
    connection: Option<Object>,
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
            Err(error) => failed_all(PgError::Pool(error), jobs),
        };
        if let Some(Err(error)) = answers.iter().find(|a| a.is_err()) {
            let failed = answers.iter().filter(|a| a.is_err()).count();
            tracing::error!(error = %error, jobs, failed, "Commit failed; those jobs are not acknowledged.");
        }
        for (reply, answer) in replies.into_iter().zip(answers) {
            let _ = reply.send(answer.map_err(StoreError::Unavailable));
        }
    }

    /// Writes one batch on one connection: its new events (tried again after a transient
    /// conflict), then its redeliveries. Answers each job.
    async fn write(&mut self, client: &ClientWrapper, events: Vec<NewEvent>) -> Vec<Answer> {
        let refs: Vec<&NewEvent> = events.iter().collect();
        let plan = Plan::of(&refs);
        let candidates = plan.candidates();
        let rows: Vec<&NewEvent> = candidates.iter().map(|&i| refs[i]).collect();
        let drawn = match insert(client, &rows, self.shard).await {
            Ok(drawn) => drawn,
            Err(error) => return failed_all(error, events.len()),
        };
        let counts = redeliver::redeliveries(&plan, &candidates, &drawn);
        let originals = match counts.is_empty() {
            true => Ok(HashMap::new()),
            false => count_duplicates(client, &refs, &plan, &counts, self.shard)
                .await
                .map_err(Cause::from),
        };
        let mut stored_as: Vec<Option<i64>> = vec![None; events.len()];
        for (&i, &(id, stored)) in candidates.iter().zip(&drawn) {
            stored_as[i] = stored.then_some(id);
        }
        answer(events, &plan, &stored_as, &originals)
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
) -> Result<Vec<(i64, bool)>, PgError> {
    let mut attempt = 1;
    loop {
        match batch::insert(client, rows, shard).await {
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
) -> Result<HashMap<usize, i64>, PgError> {
    let result = redeliver::count_duplicates(client, events, plan, counts, shard).await;
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
    originals: &Result<HashMap<usize, i64>, Cause>,
) -> Vec<Answer> {
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
                    None => Err(PgError::Vanished.into()),
                },
            }
        })
        .collect()
}

/// The same error for every job of a batch.
fn failed_all(error: PgError, jobs: usize) -> Vec<Answer> {
    let cause = Cause::from(error);
    (0..jobs).map(|_| Err(cause.clone())).collect()
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
