//! The `forward_failures` rule: watches the outcomes of forwarding attempts, not events. It
//! fires when a target has `threshold` dead deliveries, or `threshold` failed attempts in a
//! row (across its deliveries), within the window, and resolves on the target's next
//! delivered one. Pure: fed outcomes with their times, so tests need no clock.
//!
//! Memory is bounded: per rule and configured target, at most `threshold` dead deliveries and
//! `threshold` failures are kept (the oldest of them is the one the window test needs).

use std::collections::{HashMap, VecDeque};

use chrono::DateTime;

use super::rule::Rule;
use super::tracker::{Micros, SAMPLE_SIZE};
use crate::forward::outcome::{AttemptOutcome, Ended};
use crate::model::{Alert, AlertKind, AlertState, NewAlert};

/// Every `forward_failures` rule over every target.
#[derive(Debug, Default)]
pub struct Watch {
    rules: Vec<Rule>,
    /// (index in `rules`, target) → its state.
    targets: HashMap<(usize, String), Target>,
}

/// One rule × one target.
#[derive(Debug, Default)]
struct Target {
    /// The newest dead deliveries (time, event id).
    dead: VecDeque<(Micros, i64)>,
    /// The newest failed attempts since the last delivered one.
    failed: VecDeque<(Micros, i64)>,
    firing: bool,
    last_fired: Option<Micros>,
}

impl Target {
    fn keep(list: &mut VecDeque<(Micros, i64)>, hit: (Micros, i64), cap: usize) {
        list.push_back(hit);
        while list.len() > cap {
            list.pop_front();
        }
    }

    /// Whether `list` holds `threshold` entries inside the window ending at `now`.
    fn full(list: &VecDeque<(Micros, i64)>, rule: &Rule, now: Micros) -> bool {
        list.len() >= rule.threshold as usize
            && list
                .front()
                .is_some_and(|(t, _)| *t > now.saturating_sub(rule.window_micros()))
    }
}

impl Watch {
    /// Keeps the `forward_failures` rules of `rules`.
    pub fn new(rules: &[Rule]) -> Watch {
        let rules = rules
            .iter()
            .filter(|r| r.kind == AlertKind::ForwardFailures)
            .cloned()
            .collect();
        Watch {
            rules,
            targets: HashMap::new(),
        }
    }

    /// Takes one attempt's outcome; returns the alerts it causes.
    pub fn observe(&mut self, outcome: &AttemptOutcome) -> Vec<NewAlert> {
        let at = outcome.at.timestamp_micros();
        let mut out = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            if rule.target.as_deref().is_some_and(|t| t != outcome.target) {
                continue;
            }
            let key = (index, outcome.target.clone());
            let state = self.targets.entry(key).or_default();
            let cap = rule.threshold.max(1) as usize;
            let hit = (at, outcome.event_id);
            match outcome.ended {
                Ended::Delivered => {
                    state.dead.clear();
                    state.failed.clear();
                    if state.firing {
                        state.firing = false;
                        out.push(alert(
                            rule,
                            &outcome.target,
                            AlertState::Resolved,
                            at,
                            0,
                            vec![outcome.event_id],
                        ));
                    }
                    continue;
                }
                Ended::Failed => Target::keep(&mut state.failed, hit, cap),
                Ended::Dead => {
                    Target::keep(&mut state.failed, hit, cap);
                    Target::keep(&mut state.dead, hit, cap);
                }
            }
            let dead = Target::full(&state.dead, rule, at);
            let in_a_row = Target::full(&state.failed, rule, at);
            let cooled = state
                .last_fired
                .is_none_or(|t| at >= t + rule.cooldown_micros());
            if (dead || in_a_row) && !state.firing && cooled {
                state.firing = true;
                state.last_fired = Some(at);
                let list = if dead { &state.dead } else { &state.failed };
                let sample = list
                    .iter()
                    .rev()
                    .take(SAMPLE_SIZE)
                    .rev()
                    .map(|h| h.1)
                    .collect();
                out.push(alert(
                    rule,
                    &outcome.target,
                    AlertState::Firing,
                    at,
                    list.len() as u64,
                    sample,
                ));
            }
        }
        out
    }

    /// Continues from stored alerts (newest first): each rule and target takes the state of
    /// its newest alert and the time it last fired, so a restart neither fires again what
    /// is open nor forgets to resolve it.
    pub fn remember(&mut self, stored: &[Alert]) {
        for alert in stored.iter().rev() {
            let a = &alert.new;
            let Some(index) = self.rules.iter().position(|r| r.name == a.rule) else {
                continue;
            };
            let state = self.targets.entry((index, a.source.clone())).or_default();
            state.firing = a.state == AlertState::Firing;
            if state.firing {
                state.last_fired = Some(a.at.timestamp_micros());
            }
        }
    }
}

fn alert(
    rule: &Rule,
    target: &str,
    state: AlertState,
    at: Micros,
    count: u64,
    sample_event_ids: Vec<i64>,
) -> NewAlert {
    NewAlert {
        rule: rule.name.clone(),
        kind: rule.kind,
        source: target.to_string(),
        state,
        count,
        window_secs: rule.window_secs,
        at: DateTime::from_timestamp_micros(at).unwrap_or_default(),
        sample_event_ids,
    }
}

#[cfg(test)]
#[path = "forward_failures_tests.rs"]
mod tests;
