//! Lists the events a filter and its `field` conditions pick, a page at a time.
//!
//! The store answers everything but the `field` conditions, which look inside bodies and
//! headers, and (on a store that does not check them) the order of a search's phrases; those
//! are checked here on the store's candidates, a chunk at a time, until the page is full. A chunk's bodies are read in runs of at most `MAX_RUN_BYTES` (or one event), so
//! memory stays bounded however large the bodies are. A page stays exact for keyset paging: `next` is where
//! the next page starts, and no matching event is skipped or shown twice. When a condition is
//! rare, reading candidates stops after `MAX_SCANNED` of them; the page is then shorter than
//! asked but `next` still says where to carry on.

use crate::model::Event;
use crate::search::FieldFilter;
use crate::store::{EventFilter, Store, StoreError};

/// Candidates considered per round trip.
const CHUNK: u32 = 256;
/// The most body bytes read at once (a larger body is read alone).
const MAX_RUN_BYTES: i64 = 4 * 1024 * 1024;
/// The most candidates one page reads with their bodies.
pub const MAX_SCANNED: usize = 10_000;

/// Up to `limit` events and the cursor of the next page (`None`: there is none).
#[derive(Debug, Default)]
pub struct Page {
    pub events: Vec<Event>,
    pub next: Option<i64>,
}

/// The page of `filter` (newest first, or oldest first with `after`) whose events also meet
/// every one of `fields` (and hold the filter's phrases, where the store cannot tell). Events
/// come without headers and body.
pub async fn page(
    store: &Store,
    filter: EventFilter,
    fields: &[FieldFilter],
) -> Result<Page, StoreError> {
    let limit = filter.limit as usize;
    let phrases = filter
        .text
        .clone()
        .filter(|q| q.has_phrases() && !store.checks_phrases());
    if fields.is_empty() && phrases.is_none() {
        let mut events = store
            .list(EventFilter {
                limit: filter.limit + 1, // one more than asked tells whether another page exists
                ..filter
            })
            .await?;
        return Ok(cut(&mut events, limit));
    }
    let ascending = filter.after.is_some();
    let mut chunk = EventFilter {
        limit: CHUNK,
        ..filter
    };
    let mut events = Vec::new();
    let mut scanned = 0;
    loop {
        let candidates = store.list(chunk.clone()).await?;
        let Some(last) = candidates.last().map(|e| e.id) else {
            return Ok(cut(&mut events, limit));
        };
        scanned += candidates.len();
        let exhausted = candidates.len() < CHUNK as usize;
        for run in runs(&candidates) {
            for mut event in with_bodies(store, &chunk, run).await? {
                let phrases_ok = phrases.as_ref().is_none_or(|q| {
                    q.phrases_occur(event.new.event_type.as_deref(), &event.new.body)
                });
                if phrases_ok && meets(&event, fields) {
                    event.new.headers = Vec::new();
                    event.new.body = Vec::new();
                    events.push(event);
                    if events.len() > limit {
                        return Ok(cut(&mut events, limit));
                    }
                }
            }
        }
        if exhausted {
            return Ok(cut(&mut events, limit));
        }
        if scanned >= MAX_SCANNED {
            return Ok(Page {
                events,
                next: Some(last),
            });
        }
        if ascending {
            chunk.after = Some(last);
        } else {
            chunk.before = Some(last);
        }
    }
}

/// Consecutive candidates whose bodies add up to at most `MAX_RUN_BYTES` (at least one each).
fn runs(candidates: &[Event]) -> Vec<&[Event]> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, event) in candidates.iter().enumerate() {
        if i > start && bytes + event.size > MAX_RUN_BYTES {
            runs.push(&candidates[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += event.size;
    }
    runs.push(&candidates[start..]);
    runs
}

/// The events of a run again, with headers and bodies, in the run's order: the chunk's filter
/// bounded to the run's ids.
async fn with_bodies(
    store: &Store,
    chunk: &EventFilter,
    run: &[Event],
) -> Result<Vec<Event>, StoreError> {
    let (Some(first), Some(last)) = (run.first(), run.last()) else {
        return Ok(Vec::new());
    };
    let (low, high) = (first.id.min(last.id), first.id.max(last.id));
    let mut events = store
        .list_details(EventFilter {
            after: Some(low - 1),
            before: Some(high + 1),
            limit: run.len() as u32,
            ..chunk.clone()
        })
        .await?;
    if first.id > last.id {
        events.reverse(); // read oldest first (`after`), wanted newest first
    }
    Ok(events)
}

/// Whether an event (with its headers and body) meets every condition.
pub fn meets(event: &Event, fields: &[FieldFilter]) -> bool {
    let body = crate::provider::parse_body(event.new.content_type.as_deref(), &event.new.body);
    fields
        .iter()
        .all(|f| f.matches(body.as_ref(), &event.new.headers))
}

/// The first `limit` events, and the last one's id as the next cursor when more follow.
fn cut(events: &mut Vec<Event>, limit: usize) -> Page {
    let next = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| e.id)
    } else {
        None
    };
    Page {
        events: std::mem::take(events),
        next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(id: i64, size: i64) -> Event {
        Event {
            id,
            size,
            duplicates: 0,
            enrichment: None,
            new: crate::model::NewEvent::sample("s", 0),
        }
    }

    #[test]
    fn runs_hold_at_most_the_byte_budget_and_a_large_body_alone() {
        let mb = 1024 * 1024;
        let events: Vec<Event> = [1, 2, 2, 5, 1, 1]
            .iter()
            .enumerate()
            .map(|(i, n)| sized(i as i64, n * mb))
            .collect();
        let sizes: Vec<Vec<i64>> = runs(&events)
            .iter()
            .map(|run| run.iter().map(|e| e.size / mb).collect())
            .collect();
        assert_eq!(sizes, vec![vec![1, 2], vec![2], vec![5], vec![1, 1]]);
    }
}
