//! The worker driven directly through the library: a feed, a store and a hanging service.

use std::sync::Arc;

use super::fake::{Reply, service};
use crate::support::eventually;

/// A stored event, straight through the store (no HTTP), for driving the worker directly.
async fn stored_event(store: &hookwatch::store::Store, n: usize) -> Arc<hookwatch::model::Event> {
    use hookwatch::model::{NewEvent, Provider, Signature, Status};
    let event = NewEvent {
        source: "s".into(),
        received_at: chrono::Utc::now(),
        method: "POST".into(),
        path: "/webhook/s".into(),
        query: String::new(),
        remote_addr: "127.0.0.1".into(),
        content_type: Some("application/json".into()),
        headers: Vec::new(),
        body: format!("{{\"type\":\"t{n}.failed\"}}").into_bytes(),
        provider: Provider::Generic,
        event_type: Some(format!("t{n}.failed")),
        delivery_id: None,
        signature: Signature::Unverified,
        signature_reason: None,
        signature_failure: false,
        status: Status::Received,
        is_error: true,
    };
    match store.insert(event).await.unwrap() {
        hookwatch::store::Inserted::Stored(event) => event,
        other => panic!("not stored: {other:?}"),
    }
}

#[tokio::test]
async fn a_full_queue_skips_and_counts_events_instead_of_waiting() {
    use hookwatch::enrich::{self, EnrichSettings, Kind, rule::Rule, template::Template};
    use hookwatch::feed::{Feed, FeedItem};
    let service = service("/s", vec![Reply::Hang]).await;
    let dir = tempfile::tempdir().unwrap();
    let url = hookwatch::store::DatabaseUrl::Sqlite(dir.path().join("h.db"));
    let settings = hookwatch::store::StoreSettings::default();
    let store = hookwatch::store::open(&url, &settings).await.unwrap();
    let settings = EnrichSettings {
        kind: Kind::Http {
            include_body: false,
        },
        url: service.url.clone(),
        api_key: None,
        api_key_env: None,
        query: Template::default(),
        rule: Rule {
            types: vec!["*".into()],
            errors: false,
        },
        cache_secs: 0,
        max_calls_per_day: 100,
        timeout_secs: 60,
        queue_size: 1,
    };
    let feed = Feed::default();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let enricher = enrich::spawn(
        settings,
        store.clone(),
        &feed,
        hookwatch::metrics::Metrics::default(),
        shutdown.clone(),
    )
    .unwrap();
    feed.publish(FeedItem::Event(stored_event(&store, 0).await));
    eventually("the worker is stuck on the first call", || async {
        service.seen().len() == 1
    })
    .await;
    for n in 1..5 {
        feed.publish(FeedItem::Event(stored_event(&store, n).await));
    }
    eventually("three of four are skipped (one fits the queue)", || async {
        enricher.skipped() == 3
    })
    .await;
    shutdown.cancel();
}

#[tokio::test]
async fn an_event_is_claimed_for_enrichment_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = hookwatch::store::DatabaseUrl::Sqlite(dir.path().join("h.db"));
    let settings = hookwatch::store::StoreSettings::default();
    let store = hookwatch::store::open(&url, &settings).await.unwrap();
    let event = stored_event(&store, 0).await;
    let now = chrono::Utc::now();
    let until = now + chrono::TimeDelta::seconds(60);
    let claims = futures_util::future::join_all(
        (0..4).map(|_| store.claim_enrichment(event.id, now, until)),
    );
    let won: Vec<bool> = claims.await.into_iter().map(Result::unwrap).collect();
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let pending = store.get(event.id).await.unwrap().unwrap().enrichment;
    assert_eq!(pending, Some(serde_json::json!({"pending": true})));
    let document = serde_json::json!({"query": "q", "results": [], "at": "t"});
    assert!(store.set_enrichment(event.id, &document).await.unwrap());
    assert!(
        !store.claim_enrichment(event.id, now, until).await.unwrap(),
        "done is not claimable"
    );
    assert!(!store.set_enrichment(999_999, &document).await.unwrap());
    assert!(!store.claim_enrichment(999_999, now, until).await.unwrap());
    let stored = store.get(event.id).await.unwrap().unwrap().enrichment;
    assert_eq!(stored, Some(document));
}
