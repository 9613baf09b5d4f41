//! The store contract: the same cases against SQLite and PostgreSQL, through `Store`.
//!
//! Each case is an async fn taking a fresh, empty store; `contract!` makes one test per
//! backend of it (`case::on_sqlite`, `case::on_postgres`), so a difference between the
//! backends shows up as one failing half of a pair.

use chrono::{DateTime, Duration, TimeZone, Utc};
use hookwatch::model::{NewEvent, Provider, Signature, Status};
use hookwatch::store::{self, DatabaseUrl, EventFilter, Inserted, Store, StoreSettings, TypeMatch};

use crate::pg::{TestDb, fresh_db};

/// Keeps a store's backing files or database alive for the test.
#[allow(dead_code)] // held for their Drop
pub(crate) enum Guard {
    Dir(tempfile::TempDir),
    Db(TestDb),
}

pub(crate) async fn sqlite() -> (Store, Guard) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = DatabaseUrl::Sqlite(dir.path().join("contract.db"));
    let store = store::open(&url, &StoreSettings::default()).await;
    (store.expect("open sqlite"), Guard::Dir(dir))
}

pub(crate) async fn postgres() -> Option<(Store, Guard)> {
    let db = fresh_db().await?;
    let url = DatabaseUrl::Postgres(db.url.clone());
    let store = store::open(&url, &StoreSettings { pool_size: 4 }).await;
    Some((store.expect("open postgres"), Guard::Db(db)))
}

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
    a_stored_event_comes_back_whole_with_its_binary_body_and_headers,
    a_redelivery_is_a_duplicate_counted_on_the_original,
    concurrent_redeliveries_store_one_event_and_count_the_rest,
    every_list_filter_selects_the_same_events,
    keyset_paging_walks_every_event_once,
    stats_and_sources_count_what_was_stored,
    an_enrichment_claim_is_a_lease_that_another_process_takes_over_once_expired,
    an_alert_whose_sender_died_is_taken_over_once_for_sending,
    an_alert_whose_sender_renews_its_lease_is_not_taken_over,
);

pub(crate) fn at(minute: i64, second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
        + Duration::minutes(minute)
        + Duration::seconds(second)
}

pub(crate) fn event(source: &str, event_type: Option<&str>, delivery_id: Option<&str>) -> NewEvent {
    NewEvent {
        source: source.into(),
        received_at: at(0, 0),
        method: "POST".into(),
        path: format!("/webhook/{source}"),
        query: String::new(),
        remote_addr: "127.0.0.1".into(),
        content_type: Some("application/json".into()),
        headers: vec![("content-type".into(), "application/json".into())],
        body: b"{}".to_vec(),
        provider: Provider::Generic,
        event_type: event_type.map(str::to_string),
        delivery_id: delivery_id.map(str::to_string),
        signature: Signature::Unverified,
        signature_reason: None,
        signature_failure: false,
        status: Status::Received,
        is_error: false,
    }
}

pub(crate) async fn stored(store: &Store, e: NewEvent) -> i64 {
    match store.insert(e).await.expect("insert") {
        Inserted::Stored(event) => event.id,
        Inserted::Duplicate { id } => panic!("expected a new event, got a duplicate of {id}"),
    }
}

async fn ids(store: &Store, filter: EventFilter) -> Vec<i64> {
    let events = store.list(filter).await.expect("list");
    events.iter().map(|e| e.id).collect()
}

async fn a_stored_event_comes_back_whole_with_its_binary_body_and_headers(store: Store) {
    let mut e = event("bin", Some("blob.sent"), Some("d-1"));
    e.body = (0..=255u8).chain([0, 0xff, 0xfe]).collect();
    e.headers = vec![
        ("x-dup".into(), "one".into()),
        ("x-dup".into(), "two".into()),
        ("x-latin".into(), "caf\u{e9}\u{ff}".into()),
    ];
    e.query = "a=1&b=%20".into();
    e.signature = Signature::Invalid;
    e.signature_reason = Some("wrong secret".into());
    e.signature_failure = true;
    e.is_error = true;
    e.received_at = at(3, 7) + Duration::microseconds(123_456);
    let returned = match store.insert(e.clone()).await.expect("insert") {
        Inserted::Stored(event) => event,
        other => panic!("{other:?}"),
    };
    let got = store.get(returned.id).await.expect("get").expect("found");
    assert_eq!(got.new, e);
    assert_eq!(got.size, e.body.len() as i64);
    assert_eq!(got.duplicates, 0);
    assert_eq!(got.enrichment, None);
    assert!(store.get(returned.id + 1000).await.expect("get").is_none());
    store.ping().await.expect("ping");
}

async fn a_redelivery_is_a_duplicate_counted_on_the_original(store: Store) {
    let first = stored(
        &store,
        event("stripe", Some("charge.failed"), Some("evt_1")),
    )
    .await;
    let again = store
        .insert(event("stripe", Some("charge.failed"), Some("evt_1")))
        .await
        .expect("insert");
    assert!(
        matches!(again, Inserted::Duplicate { id } if id == first),
        "{again:?}"
    );
    // Another source with the same delivery id is a different delivery.
    stored(&store, event("github", None, Some("evt_1"))).await;
    // A rejected (forged) delivery never takes part in dedup, in either direction.
    let mut forged = event("shop", None, Some("evt_9"));
    forged.status = Status::Rejected;
    stored(&store, forged.clone()).await;
    stored(&store, forged).await;
    let genuine = stored(&store, event("shop", None, Some("evt_9"))).await;
    let redelivered = store.insert(event("shop", None, Some("evt_9"))).await;
    assert!(matches!(redelivered, Ok(Inserted::Duplicate { id }) if id == genuine));
    // No delivery id: never a duplicate.
    stored(&store, event("plain", None, None)).await;
    stored(&store, event("plain", None, None)).await;
    let original = store.get(first).await.expect("get").expect("found");
    assert_eq!(original.duplicates, 1);
}

async fn concurrent_redeliveries_store_one_event_and_count_the_rest(store: Store) {
    let tasks: Vec<_> = (0..40)
        .map(|n| {
            let store = store.clone();
            let delivery = format!("evt_{}", n % 4);
            tokio::spawn(async move { store.insert(event("race", None, Some(&delivery))).await })
        })
        .collect();
    let mut stored_ids = Vec::new();
    let mut duplicate_of = Vec::new();
    for task in tasks {
        match task.await.expect("task").expect("insert") {
            Inserted::Stored(e) => stored_ids.push(e.id),
            Inserted::Duplicate { id } => duplicate_of.push(id),
        }
    }
    assert_eq!(stored_ids.len(), 4, "one stored event per delivery id");
    assert!(duplicate_of.iter().all(|id| stored_ids.contains(id)));
    let mut total = 0;
    for id in &stored_ids {
        total += store
            .get(*id)
            .await
            .expect("get")
            .expect("found")
            .duplicates;
    }
    assert_eq!(total, 36);
    assert_eq!(store.stats(None).await.expect("stats").duplicates, 36);
}

/// Events chosen to sit on the edges of every filter; returns their ids in insertion order.
async fn filter_fixture(store: &Store) -> Vec<i64> {
    let mut ids = Vec::new();
    for e in filter_events() {
        ids.push(stored(store, e).await);
    }
    ids
}

/// The events of `filter_fixture`, one minute apart.
fn filter_events() -> Vec<NewEvent> {
    let mut events = vec![
        event("stripe", Some("charge.failed"), None),
        event("stripe", Some("charge.succeeded"), None),
        event("stripe", Some("charge/x"), None),
        event("stripe", Some("chargeX"), None),
        event("stripe", Some("charge"), None),
        event("github", Some("charge.failed"), None),
        event("github", None, None),
        event("stripe", Some("ünïcode.événement"), None),
    ];
    events[0].is_error = true;
    events[5].is_error = true;
    events[3].status = Status::Rejected;
    events[3].signature = Signature::Invalid;
    events[6].signature = Signature::Valid;
    for (n, e) in events.iter_mut().enumerate() {
        e.received_at = at(n as i64, 0);
    }
    events
}

async fn every_list_filter_selects_the_same_events(store: Store) {
    let id = filter_fixture(&store).await;
    let f = |edit: fn(&mut EventFilter)| {
        let mut filter = EventFilter::default();
        edit(&mut filter);
        filter
    };
    let newest_first = |picks: &[usize]| picks.iter().rev().map(|&n| id[n]).collect::<Vec<_>>();
    let cases: Vec<(&str, EventFilter, Vec<i64>)> = vec![
        ("all", f(|_| {}), newest_first(&[0, 1, 2, 3, 4, 5, 6, 7])),
        (
            "source",
            f(|f| f.source = Some("github".into())),
            newest_first(&[5, 6]),
        ),
        (
            "type exact",
            f(|f| f.event_type = Some(TypeMatch::Exact("charge.failed".into()))),
            newest_first(&[0, 5]),
        ),
        (
            "type prefix",
            f(|f| f.event_type = Some(TypeMatch::Prefix("charge.".into()))),
            newest_first(&[0, 1, 5]),
        ),
        (
            "type prefix unicode",
            f(|f| f.event_type = Some(TypeMatch::Prefix("ünï".into()))),
            newest_first(&[7]),
        ),
        (
            "any type",
            f(|f| f.event_type = Some(TypeMatch::Prefix(String::new()))),
            newest_first(&[0, 1, 2, 3, 4, 5, 7]),
        ),
        (
            "status",
            f(|f| f.status = Some(Status::Rejected)),
            newest_first(&[3]),
        ),
        (
            "signature",
            f(|f| f.signature = Some(Signature::Valid)),
            newest_first(&[6]),
        ),
        (
            "error",
            f(|f| f.is_error = Some(true)),
            newest_first(&[0, 5]),
        ),
        (
            "not error",
            f(|f| f.is_error = Some(false)),
            newest_first(&[1, 2, 3, 4, 6, 7]),
        ),
        (
            "since and until",
            f(|f| {
                f.since = Some(at(2, 0));
                f.until = Some(at(4, 0));
            }),
            newest_first(&[2, 3, 4]),
        ),
        ("limit", f(|f| f.limit = 2), newest_first(&[6, 7])),
    ];
    for (name, filter, want) in cases {
        assert_eq!(ids(&store, filter).await, want, "filter: {name}");
    }
}

async fn keyset_paging_walks_every_event_once(store: Store) {
    let mut all = Vec::new();
    for n in 0..25 {
        all.push(stored(&store, event("page", Some(&format!("t.{n}")), None)).await);
    }
    let mut seen = Vec::new();
    let mut before = None;
    for _ in 0..10 {
        let page = ids(
            &store,
            EventFilter {
                before,
                limit: 10,
                ..EventFilter::default()
            },
        )
        .await;
        if page.is_empty() {
            break;
        }
        before = page.last().copied();
        seen.extend(page);
    }
    let newest_first: Vec<i64> = all.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);
    let after = ids(
        &store,
        EventFilter {
            after: Some(all[19]),
            ..EventFilter::default()
        },
    )
    .await;
    assert_eq!(after, all[20..].to_vec(), "after: oldest first");
}

async fn stats_and_sources_count_what_was_stored(store: Store) {
    filter_fixture(&store).await;
    let mut failure = event("github", Some("push"), Some("g-1"));
    failure.signature = Signature::Missing;
    failure.signature_failure = true;
    failure.received_at = at(1, 30);
    failure.provider = Provider::Github;
    stored(&store, failure.clone()).await;
    store.insert(failure).await.expect("redelivery");
    let stats = store.stats(None).await.expect("stats");
    assert_eq!(stats.total, 9);
    assert_eq!(stats.by_source.get("stripe"), Some(&6));
    assert_eq!(stats.by_source.get("github"), Some(&3));
    assert_eq!(stats.by_type.get("charge.failed"), Some(&2));
    assert_eq!(stats.by_type.get("push"), Some(&1));
    assert_eq!(stats.errors, 2);
    assert_eq!(stats.rejected, 1);
    assert_eq!(stats.signature_failures, 1);
    assert_eq!(stats.duplicates, 1);
    assert_eq!(stats.latest.get("stripe"), Some(&at(7, 0)));
    assert_eq!(stats.latest.get("github"), Some(&at(6, 0)));
    let since = store.stats(Some(at(5, 0))).await.expect("stats since");
    assert_eq!(since.total, 3);
    assert_eq!(since.rate.len(), 3);
    assert_eq!(since.rate[0].minute, at(5, 0));
    let sources = store.sources().await.expect("sources");
    let names: Vec<&str> = sources.iter().map(|s| s.source.as_str()).collect();
    assert_eq!(names, ["github", "stripe"]);
    assert_eq!((sources[0].count, sources[0].errors), (3, 1));
    assert_eq!(sources[0].provider, "github");
    assert_eq!(sources[0].last_received, at(6, 0));
}

/// Both backends must agree on these numbers exactly, so also compare them with each other.
#[tokio::test]
async fn both_backends_answer_stats_identically() {
    let (sqlite_store, _a) = sqlite().await;
    let Some((pg_store, _b)) = postgres().await else {
        return;
    };
    for store in [&sqlite_store, &pg_store] {
        filter_fixture(store).await;
        store
            .insert(event("x", Some("a.b"), Some("d")))
            .await
            .expect("insert");
        store
            .insert(event("x", Some("a.b"), Some("d")))
            .await
            .expect("insert");
    }
    assert_same_counts(&sqlite_store, &pg_store).await;
}

/// Both backends must agree on these numbers exactly.
async fn assert_same_counts(sqlite_store: &Store, pg_store: &Store) {
    let since = Some(at(0, 0));
    assert_eq!(
        sqlite_store.stats(since).await.expect("sqlite stats"),
        pg_store.stats(since).await.expect("pg stats")
    );
    assert_eq!(
        sqlite_store.sources().await.expect("sqlite sources"),
        pg_store.sources().await.expect("pg sources")
    );
}

/// Sends every event at once; returns how many were answered as duplicates.
async fn all_at_once(store: &Store, events: &[NewEvent]) -> usize {
    let sent = events.iter().cloned().map(|e| {
        let store = store.clone();
        tokio::spawn(async move { store.insert(e).await.expect("insert") })
    });
    let answers = futures_util::future::join_all(sent).await;
    answers
        .into_iter()
        .filter(|a| matches!(a.as_ref().expect("task"), Inserted::Duplicate { .. }))
        .count()
}

/// Many events sent at once are written in few batches (on PostgreSQL each batch adds up its
/// own rollups in SQL): the counts must still match SQLite's exactly, and the events'.
#[tokio::test]
async fn both_backends_count_events_written_together_identically() {
    let (sqlite_store, _a) = sqlite().await;
    let Some((pg_store, _b)) = postgres().await else {
        return;
    };
    // Three rounds of new events, then two rounds redelivering the first one's, sent at
    // once: redeliveries of stored events and of each other in one batch.
    let round = |round: i64| -> Vec<NewEvent> {
        let mut events = filter_events();
        for e in &mut events {
            let kind = e.event_type.as_deref().unwrap_or("-");
            e.delivery_id = Some(format!("{kind}-{}", if round < 3 { round } else { 0 }));
            e.signature_failure = round == 1;
            e.is_error |= round == 2;
            e.received_at += Duration::seconds(round * 20);
        }
        events
    };
    let new: Vec<NewEvent> = (0..3).flat_map(round).collect();
    let again: Vec<NewEvent> = (3..5).flat_map(round).collect();
    for store in [&sqlite_store, &pg_store] {
        assert_eq!(all_at_once(store, &new).await, 0);
        // The rejected event of each round is stored again: never a duplicate.
        assert_eq!(all_at_once(store, &again).await, 14);
        let stats = store.stats(None).await.expect("stats");
        assert_eq!((stats.total, stats.duplicates), (26, 14));
        assert_eq!((stats.signature_failures, stats.errors), (8, 12));
        let counted: i64 = store
            .list(EventFilter::default())
            .await
            .expect("list")
            .iter()
            .map(|e| e.duplicates)
            .sum();
        assert_eq!(counted, 14, "each redelivery counted on its original");
    }
    assert_same_counts(&sqlite_store, &pg_store).await;
}

async fn an_enrichment_claim_is_a_lease_that_another_process_takes_over_once_expired(store: Store) {
    let Inserted::Stored(stored) = store.insert(event("s", Some("t"), None)).await.unwrap() else {
        panic!("stored")
    };
    let id = stored.id;
    let (now, lease) = (at(0, 0), Duration::seconds(60));
    assert!(store.claim_enrichment(id, now, now + lease).await.unwrap());
    let soon = now + Duration::seconds(30);
    assert!(
        !store
            .claim_enrichment(id, soon, soon + lease)
            .await
            .unwrap(),
        "a live claim is not taken"
    );
    assert!(
        store
            .expired_enrichment_claims(soon, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // Its process died: after the lease, the claim is listed, and taken over once.
    let later = now + Duration::seconds(61);
    assert_eq!(
        store.expired_enrichment_claims(later, 10).await.unwrap(),
        vec![id]
    );
    assert!(
        store
            .claim_enrichment(id, later, later + lease)
            .await
            .unwrap()
    );
    assert!(
        !store
            .claim_enrichment(id, later, later + lease)
            .await
            .unwrap()
    );
    // A result ends the lease for good.
    let document = serde_json::json!({"query": "q", "results": [], "at": "x"});
    assert!(store.set_enrichment(id, &document).await.unwrap());
    let much_later = now + Duration::days(1);
    assert!(
        store
            .expired_enrichment_claims(much_later, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store
            .claim_enrichment(id, much_later, much_later + lease)
            .await
            .unwrap()
    );
    let detail = store.get(id).await.unwrap().expect("event");
    assert_eq!(detail.enrichment, Some(document));
}

/// A burst alert of `rule` firing at the start of the test's clock.
fn firing(rule: &str) -> hookwatch::model::NewAlert {
    use hookwatch::model::{AlertKind, AlertState, NewAlert};
    NewAlert {
        rule: rule.into(),
        kind: AlertKind::Burst,
        source: "s".into(),
        state: AlertState::Firing,
        count: 3,
        window_secs: 60,
        at: at(0, 0),
        sample_event_ids: vec![1, 2, 3],
    }
}

/// Claims `new` with a sending lease until `until`; its id.
async fn claimed(store: &Store, new: &hookwatch::model::NewAlert, until: DateTime<Utc>) -> i64 {
    store
        .claim_alert(new, until)
        .await
        .unwrap()
        .expect("claimed")
}

/// The alerts whose sending lease ran out by `now`, taken for another `lease`.
async fn taken_at(
    store: &Store,
    now: DateTime<Utc>,
    lease: Duration,
) -> Vec<hookwatch::model::Alert> {
    store
        .take_unnotified_alerts(now, now + lease, 10)
        .await
        .unwrap()
}

async fn an_alert_whose_sender_died_is_taken_over_once_for_sending(store: Store) {
    let new = firing("burst");
    let (now, lease) = (at(0, 0), Duration::minutes(10));
    let id = claimed(&store, &new, now + lease).await;
    let soon = now + Duration::minutes(5);
    assert!(taken_at(&store, soon, lease).await.is_empty());
    // Its sender died: after the lease another process takes it, once.
    let later = now + Duration::minutes(11);
    let taken = taken_at(&store, later, lease).await;
    assert_eq!(taken.len(), 1);
    assert_eq!((taken[0].id, &taken[0].new), (id, &new));
    assert!(taken_at(&store, later, lease).await.is_empty());
    // Every sink done: never again.
    store.alert_notified(id).await.unwrap();
    let much_later = now + Duration::days(1);
    assert!(taken_at(&store, much_later, lease).await.is_empty());
}

async fn an_alert_whose_sender_renews_its_lease_is_not_taken_over(store: Store) {
    let new = firing("slow-sink");
    let (now, lease) = (at(0, 0), Duration::minutes(10));
    let id = claimed(&store, &new, now + lease).await;
    // Its sender is alive but its sinks are slow: it renews before the lease runs out.
    let renewed_at = now + Duration::minutes(9);
    store
        .renew_alert_lease(id, renewed_at + lease)
        .await
        .unwrap();
    let after_first_lease = now + Duration::minutes(11);
    let taken = taken_at(&store, after_first_lease, lease).await;
    assert!(taken.is_empty(), "taken over from a live sender: {taken:?}");
    // It stops renewing (it died): taken over once the renewed lease runs out.
    let after_renewal = renewed_at + lease + Duration::minutes(1);
    let taken = taken_at(&store, after_renewal, lease).await;
    assert_eq!(taken.iter().map(|a| a.id).collect::<Vec<_>>(), [id]);
    // A renewal after every sink is done does not bring it back.
    store.alert_notified(id).await.unwrap();
    store
        .renew_alert_lease(id, after_renewal + lease)
        .await
        .unwrap();
    let much_later = now + Duration::days(1);
    assert!(taken_at(&store, much_later, lease).await.is_empty());
}
