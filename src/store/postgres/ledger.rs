//! The ids this instance's writer drew, and what became of each, so its listener publishes
//! them without reading them back from PostgreSQL: under load that read was a query, a heap
//! fetch and a row over the socket for every event, on every instance.
//!
//! Each batch is one statement that commits by itself (`batch`), so the writer learns its ids
//! only once they are committed. It numbers its batches: `begin` before the statement is
//! sent, `finish` when it has answered, with the stored events and the ids that redeliveries
//! used up (*absent*), or with nothing when the outcome is unknown. The listener notes the
//! last batch begun before it probes (`settle`), and once the probe has settled new ids it
//! waits for that batch to finish (`ended`): every id of this instance up to the settled
//! bound is then known here. It publishes stored events from here, skips absent ids, and
//! reads every other id from the database: other instances' events, and ids of batches whose
//! outcome was unknown (or that began after it looked).
//!
//! Being wrong here would be worse than being slow, so this only ever holds what the writer
//! knows for certain; everything else is read from the database, the source of truth.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

use super::settle::Probe;
use crate::model::Event;

/// Most ids kept; beyond it the oldest are dropped (the listener then reads them).
const CAPACITY: usize = 65_536;

/// What became of one id this instance drew.
#[derive(Debug, Clone)]
enum Fate {
    /// Stored and committed.
    Stored(Arc<Event>),
    /// Never stored: the candidate was a redelivery of a stored event.
    Absent,
}

/// This instance's own ids, by id, and how far its writer has got.
pub(super) struct Ledger {
    fates: Mutex<BTreeMap<i64, Fate>>,
    /// The newest batch statement's probe (`settle`) the listener has not taken yet.
    probe: Mutex<Option<Probe>>,
    /// The number of the last batch begun.
    begun: AtomicU64,
    /// The number of the last batch finished; batches finish in the order they begin.
    finished: watch::Sender<u64>,
}

impl Default for Ledger {
    fn default() -> Ledger {
        Ledger {
            fates: Mutex::default(),
            probe: Mutex::default(),
            begun: AtomicU64::new(0),
            finished: watch::Sender::new(0),
        }
    }
}

/// What the listener takes from the ledger for a settled range of ids.
#[derive(Debug, Default)]
pub(super) struct Taken {
    /// This instance's stored events in the range, in id order.
    pub events: Vec<Arc<Event>>,
    /// The ids in the range this ledger knows nothing of, as runs `(after, through]`, in
    /// order: to be read from the database.
    pub unknown: Vec<(i64, i64)>,
}

/// Consecutive unknown runs read with one range query: `(after, through]` but for `known`,
/// the ids between the runs (all this instance's own, stored or used up).
#[derive(Debug, PartialEq)]
pub(super) struct Span {
    pub after: i64,
    pub through: i64,
    pub known: Vec<i64>,
}

impl Taken {
    /// The unknown runs grouped into spans, each skipping at most `max_known` known ids: one
    /// read per span gets just the unknown ids however finely the instances' ids interleave
    /// (under load, one span per catch-up), and the skip list a query compares each row with
    /// stays short after a long stall too.
    pub(super) fn spans(&self, max_known: usize) -> Vec<Span> {
        let mut spans: Vec<Span> = Vec::new();
        for &(after, through) in &self.unknown {
            match spans.last_mut() {
                Some(span) if span.known.len() + (after - span.through) as usize <= max_known => {
                    span.known.extend(span.through + 1..=after);
                    span.through = through;
                }
                _ => spans.push(Span {
                    after,
                    through,
                    known: Vec::new(),
                }),
            }
        }
        spans
    }
}

impl Ledger {
    /// A batch is about to draw ids; returns its number, for `finish`.
    pub(super) fn begin(&self) -> u64 {
        self.begun.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The number of the last batch begun: the listener waits for it (`ended`) before it
    /// takes ids that a probe made after this call has settled.
    pub(super) fn begun(&self) -> u64 {
        self.begun.load(Ordering::SeqCst)
    }

    /// Batch `number` has answered: its stored (and committed) events, the ids its
    /// redeliveries used up and its statement's probe; all empty when its outcome is unknown.
    pub(super) fn finish(
        &self,
        number: u64,
        stored: &[Arc<Event>],
        absent: &[i64],
        probe: Option<Probe>,
    ) {
        if let Ok(mut fates) = self.fates.lock() {
            for event in stored {
                fates.insert(event.id, Fate::Stored(event.clone()));
            }
            for &id in absent {
                fates.insert(id, Fate::Absent);
            }
            while fates.len() > CAPACITY {
                fates.pop_first();
            }
        }
        if let (Some(probe), Ok(mut newest)) = (probe, self.probe.lock()) {
            *newest = Some(probe);
        }
        self.finished.send_replace(number);
    }

    /// Changes whenever a batch finishes: wakes the listener.
    pub(super) fn watch(&self) -> watch::Receiver<u64> {
        self.finished.subscribe()
    }

    /// The newest batch's probe, once: every id of this instance it settles is known here
    /// already (the writer finishes its batches in order), so no need to wait for `ended`.
    pub(super) fn take_probe(&self) -> Option<Probe> {
        self.probe.lock().ok()?.take()
    }

    /// Resolves once batch `number` (and so every batch before it) has finished.
    pub(super) async fn ended(&self, number: u64) {
        let mut finished = self.finished.subscribe();
        // The sender lives as long as `self`, so this only ends when the batch has.
        let _ = finished.wait_for(|&done| done >= number).await;
    }

    /// Takes what this ledger knows of the ids in `(after, settled]`. Everything up to
    /// `settled` leaves the ledger.
    pub(super) fn take(&self, after: i64, settled: i64) -> Taken {
        let mut taken = Taken::default();
        if settled <= after {
            return taken;
        }
        let Ok(mut fates) = self.fates.lock() else {
            taken.unknown.push((after, settled));
            return taken;
        };
        let mut cursor = after;
        for (&id, fate) in fates.range(after + 1..=settled) {
            if id > cursor + 1 {
                taken.unknown.push((cursor, id - 1));
            }
            if let Fate::Stored(event) = fate {
                taken.events.push(event.clone());
            }
            cursor = id;
        }
        if settled > cursor {
            taken.unknown.push((cursor, settled));
        }
        *fates = fates.split_off(&(settled + 1));
        taken
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
    fn stored_events_are_taken_once_and_gaps_are_left_to_the_database() {
        let ledger = Ledger::default();
        let batch = ledger.begin();
        ledger.finish(batch, &[event(3), event(4), event(7)], &[5], None);
        let taken = ledger.take(1, 9);
        assert_eq!(ids(&taken.events), [3, 4, 7]);
        assert_eq!(
            taken.unknown,
            [(1, 2), (5, 6), (7, 9)],
            "absent 5 is skipped"
        );
        let span = |after, through, known: &[i64]| Span {
            after,
            through,
            known: known.to_vec(),
        };
        assert_eq!(taken.spans(8), [span(1, 9, &[3, 4, 5, 7])]);
        assert_eq!(taken.spans(2), [span(1, 2, &[]), span(5, 9, &[7])]);
        assert_eq!(taken.spans(3), [span(1, 6, &[3, 4, 5]), span(7, 9, &[])]);
        let again = ledger.take(9, 9);
        assert!(again.events.is_empty() && again.unknown.is_empty());
    }

    #[test]
    fn a_batch_whose_outcome_is_unknown_is_read_from_the_database() {
        let ledger = Ledger::default();
        let batch = ledger.begin();
        ledger.finish(batch, &[], &[], None);
        let taken = ledger.take(0, 3);
        assert!(taken.events.is_empty());
        assert_eq!(taken.unknown, [(0, 3)]);
        let spans = taken.spans(8);
        assert_eq!(spans.len(), 1);
        assert!(spans[0].known.is_empty());
    }

    #[test]
    fn ids_known_only_after_they_were_read_are_never_taken_again() {
        let ledger = Ledger::default();
        let late = ledger.begin();
        assert_eq!(ledger.take(0, 2).unknown, [(0, 2)]);
        ledger.finish(late, &[event(1), event(2), event(4)], &[], None);
        let taken = ledger.take(2, 4);
        assert_eq!(ids(&taken.events), [4], "1 and 2 were published already");
        assert_eq!(taken.unknown, [(2, 3)]);
    }

    #[tokio::test]
    async fn the_listener_can_wait_for_the_batch_begun_before_it_probed() {
        let ledger = Arc::new(Ledger::default());
        assert_eq!(ledger.begun(), 0);
        tokio::time::timeout(Duration::from_secs(5), ledger.ended(0))
            .await
            .expect("nothing begun: nothing to wait for");
        let first = ledger.begin();
        let second = ledger.begin();
        assert_eq!(ledger.begun(), second);
        let waiting = tokio::spawn({
            let ledger = ledger.clone();
            async move { ledger.ended(second).await }
        });
        ledger.finish(first, &[event(1)], &[], None);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the second batch has not finished");
        ledger.finish(second, &[event(2)], &[], None);
        tokio::time::timeout(Duration::from_secs(5), waiting)
            .await
            .expect("woken once the second batch finished")
            .unwrap();
    }

    #[test]
    fn memory_is_bounded() {
        let ledger = Ledger::default();
        let batch: Vec<_> = (1..=CAPACITY as i64 + 10).map(event).collect();
        let number = ledger.begin();
        ledger.finish(number, &batch, &[], None);
        let taken = ledger.take(0, CAPACITY as i64 + 10);
        assert_eq!(taken.events.len(), CAPACITY, "the oldest were dropped");
        assert_eq!(taken.unknown, [(0, 10)], "and are read from the database");
    }
}
