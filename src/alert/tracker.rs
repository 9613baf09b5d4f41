//! The state of one rule for one source: the recent matching events (a true sliding window
//! over event time), whether it is firing, and when it last fired. Pure: time is passed in,
//! as microseconds since the epoch (cheap to compare on every event).
//!
//! Memory is bounded: a window rule with threshold N keeps at most N events, since "at least
//! N in the window" holds exactly when the N-th newest is still inside it. That also makes
//! the check O(1): the oldest kept event is the N-th newest.

use std::collections::VecDeque;

use super::rule::Rule;
use crate::model::{AlertKind, AlertState};

/// Event ids kept as a sample on each alert.
pub const SAMPLE_SIZE: usize = 10;

/// Microseconds since the Unix epoch.
pub type Micros = i64;

/// A transition decided by `Tracker::evaluate`, before it is dressed as an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub state: AlertState,
    pub at: Micros,
    pub count: u64,
    pub sample_event_ids: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct Tracker {
    /// Matching events (time, id), sorted by time; for `silence`, only the last one seen.
    hits: VecDeque<(Micros, i64)>,
    /// The newest event seen for this source (any that the rule selects).
    pub last_seen: Micros,
    pub firing: bool,
    last_fired: Option<Micros>,
}

impl Tracker {
    pub fn new(at: Micros) -> Tracker {
        Tracker {
            hits: VecDeque::new(),
            last_seen: at,
            firing: false,
            last_fired: None,
        }
    }

    /// A tracker that continues from a stored alert: firing (or resolved) as of `at`, so an
    /// instance that starts later does not fire again what another already fired.
    pub fn resume(state: AlertState, fired_at: Option<Micros>, at: Micros) -> Tracker {
        Tracker {
            hits: VecDeque::new(),
            last_seen: at,
            firing: state == AlertState::Firing,
            last_fired: fired_at,
        }
    }

    /// Records a selected event; `counts` says whether it counts toward the threshold.
    pub fn record(&mut self, rule: &Rule, at: Micros, id: i64, counts: bool) {
        self.last_seen = self.last_seen.max(at);
        if !counts {
            return;
        }
        let cap = match rule.kind {
            AlertKind::Silence => 1,
            _ => rule.threshold.max(1) as usize,
        };
        match self.hits.back() {
            Some(&(newest, _)) if newest > at => {
                // Rare: events arrive nearly in time order; keep the deque sorted.
                let position = self.hits.partition_point(|(t, _)| *t <= at);
                self.hits.insert(position, (at, id));
            }
            _ => self.hits.push_back((at, id)),
        }
        while self.hits.len() > cap {
            self.hits.pop_front();
        }
    }

    /// Index of the first kept event inside the window ending at `now`.
    fn window_start(&self, rule: &Rule, now: Micros) -> usize {
        let start = now.saturating_sub(rule.window_micros());
        self.hits.partition_point(|(t, _)| *t <= start)
    }

    /// Matching events inside the window ending at `now` (window kinds only).
    fn count(&self, rule: &Rule, now: Micros) -> u64 {
        (self.hits.len() - self.window_start(rule, now)) as u64
    }

    /// Whether the rule's condition holds at `now`. O(1): it runs for every rule on every
    /// event.
    fn condition(&self, rule: &Rule, now: Micros) -> bool {
        match rule.kind {
            AlertKind::Silence => now.saturating_sub(self.last_seen) >= rule.window_micros(),
            _ => {
                self.hits.len() >= rule.threshold as usize
                    && self
                        .hits
                        .front()
                        .is_some_and(|(t, _)| *t > now.saturating_sub(rule.window_micros()))
            }
        }
    }

    /// Decides whether the rule fires or resolves at `now`. `on_event` is true when `now` is
    /// the time of an event just recorded, false on a clock tick.
    ///
    /// The time of a change is derived from event times (an event's own time, the moment a
    /// window drained, `last_seen + window` for silence, or the end of a cooldown), never
    /// from when the tick happened to run, so every instance that saw the same events
    /// reaches the same `(rule, source, state, at)`.
    pub fn evaluate(&mut self, rule: &Rule, now: Micros, on_event: bool) -> Option<Change> {
        let holds = self.condition(rule, now);
        if holds && !self.firing {
            let start = match (rule.kind, on_event) {
                (_, true) => now,
                (AlertKind::Silence, false) => self.last_seen + rule.window_micros(),
                (_, false) => self.hits.back().map_or(now, |h| h.0),
            };
            let quiet_until = self.last_fired.map(|t| t + rule.cooldown_micros());
            let at = quiet_until.map_or(start, |q| start.max(q));
            if at > now {
                return None; // still cooling down
            }
            self.firing = true;
            self.last_fired = Some(at);
            return Some(self.change(rule, AlertState::Firing, at, now));
        }
        if !holds && self.firing {
            let at = match (rule.kind, self.hits.front()) {
                (AlertKind::Silence, _) => now,
                // The count dropped below the threshold when the oldest kept event left.
                (_, Some(oldest)) => (oldest.0 + rule.window_micros()).min(now),
                // Resumed from a stored firing (`resume`) without its events: they have all
                // left the window one window after the last one seen. Every instance of a
                // cluster computes the same time, so the resolution's claim key is the same
                // and it is sent once, whenever each instance gets to it.
                (_, None) => self.last_seen + rule.window_micros(),
            };
            if at > now {
                return None;
            }
            self.firing = false;
            return Some(self.change(rule, AlertState::Resolved, at, now));
        }
        None
    }

    fn change(&self, rule: &Rule, state: AlertState, at: Micros, now: Micros) -> Change {
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

    /// Forgets events that have left the window (they can never count again).
    pub fn prune(&mut self, rule: &Rule, now: Micros) {
        if rule.kind != AlertKind::Silence {
            let first = self.window_start(rule, now);
            self.hits.drain(..first);
        }
    }

    /// Whether this tracker holds nothing worth keeping (window kinds only): no events in
    /// the window, not firing, and no cooldown that could still suppress a firing.
    pub fn is_idle(&self, rule: &Rule, now: Micros) -> bool {
        rule.kind != AlertKind::Silence
            && self.hits.is_empty()
            && !self.firing
            && self
                .last_fired
                .is_none_or(|t| now.saturating_sub(t) >= rule.cooldown_micros())
    }
}
