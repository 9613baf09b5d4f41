//! Rule scenarios with injected time: no sleeping, every instant chosen by the test.

use chrono::{DateTime, TimeDelta, Utc};

use super::*;
use crate::model::{AlertKind, AlertState};

fn t(secs: f64) -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + TimeDelta::microseconds((secs * 1e6) as i64) + TimeDelta::days(20000)
}

fn rule(kind: AlertKind, threshold: u32, window_secs: u64, cooldown_secs: u64) -> Rule {
    Rule {
        name: format!("{} rule", kind.as_str()),
        kind,
        source: None,
        event_type: None,
        threshold,
        window_secs,
        cooldown_secs,
        target: None,
    }
}

/// One event of `source` at `secs`, with id `id`.
fn event(engine: &mut Engine, source: &str, id: i64, secs: f64, error: bool) -> Vec<NewAlert> {
    engine.observe(&Facts {
        id,
        source,
        event_type: Some("charge.failed"),
        at: t(secs),
        is_error: error,
        signature_failure: error,
    })
}

fn states(alerts: &[NewAlert]) -> Vec<(AlertState, DateTime<Utc>)> {
    alerts.iter().map(|a| (a.state, a.at)).collect()
}

#[test]
fn a_burst_fires_when_the_threshold_is_reached_inside_the_sliding_window() {
    let mut e = Engine::new(vec![rule(AlertKind::Burst, 3, 10, 0)]);
    assert!(event(&mut e, "s", 1, 0.0, false).is_empty());
    assert!(event(&mut e, "s", 2, 5.0, false).is_empty());
    // The first event has left the 10 s window by 10.5: only two inside.
    assert!(event(&mut e, "s", 3, 10.5, false).is_empty());
    let fired = event(&mut e, "s", 4, 11.0, false);
    assert_eq!(states(&fired), vec![(AlertState::Firing, t(11.0))]);
    assert_eq!(fired[0].count, 3);
    assert_eq!(fired[0].sample_event_ids, vec![2, 3, 4]);
    assert_eq!(fired[0].source, "s");
}

#[test]
fn a_firing_rule_does_not_fire_again_while_the_condition_holds() {
    let mut e = Engine::new(vec![rule(AlertKind::Burst, 2, 10, 0)]);
    event(&mut e, "s", 1, 0.0, false);
    assert_eq!(event(&mut e, "s", 2, 1.0, false).len(), 1);
    for i in 3..20 {
        assert!(event(&mut e, "s", i, 1.0 + i as f64 * 0.1, false).is_empty());
    }
}

#[test]
fn a_drained_window_resolves_at_the_moment_it_drained() {
    let mut e = Engine::new(vec![rule(AlertKind::Burst, 2, 10, 0)]);
    event(&mut e, "s", 1, 0.0, false);
    event(&mut e, "s", 2, 3.0, false);
    assert!(e.tick(t(9.0)).is_empty(), "both still inside");
    // At 10.0 the first event left the window; the tick at 12.7 notices.
    let resolved = e.tick(t(12.7));
    assert_eq!(states(&resolved), vec![(AlertState::Resolved, t(10.0))]);
    assert_eq!(resolved[0].count, 1);
    assert!(e.tick(t(20.0)).is_empty());
}

#[test]
fn the_cooldown_keeps_a_rule_quiet_and_it_fires_again_after() {
    let mut e = Engine::new(vec![rule(AlertKind::Burst, 1, 2, 30)]);
    assert_eq!(event(&mut e, "s", 1, 0.0, false).len(), 1);
    assert_eq!(e.tick(t(5.0))[0].state, AlertState::Resolved);
    // Inside the cooldown: quiet, on the event and on ticks.
    assert!(event(&mut e, "s", 2, 10.0, false).is_empty());
    assert!(e.tick(t(11.0)).is_empty());
    assert!(
        e.tick(t(20.0)).is_empty(),
        "drained and never fired: nothing to resolve"
    );
    // After it: fires again.
    let again = event(&mut e, "s", 3, 31.0, false);
    assert_eq!(states(&again), vec![(AlertState::Firing, t(31.0))]);
}

#[test]
fn a_condition_that_outlasts_the_cooldown_fires_when_the_cooldown_ends() {
    let mut e = Engine::new(vec![rule(AlertKind::Burst, 1, 2, 30)]);
    event(&mut e, "s", 1, 0.0, false);
    assert_eq!(e.tick(t(3.0))[0].state, AlertState::Resolved);
    let mut id = 2;
    for secs in (10..30).step_by(2) {
        assert!(
            event(&mut e, "s", id, secs as f64, false).is_empty(),
            "cooling down"
        );
        id += 1;
    }
    assert!(event(&mut e, "s", id, 29.5, false).is_empty());
    let fired = e.tick(t(30.5));
    assert_eq!(states(&fired), vec![(AlertState::Firing, t(30.0))]);
}

#[test]
fn errors_count_only_error_events() {
    let mut e = Engine::new(vec![rule(AlertKind::Errors, 2, 60, 0)]);
    for i in 0..10 {
        assert!(event(&mut e, "s", i, i as f64, false).is_empty());
    }
    assert!(event(&mut e, "s", 10, 10.0, true).is_empty());
    let fired = event(&mut e, "s", 11, 11.0, true);
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].kind, AlertKind::Errors);
    assert_eq!(fired[0].sample_event_ids, vec![10, 11]);
}

#[test]
fn signature_failures_count_only_failed_signatures() {
    let mut e = Engine::new(vec![rule(AlertKind::SignatureFailures, 1, 60, 0)]);
    assert!(event(&mut e, "s", 1, 0.0, false).is_empty());
    assert_eq!(event(&mut e, "s", 2, 1.0, true)[0].count, 1);
}

#[test]
fn silence_fires_window_secs_after_the_last_event_and_resolves_on_the_next() {
    let mut e = Engine::new(vec![rule(AlertKind::Silence, 1, 30, 0)]);
    assert!(e.tick(t(100.0)).is_empty(), "nothing seen yet: no silence");
    event(&mut e, "s", 7, 0.0, false);
    assert!(e.tick(t(29.0)).is_empty());
    let fired = e.tick(t(31.5));
    assert_eq!(states(&fired), vec![(AlertState::Firing, t(30.0))]);
    assert_eq!(
        (fired[0].count, fired[0].sample_event_ids.clone()),
        (0, vec![7])
    );
    assert!(e.tick(t(60.0)).is_empty(), "fires once");
    let resolved = event(&mut e, "s", 8, 70.0, false);
    assert_eq!(states(&resolved), vec![(AlertState::Resolved, t(70.0))]);
}

#[test]
fn silence_without_a_source_watches_each_source_seen() {
    let mut e = Engine::new(vec![rule(AlertKind::Silence, 1, 10, 0)]);
    event(&mut e, "a", 1, 0.0, false);
    event(&mut e, "b", 2, 5.0, false);
    let fired = e.tick(t(11.0));
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].source, "a");
    assert_eq!(e.tick(t(16.0))[0].source, "b");
}

#[test]
fn a_silence_noticed_only_when_the_next_event_arrives_still_fires_then_resolves() {
    let mut e = Engine::new(vec![rule(AlertKind::Silence, 1, 10, 0)]);
    event(&mut e, "s", 1, 0.0, false);
    let both = event(&mut e, "s", 2, 50.0, false);
    assert_eq!(
        states(&both),
        vec![
            (AlertState::Firing, t(10.0)),
            (AlertState::Resolved, t(50.0))
        ]
    );
}

#[test]
fn sources_are_evaluated_apart_and_a_named_source_ignores_others() {
    let mut named = rule(AlertKind::Burst, 2, 10, 0);
    named.source = Some("stripe".into());
    let mut e = Engine::new(vec![named, rule(AlertKind::Burst, 2, 10, 0)]);
    event(&mut e, "stripe", 1, 0.0, false);
    let fired = event(&mut e, "github", 2, 0.1, false);
    assert!(fired.is_empty(), "one event each: no source reached 2");
    let fired = event(&mut e, "stripe", 3, 0.2, false);
    assert_eq!(fired.len(), 2, "the named rule and the any-source rule");
    assert!(fired.iter().all(|a| a.source == "stripe"));
}

#[test]
fn memory_stays_bounded_by_threshold_and_source_cap() {
    let mut e = Engine::new(vec![rule(AlertKind::Burst, 5, 3600, 0)]);
    for i in 0..(MAX_SOURCES as i64 * 2) {
        event(&mut e, &format!("src{i}"), i, i as f64 * 0.001, false);
    }
    for i in 0..10_000 {
        event(&mut e, "hot", i, 10.0 + i as f64 * 0.0001, false);
    }
    assert!(e.sources.len() <= MAX_SOURCES);
    let hot = format!("{:?}", e.sources["hot"].trackers[0]);
    assert!(hot.matches("(").count() < 20, "{hot}");
}

#[test]
fn ticks_forget_idle_window_trackers_but_keep_silence_watches() {
    let mut e = Engine::new(vec![
        rule(AlertKind::Burst, 5, 1, 0),
        rule(AlertKind::Silence, 1, 1000, 0),
    ]);
    event(&mut e, "s", 1, 0.0, false);
    e.tick(t(5.0));
    let slots = &e.sources["s"].trackers;
    assert!(slots[0].is_none());
    assert!(slots[1].is_some());
    let mut only_window = Engine::new(vec![rule(AlertKind::Burst, 5, 1, 0)]);
    event(&mut only_window, "s", 1, 0.0, false);
    only_window.tick(t(5.0));
    assert!(only_window.sources.is_empty());
}

#[test]
fn two_engines_fed_the_same_events_decide_the_same_alerts_whatever_their_tick_times() {
    let run = |ticks: &[f64]| {
        let mut e = Engine::new(vec![
            rule(AlertKind::Burst, 2, 5, 0),
            rule(AlertKind::Silence, 1, 8, 0),
        ]);
        let mut out = Vec::new();
        out.extend(event(&mut e, "s", 1, 0.0, false));
        out.extend(event(&mut e, "s", 2, 1.0, false));
        for tick in ticks {
            out.extend(e.tick(t(*tick)));
        }
        out.extend(event(&mut e, "s", 3, 30.0, false));
        states(&out)
    };
    assert_eq!(run(&[6.2, 9.9, 20.0]), run(&[7.0, 25.0]));
}

#[test]
fn events_slightly_out_of_time_order_still_count_in_their_place() {
    let mut e = Engine::new(vec![rule(AlertKind::Burst, 3, 10, 0)]);
    event(&mut e, "s", 2, 5.0, false);
    event(&mut e, "s", 1, 3.0, false);
    let fired = event(&mut e, "s", 3, 4.0, false);
    assert_eq!(fired[0].sample_event_ids, vec![1, 3, 2], "in time order");
    let resolved = e.tick(t(20.0));
    assert_eq!(states(&resolved), vec![(AlertState::Resolved, t(13.0))]);
}

#[test]
fn a_restarted_engine_continues_stored_alerts_and_their_cooldown() {
    use crate::model::Alert;
    let burst = || vec![rule(AlertKind::Burst, 2, 10, 300)];
    let mut first = Engine::new(burst());
    event(&mut first, "s", 1, 0.0, false);
    let fired = event(&mut first, "s", 2, 1.0, false);
    assert_eq!(states(&fired), vec![(AlertState::Firing, t(1.0))]);
    let stored = |alerts: &[NewAlert]| -> Vec<Alert> {
        let mut rows: Vec<Alert> = alerts
            .iter()
            .enumerate()
            .map(|(i, a)| Alert {
                id: i as i64 + 1,
                new: a.clone(),
            })
            .collect();
        rows.reverse(); // newest first, as the store lists them
        rows
    };
    // Another instance starting while the alert is open does not fire it again.
    let mut second = Engine::new(burst());
    second.remember(&stored(&fired));
    event(&mut second, "s", 3, 2.0, false);
    assert!(event(&mut second, "s", 4, 2.5, false).is_empty());
    // After it resolved, a restarted instance still honours the cooldown from the firing.
    let resolved = first.tick(t(20.0));
    assert_eq!(resolved.len(), 1, "{resolved:?}");
    let history: Vec<NewAlert> = fired.iter().chain(&resolved).cloned().collect();
    let mut third = Engine::new(burst());
    third.remember(&stored(&history));
    event(&mut third, "s", 5, 30.0, false);
    assert!(
        event(&mut third, "s", 6, 31.0, false).is_empty(),
        "still in the cooldown"
    );
    let mut forgetful = Engine::new(burst());
    event(&mut forgetful, "s", 5, 30.0, false);
    assert_eq!(
        event(&mut forgetful, "s", 6, 31.0, false).len(),
        1,
        "without the history it fires"
    );
}

#[test]
fn instances_resuming_an_open_alert_resolve_it_at_the_same_time() {
    use crate::model::Alert;
    let rules = || vec![rule(AlertKind::Burst, 2, 10, 0)];
    let mut first = Engine::new(rules());
    event(&mut first, "s", 1, 0.0, false);
    let fired = event(&mut first, "s", 2, 1.0, false);
    let stored = vec![Alert {
        id: 1,
        new: fired[0].clone(),
    }];
    // Both instances restart while it is open, see no events, and tick at different times.
    let mut a = Engine::new(rules());
    a.remember(&stored);
    let mut b = Engine::new(rules());
    b.remember(&stored);
    assert!(
        a.tick(t(5.0)).is_empty(),
        "its events may still be in the window"
    );
    let from_a = a.tick(t(12.5));
    let from_b = b.tick(t(40.0));
    assert_eq!(states(&from_a), vec![(AlertState::Resolved, t(11.0))]);
    assert_eq!(
        states(&from_b),
        states(&from_a),
        "one claim key: one notification"
    );
}

#[test]
fn a_forward_failures_rule_ignores_events_and_ticks_and_hears_attempts() {
    use crate::forward::outcome::{AttemptOutcome, Ended};
    let mut e = Engine::new(vec![rule(AlertKind::ForwardFailures, 1, 10, 0)]);
    assert!(event(&mut e, "s", 1, 0.0, true).is_empty());
    let stored = Alert {
        id: 1,
        new: NewAlert {
            rule: "forward_failures rule".into(),
            kind: AlertKind::ForwardFailures,
            source: "app".into(),
            state: AlertState::Firing,
            count: 1,
            window_secs: 10,
            at: t(0.0),
            sample_event_ids: vec![1],
        },
    };
    e.remember(&[stored]);
    // A stored firing is not resolved by time, as a window rule's would be.
    assert!(e.tick(t(100.0)).is_empty());
    let delivered = AttemptOutcome {
        target: "app".into(),
        event_id: 2,
        at: t(101.0),
        ended: Ended::Delivered,
    };
    assert_eq!(
        states(&e.attempt(&delivered)),
        vec![(AlertState::Resolved, t(101.0))]
    );
}
