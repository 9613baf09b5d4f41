//! The live stream on PostgreSQL with several writers: batches draw their ids under one
//! lock held to COMMIT, so ids become visible in order, and every stream carries each event
//! once, in id order, skipping none; nothing outside the batches holds the stream back.
//!
//! Every test here needs PostgreSQL: skipped loudly without it, failed under `CI`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use tokio_postgres::{Client, NoTls};

use crate::load::*;
use crate::pg::{IDS_LOCK, fresh_db};
use crate::sse::SseReader;
use crate::support::*;

/// A connection of its own, playing another instance's writer caught mid-batch.
async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Opens a transaction that takes the writers' lock, as a batch does before its ids.
async fn take_the_lock(client: &Client) {
    client
        .batch_execute(&format!("BEGIN; SELECT pg_advisory_xact_lock({IDS_LOCK})"))
        .await
        .expect("lock");
}

/// Draws the next event id in the open transaction, as a batch does under the lock.
async fn draw_an_id(client: &Client) -> i64 {
    client
        .query_one("SELECT nextval('events_id_seq')", &[])
        .await
        .expect("nextval")
        .get(0)
}

/// Waits until some session waits for the writers' lock: the instance's writer has sent its
/// batch and queues behind the holder.
async fn until_a_writer_waits(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let waiting: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
                &[],
            )
            .await
            .expect("pg_locks")
            .get(0);
        if waiting > 0 {
            return;
        }
        assert!(Instant::now() < deadline, "no writer waits for the lock");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Stores the held id as an event of source `late` and commits.
async fn commit_held(client: &Client, id: i64) {
    client
        .execute(
            "INSERT INTO events (id, source, received_at, method, path, query, remote_addr,
               size, provider, signature, signature_failure, status, is_error)
             VALUES ($1, 'late', (extract(epoch from now()) * 1000000)::int8, 'POST',
               '/webhook/late', '', '127.0.0.1', 2, 'generic', 'unverified', false,
               'received', false)",
            &[&id],
        )
        .await
        .expect("insert the held event");
    client
        .execute(
            "INSERT INTO bodies (id, headers, body) VALUES ($1, '[]', '{}')",
            &[&id],
        )
        .await
        .expect("insert its body");
    client.batch_execute("COMMIT").await.expect("commit");
}

/// Posts in a task of its own, for a post that waits for the lock.
fn post_later(client: &reqwest::Client, app: &TestApp, key: &str) -> JoinHandle<i64> {
    let (client, base, key) = (client.clone(), app.url(""), key.to_string());
    tokio::spawn(async move {
        let (status, answer, _) = post_keyed(&client, &base, &key).await.expect("post");
        assert_eq!(status, 200, "{answer}");
        answer["id"].as_i64().expect("id")
    })
}

async fn post_one(client: &reqwest::Client, app: &TestApp, key: &str) -> i64 {
    let (status, answer, _) = post_keyed(client, &app.url(""), key).await.expect("post");
    assert_eq!(status, 200, "{answer}");
    answer["id"].as_i64().expect("id")
}

#[tokio::test]
async fn a_batch_draws_its_ids_only_once_the_batch_before_it_has_committed() {
    let Some(db) = fresh_db().await else { return };
    let app = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let mut stream = SseReader::open(&client, &app.url("/api/stream"), None).await;
    let writer = connect(&db.url).await;
    let watcher = connect(&db.url).await;

    // Another instance's batch holds the lock; this instance's batch queues behind it
    // without drawing an id, so the holder's id, drawn later, is still the lower one.
    take_the_lock(&writer).await;
    let post = post_later(&client, &app, "after-held");
    until_a_writer_waits(&watcher).await;
    let held = draw_an_id(&writer).await;
    assert_eq!(stream.next_id(Duration::from_millis(300)).await, None);
    assert!(
        !post.is_finished(),
        "answered while an earlier batch was open"
    );
    commit_held(&writer, held).await;
    let posted = post.await.expect("poster");
    assert!(posted > held, "{posted} drawn before {held} committed");
    assert_eq!(
        stream.next_ids(2, Duration::from_secs(2)).await,
        [held, posted]
    );

    // An id whose transaction rolls back never exists: the stream moves past it.
    take_the_lock(&writer).await;
    let abandoned = draw_an_id(&writer).await;
    let post = post_later(&client, &app, "after-abandoned");
    until_a_writer_waits(&watcher).await;
    writer.batch_execute("ROLLBACK").await.expect("rollback");
    let next = post.await.expect("poster");
    assert!(next > abandoned);
    assert_eq!(stream.next_id(Duration::from_secs(2)).await, Some(next));

    // A client resuming from before the held id gets all three, in order.
    let mut resumed = SseReader::open(&client, &app.url("/api/stream"), Some(held - 1)).await;
    assert_eq!(
        resumed.next_ids(3, Duration::from_secs(2)).await,
        [held, posted, next]
    );
}

#[tokio::test]
async fn a_long_transaction_that_writes_to_events_does_not_hold_the_stream_back() {
    let Some(db) = fresh_db().await else { return };
    let app = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let mut stream = SseReader::open(&client, &app.url("/api/stream"), None).await;
    let first = post_one(&client, &app, "before-the-long-write").await;
    assert_eq!(stream.next_id(Duration::from_secs(2)).await, Some(first));
    // Someone else's long write on the same server (a report built from the events, a
    // manual correction): it holds a transaction id, and with it every snapshot's `xmin`,
    // and a lock on `events` for writing; it draws no event id.
    let other = connect(&db.url).await;
    other
        .batch_execute(&format!(
            "CREATE TABLE reports (n bigint); \
             BEGIN; INSERT INTO reports SELECT count(*) FROM events; \
             UPDATE events SET duplicates = duplicates WHERE id = {first};"
        ))
        .await
        .expect("a long transaction");
    for n in 0..3 {
        let posted = post_one(&client, &app, &format!("beside-a-long-write-{n}")).await;
        assert_eq!(
            stream.next_id(Duration::from_secs(2)).await,
            Some(posted),
            "the stream waited for a transaction that cannot hold an event id"
        );
    }
    // An instance starting now finds where its feed begins without waiting for it either,
    // and streams what the first one stores.
    let started = std::time::Instant::now();
    let second = spawn_instance(&db.url).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "started in {took:?}");
    let mut second_stream = SseReader::open(&client, &second.url("/api/stream"), None).await;
    let posted = post_one(&client, &app, "beside-a-long-write-to-the-first").await;
    assert_eq!(
        second_stream.next_id(Duration::from_secs(3)).await,
        Some(posted)
    );
    other.batch_execute("COMMIT").await.expect("commit");
}

#[tokio::test]
async fn two_instances_under_concurrent_load_stream_every_event_once_in_order() {
    let Some(db) = fresh_db().await else { return };
    let a = spawn_instance(&db.url).await;
    let b = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let mut stream_a = SseReader::open(&client, &a.url("/api/stream"), None).await;
    let mut stream_b = SseReader::open(&client, &b.url("/api/stream"), None).await;
    const POSTERS: usize = 8;
    const EACH: usize = 40;
    let mut tasks = Vec::new();
    for p in 0..POSTERS {
        let client = client.clone();
        let base = [&a, &b][p % 2].url("");
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..EACH {
                let key = format!("c-{p}-{n}");
                let (status, answer, _) = post_keyed(&client, &base, &key).await.expect("post");
                assert_eq!(status, 200, "{answer}");
                acked.push((key, answer["id"].as_i64().expect("id")));
            }
            acked
        }));
    }
    let mut acked = BTreeMap::new();
    for task in tasks {
        acked.extend(task.await.expect("poster"));
    }
    let mut expected: Vec<i64> = acked.values().copied().collect();
    expected.sort_unstable();
    for stream in [&mut stream_a, &mut stream_b] {
        let streamed = stream
            .next_ids(expected.len(), Duration::from_secs(5))
            .await;
        assert_eq!(
            streamed, expected,
            "each acknowledged event once, in id order"
        );
    }
    assert_exactly_once(&acked, &stored_by_key(&client, &a.url("")).await);
    // Each instance counted into its own shard of the rollups; every answer sums them.
    let total = acked.len() as i64;
    for app in [&a, &b] {
        let stats = app.get_json("/api/stats").await;
        assert_eq!(stats["total"].as_i64(), Some(total), "{stats}");
        assert_eq!(stats["by_source"]["load"].as_i64(), Some(total), "{stats}");
        let sources = app.get_json("/api/sources").await;
        let load = sources
            .as_array()
            .or(sources["sources"].as_array())
            .and_then(|rows| rows.iter().find(|r| r["source"] == "load"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(load["count"].as_i64(), Some(total), "{sources}");
        assert_eq!(load["provider"], "generic", "{sources}");
    }
}

#[tokio::test]
async fn a_jump_in_the_ids_does_not_slow_the_stream() {
    let Some(db) = fresh_db().await else { return };
    let app = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let mut stream = SseReader::open(&client, &app.url("/api/stream"), None).await;
    let before = post_one(&client, &app, "before-the-jump").await;
    assert_eq!(stream.next_id(Duration::from_secs(2)).await, Some(before));
    // Someone moves the sequence far ahead (a restore, an import with ids of its own): the
    // listener must read the gap as one range, not id by id.
    connect(&db.url)
        .await
        .batch_execute("SELECT setval('events_id_seq', nextval('events_id_seq') + 100000000)")
        .await
        .expect("move the sequence");
    let after = post_one(&client, &app, "after-the-jump").await;
    assert!(after > before + 100_000_000, "{before} → {after}");
    assert_eq!(stream.next_id(Duration::from_secs(2)).await, Some(after));
}

#[tokio::test]
async fn three_instances_writing_for_ten_seconds_reach_one_reader_each_once_in_order() {
    const POSTERS_EACH: usize = 2;
    const WRITING: Duration = Duration::from_secs(10);
    let Some(db) = fresh_db().await else { return };
    let mut apps = Vec::new();
    for _ in 0..3 {
        apps.push(spawn_instance(&db.url).await);
    }
    let client = reqwest::Client::new();
    let mut stream = SseReader::open(&client, &apps[1].url("/api/stream"), None).await;
    // The reader reads while the instances write; it stops once it has the newest
    // acknowledged id (`newest`, known when the writing ends), and fails on a stall.
    let (newest_tx, newest) = tokio::sync::watch::channel(i64::MAX);
    let reader = tokio::spawn(async move {
        let mut seen: Vec<i64> = Vec::new();
        let mut stalled_since = Instant::now();
        loop {
            match stream.next_id(Duration::from_millis(200)).await {
                Some(id) => {
                    seen.push(id);
                    stalled_since = Instant::now();
                }
                None if seen.last() >= Some(&*newest.borrow()) => return seen,
                None => assert!(
                    stalled_since.elapsed() < Duration::from_secs(5),
                    "stream stalled after {:?}",
                    seen.last()
                ),
            }
        }
    });
    let until = Instant::now() + WRITING;
    let mut posters = Vec::new();
    for p in 0..3 * POSTERS_EACH {
        let (client, base) = (client.clone(), apps[p % 3].url(""));
        posters.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            while Instant::now() < until {
                let key = format!("ten-{p}-{}", acked.len());
                let (status, answer, _) = post_keyed(&client, &base, &key).await.expect("post");
                assert_eq!(status, 200, "{answer}");
                acked.push((key, answer["id"].as_i64().expect("id")));
            }
            acked
        }));
    }
    let mut acked = BTreeMap::new();
    for poster in posters {
        acked.extend(poster.await.expect("poster"));
    }
    let mut expected: Vec<i64> = acked.values().copied().collect();
    expected.sort_unstable();
    newest_tx
        .send(*expected.last().expect("something was posted"))
        .expect("the reader waits");
    let seen = reader.await.expect("reader");
    assert_eq!(seen.len(), expected.len(), "each acknowledged event once");
    assert_eq!(seen, expected, "in id order");
    assert_exactly_once(&acked, &stored_by_key(&client, &apps[0].url("")).await);
}
