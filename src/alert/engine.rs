//! Every rule over every source: feed it events (`observe`) and clock ticks (`tick`), get
//! back the alerts to send. Pure: no tokio, no I/O, time passed in, so the tests below run
//! whole scenarios with no sleeping.
//!
//! Memory is bounded: at most `MAX_SOURCES_PER_RULE` trackers per rule (the least recently
//! heard-from idle source is forgotten first), each holding at most `threshold` events.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::rule::{Facts, Rule};
use super::tracker::{Change, Tracker};
use crate::model::NewAlert;

/// Sources tracked per rule; beyond it the stalest one is dropped.
pub const MAX_SOURCES_PER_RULE: usize = 1024;

/// The evaluator's whole state.
#[derive(Debug, Default)]
pub struct Engine {
    rules: Vec<RuleState>,
}

#[derive(Debug)]
struct RuleState {
    rule: Rule,
    trackers: HashMap<String, Tracker>,
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Engine {
        let rules = rules
            .into_iter()
            .map(|rule| RuleState {
                rule,
                trackers: HashMap::new(),
            })
            .collect();
        Engine { rules }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Takes one stored event; returns the alerts it causes, in order.
    pub fn observe(&mut self, facts: &Facts) -> Vec<NewAlert> {
        let mut out = Vec::new();
        for state in &mut self.rules {
            let rule = &state.rule;
            if !rule.selects(facts) {
                continue;
            }
            let tracker = tracker_for(&mut state.trackers, facts.source, facts.at);
            // Settle what time alone changed up to this event (a drained window, a silence)
            // before the event itself counts.
            let before = tracker.evaluate(rule, facts.at, false);
            tracker.record(rule, facts.at, facts.id, rule.counts(facts));
            let after = tracker.evaluate(rule, facts.at, true);
            for change in before.into_iter().chain(after) {
                out.push(alert(rule, facts.source, change));
            }
        }
        out
    }

    /// Advances the clock: fires silences, resolves drained windows, ends cooldowns.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<NewAlert> {
        let mut out = Vec::new();
        for state in &mut self.rules {
            let rule = &state.rule;
            for (source, tracker) in state.trackers.iter_mut() {
                if let Some(change) = tracker.evaluate(rule, now, false) {
                    out.push(alert(rule, source, change));
                }
                tracker.prune(rule, now);
            }
            state.trackers.retain(|_, t| !t.is_idle(rule, now));
        }
        out.sort_by_key(|a| a.at);
        out
    }

    /// Starts a silence watch for a source known to have sent events before this process
    /// started (from the store), so a source that went quiet across a restart is noticed.
    pub fn seed(&mut self, source: &str, last_seen: DateTime<Utc>) {
        for state in &mut self.rules {
            let rule = &state.rule;
            let wanted = rule.kind == crate::model::AlertKind::Silence
                && rule.event_type.is_none()
                && rule.source.as_deref().is_none_or(|s| s == source);
            if wanted {
                tracker_for(&mut state.trackers, source, last_seen);
            }
        }
    }
}

/// The tracker of `source`, created on first sight; evicts the stalest when full.
fn tracker_for<'a>(
    trackers: &'a mut HashMap<String, Tracker>,
    source: &str,
    at: DateTime<Utc>,
) -> &'a mut Tracker {
    if !trackers.contains_key(source) {
        if trackers.len() >= MAX_SOURCES_PER_RULE {
            let stalest = trackers
                .iter()
                .min_by_key(|(_, t)| (t.firing, t.last_seen))
                .map(|(name, _)| name.clone());
            if let Some(name) = stalest {
                trackers.remove(&name);
            }
        }
        trackers.insert(source.to_string(), Tracker::new(at));
    }
    trackers
        .get_mut(source)
        .expect("inserted just above when missing")
}

fn alert(rule: &Rule, source: &str, change: Change) -> NewAlert {
    NewAlert {
        rule: rule.name.clone(),
        kind: rule.kind,
        source: source.to_string(),
        state: change.state,
        count: change.count,
        window_secs: rule.window_secs,
        at: change.at,
        sample_event_ids: change.sample_event_ids,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
