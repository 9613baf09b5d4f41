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

use crate::model::{Event, NewEvent, Provider, Signature, Status};
use crate::store::sql::{SUMMARY_COLUMNS, SqlValue, where_clause};
use crate::store::{EventFilter, RatePoint, SourceRow, Stats};

/// How far back the `rate` series reaches when `since` is not given: a day of minutes.
const DEFAULT_RATE_WINDOW_MINUTES: i64 = 24 * 60;

type PgResult<T> = Result<T, tokio_postgres::Error>;

pub(super) async fn get(client: &ClientWrapper, id: i64) -> PgResult<Option<Event>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, b.headers, b.body FROM events e JOIN bodies b USING (id)
         WHERE id = $1"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let Some(row) = client.query_opt(&stmt, &[&id]).await? else {
        return Ok(None);
    };
    let mut event = summary(&row)?;
    let headers: String = row.try_get(19)?;
    event.new.headers = serde_json::from_str(&headers).unwrap_or_default();
    event.new.body = row.try_get(20)?;
    Ok(Some(event))
}

pub(super) async fn list(client: &ClientWrapper, filter: &EventFilter) -> PgResult<Vec<Event>> {
    let (clause, values) = where_clause(filter, |n| format!("${n}"));
    let order = if filter.after.is_some() {
        "ASC"
    } else {
        "DESC"
    };
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS} FROM events {clause} ORDER BY id {order} LIMIT {}",
        filter.limit
    );
    let binds: Vec<Bind> = values.into_iter().map(Bind).collect();
    let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
    let rows = client.query(&sql, &params).await?;
    rows.iter().map(summary).collect()
}

/// The events after `after`, oldest first, with headers and bodies: what the listener
/// publishes on the feed.
pub(super) async fn after(client: &ClientWrapper, after: i64, limit: i64) -> PgResult<Vec<Event>> {
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, b.headers, b.body FROM events e JOIN bodies b USING (id)
         WHERE id > $1 ORDER BY id LIMIT $2"
    );
    let stmt = client.prepare_cached(&sql).await?;
    let rows = client.query(&stmt, &[&after, &limit]).await?;
    rows.iter()
        .map(|row| {
            let mut event = summary(row)?;
            let headers: String = row.try_get(19)?;
            event.new.headers = serde_json::from_str(&headers).unwrap_or_default();
            event.new.body = row.try_get(20)?;
            Ok(event)
        })
        .collect()
}

/// The highest id committed so far (0 when empty): where a new listener starts.
pub(super) async fn max_id(client: &ClientWrapper) -> PgResult<i64> {
    let row = client
        .query_one("SELECT COALESCE(MAX(id), 0) FROM events", &[])
        .await?;
    row.try_get(0)
}

/// A value from the shared WHERE builder, bound as whatever type PostgreSQL expects.
#[derive(Debug)]
struct Bind(SqlValue);

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

/// An event row without headers and body.
fn summary(row: &Row) -> PgResult<Event> {
    let provider: String = row.try_get(9)?;
    let signature: String = row.try_get(12)?;
    let status: String = row.try_get(15)?;
    let enrichment: Option<String> = row.try_get(18)?;
    Ok(Event {
        id: row.try_get(0)?,
        size: row.try_get(8)?,
        duplicates: row.try_get(17)?,
        enrichment: enrichment.and_then(|e| serde_json::from_str(&e).ok()),
        new: NewEvent {
            source: row.try_get(1)?,
            received_at: micros(row.try_get(2)?),
            method: row.try_get(3)?,
            path: row.try_get(4)?,
            query: row.try_get(5)?,
            remote_addr: row.try_get(6)?,
            content_type: row.try_get(7)?,
            headers: Vec::new(),
            body: Vec::new(),
            provider: Provider::parse(&provider).unwrap_or(Provider::Generic),
            event_type: row.try_get(10)?,
            delivery_id: row.try_get(11)?,
            signature: Signature::parse(&signature).unwrap_or(Signature::Unverified),
            signature_reason: row.try_get(13)?,
            signature_failure: row.try_get(14)?,
            status: Status::parse(&status).unwrap_or(Status::Received),
            is_error: row.try_get(16)?,
        },
    })
}

fn micros(value: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(value).unwrap_or_default()
}

fn minute_time(minute: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(minute * 60, 0).unwrap_or_default()
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
        let source: String = row.try_get(0)?;
        let event_type: String = row.try_get(1)?;
        let total: i64 = row.try_get(2)?;
        stats.total += total;
        *stats.by_source.entry(source).or_default() += total;
        if !event_type.is_empty() && total > 0 {
            *stats.by_type.entry(event_type).or_default() += total;
        }
        stats.errors += row.try_get::<_, i64>(3)?;
        stats.rejected += row.try_get::<_, i64>(4)?;
        stats.signature_failures += row.try_get::<_, i64>(5)?;
        stats.duplicates += row.try_get::<_, i64>(6)?;
    }
    stats.by_source.retain(|_, n| *n > 0);
    stats.latest = latest(client).await?;
    let rate_from = since
        .map(|t| t.timestamp().div_euclid(60))
        .unwrap_or(now.timestamp().div_euclid(60) - DEFAULT_RATE_WINDOW_MINUTES);
    stats.rate = rate(client, rate_from).await?;
    Ok(stats)
}

async fn latest(client: &ClientWrapper) -> PgResult<BTreeMap<String, DateTime<Utc>>> {
    let stmt = client
        .prepare_cached("SELECT source, last_received FROM sources")
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
            "SELECT source, count, errors, last_received, provider FROM sources ORDER BY source",
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
