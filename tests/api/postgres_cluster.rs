//! Several instances on one PostgreSQL database, and PostgreSQL itself failing under load.
//!
//! Every test here needs PostgreSQL: skipped loudly without it, failed under `CI`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::load::*;
use crate::pg::fresh_db;
use crate::sse::SseReader;
use crate::support::*;
use crate::throwaway::Throwaway;

#[tokio::test]
async fn three_instances_share_events_dedup_and_the_live_stream() {
    let Some(db) = fresh_db().await else { return };
    let mut apps = Vec::new();
    for _ in 0..3 {
        apps.push(spawn_instance(&db.url).await);
    }
    let client = reqwest::Client::new();
    let mut stream_b = SseReader::open(&client, &apps[1].url("/api/stream"), None).await;
    let mut acked = BTreeMap::new();
    for n in 0..9 {
        let key = format!("rr-{n}");
        let (status, answer, _) = post_keyed(&client, &apps[n % 3].url(""), &key)
            .await
            .expect("post");
        assert_eq!(
            (status, answer["status"].as_str()),
            (200, Some("received")),
            "{answer}"
        );
        acked.insert(key, answer["id"].as_i64().expect("id"));
    }
    let streamed = stream_b.next_ids(9, Duration::from_secs(5)).await;
    let mut in_order: Vec<i64> = acked.values().copied().collect();
    in_order.sort_unstable();
    assert_eq!(
        streamed, in_order,
        "instance B streams every instance's events, in order"
    );
    for app in &apps {
        assert_exactly_once(&acked, &stored_by_key(&client, &app.url("")).await);
    }
    // A redelivery reaching another instance than the original is still a duplicate.
    let (status, again, _) = post_keyed(&client, &apps[2].url(""), "rr-0")
        .await
        .expect("post");
    assert_eq!((status, again["status"].as_str()), (200, Some("duplicate")));
    assert_eq!(again["id"].as_i64(), acked.get("rr-0").copied());
    // An event posted to A shows on B's stream within a second.
    let sent = Instant::now();
    let (_, answer, _) = post_keyed(&client, &apps[0].url(""), "to-a")
        .await
        .expect("post");
    let seen = stream_b.next_id(Duration::from_secs(1)).await;
    assert_eq!(
        seen,
        answer["id"].as_i64(),
        "seen after {:?}",
        sent.elapsed()
    );
    // Resuming on C with B's last id continues across instances.
    let mut stream_c =
        SseReader::open(&client, &apps[2].url("/api/stream"), Some(in_order[4])).await;
    let resumed = stream_c.next_ids(5, Duration::from_secs(5)).await;
    assert_eq!(resumed, [&in_order[5..], &[seen.expect("id")][..]].concat());
}

#[tokio::test]
async fn kill_9_of_one_instance_under_load_loses_no_acknowledged_event() {
    let Some(db) = fresh_db().await else { return };
    let dir = tempfile::tempdir().expect("dir");
    let mut a = spawn_binary(&db.url, dir.path()).await;
    let b = spawn_binary(&db.url, dir.path()).await;
    let bases = [a.base.clone(), b.base.clone()];
    let acked = Arc::new(Mutex::new(BTreeMap::<String, i64>::new()));
    let unanswered = Arc::new(Mutex::new(Vec::<String>::new()));
    let count = Arc::new(AtomicUsize::new(0));
    let client = reqwest::Client::new();
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (bases, acked, unanswered, count, client) = (
                bases.clone(),
                acked.clone(),
                unanswered.clone(),
                count.clone(),
                client.clone(),
            );
            tokio::spawn(async move {
                for i in 0..120 {
                    let key = format!("k-{w}-{i}");
                    match post_keyed(&client, &bases[(w + i) % 2], &key).await {
                        Some((200, answer, _)) => {
                            let id = answer["id"].as_i64().expect("id");
                            acked.lock().expect("lock").insert(key, id);
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => unanswered.lock().expect("lock").push(key),
                    }
                }
            })
        })
        .collect();
    eventually("some load acknowledged", || async {
        count.load(Ordering::Relaxed) >= 120
    })
    .await;
    a.child.start_kill().expect("kill -9");
    a.child.wait().await.expect("reaped");
    for worker in workers {
        worker.await.expect("worker");
    }
    let mut acked = acked.lock().expect("lock").clone();
    assert!(
        acked.len() >= 240,
        "B kept serving: {} acknowledged",
        acked.len()
    );
    // What A never answered may or may not have committed: a retry to B settles it.
    let unanswered = std::mem::take(&mut *unanswered.lock().expect("lock"));
    for key in unanswered {
        let (status, answer, _) = post_keyed(&client, &b.base, &key).await.expect("B answers");
        assert_eq!(status, 200, "{answer}");
        acked.insert(key, answer["id"].as_i64().expect("id"));
    }
    let stored = stored_by_key(&client, &b.base).await;
    assert_exactly_once(&acked, &stored);
    assert_eq!(stored.len(), 480, "every key once, nothing else");
}

/// One request of the fault test's load, with when it was sent and answered.
struct Record {
    sent: Instant,
    done: Instant,
    status: u16,
    retry_after: bool,
    key: String,
    id: Option<i64>,
}

#[tokio::test]
async fn postgres_stopped_mid_load_gets_503_then_recovers_without_losing_anything() {
    let Some(pg) = Throwaway::start_new().await else {
        return;
    };
    let app = spawn_instance(&pg.url()).await;
    let mut stream = SseReader::open(&app.client, &app.url("/api/stream"), None).await;
    let records = Arc::new(Mutex::new(Vec::<Record>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let (records, stop, client, base) = (
                records.clone(),
                stop.clone(),
                app.client.clone(),
                app.url(""),
            );
            tokio::spawn(async move {
                for i in 0..5000 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let key = format!("f-{w}-{i}");
                    let sent = Instant::now();
                    let (status, answer, retry_after) = post_keyed(&client, &base, &key)
                        .await
                        .expect("the app answers");
                    let id = answer["id"].as_i64();
                    let done = Instant::now();
                    let record = Record {
                        sent,
                        done,
                        status,
                        retry_after,
                        key,
                        id,
                    };
                    records.lock().expect("lock").push(record);
                    if status != 200 {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            })
        })
        .collect();
    let answered = |after: Instant, status: u16| {
        let records = records.lock().expect("lock");
        records
            .iter()
            .filter(|r| r.sent > after && r.status == status)
            .count()
    };
    let began = Instant::now();
    eventually("load acknowledged", || async { answered(began, 200) >= 30 }).await;
    pg.stop().await;
    let down_from = Instant::now();
    eventually("503s while down", || async {
        answered(down_from, 503) >= 10
    })
    .await;
    assert_eq!(app.get_status("/healthz").await, 503);
    let down_until = Instant::now();
    pg.start().await;
    eventually("recovery", || async { answered(down_until, 200) >= 30 }).await;
    assert_eq!(app.get_status("/healthz").await, 200);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("worker");
    }
    let records = std::mem::take(&mut *records.lock().expect("lock"));
    let while_down: Vec<&Record> = records
        .iter()
        .filter(|r| r.sent > down_from && r.done < down_until)
        .collect();
    assert!(while_down.len() >= 10);
    for r in &while_down {
        assert_eq!(
            (r.status, r.retry_after),
            (503, true),
            "{} while down",
            r.key
        );
    }
    let acked: BTreeMap<String, i64> = records
        .iter()
        .filter(|r| r.status == 200)
        .filter_map(|r| Some((r.key.clone(), r.id?)))
        .collect();
    assert_exactly_once(&acked, &stored_by_key(&app.client, &app.url("")).await);
    // The live stream outlived the outage: every acknowledged event, in order, no gap.
    let newest = acked.values().max().copied().unwrap_or(0);
    let mut streamed = Vec::new();
    while streamed.last().is_none_or(|&last| last < newest) {
        match stream.next_id(Duration::from_secs(5)).await {
            Some(id) => streamed.push(id),
            None => panic!("stream stalled after {:?}", streamed.last()),
        }
    }
    assert!(streamed.windows(2).all(|w| w[0] < w[1]), "in order");
    let missing: Vec<&i64> = acked.values().filter(|id| !streamed.contains(id)).collect();
    assert!(missing.is_empty(), "not streamed: {missing:?}");
}

#[tokio::test]
async fn instances_starting_at_once_migrate_the_database_once() {
    use hookwatch::store::{DatabaseUrl, StoreSettings, open};
    let Some(db) = fresh_db().await else { return };
    let url = DatabaseUrl::Postgres(db.url.clone());
    let settings = StoreSettings { pool_size: 2 };
    // Four instances open the empty database together: one migrates under the advisory
    // lock, the others wait for it and find nothing left to do.
    let opened = futures_util::future::join_all((0..4).map(|_| open(&url, &settings))).await;
    for store in &opened {
        assert!(store.is_ok(), "{:?}", store.as_ref().err());
    }
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let versions: Vec<i64> = client
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("schema_migrations")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let expected: Vec<i64> = (1..=versions.len() as i64).collect();
    assert!(versions.len() >= 4, "every migration applied: {versions:?}");
    assert_eq!(versions, expected, "each version once, in order");
    // One more instance, later, changes nothing and still works.
    let later = open(&url, &settings).await.expect("open later");
    drop(later);
    let again: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .expect("count")
        .get(0);
    assert_eq!(again, versions.len() as i64);
}

/// The last events of a burst on one instance reach an idle instance's stream at once, woken
/// by their NOTIFY, not on its next timed read (a second later).
#[tokio::test]
async fn the_end_of_a_burst_on_one_instance_reaches_an_idle_one_at_once() {
    let Some(db) = fresh_db().await else { return };
    let a = spawn_instance(&db.url).await;
    let b = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let mut stream_b = SseReader::open(&client, &b.url("/api/stream"), None).await;
    for round in 0..3 {
        let mut ids = Vec::new();
        for n in 0..4 {
            let (_, answer, _) = post_keyed(&client, &a.url(""), &format!("burst-{round}-{n}"))
                .await
                .expect("post");
            ids.push(answer["id"].as_i64().expect("id"));
        }
        let answered = Instant::now();
        assert_eq!(
            stream_b.next_ids(4, Duration::from_millis(500)).await,
            ids,
            "round {round}: {:?} after the last answer",
            answered.elapsed()
        );
    }
}
