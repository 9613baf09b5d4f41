//! Load helpers for the multi-instance and fault tests: keyed posts, a full listing by
//! delivery id, and the real binary as a child process.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Posts `{"n":…}` to `base` with `key` as the delivery id; the answer, or `None` on a
/// connection error (the instance is gone).
pub async fn post_keyed(
    client: &reqwest::Client,
    base: &str,
    key: &str,
) -> Option<(u16, Value, bool)> {
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
pub async fn stored_by_key(client: &reqwest::Client, base: &str) -> BTreeMap<String, Vec<i64>> {
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
pub fn assert_exactly_once(acked: &BTreeMap<String, i64>, stored: &BTreeMap<String, Vec<i64>>) {
    for (key, id) in acked {
        assert_eq!(
            stored.get(key),
            Some(&vec![*id]),
            "acknowledged {key} (id {id})"
        );
    }
}

/// The real binary on a loopback port the kernel picks, read back from its banner.
pub struct Instance {
    pub child: Child,
    pub base: String,
}

pub async fn spawn_binary(database: &str, dir: &std::path::Path) -> Instance {
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
