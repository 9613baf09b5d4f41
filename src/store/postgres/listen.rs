//! The listener: every instance's new events onto this instance's feed, in id order.
//!
//! The writer of each instance sends `NOTIFY hookwatch_events, '<max id>'` inside its commit.
//! This task holds one dedicated connection (outside the pool) that `LISTEN`s; on each
//! notification it reads the ids with `id > last_published ORDER BY id` and publishes those
//! events: the ones this instance committed from memory (`recent`), the rest read whole. Coalesced or dropped notifications cost nothing: the next one (or the catch-up after
//! a reconnect) reads from where the last read stopped.
//!
//! Never skipping an event needs ids to become visible in id order. Writers take turns on an
//! advisory lock for id allocation and commit (see `batch`), so when id N is visible every
//! id below it is either visible or will never exist.
//!
//! When the connection drops (PostgreSQL restarted), the task reconnects with backoff and
//! catches up from the last id it published, so the stream resumes without a gap.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::batch::CHANNEL;
use super::read;
use super::recent::Recent;
use super::tls::Connector;
use crate::feed::{Feed, FeedItem};

/// Events per step while catching up; those read from the database carry their bodies, so
/// keep pages modest.
const PAGE: i64 = 256;
/// First and longest wait between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// Why a listening session ended.
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("no connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("the listening connection closed")]
    Lost,
}

/// What the listener task needs.
pub(super) struct Listener {
    pub pool: Pool,
    pub pg_config: tokio_postgres::Config,
    /// The pool's TLS connector: this connection follows the URL's `sslmode` too.
    pub tls: Connector,
    pub feed: Feed,
    /// This instance's just-committed events, published without reading them back.
    pub recent: Arc<Recent>,
}

impl Listener {
    /// Listens until `shutdown`, reconnecting whenever the connection is lost.
    pub(super) async fn run(self, from: i64, shutdown: CancellationToken) {
        let mut last = from;
        let mut backoff = BACKOFF.0;
        loop {
            let session = self.session(&mut last, &shutdown, &mut backoff);
            let error = match session.await {
                Ok(()) => return,
                Err(error) => error,
            };
            tracing::warn!(error = %error, retry_in_ms = backoff.as_millis() as u64,
                "Lost the PostgreSQL event listener; reconnecting.");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF.1);
        }
    }

    /// One connection's life: LISTEN, catch up, then publish on every notification.
    async fn session(
        &self,
        last: &mut i64,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), ListenError> {
        let (client, mut connection) = self.pg_config.connect(self.tls.clone()).await?;
        let (wake, mut woken) = mpsc::unbounded_channel::<()>();
        let driver = AbortOnDrop(tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(_) = message {
                    let _ = wake.send(());
                }
            }
        }));
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        self.catch_up(last).await?;
        *backoff = BACKOFF.0;
        tracing::debug!(last = *last, "Listening for events from every instance.");
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                message = woken.recv() => {
                    if message.is_none() {
                        return Err(ListenError::Lost);
                    }
                    while woken.try_recv().is_ok() {}
                    self.catch_up(last).await?;
                }
            }
        }
        drop(driver);
        Ok(())
    }

    /// Publishes every event after `last`, oldest first: this instance's own from memory,
    /// the others' read from the database, in one query per page.
    async fn catch_up(&self, last: &mut i64) -> Result<(), ListenError> {
        let client = self.pool.get().await?;
        loop {
            let local = self.recent.ids_after(*last);
            let rows = read::after(&client, *last, PAGE, &local).await?;
            let full = rows.len() as i64 == PAGE;
            let mut events = Vec::with_capacity(rows.len());
            let mut lost = Vec::new();
            for row in rows {
                match local.binary_search(&row.id).is_ok() {
                    false => events.push(Some(Arc::new(row))),
                    true => match self.recent.take(row.id) {
                        Some(event) => events.push(Some(event)),
                        None => {
                            lost.push(row.id);
                            events.push(None);
                        }
                    },
                }
            }
            if !lost.is_empty() {
                // Dropped from memory meanwhile (capacity): read those whole after all.
                let mut read = read::by_ids(&client, &lost)
                    .await?
                    .into_iter()
                    .map(Arc::new);
                for slot in events.iter_mut().filter(|e| e.is_none()) {
                    *slot = read.next();
                }
            }
            for event in events.into_iter().flatten() {
                *last = event.id;
                self.feed.publish(FeedItem::Event(event));
            }
            self.recent.forget_through(*last);
            if !full {
                return Ok(());
            }
        }
    }
}

/// Stops the connection-driving task when its session ends, whichever way it ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
