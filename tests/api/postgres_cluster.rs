//! Several instances on one PostgreSQL database, and PostgreSQL itself failing under load.
//!
//! Every test here needs PostgreSQL: skipped loudly without it, failed under `CI`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::pg::fresh_db;
use crate::sse::SseReader;
use crate::support::*;
use crate::throwaway::Throwaway;

/// Posts `{"n":…}` to `base` with `key` as the delivery id; the answer, or `None` on a
/// connection error (the instance is gone).
async fn post_keyed(client: &reqwest::Client, base: &str, key: &str) -> Option<(u16, Value, bool)> {
    let response = client
        .post(format!("{base}/webhook/load"))
        .header("content-type", "application/json")
        .header("idempotency-key", key)
        .body(format!(r#"{{"type":"load.tick","key":"{key}"}}"#))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let retry_after = response.headers().contains_key("retry-after");
    let body = response.json().await.unwrap_or(Value::Null);
    Some((status, body, retry_after))
}

/// Every event on the server, walking the keyset pages: delivery id → ids stored with it.
async fn stored_by_key(client: &reqwest::Client, base: &str) -> BTreeMap<String, Vec<i64>> {
    let mut by_key: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    let mut before: Option<i64> = None;
    for _ in 0..1000 {
        let cursor = before.map(|b| format!("&before={b}")).unwrap_or_default();
        let url = format!("{base}/api/events?source=load&limit=1000{cursor}");
        let page: Value = client
            .get(url)
            .send()
            .await
            .expect("list")
            .json()
            .await
            .expect("json");
        for e in page["events"].as_array().expect("events") {
            let key = e["delivery_id"].as_str().unwrap_or("").to_string();
            by_key
                .entry(key)
                .or_default()
                .push(e["id"].as_i64().expect("id"));
        }
        match page["next_before"].as_i64() {
            Some(next) => before = Some(next),
            None => return by_key,
        }
    }
    panic!("more pages than expected");
}

/// Asserts each acknowledged (key, id) is stored exactly once, under that id.
fn assert_exactly_once(acked: &BTreeMap<String, i64>, stored: &BTreeMap<String, Vec<i64>>) {
    for (key, id) in acked {
        assert_eq!(
            stored.get(key),
            Some(&vec![*id]),
            "acknowledged {key} (id {id})"
        );
    }
}

#[tokio::test]
async fn three_instances_share_events_dedup_and_the_live_stream() {
    let Some(db) = fresh_db().await else { return };
    let mut apps = Vec::new();
    for _ in 0..3 {
        apps.push(spawn_at(tempfile::tempdir().expect("dir"), "", None, &db.url).await);
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

/// The real binary on a loopback port the kernel picks, read back from its banner.
struct Instance {
    child: Child,
    base: String,
}

async fn spawn_binary(database: &str, dir: &std::path::Path) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hookwatch"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            database,
            "--pool-size",
            "4",
        ])
        .current_dir(dir)
        .env_remove("HOOKWATCH_CONFIG")
        .env("HOOKWATCH_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn hookwatch");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let banner = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(url) = line.strip_prefix("hookwatch is listening on ") {
                return url.trim().to_string();
            }
        }
        panic!("hookwatch exited before listening");
    });
    let base = banner.await.expect("hookwatch did not start within 20 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Instance { child, base }
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
    let app = spawn_at(tempfile::tempdir().expect("dir"), "", None, &pg.url()).await;
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
}
