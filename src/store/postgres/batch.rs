//! One group-commit batch: its new events in one statement that commits by itself, and its
//! redeliveries, when it has any, in a small transaction after it.
//!
//! `insert`: one statement (`INSERT_EVENTS`), sent with the `NOTIFY` pipelined behind it.
//! It takes a transaction id (xid) *before* it draws any event id (which lets the listener
//! prove ids final: see `settle`), draws each candidate's id from the sequence, inserts the
//! events `ON CONFLICT DO NOTHING` (dedup is the partial unique index, enforced by the
//! database for every instance) and the bodies of those it stored, adds them to both
//! rollups, and answers each candidate's id and whether it was stored. It runs in an
//! implicit transaction, so its answer arrives after its COMMIT: one message and one round
//! trip per batch, where BEGIN, the statement, the rollups and COMMIT took two round trips
//! and six messages each way.
//!
//! `count_duplicates`, only for a batch with redeliveries (of events already stored, or of a
//! job earlier in the same batch, `plan`): one transaction that adds them to their
//! originals' `duplicates` and to the minute rollup. A redelivery is answered only once it
//! is counted; when that transaction fails, only the redeliveries are answered 503.
//!
//! The statement joins only its own rows, never a table, so its cached plan stays right
//! however large the tables grow. Instances and writers commit in parallel; no lock orders
//! them.

use std::collections::HashMap;

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::{ToSql, Type};

use super::rollup;
use super::settle::Probe;
use super::writer::WriteError;
use crate::model::{NewEvent, Status};
use crate::store::rollup::Rollups;

/// The channel every instance listens on; a notification only says "probe" (no payload).
pub(super) const CHANNEL: &str = "hookwatch_events";

/// The whole batch in one statement. `xact` runs first (the filter on `batch` is an init
/// plan, run before the first id is drawn): it reads the sequence's last value and the
/// statement snapshot's `xmin`, then takes the xid, which makes the statement a probe for
/// the listener as well (`settle`). Then an id for each candidate (in order),
/// the events, skipping redeliveries of stored ones, the bodies of those stored, and both
/// rollups (in the writer's shard `$19`, rows in key order so writers sharing a shard lock
/// them in the same order). Answers each candidate's id and whether it was stored, in the
/// candidates' order, each row with the probe. `received_at` is microseconds since 1970, so
/// `/` is the floor.
const INSERT_EVENTS: &str = "
    WITH seq AS MATERIALIZED (
        SELECT COALESCE(pg_sequence_last_value('events_id_seq'), 0) AS last_id,
            pg_snapshot_xmin(pg_current_snapshot())::text::int8 AS xmin
    ),
    xact AS MATERIALIZED (SELECT seq.*, pg_current_xact_id()::text::int8 AS xid FROM seq),
    batch AS MATERIALIZED (
        SELECT nextval('events_id_seq') AS id, b.*
        FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::bool[], $15::text[], $16::bool[], $17::text[], $18::bytea[])
            WITH ORDINALITY AS b(source, received_at, method, path, query, remote_addr,
                content_type, size, provider, event_type, delivery_id, signature,
                signature_reason, signature_failure, status, is_error, headers, body, n)
        WHERE (SELECT xid FROM xact) IS NOT NULL
    ),
    stored AS (
        INSERT INTO events (id, source, received_at, method, path, query, remote_addr,
            content_type, size, provider, event_type, delivery_id, signature, signature_reason,
            signature_failure, status, is_error)
        SELECT id, source, received_at, method, path, query, remote_addr, content_type, size,
            provider, event_type, delivery_id, signature, signature_reason, signature_failure,
            status, is_error
        FROM batch ORDER BY n
        ON CONFLICT (source, delivery_id)
            WHERE status = 'received' AND delivery_id IS NOT NULL DO NOTHING
        RETURNING id, source, received_at, event_type, provider, status, is_error,
            signature_failure
    ),
    bodies AS (
        INSERT INTO bodies (id, headers, body)
        SELECT batch.id, batch.headers, batch.body FROM batch JOIN stored USING (id)
    ),
    minutes AS (
        INSERT INTO minute_counts AS m (shard, minute, source, event_type, total, errors,
            rejected, signature_failures, duplicates)
        SELECT $19::int2, received_at / 60000000, source, COALESCE(event_type, ''), count(*),
            count(*) FILTER (WHERE is_error), count(*) FILTER (WHERE status = 'rejected'),
            count(*) FILTER (WHERE signature_failure), 0
        FROM stored GROUP BY 2, 3, 4 ORDER BY 2, 3, 4
        ON CONFLICT (minute, source, event_type, shard) DO UPDATE SET
            total = m.total + excluded.total, errors = m.errors + excluded.errors,
            rejected = m.rejected + excluded.rejected,
            signature_failures = m.signature_failures + excluded.signature_failures
    ),
    sources AS (
        INSERT INTO sources AS s (shard, source, provider, count, errors, last_received)
        SELECT $19::int2, source, (array_agg(provider ORDER BY id DESC))[1], count(*),
            count(*) FILTER (WHERE is_error), max(received_at)
        FROM stored GROUP BY source ORDER BY source
        ON CONFLICT (source, shard) DO UPDATE SET provider = excluded.provider,
            count = s.count + excluded.count, errors = s.errors + excluded.errors,
            last_received = GREATEST(s.last_received, excluded.last_received)
    )
    SELECT batch.id, stored.id IS NOT NULL, xact.last_id, xact.xid, xact.xmin
    FROM batch LEFT JOIN stored USING (id) CROSS JOIN xact
    ORDER BY batch.n";
/// Tells every listener to probe; runs after the batch's own commit (pipelined behind it), in
/// a transaction of its own: inside the batch's it would hold PostgreSQL's cluster-wide
/// notification lock through the WAL flush, and every instance's commits would queue on it.
const NOTIFY: &str = "SELECT pg_notify($1, '')";

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

    /// The jobs that go to the database, in order.
    pub(super) fn candidates(&self) -> Vec<usize> {
        (0..self.repeats.len())
            .filter(|&i| self.repeats[i].is_none())
            .collect()
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

/// What the database answered for a batch's candidates.
pub(super) struct Written {
    /// Per candidate: its id and whether it was stored (the others were redeliveries of an
    /// event already in the database, possibly written by another instance).
    pub drawn: Vec<(i64, bool)>,
    /// The statement as a probe (`settle`): lets the listener publish without asking.
    pub probe: Probe,
}

/// Inserts and commits the candidates with their rollups, in one round trip, with the
/// `NOTIFY` pipelined behind them when `notify`. The `NOTIFY`'s failure only delays other
/// instances' listeners (they also probe on a timer), so it never fails the batch.
pub(super) async fn insert(
    client: &ClientWrapper,
    candidates: &[&NewEvent],
    shard: i16,
    notify: bool,
) -> Result<Written, WriteError> {
    let insert = client.prepare_cached(INSERT_EVENTS).await?;
    let columns = Columns::of(candidates);
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
        &c.headers,
        &c.bodies,
        &shard,
    ];
    let (rows, notified) = tokio::join!(client.query(&insert, &params), async {
        match notify {
            true => send_notify(client).await,
            false => Ok(()),
        }
    });
    if let Err(error) = notified {
        tracing::debug!(error = %error, "NOTIFY after a batch failed; listeners catch up later.");
    }
    let rows = rows?;
    let probe = rows.first().map(|row| Probe {
        last_id: row.get(2),
        xid: row.get(3),
        xmin: row.get(4),
    });
    Ok(Written {
        drawn: rows.iter().map(|row| (row.get(0), row.get(1))).collect(),
        probe: probe.ok_or(WriteError::NoAnswer)?,
    })
}

/// Tells every instance's listener to probe.
pub(super) async fn send_notify(client: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
    let notify = client.prepare_cached(NOTIFY).await?;
    client.execute(&notify, &[&CHANNEL]).await?;
    Ok(())
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

/// How many times each original of a batch's redeliveries was delivered again, by the job
/// index of its candidate: a candidate that was not stored (its original is in the database)
/// counts itself and its followers; a stored one counts its followers.
pub(super) fn redeliveries(
    plan: &Plan,
    candidates: &[usize],
    drawn: &[(i64, bool)],
) -> Vec<(usize, i64)> {
    candidates
        .iter()
        .zip(drawn)
        .filter_map(|(&i, &(_, stored))| {
            let count = plan.followers[i] + i64::from(!stored);
            (count > 0).then_some((i, count))
        })
        .collect()
}

/// Counts a batch's redeliveries (`redeliveries`) in one transaction: adds them to their
/// originals' `duplicates`, and each to the minute it arrived in, under its original's event
/// type. Returns the original's id by candidate; a candidate missing from it had its original
/// deleted since (it is stored as new when sent again). On an error the caller rolls back.
pub(super) async fn count_duplicates(
    tx: &ClientWrapper,
    events: &[&NewEvent],
    plan: &Plan,
    counts: &[(usize, i64)],
    shard: i16,
) -> Result<HashMap<usize, i64>, WriteError> {
    let keys: Vec<(&str, &str)> = counts
        .iter()
        .filter_map(|&(i, _)| dedup_key(events[i]))
        .collect();
    let sources: Vec<&str> = keys.iter().map(|k| k.0).collect();
    let deliveries: Vec<&str> = keys.iter().map(|k| k.1).collect();
    let n: Vec<i64> = counts.iter().map(|&(_, n)| n).collect();
    // Planned afresh each time (an unnamed statement), never from a cached plan: this one
    // joins the table, and a plan cached while the table was small (a full index scan per
    // redelivery) stays cached however large the table grows when nothing ANALYZEs it.
    let params = [
        (&sources as &(dyn ToSql + Sync), Type::TEXT_ARRAY),
        (&deliveries, Type::TEXT_ARRAY),
        (&n, Type::INT8_ARRAY),
    ];
    let update = tx.query_typed(
        "UPDATE events e SET duplicates = e.duplicates + d.n
         FROM UNNEST($1::text[], $2::text[], $3::int8[]) AS d(source, delivery_id, n)
         WHERE e.source = d.source AND e.delivery_id = d.delivery_id
           AND e.status = 'received' AND e.delivery_id IS NOT NULL
         RETURNING e.id, e.source, e.delivery_id, e.event_type",
        &params,
    );
    let (_, rows) = tokio::try_join!(tx.batch_execute("BEGIN"), update)?;
    let mut by_key: HashMap<(String, String), (i64, Option<String>)> = HashMap::new();
    for row in rows {
        by_key.insert((row.get(1), row.get(2)), (row.get(0), row.get(3)));
    }
    let mut found: HashMap<usize, (i64, Option<String>)> = HashMap::new();
    for (&(i, _), (source, delivery)) in counts.iter().zip(keys) {
        if let Some(hit) = by_key.remove(&(source.to_string(), delivery.to_string())) {
            found.insert(i, hit);
        }
    }
    let count_of: HashMap<usize, i64> = counts.iter().copied().collect();
    let mut rollups = Rollups::default();
    for (j, e) in events.iter().enumerate() {
        let leader = plan.repeats[j].unwrap_or(j);
        let unstored = |&n: &i64| n > plan.followers[j];
        let duplicate = leader != j || count_of.get(&j).is_some_and(unstored);
        if let (true, Some((_, event_type))) = (duplicate, found.get(&leader)) {
            rollups.add_duplicate(e, event_type.as_deref());
        }
    }
    rollup::prepare(tx).await?;
    tokio::try_join!(
        rollup::write_duplicates(&rollups, shard, tx),
        tx.batch_execute("COMMIT")
    )?;
    Ok(found.into_iter().map(|(i, (id, _))| (i, id)).collect())
}
