use chrono::TimeZone;

use super::*;
use crate::store::DeliveryState;

fn at(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000, 0).unwrap() + chrono::Duration::milliseconds(ms)
}

fn settings(max_in_flight: u32, rate_per_sec: Option<f64>) -> TargetSettings {
    let mut s = TargetSettings::ad_hoc("http://127.0.0.1:9/");
    s.max_in_flight = max_in_flight;
    s.rate_per_sec = rate_per_sec;
    s.timeout = Duration::from_secs(10);
    s
}

fn delivery(id: i64) -> Delivery {
    Delivery {
        id,
        event_id: id,
        source: "stripe".into(),
        target: "app".into(),
        to: None,
        replay: 0,
        state: DeliveryState::Pending,
        attempts: 0,
        next_at: at(0),
        last_status: None,
        last_error: None,
    }
}

fn deliveries(ids: std::ops::Range<i64>) -> Vec<Delivery> {
    ids.map(delivery).collect()
}

#[test]
fn a_lane_claims_sixteen_per_slot_ahead_and_again_only_when_half_is_gone() {
    let mut q = Queue::new(&settings(2, None));
    let claim = q.claim(at(0), 0).expect("an empty lane claims");
    assert_eq!(claim.limit, 32);
    assert_eq!(claim.until, at(0) + chrono::Duration::seconds(10 + 30 + 15));
    assert_eq!(q.claim(at(0), 0), None, "one claim at a time");
    q.claimed(claim, deliveries(0..32));
    for id in 0..15 {
        assert_eq!(q.start(at(1), 0).unwrap().delivery.id, id);
    }
    assert_eq!(q.held(), 17);
    assert_eq!(q.claim(at(1), 0), None, "more than half still held");
    q.start(at(1), 0).unwrap();
    let again = q.claim(at(1), 0).expect("half gone");
    assert_eq!(again.limit, 16);
}

#[test]
fn twice_max_in_flight_are_handed_over_or_max_in_flight_with_a_rate() {
    let mut q = Queue::new(&settings(2, None));
    let claim = q.claim(at(0), 0).unwrap();
    q.claimed(claim, deliveries(0..5));
    assert!(q.start(at(0), 3).is_some());
    assert!(q.start(at(0), 4).is_none(), "two sending, two read ahead");
    assert_eq!(q.wake_at(4), Some(claim.until - q.attempt_span));
    let mut q = Queue::new(&settings(2, Some(1000.0)));
    let claim = q.claim(at(0), 0).unwrap();
    q.claimed(claim, deliveries(0..5));
    assert!(q.start(at(0), 1).is_some());
    assert!(
        q.start(at(10), 2).is_none(),
        "a rate-limited lane reads nothing ahead"
    );
}

#[test]
fn a_rate_spaces_the_starts_and_bounds_what_is_held() {
    let mut q = Queue::new(&settings(8, Some(2.0)));
    let claim = q.claim(at(0), 0).unwrap();
    assert_eq!(claim.limit, 15, "what 2/s starts in half of HOLD");
    q.claimed(claim, deliveries(0..15));
    assert!(q.start(at(0), 0).is_some());
    assert!(
        q.start(at(0), 1).is_none(),
        "the next one waits half a second"
    );
    assert!(q.start(at(499), 1).is_none());
    assert_eq!(q.wake_at(1), Some(at(500)));
    assert!(q.start(at(500), 1).is_some());
}

#[test]
fn a_delivery_held_past_hold_is_given_back_not_started() {
    let mut q = Queue::new(&settings(1, None));
    let claim = q.claim(at(0), 0).unwrap();
    q.claimed(claim, deliveries(0..3));
    assert!(q.expired(at(14_999)).is_empty());
    let gone = q.expired(at(15_000));
    assert_eq!(gone.len(), 3);
    assert_eq!(
        gone[0],
        Lease {
            delivery_id: 0,
            until: claim.until
        }
    );
    assert!(q.start(at(15_000), 0).is_none());
}

#[test]
fn a_dry_lane_claims_again_on_new_work_or_when_something_falls_due() {
    let mut q = Queue::new(&settings(8, None));
    let claim = q.claim(at(0), 7).unwrap();
    q.claimed(claim, deliveries(0..1));
    q.start(at(0), 0).unwrap();
    assert!(q.needs_due());
    assert_eq!(q.claim(at(1), 7), None, "dry, and no word yet");
    q.due(Some(at(2_000)), at(1));
    assert!(!q.needs_due());
    assert_eq!(q.wake_at(1), Some(at(2_000)));
    assert_eq!(q.claim(at(1_999), 7), None);
    let due = q.claim(at(2_000), 7).expect("a retry fell due");
    q.claimed(due, Vec::new());
    assert!(q.claim(at(2_001), 8).is_some(), "new work was announced");
}

#[test]
fn what_fell_due_after_an_empty_claim_is_claimed_at_once_and_older_dues_wait() {
    let mut q = Queue::new(&settings(8, None));
    let claim = q.claim(at(100), 0).unwrap();
    q.claimed(claim, Vec::new());
    q.due(Some(at(150)), at(200));
    assert!(
        q.claim(at(200), 0).is_some(),
        "it fell due after the claim looked"
    );
    let mut q = Queue::new(&settings(8, None));
    let claim = q.claim(at(100), 0).unwrap();
    q.claimed(claim, Vec::new());
    q.due(Some(at(50)), at(200));
    assert_eq!(q.claim(at(200), 0), None, "another lane's, or no rule's");
    assert_eq!(q.wake_at(0), Some(at(5_200)));
    q.due(None, at(200));
    assert_eq!(q.wake_at(0), Some(at(5_200)));
}

#[test]
fn a_pause_gives_back_everything_held_and_the_lane_claims_afresh() {
    let mut q = Queue::new(&settings(8, None));
    let claim = q.claim(at(0), 0).unwrap();
    q.claimed(claim, deliveries(0..3));
    q.start(at(0), 0).unwrap();
    let back: Vec<i64> = q.release_all().iter().map(|l| l.delivery_id).collect();
    assert_eq!(back, [1, 2]);
    assert!(q.claim(at(1), 0).is_some());
}

#[test]
fn a_recorded_retry_makes_a_dry_lane_ask_again_when_something_falls_due() {
    let mut q = Queue::new(&settings(8, None));
    let claim = q.claim(at(0), 0).unwrap();
    q.claimed(claim, Vec::new());
    q.due(None, at(1));
    assert_eq!(q.wake_at(0), Some(at(5_001)));
    q.due_changed();
    assert!(q.needs_due());
    q.due(Some(at(1_000)), at(2));
    assert_eq!(q.wake_at(0), Some(at(1_000)));
    assert!(q.claim(at(1_000), 0).is_some());
}

#[test]
fn a_slow_rate_claims_only_when_its_next_start_is_near() {
    let mut q = Queue::new(&settings(8, Some(0.05)));
    let claim = q.claim(at(0), 0).unwrap();
    assert_eq!(claim.limit, 1);
    q.claimed(claim, deliveries(0..1));
    q.start(at(0), 0).unwrap();
    assert_eq!(q.claim(at(1), 0), None, "the next start is 20 s away");
    assert_eq!(q.wake_at(1), Some(at(12_500)));
    q.due(None, at(1));
    assert_eq!(
        q.claim(at(5_001), 0),
        None,
        "later, and still the rate waits"
    );
    assert_eq!(
        q.wake_at(1),
        Some(at(12_500)),
        "and the worker is not woken before"
    );
    let next = q.claim(at(12_500), 0).expect("7.5 s before the next start");
    q.claimed(next, deliveries(1..2));
    assert!(q.expired(at(20_000)).is_empty());
    assert_eq!(q.start(at(20_000), 0).unwrap().delivery.id, 1);
}
