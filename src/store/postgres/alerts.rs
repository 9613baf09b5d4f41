//! The `alerts` table on PostgreSQL: claim (insert unless already there) and list. The same
//! unique key as SQLite makes the insert the decision: with several instances evaluating the
//! same events, exactly one gets the id and sends the alert.

use chrono::DateTime;
use deadpool_postgres::ClientWrapper;
use tokio_postgres::Row;

use crate::model::{Alert, AlertKind, AlertState, NewAlert};
use crate::store::AlertNotice;
use crate::store::sql::{alert_notice as alert_notice_sql, dollar_placeholders};

type PgResult<T> = Result<T, tokio_postgres::Error>;

/// Inserts the alert unless `(rule, source, state, at)` exists; `Some(id)` when inserted.
pub(super) async fn claim(
    client: &ClientWrapper,
    a: &NewAlert,
    notify_until: i64,
) -> PgResult<Option<i64>> {
    let sample = serde_json::to_string(&a.sample_event_ids).unwrap_or_else(|_| "[]".into());
    let count = a.count.min(i64::MAX as u64) as i64;
    let window = a.window_secs.min(i64::MAX as u64) as i64;
    let row = client
        .query_opt(
            "INSERT INTO alerts (rule, kind, source, state, count, window_secs, at,
               sample_event_ids, notify_until)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id",
            &[
                &a.rule,
                &a.kind.as_str(),
                &a.source,
                &a.state.as_str(),
                &count,
                &window,
                &a.at.timestamp_micros(),
                &sample,
                &notify_until,
            ],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Ends or renews an alert's sending lease, or takes the expired ones (`AlertNotice`); instances
/// sweeping at once skip each other's rows, so each expired alert goes to one of them.
pub(super) async fn notice(client: &ClientWrapper, notice: AlertNotice) -> PgResult<Vec<Alert>> {
    match notice {
        AlertNotice::Done(id) => {
            let sql = dollar_placeholders(alert_notice_sql::DONE);
            client.execute(&sql, &[&id]).await?;
            Ok(Vec::new())
        }
        AlertNotice::Renew { id, until } => {
            let sql = dollar_placeholders(alert_notice_sql::RENEW);
            client.execute(&sql, &[&id, &until]).await?;
            Ok(Vec::new())
        }
        AlertNotice::Take { now, until, limit } => {
            let sql = dollar_placeholders(&alert_notice_sql::take(" FOR UPDATE SKIP LOCKED"));
            let rows = client
                .query(&sql, &[&now, &until, &i64::from(limit)])
                .await?;
            rows.iter().map(alert).collect()
        }
    }
}

/// The newest `limit` alerts.
pub(super) async fn list(client: &ClientWrapper, limit: u32) -> PgResult<Vec<Alert>> {
    let rows = client
        .query(
            "SELECT id, rule, kind, source, state, count, window_secs, at, sample_event_ids
             FROM alerts ORDER BY id DESC LIMIT $1",
            &[&i64::from(limit)],
        )
        .await?;
    rows.iter().map(alert).collect()
}

fn alert(r: &Row) -> PgResult<Alert> {
    let kind: String = r.try_get(2)?;
    let state: String = r.try_get(4)?;
    let sample: String = r.try_get(8)?;
    Ok(Alert {
        id: r.try_get(0)?,
        new: NewAlert {
            rule: r.try_get(1)?,
            kind: AlertKind::parse(&kind).unwrap_or(AlertKind::Burst),
            source: r.try_get(3)?,
            state: AlertState::parse(&state).unwrap_or(AlertState::Firing),
            count: r.try_get::<_, i64>(5)?.max(0) as u64,
            window_secs: r.try_get::<_, i64>(6)?.max(0) as u64,
            at: DateTime::from_timestamp_micros(r.try_get(7)?).unwrap_or_default(),
            sample_event_ids: serde_json::from_str(&sample).unwrap_or_default(),
        },
    })
}
