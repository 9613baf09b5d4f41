//! The forwarding queue on PostgreSQL, shared by every instance on the database: claims
//! skip rows another instance is claiming (`FOR UPDATE SKIP LOCKED`), and each write runs in
//! one transaction on a pooled connection. The SQL is `store::forward_sql`.

use deadpool_postgres::{Object, Transaction};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::read::Bind;
use crate::store::forward::{
    AttemptRecord, ClaimScope, Delivery, DeliveryState, Finished, ForwardRead, ForwardRows,
    ForwardWrite, TargetTotals, after_columns, failure_text,
};
use crate::store::forward_sql as sql;
use crate::store::sql::{SqlValue, dollar_placeholders as pg, micros};

type PgResult<T> = Result<T, tokio_postgres::Error>;

/// Applies one write in its own transaction.
pub(super) async fn write(client: &mut Object, write: &ForwardWrite) -> PgResult<ForwardRows> {
    let tx = client.transaction().await?;
    let rows = match write {
        ForwardWrite::StartCursor => {
            tx.execute(&pg(sql::START_CURSOR), &[]).await?;
            ForwardRows::Count(tx.query_one(sql::CURSOR, &[]).await?.try_get(0)?)
        }
        ForwardWrite::Enqueue {
            deliveries,
            cursor,
            now,
        } => {
            let events: Vec<i64> = deliveries.iter().map(|d| d.event_id).collect();
            let sources: Vec<&str> = deliveries.iter().map(|d| d.source.as_str()).collect();
            let targets: Vec<&str> = deliveries.iter().map(|d| d.target.as_str()).collect();
            let to: Vec<Option<&str>> = deliveries.iter().map(|d| d.to.as_deref()).collect();
            tx.execute(ENQUEUE_ALL, &[&events, &sources, &targets, &to, now])
                .await?;
            let cursor_sql = pg(&sql::MOVE_CURSOR.replace("{greatest}", "GREATEST"));
            tx.execute(&cursor_sql, &[cursor]).await?;
            ForwardRows::Count(deliveries.len() as i64)
        }
        ForwardWrite::Replay { deliveries, now } => {
            let insert = tx.prepare_cached(&pg(sql::REPLAY)).await?;
            for d in deliveries {
                tx.execute(&insert, &[&d.event_id, &d.source, &d.target, &d.to, now])
                    .await?;
            }
            ForwardRows::Count(deliveries.len() as i64)
        }
        ForwardWrite::Claim {
            scope,
            now,
            until,
            limit,
        } => {
            let limit = i64::from(*limit);
            let lock = " FOR UPDATE SKIP LOCKED";
            let rows = match scope {
                ClaimScope::Target(name) => {
                    let text = pg(&sql::claim(true, lock));
                    tx.query(&text, &[now, &limit, until, name]).await?
                }
                ClaimScope::AdHoc => {
                    let text = pg(&sql::claim(false, lock));
                    tx.query(&text, &[now, &limit, until]).await?
                }
            };
            ForwardRows::Deliveries(rows.iter().map(delivery).collect::<PgResult<_>>()?)
        }
        ForwardWrite::Finish(all) => ForwardRows::Count(finish(&tx, all).await? as i64),
        ForwardWrite::Release(leases) => {
            let ids: Vec<i64> = leases.iter().map(|l| l.delivery_id).collect();
            let until: Vec<i64> = leases.iter().map(|l| l.until.timestamp_micros()).collect();
            ForwardRows::Count(tx.execute(RELEASE, &[&ids, &until]).await? as i64)
        }
        ForwardWrite::Pause {
            target,
            paused,
            now,
        } => {
            let changed = match paused {
                true => tx.execute(&pg(sql::PAUSE), &[target, now]).await?,
                false => tx.execute(&pg(sql::RESUME), &[target]).await?,
            };
            ForwardRows::Count(changed as i64)
        }
    };
    tx.commit().await?;
    Ok(rows)
}

/// `forward_sql::ENQUEUE` for a batch of deliveries, as one statement: $1 events, $2 sources,
/// $3 targets, $4 `to`s, $5 now.
const ENQUEUE_ALL: &str = "INSERT INTO deliveries (event_id, source, target, to_url, replay,
       state, attempts, next_at, updated_at)
     SELECT e, s, t, u, 0, 'pending', 0, $5::BIGINT, $5::BIGINT
     FROM UNNEST($1::BIGINT[], $2::TEXT[], $3::TEXT[], $4::TEXT[]) AS d(e, s, t, u)
     ON CONFLICT DO NOTHING";

/// `forward_sql::RECORD_ATTEMPT` and `FINISH` for a batch of attempts, as one statement:
/// $1 delivery, $2 n, $3 at, $4 status, $5 ms, $6 error, $7 excerpt, $8 state, $9 next_at.
const FINISH_ALL: &str = "WITH f AS (
       SELECT * FROM UNNEST($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[],
         $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::TEXT[], $9::BIGINT[])
       AS f(delivery_id, n, at, status, ms, error, excerpt, state, next_at)),
     recorded AS (
       INSERT INTO delivery_attempts (delivery_id, n, at, status, ms, error, response_excerpt)
       SELECT delivery_id, n, at, status, ms, error, excerpt FROM f ON CONFLICT DO NOTHING)
     UPDATE deliveries d SET state = f.state, attempts = f.n, next_at = f.next_at,
       lease_until = NULL, last_status = f.status, last_error = f.error, updated_at = f.at
     FROM f WHERE d.id = f.delivery_id AND d.attempts < f.n";

/// `forward_sql::RELEASE` for many leases: $1 deliveries, $2 their leases.
const RELEASE: &str = "UPDATE deliveries d SET lease_until = NULL
     FROM UNNEST($1::BIGINT[], $2::BIGINT[]) AS r(id, until)
     WHERE d.id = r.id AND d.lease_until = r.until AND d.state = 'pending'";

/// Records `all` and moves their deliveries on; answers the deliveries changed.
async fn finish(tx: &Transaction<'_>, all: &[Finished]) -> PgResult<u64> {
    let column = |f: fn(&Finished) -> i64| all.iter().map(f).collect::<Vec<i64>>();
    let (ids, n, ms) = (column(|f| f.delivery_id), column(|f| f.n), column(|f| f.ms));
    let at = column(|f| f.at.timestamp_micros());
    let next_at = column(|f| after_columns(f).1);
    let status: Vec<Option<i64>> = all.iter().map(|f| f.status).collect();
    let error: Vec<Option<&str>> = all.iter().map(|f| f.error.as_deref()).collect();
    let excerpt: Vec<&str> = all.iter().map(|f| f.response_excerpt.as_str()).collect();
    let state: Vec<&str> = all.iter().map(|f| after_columns(f).0).collect();
    let params: [&(dyn ToSql + Sync); 9] = [
        &ids, &n, &at, &status, &ms, &error, &excerpt, &state, &next_at,
    ];
    tx.execute(FINISH_ALL, &params).await
}

/// Answers one read.
pub(super) async fn read(client: &Object, read: &ForwardRead) -> PgResult<ForwardRows> {
    Ok(match read {
        ForwardRead::NextDue { scope, now } => {
            let row = match scope {
                ClaimScope::Target(name) => {
                    let text = pg(&sql::next_due(true));
                    client.query_opt(&text, &[now, &1i64, name]).await?
                }
                ClaimScope::AdHoc => {
                    let text = pg(&sql::next_due(false));
                    client.query_opt(&text, &[now, &1i64]).await?
                }
            };
            ForwardRows::Time(row.map(|r| r.try_get(0)).transpose()?)
        }
        ForwardRead::OfEvent(id) => {
            let rows = client.query(&pg(sql::OF_EVENT), &[id]).await?;
            ForwardRows::Deliveries(rows.iter().map(delivery).collect::<PgResult<_>>()?)
        }
        ForwardRead::AttemptsOfEvent(id) => {
            let rows = client.query(&pg(sql::ATTEMPTS_OF_EVENT), &[id]).await?;
            ForwardRows::Attempts(rows.iter().map(attempt).collect::<PgResult<_>>()?)
        }
        ForwardRead::List(filter) => {
            let (text, values) = sql::list(filter, |n| format!("${n}"));
            let binds: Vec<Bind> = values
                .into_iter()
                .map(|v| match v {
                    sql::Value::Text(t) => Bind(SqlValue::Text(t)),
                    sql::Value::Int(i) => Bind(SqlValue::Int(i)),
                })
                .collect();
            let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
            let rows = client.query(&text, &params).await?;
            ForwardRows::Deliveries(rows.iter().map(delivery).collect::<PgResult<_>>()?)
        }
        ForwardRead::Totals(target) => ForwardRows::Totals(totals(client, target).await?),
        ForwardRead::Pending(target) => ForwardRows::Count(
            client
                .query_one(&pg(sql::PENDING), &[target])
                .await?
                .try_get(0)?,
        ),
    })
}

async fn totals(client: &Object, target: &String) -> PgResult<TargetTotals> {
    let mut totals = TargetTotals::default();
    for row in client.query(&pg(sql::TOTALS), &[target]).await? {
        let state: String = row.try_get(0)?;
        let count: i64 = row.try_get(1)?;
        match DeliveryState::parse(&state) {
            Some(DeliveryState::Pending) => totals.pending = count,
            Some(DeliveryState::Delivered) => totals.delivered = count,
            Some(DeliveryState::Dead) => totals.dead = count,
            None => {}
        }
    }
    let success: Option<i64> = client
        .query_one(&pg(sql::LAST_SUCCESS), &[target])
        .await?
        .try_get(0)?;
    totals.last_success_at = success.map(micros);
    if let Some(row) = client.query_opt(&pg(sql::LAST_FAILURE), &[target]).await? {
        totals.last_error = failure_text(row.try_get(0)?, row.try_get(1)?);
    }
    let paused: i64 = client
        .query_one(&pg(sql::IS_PAUSED), &[target])
        .await?
        .try_get(0)?;
    totals.paused = paused > 0;
    Ok(totals)
}

fn delivery(r: &Row) -> PgResult<Delivery> {
    let state: String = r.try_get(6)?;
    Ok(Delivery {
        id: r.try_get(0)?,
        event_id: r.try_get(1)?,
        source: r.try_get(2)?,
        target: r.try_get(3)?,
        to: r.try_get(4)?,
        replay: r.try_get(5)?,
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
        attempts: r.try_get(7)?,
        next_at: micros(r.try_get(8)?),
        last_status: r.try_get(9)?,
        last_error: r.try_get(10)?,
    })
}

fn attempt(r: &Row) -> PgResult<AttemptRecord> {
    Ok(AttemptRecord {
        target: r.try_get(0)?,
        n: r.try_get(1)?,
        at: micros(r.try_get(2)?),
        status: r.try_get(3)?,
        ms: r.try_get(4)?,
        error: r.try_get(5)?,
        response_excerpt: r.try_get(6)?,
        replay: r.try_get::<_, i64>(7)? > 0,
    })
}
