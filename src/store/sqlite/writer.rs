//! The single SQLite writer: group commit.
//!
//! One thread owns the only write connection. It takes every job waiting in its queue (up to
//! `MAX_BATCH`), applies them in one transaction, commits once (one fsync for the whole batch
//! with `synchronous=FULL`), and only then publishes each stored event on the feed (in id
//! order) and answers each waiting request. A failed commit
//! answers every job in the batch with an error, so no request is ever acknowledged for data
//! that is not on disk.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::{mpsc, oneshot};

use super::SqliteError;
use crate::feed::{Feed, FeedItem};
use crate::metrics::StoreMetrics;
use crate::model::{Alert, Event, NewAlert, NewEvent};
use crate::store::prune::Prune;
use crate::store::rollup::Rollups;
use crate::store::sql::enrichment as enrichment_sql;
use crate::store::{
    AlertNotice, Cause, EnrichmentWrite, ForwardRows, ForwardWrite, IndexStep, Inserted,
    SessionWrite, StoreError,
};

/// Most jobs committed together; bounds the latency one commit adds to the first job.
const MAX_BATCH: usize = 1024;

/// Work for the writer thread.
// Inserts are nearly all the traffic; boxing their event to shrink the rare enrichment job
// would cost an allocation per webhook.
#[allow(clippy::large_enum_variant)]
pub(super) enum Job {
    Insert {
        event: NewEvent,
        reply: oneshot::Sender<Result<Inserted, StoreError>>,
    },
    /// Claims or sets an event's enrichment; answers whether a row changed. Goes through the
    /// writer like every write, so there is still one write connection.
    Enrichment {
        id: i64,
        write: EnrichmentWrite,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// Inserts an alert row unless its `(rule, source, state, at)` exists: `Some(id)` when
    /// this call inserted it (see `Store::claim_alert`).
    ClaimAlert {
        alert: NewAlert,
        /// The sending lease (`alerts.notify_until`, microseconds).
        until: i64,
        reply: oneshot::Sender<Result<Option<i64>, StoreError>>,
    },
    /// Ends an alert's sending lease, or takes the expired ones (see `Store::alert_notified`).
    AlertNotice {
        notice: AlertNotice,
        reply: oneshot::Sender<Result<Vec<Alert>, StoreError>>,
    },
    /// A write to the forwarding queue (see `store::forward`).
    Forward {
        write: ForwardWrite,
        reply: oneshot::Sender<Result<ForwardRows, StoreError>>,
    },
    /// Creates, touches or revokes sessions; answers the rows changed.
    Session {
        write: SessionWrite,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Stores exported events with their ids (`store::archive`); answers which were added.
    Import {
        events: Arc<[Event]>,
        reply: oneshot::Sender<Result<Vec<bool>, StoreError>>,
    },
    /// Indexes the next events' words (`store::index`).
    Index {
        reply: oneshot::Sender<Result<IndexStep, StoreError>>,
    },
    /// Deletes events or old per-minute counts (`store::prune`); answers the rows deleted.
    Prune {
        prune: Prune,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
}

/// Runs the writer until every sender is dropped.
pub(super) fn run(
    mut conn: Connection,
    mut jobs: mpsc::Receiver<Job>,
    feed: &OnceLock<Feed>,
    metrics: &StoreMetrics,
) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // An index step commits on its own, after the batch: it never delays the batch's
        // answers, and a step that fails fails nothing else.
        let (steps, batch): (Vec<Job>, Vec<Job>) = batch
            .into_iter()
            .partition(|job| matches!(job, Job::Index { .. }));
        if !batch.is_empty() {
            let started = Instant::now();
            let jobs = batch.len();
            commit_batch(&mut conn, batch, feed.get());
            metrics.batch(jobs, started.elapsed());
        }
        for step in steps {
            index_step(&mut conn, step);
        }
    }
}

fn index_step(conn: &mut Connection, job: Job) {
    let result = (|| {
        let tx = conn.transaction()?;
        let step = super::index::step(&tx)?;
        tx.commit()?;
        Ok::<_, rusqlite::Error>(step)
    })();
    match result {
        Ok(step) => answer(job, Applied::Indexed(step), None),
        Err(error) => fail(job, Cause::from(SqliteError::Db(error))),
    }
}

/// What one job did inside the transaction, before the commit made it true.
enum Applied {
    Stored(i64),
    Duplicate(i64),
    /// An enrichment write; whether a row changed.
    Changed(bool),
    /// An alert claim; the new row's id when this job inserted it.
    Claimed(Option<i64>),
    /// Alerts taken over for sending (none for `AlertNotice::Done`).
    Alerts(Vec<Alert>),
    /// A session write or a deletion; the rows it changed.
    Rows(u64),
    /// An import; which of its events were added.
    Added(Vec<bool>),
    /// A forwarding queue write's answer.
    Forward(ForwardRows),
    /// An index step's answer.
    Indexed(IndexStep),
}

fn commit_batch(conn: &mut Connection, batch: Vec<Job>, feed: Option<&Feed>) {
    let result = (|| {
        let tx = conn.transaction()?;
        let mut applied = Vec::with_capacity(batch.len());
        let mut rollup = Rollups::default();
        for job in &batch {
            applied.push(match job {
                Job::Insert { event, .. } => apply(&tx, event, &mut rollup)?,
                Job::Enrichment { id, write, .. } => {
                    Applied::Changed(write_enrichment(&tx, *id, write)?)
                }
                Job::ClaimAlert { alert, until, .. } => {
                    Applied::Claimed(super::alerts::claim(&tx, alert, *until)?)
                }
                Job::AlertNotice { notice, .. } => {
                    Applied::Alerts(super::alerts::notice(&tx, *notice)?)
                }
                Job::Session { write, .. } => Applied::Rows(super::sessions::write(&tx, write)?),
                Job::Prune { prune, .. } => Applied::Rows(super::prune::apply(&tx, prune)?),
                Job::Import { events, .. } => {
                    Applied::Added(super::archive::import(&tx, events, &mut rollup)?)
                }
                Job::Forward { write, .. } => Applied::Forward(super::forward::write(&tx, write)?),
                // Taken apart in `run`; should one come here, it is a step like any other.
                Job::Index { .. } => Applied::Indexed(super::index::step(&tx)?),
            });
        }
        write_rollups(&rollup, &tx)?;
        tx.commit()?;
        Ok::<_, rusqlite::Error>(applied)
    })();
    match result {
        Ok(applied) => {
            for (job, applied) in batch.into_iter().zip(applied) {
                answer(job, applied, feed);
            }
        }
        Err(error) => {
            tracing::error!(error = %error, jobs = batch.len(), "Commit failed; nothing acknowledged.");
            let cause = Cause::from(SqliteError::Db(error));
            for job in batch {
                fail(job, cause.clone());
            }
        }
    }
}

/// Publishes a stored event, then tells the job's waiter what its committed work did.
fn answer(job: Job, applied: Applied, feed: Option<&Feed>) {
    match (job, applied) {
        (Job::Insert { event, reply }, Applied::Stored(id)) => {
            let event = stored(event, id);
            if let Some(feed) = feed {
                feed.publish(FeedItem::Event(event.clone()));
            }
            let _ = reply.send(Ok(Inserted::Stored(event)));
        }
        (Job::Insert { reply, .. }, Applied::Duplicate(id)) => {
            let _ = reply.send(Ok(Inserted::Duplicate { id }));
        }
        (Job::Enrichment { reply, .. }, Applied::Changed(changed)) => {
            let _ = reply.send(Ok(changed));
        }
        (Job::ClaimAlert { reply, .. }, Applied::Claimed(id)) => {
            let _ = reply.send(Ok(id));
        }
        (Job::AlertNotice { reply, .. }, Applied::Alerts(alerts)) => {
            let _ = reply.send(Ok(alerts));
        }
        (Job::Session { reply, .. }, Applied::Rows(rows))
        | (Job::Prune { reply, .. }, Applied::Rows(rows)) => {
            let _ = reply.send(Ok(rows));
        }
        (Job::Import { reply, .. }, Applied::Added(added)) => {
            let _ = reply.send(Ok(added));
        }
        (Job::Forward { reply, .. }, Applied::Forward(rows)) => {
            let _ = reply.send(Ok(rows));
        }
        (Job::Index { reply }, Applied::Indexed(step)) => {
            let _ = reply.send(Ok(step));
        }
        // `commit_batch` pairs each job with its own kind of result; this cannot happen.
        (job, _) => fail(job, SqliteError::OutOfStep.into()),
    }
}

fn fail(job: Job, cause: Cause) {
    let error = StoreError::Unavailable(cause);
    match job {
        Job::Insert { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::Enrichment { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::ClaimAlert { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::AlertNotice { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::Session { reply, .. } | Job::Prune { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::Import { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::Forward { reply, .. } => {
            let _ = reply.send(Err(error));
        }
        Job::Index { reply } => {
            let _ = reply.send(Err(error));
        }
    }
}

fn write_enrichment(tx: &Transaction, id: i64, write: &EnrichmentWrite) -> rusqlite::Result<bool> {
    let changed = match write {
        EnrichmentWrite::Claim { now, until } => tx
            .prepare_cached(enrichment_sql::CLAIM)?
            .execute(params![id, enrichment_sql::PENDING, now, until])?,
        EnrichmentWrite::Set(document) => tx
            .prepare_cached(enrichment_sql::SET)?
            .execute(params![id, document])?,
    };
    Ok(changed == 1)
}

fn stored(event: NewEvent, id: i64) -> Arc<Event> {
    Arc::new(Event {
        id,
        size: event.body.len() as i64,
        new: event,
        duplicates: 0,
        enrichment: None,
    })
}

/// Applies one delivery: a redelivery bumps the first event's count, anything else is stored.
/// Counters go to the batch's rollup, written once per batch.
fn apply(tx: &Transaction, event: &NewEvent, rollup: &mut Rollups) -> rusqlite::Result<Applied> {
    // The partial unique index on (source, delivery_id) of received events decides: the
    // insert does nothing for a redelivery, and only then is the original looked up.
    if let Some(id) = insert_event(tx, event)? {
        rollup.add_stored(event);
        return Ok(Applied::Stored(id));
    }
    let delivery_id = event.delivery_id.as_deref().unwrap_or_default();
    let (id, event_type) = find_original(tx, &event.source, delivery_id)?
        .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    tx.prepare_cached("UPDATE events SET duplicates = duplicates + 1 WHERE id = ?1")?
        .execute([id])?;
    rollup.add_duplicate(event, event_type.as_deref());
    Ok(Applied::Duplicate(id))
}

/// ?1 source, ?2 delivery id: the received event a redelivery repeats (`events_dedup`).
pub(super) const FIND_ORIGINAL: &str = "SELECT id, event_type FROM events
     WHERE source = ?1 AND delivery_id = ?2 AND status = 'received'";

fn find_original(
    tx: &Transaction,
    source: &str,
    delivery_id: &str,
) -> rusqlite::Result<Option<(i64, Option<String>)>> {
    tx.prepare_cached(FIND_ORIGINAL)?
        .query_row([source, delivery_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
}

/// Inserts the event and its body; `None` when it is a redelivery of a received event.
fn insert_event(tx: &Transaction, e: &NewEvent) -> rusqlite::Result<Option<i64>> {
    let inserted = tx.prepare_cached(
        "INSERT INTO events (source, received_at, method, path, query, remote_addr, content_type,
           size, provider, event_type, delivery_id, signature, signature_reason,
           signature_failure, status, is_error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![
        e.source,
        e.received_at.timestamp_micros(),
        e.method,
        e.path,
        e.query,
        e.remote_addr,
        e.content_type,
        e.body.len() as i64,
        e.provider.as_str(),
        e.event_type,
        e.delivery_id,
        e.signature.as_str(),
        e.signature_reason,
        e.signature_failure as i64,
        e.status.as_str(),
        e.is_error as i64,
    ])?;
    if inserted == 0 {
        return Ok(None);
    }
    let id = tx.last_insert_rowid();
    let headers = serde_json::to_string(&e.headers).unwrap_or_else(|_| "[]".into());
    tx.prepare_cached("INSERT INTO bodies (id, headers, body) VALUES (?1, ?2, ?3)")?
        .execute(params![id, headers, e.body])?;
    Ok(Some(id))
}

/// Writes a batch's rollups: one upsert per minute/source/type row and per source row.
fn write_rollups(rollups: &Rollups, tx: &Transaction) -> rusqlite::Result<()> {
    let mut minutes = tx.prepare_cached(
        "INSERT INTO minute_counts (minute, source, event_type, total, errors, rejected,
               signature_failures, duplicates) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (minute, source, event_type) DO UPDATE SET
               total = total + excluded.total, errors = errors + excluded.errors,
               rejected = rejected + excluded.rejected,
               signature_failures = signature_failures + excluded.signature_failures,
               duplicates = duplicates + excluded.duplicates",
    )?;
    for ((minute, source, event_type), c) in &rollups.minutes {
        minutes.execute(params![
            minute,
            source,
            event_type,
            c.total,
            c.errors,
            c.rejected,
            c.signature_failures,
            c.duplicates
        ])?;
    }
    let mut sources = tx.prepare_cached(
            "INSERT INTO sources (source, provider, count, errors, last_received) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (source) DO UPDATE SET provider = excluded.provider,
               count = count + excluded.count, errors = errors + excluded.errors,
               last_received = max(last_received, excluded.last_received)",
        )?;
    for (source, d) in &rollups.sources {
        sources.execute(params![
            source,
            d.provider,
            d.count,
            d.errors,
            d.last_received
        ])?;
    }
    Ok(())
}
