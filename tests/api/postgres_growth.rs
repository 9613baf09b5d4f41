//! PostgreSQL as the tables grow: work that was planned while they were small must not stay
//! planned that way. PostgreSQL keeps a prepared statement's generic plan until something
//! invalidates it (an ANALYZE, which never comes when autovacuum is off, as on this machine).
//!
//! Needs PostgreSQL: skipped loudly without it, failed under `CI`.

use std::time::{Duration, Instant};

use tokio_postgres::NoTls;

use crate::load::post_keyed;
use crate::pg::{IDS_LOCK, fresh_db};
use crate::sse::SseReader;
use crate::support::*;

/// Events added behind the server's back, so a full scan would be unmistakable.
const GROWTH: i64 = 200_000;
/// Rows per statement while growing it.
const GROWTH_CHUNK: i64 = 5_000;

/// Counters PostgreSQL's statistics show for the events table.
#[derive(Debug, Clone, Copy)]
struct Counters {
    updated: i64,
    inserted: i64,
    /// Rows read by sequential scans plus entries read from the dedup index: what finding a
    /// redelivery's original may read (the live feed meanwhile reads the new rows by id).
    tuples_read: i64,
}

async fn counters(db: &tokio_postgres::Client) -> Counters {
    let row = db
        .query_one(
            "SELECT t.n_tup_upd, t.n_tup_ins,
               t.seq_tup_read + (SELECT i.idx_tup_read FROM pg_stat_user_indexes i
                                 WHERE i.relid = t.relid AND i.indexrelname = 'events_dedup')
             FROM pg_stat_user_tables t WHERE t.relname = 'events'",
            &[],
        )
        .await
        .expect("statistics");
    // Each statement sees a fresh statistics snapshot only outside a transaction.
    db.batch_execute("SELECT pg_stat_clear_snapshot()")
        .await
        .expect("clear snapshot");
    Counters {
        updated: row.get(0),
        inserted: row.get(1),
        tuples_read: row.get(2),
    }
}

/// Posts a new event every 100 ms (each a transaction, after which a backend flushes its
/// statistics once a second has passed) until the counters satisfy `done`.
async fn trickle_until(
    app: &TestApp,
    db: &tokio_postgres::Client,
    what: &str,
    done: impl Fn(Counters) -> bool,
) -> Counters {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    for n in 0.. {
        let now = counters(db).await;
        if done(now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {now:?}"
        );
        post_keyed(&client, &app.url(""), &format!("trickle-{what}-{n}"))
            .await
            .expect("post");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    unreachable!()
}

/// Adds `GROWTH` events behind the servers' back, in short transactions that take the
/// writers' lock as every writer must (`pg::IDS_LOCK`).
async fn grow(url: &str) {
    let (mut grower, connection) = tokio_postgres::connect(url, NoTls).await.expect("connect");
    let growing = tokio::spawn(connection);
    for chunk in 0..GROWTH / GROWTH_CHUNK {
        let tx = grower.transaction().await.expect("begin");
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IDS_LOCK])
            .await
            .expect("lock");
        tx.execute(
            "INSERT INTO events (id, source, received_at, method, path, query, remote_addr,
               size, provider, event_type, delivery_id, signature, signature_failure,
               status, is_error)
             SELECT nextval('events_id_seq'), 'load', 0, 'POST', '/webhook/load', '',
               '127.0.0.1', 10, 'generic', 'load.tick', 'grown-' || g, 'unverified',
               false, 'received', false
             FROM generate_series($1::int8 + 1, $1::int8 + $2::int8) g",
            &[&(chunk * GROWTH_CHUNK), &GROWTH_CHUNK],
        )
        .await
        .expect("grow the table");
        tx.commit().await.expect("commit");
    }
    drop(grower); // its statistics are flushed as its backend exits
    let _ = growing.await;
}

async fn post_new(client: &reqwest::Client, app: &TestApp, key: &str) -> i64 {
    let (status, answer, _) = post_keyed(client, &app.url(""), key).await.expect("post");
    assert_eq!(status, 200, "{answer}");
    answer["id"].as_i64().expect("id")
}

#[tokio::test]
async fn a_redelivery_stays_an_index_lookup_after_the_table_grew() {
    let Some(db) = fresh_db().await else { return };
    // Two connections, so each sees the redelivery statement often enough for PostgreSQL to
    // settle on a generic plan for it while the table is tiny.
    let app = spawn_at(
        tempfile::tempdir().expect("dir"),
        "pool_size = 2\n",
        None,
        &db.url,
    )
    .await;
    let client = reqwest::Client::new();
    let (_, first, _) = post_keyed(&client, &app.url(""), "original")
        .await
        .expect("post");
    for _ in 0..30 {
        let (_, again, _) = post_keyed(&client, &app.url(""), "original")
            .await
            .expect("post");
        assert_eq!(again["status"], "duplicate", "{again}");
    }
    let (stats, connection) = tokio_postgres::connect(&db.url, NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    trickle_until(&app, &stats, "early redeliveries", |c| c.updated >= 30).await;

    grow(&db.url).await;
    let before = trickle_until(&app, &stats, "the growth", |c| c.inserted >= GROWTH).await;

    let (_, again, _) = post_keyed(&client, &app.url(""), "original")
        .await
        .expect("post");
    assert_eq!(again["status"], "duplicate", "{again}");
    assert_eq!(again["id"], first["id"]);
    let after = trickle_until(&app, &stats, "the last redelivery", |c| {
        c.updated > before.updated
    })
    .await;
    let read = after.tuples_read - before.tuples_read;
    assert!(
        read < GROWTH / 10,
        "counting one redelivery (and storing a few events) read {read} rows or index \
         entries of {GROWTH}: a plan from when the table was small"
    );
}

#[tokio::test]
async fn another_instances_events_are_read_by_index_after_the_table_grew() {
    let Some(db) = fresh_db().await else { return };
    let a = spawn_instance(&db.url).await;
    let b = spawn_instance(&db.url).await;
    let client = reqwest::Client::new();
    let (stats, connection) = tokio_postgres::connect(&db.url, NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    // B's listener reads each of A's events in a catch-up of its own: often enough for
    // PostgreSQL to settle on a generic plan for that read while the table is tiny.
    let mut stream = SseReader::open(&client, &b.url("/api/stream"), None).await;
    for n in 0..10 {
        let id = post_new(&client, &a, &format!("early-{n}")).await;
        assert_eq!(stream.next_id(Duration::from_secs(5)).await, Some(id));
    }
    drop(stream);
    let before = counters(&stats).await;

    grow(&db.url).await;
    // B streams A's next event only once it has read every grown one before it.
    let mut stream = SseReader::open(&client, &b.url("/api/stream"), None).await;
    let last = post_new(&client, &a, "after-growth").await;
    let mut seen = None;
    while seen != Some(last) {
        seen = stream.next_id(Duration::from_secs(60)).await;
        assert!(seen.is_some(), "B did not stream {last} within a minute");
    }
    // Keep both instances busy until their backends have flushed their statistics.
    let after = trickle_until(&a, &stats, "B's reads to be counted", |c| {
        c.inserted >= before.inserted + GROWTH + 20
    })
    .await;
    let read = after.tuples_read - before.tuples_read;
    assert!(
        read < GROWTH / 10,
        "reading {GROWTH} events of another instance read {read} rows or index entries by \
         scanning: a plan from when the table was small"
    );
}
