//! Read queries on a reader connection. WAL mode lets these run while the writer commits.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params_from_iter};

use crate::model::Event;
use crate::store::search::Dialect;
use crate::store::sql::{
    Columns, SqlValue, add_rollup, detail, detail_query, list_query, micros, minute_time,
    rate_from_minute, summary,
};
use crate::store::{EventFilter, RatePoint, SourceRow, Stats};

pub(super) fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Event>> {
    conn.prepare_cached(&detail_query("?1"))?
        .query_row([id], |row| detail(row))
        .optional()
}

/// Summaries, or with `bodies` whole events, matching the filter.
pub(super) fn list(
    conn: &Connection,
    filter: &EventFilter,
    bodies: bool,
) -> rusqlite::Result<Vec<Event>> {
    let (sql, values) = list_query(filter, Dialect::Sqlite, bodies);
    let params = values.into_iter().map(|v| match v {
        SqlValue::Text(t) => rusqlite::types::Value::Text(t),
        SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
    });
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params_from_iter(params), |row| match bodies {
        true => detail(row),
        false => summary(row),
    })?;
    rows.collect()
}

pub(super) fn stats(
    conn: &Connection,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> rusqlite::Result<Stats> {
    let from_minute = since
        .map(|t| t.timestamp().div_euclid(60))
        .unwrap_or(i64::MIN);
    let mut stats = Stats::default();
    let mut stmt = conn.prepare_cached(
        "SELECT source, event_type, SUM(total), SUM(errors), SUM(rejected),
                SUM(signature_failures), SUM(duplicates)
         FROM minute_counts WHERE minute >= ?1 GROUP BY source, event_type",
    )?;
    let mut rows = stmt.query([from_minute])?;
    while let Some(row) = rows.next()? {
        add_rollup(&mut stats, row)?;
    }
    stats.by_source.retain(|_, n| *n > 0);
    stats.latest = latest(conn)?;
    let rate_from = rate_from_minute(since, now);
    stats.rate = rate(conn, rate_from)?;
    Ok(stats)
}

fn latest(conn: &Connection) -> rusqlite::Result<BTreeMap<String, DateTime<Utc>>> {
    let mut stmt = conn.prepare_cached("SELECT source, last_received FROM sources")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, micros(r.get(1)?))))?;
    rows.collect()
}

fn rate(conn: &Connection, from_minute: i64) -> rusqlite::Result<Vec<RatePoint>> {
    let mut stmt = conn.prepare_cached(
        "SELECT minute, source, SUM(total) FROM minute_counts
         WHERE minute >= ?1 GROUP BY minute, source HAVING SUM(total) > 0 ORDER BY minute, source",
    )?;
    let rows = stmt.query_map([from_minute], |r| {
        Ok(RatePoint {
            minute: minute_time(r.get(0)?),
            source: r.get(1)?,
            count: r.get(2)?,
        })
    })?;
    rows.collect()
}

pub(super) fn sources(conn: &Connection) -> rusqlite::Result<Vec<SourceRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT source, count, errors, last_received, provider FROM sources ORDER BY source",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(SourceRow {
            source: r.get(0)?,
            count: r.get(1)?,
            errors: r.get(2)?,
            last_received: micros(r.get(3)?),
            provider: r.get(4)?,
        })
    })?;
    rows.collect()
}

impl Columns for Row<'_> {
    type Error = rusqlite::Error;

    fn text(&self, index: usize) -> rusqlite::Result<String> {
        self.get(index)
    }

    fn optional_text(&self, index: usize) -> rusqlite::Result<Option<String>> {
        self.get(index)
    }

    fn int(&self, index: usize) -> rusqlite::Result<i64> {
        self.get(index)
    }

    fn optional_bytes(&self, index: usize) -> rusqlite::Result<Option<Vec<u8>>> {
        self.get(index)
    }

    /// SQLite has no booleans: flags are stored as 0 or 1.
    fn flag(&self, index: usize) -> rusqlite::Result<bool> {
        Ok(self.get::<_, i64>(index)? != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::TextQuery;

    /// The steps SQLite plans for a list query.
    fn plan(filter: &EventFilter) -> String {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn).unwrap();
        let (sql, values) = list_query(filter, Dialect::Sqlite, false);
        let params = values.into_iter().map(|v| match v {
            SqlValue::Text(t) => rusqlite::types::Value::Text(t),
            SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
        });
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let rows = stmt
            .query_map(params_from_iter(params), |r| r.get::<_, String>(3))
            .unwrap();
        rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
    }

    #[test]
    fn a_search_walks_the_full_text_index_newest_first_without_sorting() {
        let filter = EventFilter {
            text: Some(TextQuery::parse("card").unwrap()),
            source: Some("stripe".into()),
            before: Some(1000),
            ..EventFilter::default()
        };
        let plan = plan(&filter);
        assert!(plan.starts_with("SCAN events_fts VIRTUAL TABLE"), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        assert!(plan.contains("events USING INTEGER PRIMARY KEY"), "{plan}");
    }

    #[test]
    fn a_targets_last_success_and_failure_are_read_from_their_indexes() {
        use crate::store::forward_sql::{LAST_FAILURE, LAST_SUCCESS};
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn).unwrap();
        let plan = |sql: &str| {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = stmt.query_map(["t"], |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("\n")
        };
        let success = plan(LAST_SUCCESS);
        assert!(success.contains("deliveries_last_success"), "{success}");
        let failure = plan(LAST_FAILURE);
        assert!(
            failure.starts_with("SCAN a USING INDEX delivery_attempts_failed"),
            "{failure}"
        );
        assert!(!failure.contains("TEMP B-TREE"), "{failure}");
    }
}
