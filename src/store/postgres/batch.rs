//! One group-commit batch as a handful of statements in one transaction, in two steps, so
//! the writer can tell its listener (`ledger`) what it stored before it commits:
//!
//! `stage`, pipelined in one round trip:
//! 1. BEGIN and a transaction id (`pg_current_xact_id()`, taken *before* any event id, which
//!    lets the listener prove ids final: see `settle`), in one simple-protocol message.
//! 2. One statement for the whole batch (`INSERT_EVENTS`): it draws each candidate's id from
//!    the sequence, inserts the events `ON CONFLICT DO NOTHING` (dedup is the partial unique
//!    index, enforced by the database for every instance) and the bodies of those it stored,
//!    and answers each candidate's id and whether it was stored.
//!
//! Then, only when some candidate was a redelivery of a stored event: one
//! `UPDATE … duplicates + n … RETURNING id` for them all.
//!
//! `commit`: the minute rollup, the source rollup (in the writer's shard), COMMIT and then the
//! `NOTIFY`, pipelined: one round trip (two in all without redeliveries).
//!
//! Measured (`cargo bench --bench ingest`): a round trip fewer than drawing ids and writing
//! bodies in statements of their own, and the statement joins only its own rows, never a
//! table, so its cached plan stays right however large the tables grow.
//!
//! Instances and writers commit in parallel; no lock orders them. Redeliveries inside one
//! batch never reach the database twice: the first becomes the candidate, the others are
//! counted on it (`plan`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::Statement;
use tokio_postgres::types::{ToSql, Type};

use super::rollup;
use super::writer::WriteError;
use crate::model::{Event, NewEvent, Status};
use crate::store::rollup::Rollups;

/// The channel every instance listens on; the payload is the highest id committed.
pub(super) const CHANNEL: &str = "hookwatch_events";

/// Opens the batch's transaction and takes its xid before any event id is drawn (`settle`).
const BEGIN: &str = "BEGIN; SELECT pg_current_xact_id()";
/// The whole batch in one statement: draws an id for each candidate (in order), inserts the
/// events, skipping redeliveries of stored ones (the partial unique index, enforced by the
/// database for every instance), and the bodies of those it stored. Answers each
/// candidate's id and whether it was stored, in the candidates' order.
const INSERT_EVENTS: &str = "
    WITH batch AS MATERIALIZED (
        SELECT nextval('events_id_seq') AS id, b.*
        FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::bool[], $15::text[], $16::bool[], $17::int8[], $18::text[],
            $19::bytea[])
            WITH ORDINALITY AS b(source, received_at, method, path, query, remote_addr,
                content_type, size, provider, event_type, delivery_id, signature,
                signature_reason, signature_failure, status, is_error, duplicates, headers,
                body, n)
    ),
    stored AS (
        INSERT INTO events (id, source, received_at, method, path, query, remote_addr,
            content_type, size, provider, event_type, delivery_id, signature, signature_reason,
            signature_failure, status, is_error, duplicates)
        SELECT id, source, received_at, method, path, query, remote_addr, content_type, size,
            provider, event_type, delivery_id, signature, signature_reason, signature_failure,
            status, is_error, duplicates
        FROM batch ORDER BY n
        ON CONFLICT (source, delivery_id)
            WHERE status = 'received' AND delivery_id IS NOT NULL DO NOTHING
        RETURNING id
    ),
    bodies AS (
        INSERT INTO bodies (id, headers, body)
        SELECT batch.id, batch.headers, batch.body FROM batch JOIN stored USING (id)
    )
    SELECT batch.id, stored.id IS NOT NULL FROM batch LEFT JOIN stored USING (id)
    ORDER BY batch.n";
const NOTIFY: &str = "SELECT pg_notify($1, $2)";

/// What one job did, once the transaction commits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Applied {
    Stored(i64),
    Duplicate(i64),
}

/// Which jobs of a batch go to the database, and which repeat an earlier job of the batch.
#[derive(Debug, PartialEq)]
pub(super) struct Plan {
    /// For each job: `None` when it is a candidate for insertion, else the candidate it repeats.
    pub repeats: Vec<Option<usize>>,
    /// For each job: how many later jobs of the batch repeat it.
    pub followers: Vec<i64>,
}

impl Plan {
    pub(super) fn of(events: &[&NewEvent]) -> Plan {
        let mut first: HashMap<(&str, &str), usize> = HashMap::new();
        let mut repeats = vec![None; events.len()];
        let mut followers = vec![0; events.len()];
        for (i, e) in events.iter().enumerate() {
            let Some(key) = dedup_key(e) else { continue };
            match first.get(&key) {
                Some(&leader) => {
                    repeats[i] = Some(leader);
                    followers[leader] += 1;
                }
                None => {
                    first.insert(key, i);
                }
            }
        }
        Plan { repeats, followers }
    }
}

/// The (source, delivery id) that makes a later delivery a duplicate; rejected deliveries
/// never take part (SPEC §2).
fn dedup_key(e: &NewEvent) -> Option<(&str, &str)> {
    match (&e.status, &e.delivery_id) {
        (Status::Received, Some(id)) => Some((e.source.as_str(), id.as_str())),
        _ => None,
    }
}

/// A batch inserted but not committed yet.
pub(super) struct Staged {
    /// What each job did, once `commit` succeeds.
    pub applied: Vec<Applied>,
    /// Ids drawn for candidates that were redeliveries, so never stored.
    pub absent: Vec<i64>,
    rollups: Rollups,
}

/// Opens the transaction and writes the events and their bodies (steps 1–2, then the
/// redeliveries). On an error the caller rolls back; a transient one (`WriteError::is_transient`)
/// may be tried again.
pub(super) async fn stage(tx: &ClientWrapper, events: &[&NewEvent]) -> Result<Staged, WriteError> {
    let plan = Plan::of(events);
    let candidates: Vec<usize> = (0..events.len())
        .filter(|&i| plan.repeats[i].is_none())
        .collect();
    let insert = tx.prepare_cached(INSERT_EVENTS).await?;
    let (_, drawn) = tokio::try_join!(
        async { tx.batch_execute(BEGIN).await.map_err(WriteError::from) },
        insert_events(tx, &insert, events, &plan, &candidates),
    )?;
    let mut applied: Vec<Option<Applied>> = vec![None; events.len()];
    let mut originals: Vec<usize> = Vec::new();
    let mut absent = Vec::new();
    for (&i, &(id, stored)) in candidates.iter().zip(&drawn) {
        match stored {
            true => applied[i] = Some(Applied::Stored(id)),
            false => {
                originals.push(i);
                absent.push(id);
            }
        }
    }
    let mut rollups = Rollups::default();
    let found = count_redeliveries(tx, events, &plan, &originals).await?;
    for (i, e) in events.iter().enumerate() {
        let leader = plan.repeats[i].unwrap_or(i);
        match (applied[leader], found.get(&leader)) {
            (Some(Applied::Stored(id)), _) if leader == i => {
                rollups.add_stored(e);
                applied[i] = Some(Applied::Stored(id));
            }
            (Some(Applied::Stored(id)), _) => {
                rollups.add_duplicate(e, events[leader].event_type.as_deref());
                applied[i] = Some(Applied::Duplicate(id));
            }
            (_, Some((id, event_type))) => {
                rollups.add_duplicate(e, event_type.as_deref());
                applied[i] = Some(Applied::Duplicate(*id));
            }
            _ => return Err(WriteError::Vanished),
        }
    }
    Ok(Staged {
        applied: applied.into_iter().flatten().collect(),
        absent,
        rollups,
    })
}

/// Writes the rollups and commits, then sends the `NOTIFY`, all
/// pipelined in one round trip. Pipelined statements run in the order sent, and every
/// statement of the group is prepared before it is sent, so COMMIT comes after the writes.
/// If any write fails the transaction is aborted and its COMMIT only rolls back; the error is
/// returned either way, so nothing is acknowledged.
///
/// The `NOTIFY` runs after COMMIT, in a transaction of its own: inside the batch's
/// transaction it would hold PostgreSQL's cluster-wide notification lock through the WAL
/// flush, and every instance's commits would queue on it. Its failure only delays the
/// listeners (they also probe on a timer), so it never fails the batch.
pub(super) async fn commit(
    tx: &ClientWrapper,
    stored: &[Arc<Event>],
    staged: &Staged,
    shard: i16,
) -> Result<(), WriteError> {
    prepare_last_group(tx).await?;
    let commit = tx.batch_execute("COMMIT");
    let written = async { tokio::try_join!(rollup::write(&staged.rollups, shard, tx), commit) };
    let notify = notify(tx, stored.iter().map(|e| e.id).max());
    let (written, notified) = tokio::join!(written, notify);
    written?;
    if let Err(error) = notified {
        tracing::debug!(error = %error, "NOTIFY after a commit failed; listeners catch up later.");
    }
    Ok(())
}

/// Prepares (once per connection) every statement of the last pipelined group, so each is
/// sent on its first poll, in order, before COMMIT.
async fn prepare_last_group(tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
    for sql in [
        NOTIFY,
        super::rollup::UPSERT_MINUTES,
        super::rollup::UPSERT_SOURCES,
    ] {
        tx.prepare_cached(sql).await?;
    }
    Ok(())
}

/// Inserts every candidate, body and all, with ids drawn by the statement itself; returns
/// each candidate's id and whether it was stored (the rest were redeliveries of an event
/// already in the database, possibly written by another instance).
async fn insert_events(
    tx: &ClientWrapper,
    insert: &Statement,
    events: &[&NewEvent],
    plan: &Plan,
    candidates: &[usize],
) -> Result<Vec<(i64, bool)>, WriteError> {
    let rows: Vec<&NewEvent> = candidates.iter().map(|&i| events[i]).collect();
    let duplicates: Vec<i64> = candidates.iter().map(|&i| plan.followers[i]).collect();
    let columns = Columns::of(&rows);
    let c = &columns;
    let params: [&(dyn ToSql + Sync); 19] = [
        &c.sources,
        &c.received,
        &c.methods,
        &c.paths,
        &c.queries,
        &c.addrs,
        &c.content_types,
        &c.sizes,
        &c.providers,
        &c.types,
        &c.deliveries,
        &c.signatures,
        &c.reasons,
        &c.failures,
        &c.statuses,
        &c.errors,
        &duplicates,
        &c.headers,
        &c.bodies,
    ];
    let rows = tx.query(insert, &params).await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

/// The candidates' fields as one array per column, for `UNNEST`.
struct Columns<'a> {
    sources: Vec<&'a str>,
    received: Vec<i64>,
    methods: Vec<&'a str>,
    paths: Vec<&'a str>,
    queries: Vec<&'a str>,
    addrs: Vec<&'a str>,
    content_types: Vec<Option<&'a str>>,
    sizes: Vec<i64>,
    providers: Vec<&'static str>,
    types: Vec<Option<&'a str>>,
    deliveries: Vec<Option<&'a str>>,
    signatures: Vec<&'static str>,
    reasons: Vec<Option<&'a str>>,
    failures: Vec<bool>,
    statuses: Vec<&'static str>,
    errors: Vec<bool>,
    headers: Vec<String>,
    bodies: Vec<&'a [u8]>,
}

impl<'a> Columns<'a> {
    fn of(rows: &[&'a NewEvent]) -> Columns<'a> {
        fn col<'a, T>(rows: &[&'a NewEvent], f: impl Fn(&'a NewEvent) -> T) -> Vec<T> {
            rows.iter().map(|e| f(e)).collect()
        }
        Columns {
            sources: col(rows, |e| e.source.as_str()),
            received: col(rows, |e| e.received_at.timestamp_micros()),
            methods: col(rows, |e| e.method.as_str()),
            paths: col(rows, |e| e.path.as_str()),
            queries: col(rows, |e| e.query.as_str()),
            addrs: col(rows, |e| e.remote_addr.as_str()),
            content_types: col(rows, |e| e.content_type.as_deref()),
            sizes: col(rows, |e| e.body.len() as i64),
            providers: col(rows, |e| e.provider.as_str()),
            types: col(rows, |e| e.event_type.as_deref()),
            deliveries: col(rows, |e| e.delivery_id.as_deref()),
            signatures: col(rows, |e| e.signature.as_str()),
            reasons: col(rows, |e| e.signature_reason.as_deref()),
            failures: col(rows, |e| e.signature_failure),
            statuses: col(rows, |e| e.status.as_str()),
            errors: col(rows, |e| e.is_error),
            headers: col(rows, |e| {
                serde_json::to_string(&e.headers).unwrap_or_else(|_| "[]".into())
            }),
            bodies: col(rows, |e| e.body.as_slice()),
        }
    }
}

/// Counts the redeliveries whose original is already in the database (one statement for the
/// whole batch); returns, per candidate, the original's id and event type.
async fn count_redeliveries(
    tx: &ClientWrapper,
    events: &[&NewEvent],
    plan: &Plan,
    originals: &[usize],
) -> Result<BTreeMap<usize, (i64, Option<String>)>, WriteError> {
    if originals.is_empty() {
        return Ok(BTreeMap::new());
    }
    let keys: Vec<(&str, &str)> = originals
        .iter()
        .filter_map(|&i| dedup_key(events[i]))
        .collect();
    let sources: Vec<&str> = keys.iter().map(|k| k.0).collect();
    let deliveries: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let counts: Vec<i64> = originals.iter().map(|&i| 1 + plan.followers[i]).collect();
    // Planned afresh each time (an unnamed statement), never from a cached plan: this one
    // joins the table, and a plan cached while the table was small (a full index scan per
    // redelivery) stays cached however large the table grows when nothing ANALYZEs it.
    let rows = tx
        .query_typed(
            "UPDATE events e SET duplicates = e.duplicates + d.n
             FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS d(source, delivery_id, n)
             WHERE e.source = d.source AND e.delivery_id = d.delivery_id
               AND e.status = 'received' AND e.delivery_id IS NOT NULL
             RETURNING e.id, e.source, e.delivery_id, e.event_type",
            &[
                (&sources, Type::TEXT_ARRAY),
                (&deliveries, Type::TEXT_ARRAY),
                (&counts, Type::INT8_ARRAY),
            ],
        )
        .await?;
    let mut by_key: HashMap<(String, String), (i64, Option<String>)> = HashMap::new();
    for row in rows {
        by_key.insert((row.get(1), row.get(2)), (row.get(0), row.get(3)));
    }
    let mut found = BTreeMap::new();
    for (&i, (source, delivery)) in originals.iter().zip(keys) {
        if let Some(hit) = by_key.get(&(source.to_string(), delivery.to_string())) {
            found.insert(i, hit.clone());
        }
    }
    Ok(found)
}

/// Tells every instance's listener that ids up to `max_id` exist.
async fn notify(tx: &ClientWrapper, max_id: Option<i64>) -> Result<(), tokio_postgres::Error> {
    if let Some(id) = max_id {
        let stmt = tx.prepare_cached(NOTIFY).await?;
        tx.execute(&stmt, &[&CHANNEL, &id.to_string()]).await?;
    }
    Ok(())
}
