//! The live stream's logic: what a subscriber receives, in order, without gaps.
//!
//! A subscriber first gets the backlog after its `Last-Event-ID` from the store, then live
//! items from the feed. If it falls behind the feed (lag), it refills from the store after
//! the last id it saw, so a slow client misses nothing. Knows nothing of SSE; `query::http`
//! encodes the items.
//!
//! Full-text and `field` conditions look at what the summaries on the feed lack (the words,
//! the body), so a live event that passes the other filters is checked against them by the
//! store before it is sent.
//!
//! Alerts are passed through live (filtered by `source` only; the type filter is about
//! events). They carry no event id, so they never move the resume point, and they are not
//! replayed on resume or after a lag: `/api/alerts` lists them.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures_util::Stream;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::select;
use crate::feed::{Feed, FeedItem};
use crate::model::{Event, Signature, Status};
use crate::search::{FieldFilter, TextQuery};
use crate::store::{EventFilter, Store, TypeMatch};

/// Events fetched from the store per refill.
const REFILL_PAGE: u32 = 500;

/// Which events a subscriber wants: the list filters that make sense for what is to come.
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    pub source: Option<String>,
    pub event_type: Option<TypeMatch>,
    pub status: Option<Status>,
    pub signature: Option<Signature>,
    pub is_error: Option<bool>,
    /// Only events received since then (a stream that starts with it replays them first).
    pub since: Option<DateTime<Utc>>,
    pub text: Option<TextQuery>,
    pub fields: Vec<FieldFilter>,
}

impl StreamFilter {
    /// Takes the stream's part of a parsed list filter (the rest does not apply).
    pub fn from_list(filter: EventFilter, fields: Vec<FieldFilter>) -> StreamFilter {
        StreamFilter {
            source: filter.source,
            event_type: filter.event_type,
            status: filter.status,
            signature: filter.signature,
            is_error: filter.is_error,
            since: filter.since,
            text: filter.text,
            fields,
        }
    }

    /// The store's filter for events after `after`, at most `limit`.
    fn list(&self, after: i64, limit: u32) -> EventFilter {
        EventFilter {
            source: self.source.clone(),
            event_type: self.event_type.clone(),
            status: self.status,
            signature: self.signature,
            is_error: self.is_error,
            since: self.since,
            text: self.text.clone(),
            after: Some(after),
            limit,
            ..EventFilter::default()
        }
    }

    /// Whether the filter looks inside events, beyond what a live summary carries.
    fn searches(&self) -> bool {
        self.text.is_some() || !self.fields.is_empty()
    }

    /// Whether a live event passes the filter, leaving out `text` and `fields` (see
    /// `searches`); the same rules as the store's list query.
    pub fn matches(&self, e: &Event) -> bool {
        let source_ok = self.source.as_ref().is_none_or(|s| *s == e.new.source);
        let type_ok = match (&self.event_type, &e.new.event_type) {
            (None, _) => true,
            (Some(TypeMatch::Exact(want)), Some(have)) => want == have,
            (Some(TypeMatch::Prefix(prefix)), Some(have)) => have.starts_with(prefix.as_str()),
            (Some(_), None) => false,
        };
        source_ok
            && type_ok
            && self.status.is_none_or(|s| s == e.new.status)
            && self.signature.is_none_or(|s| s == e.new.signature)
            && self.is_error.is_none_or(|b| b == e.new.is_error)
            && self.since.is_none_or(|t| e.new.received_at >= t)
    }
}

struct State {
    store: Store,
    receiver: Receiver<FeedItem>,
    filter: StreamFilter,
    /// The newest id this subscriber has been given, or the feed's position when it
    /// connected: the cursor a refill continues from.
    last_id: i64,
    backlog: VecDeque<Event>,
    refill: bool,
    /// Where the next refill starts when the last one stopped before its page was full
    /// (`select::page` had read its most candidates).
    refill_from: Option<i64>,
}

/// The items one subscriber receives: with `resume_after` (`Last-Event-ID`) first everything
/// stored after that id, then live items; without it, live items from now on.
///
/// It subscribes before it reads the feed's position, so nothing published in between is
/// lost (see `feed`).
pub fn items(
    store: Store,
    feed: &Feed,
    filter: StreamFilter,
    resume_after: Option<i64>,
) -> impl Stream<Item = FeedItem> + use<> {
    let receiver = feed.subscribe();
    let (last_id, refill) = match resume_after {
        Some(id) => (id, true),
        None => (feed.position(), false),
    };
    let state = State {
        store,
        receiver,
        filter,
        last_id,
        backlog: VecDeque::new(),
        refill,
        refill_from: None,
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
        match s.receiver.recv().await {
            Ok(FeedItem::Event(event)) => {
                if event.id <= s.last_id || !s.filter.matches(&event) {
                    continue;
                }
                if s.filter.searches() && !found(s, event.id).await? {
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

/// Loads the next page after `last_id`; the feed then carries on after the last one, its
/// older items skipped. Ends the stream if the store fails (the client reconnects with
/// `Last-Event-ID` and resumes).
async fn refill(s: &mut State) -> Option<()> {
    let after = s.refill_from.take().unwrap_or(s.last_id);
    let filter = s.filter.list(after, REFILL_PAGE);
    match select::page(&s.store, filter, &s.filter.fields).await {
        Ok(page) => {
            s.refill = page.next.is_some();
            s.refill_from = page.next;
            s.backlog.extend(page.events);
            Some(())
        }
        Err(error) => {
            tracing::warn!(error = %error, "Stream refill failed; closing the stream.");
            None
        }
    }
}

/// Whether the store finds live event `id` with the filter's search and field conditions.
/// Ends the stream if the store fails, like a failed refill.
async fn found(s: &State, id: i64) -> Option<bool> {
    let filter = EventFilter {
        before: Some(id + 1),
        ..s.filter.list(id - 1, 1)
    };
    match select::page(&s.store, filter, &s.filter.fields).await {
        Ok(page) => Some(!page.events.is_empty()),
        Err(error) => {
            tracing::warn!(error = %error, "Stream search failed; closing the stream.");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::model::NewEvent;
    use crate::store::Inserted;
    use crate::store::{DatabaseUrl, StoreSettings};

    async fn store_some(store: &Store, feed: &Feed, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for n in 0..n {
            let Inserted::Stored(event) = store.insert(NewEvent::sample("s", n)).await.unwrap()
            else {
                panic!("stored")
            };
            ids.push(event.id);
            feed.publish(FeedItem::Event(event));
        }
        ids
    }

    fn ids(stream: impl Stream<Item = FeedItem>) -> impl Future<Output = Vec<i64>> {
        stream
            .map(|item| match item {
                FeedItem::Event(e) => e.id,
                FeedItem::Alert(_) => -1,
            })
            .collect::<Vec<i64>>()
    }

    #[tokio::test]
    async fn a_new_subscriber_that_falls_behind_the_feed_refills_from_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(
            &DatabaseUrl::Sqlite(dir.path().join("s.db")),
            &StoreSettings::default(),
        )
        .await
        .unwrap();
        let feed = Feed::with_capacity(4);
        let stream = items(store.clone(), &feed, StreamFilter::default(), None).take(10);
        let stored = store_some(&store, &feed, 10).await;
        // The receiver kept only the last 4 of 10: the rest must come from the store.
        let streamed = tokio::time::timeout(std::time::Duration::from_secs(5), ids(stream))
            .await
            .expect("all ten events, without waiting for more");
        assert_eq!(streamed, stored);
    }

    #[tokio::test]
    async fn a_resume_takes_what_the_store_has_and_skips_it_when_the_feed_brings_it_again() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::open(
            &DatabaseUrl::Sqlite(dir.path().join("s.db")),
            &StoreSettings::default(),
        )
        .await
        .unwrap();
        let feed = Feed::default();
        let published = store_some(&store, &feed, 3).await;
        // Stored (visible to queries) but not yet published: the refill reads them, and the
        // feed's copies, coming later, must not be sent again.
        let mut pending = Vec::new();
        for n in 3..5 {
            let Inserted::Stored(event) = store.insert(NewEvent::sample("s", n)).await.unwrap()
            else {
                panic!("stored")
            };
            pending.push(event);
        }
        let stream = items(store.clone(), &feed, StreamFilter::default(), Some(0)).take(5);
        let collect = tokio::spawn(ids(stream));
        tokio::task::yield_now().await;
        for event in &pending {
            feed.publish(FeedItem::Event(event.clone()));
        }
        let streamed = tokio::time::timeout(std::time::Duration::from_secs(5), collect)
            .await
            .expect("five events")
            .unwrap();
        let mut expected = published;
        expected.extend(pending.iter().map(|e| e.id));
        assert_eq!(streamed, expected, "each once, in order");
    }
}
