//! The forwarding queue's store contract: the same cases against SQLite and PostgreSQL.

use chrono::Duration;
use hookwatch::store::{
    After, ClaimScope, DeliveryFilter, DeliveryState, Finished, Lease, NewDelivery, Store,
};

use crate::store_contract::{at, event, postgres, sqlite, stored};

macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn on_sqlite() {
                let (store, _guard) = super::sqlite().await;
                super::$case(store).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let Some((store, _guard)) = super::postgres().await else { return };
                super::$case(store).await;
            }
        }
    )*};
}

contract!(
    the_cursor_starts_at_the_newest_event_and_never_moves_back,
    enqueuing_twice_queues_each_delivery_once,
    a_claim_is_a_lease_limited_per_call_and_skips_paused_targets,
    a_finished_attempt_is_recorded_and_moves_the_delivery_on,
    a_batch_of_finished_attempts_is_recorded_together,
    a_given_back_lease_is_claimable_at_once_but_a_lease_taken_since_is_kept,
    replays_are_numbered_and_ad_hoc_ones_are_claimed_apart,
    deliveries_are_listed_newest_first_with_filters_and_totals,
    deleting_an_event_deletes_its_deliveries_and_their_attempts,
);

fn delivery(event_id: i64, target: &str) -> NewDelivery {
    NewDelivery {
        event_id,
        source: "stripe".into(),
        target: target.into(),
        to: None,
    }
}

fn target(name: &str) -> ClaimScope {
    ClaimScope::Target(name.into())
}

async fn the_cursor_starts_at_the_newest_event_and_never_moves_back(store: Store) {
    stored(&store, event("stripe", None, None)).await;
    let newest = stored(&store, event("stripe", None, None)).await;
    assert_eq!(store.start_forward_cursor().await.unwrap(), newest);
    stored(&store, event("stripe", None, None)).await;
    assert_eq!(
        store.start_forward_cursor().await.unwrap(),
        newest,
        "set once"
    );
    store
        .enqueue_deliveries(vec![], newest + 1, at(0, 0))
        .await
        .unwrap();
    store
        .enqueue_deliveries(vec![], newest - 1, at(0, 0))
        .await
        .unwrap();
    assert_eq!(store.start_forward_cursor().await.unwrap(), newest + 1);
}

async fn enqueuing_twice_queues_each_delivery_once(store: Store) {
    let id = stored(&store, event("stripe", None, None)).await;
    let both = vec![delivery(id, "app"), delivery(id, "audit")];
    store
        .enqueue_deliveries(both.clone(), id, at(0, 0))
        .await
        .unwrap();
    store.enqueue_deliveries(both, id, at(0, 5)).await.unwrap();
    let queued = store.deliveries_of_event(id).await.unwrap();
    assert_eq!(queued.len(), 2);
    assert!(queued.iter().all(|d| d.state == DeliveryState::Pending
        && d.attempts == 0
        && d.next_at == at(0, 0)
        && d.replay == 0));
}

async fn a_claim_is_a_lease_limited_per_call_and_skips_paused_targets(store: Store) {
    let mut queued = Vec::new();
    for _ in 0..3 {
        let id = stored(&store, event("stripe", None, None)).await;
        queued.push(delivery(id, "app"));
    }
    store.enqueue_deliveries(queued, 0, at(0, 0)).await.unwrap();
    let early = store
        .claim_deliveries(target("app"), at(0, 0) - Duration::seconds(1), at(1, 0), 10)
        .await
        .unwrap();
    assert!(early.is_empty(), "not due yet");
    let first = store
        .claim_deliveries(target("app"), at(0, 1), at(1, 0), 2)
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let second = store
        .claim_deliveries(target("app"), at(0, 2), at(1, 0), 10)
        .await
        .unwrap();
    assert_eq!(second.len(), 1, "the leased two are not claimed again");
    assert!(
        store
            .claim_deliveries(target("other"), at(0, 2), at(1, 0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let due = |scope, now| {
        let store = store.clone();
        async move { store.next_delivery_due(scope, now).await.unwrap() }
    };
    assert_eq!(
        due(target("app"), at(0, 2)).await,
        None,
        "all held by leases"
    );
    assert_eq!(
        due(target("app"), at(1, 1)).await,
        Some(at(0, 0)),
        "once the leases ran out, due since they were queued"
    );
    assert_eq!(due(target("other"), at(1, 1)).await, None);
    assert_eq!(due(ClaimScope::AdHoc, at(1, 1)).await, None);
    store
        .set_target_paused("app", true, at(0, 3))
        .await
        .unwrap();
    assert_eq!(due(target("app"), at(1, 1)).await, None, "paused");
    let paused = store
        .claim_deliveries(target("app"), at(2, 0), at(3, 0), 10)
        .await
        .unwrap();
    assert!(paused.is_empty(), "a paused target's deliveries wait");
    store
        .set_target_paused("app", false, at(2, 0))
        .await
        .unwrap();
    let taken_over = store
        .claim_deliveries(target("app"), at(2, 0), at(3, 0), 10)
        .await
        .unwrap();
    assert_eq!(taken_over.len(), 3, "expired leases are claimed again");
}

fn finished(delivery_id: i64, n: i64, status: Option<i64>, after: After) -> Finished {
    Finished {
        delivery_id,
        n,
        at: at(0, 10 * n),
        status,
        ms: 12,
        error: status.is_none().then(|| "connection refused".to_string()),
        response_excerpt: if status.is_some() {
            "oops".into()
        } else {
            String::new()
        },
        after,
    }
}

async fn a_finished_attempt_is_recorded_and_moves_the_delivery_on(store: Store) {
    let id = stored(&store, event("stripe", None, None)).await;
    store
        .enqueue_deliveries(vec![delivery(id, "app")], id, at(0, 0))
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries(target("app"), at(0, 0), at(1, 0), 1)
        .await
        .unwrap();
    let d = claimed[0].id;
    store
        .finish_attempt(finished(d, 1, None, After::RetryAt(at(0, 30))))
        .await
        .unwrap();
    let now = &store.deliveries_of_event(id).await.unwrap()[0];
    assert_eq!(
        (now.state, now.attempts, now.next_at),
        (DeliveryState::Pending, 1, at(0, 30))
    );
    assert_eq!(now.last_error.as_deref(), Some("connection refused"));
    assert!(
        store
            .claim_deliveries(target("app"), at(0, 20), at(1, 0), 1)
            .await
            .unwrap()
            .is_empty(),
        "the lease ended but the retry is not due"
    );
    assert_eq!(
        store
            .next_delivery_due(target("app"), at(0, 20))
            .await
            .unwrap(),
        Some(at(0, 30))
    );
    store
        .finish_attempt(finished(d, 2, Some(500), After::RetryAt(at(0, 40))))
        .await
        .unwrap();
    store
        .finish_attempt(finished(d, 3, Some(200), After::Delivered))
        .await
        .unwrap();
    store
        .finish_attempt(finished(d, 2, Some(500), After::RetryAt(at(0, 50))))
        .await
        .unwrap();
    let done = &store.deliveries_of_event(id).await.unwrap()[0];
    assert_eq!(
        (done.state, done.attempts, done.last_status),
        (DeliveryState::Delivered, 3, Some(200)),
        "a late finish of an earlier attempt does not move it back"
    );
    let attempts = store.attempts_of_event(id).await.unwrap();
    let ns: Vec<(i64, Option<i64>)> = attempts.iter().map(|a| (a.n, a.status)).collect();
    assert_eq!(ns, [(1, None), (2, Some(500)), (3, Some(200))]);
    assert_eq!(attempts[0].error.as_deref(), Some("connection refused"));
    assert!(attempts.iter().all(|a| a.target == "app" && !a.replay));
    let totals = store.target_totals("app").await.unwrap();
    assert_eq!((totals.pending, totals.delivered, totals.dead), (0, 1, 0));
    assert_eq!(store.pending_deliveries("app").await.unwrap(), 0);
    assert_eq!(totals.last_success_at, Some(at(0, 30)));
    assert_eq!(totals.last_error.as_deref(), Some("HTTP 500"));
    let due = store.next_delivery_due(target("app"), at(0, 50)).await;
    assert_eq!(due.unwrap(), None);
}

/// Stores `count` events, queues a delivery of each to `app` and claims them all until
/// `until`; answers the claimed deliveries' ids, in event order.
async fn claimed(store: &Store, count: usize, until: chrono::DateTime<chrono::Utc>) -> Vec<i64> {
    let mut queued = Vec::new();
    for _ in 0..count {
        let id = stored(store, event("stripe", None, None)).await;
        queued.push(delivery(id, "app"));
    }
    store.enqueue_deliveries(queued, 0, at(0, 0)).await.unwrap();
    let mut got = store
        .claim_deliveries(target("app"), at(0, 0), until, 100)
        .await
        .unwrap();
    got.sort_by_key(|d| d.event_id);
    got.iter().map(|d| d.id).collect()
}

async fn a_batch_of_finished_attempts_is_recorded_together(store: Store) {
    let ids = claimed(&store, 3, at(1, 0)).await;
    assert_eq!(ids.len(), 3);
    store
        .finish_attempts(vec![
            finished(ids[0], 1, Some(200), After::Delivered),
            finished(ids[1], 1, Some(500), After::RetryAt(at(0, 30))),
            finished(ids[2], 1, Some(410), After::Dead),
        ])
        .await
        .unwrap();
    let listed = store
        .list_deliveries(DeliveryFilter {
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let mut states: Vec<(i64, DeliveryState, i64, Option<i64>)> = listed
        .iter()
        .map(|d| (d.id, d.state, d.attempts, d.last_status))
        .collect();
    states.sort_by_key(|s| s.0);
    assert_eq!(
        states,
        [
            (ids[0], DeliveryState::Delivered, 1, Some(200)),
            (ids[1], DeliveryState::Pending, 1, Some(500)),
            (ids[2], DeliveryState::Dead, 1, Some(410)),
        ]
    );
    let retry = listed.iter().find(|d| d.id == ids[1]).unwrap();
    assert_eq!(retry.next_at, at(0, 30));
    for d in &listed {
        let attempts = store.attempts_of_event(d.event_id).await.unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].status, d.last_status);
        assert_eq!(attempts[0].response_excerpt, "oops");
    }
    assert_eq!(
        store
            .next_delivery_due(target("app"), at(0, 11))
            .await
            .unwrap(),
        Some(at(0, 30)),
        "the leases ended with the batch"
    );
    store.finish_attempts(Vec::new()).await.unwrap();
}

async fn a_given_back_lease_is_claimable_at_once_but_a_lease_taken_since_is_kept(store: Store) {
    let ids = claimed(&store, 2, at(1, 0)).await;
    let lease = |delivery_id, until| Lease { delivery_id, until };
    store
        .release_deliveries(vec![lease(ids[0], at(1, 0))])
        .await
        .unwrap();
    let again = store
        .claim_deliveries(target("app"), at(0, 1), at(2, 0), 10)
        .await
        .unwrap();
    let again: Vec<i64> = again.iter().map(|d| d.id).collect();
    assert_eq!(again, [ids[0]], "given back; the other is still leased");
    store
        .release_deliveries(vec![lease(ids[0], at(1, 0)), lease(ids[1], at(1, 0))])
        .await
        .unwrap();
    let after = store
        .claim_deliveries(target("app"), at(0, 2), at(3, 0), 10)
        .await
        .unwrap();
    let after: Vec<i64> = after.iter().map(|d| d.id).collect();
    assert_eq!(
        after,
        [ids[1]],
        "the old lease of the first no longer holds it: the claim at 2:00 is kept"
    );
}

async fn replays_are_numbered_and_ad_hoc_ones_are_claimed_apart(store: Store) {
    let id = stored(&store, event("stripe", None, None)).await;
    store
        .enqueue_deliveries(vec![delivery(id, "app")], id, at(0, 0))
        .await
        .unwrap();
    store
        .replay_deliveries(vec![delivery(id, "app")], at(0, 1))
        .await
        .unwrap();
    store
        .replay_deliveries(vec![delivery(id, "app")], at(0, 2))
        .await
        .unwrap();
    let ad_hoc = NewDelivery {
        to: Some("http://127.0.0.1:9/x".into()),
        target: "http://127.0.0.1:9/x".into(),
        ..delivery(id, "")
    };
    store
        .replay_deliveries(vec![ad_hoc], at(0, 3))
        .await
        .unwrap();
    let all = store.deliveries_of_event(id).await.unwrap();
    let replays: Vec<(String, i64)> = all.iter().map(|d| (d.target.clone(), d.replay)).collect();
    assert_eq!(
        replays,
        [
            ("app".to_string(), 0),
            ("app".to_string(), 1),
            ("app".to_string(), 2),
            ("http://127.0.0.1:9/x".to_string(), 1)
        ]
    );
    let due = store.next_delivery_due(ClaimScope::AdHoc, at(0, 4)).await;
    assert_eq!(due.unwrap(), Some(at(0, 3)), "the ad-hoc replay, not app's");
    let named = store
        .claim_deliveries(target("app"), at(1, 0), at(2, 0), 10)
        .await
        .unwrap();
    assert_eq!(named.len(), 3);
    let adhoc = store
        .claim_deliveries(ClaimScope::AdHoc, at(1, 0), at(2, 0), 10)
        .await
        .unwrap();
    assert_eq!(adhoc.len(), 1);
    assert_eq!(adhoc[0].to.as_deref(), Some("http://127.0.0.1:9/x"));
}

async fn deliveries_are_listed_newest_first_with_filters_and_totals(store: Store) {
    let a = stored(&store, event("stripe", None, None)).await;
    let b = stored(&store, event("github", None, None)).await;
    let queued = vec![
        delivery(a, "app"),
        NewDelivery {
            source: "github".into(),
            ..delivery(b, "app")
        },
        delivery(a, "audit"),
    ];
    store.enqueue_deliveries(queued, b, at(0, 0)).await.unwrap();
    let list = |filter: DeliveryFilter| {
        let store = store.clone();
        async move {
            let found = store.list_deliveries(filter).await.unwrap();
            found
                .iter()
                .map(|d| (d.event_id, d.target.clone()))
                .collect::<Vec<_>>()
        }
    };
    let every = DeliveryFilter {
        limit: 10,
        ..DeliveryFilter::default()
    };
    assert_eq!(
        list(every.clone()).await,
        [(a, "audit".into()), (b, "app".into()), (a, "app".into())]
    );
    let page = store
        .list_deliveries(DeliveryFilter {
            limit: 1,
            ..every.clone()
        })
        .await
        .unwrap();
    let rest = list(DeliveryFilter {
        before: Some(page[0].id),
        ..every.clone()
    })
    .await;
    assert_eq!(rest, [(b, "app".into()), (a, "app".into())]);
    let app_github = list(DeliveryFilter {
        target: Some("app".into()),
        source: Some("github".into()),
        ..every.clone()
    })
    .await;
    assert_eq!(app_github, [(b, "app".into())]);
    let delivered = list(DeliveryFilter {
        state: Some(DeliveryState::Delivered),
        ..every
    })
    .await;
    assert!(delivered.is_empty());
    let totals = store.target_totals("app").await.unwrap();
    assert_eq!((totals.pending, totals.delivered, totals.dead), (2, 0, 0));
    assert_eq!(store.pending_deliveries("app").await.unwrap(), 2);
    assert!(!totals.paused && totals.last_success_at.is_none() && totals.last_error.is_none());
}

async fn deleting_an_event_deletes_its_deliveries_and_their_attempts(store: Store) {
    let gone = stored(&store, event("stripe", None, None)).await;
    let kept = stored(&store, event("stripe", None, None)).await;
    let queued = vec![delivery(gone, "app"), delivery(kept, "app")];
    store
        .enqueue_deliveries(queued, kept, at(0, 0))
        .await
        .unwrap();
    for claimed in store
        .claim_deliveries(target("app"), at(0, 1), at(1, 0), 10)
        .await
        .unwrap()
    {
        let finished = Finished {
            delivery_id: claimed.id,
            n: 1,
            at: at(0, 1),
            status: Some(500),
            ms: 3,
            error: None,
            response_excerpt: "no".into(),
            after: After::RetryAt(at(0, 30)),
        };
        store.finish_attempt(finished).await.unwrap();
    }
    assert_eq!(store.attempts_of_event(gone).await.unwrap().len(), 1);
    assert_eq!(store.delete_events(&[gone]).await.unwrap(), 1);
    assert!(store.deliveries_of_event(gone).await.unwrap().is_empty());
    assert!(store.attempts_of_event(gone).await.unwrap().is_empty());
    let listed = store
        .list_deliveries(DeliveryFilter {
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].event_id, kept);
    assert_eq!(store.attempts_of_event(kept).await.unwrap().len(), 1);
    assert_eq!(store.target_totals("app").await.unwrap().pending, 1);
}
