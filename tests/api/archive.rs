//! `hookwatch export` and `import` on real SQLite files and the real PostgreSQL: round trips
//! byte for byte, hostile lines, skipped ids, the id sequence after an import, a full disk.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use chrono::Duration;
use hookwatch::model::{Provider, Signature, Status};
use hookwatch::store::{Inserted, Store};

use crate::lifecycle::{cli, event, now, postgres, sqlite, stderr, stdout, stored};

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

/// A store with one of every kind of event worth exporting; answers the ids.
async fn fill(store: &Store) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut binary = event("bin", now(), 1);
    binary.body = (0..=255u8).chain([0, 0xff]).collect();
    binary.content_type = Some("application/octet-stream".into());
    binary.headers = vec![
        ("x-dup".into(), "one".into()),
        ("x-dup".into(), "two".into()),
        ("x-latin".into(), "caf\u{e9}\u{ff}".into()),
    ];
    ids.push(stored(store, binary).await);
    let mut form = event("twilio", now() + Duration::seconds(1), 2);
    form.content_type = Some("application/x-www-form-urlencoded".into());
    form.body = b"MessageStatus=failed&To=%2B15551234&To=again".to_vec();
    form.provider = Provider::Twilio;
    form.event_type = Some("failed".into());
    form.is_error = true;
    ids.push(stored(store, form).await);
    let mut rejected = event("stripe", now() + Duration::seconds(2), 3);
    rejected.signature = Signature::Invalid;
    rejected.signature_reason = Some("no matching signature".into());
    rejected.signature_failure = true;
    rejected.status = Status::Rejected;
    rejected.delivery_id = Some("evt_1".into());
    ids.push(stored(store, rejected).await);
    let mut original = event("stripe", now() + Duration::seconds(3), 4);
    original.delivery_id = Some("evt_1".into());
    let id = stored(store, original.clone()).await;
    ids.push(id);
    let again = store.insert(original).await.expect("redelivery");
    assert!(matches!(again, Inserted::Duplicate { .. }));
    let doc = serde_json::json!({"query": "stripe t.4", "results": [{"title": "T", "url": "https://x.test/1.50"}], "at": "2026-11-28T12:00:00Z"});
    assert!(store.set_enrichment(id, &doc).await.expect("enrich"));
    ids.push(stored(store, event("empty", now() + Duration::seconds(4), 5)).await);
    ids
}

fn export(dir: &Path, database: &str, file: &str) -> String {
    let out = cli(dir, &["export", "--database", database, "--output", file]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::read_to_string(dir.join(file)).expect("export file")
}

fn import(dir: &Path, database: &str, file: &str) -> std::process::Output {
    cli(dir, &["import", "--database", database, file])
}

#[tokio::test]
async fn sqlite_to_ndjson_to_postgres_to_ndjson_is_byte_identical_and_keeps_the_stats() {
    let Some((pg, _pg_guard, pg_url)) = postgres().await else {
        return;
    };
    let (lite, _lite_guard, lite_url) = sqlite().await;
    let ids = fill(&lite).await;
    let dir = tempfile::tempdir().unwrap();
    let first = export(dir.path(), &lite_url, "a.ndjson");
    assert_eq!(first.lines().count(), ids.len());
    let line: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(line["raw_body"], serde_json::Value::Null);
    assert_eq!(line["headers_raw"][1], serde_json::json!(["x-dup", "two"]));
    assert_eq!(line["forwards"], serde_json::json!([]));
    let form: serde_json::Value = serde_json::from_str(first.lines().nth(1).unwrap()).unwrap();
    assert_eq!(
        form["body"]["To"],
        serde_json::json!(["+15551234", "again"])
    );
    assert!(form["raw_body_base64"].is_string());
    let out = import(dir.path(), &pg_url, "a.ndjson");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(stdout(&out).contains("imported 5 events"), "{out:?}");
    let second = export(dir.path(), &pg_url, "b.ndjson");
    assert_eq!(second, first, "SQLite → NDJSON → PostgreSQL → NDJSON");
    let fresh = dir.path().join("fresh.db");
    let fresh_url = format!("sqlite://{}", fresh.display());
    assert_eq!(
        import(dir.path(), &fresh_url, "b.ndjson").status.code(),
        Some(0)
    );
    assert_eq!(
        export(dir.path(), &fresh_url, "c.ndjson"),
        first,
        "and back to SQLite"
    );
    let (before, after) = (
        lite.stats(None).await.unwrap(),
        pg.stats(None).await.unwrap(),
    );
    assert_eq!(after.total, before.total);
    assert_eq!(after.by_source, before.by_source);
    assert_eq!(after.errors, before.errors);
    assert_eq!(after.duplicates, before.duplicates);
    assert_eq!(after.rejected, before.rejected);
    assert_eq!(after.signature_failures, before.signature_failures);
    assert_eq!(pg.sources().await.unwrap(), lite.sources().await.unwrap());
    // New deliveries get ids above the imported ones.
    let next = stored(&pg, event("after", now(), 9)).await;
    assert!(next > *ids.iter().max().unwrap(), "{next} after {ids:?}");
}

#[tokio::test]
async fn importing_again_skips_everything_and_a_changed_event_is_reported_not_overwritten() {
    let (lite, _guard, url) = sqlite().await;
    let ids = fill(&lite).await;
    let dir = tempfile::tempdir().unwrap();
    let text = export(dir.path(), &url, "a.ndjson");
    let again = import(dir.path(), &url, "a.ndjson");
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert!(
        stdout(&again).contains("imported 0 events; skipped 5 already stored (0 with different"),
        "{again:?}"
    );
    let changed = text.replacen("\"raw_body_base64\":\"", "\"raw_body_base64\":\"AAAA", 1);
    let changed = changed.replacen("\"size\":258", "\"size\":261", 1);
    std::fs::write(dir.path().join("changed.ndjson"), changed).unwrap();
    let out = import(dir.path(), &url, "changed.ndjson");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        stdout(&out).contains("(1 with different content"),
        "{out:?}"
    );
    assert!(
        stderr(&out).contains(&format!(
            "event {} is already stored with different content",
            ids[0]
        )),
        "{out:?}"
    );
    assert_eq!(
        lite.get(ids[0]).await.unwrap().unwrap().new.body.len(),
        258,
        "not overwritten"
    );
    assert_eq!(
        lite.stats(None).await.unwrap().total,
        5,
        "skipped events add nothing to the stats"
    );
}

#[tokio::test]
async fn a_bad_line_stops_the_import_naming_it_and_keeps_the_lines_before() {
    let (lite, _guard, url) = sqlite().await;
    fill(&lite).await;
    let dir = tempfile::tempdir().unwrap();
    let text = export(dir.path(), &url, "a.ndjson");
    let lines: Vec<&str> = text.lines().collect();
    let target = format!("sqlite://{}", dir.path().join("target.db").display());
    for (name, content, line, kept) in [
        (
            "garbage",
            format!("{}\n{}\nnot json\n{}\n", lines[0], lines[1], lines[2]),
            3,
            2,
        ),
        ("array", format!("{}\n[1,2]\n", lines[3]), 2, 3),
        (
            "truncated",
            format!("{}\n{}", lines[4], &lines[2][..lines[2].len() / 2]),
            2,
            4,
        ),
    ] {
        std::fs::write(dir.path().join(name), content).unwrap();
        let out = import(dir.path(), &target, name);
        assert_eq!(out.status.code(), Some(1), "{name}: {out:?}");
        assert!(
            stderr(&out).contains(&format!("line {line}:")),
            "{name}: {out:?}"
        );
        let listed = cli(dir.path(), &["events", "--database", &target, "--json"]);
        assert_eq!(stdout(&listed).lines().count(), kept, "{name}: {listed:?}");
    }
    let missing = import(dir.path(), &target, "no-such-file");
    assert_eq!(missing.status.code(), Some(1), "{missing:?}");
    assert!(stderr(&missing).contains("no-such-file"), "{missing:?}");
}

#[tokio::test]
async fn import_reads_stdin_and_export_takes_the_list_filters() {
    let (lite, _guard, url) = sqlite().await;
    fill(&lite).await;
    let dir = tempfile::tempdir().unwrap();
    let out = cli(
        dir.path(),
        &["export", "--database", &url, "--source", "stripe"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 2, "{text}");
    let bad = cli(
        dir.path(),
        &["export", "--database", &url, "--since", "soon"],
    );
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    let target = format!("sqlite://{}", dir.path().join("piped.db").display());
    let mut child = Command::new(BIN)
        .args(["import", "--database", &target, "-"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let piped = child.wait_with_output().unwrap();
    assert!(stdout(&piped).contains("imported 2 events"), "{piped:?}");
    let back = cli(dir.path(), &["export", "--database", &target]);
    assert_eq!(stdout(&back), text);
}

#[tokio::test]
async fn an_import_larger_than_the_disk_ends_with_a_clean_error_and_a_consistent_database() {
    if !crate::process::can_mount() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must be able to mount a tmpfs"
        );
        eprintln!("SKIPPED: cannot mount a tmpfs here; the disk-full import did not run");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
        .arg(&disk)
        .status()
        .unwrap();
    assert!(mounted.success());
    let _unmount = Unmount(disk.clone());
    // 12 MB of events, from a database elsewhere: 120 events of 100 KB.
    let (source, _guard, source_url) = sqlite().await;
    for n in 0..120 {
        let mut e = event("big", now() + Duration::seconds(n), n as usize);
        e.body = vec![b'x'; 100_000];
        stored(&source, e).await;
    }
    export(dir.path(), &source_url, "big.ndjson");
    let target = format!("sqlite://{}", disk.join("full.db").display());
    let out = import(dir.path(), &target, "big.ndjson");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let message = stderr(&out);
    assert!(message.contains("full"), "says the disk is full: {message}");
    assert!(!message.contains("panicked"), "{message}");
    let listed = cli(dir.path(), &["stats", "--database", &target, "--json"]);
    let stats: serde_json::Value =
        serde_json::from_str(&stdout(&listed)).expect("stats still read");
    let events = cli(
        dir.path(),
        &["events", "--database", &target, "--json", "--limit", "1000"],
    );
    assert_eq!(
        stats["total"].as_u64().unwrap(),
        stdout(&events).lines().count() as u64,
        "stats and events agree: whole batches or nothing"
    );
}

/// Unmounts the tmpfs when the test ends, pass or fail.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn an_export_line_carries_the_events_deliveries_and_import_leaves_them_out() {
    let (store, guard, url) = sqlite().await;
    let forwarded = stored(&store, event("shop", now(), 1)).await;
    let quiet = stored(&store, event("shop", now(), 2)).await;
    let queued = vec![hookwatch::store::NewDelivery {
        event_id: forwarded,
        source: "shop".into(),
        target: "app".into(),
        to: None,
    }];
    store
        .enqueue_deliveries(queued, quiet, chrono::Utc::now())
        .await
        .unwrap();
    drop(store);
    let dir = tempfile::tempdir().unwrap();
    let lines = export(dir.path(), &url, "out.ndjson");
    let lines: Vec<serde_json::Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["id"], forwarded);
    assert_eq!(lines[0]["forwards"][0]["target"], "app");
    assert_eq!(lines[0]["forwards"][0]["state"], "pending");
    assert_eq!(lines[1]["forwards"], serde_json::json!([]));
    let (copy, _copy_guard, copy_url) = sqlite().await;
    drop(copy);
    let out = import(dir.path(), &copy_url, "out.ndjson");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let again = export(dir.path(), &copy_url, "again.ndjson");
    assert!(
        again.lines().all(|l| l.contains("\"forwards\":[]")),
        "{again}"
    );
    drop(guard);
}
