//! The in-process feed: every stored event and every alert is published here once, and
//! whoever cares subscribes — the live stream, alerts, enrichment, forwarding.
//!
//! Ingest does not know who listens. A slow subscriber lags and is told so (it then refills
//! from the store); it never slows ingest down. Depends only on `model`.

use std::sync::Arc;

use tokio::sync::broadcast;

use crate::model::{Alert, Event};

/// How many items a subscriber may fall behind before it is told it lagged.
const CAPACITY: usize = 4096;

/// Something that happened, as subscribers receive it.
#[derive(Debug, Clone)]
pub enum FeedItem {
    /// A newly stored event (received or rejected), with its body.
    Event(Arc<Event>),
    /// A stored alert firing or resolution (`event: alert` on the live stream).
    Alert(Arc<Alert>),
}

/// The publishing side; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    sender: broadcast::Sender<FeedItem>,
}

impl Default for Feed {
    fn default() -> Self {
        Feed {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Feed {
    /// Tells every current subscriber; nobody listening is fine.
    pub fn publish(&self, item: FeedItem) {
        let _ = self.sender.send(item);
    }

    /// A receiver of everything published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<FeedItem> {
        self.sender.subscribe()
    }
}
