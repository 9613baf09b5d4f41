//! The ids this instance's writer drew, and what became of each, so its listener publishes
//! them without reading them back from PostgreSQL: under load that read was a query, a heap
//! fetch and a row over the socket for every event, on every instance.
//!
//! The writer records a batch's ids once its statement answers (`staged`): stored events as
//! *committing*, candidates that turned out to be redeliveries as *absent*. After COMMIT it
//! marks the stored ones *committed* (`committed`), or forgets the whole batch when the
//! outcome is in doubt (`forget`). The listener, for settled ids (`settle`), publishes
//! committed ones from here, skips absent ones, and reads every other id from the database:
//! other instances' events, ids of statements that failed, and anything forgotten. An id
//! still *committing* here is settled in the database (its transaction ended) but its writer
//! has not seen the answer yet: the listener stops before it and waits for `resolved`.
//!
//! Being wrong here would be worse than being slow, so this only ever holds what the writer
//! knows for certain; everything else is read from the database, the source of truth.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

use crate::model::Event;

/// Most ids kept; beyond it the oldest are dropped (the listener then reads them).
const CAPACITY: usize = 65_536;

/// What became of one id this instance drew.
#[derive(Debug, Clone)]
enum Fate {
    /// Stored in a transaction whose COMMIT this writer has not seen answered yet.
    Committing,
    /// Stored and committed.
    Committed(Arc<Event>),
    /// Never stored: the candidate was a redelivery of a stored event.
    Absent,
}

/// This instance's own ids, by id.
#[derive(Default)]
pub(super) struct Ledger {
    fates: Mutex<BTreeMap<i64, Fate>>,
    /// Woken whenever a committing id is resolved.
    resolved: Notify,
}

/// What the listener takes from the ledger for a settled range of ids.
#[derive(Debug, Default)]
pub(super) struct Taken {
    /// The range ends here: the settled bound, or just before the first id still committing.
    pub through: i64,
    /// This instance's committed events in the range, in id order.
    pub events: Vec<Arc<Event>>,
    /// The ids in the range this ledger knows nothing of, as runs `(after, through]`, in
    /// order: to be read from the database.
    pub unknown: Vec<(i64, i64)>,
}

impl Ledger {
    /// Records a staged batch: its stored events (committing) and the ids its redeliveries
    /// used up (absent).
    pub(super) fn staged(&self, stored: &[Arc<Event>], absent: &[i64]) {
        let Ok(mut fates) = self.fates.lock() else {
            return;
        };
        for event in stored {
            fates.insert(event.id, Fate::Committing);
        }
        for &id in absent {
            fates.insert(id, Fate::Absent);
        }
        while fates.len() > CAPACITY {
            fates.pop_first();
        }
    }

    /// The batch holding these events committed.
    pub(super) fn committed(&self, stored: &[Arc<Event>]) {
        if let Ok(mut fates) = self.fates.lock() {
            for event in stored {
                if let Some(fate) = fates.get_mut(&event.id) {
                    *fate = Fate::Committed(event.clone());
                }
            }
        }
        self.resolved.notify_one();
    }

    /// The batch's outcome is unknown (its COMMIT failed): the listener reads these ids.
    pub(super) fn forget(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut fates) = self.fates.lock() {
            for id in ids {
                fates.remove(&id);
            }
        }
        self.resolved.notify_one();
    }

    /// Forgets every id still committing, so the listener reads them from the database: for
    /// when their writer has not answered for too long (it should never happen; the listener
    /// must not wait on it forever if it does).
    pub(super) fn forget_committing(&self) {
        if let Ok(mut fates) = self.fates.lock() {
            fates.retain(|_, fate| !matches!(fate, Fate::Committing));
        }
    }

    /// Resolves once the writer has resolved a committing id since the last call.
    pub(super) async fn resolved(&self) {
        self.resolved.notified().await
    }

    /// Takes what this ledger knows of the ids in `(after, settled]`, up to the first id still
    /// committing. Everything up to `through` leaves the ledger.
    pub(super) fn take(&self, after: i64, settled: i64) -> Taken {
        let mut taken = Taken {
            through: settled.max(after),
            ..Taken::default()
        };
        if settled <= after {
            return taken;
        }
        let Ok(mut fates) = self.fates.lock() else {
            taken.unknown.push((after, settled));
            return taken;
        };
        let mut cursor = after;
        for (&id, fate) in fates.range(after + 1..=settled) {
            if let Fate::Committing = fate {
                taken.through = id - 1;
                break;
            }
            if id > cursor + 1 {
                taken.unknown.push((cursor, id - 1));
            }
            if let Fate::Committed(event) = fate {
                taken.events.push(event.clone());
            }
            cursor = id;
        }
        if taken.through > cursor {
            taken.unknown.push((cursor, taken.through));
        }
        *fates = fates.split_off(&(taken.through + 1));
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NewEvent;

    fn event(id: i64) -> Arc<Event> {
        Arc::new(Event {
            id,
            size: 0,
            duplicates: 0,
            enrichment: None,
            new: NewEvent::sample("s", id as usize),
        })
    }

    fn ids(events: &[Arc<Event>]) -> Vec<i64> {
        events.iter().map(|e| e.id).collect()
    }

    #[test]
    fn committed_events_are_taken_once_and_gaps_are_left_to_the_database() {
        let ledger = Ledger::default();
        let batch = [event(3), event(4), event(7)];
        ledger.staged(&batch, &[5]);
        ledger.committed(&batch);
        let taken = ledger.take(1, 9);
        assert_eq!(taken.through, 9);
        assert_eq!(ids(&taken.events), [3, 4, 7]);
        assert_eq!(
            taken.unknown,
            [(1, 2), (5, 6), (7, 9)],
            "absent 5 is skipped"
        );
        let again = ledger.take(9, 9);
        assert!(again.events.is_empty() && again.unknown.is_empty());
    }

    #[test]
    fn an_id_still_committing_ends_the_range_until_it_is_resolved() {
        let ledger = Ledger::default();
        let first = [event(1)];
        let second = [event(2), event(3)];
        ledger.staged(&first, &[]);
        ledger.committed(&first);
        ledger.staged(&second, &[]);
        let taken = ledger.take(0, 5);
        assert_eq!(taken.through, 1);
        assert_eq!(ids(&taken.events), [1]);
        assert!(taken.unknown.is_empty());
        ledger.committed(&second);
        let taken = ledger.take(1, 5);
        assert_eq!((taken.through, ids(&taken.events)), (5, vec![2, 3]));
        assert_eq!(taken.unknown, [(3, 5)]);
    }

    #[test]
    fn ids_whose_writer_never_answers_can_be_left_to_the_database() {
        let ledger = Ledger::default();
        ledger.staged(&[event(1), event(2)], &[3]);
        ledger.forget_committing();
        let taken = ledger.take(0, 3);
        assert_eq!((taken.through, taken.unknown), (3, vec![(0, 2)]));
        assert!(taken.events.is_empty(), "absent 3 is still skipped");
    }

    #[test]
    fn a_forgotten_batch_is_read_from_the_database() {
        let ledger = Ledger::default();
        let batch = [event(1), event(2)];
        ledger.staged(&batch, &[3]);
        ledger.forget([1, 2, 3]);
        let taken = ledger.take(0, 3);
        assert!(taken.events.is_empty());
        assert_eq!((taken.through, taken.unknown), (3, vec![(0, 3)]));
    }

    #[test]
    fn memory_is_bounded() {
        let ledger = Ledger::default();
        let batch: Vec<_> = (1..=CAPACITY as i64 + 10).map(event).collect();
        ledger.staged(&batch, &[]);
        ledger.committed(&batch);
        let taken = ledger.take(0, CAPACITY as i64 + 10);
        assert_eq!(taken.events.len(), CAPACITY, "the oldest were dropped");
        assert_eq!(taken.unknown, [(0, 10)], "and are read from the database");
    }
}
