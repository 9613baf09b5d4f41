//! `forward_failures` scenarios with chosen times: no clock, no sleeping.

use super::*;
use chrono::{DateTime, Utc};

fn rule(threshold: u32, target: Option<&str>) -> Rule {
    Rule {
        name: "fwd".into(),
        kind: AlertKind::ForwardFailures,
        source: None,
        event_type: None,
        threshold,
        window_secs: 60,
        cooldown_secs: 0,
        target: target.map(String::from),
    }
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
}

fn outcome(target: &str, id: i64, secs: i64, ended: Ended) -> AttemptOutcome {
    AttemptOutcome {
        target: target.into(),
        event_id: id,
        at: at(secs),
        ended,
    }
}

fn states(alerts: &[NewAlert]) -> Vec<(&str, AlertState)> {
    alerts
        .iter()
        .map(|a| (a.source.as_str(), a.state))
        .collect()
}

#[test]
fn failures_in_a_row_fire_and_the_next_delivered_one_resolves() {
    let mut watch = Watch::new(&[rule(3, None)]);
    assert!(
        watch
            .observe(&outcome("app", 1, 0, Ended::Failed))
            .is_empty()
    );
    assert!(
        watch
            .observe(&outcome("app", 2, 1, Ended::Failed))
            .is_empty()
    );
    let fired = watch.observe(&outcome("app", 1, 2, Ended::Failed));
    assert_eq!(states(&fired), [("app", AlertState::Firing)]);
    assert_eq!(
        (fired[0].count, &fired[0].sample_event_ids),
        (3, &vec![1, 2, 1])
    );
    assert_eq!(fired[0].at, at(2));
    assert!(watch.observe(&outcome("app", 3, 3, Ended::Dead)).is_empty());
    let resolved = watch.observe(&outcome("app", 4, 4, Ended::Delivered));
    assert_eq!(states(&resolved), [("app", AlertState::Resolved)]);
    assert!(
        watch
            .observe(&outcome("app", 5, 5, Ended::Delivered))
            .is_empty()
    );
}

#[test]
fn a_delivered_one_breaks_the_row() {
    let mut watch = Watch::new(&[rule(2, None)]);
    assert!(
        watch
            .observe(&outcome("app", 1, 0, Ended::Failed))
            .is_empty()
    );
    assert!(
        watch
            .observe(&outcome("app", 2, 1, Ended::Delivered))
            .is_empty()
    );
    assert!(
        watch
            .observe(&outcome("app", 3, 2, Ended::Failed))
            .is_empty()
    );
    assert_eq!(watch.observe(&outcome("app", 3, 3, Ended::Failed)).len(), 1);
}

#[test]
fn only_failures_inside_the_window_count() {
    let mut watch = Watch::new(&[rule(2, None)]);
    assert!(watch.observe(&outcome("app", 1, 0, Ended::Dead)).is_empty());
    assert!(
        watch
            .observe(&outcome("app", 2, 60, Ended::Dead))
            .is_empty()
    );
    let fired = watch.observe(&outcome("app", 3, 61, Ended::Dead));
    assert_eq!(fired[0].sample_event_ids, [2, 3]);
}

#[test]
fn each_target_is_watched_on_its_own_and_a_named_one_only() {
    let mut watch = Watch::new(&[rule(1, Some("billing")), rule(2, None)]);
    let fired = watch.observe(&outcome("app", 1, 0, Ended::Failed));
    assert!(fired.is_empty(), "{fired:?}");
    let fired = watch.observe(&outcome("billing", 2, 1, Ended::Failed));
    assert_eq!(states(&fired), [("billing", AlertState::Firing)]);
    let fired = watch.observe(&outcome("app", 3, 2, Ended::Failed));
    assert_eq!(states(&fired), [("app", AlertState::Firing)]);
}

#[test]
fn a_cooldown_keeps_it_quiet_and_events_rules_are_not_taken() {
    let mut quiet = rule(1, None);
    quiet.cooldown_secs = 100;
    let mut burst = rule(1, None);
    burst.kind = AlertKind::Burst;
    let mut watch = Watch::new(&[quiet, burst]);
    assert_eq!(watch.observe(&outcome("app", 1, 0, Ended::Failed)).len(), 1);
    assert_eq!(
        watch.observe(&outcome("app", 2, 1, Ended::Delivered)).len(),
        1
    );
    assert!(
        watch
            .observe(&outcome("app", 3, 50, Ended::Failed))
            .is_empty()
    );
    assert!(
        watch
            .observe(&outcome("app", 4, 60, Ended::Delivered))
            .is_empty()
    );
    assert_eq!(
        watch.observe(&outcome("app", 5, 100, Ended::Failed)).len(),
        1
    );
}

#[test]
fn a_stored_firing_alert_is_continued_and_resolved_on_delivery() {
    let mut watch = Watch::new(&[rule(1, None)]);
    let stored = Alert {
        id: 7,
        new: NewAlert {
            rule: "fwd".into(),
            kind: AlertKind::ForwardFailures,
            source: "app".into(),
            state: AlertState::Firing,
            count: 1,
            window_secs: 60,
            at: at(0),
            sample_event_ids: vec![1],
        },
    };
    watch.remember(&[stored]);
    assert!(
        watch
            .observe(&outcome("app", 2, 1, Ended::Failed))
            .is_empty()
    );
    let resolved = watch.observe(&outcome("app", 3, 2, Ended::Delivered));
    assert_eq!(states(&resolved), [("app", AlertState::Resolved)]);
}
