//! How the worker learns that there is something to do, without asking the store.
//!
//! Four kinds of news reach it: new work (the enqueuer queued deliveries, a replay, a resumed
//! target), a pause (what it claimed ahead for a target may no longer be sent), recorded
//! retries (something falls due later), and a freed slot (an attempt ended). New work is counted, so a target the worker found empty is claimed
//! again only when something may have been queued since; a freed slot only lets it start what
//! it already holds. The enqueuer's work is counted apart: it never queues an ad-hoc replay,
//! so the ad-hoc lane does not look for one each time it runs.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::Notify;

#[derive(Default)]
pub struct Wake {
    notify: Notify,
    work: AtomicU64,
    /// The work that may concern ad-hoc replays: replays and resumes, not the enqueuer's.
    ad_hoc_work: AtomicU64,
    release: AtomicBool,
    pauses: AtomicU64,
    retries: AtomicU64,
}

impl Wake {
    /// Deliveries may have become claimable: replayed, or their target resumed.
    pub fn work(&self) {
        self.ad_hoc_work.fetch_add(1, Ordering::SeqCst);
        self.queued();
    }

    /// The enqueuer queued deliveries for the rules' targets.
    pub fn queued(&self) {
        self.work.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_one();
    }

    /// A target was paused: the worker gives back every delivery it holds and has not started,
    /// and claims again (a paused target's deliveries are not claimed).
    pub fn paused(&self) {
        self.pauses.fetch_add(1, Ordering::SeqCst);
        self.release.store(true, Ordering::SeqCst);
        self.work();
    }

    /// Failed attempts were recorded with a time to try again: a lane that found nothing due
    /// asks the store again when the next delivery falls due.
    pub fn retried(&self) {
        self.retries.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_one();
    }

    pub(super) fn retry_count(&self) -> u64 {
        self.retries.load(Ordering::SeqCst)
    }

    /// An attempt ended, so a slot is free.
    pub fn slot(&self) {
        self.notify.notify_one();
    }

    /// How many times new work was announced for the rules' targets (`ad_hoc`: for ad-hoc
    /// replays); read before a claim, so news that arrives while the claim runs is not lost.
    pub(super) fn work_count(&self, ad_hoc: bool) -> u64 {
        match ad_hoc {
            true => self.ad_hoc_work.load(Ordering::SeqCst),
            false => self.work.load(Ordering::SeqCst),
        }
    }

    /// Whether a pause asked for the held deliveries back (once).
    pub(super) fn take_release(&self) -> bool {
        self.release.swap(false, Ordering::SeqCst)
    }

    /// Whether a pause asked for the held deliveries back and the worker has not yet seen it:
    /// nothing held is started meanwhile.
    pub(super) fn release_pending(&self) -> bool {
        self.release.load(Ordering::SeqCst)
    }

    /// How many pauses there were: an attempt handed over before the latest one is not made.
    pub(super) fn pause_count(&self) -> u64 {
        self.pauses.load(Ordering::SeqCst)
    }

    pub(super) async fn notified(&self) {
        self.notify.notified().await;
    }
}
