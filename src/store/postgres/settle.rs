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
//! in a quiet database a probe settles its own `L` at once; under load, the next batch does. A transaction that stays open elsewhere on the same PostgreSQL server holds
//! `xmin` back and delays publishing (never ingest) until it ends; the listener logs it.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use deadpool_postgres::ClientWrapper;
use tokio_postgres::SimpleQueryMessage;

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
    let values: Vec<Option<String>> = client
        .simple_query(PROBE)
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
/// ids are settled. If something holds `xmin` back for longer than `patience`, it starts from
/// the last id handed out instead (logged): starting matters more than the few events that
/// may then be missing from this instance's live stream.
pub(super) async fn settled_now(
    client: &ClientWrapper,
    patience: Duration,
) -> Result<i64, ProbeError> {
    let deadline = Instant::now() + patience;
    let mut settler = Settler::from(0);
    let first = probe(client).await?;
    let mut bound = settler.observe(first);
    while bound < first.last_id {
        if Instant::now() > deadline {
            tracing::warn!(
                "A long-running transaction on this PostgreSQL server delays the \
                live feed; starting it without waiting."
            );
            return Ok(first.last_id);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        bound = settler.observe(probe(client).await?);
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
