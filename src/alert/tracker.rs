//! The state of one rule for one source: the recent matching events (a true sliding window
//! over event time), whether it is firing, and when it last fired. Pure: time is passed in.
//!
//! Memory is bounded: a window rule with threshold N keeps at most N events, since "at least
//! N in the window" holds exactly when the N-th newest is still inside it.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

use super::rule::Rule;
use crate::model::{AlertKind, AlertState};

/// Event ids kept as a sample on each alert.
pub const SAMPLE_SIZE: usize = 10;

/// A transition decided by `Tracker::evaluate`, before it is dressed as an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub state: AlertState,
    pub at: DateTime<Utc>,
    pub count: u64,
    pub sample_event_ids: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Tracker {
    /// Matching events (time, id), sorted by time; for `silence`, only the last one seen.
    hits: VecDeque<(DateTime<Utc>, i64)>,
    /// The newest event seen for this source (any that the rule selects).
    pub last_seen: DateTime<Utc>,
    pub firing: bool,
    last_fired: Option<DateTime<Utc>>,
}

impl Tracker {
    pub fn new(at: DateTime<Utc>) -> Tracker {
        Tracker {
            hits: VecDeque::new(),
            last_seen: at,
            firing: false,
            last_fired: None,
        }
    }

    /// Records a selected event; `counts` says whether it counts toward the threshold.
    pub fn record(&mut self, rule: &Rule, at: DateTime<Utc>, id: i64, counts: bool) {
        self.last_seen = self.last_seen.max(at);
        if !counts {
            return;
        }
        let cap = match rule.kind {
            AlertKind::Silence => 1,
            _ => rule.threshold.max(1) as usize,
        };
        // Events arrive nearly in time order, so this lands at or next to the end.
        let position = self.hits.partition_point(|(t, _)| *t <= at);
        self.hits.insert(position, (at, id));
        while self.hits.len() > cap {
            self.hits.pop_front();
        }
    }

    /// Index of the first kept event inside the window ending at `now`.
    fn window_start(&self, rule: &Rule, now: DateTime<Utc>) -> usize {
        let start = now - rule.window();
        self.hits.partition_point(|(t, _)| *t <= start)
    }

    /// Matching events inside the window ending at `now` (window kinds only); O(log n), as
    /// it runs for every rule on every event.
    fn count(&self, rule: &Rule, now: DateTime<Utc>) -> u64 {
        (self.hits.len() - self.window_start(rule, now)) as u64
    }

    /// Whether the rule's condition holds at `now`.
    fn condition(&self, rule: &Rule, now: DateTime<Utc>) -> bool {
        match rule.kind {
            AlertKind::Silence => now - self.last_seen >= rule.window(),
            _ => self.count(rule, now) >= u64::from(rule.threshold),
        }
    }

    /// Decides whether the rule fires or resolves at `now`. `on_event` is true when `now` is
    /// the time of an event just recorded, false on a clock tick.
    ///
    /// The time of a change is derived from event times (an event's own time, the moment a
    /// window drained, `last_seen + window` for silence, or the end of a cooldown), never
    /// from when the tick happened to run, so every instance that saw the same events
    /// reaches the same `(rule, source, state, at)`.
    pub fn evaluate(&mut self, rule: &Rule, now: DateTime<Utc>, on_event: bool) -> Option<Change> {
        let holds = self.condition(rule, now);
        if holds && !self.firing {
            let start = match (rule.kind, on_event) {
                (_, true) => now,
                (AlertKind::Silence, false) => self.last_seen + rule.window(),
                (_, false) => self.newest_hit().unwrap_or(now),
            };
            let quiet_until = self.last_fired.map(|t| t + rule.cooldown());
            let at = quiet_until.map_or(start, |q| start.max(q));
            if at > now {
                return None; // still cooling down
            }
            self.firing = true;
            self.last_fired = Some(at);
            return Some(self.change(rule, AlertState::Firing, at, now));
        }
        if !holds && self.firing {
            let at = match rule.kind {
                AlertKind::Silence => now,
                _ => self.drained_at(rule).unwrap_or(now).min(now),
            };
            self.firing = false;
            return Some(self.change(rule, AlertState::Resolved, at, now));
        }
        None
    }

    fn change(
        &self,
        rule: &Rule,
        state: AlertState,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Change {
        let (count, sample) = match rule.kind {
            AlertKind::Silence => (0, self.hits.iter().map(|h| h.1).collect()),
            _ => {
                let first = self
                    .window_start(rule, now)
                    .max(self.hits.len().saturating_sub(SAMPLE_SIZE));
                let sample = self.hits.range(first..).map(|h| h.1).collect();
                (self.count(rule, now), sample)
            }
        };
        Change {
            state,
            at,
            count,
            sample_event_ids: sample,
        }
    }

    fn newest_hit(&self) -> Option<DateTime<Utc>> {
        self.hits.back().map(|h| h.0)
    }

    /// When the count last dropped below the threshold: the oldest kept event left the window.
    fn drained_at(&self, rule: &Rule) -> Option<DateTime<Utc>> {
        self.hits
            .iter()
            .map(|h| h.0)
            .min()
            .map(|t| t + rule.window())
    }

    /// Forgets events that have left the window (they can never count again).
    pub fn prune(&mut self, rule: &Rule, now: DateTime<Utc>) {
        if rule.kind == AlertKind::Silence {
            return;
        }
        let first = self.window_start(rule, now);
        self.hits.drain(..first);
    }

    /// Whether this tracker holds nothing worth keeping (window kinds only): no events in
    /// the window, not firing, and no cooldown that could still suppress a firing.
    pub fn is_idle(&self, rule: &Rule, now: DateTime<Utc>) -> bool {
        rule.kind != AlertKind::Silence
            && self.hits.is_empty()
            && !self.firing
            && self
                .last_fired
                .is_none_or(|t| now - t >= rule.cooldown().max(TimeDelta::zero()))
    }
}
