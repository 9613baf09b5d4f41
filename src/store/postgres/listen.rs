//! The cluster feed: every instance's new events onto this instance's feed, in id order.
//!
//! It is a plain tail, because ids become visible in id order. Every batch takes the
//! transaction-level advisory lock `batch::IDS_LOCK` before it draws ids from the sequence
//! and holds it to its COMMIT. PostgreSQL makes a commit visible before it releases the
//! transaction's locks, so the next batch, which must first take the lock, draws its ids only
//! once every earlier batch is visible or rolled back. Hence whoever sees id `n` sees every
//! lower id that will ever exist: the visible ids are always a complete prefix, with only
//! permanent gaps (ids of rolled-back batches, and those redeliveries used up). So the
//! listener keeps `last`, the highest id it published, reads `WHERE id > last ORDER BY id`
//! a page at a time, and publishes what it finds; nothing it skips can appear later.
//!
//! When it reads: one connection of its own (outside the pool) `LISTEN`s on
//! `batch::CHANNEL`. Every batch, this instance's included, notifies with its highest id as
//! part of its own transaction, so the notification arrives exactly when the batch commits;
//! a notification above `last` starts a read, at most one per `MIN_GAP` so that under load
//! one read serves many batches. A timer reads every `IDLE_READ` anyway, in case a
//! notification is missed (one sent while this connection was being re-made). Nothing waits
//! for anything else on the server: a long transaction elsewhere holds no id, so it delays no
//! read.
//!
//! Events are published as summaries (no headers or body): the stream and alerts need no
//! more, and enrichment reads the body it needs from the store. When the connection drops
//! (PostgreSQL restarted), the task reconnects with backoff and reads on from `last`, so the
//! stream continues without a gap or a repeat.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::ClientWrapper;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::batch::CHANNEL;
use super::tls::Connector;
use super::{PgError, read};
use crate::feed::{Feed, FeedItem};
use crate::store::Causes;

/// Events per read; a catch-up after a long outage is a few more reads, not one huge answer.
const PAGE: i64 = 512;
/// The shortest time between two reads: under load every batch of every instance notifies,
/// and one read after a short pause takes all of them in one page.
const MIN_GAP: Duration = Duration::from_millis(25);
/// How often the listener reads without a notification.
const IDLE_READ: Duration = Duration::from_secs(1);
/// First and longest wait between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// What the listener task needs.
pub(super) struct Listener {
    pub pg_config: tokio_postgres::Config,
    /// The pool's TLS connector: this connection follows the URL's `sslmode` too.
    pub tls: Connector,
    pub feed: Feed,
}

impl Listener {
    /// Publishes every event after `from` until `shutdown`, reconnecting whenever the
    /// connection is lost.
    pub(super) async fn run(self, from: i64, shutdown: CancellationToken) {
        let mut last = from;
        self.feed.advance(from);
        let mut backoff = BACKOFF.0;
        loop {
            let error = match self.session(&mut last, &shutdown, &mut backoff).await {
                Ok(()) => return,
                Err(error) => error,
            };
            tracing::warn!(error = %Causes(&error), retry_in_ms = backoff.as_millis() as u64,
                "Lost the PostgreSQL event listener; reconnecting.");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF.1);
        }
    }

    /// One connection's life: LISTEN, read what is new, then read again when woken.
    async fn session(
        &self,
        last: &mut i64,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), PgError> {
        let (client, mut connection) = self.pg_config.connect(self.tls.clone()).await?;
        let (wake, mut woken) = mpsc::unbounded_channel::<i64>();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(n) = message {
                    // A payload that is not an id (sent by hand) still means "look".
                    let _ = wake.send(n.payload().parse().unwrap_or(i64::MAX));
                }
            }
        });
        // The wrapper caches prepared statements and, when the session ends whichever way,
        // stops the task driving the connection.
        let client = ClientWrapper::new(client, driver);
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        // Listening first: whatever commits from now on is announced, or found by this read.
        self.catch_up(&client, last).await?;
        *backoff = BACKOFF.0;
        tracing::debug!(last = *last, "Listening for events from every instance.");
        let mut read_at = Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                newest = woken.recv() => match newest {
                    None => return Err(PgError::ListenerLost),
                    Some(newest) if newest <= *last => continue,
                    Some(_) => {}
                },
                () = tokio::time::sleep_until(read_at + IDLE_READ) => {}
            }
            tokio::select! {
                () = shutdown.cancelled() => return Ok(()),
                () = tokio::time::sleep_until(read_at + MIN_GAP) => {}
            }
            while woken.try_recv().is_ok() {}
            self.catch_up(&client, last).await?;
            read_at = Instant::now();
        }
    }

    /// Publishes every visible event after `last`, oldest first, and moves `last` to the
    /// newest published.
    async fn catch_up(&self, client: &ClientWrapper, last: &mut i64) -> Result<(), PgError> {
        loop {
            let page = read::summaries_after(client, *last, PAGE).await?;
            let full = page.len() as i64 == PAGE;
            for event in page {
                *last = event.id;
                self.feed.publish(FeedItem::Event(Arc::new(event)));
            }
            if !full {
                return Ok(());
            }
        }
    }
}
