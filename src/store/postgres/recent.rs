//! Events this instance is committing or just committed, kept briefly so its listener publishes them without
//! reading them back from PostgreSQL (body included). Events of other instances, and any the
//! writer has not handed over yet, are still read from the database: this is only a shortcut,
//! never the source of truth.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::model::Event;

/// Most events kept; beyond it the oldest are dropped (the listener then reads them).
const CAPACITY: usize = 16_384;

/// Recently committed events of this instance, by id.
#[derive(Default)]
pub(super) struct Recent {
    events: Mutex<BTreeMap<i64, Arc<Event>>>,
}

impl Recent {
    /// Remembers committed events.
    pub(super) fn add(&self, events: impl IntoIterator<Item = Arc<Event>>) {
        let Ok(mut map) = self.events.lock() else {
            return;
        };
        for event in events {
            map.insert(event.id, event);
        }
        while map.len() > CAPACITY {
            map.pop_first();
        }
    }

    /// Takes the event with this id, if this instance committed it recently.
    pub(super) fn take(&self, id: i64) -> Option<Arc<Event>> {
        self.events.lock().ok()?.remove(&id)
    }

    /// Forgets these events (their commit failed).
    pub(super) fn forget(&self, ids: impl IntoIterator<Item = i64>) {
        if let Ok(mut map) = self.events.lock() {
            for id in ids {
                map.remove(&id);
            }
        }
    }

    /// Forgets everything up to `id` (already published).
    pub(super) fn forget_through(&self, id: i64) {
        if let Ok(mut map) = self.events.lock() {
            *map = map.split_off(&(id + 1));
        }
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

    #[test]
    fn events_are_taken_once_and_forgotten_once_published() {
        let recent = Recent::default();
        recent.add([event(1), event(2), event(3)]);
        assert_eq!(recent.take(2).map(|e| e.id), Some(2));
        assert!(recent.take(2).is_none());
        recent.forget_through(3);
        assert!(recent.take(1).is_none() && recent.take(3).is_none());
    }

    #[test]
    fn memory_is_bounded() {
        let recent = Recent::default();
        recent.add((0..CAPACITY as i64 + 10).map(event));
        assert!(recent.take(0).is_none(), "the oldest were dropped");
        assert!(recent.take(CAPACITY as i64 + 9).is_some());
    }
}
