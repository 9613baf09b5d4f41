//! Which event ids are *settled*: final, so the listener can publish everything up to them
//! without ever skipping an id that commits later.
//!
//! Instances write in parallel, so ids do not become visible in id order: id 11 may commit
//! while id 10 is still in flight, or 10 may never exist (a duplicate or a failed batch used
//! it up). Publishing 11 at once would make every live stream skip 10 for good. So the
//! listener only publishes up to a bound it has proved final:
//!
//! 1. Every writer takes a transaction id (xid) *before* it draws ids from `events_id_seq`
//!    (`batch`), so a transaction holding an id is older than the id.
//! 2. A probe reads, in this order, in one round trip: the sequence's last value `L`; then a
//!    fresh xid `X` (which is newer than every xid assigned before it, so newer than every
//!    transaction holding an id up to `L`); then the oldest running xid `xmin` of a new
//!    snapshot, which counts `X` itself as running (so `xmin` is at most `X`).
//! 3. Once this or a later probe's `xmin` reaches `X`, every transaction older than `X` has
//!    ended, so every id up to `L` is visible or will never exist: `L` is settled.
//!
//! Every batch statement is a probe as well (`batch`): it reads `L` and its snapshot's `xmin`
//! before it takes its xid. An `xmin` taken before `X` can only reach `X` when nothing was
//! running when it was taken and `X` was the next xid handed out, which proves the same. So
//! in a quiet database a probe settles its own `L` at once; under load, the next batch does.
//!
//! A transaction that stays open elsewhere on the same PostgreSQL server (a migration, a
//! batch job, a session left idle in a transaction) holds `xmin` back for as long as it
//! runs, though it cannot hold an event id. So when the bound has not moved for a while, the
//! listener asks a *fenced probe* instead (`fenced_probe`), which looks only at the
//! transactions that can:
//!
//! 4. Whatever draws event ids locks `events` for writing (`RowExclusiveLock`) before it
//!    takes its xid, and keeps the lock until it ends: a writer's statement locks every
//!    table it writes when it starts, and `events.id` is drawn only by inserting into
//!    `events`.
//! 5. So after taking `X`, the oldest transaction that holds a lock on `events` other than
//!    for reading (read from `pg_locks`; `X` when there is none) stands in for `xmin`: every
//!    transaction older than it that may hold an id up to `L` holds such a lock, so it has
//!    ended.
//!
//! `pg_locks` stops every backend's locking for a moment, so the listener asks it only while
//! the bound is stuck, and at most every `FENCE_GAP`. What is left unpublished then is what
//! a transaction writing to `events` still holds: the listener logs when that lasts.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use deadpool_postgres::ClientWrapper;
use tokio_postgres::SimpleQueryMessage;

/// How long the settled bound may stay stuck before the listener asks a fenced probe: far
/// longer than a batch takes, so under load only something else holds it.
pub(super) const FENCE_AFTER: Duration = Duration::from_millis(500);
/// The shortest time between two fenced probes of one listener (each reads `pg_locks`).
pub(super) const FENCE_GAP: Duration = Duration::from_millis(100);

/// Unsettled probes kept; beyond it the newest replaces the last (it settles no earlier), so
/// memory stays bounded while something holds `xmin` back.
const MAX_PENDING: usize = 64;

/// One probe of the database (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Probe {
    /// The last id handed out by the sequence (0 when none yet).
    pub last_id: i64,
    /// An xid newer than every transaction that may hold an id up to `last_id`.
    pub xid: i64,
    /// Every xid below this had ended when the probe's last statement ran.
    pub xmin: i64,
}

/// The settled bound, from successive probes.
#[derive(Debug, Default)]
pub(super) struct Settler {
    /// Probes not yet settled, oldest first: (last id, xid).
    pending: VecDeque<(i64, i64)>,
    settled: i64,
}

impl Settler {
    /// Starts from an id already known to be final.
    pub(super) fn from(settled: i64) -> Settler {
        Settler {
            pending: VecDeque::new(),
            settled,
        }
    }

    /// Takes a probe into account; returns the settled bound.
    pub(super) fn observe(&mut self, probe: Probe) -> i64 {
        if probe.last_id > self.settled && self.pending.back().is_none_or(|b| b.0 < probe.last_id) {
            if self.pending.len() >= MAX_PENDING {
                self.pending.pop_back();
            }
            self.pending.push_back((probe.last_id, probe.xid));
        }
        while let Some(&(last_id, xid)) = self.pending.front() {
            if xid > probe.xmin {
                break;
            }
            self.settled = self.settled.max(last_id);
            self.pending.pop_front();
        }
        self.settled
    }

    /// Whether some ids handed out are not settled yet (so it is worth probing again soon,
    /// even without a notification).
    pub(super) fn is_waiting(&self) -> bool {
        !self.pending.is_empty()
    }
}

/// The probe's three statements, in order, in one simple-protocol message: one round trip
/// and one answer. They run in one implicit transaction, and each takes its own snapshot, so
/// the third sees the xid of the second as running: its `xmin` reaches that xid exactly when
/// every older transaction has ended.
const PROBE: &str = "SELECT COALESCE(pg_sequence_last_value('events_id_seq'), 0); \
    SELECT pg_current_xact_id(); \
    SELECT pg_snapshot_xmin(pg_current_snapshot())";

/// A probe whose third statement reads the oldest transaction holding a lock on `events`
/// instead of the snapshot's `xmin` (see the module docs, 4 and 5); locks that only read
/// (`SELECT`, `SELECT … FOR UPDATE`) do not count, as inserting takes `RowExclusiveLock`
/// whatever else a transaction holds. `age` counts back from
/// this transaction's own xid, `X`, so the answer is `X` less the oldest holder's age (never
/// more than `X`); a holder's subtransactions are newer than its top xid, and waiting on
/// `events` counts as holding it, both of which only make the answer smaller (safer).
const FENCED_PROBE: &str = "SELECT COALESCE(pg_sequence_last_value('events_id_seq'), 0); \
    SELECT pg_current_xact_id(); \
    SELECT pg_current_xact_id()::text::int8 - GREATEST(max(age(held.transactionid)), 0) \
    FROM pg_locks AS events_lock JOIN pg_locks AS held USING (virtualtransaction) \
    WHERE events_lock.locktype = 'relation' AND events_lock.relation = 'events'::regclass \
        AND events_lock.mode NOT IN ('AccessShareLock', 'RowShareLock') \
        AND events_lock.database = (SELECT oid FROM pg_database \
            WHERE datname = current_database()) \
        AND held.locktype = 'transactionid' AND held.mode = 'ExclusiveLock'";

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProbeError {
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("the probe's answer was not three numbers: {0:?}")]
    Malformed(Vec<Option<String>>),
}

/// Probes the database (see the module docs).
pub(super) async fn probe(client: &ClientWrapper) -> Result<Probe, ProbeError> {
    run_probe(client, PROBE).await
}

/// Probes the database, looking past transactions that cannot hold an event id (see the
/// module docs): for when something holds `xmin` back.
pub(super) async fn fenced_probe(client: &ClientWrapper) -> Result<Probe, ProbeError> {
    run_probe(client, FENCED_PROBE).await
}

async fn run_probe(client: &ClientWrapper, sql: &str) -> Result<Probe, ProbeError> {
    let values: Vec<Option<String>> = client
        .simple_query(sql)
        .await?
        .iter()
        .filter_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0).map(str::to_string)),
            _ => None,
        })
        .collect();
    let numbers: Vec<i64> = values
        .iter()
        .filter_map(|value| value.as_deref()?.parse().ok())
        .collect();
    match numbers[..] {
        [last_id, xid, xmin] => Ok(Probe { last_id, xid, xmin }),
        _ => Err(ProbeError::Malformed(values)),
    }
}

/// The settled bound as of now, where a new listener starts: probes until the first probe's
/// ids are settled, fenced once plain probes have not settled them for `FENCE_AFTER`. If a
/// transaction writing to `events` keeps them unsettled for longer than `patience`, it starts
/// from the last id handed out instead (logged): starting matters more than the few events
/// that may then be missing from this instance's live stream.
pub(super) async fn settled_now(
    client: &ClientWrapper,
    patience: Duration,
) -> Result<i64, ProbeError> {
    let started = Instant::now();
    let mut settler = Settler::from(0);
    let first = probe(client).await?;
    let mut bound = settler.observe(first);
    while bound < first.last_id {
        if started.elapsed() > patience {
            tracing::warn!(
                "A long-running transaction on this PostgreSQL server delays the \
                live feed; starting it without waiting."
            );
            return Ok(first.last_id);
        }
        let next = match started.elapsed() >= FENCE_AFTER {
            true => {
                tokio::time::sleep(FENCE_GAP).await;
                fenced_probe(client).await?
            }
            false => {
                tokio::time::sleep(Duration::from_millis(5)).await;
                probe(client).await?
            }
        };
        bound = settler.observe(next);
    }
    Ok(bound)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(last_id: i64, xid: i64, xmin: i64) -> Probe {
        Probe { last_id, xid, xmin }
    }

    #[test]
    fn a_quiet_database_settles_at_once() {
        let mut settler = Settler::from(0);
        assert_eq!(settler.observe(probe(10, 100, 101)), 10);
        assert!(!settler.is_waiting());
    }

    #[test]
    fn ids_wait_until_every_older_transaction_has_ended() {
        let mut settler = Settler::from(0);
        // A writer (xid 95) holding some id up to 10 is still running.
        assert_eq!(settler.observe(probe(10, 100, 95)), 0);
        assert!(settler.is_waiting());
        assert_eq!(settler.observe(probe(20, 110, 99)), 0);
        // xid 95 ended; everything below 100 has: 10 is final, 20 not yet.
        assert_eq!(settler.observe(probe(20, 111, 100)), 10);
        assert_eq!(settler.observe(probe(20, 112, 113)), 20);
        assert!(!settler.is_waiting());
    }

    #[test]
    fn the_bound_never_moves_backwards() {
        let mut settler = Settler::from(50);
        assert_eq!(settler.observe(probe(40, 100, 101)), 50);
        assert!(!settler.is_waiting(), "nothing beyond 50 to wait for");
    }

    #[test]
    fn a_stuck_xmin_keeps_memory_bounded_and_settles_later() {
        let mut settler = Settler::from(0);
        for n in 1..=1000 {
            settler.observe(probe(n, 1000 + n, 7));
        }
        assert_eq!(settler.pending.len(), MAX_PENDING);
        assert_eq!(settler.observe(probe(1000, 3000, 3001)), 1000);
    }
}
