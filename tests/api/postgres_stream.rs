//! The live stream on PostgreSQL when instances commit in parallel: ids become visible out of
//! order, yet every stream carries each event once, in id order, and skips none.
//!
//! Every test here needs PostgreSQL: skipped loudly without it, failed under `CI`.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio_postgres::{Client, NoTls};

use crate::load::*;
use crate::pg::fresh_db;
use crate::sse::SseReader;
use crate::support::*;

/// A connection of its own, playing another instance's writer caught mid-batch.
async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    tokio::spawn(connection);
    client
}

/// Opens a transaction that holds the next event id, as a writer does: a lock on `events`
/// (a writer's statement takes it before it runs), a transaction id, then the id from the
/// sequence.
async fn hold_an_id(client: &Client) -> i64 {
    client
        .batch_execute(
            "BEGIN; LOCK TABLE events IN ROW EXCLUSIVE MODE; SELECT pg_current_xact_id();",
        )
        .await
        .expect("begin");
    client
        .query_one("SELECT nextval('events_id_seq')", &[])
        .await
        .expect("nextval")
        .get(0)
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

async fn post_one(client: &reqwest::Client, app: &TestApp, key: &str) -> i64 {
    let (status, answer, _) = post_keyed(client, &app.url(""), key).await.expect("post");
    assert_eq!(status, 200, "{answer}");
    answer["id"].as_i64().expect("id")
}

#[tokio::test]
async fn a_lower_id_committing_after_a_higher_one_is_streamed_first_and_never_skipped() {
    let Some(db) = fresh_db().await else { return };
    let app = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let mut stream = SseReader::open(&client, &app.url("/api/stream"), None).await;
    let writer = connect(&db.url).await;

    // Another writer holds id `held`; this instance then stores `posted` (higher) and
    // answers 200: queries see it at once, the stream must wait for `held`.
    let held = hold_an_id(&writer).await;
    let posted = post_one(&client, &app, "after-held").await;
    assert!(posted > held);
    let listed = app.get_json("/api/events?source=load").await;
    assert_eq!(listed["events"][0]["id"].as_i64(), Some(posted));
    // Longer than the listener waits before it looks at who holds `events` (`FENCE_AFTER`):
    // the holder does, so the stream still waits.
    assert_eq!(
        stream.next_id(Duration::from_millis(1500)).await,
        None,
        "streaming {posted} now would skip {held} for good"
    );
    commit_held(&writer, held).await;
    assert_eq!(
        stream.next_ids(2, Duration::from_secs(2)).await,
        [held, posted]
    );

    // An id whose transaction rolls back never exists: the stream moves past it.
    let abandoned = hold_an_id(&writer).await;
    let next = post_one(&client, &app, "after-abandoned").await;
    writer.batch_execute("ROLLBACK").await.expect("rollback");
    assert_eq!(stream.next_id(Duration::from_secs(2)).await, Some(next));
    assert!(next > abandoned);

    // A client resuming from before the held id gets all three, in order.
    let mut resumed = SseReader::open(&client, &app.url("/api/stream"), Some(held - 1)).await;
    assert_eq!(
        resumed.next_ids(3, Duration::from_secs(2)).await,
        [held, posted, next]
    );
}

#[tokio::test]
async fn a_long_transaction_that_draws_no_event_ids_does_not_hold_the_stream_back() {
    let Some(db) = fresh_db().await else { return };
    let app = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let mut stream = SseReader::open(&client, &app.url("/api/stream"), None).await;
    // Someone else's long write on the same server (a report built from the events, a
    // batch job): it holds a transaction id, and with it every snapshot's `xmin`, and a
    // lock on `events` for reading.
    let other = connect(&db.url).await;
    other
        .batch_execute(
            "CREATE TABLE reports (n bigint); \
             BEGIN; INSERT INTO reports SELECT count(*) FROM events;",
        )
        .await
        .expect("a long transaction");
    for n in 0..3 {
        let posted = post_one(&client, &app, &format!("beside-a-long-write-{n}")).await;
        assert_eq!(
            stream.next_id(Duration::from_secs(3)).await,
            Some(posted),
            "the stream waited for a transaction that cannot hold an event id"
        );
    }
    // An instance starting now finds where its feed begins without waiting for it either
    // (it used to give up after 5 s), and streams what the first one stores.
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
