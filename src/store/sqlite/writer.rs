//! The single SQLite writer: group commit.
//!
//! One thread owns the only write connection. It takes every job waiting in its queue (up to
//! `MAX_BATCH`), applies them in one transaction, commits once (one fsync for the whole batch
//! with `synchronous=FULL`), and only then answers each waiting request. A failed commit
//! answers every job in the batch with an error, so no request is ever acknowledged for data
//! that is not on disk.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Transaction, params};
use tokio::sync::{mpsc, oneshot};

use crate::model::{Event, NewAlert, NewEvent, Status};
use crate::store::{Inserted, StoreError};

/// Most jobs committed together; bounds the latency one commit adds to the first job.
const MAX_BATCH: usize = 1024;

/// Work for the writer thread.
pub(super) enum Job {
    Insert(InsertJob),
    /// Insert an alert row unless its `(rule, source, state, at)` exists: `Some(id)` when
    /// this call inserted it (see `Store::claim_alert`).
    ClaimAlert {
        alert: NewAlert,
        reply: oneshot::Sender<Result<Option<i64>, StoreError>>,
    },
}

pub(super) struct InsertJob {
    pub event: NewEvent,
    pub reply: oneshot::Sender<Result<Inserted, StoreError>>,
}

/// Runs the writer until every sender is dropped.
pub(super) fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.blocking_recv() {
        let mut batch = Vec::new();
        let mut claims = Vec::new();
        let mut next = Some(first);
        while let Some(job) = next {
            match job {
                Job::Insert(insert) => batch.push(insert),
                Job::ClaimAlert { alert, reply } => claims.push((alert, reply)),
            }
            next = if batch.len() < MAX_BATCH {
                jobs.try_recv().ok()
            } else {
                None
            };
        }
        if !batch.is_empty() {
            commit_batch(&mut conn, batch);
        }
        for (alert, reply) in claims {
            let _ = reply.send(super::alerts::claim(&conn, &alert).map_err(|e| {
                tracing::error!(error = %e, "Alert insert failed.");
                StoreError::Unavailable(e.to_string())
            }));
        }
    }
}

/// What one job did inside the transaction, before the commit made it true.
enum Applied {
    Stored(i64),
    Duplicate(i64),
}

fn commit_batch(conn: &mut Connection, batch: Vec<InsertJob>) {
    let result = (|| {
        let tx = conn.transaction()?;
        let mut applied = Vec::with_capacity(batch.len());
        let mut rollup = Rollup::default();
        for InsertJob { event, .. } in &batch {
            applied.push(apply(&tx, event, &mut rollup)?);
        }
        rollup.write(&tx)?;
        tx.commit()?;
        Ok::<_, rusqlite::Error>(applied)
    })();
    match result {
        Ok(applied) => {
            for (InsertJob { event, reply }, applied) in batch.into_iter().zip(applied) {
                let _ = reply.send(Ok(inserted(event, applied)));
            }
        }
        Err(error) => {
            tracing::error!(error = %error, jobs = batch.len(), "Commit failed; nothing acknowledged.");
            for InsertJob { reply, .. } in batch {
                let _ = reply.send(Err(StoreError::Unavailable(error.to_string())));
            }
        }
    }
}

fn inserted(event: NewEvent, applied: Applied) -> Inserted {
    match applied {
        Applied::Stored(id) => Inserted::Stored(Box::new(Event {
            id,
            size: event.body.len() as i64,
            new: event,
            duplicates: 0,
            enrichment: None,
        })),
        Applied::Duplicate(id) => Inserted::Duplicate { id },
    }
}

/// Applies one delivery: a redelivery bumps the first event's count, anything else is stored.
/// Counters go to the batch's rollup, written once per batch.
fn apply(tx: &Transaction, event: &NewEvent, rollup: &mut Rollup) -> rusqlite::Result<Applied> {
    // The partial unique index on (source, delivery_id) of received events decides: the
    // insert does nothing for a redelivery, and only then is the original looked up.
    if let Some(id) = insert_event(tx, event)? {
        rollup.add_event(event);
        return Ok(Applied::Stored(id));
    }
    let delivery_id = event.delivery_id.as_deref().unwrap_or_default();
    let (id, event_type) = find_original(tx, &event.source, delivery_id)?
        .ok_or(rusqlite::Error::QueryReturnedNoRows)?;
    tx.prepare_cached("UPDATE events SET duplicates = duplicates + 1 WHERE id = ?1")?
        .execute([id])?;
    rollup.add_duplicate(event, event_type);
    Ok(Applied::Duplicate(id))
}

fn find_original(
    tx: &Transaction,
    source: &str,
    delivery_id: &str,
) -> rusqlite::Result<Option<(i64, Option<String>)>> {
    tx.prepare_cached(
        "SELECT id, event_type FROM events
         WHERE source = ?1 AND delivery_id = ?2 AND status = 'received'",
    )?
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

/// Counter increments of one batch, summed in memory so each minute/source/type row and
/// each source row is written once per commit instead of once per event.
#[derive(Default)]
struct Rollup {
    minutes: HashMap<(i64, String, String), Counts>,
    sources: HashMap<String, SourceDelta>,
}

#[derive(Default)]
struct Counts {
    total: i64,
    errors: i64,
    rejected: i64,
    signature_failures: i64,
    duplicates: i64,
}

struct SourceDelta {
    provider: &'static str,
    count: i64,
    errors: i64,
    last_received: i64,
}

impl Rollup {
    fn minute(&mut self, at: DateTime<Utc>, source: &str, event_type: Option<&str>) -> &mut Counts {
        let key = (
            at.timestamp().div_euclid(60),
            source.to_string(),
            event_type.unwrap_or("").to_string(),
        );
        self.minutes.entry(key).or_default()
    }

    fn add_event(&mut self, e: &NewEvent) {
        let c = self.minute(e.received_at, &e.source, e.event_type.as_deref());
        c.total += 1;
        c.errors += e.is_error as i64;
        c.rejected += (e.status == Status::Rejected) as i64;
        c.signature_failures += e.signature_failure as i64;
        let at = e.received_at.timestamp_micros();
        let s = self.sources.entry(e.source.clone()).or_insert(SourceDelta {
            provider: e.provider.as_str(),
            count: 0,
            errors: 0,
            last_received: at,
        });
        s.provider = e.provider.as_str();
        s.count += 1;
        s.errors += e.is_error as i64;
        s.last_received = s.last_received.max(at);
    }

    fn add_duplicate(&mut self, e: &NewEvent, original_type: Option<String>) {
        self.minute(e.received_at, &e.source, original_type.as_deref())
            .duplicates += 1;
    }

    fn write(&self, tx: &Transaction) -> rusqlite::Result<()> {
        let mut minutes = tx.prepare_cached(
            "INSERT INTO minute_counts (minute, source, event_type, total, errors, rejected,
               signature_failures, duplicates) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (minute, source, event_type) DO UPDATE SET
               total = total + excluded.total, errors = errors + excluded.errors,
               rejected = rejected + excluded.rejected,
               signature_failures = signature_failures + excluded.signature_failures,
               duplicates = duplicates + excluded.duplicates",
        )?;
        for ((minute, source, event_type), c) in &self.minutes {
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
        for (source, d) in &self.sources {
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
}
