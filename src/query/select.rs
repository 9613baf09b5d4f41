//! Lists the events a filter and its `field` conditions pick, a page at a time.
//!
//! The store answers everything but what only the text of events can tell, which is checked
//! here on the store's candidates, a chunk at a time, until the page is full: the `field`
//! conditions, which look inside bodies and headers; a search's phrases, on a store whose
//! index keeps no word positions; and the whole search for the newest events, which the
//! full-text index, written behind ingest, may not hold yet (`store::index`). So a page of a
//! search reads two ranges of ids: the tail after the index's cursor, checked here, and the
//! rest through the index, in the page's order.
//!
//! A chunk's bodies are read in runs of at most `MAX_RUN_BYTES` (or one event), so
//! memory stays bounded however large the bodies are. A page stays exact for keyset paging: `next` is where
//! the next page starts, and no matching event is skipped or shown twice. When a condition is
//! rare, reading candidates stops after `MAX_SCANNED` of them; the page is then shorter than
//! asked but `next` still says where to carry on.

use crate::model::Event;
use crate::search::{FieldFilter, TextQuery};
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

/// Ids a page reads in one go, with what is checked here on each of them.
struct Range {
    filter: EventFilter,
    /// Newest first: the range ends above this id (it has no `after`, which would turn it
    /// oldest first).
    floor: Option<i64>,
    /// Words checked here, beyond what `filter` asks the store.
    text: Option<TextQuery>,
}

impl Range {
    fn is_empty(&self) -> bool {
        let f = &self.filter;
        let low = f.after.max(self.floor);
        matches!((low, f.before), (Some(low), Some(high)) if high <= low + 1)
    }
}

/// The page of `filter` (newest first, or oldest first with `after`) whose events also meet
/// every one of `fields`. Events come without headers and body.
pub async fn page(
    store: &Store,
    filter: EventFilter,
    fields: &[FieldFilter],
) -> Result<Page, StoreError> {
    let limit = filter.limit as usize;
    let mut events = Vec::new();
    for range in ranges(store, filter).await? {
        let want = limit + 1 - events.len(); // one more than asked tells whether another page exists
        let (mut found, stopped) = collect(store, range, fields, want).await?;
        events.append(&mut found);
        if stopped.is_some() {
            return Ok(Page {
                events,
                next: stopped,
            });
        }
        if events.len() > limit {
            break;
        }
    }
    Ok(cut(&mut events, limit))
}

/// The ranges a page reads, in its order.
async fn ranges(store: &Store, filter: EventFilter) -> Result<Vec<Range>, StoreError> {
    let Some(text) = filter.text.clone() else {
        return Ok(vec![Range {
            filter,
            floor: None,
            text: None,
        }]);
    };
    let indexed = store.indexed_through().await?;
    let through_index = Range {
        text: text.phrases().filter(|_| !store.checks_phrases()),
        filter: EventFilter {
            before: Some(filter.before.map_or(indexed + 1, |b| b.min(indexed + 1))),
            ..filter.clone()
        },
        floor: None,
    };
    let ascending = filter.after.is_some();
    let tail = Range {
        filter: EventFilter {
            text: None,
            after: filter.after.map(|a| a.max(indexed)),
            ..filter
        },
        floor: (!ascending).then_some(indexed),
        text: Some(text),
    };
    let ranges = match ascending {
        true => [through_index, tail],
        false => [tail, through_index],
    };
    Ok(ranges.into_iter().filter(|r| !r.is_empty()).collect())
}

/// Up to `want` events of the range that meet `fields` and its words, and where reading
/// stopped when it read `MAX_SCANNED` candidates first (`None`: the range is exhausted, or
/// `want` were found).
async fn collect(
    store: &Store,
    range: Range,
    fields: &[FieldFilter],
    want: usize,
) -> Result<(Vec<Event>, Option<i64>), StoreError> {
    let Range {
        filter,
        floor,
        text,
    } = range;
    if fields.is_empty() && text.is_none() {
        let events = store
            .list(EventFilter {
                limit: want as u32,
                ..filter
            })
            .await?;
        return Ok((events, None));
    }
    let ascending = filter.after.is_some();
    let mut chunk = EventFilter {
        limit: CHUNK,
        ..filter
    };
    let mut events = Vec::new();
    let mut scanned = 0;
    loop {
        let mut candidates = store.list(chunk.clone()).await?;
        let read = candidates.len();
        if let Some(floor) = floor {
            candidates.retain(|e| e.id > floor);
        }
        let Some(last) = candidates.last().map(|e| e.id) else {
            return Ok((events, None));
        };
        scanned += candidates.len();
        let exhausted = candidates.len() < read || read < CHUNK as usize;
        for run in runs(&candidates) {
            for mut event in with_bodies(store, &chunk, run).await? {
                let words_ok = text
                    .as_ref()
                    .is_none_or(|q| q.occurs(event.new.event_type.as_deref(), &event.new.body));
                if words_ok && meets(&event, fields) {
                    event.new.headers = Vec::new();
                    event.new.body = Vec::new();
                    events.push(event);
                    if events.len() >= want {
                        return Ok((events, None));
                    }
                }
            }
        }
        if exhausted {
            return Ok((events, None));
        }
        if scanned >= MAX_SCANNED {
            return Ok((events, Some(last)));
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
