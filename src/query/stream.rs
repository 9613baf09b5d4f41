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
use crate::store::{EventFilter, Store, StoreError, TypeMatch};

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
    /// The newest id this subscriber has been given, or the newest stored when it connected:
    /// the cursor a refill continues from.
    last_id: i64,
    backlog: VecDeque<Event>,
    refill: bool,
}

/// Where a subscriber starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// `Last-Event-ID`: first everything stored after this id, then live.
    After(i64),
    /// A new subscriber: live events after this id (the newest stored when it connected).
    Now(i64),
}

/// The items one subscriber receives. Subscribe to the feed *before* calling this (and before
/// reading the newest id for `Start::Now`), so nothing committed in between is lost.
pub fn items(
    store: Store,
    feed: Receiver<FeedItem>,
    filter: StreamFilter,
    start: Start,
) -> impl Stream<Item = FeedItem> {
    let (last_id, refill) = match start {
        Start::After(id) => (id, true),
        Start::Now(id) => (id, false),
    };
    let state = State {
        store,
        feed,
        filter,
        last_id,
        backlog: VecDeque::new(),
        refill,
    };
    futures_util::stream::unfold(state, |mut s| async move {
        let item = next(&mut s).await?;
        Some((item, s))
    })
}

async fn next(s: &mut State) -> Option<FeedItem> {
    loop {
        if let Some(event) = s.backlog.pop_front() {
            s.last_id = event.id;
            return Some(FeedItem::Event(Arc::new(event)));
        }
        if s.refill {
            refill(s).await?;
            continue;
        }
        match s.feed.recv().await {
            Ok(FeedItem::Event(event)) => {
                if event.id <= s.last_id || !s.filter.matches(&event) {
                    continue;
                }
                s.last_id = event.id;
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
                s.refill = true;
            }
            Err(RecvError::Closed) => return None,
        }
    }
}

/// The newest stored id (0 when empty): where a subscriber without `Last-Event-ID` starts, so
/// that falling behind the feed later can be refilled from the store.
pub async fn newest_id(store: &Store) -> Result<i64, StoreError> {
    let newest = EventFilter {
        limit: 1,
        ..EventFilter::default()
    };
    Ok(store.list(newest).await?.first().map_or(0, |e| e.id))
}

/// Loads the next page after `last_id`; ends the stream if the store fails (the client
/// reconnects with `Last-Event-ID` and resumes).
async fn refill(s: &mut State) -> Option<()> {
    let filter = EventFilter {
        source: s.filter.source.clone(),
        event_type: s.filter.event_type.clone(),
        after: Some(s.last_id),
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

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;
    use tokio::sync::broadcast;

    use super::*;
    use crate::model::NewEvent;
    use crate::store::Inserted;
    use crate::store::sqlite::SqliteStore;

    #[tokio::test]
    async fn a_new_subscriber_that_falls_behind_the_feed_refills_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::Sqlite(SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let (sender, receiver) = broadcast::channel(4);
        let start = Start::Now(newest_id(&store).await.unwrap());
        let mut ids = Vec::new();
        for n in 0..10 {
            let Inserted::Stored(event) = store.insert(NewEvent::sample("s", n)).await.unwrap()
            else {
                panic!("stored")
            };
            ids.push(event.id);
            let _ = sender.send(FeedItem::Event(event));
        }
        // The receiver kept only the last 4 of 10: the rest must come from the store.
        let stream = items(store, receiver, StreamFilter::default(), start)
            .take(10)
            .map(|item| match item {
                FeedItem::Event(e) => e.id,
                FeedItem::Alert(_) => -1,
            })
            .collect::<Vec<i64>>();
        let streamed = tokio::time::timeout(std::time::Duration::from_secs(5), stream)
            .await
            .expect("all ten events, without waiting for more");
        assert_eq!(streamed, ids);
    }
}
