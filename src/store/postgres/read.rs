//! Read queries on a pooled connection; the same answers as `store::sqlite::read`.
//!
//! The WHERE clause of a list comes from the shared builder in `store::sql` with `$N`
//! placeholders; `Bind` adapts its integer values to the column types PostgreSQL infers
//! (BIGINT, or BOOLEAN for the flags SQLite keeps as 0/1).

use std::collections::BTreeMap;
use std::error::Error;

use bytes::BytesMut;
use chrono::{DateTime, Utc};
use deadpool_postgres::ClientWrapper;
use tokio_postgres::Row;
use tokio_postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::model::Event;
use crate::store::search::{Dialect, Reach};
use crate::store::sql::{
    Columns, SUMMARY_COLUMNS, SqlValue, add_rollup, detail, detail_query, list_query, micros,
    minute_time, rate_from_minute, summary,
};
use crate::store::{EventFilter, RatePoint, SourceRow, Stats};

type PgResult<T> = Result<T, tokio_postgres::Error>;

pub(super) async fn get(client: &ClientWrapper, id: i64) -> PgResult<Option<Event>> {
    let stmt = client.prepare_cached(&detail_query("$1")).await?;
    let row = client.query_opt(&stmt, &[&id]).await?;
    row.as_ref().map(detail).transpose()
}

pub(super) async fn get_many(client: &ClientWrapper, ids: &[i64]) -> PgResult<Vec<Event>> {
    let stmt = client.prepare_cached(&detail_query("ANY($1)")).await?;
    let rows = client.query(&stmt, &[&ids]).await?;
    rows.iter().map(detail).collect()
}

/// Summaries, or with `bodies` whole events, matching the filter. A search first reads the
/// newest events only, then the whole index when that leaves the page short (`Reach`).
pub(super) async fn list(
    client: &ClientWrapper,
    filter: &EventFilter,
    bodies: bool,
) -> PgResult<Vec<Event>> {
    if filter.text.is_none() {
        return list_with(client, filter, bodies, Reach::All).await;
    }
    let recent = list_with(client, filter, bodies, Reach::Recent).await?;
    if recent.len() as u32 >= filter.limit {
        return Ok(recent);
    }
    list_with(client, filter, bodies, Reach::All).await
}

async fn list_with(
    client: &ClientWrapper,
    filter: &EventFilter,
    bodies: bool,
    reach: Reach,
) -> PgResult<Vec<Event>> {
    let (sql, values) = list_query(filter, Dialect::Postgres(reach), bodies);
    let binds: Vec<Bind> = values.into_iter().map(Bind).collect();
    let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
    let rows = client.query(&sql, &params).await?;
    match bodies {
        true => rows.iter().map(detail).collect(),
        false => rows.iter().map(summary).collect(),
    }
}

/// Summaries of the events after `after`, oldest first, at most `limit`: what the listener
/// publishes next (no bodies). `ORDER BY id LIMIT` over a primary-key range has one sensible
/// plan, so the cached plan stays right even when it was made while the table was empty.
pub(super) async fn summaries_after(
    client: &ClientWrapper,
    after: i64,
    limit: i64,
) -> PgResult<Vec<Event>> {
    let sql =
        format!("SELECT {SUMMARY_COLUMNS} FROM events e WHERE e.id > $1 ORDER BY e.id LIMIT $2");
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&after, &limit]).await?;
    rows.iter().map(summary).collect()
}

/// A value from the shared WHERE builder, bound as whatever type PostgreSQL expects.
#[derive(Debug)]
pub(super) struct Bind(pub(super) SqlValue);

impl ToSql for Bind {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        match (&self.0, ty) {
            (SqlValue::Text(text), _) => text.to_sql(ty, out),
            (SqlValue::Int(n), &Type::BOOL) => (*n != 0).to_sql(ty, out),
            (SqlValue::Int(n), &Type::INT4) => i32::try_from(*n)?.to_sql(ty, out),
            (SqlValue::Int(n), _) => n.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        <String as ToSql>::accepts(ty) || matches!(*ty, Type::BOOL | Type::INT4 | Type::INT8)
    }

    to_sql_checked!();
}

pub(super) async fn stats(
    client: &ClientWrapper,
    since: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> PgResult<Stats> {
    let from_minute = since
        .map(|t| t.timestamp().div_euclid(60))
        .unwrap_or(i64::MIN);
    let stmt = client
        .prepare_cached(
            "SELECT source, event_type, SUM(total)::int8, SUM(errors)::int8, SUM(rejected)::int8,
                    SUM(signature_failures)::int8, SUM(duplicates)::int8
             FROM minute_counts WHERE minute >= $1 GROUP BY source, event_type",
        )
        .await?;
    let mut stats = Stats::default();
    for row in client.query(&stmt, &[&from_minute]).await? {
        add_rollup(&mut stats, &row)?;
    }
    stats.by_source.retain(|_, n| *n > 0);
    stats.latest = latest(client).await?;
    let rate_from = rate_from_minute(since, now);
    stats.rate = rate(client, rate_from).await?;
    Ok(stats)
}

async fn latest(client: &ClientWrapper) -> PgResult<BTreeMap<String, DateTime<Utc>>> {
    let stmt = client
        .prepare_cached("SELECT source, MAX(last_received) FROM sources GROUP BY source")
        .await?;
    let rows = client.query(&stmt, &[]).await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, micros(r.try_get(1)?))))
        .collect()
}

async fn rate(client: &ClientWrapper, from_minute: i64) -> PgResult<Vec<RatePoint>> {
    let stmt = client
        .prepare_cached(
            "SELECT minute, source, SUM(total)::int8 FROM minute_counts
             WHERE minute >= $1 GROUP BY minute, source HAVING SUM(total) > 0
             ORDER BY minute, source",
        )
        .await?;
    let rows = client.query(&stmt, &[&from_minute]).await?;
    rows.iter()
        .map(|r| {
            Ok(RatePoint {
                minute: minute_time(r.try_get(0)?),
                source: r.try_get(1)?,
                count: r.try_get(2)?,
            })
        })
        .collect()
}

pub(super) async fn sources(client: &ClientWrapper) -> PgResult<Vec<SourceRow>> {
    let stmt = client
        .prepare_cached(
            "SELECT source, SUM(count)::int8, SUM(errors)::int8, MAX(last_received),
                    (array_agg(provider ORDER BY last_received DESC))[1]
             FROM sources GROUP BY source ORDER BY source",
        )
        .await?;
    let rows = client.query(&stmt, &[]).await?;
    rows.iter()
        .map(|r| {
            Ok(SourceRow {
                source: r.try_get(0)?,
                count: r.try_get(1)?,
                errors: r.try_get(2)?,
                last_received: micros(r.try_get(3)?),
                provider: r.try_get(4)?,
            })
        })
        .collect()
}

impl Columns for Row {
    type Error = tokio_postgres::Error;

    fn text(&self, index: usize) -> PgResult<String> {
        self.try_get(index)
    }

    fn optional_text(&self, index: usize) -> PgResult<Option<String>> {
        self.try_get(index)
    }

    fn int(&self, index: usize) -> PgResult<i64> {
        self.try_get(index)
    }

    fn flag(&self, index: usize) -> PgResult<bool> {
        self.try_get(index)
    }

    fn optional_bytes(&self, index: usize) -> PgResult<Option<Vec<u8>>> {
        self.try_get(index)
    }
}
