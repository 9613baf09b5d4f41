//! The in-process feed: every stored event and every alert is published here once, and
//! whoever cares subscribes — the live stream, alerts, enrichment, forwarding.
//!
//! Ingest does not know who listens. A slow subscriber lags and is told so (it then refills
//! from the store); it never slows ingest down. Depends only on `model`.
//!
//! The feed also keeps its *position*: the id of the newest event published (or stored
//! before the feed started). Both stores publish an event only once it is visible to
//! queries, and in id order, and every lower id is then visible too or never will be; so a
//! subscriber that subscribes, then reads the position, takes from the feed exactly the
//! events after it, and one that reads the store takes the rest from the feed, skipping the
//! ids it already has.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::broadcast;

use crate::model::{Alert, Event};

/// How many items a subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 4096;

/// Something that happened, as subscribers receive it.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// A newly stored event (received or rejected). Whole when this instance stored it; on
    /// PostgreSQL other instances' events come as summaries (`Event::lacks_body`), as the
    /// stream and alerts need no more, and reading every body back would cost each instance
    /// the whole cluster's traffic. Whoever needs a body reads it from the store.
    Event(Arc<Event>),
    /// A stored alert firing or resolution (`event: alert` on the live stream).
    Alert(Arc<Alert>),
}

/// The publishing side; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    sender: broadcast::Sender<FeedItem>,
    position: Arc<AtomicI64>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed::with_capacity(CAPACITY)
    }
}

impl Feed {
    /// A feed whose subscribers lag after `capacity` unread items (tests make it small).
    pub fn with_capacity(capacity: usize) -> Feed {
        Feed {
            sender: broadcast::channel(capacity).0,
            position: Arc::new(AtomicI64::new(0)),
        }
    }

    /// Tells every current subscriber; nobody listening is fine. Events must come in id
    /// order. The position moves *before* the send: a subscriber that subscribed earlier gets
    /// the event from the feed, and one that reads the position later finds it in the store.
    pub fn publish(&self, item: FeedItem) {
        if let FeedItem::Event(event) = &item {
            self.advance(event.id);
        }
        let _ = self.sender.send(item);
    }

    /// Every event up to `id` has been published or was stored before the feed started.
    /// Never moves backwards.
    pub fn advance(&self, id: i64) {
        self.position.fetch_max(id, Ordering::SeqCst);
    }

    /// The newest event published: a new subscriber's live items start after it.
    pub fn position(&self) -> i64 {
        self.position.load(Ordering::SeqCst)
    }

    /// A receiver of everything published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.sender.subscribe()
    }
}
