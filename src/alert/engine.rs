//! Every rule over every source: feed it events (`observe`), clock ticks (`tick`) and
//! forwarding attempts (`attempt`, for `forward_failures`), get back the alerts to send. Pure: no tokio, no I/O, time passed in, so the tests beside it
//! run whole scenarios with no sleeping.
//!
//! State is kept per source, with one slot per rule, so an event costs one hash lookup
//! whatever the number of rules. Memory is bounded: at most `MAX_SOURCES` sources (the
//! stalest one that is not firing is forgotten first), each rule slot holding at most
//! `threshold` events, and slots with nothing left to watch are emptied on ticks.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::forward_failures::Watch;
use super::rule::{Facts, Rule};
use super::tracker::{Change, Micros, Tracker};
use crate::forward::outcome::AttemptOutcome;
use crate::model::{Alert, AlertKind, AlertState, NewAlert};

/// Sources tracked at once; beyond it the stalest one is dropped.
pub const MAX_SOURCES: usize = 1024;

/// The evaluator's whole state.
#[derive(Debug, Default)]
pub struct Engine {
    rules: Vec<Rule>,
    sources: HashMap<String, Slots>,
    /// The `forward_failures` rules, fed forwarding attempts rather than events.
    forwards: Watch,
}

/// One source: a tracker per rule that has seen it (`None` for the others).
#[derive(Debug)]
struct Slots {
    last_seen: Micros,
    trackers: Vec<Option<Tracker>>,
}

impl Slots {
    fn firing(&self) -> bool {
        self.trackers.iter().flatten().any(|t| t.firing)
    }
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Engine {
        Engine {
            forwards: Watch::new(&rules),
            rules,
            sources: HashMap::new(),
        }
    }

    /// Takes one stored event; returns the alerts it causes, in order.
    pub fn observe(&mut self, facts: &Facts) -> Vec<NewAlert> {
        let at = facts.at.timestamp_micros();
        let rules = &self.rules;
        if !rules.iter().any(|r| r.selects(facts)) {
            return Vec::new();
        }
        let slots = slots_for(&mut self.sources, rules.len(), facts.source, at);
        slots.last_seen = slots.last_seen.max(at);
        let mut out = Vec::new();
        for (rule, slot) in rules.iter().zip(slots.trackers.iter_mut()) {
            if !rule.selects(facts) {
                continue;
            }
            let tracker = slot.get_or_insert_with(|| Tracker::new(at));
            // Settle what time alone changed up to this event (a drained window, a silence)
            // before the event itself counts.
            let before = tracker.evaluate(rule, at, false);
            tracker.record(rule, at, facts.id, rule.counts(facts));
            let after = tracker.evaluate(rule, at, true);
            for change in before.into_iter().chain(after) {
                out.push(alert(rule, facts.source, change));
            }
        }
        out
    }

    /// Takes one forwarding attempt's outcome; returns the alerts it causes.
    pub fn attempt(&mut self, outcome: &AttemptOutcome) -> Vec<NewAlert> {
        self.forwards.observe(outcome)
    }

    /// Advances the clock: fires silences, resolves drained windows, ends cooldowns.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<NewAlert> {
        let now = now.timestamp_micros();
        let mut out = Vec::new();
        for (source, slots) in self.sources.iter_mut() {
            for (rule, slot) in self.rules.iter().zip(slots.trackers.iter_mut()) {
                let Some(tracker) = slot else { continue };
                if let Some(change) = tracker.evaluate(rule, now, false) {
                    out.push(alert(rule, source, change));
                }
                tracker.prune(rule, now);
                if tracker.is_idle(rule, now) {
                    *slot = None;
                }
            }
        }
        self.sources
            .retain(|_, slots| slots.trackers.iter().any(Option::is_some));
        out.sort_by_key(|a| a.at);
        out
    }

    /// Starts a silence watch for a source known to have sent events before this process
    /// started (from the store), so a source that went quiet across a restart is noticed.
    pub fn seed(&mut self, source: &str, last_seen: DateTime<Utc>) {
        let at = last_seen.timestamp_micros();
        let wanted = |r: &Rule| {
            r.kind == AlertKind::Silence
                && r.event_type.is_none()
                && r.source.as_deref().is_none_or(|s| s == source)
        };
        if !self.rules.iter().any(wanted) {
            return;
        }
        let slots = slots_for(&mut self.sources, self.rules.len(), source, at);
        for (rule, slot) in self.rules.iter().zip(slots.trackers.iter_mut()) {
            if wanted(rule) && slot.is_none() {
                *slot = Some(Tracker::new(at));
            }
        }
    }
}

impl Engine {
    /// Continues from stored alerts (newest first, as `/api/alerts` lists them): each rule and
    /// source takes the state of its newest alert and the time it last fired, so cooldowns
    /// and open alerts carry over a restart and agree between instances of a cluster.
    pub fn remember(&mut self, stored: &[Alert]) {
        self.forwards.remember(stored);
        let mut seen = std::collections::HashSet::new();
        for alert in stored {
            let a = &alert.new;
            let Some(index) = self.rules.iter().position(|r| r.name == a.rule) else {
                continue;
            };
            if self.rules[index].kind == AlertKind::ForwardFailures {
                continue; // `forwards` keeps those
            }
            if !seen.insert((index, a.source.clone())) {
                continue;
            }
            let fired_at = stored
                .iter()
                .find(|s| {
                    s.new.rule == a.rule
                        && s.new.source == a.source
                        && s.new.state == AlertState::Firing
                })
                .map(|s| s.new.at.timestamp_micros());
            let at = a.at.timestamp_micros();
            let slots = slots_for(&mut self.sources, self.rules.len(), &a.source, at);
            slots.trackers[index] = Some(Tracker::resume(a.state, fired_at, at));
        }
    }
}

/// The slots of `source`, created on first sight; evicts the stalest source when full.
fn slots_for<'a>(
    sources: &'a mut HashMap<String, Slots>,
    rules: usize,
    source: &str,
    at: Micros,
) -> &'a mut Slots {
    if !sources.contains_key(source) {
        if sources.len() >= MAX_SOURCES {
            let stalest = sources
                .iter()
                .min_by_key(|(_, s)| (s.firing(), s.last_seen))
                .map(|(name, _)| name.clone());
            if let Some(name) = stalest {
                sources.remove(&name);
            }
        }
        let trackers = (0..rules).map(|_| None).collect();
        let slots = Slots {
            last_seen: at,
            trackers,
        };
        sources.insert(source.to_string(), slots);
    }
    sources
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
        at: DateTime::from_timestamp_micros(change.at).unwrap_or_default(),
        sample_event_ids: change.sample_event_ids,
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
