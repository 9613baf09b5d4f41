//! One group-commit batch's new events: one statement that commits by itself, and whose
//! `NOTIFY` wakes every instance's listener when it commits.
//!
//! The statement first takes the transaction-level advisory lock `IDS_LOCK`, then draws each
//! candidate's id from the sequence, inserts the events `ON CONFLICT DO NOTHING` (dedup is
//! the partial unique index, enforced by the database for every instance) and the bodies of
//! those it stored, adds them to both rollups, and answers each candidate's id and whether it
//! was stored. It runs in an implicit transaction, so its answer arrives after its COMMIT:
//! one round trip and one WAL flush per batch. The `NOTIFY` is part of the same transaction
//! (PostgreSQL delivers it at COMMIT): sent in a transaction of its own, it would cost a
//! second commit, and so a second WAL flush, per batch. The lock is held from before the first id is drawn until that
//! COMMIT, which is what makes ids visible in order (see the module doc of `listen`).
//!
//! The statement joins only its own rows, never a table, so its cached plan stays right
//! however large the tables grow.

use deadpool_postgres::ClientWrapper;
use tokio_postgres::types::ToSql;

use super::PgError;
use crate::model::NewEvent;

/// The channel every instance listens on; a notification's payload is the highest id the
/// batch drew.
pub(super) const CHANNEL: &str = "hookwatch_events";

/// The advisory lock every batch holds from drawing its ids to its COMMIT ("hookids!" in
/// ASCII). Anything else that inserts into `events` must take it the same way, or its ids
/// may become visible out of order.
pub(super) const IDS_LOCK: i64 = 0x686f_6f6b_6964_7321;

/// The whole batch in one statement. `lock` runs first: the filter on `batch` is an init
/// plan, evaluated before the first id is drawn. Then an id for each candidate (in order),
/// the events, skipping redeliveries of stored ones, the bodies of those stored, and both
/// rollups (in the writer's shard `$20`, rows in key order so writers sharing a shard lock
/// them in the same order), and the notification with the batch's highest id on channel `$21`
/// (joined into the answer, so it is evaluated). Answers each candidate's id and whether it
/// was stored, in the candidates' order. `received_at` is microseconds since 1970, so `/` is the floor.
const INSERT_EVENTS: &str = "
    WITH lock AS MATERIALIZED (SELECT pg_advisory_xact_lock($19)::text AS taken),
    batch AS MATERIALIZED (
        SELECT nextval('events_id_seq') AS id, b.*
        FROM UNNEST($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::int8[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::bool[], $15::text[], $16::bool[], $17::text[], $18::bytea[])
            WITH ORDINALITY AS b(source, received_at, method, path, query, remote_addr,
                content_type, size, provider, event_type, delivery_id, signature,
                signature_reason, signature_failure, status, is_error, headers, body, n)
        WHERE (SELECT taken FROM lock) IS NOT NULL
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
        SELECT $20::int2, received_at / 60000000, source, COALESCE(event_type, ''), count(*),
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
        SELECT $20::int2, source, (array_agg(provider ORDER BY id DESC))[1], count(*),
            count(*) FILTER (WHERE is_error), max(received_at)
        FROM stored GROUP BY source ORDER BY source
        ON CONFLICT (source, shard) DO UPDATE SET provider = excluded.provider,
            count = s.count + excluded.count, errors = s.errors + excluded.errors,
            last_received = GREATEST(s.last_received, excluded.last_received)
    ),
    notified AS MATERIALIZED (SELECT pg_notify($21, max(id)::text) AS sent FROM batch)
    SELECT batch.id, stored.id IS NOT NULL
    FROM batch LEFT JOIN stored USING (id) CROSS JOIN notified
    ORDER BY batch.n";

/// Inserts and commits the candidates with their rollups, in one round trip. Answers, per
/// candidate, its id and whether it was stored (the others were redeliveries of an event
/// already in the database, possibly written by another instance).
pub(super) async fn insert(
    client: &ClientWrapper,
    candidates: &[&NewEvent],
    shard: i16,
) -> Result<Vec<(i64, bool)>, PgError> {
    let insert = client.prepare_cached(INSERT_EVENTS).await?;
    let columns = Columns::of(candidates);
    let c = &columns;
    let params: [&(dyn ToSql + Sync); 21] = [
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
        &IDS_LOCK,
        &shard,
        &CHANNEL,
    ];
    let rows = client.query(&insert, &params).await?;
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
