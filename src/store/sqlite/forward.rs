//! The forwarding queue on SQLite: writes run in the writer's transaction (one write
//! connection, so claims never race), reads on a reader. The SQL is `store::forward_sql`.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::store::forward::{
    AttemptRecord, ClaimScope, Delivery, DeliveryState, Finished, ForwardRead, ForwardRows,
    ForwardWrite, TargetTotals,
};
use crate::store::forward_sql as sql;
use crate::store::sql::micros;

/// Applies one write inside the writer's transaction.
pub(super) fn write(conn: &Connection, write: &ForwardWrite) -> rusqlite::Result<ForwardRows> {
    match write {
        ForwardWrite::StartCursor => {
            conn.prepare_cached(sql::START_CURSOR)?.execute([])?;
            let cursor = conn
                .prepare_cached(sql::CURSOR)?
                .query_row([], |r| r.get(0))?;
            Ok(ForwardRows::Count(cursor))
        }
        ForwardWrite::Enqueue {
            deliveries,
            cursor,
            now,
        } => {
            let mut insert = conn.prepare_cached(sql::ENQUEUE)?;
            for d in deliveries {
                insert.execute(params![d.event_id, d.source, d.target, d.to, now])?;
            }
            conn.prepare_cached(&sql::MOVE_CURSOR.replace("{greatest}", "max"))?
                .execute([cursor])?;
            Ok(ForwardRows::Count(deliveries.len() as i64))
        }
        ForwardWrite::Replay { deliveries, now } => {
            let mut insert = conn.prepare_cached(sql::REPLAY)?;
            for d in deliveries {
                insert.execute(params![d.event_id, d.source, d.target, d.to, now])?;
            }
            Ok(ForwardRows::Count(deliveries.len() as i64))
        }
        ForwardWrite::Claim {
            scope,
            now,
            until,
            limit,
        } => {
            let (text, target) = match scope {
                ClaimScope::Target(name) => (sql::claim(true, ""), Some(name.as_str())),
                ClaimScope::AdHoc => (sql::claim(false, ""), None),
            };
            let mut stmt = conn.prepare_cached(&text)?;
            let rows = match target {
                Some(name) => stmt.query_map(params![now, limit, until, name], delivery)?,
                None => stmt.query_map(params![now, limit, until], delivery)?,
            };
            Ok(ForwardRows::Deliveries(rows.collect::<Result<_, _>>()?))
        }
        ForwardWrite::Finish(all) => {
            let mut changed = 0;
            for f in all {
                changed += finish(conn, f)?;
            }
            Ok(ForwardRows::Count(changed as i64))
        }
        ForwardWrite::Release(leases) => {
            let mut release = conn.prepare_cached(sql::RELEASE)?;
            let mut changed = 0;
            for lease in leases {
                changed +=
                    release.execute(params![lease.delivery_id, lease.until.timestamp_micros()])?;
            }
            Ok(ForwardRows::Count(changed as i64))
        }
        ForwardWrite::Pause {
            target,
            paused,
            now,
        } => {
            let changed = match paused {
                true => conn
                    .prepare_cached(sql::PAUSE)?
                    .execute(params![target, now])?,
                false => conn.prepare_cached(sql::RESUME)?.execute([target])?,
            };
            Ok(ForwardRows::Count(changed as i64))
        }
    }
}

/// Records one attempt and moves its delivery on; answers the deliveries changed (0 or 1).
fn finish(conn: &Connection, f: &Finished) -> rusqlite::Result<usize> {
    let at = f.at.timestamp_micros();
    conn.prepare_cached(sql::RECORD_ATTEMPT)?.execute(params![
        f.delivery_id,
        f.n,
        at,
        f.status,
        f.ms,
        f.error,
        f.response_excerpt
    ])?;
    let (state, next_at) = crate::store::forward::after_columns(f);
    conn.prepare_cached(sql::FINISH)?.execute(params![
        f.delivery_id,
        state,
        f.n,
        next_at,
        f.status,
        f.error,
        at
    ])
}

/// Answers one read.
pub(super) fn read(conn: &Connection, read: &ForwardRead) -> rusqlite::Result<ForwardRows> {
    match read {
        ForwardRead::NextDue { scope, now } => {
            let at = match scope {
                ClaimScope::Target(name) => conn
                    .prepare_cached(&sql::next_due(true))?
                    .query_row(params![now, 1, name], |r| r.get(0)),
                ClaimScope::AdHoc => conn
                    .prepare_cached(&sql::next_due(false))?
                    .query_row(params![now, 1], |r| r.get(0)),
            };
            Ok(ForwardRows::Time(at.optional()?))
        }
        ForwardRead::OfEvent(id) => {
            let mut stmt = conn.prepare_cached(sql::OF_EVENT)?;
            let rows = stmt.query_map([id], delivery)?;
            Ok(ForwardRows::Deliveries(rows.collect::<Result<_, _>>()?))
        }
        ForwardRead::AttemptsOfEvent(id) => {
            let mut stmt = conn.prepare_cached(sql::ATTEMPTS_OF_EVENT)?;
            let rows = stmt.query_map([id], attempt)?;
            Ok(ForwardRows::Attempts(rows.collect::<Result<_, _>>()?))
        }
        ForwardRead::List(filter) => {
            let (text, values) = sql::list(filter, |n| format!("?{n}"));
            let values = values.into_iter().map(|v| match v {
                sql::Value::Text(t) => rusqlite::types::Value::Text(t),
                sql::Value::Int(i) => rusqlite::types::Value::Integer(i),
            });
            let mut stmt = conn.prepare_cached(&text)?;
            let rows = stmt.query_map(params_from_iter(values), delivery)?;
            Ok(ForwardRows::Deliveries(rows.collect::<Result<_, _>>()?))
        }
        ForwardRead::Totals(target) => Ok(ForwardRows::Totals(totals(conn, target)?)),
        ForwardRead::Pending(target) => Ok(ForwardRows::Count(
            conn.prepare_cached(sql::PENDING)?
                .query_row([target], |r| r.get(0))?,
        )),
    }
}

fn totals(conn: &Connection, target: &str) -> rusqlite::Result<TargetTotals> {
    let mut totals = TargetTotals::default();
    let mut stmt = conn.prepare_cached(sql::TOTALS)?;
    let rows = stmt.query_map([target], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?;
    for row in rows {
        let (state, count) = row?;
        match DeliveryState::parse(&state) {
            Some(DeliveryState::Pending) => totals.pending = count,
            Some(DeliveryState::Delivered) => totals.delivered = count,
            Some(DeliveryState::Dead) => totals.dead = count,
            None => {}
        }
    }
    let success: Option<i64> = conn
        .prepare_cached(sql::LAST_SUCCESS)?
        .query_row([target], |r| r.get(0))?;
    totals.last_success_at = success.map(micros);
    let failure: Option<(Option<String>, Option<i64>)> = conn
        .prepare_cached(sql::LAST_FAILURE)?
        .query_row([target], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    totals.last_error =
        failure.and_then(|(error, status)| crate::store::forward::failure_text(error, status));
    let paused: i64 = conn
        .prepare_cached(sql::IS_PAUSED)?
        .query_row([target], |r| r.get(0))?;
    totals.paused = paused > 0;
    Ok(totals)
}

fn delivery(r: &Row) -> rusqlite::Result<Delivery> {
    let state: String = r.get(6)?;
    Ok(Delivery {
        id: r.get(0)?,
        event_id: r.get(1)?,
        source: r.get(2)?,
        target: r.get(3)?,
        to: r.get(4)?,
        replay: r.get(5)?,
        state: DeliveryState::parse(&state).unwrap_or(DeliveryState::Pending),
        attempts: r.get(7)?,
        next_at: micros(r.get(8)?),
        last_status: r.get(9)?,
        last_error: r.get(10)?,
    })
}

fn attempt(r: &Row) -> rusqlite::Result<AttemptRecord> {
    Ok(AttemptRecord {
        target: r.get(0)?,
        n: r.get(1)?,
        at: micros(r.get(2)?),
        status: r.get(3)?,
        ms: r.get(4)?,
        error: r.get(5)?,
        response_excerpt: r.get(6)?,
        replay: r.get::<_, i64>(7)? > 0,
    })
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;
    use crate::store::forward::NewDelivery;

    /// An in-memory store holding `count` pending deliveries to `app`, due at 0.
    fn backlog(count: i64) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::store::sqlite::schema::migrate(&mut conn).unwrap();
        let deliveries = (1..=count)
            .map(|event_id| NewDelivery {
                event_id,
                source: "stripe".into(),
                target: "app".into(),
                to: None,
            })
            .collect();
        let enqueue = ForwardWrite::Enqueue {
            deliveries,
            cursor: count,
            now: 0,
        };
        write(&conn, &enqueue).unwrap();
        conn
    }

    /// The virtual machine's steps to run `text` once with `values`, and the rows it answered.
    fn steps(conn: &Connection, text: &str, values: impl rusqlite::Params) -> (i32, usize) {
        let mut stmt = conn.prepare(text).unwrap();
        let rows = stmt.query_map(values, |_| Ok(())).unwrap().count();
        (stmt.get_status(StatementStatus::VmStep), rows)
    }

    /// The steps of a claim of 16, of the next due time, and of both once the target is paused,
    /// over `count` waiting deliveries; checks what each answered.
    fn costs(count: i64) -> [i32; 4] {
        let conn = backlog(count);
        let (claim, due) = (sql::claim(true, ""), sql::next_due(true));
        let (claiming, got) = steps(&conn, &claim, params![10, 16, 99, "app"]);
        assert_eq!(got, 16);
        let (due_active, got) = steps(&conn, &due, params![10, 1, "app"]);
        assert_eq!(got, 1);
        let pause = ForwardWrite::Pause {
            target: "app".into(),
            paused: true,
            now: 10,
        };
        write(&conn, &pause).unwrap();
        let (claiming_paused, got) = steps(&conn, &claim, params![10, 16, 99, "app"]);
        assert_eq!(got, 0, "a paused target's deliveries wait");
        let (due_paused, got) = steps(&conn, &due, params![10, 1, "app"]);
        assert_eq!(got, 0, "nothing falls due while paused");
        [claiming, due_active, claiming_paused, due_paused]
    }

    #[test]
    fn a_claim_and_a_due_time_cost_the_same_whatever_the_backlog() {
        let (short, long) = (costs(20), costs(5000));
        assert_eq!(
            short, long,
            "virtual machine steps over 20 and over 5,000 waiting"
        );
        let conn = backlog(5000);
        let (ad_hoc, got) = steps(&conn, &sql::claim(false, ""), params![10, 16, 99]);
        assert_eq!(got, 0);
        assert!(ad_hoc < 100, "{ad_hoc} steps past the rules' deliveries");
    }
}
