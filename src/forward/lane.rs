//! One target's deliveries as the worker holds them: claimed ahead, in batches, and started
//! one by one within `max_in_flight` and `rate_per_sec`. Pure: every decision takes `now`.
//!
//! Claiming costs a write, so a lane claims many deliveries at once (up to `ahead`) and
//! claims again when half are gone, while the first half is being sent. It hands over up to
//! twice `max_in_flight` to be started, so the next events are read while attempts run (the
//! launcher holds the sends themselves to `max_in_flight`); a rate-limited lane hands over
//! no more than `max_in_flight`, each at its time. Each claim is a
//! lease long enough for a delivery to wait here up to [`HOLD`] and then be attempted; one
//! that waited longer is never started (its lease might run out during the attempt and
//! another claim take it) but given back. A lane that found nothing due is "dry": it claims
//! again only when new work is announced or when the store says something falls due.

use std::collections::VecDeque;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::settings::TargetSettings;
use crate::store::{Delivery, Lease};

/// How long a claimed delivery may wait here before its attempt starts.
pub const HOLD: Duration = Duration::from_secs(15);
/// How long a lease outlives the attempt's own timeout: time to record the result.
pub const LEASE_MARGIN: Duration = Duration::from_secs(30);
/// Deliveries held per `max_in_flight` slot.
const AHEAD_PER_SLOT: u32 = 16;
/// The most deliveries one lane holds.
const MOST_AHEAD: u32 = 1024;
/// The longest a dry lane waits before claiming again unasked: instances on one database
/// learn of each other's resumes no later than this.
pub const MAX_SLEEP: Duration = Duration::from_secs(5);

/// A claimed delivery and the end of its lease.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub delivery: Delivery,
    pub until: DateTime<Utc>,
}

/// A claim the lane wants made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Claim {
    pub now: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub limit: u32,
    /// `Wake::work_count` when the claim was decided.
    pub work: u64,
}

/// The lane found nothing more to claim.
#[derive(Debug, Clone, Copy)]
struct Dry {
    /// The work count its empty claim saw: more work announced since ends the dry spell.
    work: u64,
    /// When its claim looked.
    looked: DateTime<Utc>,
    /// When to look again unasked; `None` until the worker has read when something falls due.
    recheck: Option<DateTime<Utc>>,
}

/// One lane's claimed deliveries and when it may claim or start more.
#[derive(Debug)]
pub struct Queue {
    waiting: VecDeque<Claimed>,
    ahead: u32,
    /// The most deliveries handed over and not ended.
    handover: u32,
    /// The lease an attempt needs left when it starts: its timeout and the margin.
    attempt_span: chrono::Duration,
    /// With `rate_per_sec`: the least time between two starts, and the next start allowed.
    gap: Option<chrono::Duration>,
    next_start: DateTime<Utc>,
    claiming: bool,
    dry: Option<Dry>,
}

impl Queue {
    pub fn new(settings: &TargetSettings) -> Queue {
        let max_in_flight = settings.max_in_flight.max(1);
        let mut ahead = max_in_flight.saturating_mul(AHEAD_PER_SLOT).min(MOST_AHEAD);
        let gap = settings.rate_per_sec.map(|rate| {
            // A rate-limited lane starts `rate` a second: it holds what it starts in half a HOLD.
            let half_hold = (rate * HOLD.as_secs_f64() / 2.0).ceil() as u32;
            ahead = ahead.min(half_hold.max(1));
            chrono_of(Duration::from_secs_f64(1.0 / rate))
        });
        let handover = match gap {
            Some(_) => max_in_flight,
            None => max_in_flight.saturating_mul(2),
        };
        Queue {
            waiting: VecDeque::new(),
            ahead,
            handover,
            attempt_span: chrono_of(settings.timeout + LEASE_MARGIN),
            gap,
            next_start: DateTime::<Utc>::MIN_UTC,
            claiming: false,
            dry: None,
        }
    }

    /// The claim to make now, if any: none while one runs, while more than half of `ahead`
    /// waits, or while dry with no new work and no reason to look again yet.
    pub fn claim(&mut self, now: DateTime<Utc>, work: u64) -> Option<Claim> {
        let held = self.waiting.len() as u32;
        if self.claiming || held > self.ahead / 2 || now < self.claim_from() {
            return None;
        }
        if let Some(dry) = self.dry
            && dry.work == work
            && dry.recheck.is_none_or(|at| now < at)
        {
            return None;
        }
        self.claiming = true;
        Some(Claim {
            now,
            until: now + self.attempt_span + chrono_of(HOLD),
            limit: self.ahead - held,
            work,
        })
    }

    /// A slow rate's lane claims no sooner than half a `HOLD` before it may start again, so
    /// what it claims is not held past `HOLD`.
    fn claim_from(&self) -> DateTime<Utc> {
        match self.gap {
            Some(_) => self
                .next_start
                .checked_sub_signed(chrono_of(HOLD / 2))
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            None => DateTime::<Utc>::MIN_UTC,
        }
    }

    /// What `claim` got; fewer than asked makes the lane dry.
    pub fn claimed(&mut self, claim: Claim, mut got: Vec<Delivery>) {
        self.claiming = false;
        self.dry = ((got.len() as u32) < claim.limit).then_some(Dry {
            work: claim.work,
            looked: claim.now,
            recheck: None,
        });
        got.sort_by_key(|d| (d.next_at, d.id));
        let until = claim.until;
        self.waiting
            .extend(got.into_iter().map(|delivery| Claimed { delivery, until }));
    }

    /// The claim failed: look again at `retry` unless new work comes first.
    pub fn claim_failed(&mut self, claim: Claim, retry: DateTime<Utc>) {
        self.claiming = false;
        self.dry = Some(Dry {
            work: claim.work,
            looked: claim.now,
            recheck: Some(retry),
        });
    }

    /// Whether the lane waits to hear when the next delivery falls due.
    pub fn needs_due(&self) -> bool {
        self.dry.is_some_and(|dry| dry.recheck.is_none())
    }

    /// When this lane's next delivery may be claimed (`None`: nothing waits, or its target
    /// is paused). Something due before its empty claim looked was held under a lease then:
    /// not a reason to look again before `MAX_SLEEP`.
    pub fn due(&mut self, next: Option<DateTime<Utc>>, now: DateTime<Utc>) {
        let latest = now + chrono_of(MAX_SLEEP);
        if let Some(dry) = &mut self.dry {
            dry.recheck = Some(match next {
                Some(at) if at > now => at.min(latest),
                Some(at) if at > dry.looked => now,
                _ => latest,
            });
        }
    }

    /// Something may fall due sooner than the lane was told (a retry was recorded): a dry
    /// lane asks again.
    pub fn due_changed(&mut self) {
        if let Some(dry) = &mut self.dry {
            dry.recheck = None;
        }
    }

    /// Takes out the deliveries that waited too long to be started safely, to give back.
    pub fn expired(&mut self, now: DateTime<Utc>) -> Vec<Lease> {
        let span = self.attempt_span;
        let mut gone = Vec::new();
        self.waiting.retain(|c| {
            let keep = now + span < c.until;
            if !keep {
                gone.push(lease(c));
            }
            keep
        });
        gone
    }

    /// Takes out everything held, to give back (the target was paused), and claims afresh.
    pub fn release_all(&mut self) -> Vec<Lease> {
        self.dry = None;
        self.waiting.drain(..).map(|c| lease(&c)).collect()
    }

    /// The next delivery to hand over, if fewer than `handover` are (`in_flight`) and the
    /// rate allows one now.
    pub fn start(&mut self, now: DateTime<Utc>, in_flight: u32) -> Option<Claimed> {
        if in_flight >= self.handover || now < self.next_start {
            return None;
        }
        let next = self.waiting.pop_front()?;
        if let Some(gap) = self.gap {
            self.next_start = now + gap;
        }
        Some(next)
    }

    /// When this lane needs the worker without being told: when the rate lets it start, when
    /// its oldest delivery must be given back, when a dry spell ends; `None` when only news
    /// (new work, a freed slot, a claim's answer) can change anything.
    pub fn wake_at(&self, in_flight: u32) -> Option<DateTime<Utc>> {
        let mut at: Option<DateTime<Utc>> = None;
        let mut earliest = |t: DateTime<Utc>| at = Some(at.map_or(t, |a| a.min(t)));
        if let Some(first) = self.waiting.front() {
            earliest(first.until - self.attempt_span);
            if in_flight < self.handover && self.gap.is_some() {
                earliest(self.next_start);
            }
        }
        // A lane that may claim now did so in the pass; otherwise it claims when its dry
        // spell or its rate lets it.
        if !self.claiming && self.waiting.len() as u32 <= self.ahead / 2 {
            let after = match self.dry {
                Some(dry) => dry.recheck,
                None => Some(DateTime::<Utc>::MIN_UTC),
            };
            if let Some(after) = after {
                earliest(after.max(self.claim_from()));
            }
        }
        at
    }

    /// Deliveries held and not started.
    pub fn held(&self) -> usize {
        self.waiting.len()
    }
}

fn lease(c: &Claimed) -> Lease {
    Lease {
        delivery_id: c.delivery.id,
        until: c.until,
    }
}

pub fn chrono_of(wait: Duration) -> chrono::Duration {
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1))
}

#[cfg(test)]
#[path = "lane_tests.rs"]
mod tests;
