//! The full-text index written behind ingest, through `Store` and `query::select` on both
//! backends: a search finds the same events whether the index has reached them or not, pages
//! stay exact across the index's cursor in both orders, steps are bounded, and imported
//! events the cursor has already passed are indexed by the import.

use std::sync::Arc;

use hookwatch::model::Event;
use hookwatch::query::select;
use hookwatch::search::{FieldFilter, TextQuery};
use hookwatch::store::{EventFilter, STEP_EVENTS, Store};

use crate::store_contract::{event, stored};

macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn on_sqlite() {
                let (store, _guard) = crate::store_contract::sqlite().await;
                super::$case(store).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let Some((store, _guard)) = crate::store_contract::postgres().await else {
                    return;
                };
                super::$case(store).await;
            }
        }
    )*};
}

on_both_stores!(
    a_search_finds_the_same_events_before_and_after_the_index_reaches_them,
    a_step_indexes_a_bounded_number_of_events,
    an_import_indexes_the_events_the_cursor_has_passed,
);

async fn store_body(store: &Store, body: &str) -> i64 {
    let mut e = event("s", Some("t.x"), None);
    e.body = body.as_bytes().to_vec();
    stored(store, e).await
}

/// Every page of a search, newest first (or oldest first from `after = 0`), as id lists.
async fn pages(store: &Store, q: &str, fields: &[&str], ascending: bool) -> Vec<Vec<i64>> {
    let fields: Vec<FieldFilter> = fields
        .iter()
        .map(|f| FieldFilter::parse(f).unwrap())
        .collect();
    let mut filter = EventFilter {
        text: Some(TextQuery::parse(q).expect("q")),
        after: ascending.then_some(0),
        limit: 2,
        ..EventFilter::default()
    };
    let mut pages = Vec::new();
    loop {
        let page = select::page(store, filter.clone(), &fields)
            .await
            .expect("page");
        pages.push(page.events.iter().map(|e| e.id).collect());
        let Some(next) = page.next else {
            return pages;
        };
        assert!(pages.len() < 20, "paging ends: {pages:?}");
        match ascending {
            true => filter.after = Some(next),
            false => filter.before = Some(next),
        }
    }
}

async fn a_search_finds_the_same_events_before_and_after_the_index_reaches_them(store: Store) {
    let mut wanted = Vec::new();
    let mut phrase = Vec::new();
    for round in 0..2 {
        for n in 0..6 {
            let body = match n % 3 {
                0 => format!(r#"{{"m":"Card declined","n":{n},"r":{round}}}"#),
                1 => format!(r#"{{"m":"declined card","n":{n},"r":{round}}}"#),
                _ => format!(r#"{{"m":"paid","n":{n},"r":{round}}}"#),
            };
            let id = store_body(&store, &body).await;
            if n % 3 != 2 {
                wanted.push(id);
            }
            if n % 3 == 0 {
                phrase.push(id);
            }
        }
        if round == 0 {
            let step = store.index_step().await.expect("step");
            assert_eq!((step.indexed, step.cursor, step.newest), (6, 6, 6));
        }
    }
    assert_eq!(store.indexed_through().await.expect("cursor"), 6);
    let newest_first: Vec<i64> = wanted.iter().rev().copied().collect();
    for indexed_all in [false, true] {
        let desc = pages(&store, "declined card", &[], false).await;
        assert_eq!(
            desc.concat(),
            newest_first,
            "{desc:?} (indexed all: {indexed_all})"
        );
        assert!(desc.iter().all(|p| p.len() <= 2), "{desc:?}");
        let asc = pages(&store, "decl*", &[], true).await;
        assert_eq!(asc.concat(), wanted, "{asc:?} (indexed all: {indexed_all})");
        let phrased = pages(&store, r#""card declined""#, &[], false).await;
        let phrase_newest_first: Vec<i64> = phrase.iter().rev().copied().collect();
        assert_eq!(phrased.concat(), phrase_newest_first);
        let fielded = pages(&store, "card", &["/r=1"], true).await;
        assert_eq!(fielded.concat(), wanted[4..].to_vec());
        assert_eq!(
            pages(&store, "refunded", &[], false).await,
            [Vec::<i64>::new()]
        );
        store.index_step().await.expect("step");
        assert_eq!(store.indexed_through().await.expect("cursor"), 12);
    }
}

async fn a_step_indexes_a_bounded_number_of_events(store: Store) {
    let events = STEP_EVENTS as i64 + 20;
    for n in 0..events {
        store_body(&store, &format!(r#"{{"w":"word{n}"}}"#)).await;
    }
    let first = store.index_step().await.expect("step");
    assert_eq!(first.indexed, STEP_EVENTS as u64);
    assert!(first.behind());
    let second = store.index_step().await.expect("step");
    assert_eq!((second.indexed, second.cursor), (20, events));
    assert!(!second.behind());
    let idle = store.index_step().await.expect("step");
    assert_eq!((idle.indexed, idle.cursor), (0, events));
    assert_eq!(pages(&store, "word7", &[], false).await, [vec![8]]);
}

async fn an_import_indexes_the_events_the_cursor_has_passed(store: Store) {
    let exported = |id: i64, word: &str| {
        let mut new = event("s", Some("t.x"), None);
        new.body = format!(r#"{{"w":"{word}"}}"#).into_bytes();
        Event {
            id,
            size: new.body.len() as i64,
            new,
            duplicates: 0,
            enrichment: None,
        }
    };
    let later: Arc<[Event]> = vec![exported(10, "later"), exported(11, "later")].into();
    assert_eq!(store.import(later).await.expect("import"), [true, true]);
    assert_eq!(store.indexed_through().await.expect("cursor"), 0);
    assert_eq!(pages(&store, "later", &[], false).await, [vec![11, 10]]);
    let step = store.index_step().await.expect("step");
    assert_eq!((step.indexed, step.cursor), (2, 11));
    // Ids the cursor has passed: nothing would index them but the import.
    let earlier: Arc<[Event]> = vec![exported(3, "earlier"), exported(4, "earlier")].into();
    assert_eq!(store.import(earlier).await.expect("import"), [true, true]);
    assert_eq!(store.index_step().await.expect("step").indexed, 0);
    assert_eq!(pages(&store, "earlier", &[], false).await, [vec![4, 3]]);
    assert_eq!(pages(&store, "later", &[], true).await, [vec![10, 11]]);
}
