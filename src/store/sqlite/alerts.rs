//! The `alerts` table: claim (insert unless already there) and list.

use chrono::DateTime;
use rusqlite::{Connection, Row, params};

use crate::model::{Alert, AlertKind, AlertState, NewAlert};
use crate::store::AlertNotice;
use crate::store::sql::alert_notice as alert_notice_sql;

/// Inserts the alert unless `(rule, source, state, at)` exists; `Some(id)` when inserted.
/// Runs in autocommit mode on the writer's connection: one statement, one fsync.
pub(super) fn claim(
    conn: &Connection,
    a: &NewAlert,
    notify_until: i64,
) -> rusqlite::Result<Option<i64>> {
    let sample = serde_json::to_string(&a.sample_event_ids).unwrap_or_else(|_| "[]".into());
    let inserted = conn
        .prepare_cached(
            "INSERT INTO alerts (rule, kind, source, state, count, window_secs, at,
               sample_event_ids, notify_until)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT DO NOTHING",
        )?
        .execute(params![
            a.rule,
            a.kind.as_str(),
            a.source,
            a.state.as_str(),
            a.count.min(i64::MAX as u64) as i64,
            a.window_secs.min(i64::MAX as u64) as i64,
            a.at.timestamp_micros(),
            sample,
            notify_until,
        ])?;
    Ok((inserted == 1).then(|| conn.last_insert_rowid()))
}

/// Ends or renews an alert's sending lease, or takes the expired ones (`AlertNotice`).
pub(super) fn notice(conn: &Connection, notice: AlertNotice) -> rusqlite::Result<Vec<Alert>> {
    match notice {
        AlertNotice::Done(id) => {
            conn.prepare_cached(alert_notice_sql::DONE)?.execute([id])?;
            Ok(Vec::new())
        }
        AlertNotice::Renew { id, until } => {
            conn.prepare_cached(alert_notice_sql::RENEW)?
                .execute([id, until])?;
            Ok(Vec::new())
        }
        AlertNotice::Take { now, until, limit } => {
            let mut stmt = conn.prepare_cached(&alert_notice_sql::take(""))?;
            let rows = stmt.query_map(params![now, until, limit], row)?;
            rows.collect()
        }
    }
}

pub(super) fn list(conn: &Connection, limit: u32) -> rusqlite::Result<Vec<Alert>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, rule, kind, source, state, count, window_secs, at, sample_event_ids
         FROM alerts ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt.query_map([limit], row)?;
    rows.collect()
}

fn row(r: &Row) -> rusqlite::Result<Alert> {
    let kind: String = r.get(2)?;
    let state: String = r.get(4)?;
    let sample: String = r.get(8)?;
    Ok(Alert {
        id: r.get(0)?,
        new: NewAlert {
            rule: r.get(1)?,
            kind: AlertKind::parse(&kind).unwrap_or(AlertKind::Burst),
            source: r.get(3)?,
            state: AlertState::parse(&state).unwrap_or(AlertState::Firing),
            count: r.get::<_, i64>(5)?.max(0) as u64,
            window_secs: r.get::<_, i64>(6)?.max(0) as u64,
            at: DateTime::from_timestamp_micros(r.get(7)?).unwrap_or_default(),
            sample_event_ids: serde_json::from_str(&sample).unwrap_or_default(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(state: AlertState) -> NewAlert {
        NewAlert {
            rule: "stripe burst".into(),
            kind: AlertKind::Burst,
            source: "stripe".into(),
            state,
            count: 3,
            window_secs: 60,
            at: DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap(),
            sample_event_ids: vec![1, 2, 3],
        }
    }

    #[test]
    fn the_same_transition_is_claimed_once_and_listed_newest_first() {
        let mut conn = Connection::open_in_memory().unwrap();
        super::super::schema::migrate(&mut conn).unwrap();
        let first = claim(&conn, &alert(AlertState::Firing), 0).unwrap();
        assert!(first.is_some());
        assert_eq!(claim(&conn, &alert(AlertState::Firing), 0).unwrap(), None);
        let resolved = claim(&conn, &alert(AlertState::Resolved), 0).unwrap();
        let listed = list(&conn, 10).unwrap();
        assert_eq!(listed.len(), 2);
        assert_eq!(Some(listed[0].id), resolved);
        assert_eq!(listed[1].new, alert(AlertState::Firing));
    }
}
