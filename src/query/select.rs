//! Lists the events a filter and its `field` conditions pick, a page at a time.
//!
//! The store answers everything but the `field` conditions, which look inside bodies and
//! headers; those are checked here on the store's candidates, read a chunk at a time with
//! their bodies, until the page is full. A page stays exact for keyset paging: `next` is where
//! the next page starts, and no matching event is skipped or shown twice. When a condition is
//! rare, reading candidates stops after `MAX_SCANNED` of them; the page is then shorter than
//! asked but `next` still says where to carry on.

use crate::model::Event;
use crate::search::FieldFilter;
use crate::store::{EventFilter, Store, StoreError};

/// Candidates read with their bodies per round trip.
const CHUNK: u32 = 256;
/// The most candidates one page reads with their bodies.
pub const MAX_SCANNED: usize = 10_000;

/// Up to `limit` events and the cursor of the next page (`None`: there is none).
#[derive(Debug, Default)]
pub struct Page {
    pub events: Vec<Event>,
    pub next: Option<i64>,
}

/// The page of `filter` (newest first, or oldest first with `after`) whose events also meet
/// every one of `fields`. Events come without headers and body.
pub async fn page(
    store: &Store,
    filter: EventFilter,
    fields: &[FieldFilter],
) -> Result<Page, StoreError> {
    let limit = filter.limit as usize;
    if fields.is_empty() {
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
        let candidates = store.list_details(chunk.clone()).await?;
        let Some(last) = candidates.last().map(|e| e.id) else {
            return Ok(cut(&mut events, limit));
        };
        scanned += candidates.len();
        let exhausted = candidates.len() < CHUNK as usize;
        for mut event in candidates {
            if meets(&event, fields) {
                event.new.headers = Vec::new();
                event.new.body = Vec::new();
                events.push(event);
                if events.len() > limit {
                    return Ok(cut(&mut events, limit));
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
