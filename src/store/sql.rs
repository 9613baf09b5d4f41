//! SQL shared by the SQL backends: the WHERE clause of a list query and the row conversions.
//!
//! Placeholders differ between backends (`?N` in SQLite, `$N` in PostgreSQL), so the builder
//! takes the placeholder style and returns the text with its values in order.

use chrono::{DateTime, Utc};

use super::search::{Dialect, order};
use super::{EventFilter, Stats, TypeMatch};
use crate::model::{Event, NewEvent, Provider, Signature, Status};

/// A bound value of a list query.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Text(String),
    Int(i64),
}

/// The columns of an event summary, in the order the backends read them.
pub const SUMMARY_COLUMNS: &str = "id, source, received_at, method, path, query, remote_addr, \
     content_type, size, provider, event_type, delivery_id, signature, signature_reason, \
     signature_failure, status, is_error, duplicates, enrichment";

/// A statement written with SQLite's `?N` placeholders, in PostgreSQL's `$N` (the statements
/// below contain no other `?`).
pub fn dollar_placeholders(sql: &str) -> String {
    sql.replace('?', "$")
}

/// The SQL both backends run for `EnrichmentWrite` and `expired_enrichment_claims`, with
/// `?N` placeholders (`dollar_placeholders` for PostgreSQL): one text, so the claim means the
/// same on both.
pub mod enrichment {
    /// ?1 id, ?2 pending marker, ?3 now, ?4 until.
    pub const CLAIM: &str = "UPDATE events SET enrichment = ?2, enrichment_lease = ?4
         WHERE id = ?1 AND (enrichment IS NULL OR enrichment_lease < ?3)";
    /// ?1 id, ?2 document.
    pub const SET: &str =
        "UPDATE events SET enrichment = ?2, enrichment_lease = NULL WHERE id = ?1";
    /// ?1 now, ?2 limit.
    pub const EXPIRED: &str = "SELECT id FROM events
         WHERE enrichment_lease IS NOT NULL AND enrichment_lease < ?1
         ORDER BY enrichment_lease LIMIT ?2";
    /// The claim's marker, visible in the event detail until the result replaces it.
    pub const PENDING: &str = r#"{"pending":true}"#;
}

/// The SQL both backends run for alert notification leases, `?N` placeholders as in
/// `enrichment`.
pub mod alert_notice {
    /// ?1 id: every sink is done with the alert.
    pub const DONE: &str = "UPDATE alerts SET notify_until = NULL WHERE id = ?1";
    /// ?1 id, ?2 until: its sender is still at work; never revives a finished alert.
    pub const RENEW: &str =
        "UPDATE alerts SET notify_until = ?2 WHERE id = ?1 AND notify_until IS NOT NULL";
    /// ?1 now, ?2 until, ?3 limit: leases expired ones again and returns them; `{lock}` is
    /// filled in by `take`.
    const TAKE: &str = "UPDATE alerts SET notify_until = ?2 WHERE id IN (
         SELECT id FROM alerts WHERE notify_until IS NOT NULL AND notify_until < ?1
         ORDER BY id LIMIT ?3{lock})
         RETURNING id, rule, kind, source, state, count, window_secs, at, sample_event_ids";

    /// `TAKE` for a backend: `lock` is empty on SQLite (one writer), `FOR UPDATE SKIP LOCKED`
    /// on PostgreSQL, so two instances sweeping at once take different alerts.
    pub fn take(lock: &str) -> String {
        TAKE.replace("{lock}", lock)
    }
}

/// Builds `WHERE …` (or an empty string) for the filter; `placeholder(n)` renders the n-th
/// (1-based) parameter, `id` is the column ids are paged by, `search` the condition of a
/// full-text search (with `?` for its value) when there is one.
pub fn where_clause(
    filter: &EventFilter,
    placeholder: &dyn Fn(usize) -> String,
    id: &str,
    search: Option<(&str, String)>,
) -> (String, Vec<SqlValue>) {
    let mut parts: Vec<String> = Vec::new();
    let mut values: Vec<SqlValue> = Vec::new();
    let mut push = |sql: &str, value: Option<SqlValue>| match value {
        Some(value) => {
            values.push(value);
            parts.push(sql.replace('?', &placeholder(values.len())));
        }
        None => parts.push(sql.to_string()),
    };
    if let Some((sql, value)) = search {
        push(sql, Some(SqlValue::Text(value)));
    }
    if let Some(source) = &filter.source {
        push("source = ?", Some(SqlValue::Text(source.clone())));
    }
    match &filter.event_type {
        Some(TypeMatch::Exact(t)) => push("event_type = ?", Some(SqlValue::Text(t.clone()))),
        Some(TypeMatch::Prefix(p)) if !p.is_empty() => {
            // Deliberately not an index range: a prefix usually matches many types, and walking
            // the (source, id) or id index newest-first with this filter finds a page after a
            // few rows, where a range on event_type would have to sort every match first.
            let chars = p.chars().count();
            push(
                &format!("substr(event_type, 1, {chars}) = ?"),
                Some(SqlValue::Text(p.clone())),
            );
        }
        Some(TypeMatch::Prefix(_)) => push("event_type IS NOT NULL", None),
        None => {}
    }
    if let Some(status) = filter.status {
        push("status = ?", Some(SqlValue::Text(status.as_str().into())));
    }
    if let Some(signature) = filter.signature {
        push(
            "signature = ?",
            Some(SqlValue::Text(signature.as_str().into())),
        );
    }
    if let Some(is_error) = filter.is_error {
        push("is_error = ?", Some(SqlValue::Int(is_error as i64)));
    }
    if let Some(since) = filter.since {
        push(
            "received_at >= ?",
            Some(SqlValue::Int(since.timestamp_micros())),
        );
    }
    if let Some(until) = filter.until {
        push(
            "received_at <= ?",
            Some(SqlValue::Int(until.timestamp_micros())),
        );
    }
    if let Some(before) = filter.before {
        push(&format!("{id} < ?"), Some(SqlValue::Int(before)));
    }
    if let Some(after) = filter.after {
        push(&format!("{id} > ?"), Some(SqlValue::Int(after)));
    }
    if parts.is_empty() {
        return (String::new(), values);
    }
    (format!("WHERE {}", parts.join(" AND ")), values)
}

/// Typed access to one result row, so both SQL backends build events with the same code.
pub trait Columns {
    type Error;
    fn text(&self, index: usize) -> Result<String, Self::Error>;
    fn optional_text(&self, index: usize) -> Result<Option<String>, Self::Error>;
    fn int(&self, index: usize) -> Result<i64, Self::Error>;
    fn flag(&self, index: usize) -> Result<bool, Self::Error>;
    fn optional_bytes(&self, index: usize) -> Result<Option<Vec<u8>>, Self::Error>;
}

/// The query of one whole event by id; `id` is the backend's first placeholder.
pub fn detail_query(id: &str) -> String {
    format!(
        "SELECT {SUMMARY_COLUMNS}, b.headers, b.body FROM events e JOIN bodies b USING (id)
         WHERE id = {id}"
    )
}

/// The list query for a filter (newest first; oldest first with `after`) and its values;
/// with `bodies`, each row also has the headers and body (read with `detail`).
pub fn list_query(filter: &EventFilter, dialect: Dialect, bodies: bool) -> (String, Vec<SqlValue>) {
    let (with, from, id) = dialect.from(filter, bodies);
    let search = filter.text.as_ref().map(|q| dialect.matching(q));
    let (clause, values) = where_clause(filter, &|n| dialect.placeholder(n), id, search);
    let order = order(filter);
    let extra = if bodies { ", b.headers, b.body" } else { "" };
    let sql = format!(
        "{with}SELECT {SUMMARY_COLUMNS}{extra} FROM {from} {clause} ORDER BY {id} {order} LIMIT {}",
        filter.limit
    );
    (sql, values)
}

/// An event from a row of `SUMMARY_COLUMNS` followed by headers and body. Either may be NULL
/// when a query leaves it out on purpose; the event then has none.
pub fn detail<R: Columns>(row: &R) -> Result<Event, R::Error> {
    let mut event = summary(row)?;
    event.new.headers = row
        .optional_text(19)?
        .and_then(|h| serde_json::from_str(&h).ok())
        .unwrap_or_default();
    event.new.body = row.optional_bytes(20)?.unwrap_or_default();
    Ok(event)
}

/// An event from a row of `SUMMARY_COLUMNS`, without headers and body.
pub fn summary<R: Columns>(row: &R) -> Result<Event, R::Error> {
    let enrichment = row.optional_text(18)?;
    Ok(Event {
        id: row.int(0)?,
        size: row.int(8)?,
        duplicates: row.int(17)?,
        enrichment: enrichment.and_then(|e| serde_json::from_str(&e).ok()),
        new: NewEvent {
            source: row.text(1)?,
            received_at: micros(row.int(2)?),
            method: row.text(3)?,
            path: row.text(4)?,
            query: row.text(5)?,
            remote_addr: row.text(6)?,
            content_type: row.optional_text(7)?,
            headers: Vec::new(),
            body: Vec::new(),
            provider: Provider::parse(&row.text(9)?).unwrap_or(Provider::Generic),
            event_type: row.optional_text(10)?,
            delivery_id: row.optional_text(11)?,
            signature: Signature::parse(&row.text(12)?).unwrap_or(Signature::Unverified),
            signature_reason: row.optional_text(13)?,
            signature_failure: row.flag(14)?,
            status: Status::parse(&row.text(15)?).unwrap_or(Status::Received),
            is_error: row.flag(16)?,
        },
    })
}

/// How far back the `rate` series reaches when `since` is not given: a day of minutes.
const DEFAULT_RATE_WINDOW_MINUTES: i64 = 24 * 60;

/// Adds one row of the per-minute rollup query (source, event_type, total, errors, rejected,
/// signature_failures, duplicates) to the stats.
pub fn add_rollup<R: Columns>(stats: &mut Stats, row: &R) -> Result<(), R::Error> {
    let (source, event_type, total) = (row.text(0)?, row.text(1)?, row.int(2)?);
    stats.total += total;
    *stats.by_source.entry(source).or_default() += total;
    if !event_type.is_empty() && total > 0 {
        *stats.by_type.entry(event_type).or_default() += total;
    }
    stats.errors += row.int(3)?;
    stats.rejected += row.int(4)?;
    stats.signature_failures += row.int(5)?;
    stats.duplicates += row.int(6)?;
    Ok(())
}

/// The first minute of the `rate` series: `since`, else a day before `now`.
pub fn rate_from_minute(since: Option<DateTime<Utc>>, now: DateTime<Utc>) -> i64 {
    since
        .map(|t| t.timestamp().div_euclid(60))
        .unwrap_or(now.timestamp().div_euclid(60) - DEFAULT_RATE_WINDOW_MINUTES)
}

/// A stored time (microseconds since the epoch, in both backends).
pub fn micros(value: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(value).unwrap_or_default()
}

/// The start of a stored minute (minutes since the epoch).
pub fn minute_time(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute * 60, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> String {
        format!("?{n}")
    }

    #[test]
    fn an_empty_filter_has_no_where_clause() {
        let (sql, values) = where_clause(&EventFilter::default(), &numbered, "id", None);
        assert_eq!(sql, "");
        assert!(values.is_empty());
    }

    #[test]
    fn a_type_prefix_compares_the_first_characters() {
        let filter = EventFilter {
            source: Some("stripe".into()),
            event_type: Some(TypeMatch::Prefix("charge.".into())),
            before: Some(10),
            ..EventFilter::default()
        };
        let (sql, values) = where_clause(&filter, &numbered, "id", None);
        assert_eq!(
            sql,
            "WHERE source = ?1 AND substr(event_type, 1, 7) = ?2 AND id < ?3"
        );
        assert_eq!(values[1], SqlValue::Text("charge.".into()));
    }
}
