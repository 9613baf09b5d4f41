//! The daily call budget: at most `limit` outbound calls per UTC day, then enrichment pauses
//! until midnight UTC. Pure; time is passed in.
//!
//! The count lives in memory, per process: a restart starts a fresh count, and in a cluster
//! each instance has its own budget (so the cluster spends up to instances × limit).

use chrono::{DateTime, NaiveDate, Utc};

/// Default calls per UTC day.
pub const DEFAULT_MAX_CALLS_PER_DAY: u64 = 1000;

/// Calls spent today.
#[derive(Debug)]
pub struct Budget {
    limit: u64,
    day: Option<NaiveDate>,
    used: u64,
    /// Whether the pause was already announced today (one log line per day, not per event).
    announced: bool,
}

/// The outcome of asking to spend one call.
#[derive(Debug, PartialEq, Eq)]
pub enum Spend {
    Granted,
    /// The limit is reached; `first` is true once per day, to log the pause once.
    Exhausted {
        first: bool,
    },
}

impl Budget {
    pub fn new(limit: u64) -> Budget {
        Budget {
            limit,
            day: None,
            used: 0,
            announced: false,
        }
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Spends one call at `now` if today's budget allows it.
    pub fn spend(&mut self, now: DateTime<Utc>) -> Spend {
        let today = now.date_naive();
        if self.day != Some(today) {
            self.day = Some(today);
            self.used = 0;
            self.announced = false;
        }
        if self.used < self.limit {
            self.used += 1;
            return Spend::Granted;
        }
        let first = !self.announced;
        self.announced = true;
        Spend::Exhausted { first }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_budget_pauses_at_the_limit_and_resumes_the_next_utc_day() {
        let mut budget = Budget::new(2);
        let evening = at("2026-11-28T23:00:00Z");
        assert_eq!(budget.spend(evening), Spend::Granted);
        assert_eq!(budget.spend(evening), Spend::Granted);
        assert_eq!(budget.spend(evening), Spend::Exhausted { first: true });
        assert_eq!(
            budget.spend(at("2026-11-28T23:59:59Z")),
            Spend::Exhausted { first: false }
        );
        assert_eq!(budget.spend(at("2026-11-29T00:00:00Z")), Spend::Granted);
        assert_eq!(budget.spend(at("2026-11-29T00:00:01Z")), Spend::Granted);
        assert_eq!(
            budget.spend(at("2026-11-29T00:00:02Z")),
            Spend::Exhausted { first: true }
        );
    }

    #[test]
    fn a_zero_budget_never_calls() {
        let mut budget = Budget::new(0);
        assert_eq!(
            budget.spend(at("2026-01-01T00:00:00Z")),
            Spend::Exhausted { first: true }
        );
    }
}
