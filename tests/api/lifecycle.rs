//! The data lifecycle: retention and pruning on both backends, through `Store`, the running
//! server and the `prune` command.

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, TimeZone, Utc};
use hookwatch::model::{NewEvent, Provider, Signature, Status};
use hookwatch::retention::{Retention, task};
use hookwatch::store::{self, DatabaseUrl, EventFilter, Inserted, Store, StoreSettings};
use tokio_util::sync::CancellationToken;

use crate::pg::{TestDb, fresh_db};
use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

/// Keeps a store's files or database alive for the test.
#[allow(dead_code)] // held for their Drop
pub enum Guard {
    Dir(tempfile::TempDir),
    Db(TestDb),
}

pub async fn sqlite() -> (Store, Guard, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("life.db");
    let url = format!("sqlite://{}", path.display());
    let store = store::open(&DatabaseUrl::Sqlite(path), &StoreSettings::default()).await;
    (store.expect("open sqlite"), Guard::Dir(dir), url)
}

pub async fn postgres() -> Option<(Store, Guard, String)> {
    let db = fresh_db().await?;
    let url = DatabaseUrl::Postgres(db.url.clone());
    let store = store::open(&url, &StoreSettings { pool_size: 4 }).await;
    let text = db.url.clone();
    Some((store.expect("open postgres"), Guard::Db(db), text))
}

/// One test per backend of an async fn taking a fresh store and its URL.
macro_rules! on_both {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn on_sqlite() {
                let (store, _guard, url) = super::sqlite().await;
                super::$case(store, url).await;
            }

            #[tokio::test]
            async fn on_postgres() {
                let Some((store, _guard, url)) = super::postgres().await else { return };
                super::$case(store, url).await;
            }
        }
    )*};
}

on_both!(
    an_age_cut_deletes_only_its_events_with_their_bodies_and_keeps_the_stats,
    max_events_keeps_the_newest_and_deletes_the_oldest_first,
    per_minute_counts_are_kept_400_days,
    deleting_the_same_events_twice_is_harmless,
    prune_on_the_command_line_counts_then_deletes,
);

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

pub fn event(source: &str, received_at: DateTime<Utc>, n: usize) -> NewEvent {
    NewEvent {
        source: source.into(),
        received_at,
        method: "POST".into(),
        path: format!("/webhook/{source}"),
        query: String::new(),
        remote_addr: "127.0.0.1".into(),
        content_type: Some("application/json".into()),
        headers: vec![("content-type".into(), "application/json".into())],
        body: format!("{{\"n\":{n}}}").into_bytes(),
        provider: Provider::Generic,
        event_type: Some(format!("t.{n}")),
        delivery_id: None,
        signature: Signature::Unverified,
        signature_reason: None,
        signature_failure: false,
        status: Status::Received,
        is_error: n.is_multiple_of(3),
    }
}

pub async fn stored(store: &Store, e: NewEvent) -> i64 {
    match store.insert(e).await.expect("insert") {
        Inserted::Stored(event) => event.id,
        other => panic!("expected a new event, got {other:?}"),
    }
}

async fn all_ids(store: &Store) -> Vec<i64> {
    let filter = EventFilter {
        limit: 1000,
        ..EventFilter::default()
    };
    let mut ids: Vec<i64> = store
        .list(filter)
        .await
        .expect("list")
        .iter()
        .map(|e| e.id)
        .collect();
    ids.sort();
    ids
}

async fn an_age_cut_deletes_only_its_events_with_their_bodies_and_keeps_the_stats(
    store: Store,
    _url: String,
) {
    let mut old = Vec::new();
    let mut kept = Vec::new();
    for n in 0..5 {
        old.push(
            stored(
                &store,
                event(
                    "a",
                    now() - Duration::days(40) + Duration::minutes(n as i64),
                    n,
                ),
            )
            .await,
        );
        kept.push(stored(&store, event("a", now() - Duration::days(2), 10 + n)).await);
        // Source b has a longer retention of its own: its old events stay.
        kept.push(stored(&store, event("b", now() - Duration::days(40), 20 + n)).await);
    }
    let stats_before = store.stats(None).await.expect("stats");
    let retention = Retention {
        max_age: Some(Duration::days(30)),
        sources: [("b".to_string(), Duration::days(90))].into(),
        ..Retention::default()
    };
    let deleted = task::run(&store, &retention.plan(now()), &CancellationToken::new())
        .await
        .expect("prune");
    assert_eq!(deleted, 5);
    kept.sort();
    assert_eq!(all_ids(&store).await, kept);
    for id in old {
        assert!(
            store.get(id).await.expect("get").is_none(),
            "event {id} is gone"
        );
    }
    let whole = store.get(kept[0]).await.expect("get").expect("kept");
    assert!(!whole.new.body.is_empty() && !whole.new.headers.is_empty());
    let stats_after = store.stats(None).await.expect("stats");
    assert_eq!(stats_after, stats_before, "pruning never reduces the stats");
    assert_eq!(stats_after.total, 15);
}

async fn max_events_keeps_the_newest_and_deletes_the_oldest_first(store: Store, _url: String) {
    let mut ids = Vec::new();
    for n in 0..25 {
        ids.push(
            stored(
                &store,
                event("a", now() - Duration::minutes(60 - n as i64), n),
            )
            .await,
        );
    }
    assert_eq!(
        store.newest_beyond(10).await.expect("beyond"),
        Some(ids[14])
    );
    assert_eq!(store.newest_beyond(25).await.expect("beyond"), None);
    let retention = Retention {
        max_events: Some(10),
        ..Retention::default()
    };
    let deleted = task::run(&store, &retention.plan(now()), &CancellationToken::new())
        .await
        .expect("prune");
    assert_eq!(deleted, 15);
    assert_eq!(all_ids(&store).await, ids[15..].to_vec());
    assert_eq!(store.stats(None).await.expect("stats").total, 25);
}

async fn per_minute_counts_are_kept_400_days(store: Store, _url: String) {
    stored(&store, event("a", now() - Duration::days(401), 1)).await;
    stored(&store, event("a", now() - Duration::days(399), 2)).await;
    let plan = Retention::default().plan(now());
    let deleted = task::run(&store, &plan, &CancellationToken::new())
        .await
        .expect("prune");
    assert_eq!(deleted, 0, "no rule deletes events");
    assert_eq!(all_ids(&store).await.len(), 2);
    let stats = store.stats(None).await.expect("stats");
    assert_eq!(
        stats.total, 1,
        "the minute of 401 days ago is forgotten, not the other"
    );
}

async fn deleting_the_same_events_twice_is_harmless(store: Store, _url: String) {
    let a = stored(&store, event("a", now(), 1)).await;
    let b = stored(&store, event("a", now(), 2)).await;
    let (forward, backward) = ([a, b], [b, a]);
    let (first, second) = tokio::join!(
        store.delete_events(&forward),
        store.delete_events(&backward)
    );
    assert_eq!(first.expect("delete") + second.expect("delete"), 2);
    assert_eq!(store.delete_events(&[a, b, 999]).await.expect("delete"), 0);
    assert_eq!(store.delete_events(&[]).await.expect("delete"), 0);
    let c = stored(&store, event("a", now(), 3)).await;
    assert!(c > b, "new ids keep growing after a deletion");
}

async fn prune_on_the_command_line_counts_then_deletes(store: Store, url: String) {
    let recent = Utc::now() - Duration::hours(1);
    let old = Utc::now() - Duration::days(10);
    stored(&store, event("a", old, 1)).await;
    stored(&store, event("b", old, 2)).await;
    stored(&store, event("b", old, 3)).await;
    let fresh = stored(&store, event("a", recent, 4)).await;
    let dir = tempfile::tempdir().unwrap();
    let dry = cli(
        dir.path(),
        &[
            "prune",
            "--database",
            &url,
            "--older-than",
            "1w",
            "--dry-run",
        ],
    );
    assert_eq!(dry.status.code(), Some(0), "{dry:?}");
    assert!(stdout(&dry).contains("would delete 3 events"), "{dry:?}");
    assert_eq!(all_ids(&store).await.len(), 4, "a dry run deletes nothing");
    let only_b = cli(
        dir.path(),
        &[
            "prune",
            "--database",
            &url,
            "--older-than",
            "7d",
            "--source",
            "b",
        ],
    );
    assert!(
        stdout(&only_b).contains("deleted 2 events of source b"),
        "{only_b:?}"
    );
    let rest = cli(
        dir.path(),
        &["prune", "--database", &url, "--older-than", "12h"],
    );
    assert!(stdout(&rest).contains("deleted 1 events"), "{rest:?}");
    assert_eq!(all_ids(&store).await, vec![fresh]);
    assert_eq!(store.stats(None).await.expect("stats").total, 4);
}

pub fn cli(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_CONFIG")
        .output()
        .expect("run hookwatch")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn prune_refuses_a_bad_age_or_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("missing.db").display());
    for age in ["0d", "-1", "abc", "3y"] {
        let out = cli(
            dir.path(),
            &["prune", "--database", &db, "--older-than", age],
        );
        assert_eq!(out.status.code(), Some(2), "{age}: {out:?}");
        assert!(stderr(&out).contains("older-than"), "{out:?}");
    }
    let out = cli(
        dir.path(),
        &["prune", "--database", &db, "--older-than", "1d"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("no database"), "{out:?}");
    assert!(
        !dir.path().join("missing.db").exists(),
        "no database is created"
    );
}

#[test]
fn a_bad_retention_stops_start_up_naming_the_key_and_a_good_one_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("[retention]\nmax_age = \"0d\"\n", "retention.max_age"),
        ("[retention]\nmax_age = -1\n", "retention.max_age"),
        (
            "[retention]\nmax_events = \"abc\"\n",
            "retention.max_events",
        ),
        ("[sources.s]\nretention = \"abc\"\n", "sources.s.retention"),
    ] {
        std::fs::write(dir.path().join("r.toml"), text).unwrap();
        let out = cli(dir.path(), &["check-config", "--config", "r.toml"]);
        assert_eq!(out.status.code(), Some(2), "{text}: {out:?}");
        assert!(stderr(&out).contains(key), "{text}: {out:?}");
    }
    std::fs::write(
        dir.path().join("r.toml"),
        "[retention]\nmax_age = \"30d\"\nmax_events = 5000000\n[sources.stripe]\nretention = \"2w\"\n",
    )
    .unwrap();
    let out = cli(dir.path(), &["check-config", "--config", "r.toml"]);
    let text = stdout(&out);
    assert!(
        text.contains("[retention]\nmax_age = \"30d\"\nmax_events = 5000000"),
        "{text}"
    );
    assert!(text.contains("retention = \"14d\""), "{text}");
}

#[tokio::test]
async fn the_server_prunes_in_the_background_soon_after_start_and_keeps_stats() {
    let app = spawn_app_with("[retention]\nmax_events = 3\n").await;
    for n in 0..6 {
        let response = app.post("life", &[], format!("{{\"n\":{n}}}")).await;
        assert_eq!(response.status(), 200);
    }
    let deadline = Instant::now() + task::EVERY + StdDuration::from_secs(15);
    loop {
        let listed = app.get_json("/api/events").await;
        if listed["events"].as_array().unwrap().len() == 3 {
            let ids: Vec<i64> = listed["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap())
                .collect();
            assert_eq!(ids, vec![6, 5, 4], "the newest are kept");
            break;
        }
        assert!(Instant::now() < deadline, "pruned within a round: {listed}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    let stats = app.get_json("/api/stats").await;
    assert_eq!(stats["total"], 6);
    assert_eq!(stats["by_source"]["life"], 6);
    let per_minute: i64 = stats["rate"]
        .as_array()
        .unwrap()
        .iter()
        .map(|point| point["count"].as_i64().unwrap())
        .sum();
    assert_eq!(per_minute, 6, "per-minute counts are not reduced: {stats}");
    let sources = app.get_json("/api/sources").await;
    assert_eq!(sources["sources"][0]["count"], 6, "{sources}");
}

#[tokio::test]
async fn two_instances_pruning_one_postgres_database_at_once_do_not_conflict() {
    let Some((first, _guard, url)) = postgres().await else {
        return;
    };
    let settings = StoreSettings { pool_size: 4 };
    let second = store::open(&DatabaseUrl::Postgres(url), &settings)
        .await
        .expect("second instance");
    let inserts = (0..2500).map(|n| {
        let at = match n % 5 {
            0 => now() - Duration::hours(1),
            _ => now() - Duration::days(3),
        };
        first.insert(event(["a", "b"][n % 2], at, n))
    });
    for inserted in futures_util::future::join_all(inserts).await {
        inserted.expect("insert");
    }
    let retention = Retention {
        max_age: Some(Duration::days(1)),
        ..Retention::default()
    };
    let plan = retention.plan(now());
    let never = CancellationToken::new();
    let (one, two) = tokio::join!(
        task::run(&first, &plan, &never),
        task::run(&second, &plan, &never)
    );
    assert_eq!(
        one.expect("first") + two.expect("second"),
        2000,
        "each deleted once"
    );
    assert_eq!(all_ids(&second).await.len(), 500);
    assert_eq!(first.stats(None).await.expect("stats").total, 2500);
}

/// The database file and its WAL, in bytes.
fn file_size(path: &Path) -> u64 {
    let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    size(path) + size(&path.with_extension("db-wal"))
}

#[tokio::test]
async fn a_sqlite_file_stops_growing_once_pruning_keeps_up_with_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("steady.db");
    let store = store::open(
        &DatabaseUrl::Sqlite(path.clone()),
        &StoreSettings::default(),
    )
    .await
    .expect("open");
    let retention = Retention {
        max_events: Some(2000),
        ..Retention::default()
    };
    let never = CancellationToken::new();
    let mut sizes = Vec::new();
    for round in 0..16 {
        let inserts = (0..500).map(|n| {
            let mut e = event("steady", Utc::now(), round * 500 + n);
            e.body = vec![b'x'; 2000];
            store.insert(e)
        });
        for inserted in futures_util::future::join_all(inserts).await {
            inserted.expect("insert");
        }
        task::run(&store, &retention.plan(Utc::now()), &never)
            .await
            .expect("prune");
        sizes.push(file_size(&path));
    }
    assert_eq!(
        all_ids(&store).await.len(),
        1000,
        "listing is capped at 1000"
    );
    assert_eq!(
        store.newest_beyond(2000).await.expect("beyond"),
        None,
        "2000 kept"
    );
    assert!(store.newest_beyond(1999).await.expect("beyond").is_some());
    let (early, late) = (sizes[5], sizes[15]);
    assert!(
        late as f64 <= early as f64 * 1.2,
        "the file grew from {early} to {late} bytes at steady state: {sizes:?}"
    );
}
