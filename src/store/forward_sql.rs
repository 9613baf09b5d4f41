//! The SQL both backends run for the forwarding queue (`store::forward`), written with
//! SQLite's `?N` placeholders (`sql::dollar_placeholders` for PostgreSQL), so a claim or a
//! finished attempt means the same on both. Where the dialects differ the text has a
//! `{hole}` the backend fills in.

/// The columns of a `Delivery`, in the order the backends read them.
pub const COLUMNS: &str = "id, event_id, source, target, to_url, replay, state, attempts, \
     next_at, last_status, last_error";

/// The cursor starts at the newest stored event, once.
pub const START_CURSOR: &str = "INSERT INTO forward_cursor (id, event_id)
     SELECT 1, COALESCE(MAX(id), 0) FROM events WHERE true ON CONFLICT DO NOTHING";
pub const CURSOR: &str = "SELECT event_id FROM forward_cursor WHERE id = 1";
/// ?1 cursor; `{greatest}` is `max` on SQLite, `GREATEST` on PostgreSQL: never backwards.
pub const MOVE_CURSOR: &str =
    "UPDATE forward_cursor SET event_id = {greatest}(event_id, ?1) WHERE id = 1";

/// ?1 event, ?2 source, ?3 target, ?4 to, ?5 now.
pub const ENQUEUE: &str = "INSERT INTO deliveries (event_id, source, target, to_url, replay,
       state, attempts, next_at, updated_at)
     VALUES (?1, ?2, ?3, ?4, 0, 'pending', 0, ?5, ?5) ON CONFLICT DO NOTHING";

/// ?1 event, ?2 source, ?3 target, ?4 to, ?5 now: the next replay of that event and target.
pub const REPLAY: &str = "INSERT INTO deliveries (event_id, source, target, to_url, replay,
       state, attempts, next_at, updated_at)
     SELECT CAST(?1 AS BIGINT), CAST(?2 AS TEXT), CAST(?3 AS TEXT), CAST(?4 AS TEXT),
       COALESCE(MAX(replay), 0) + 1, 'pending', 0, CAST(?5 AS BIGINT), CAST(?5 AS BIGINT)
     FROM deliveries WHERE event_id = ?1 AND target = ?3 ON CONFLICT DO NOTHING";

/// ?1 now, ?2 limit, ?3 until, ?4 target (for a target's scope). `{scope}`, `{limit}` and
/// `{lock}` (empty on SQLite, whose one writer serialises claims; `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL, so instances claiming at once take different rows) are filled in by `claim`.
const CLAIM: &str = "UPDATE deliveries SET lease_until = ?3 WHERE id IN (
       SELECT id FROM deliveries
       WHERE state = 'pending' AND next_at <= ?1 AND (lease_until IS NULL OR lease_until < ?1)
         AND {scope}
       ORDER BY next_at LIMIT {limit}{lock})
     RETURNING id, event_id, source, target, to_url, replay, state, attempts, next_at,
       last_status, last_error";
/// ?1 now, ?2 limit (1), ?3 target (for a target's scope): when the next delivery not held
/// under a live lease falls due. A delivery held by an instance that died is claimable once
/// its lease runs out, which a dry lane finds by looking again unasked (`lane::MAX_SLEEP`).
const NEXT_DUE: &str = "SELECT next_at FROM deliveries
     WHERE state = 'pending' AND (lease_until IS NULL OR lease_until < ?1) AND {scope}
     ORDER BY next_at LIMIT {limit}";
/// A target's deliveries, read from the `(target, next_at)` index of pending ones.
const SCOPE_TARGET: &str = "target = {target} AND to_url IS NULL";
/// A paused target's claim reads nothing: its limit is 0, decided before any row is read
/// (a backlog behind a pause is never walked).
const LIMIT_TARGET: &str = "CASE WHEN EXISTS (SELECT 1 FROM forward_paused p
       WHERE p.target = {target}) THEN 0 ELSE CAST(?2 AS BIGINT) END";
/// Replays to a caller's own `to`, read from their own index.
const SCOPE_AD_HOC: &str = "to_url IS NOT NULL";

/// `CLAIM` for one target (`true`) or the ad-hoc replays, with the backend's `lock`.
pub fn claim(target: bool, lock: &str) -> String {
    scoped(CLAIM, target, "?4").replace("{lock}", lock)
}

/// `NEXT_DUE` for one target (`true`; none while it is paused) or the ad-hoc replays.
pub fn next_due(target: bool) -> String {
    scoped(NEXT_DUE, target, "?3")
}

fn scoped(text: &str, target: bool, placeholder: &str) -> String {
    let (scope, limit) = match target {
        true => (SCOPE_TARGET, LIMIT_TARGET),
        false => (SCOPE_AD_HOC, "?2"),
    };
    text.replace("{scope}", scope)
        .replace("{limit}", limit)
        .replace("{target}", placeholder)
}

/// ?1 delivery, ?2 n, ?3 at, ?4 status, ?5 ms, ?6 error, ?7 excerpt.
pub const RECORD_ATTEMPT: &str = "INSERT INTO delivery_attempts (delivery_id, n, at, status, ms,
       error, response_excerpt)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING";
/// ?1 delivery, ?2 state, ?3 attempts, ?4 next_at, ?5 status, ?6 error, ?7 now.
pub const FINISH: &str = "UPDATE deliveries SET state = ?2, attempts = ?3, next_at = ?4,
       lease_until = NULL, last_status = ?5, last_error = ?6, updated_at = ?7
     WHERE id = ?1 AND attempts < ?3";

/// ?1 delivery, ?2 the lease being given back.
pub const RELEASE: &str = "UPDATE deliveries SET lease_until = NULL
     WHERE id = ?1 AND lease_until = ?2 AND state = 'pending'";

/// ?1 target, ?2 now.
pub const PAUSE: &str =
    "INSERT INTO forward_paused (target, since) VALUES (?1, ?2) ON CONFLICT DO NOTHING";
/// ?1 target.
pub const RESUME: &str = "DELETE FROM forward_paused WHERE target = ?1";

/// ?1 event.
pub const OF_EVENT: &str = "SELECT id, event_id, source, target, to_url, replay, state, attempts,
       next_at, last_status, last_error FROM deliveries WHERE event_id = ?1 ORDER BY id";

/// ?1 event: target, n, at, status, ms, error, excerpt, replay.
pub const ATTEMPTS_OF_EVENT: &str = "SELECT d.target, a.n, a.at, a.status, a.ms, a.error,
       a.response_excerpt, d.replay
     FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
     WHERE d.event_id = ?1 ORDER BY a.at, a.delivery_id, a.n";

/// ?1 target: its pending deliveries, counted in the due index.
pub const PENDING: &str = "SELECT COUNT(*) FROM deliveries
     WHERE target = ?1 AND state = 'pending' AND to_url IS NULL";

/// ?1 target: state, count.
pub const TOTALS: &str = "SELECT state, COUNT(*) FROM deliveries
     WHERE target = ?1 AND to_url IS NULL GROUP BY state";
/// ?1 target.
pub const LAST_SUCCESS: &str = "SELECT MAX(updated_at) FROM deliveries
     WHERE target = ?1 AND to_url IS NULL AND state = 'delivered'";
/// ?1 target: error, status of the newest failed attempt.
/// Failed attempts are walked newest first (their own index) until one is the target's:
/// `CROSS JOIN` keeps SQLite from starting at the target's deliveries instead.
pub const LAST_FAILURE: &str = "SELECT a.error, a.status
     FROM delivery_attempts a CROSS JOIN deliveries d
     WHERE d.id = a.delivery_id AND d.target = ?1 AND d.to_url IS NULL
       AND (a.status IS NULL OR a.status < 200 OR a.status > 299)
     ORDER BY a.at DESC LIMIT 1";
/// ?1 target.
pub const IS_PAUSED: &str = "SELECT COUNT(*) FROM forward_paused WHERE target = ?1";

/// A bound value of `list`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(String),
    Int(i64),
}

/// `/api/forwards`: the query for `filter` with `placeholder(n)` for the n-th parameter.
pub fn list(
    filter: &super::forward::DeliveryFilter,
    placeholder: fn(usize) -> String,
) -> (String, Vec<Value>) {
    let mut parts: Vec<String> = Vec::new();
    let mut values = Vec::new();
    let mut push = |column: &str, value: Value| {
        values.push(value);
        parts.push(format!("{column} {}", placeholder(values.len())));
    };
    if let Some(state) = filter.state {
        push("state =", Value::Text(state.as_str().into()));
    }
    if let Some(target) = &filter.target {
        push("target =", Value::Text(target.clone()));
    }
    if let Some(source) = &filter.source {
        push("source =", Value::Text(source.clone()));
    }
    if let Some(before) = filter.before {
        push("id <", Value::Int(before));
    }
    let clause = match parts.is_empty() {
        true => String::new(),
        false => format!("WHERE {}", parts.join(" AND ")),
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM deliveries {clause} ORDER BY id DESC LIMIT {}",
        filter.limit
    );
    (sql, values)
}
