//! The listener: every instance's new events onto this instance's feed, in id order.
//!
//! This task holds one dedicated connection (outside the pool) that `LISTEN`s for the
//! `NOTIFY hookwatch_events` every instance's writer sends after its commits (at most one per
//! 10 ms), and on which it probes and reads. Woken by its own writer's batches (in-process),
//! by a notification or by a timer (at most one catch-up per `MIN_GAP`), it finds which ids
//! are settled (`settle`), from the writer's newest batch or else from a probe of its own
//! (fenced once the bound has been stuck for a while, so that a long transaction elsewhere on
//! the server does not hold the feed back), and publishes every id after the last one it
//! published up to that bound: the ones this instance stored whole, from its writer's
//! `ledger`, without a query; all others (other instances' events, as summaries) read from
//! the database, in one query over the span of the ids the ledger does not know (skipping
//! its own). While ids remain unsettled it probes again shortly, notification or not, and at
//! least once a second anyway. Coalesced or lost notifications cost nothing: the next probe
//! (or the catch-up after a reconnect) reads from where the last read stopped.
//!
//! When the connection drops (PostgreSQL restarted), the task reconnects with backoff and
//! catches up from the last id it published, so the stream resumes without a gap.

use std::sync::Arc;
use std::time::{Duration, Instant};

use deadpool_postgres::ClientWrapper;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::batch::CHANNEL;
use super::ledger::Ledger;
use super::read;
use super::settle::{self, Settler};
use super::tls::Connector;
use crate::feed::{Feed, FeedItem};

/// Events per query while catching up, and the most own ids one query skips.
const PAGE: i64 = 256;
/// First and longest wait before probing again while ids are unsettled.
const RETRY_PROBE: (Duration, Duration) = (Duration::from_millis(2), Duration::from_millis(100));
/// The shortest time between two catch-ups: bounds the listener's work (probes, queries)
/// under load, and adds nothing when notifications are rare. Measured with two instances
/// under load: 680 catch-ups a second per instance without it, and 9–14% less PostgreSQL CPU
/// per event with it.
const MIN_GAP: Duration = Duration::from_millis(5);
/// How often the listener probes without a notification: a notification lost with its
/// instance (killed between COMMIT and NOTIFY) delays events by at most this.
const IDLE_PROBE: Duration = Duration::from_secs(1);
/// How long the listener waits for its own writer's batch to answer before it reads that
/// batch's ids from the database instead (a batch normally takes a few milliseconds).
const WRITER_PATIENCE: Duration = Duration::from_secs(1);
/// How long ids may stay unsettled before the wait is logged as a warning.
const STALL_WARNING: Duration = Duration::from_secs(10);
/// First and longest wait between reconnection attempts.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(100), Duration::from_secs(2));

/// Why a listening session ended.
#[derive(Debug, thiserror::Error)]
enum ListenError {
    #[error("{0}")]
    Db(#[from] tokio_postgres::Error),
    #[error("no connection: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("{0}")]
    Probe(#[from] settle::ProbeError),
    #[error("the listening connection closed")]
    Lost,
}

/// What the listener task needs.
pub(super) struct Listener {
    pub pg_config: tokio_postgres::Config,
    /// The pool's TLS connector: this connection follows the URL's `sslmode` too.
    pub tls: Connector,
    pub feed: Feed,
    /// The ids this instance's writer drew and what became of them: its events are
    /// published without reading them back.
    pub ledger: Arc<Ledger>,
}

impl Listener {
    /// Listens until `shutdown`, reconnecting whenever the connection is lost.
    pub(super) async fn run(self, from: i64, shutdown: CancellationToken) {
        let mut last = from;
        self.feed.advance(from);
        let mut backoff = BACKOFF.0;
        loop {
            let session = self.session(&mut last, &shutdown, &mut backoff);
            let error = match session.await {
                Ok(()) => return,
                Err(error) => error,
            };
            tracing::warn!(error = %super::causes(&error), retry_in_ms = backoff.as_millis() as u64,
                "Lost the PostgreSQL event listener; reconnecting.");
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(backoff) => {}
            }
            backoff = (backoff * 2).min(BACKOFF.1);
        }
    }

    /// One connection's life: LISTEN, catch up, then catch up again on notifications.
    async fn session(
        &self,
        last: &mut i64,
        shutdown: &CancellationToken,
        backoff: &mut Duration,
    ) -> Result<(), ListenError> {
        let (client, mut connection) = self.pg_config.connect(self.tls.clone()).await?;
        let (wake, mut woken) = mpsc::unbounded_channel::<()>();
        let driver = tokio::spawn(async move {
            let mut messages = futures_util::stream::poll_fn(|cx| connection.poll_message(cx));
            while let Some(Ok(message)) = messages.next().await {
                if let AsyncMessage::Notification(_) = message {
                    let _ = wake.send(());
                }
            }
        });
        // Probes and reads use this connection too: one backend, its caches warm, serves
        // the listener. The wrapper caches prepared statements and, when the session ends
        // whichever way, stops the task driving the connection.
        let client = ClientWrapper::new(client, driver);
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        let mut settler = Settler::from(*last);
        let mut batches = self.ledger.watch();
        self.catch_up(&client, last, &mut settler, false).await?;
        *backoff = BACKOFF.0;
        tracing::debug!(last = *last, "Listening for events from every instance.");
        let mut retry = RETRY_PROBE.0;
        let mut stuck = Stuck::default();
        let mut caught_up = tokio::time::Instant::now();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                message = woken.recv() => {
                    if message.is_none() {
                        return Err(ListenError::Lost);
                    }
                }
                // The writer lives as long as the store, so this never ends.
                Ok(()) = batches.changed() => {}
                () = tokio::time::sleep(retry), if settler.is_waiting() => {
                    retry = (retry * 2).min(RETRY_PROBE.1);
                }
                () = tokio::time::sleep(IDLE_PROBE), if !settler.is_waiting() => {}
            }
            // Under load the writer finishes a batch every few milliseconds and other
            // instances notify: one catch-up per `MIN_GAP` serves them all, with fuller pages.
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep_until(caught_up + MIN_GAP) => {}
            }
            while woken.try_recv().is_ok() {}
            let before = *last;
            let fenced = stuck.fence_due(Instant::now());
            self.catch_up(&client, last, &mut settler, fenced).await?;
            caught_up = tokio::time::Instant::now();
            if !settler.is_waiting() {
                retry = RETRY_PROBE.0;
            }
            let (waiting, moved) = (settler.is_waiting(), *last > before);
            stuck.after_catch_up(Instant::now(), waiting, moved, fenced, *last);
        }
        Ok(())
    }

    /// Publishes every event after `last` up to the settled bound, probed first, oldest
    /// first: this instance's own events whole, from the ledger (once the batch its writer
    /// had begun before the probe has finished); the others' read from the database as
    /// summaries (without headers and body, which nothing on the feed needs for them: see
    /// `feed`).
    async fn catch_up(
        &self,
        client: &ClientWrapper,
        last: &mut i64,
        settler: &mut Settler,
        fenced: bool,
    ) -> Result<(), ListenError> {
        let settled = self.settle(client, settler, *last, fenced).await?;
        if settled <= *last {
            return Ok(());
        }
        let taken = self.ledger.take(*last, settled);
        let spans = taken.spans(PAGE as usize);
        let mut own = taken.events.into_iter().peekable();
        for span in spans {
            let mut after = span.after;
            loop {
                let range = (after, span.through);
                let page = read::summaries_between(client, range, &span.known, PAGE).await?;
                let full = page.len() as i64 == PAGE;
                for event in page {
                    while let Some(mine) = own.next_if(|e| e.id < event.id) {
                        self.feed.publish(FeedItem::Event(mine));
                    }
                    after = event.id;
                    self.feed.publish(FeedItem::Event(Arc::new(event)));
                }
                if !full {
                    break;
                }
            }
        }
        for event in own {
            self.feed.publish(FeedItem::Event(event));
        }
        // Ids up to `settled` that were neither published nor found will never exist.
        *last = settled;
        self.feed.advance(*last);
        Ok(())
    }

    /// The settled bound after observing the newest batch of this instance's writer, or when
    /// there is none (or the bound is stuck: `fenced`), a probe of the database; in that
    /// case, once the batch the writer had begun before the probe has finished, so that its
    /// ids are in the ledger.
    async fn settle(
        &self,
        client: &ClientWrapper,
        settler: &mut Settler,
        last: i64,
        fenced: bool,
    ) -> Result<i64, ListenError> {
        if let Some(probe) = self.ledger.take_probe().filter(|_| !fenced) {
            return Ok(settler.observe(probe));
        }
        let begun = self.ledger.begun();
        let probe = match fenced {
            true => settle::fenced_probe(client).await?,
            false => settle::probe(client).await?,
        };
        let settled = settler.observe(probe);
        if settled > last
            && tokio::time::timeout(WRITER_PATIENCE, self.ledger.ended(begun))
                .await
                .is_err()
        {
            tracing::warn!(
                "This instance's writer is slow to finish its batch; reading its events back instead."
            );
        }
        Ok(settled)
    }
}

/// How long the settled bound has not moved while ids wait, and whether fenced probes move
/// it when plain ones do not: decides when to ask a fenced probe (`settle`) and when to say
/// so in the log. Takes the time from its caller, so tests set the clock.
#[derive(Debug, Default)]
struct Stuck {
    /// Since when, if it is stuck now.
    since: Option<Instant>,
    /// The last fenced probe.
    fenced: Option<Instant>,
    /// Whether a fenced probe has moved the bound and no plain probe has since: something
    /// holds `xmin` back, so every catch-up fences (at most one per `FENCE_GAP`) without
    /// waiting to be stuck again.
    fencing: bool,
    /// The last warning.
    warned: Option<Instant>,
}

impl Stuck {
    /// Whether the next catch-up should use a fenced probe: stuck for `FENCE_AFTER` or
    /// fencing, and no fenced probe in the last `FENCE_GAP`.
    fn fence_due(&self, now: Instant) -> bool {
        let stuck_long = self.since.is_some_and(|at| now - at >= settle::FENCE_AFTER);
        (stuck_long || self.fencing) && self.fenced.is_none_or(|at| now - at >= settle::FENCE_GAP)
    }

    /// Notes how a catch-up went: whether ids still wait, whether the bound moved and whether
    /// the probe was fenced. Warns when the bound has been stuck for `STALL_WARNING` (then at
    /// most once per `STALL_WARNING`).
    fn after_catch_up(
        &mut self,
        now: Instant,
        waiting: bool,
        moved: bool,
        fenced: bool,
        through: i64,
    ) {
        match (fenced, moved) {
            (true, _) => {
                self.fenced = Some(now);
                self.fencing |= moved;
            }
            (false, true) => self.fencing = false,
            (false, false) => {}
        }
        if !waiting || moved {
            self.since = None;
            return;
        }
        let since = *self.since.get_or_insert(now);
        let quiet = self.warned.is_none_or(|at| now - at >= STALL_WARNING);
        if now - since >= STALL_WARNING && quiet {
            tracing::warn!(
                published_through = through,
                "New events wait to be published: a transaction on this PostgreSQL server \
                 that writes to the events table has run for a long time, and an \
                 earlier event may still commit in it. Ingest is not affected."
            );
            self.warned = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn plain_probes_serve_while_the_bound_moves() {
        let (mut stuck, t) = (Stuck::default(), Instant::now());
        for n in 0..100 {
            // Under load ids always wait, but each catch-up publishes some.
            stuck.after_catch_up(t + n * 5 * MS, true, true, false, n.into());
            assert!(!stuck.fence_due(t + n * 5 * MS + 5 * MS));
        }
    }

    #[test]
    fn a_bound_stuck_for_a_while_is_fenced_then_every_gap_while_that_helps() {
        let (mut stuck, t) = (Stuck::default(), Instant::now());
        stuck.after_catch_up(t, true, false, false, 0);
        assert!(!stuck.fence_due(t + settle::FENCE_AFTER - MS));
        let first = t + settle::FENCE_AFTER;
        assert!(stuck.fence_due(first));
        stuck.after_catch_up(first, true, true, true, 10);
        // Plain probes still cannot move it: fence again after the gap, not after being
        // stuck for `FENCE_AFTER` again.
        stuck.after_catch_up(first + MS, true, false, false, 10);
        assert!(!stuck.fence_due(first + settle::FENCE_GAP - MS));
        assert!(stuck.fence_due(first + settle::FENCE_GAP));
        // A fenced probe with nothing new to settle keeps fencing on.
        let second = first + settle::FENCE_GAP;
        stuck.after_catch_up(second, false, false, true, 10);
        assert!(stuck.fence_due(second + settle::FENCE_GAP));
        // Once a plain probe moves the bound again, xmin is free: back to plain probes.
        stuck.after_catch_up(second + MS, true, true, false, 20);
        assert!(!stuck.fence_due(second + 10 * settle::FENCE_GAP));
    }
}
