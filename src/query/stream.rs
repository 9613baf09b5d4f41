//! The live stream's logic: what a subscriber receives, in order, without gaps.
//!
//! A subscriber first gets the backlog after its `Last-Event-ID` from the store, then live
//! items from the feed. If it falls behind the feed (lag), it refills from the store after
//! the last id it saw, so a slow client misses nothing. Knows nothing of SSE; `query::http`
//! encodes the items.
//!
//! Alerts are passed through live (filtered by `source` only; the type filter is about
//! events). They carry no event id, so they never move the resume point, and they are not
//! replayed on resume or after a lag: `/api/alerts` lists them.

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use crate::feed::FeedItem;
use crate::model::Event;
use crate::store::{EventFilter, Store, TypeMatch};

/// Events fetched from the store per refill.
const REFILL_PAGE: u32 = 500;

/// Which events a subscriber wants.
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    pub source: Option<String>,
    pub event_type: Option<TypeMatch>,
}

impl StreamFilter {
    /// Whether a live event passes the filter; the same rules as the store's list query.
    pub fn matches(&self, e: &Event) -> bool {
        let source_ok = self.source.as_ref().is_none_or(|s| *s == e.new.source);
        let type_ok = match (&self.event_type, &e.new.event_type) {
            (None, _) => true,
            (Some(TypeMatch::Exact(want)), Some(have)) => want == have,
            (Some(TypeMatch::Prefix(prefix)), Some(have)) => have.starts_with(prefix.as_str()),
            (Some(_), None) => false,
        };
        source_ok && type_ok
    }
}

struct State {
    store: Store,
    feed: Receiver<FeedItem>,
    filter: StreamFilter,
    last_id: Option<i64>,
    backlog: VecDeque<Event>,
    refill: bool,
}

/// The items one subscriber receives. Subscribe to the feed *before* calling this, so nothing
/// published between the backlog query and the first live item is lost.
pub fn items(
    store: Store,
    feed: Receiver<FeedItem>,
    filter: StreamFilter,
    last_id: Option<i64>,
) -> impl Stream<Item = FeedItem> {
    let state = State {
        store,
        feed,
        filter,
        last_id,
        backlog: VecDeque::new(),
        refill: last_id.is_some(),
    };
    futures_util::stream::unfold(state, |mut s| async move {
        let item = next(&mut s).await?;
        Some((item, s))
    })
}

async fn next(s: &mut State) -> Option<FeedItem> {
    loop {
        if let Some(event) = s.backlog.pop_front() {
            s.last_id = Some(event.id);
            return Some(FeedItem::Event(Arc::new(event)));
        }
        if s.refill {
            refill(s).await?;
            continue;
        }
        match s.feed.recv().await {
            Ok(FeedItem::Event(event)) => {
                if s.last_id.is_some_and(|last| event.id <= last) || !s.filter.matches(&event) {
                    continue;
                }
                s.last_id = Some(event.id);
                return Some(FeedItem::Event(event));
            }
            Ok(FeedItem::Alert(alert)) => {
                if s.filter
                    .source
                    .as_ref()
                    .is_none_or(|src| *src == alert.new.source)
                {
                    return Some(FeedItem::Alert(alert));
                }
            }
            Err(RecvError::Lagged(missed)) => {
                tracing::debug!(
                    missed,
                    "Stream subscriber lagged; refilling from the store."
                );
                s.refill = s.last_id.is_some();
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Loads the next page after `last_id`; ends the stream if the store fails (the client
/// reconnects with `Last-Event-ID` and resumes).
async fn refill(s: &mut State) -> Option<()> {
    let filter = EventFilter {
        source: s.filter.source.clone(),
        event_type: s.filter.event_type.clone(),
        after: Some(s.last_id.unwrap_or(0)),
        limit: REFILL_PAGE,
        ..EventFilter::default()
    };
    match s.store.list(filter).await {
        Ok(events) => {
            s.refill = events.len() as u32 == REFILL_PAGE;
            s.backlog.extend(events);
            Some(())
        }
        Err(error) => {
            tracing::warn!(error = %error, "Stream refill failed; closing the stream.");
            None
        }
    }
}
