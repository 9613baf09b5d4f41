//! The full-text indexer: adds stored events' words to the index behind ingest
//! (`store::index`), at full speed while traffic is light and giving way to it while heavy.
//!
//! Indexing an event costs more than storing it, so an index written on the way to the
//! `200` would halve the rate of ingest. Here a burst is stored at full speed and indexed
//! after: while events arrive at `BUSY_RATE` or faster, the indexer spends at most one part
//! in `BUSY_SHARE` of its time indexing and waits the rest. Searches meanwhile check the
//! events it has not reached themselves (`query::select`), so what it lags behind changes how
//! fast a search is, never what it finds. When it has caught up it looks again when the feed
//! shows a new event, or every `IDLE_STEP` (events imported by another process).

use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::feed::Feed;
use crate::store::{IndexStep, Store};

/// Events stored per second from which the indexer gives way to ingest.
pub const BUSY_RATE: f64 = 1_000.0;
/// While ingest is busy, the indexer works one part in this many of its time.
pub const BUSY_SHARE: u32 = 20;
/// How often a caught-up indexer checks the feed for new events.
const FEED_CHECK: Duration = Duration::from_millis(200);
/// The longest a caught-up indexer goes without a step.
const IDLE_STEP: Duration = Duration::from_secs(30);
/// The wait after a failed step.
const RETRY_WAIT: Duration = Duration::from_secs(5);

/// When the next step is due, from what the last ones found. Pure: time is passed in.
#[derive(Debug, Default)]
pub struct Pace {
    /// The newest event id the last step saw, and when.
    seen: Option<(i64, Instant)>,
}

/// What to do after a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Step again after this wait.
    StepIn(Duration),
    /// Caught up: step when an event newer than `cursor` is stored.
    CaughtUp { cursor: i64 },
}

impl Pace {
    /// After a step that began at `began` and ended at `now`.
    pub fn after(&mut self, step: &IndexStep, began: Instant, now: Instant) -> Next {
        let arrived = match self.seen {
            Some((newest, at)) if now > at => {
                (step.newest - newest).max(0) as f64 / (now - at).as_secs_f64()
            }
            _ => 0.0,
        };
        self.seen = Some((step.newest, now));
        if !step.behind() {
            return Next::CaughtUp {
                cursor: step.cursor,
            };
        }
        if arrived >= BUSY_RATE {
            Next::StepIn((now - began) * (BUSY_SHARE - 1))
        } else {
            Next::StepIn(Duration::ZERO)
        }
    }
}

/// Indexes until `shutdown`.
pub fn spawn(store: Store, feed: Feed, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut pace = Pace::default();
        loop {
            let began = Instant::now();
            let next = match store.index_step().await {
                Ok(step) => pace.after(&step, began, Instant::now()),
                Err(error) => {
                    tracing::warn!(error = %error, "Cannot index events for search yet; searches read them unindexed.");
                    Next::StepIn(RETRY_WAIT)
                }
            };
            let wait = async {
                match next {
                    Next::StepIn(wait) => tokio::time::sleep(wait).await,
                    Next::CaughtUp { cursor } => {
                        let until = Instant::now() + IDLE_STEP;
                        while feed.position() <= cursor && Instant::now() < until {
                            tokio::time::sleep(FEED_CHECK).await;
                        }
                    }
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = wait => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(cursor: i64, newest: i64) -> IndexStep {
        IndexStep {
            indexed: 0,
            cursor,
            newest,
        }
    }

    #[test]
    fn a_caught_up_index_waits_for_new_events() {
        let t = Instant::now();
        let mut pace = Pace::default();
        assert_eq!(
            pace.after(&step(10, 10), t, t),
            Next::CaughtUp { cursor: 10 }
        );
    }

    #[test]
    fn behind_under_light_traffic_it_steps_again_at_once() {
        let t = Instant::now();
        let mut pace = Pace::default();
        let ms = Duration::from_millis;
        assert_eq!(
            pace.after(&step(500, 100_000), t, t + ms(20)),
            Next::StepIn(Duration::ZERO)
        );
        // 500 new events in a second: below the busy rate.
        assert_eq!(
            pace.after(&step(1_000, 100_500), t + ms(1_000), t + ms(1_020)),
            Next::StepIn(Duration::ZERO)
        );
    }

    #[test]
    fn behind_under_heavy_traffic_it_works_one_part_in_busy_share() {
        let t = Instant::now();
        let ms = Duration::from_millis;
        let mut pace = Pace::default();
        pace.after(&step(500, 100_000), t, t + ms(20));
        // 5,000 new events in the 100 ms since: ingest is busy.
        let next = pace.after(&step(1_000, 105_000), t + ms(100), t + ms(120));
        assert_eq!(next, Next::StepIn(ms(20) * (BUSY_SHARE - 1)));
        // The burst is over: back to full speed.
        let next = pace.after(&step(1_500, 105_000), t + ms(500), t + ms(520));
        assert_eq!(next, Next::StepIn(Duration::ZERO));
    }
}
