//! The real binary as a user runs it: start-up, configuration errors, signals, crashes, a full
//! disk, and the offline commands.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

/// A `hookwatch serve` child process and the address its banner printed.
pub(crate) struct Server {
    child: tokio::process::Child,
    pub base: String,
}

impl Server {
    /// Starts `hookwatch serve` in `dir` with extra args and waits for the banner.
    pub(crate) async fn start(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut command = tokio::process::Command::new(BIN);
        command
            .arg("serve")
            .args(args)
            .current_dir(dir)
            .env_remove("HOOKWATCH_LISTEN")
            .env_remove("HOOKWATCH_TOKEN")
            .env_remove("HOOKWATCH_DATABASE")
            .env_remove("HOOKWATCH_CONFIG")
            .env_remove("TOKIO_WORKER_THREADS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start hookwatch");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("banner in time")
            .unwrap()
            .expect("a banner line");
        let base = first.split_whitespace().last().unwrap().to_string();
        assert!(base.starts_with("http://127."), "{first}");
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Server { child, base }
    }

    fn pid(&self) -> i32 {
        self.child.id().unwrap() as i32
    }

    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    pub(crate) async fn wait(&mut self) -> std::process::ExitStatus {
        tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("exit in time")
            .unwrap()
    }
}

fn run_cli(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_CONFIG")
        .output()
        .expect("run hookwatch")
}

#[test]
fn a_bad_config_file_stops_start_up_with_exit_code_2_naming_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[sources.stripe]\nprovider = \"strpe\"\n",
            "sources.stripe.provider",
            "unknown provider",
        ),
        ("listen = 8080\n", "listen", "string"),
        (
            "[sources.x]\nsecretz = [\"a\"]\n",
            "secretz",
            "unknown field",
        ),
        (
            "[sources.stripe]\nprovider = \"stripe\"\nsecret_env = \"HOOKWATCH_TEST_UNSET_VAR\"\n",
            "secret_env",
            "HOOKWATCH_TEST_UNSET_VAR",
        ),
        (
            "[sources.twilio]\nprovider = \"twilio\"\n",
            "public_url",
            "Twilio",
        ),
        ("database = \"mysql://x\"\n", "database", "sqlite://"),
        (
            "[sources.s]\nprovider = \"github\"\nsecrets = [\"\"]\n",
            "sources.s.secrets",
            "empty",
        ),
        (
            "[sources.s]\nprovider = \"standard\"\nsecrets = [\"whsec_not base64!\"]\n",
            "sources.s.secrets",
            "base64",
        ),
        (
            "[sources.s]\nprovider = \"generic\"\nsecrets = [\"x\"]\n",
            "sources.s.provider",
            "no signature scheme",
        ),
        (
            "[sources.s]\nsecrets = [\"x\"]\n",
            "sources.s.provider",
            "needs `provider`",
        ),
        (
            "[sources.s]\nprovider = \"stripe\"\non_invalid = \"drop\"\n",
            "sources.s.on_invalid",
            "reject",
        ),
        (
            "[sources.s]\nevent_type = \"data/kind\"\n",
            "sources.s.event_type",
            "/",
        ),
    ];
    for (text, key, problem) in cases {
        std::fs::write(dir.path().join("bad.toml"), text).unwrap();
        let out = run_cli(dir.path(), &["serve", "--config", "bad.toml"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains("bad.toml"), "names the file: {stderr}");
        assert!(stderr.contains(key), "names the key {key}: {stderr}");
        assert!(
            stderr.contains(problem),
            "says what is wrong ({problem}): {stderr}"
        );
    }
}

#[test]
fn a_public_address_without_a_token_is_refused_with_how_to_set_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = run_cli(dir.path(), &["serve", "--listen", "0.0.0.0:0"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--token") && stderr.contains("HOOKWATCH_TOKEN"),
        "{stderr}"
    );
    assert!(stderr.contains("--insecure-no-auth"), "{stderr}");
}

#[tokio::test]
async fn flags_beat_the_environment_which_beats_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookwatch.toml"),
        "listen = \"127.0.0.3:0\"\ndatabase = \"sqlite://from-file.db\"\n",
    )
    .unwrap();
    let mut server = Server::start(dir.path(), &[], &[]).await;
    assert!(
        server.base.starts_with("http://127.0.0.3:"),
        "config file: {}",
        server.base
    );
    server.signal("-TERM");
    server.wait().await;
    assert!(dir.path().join("from-file.db").exists());
    let mut server = Server::start(dir.path(), &[], &[("HOOKWATCH_LISTEN", "127.0.0.2:0")]).await;
    assert!(
        server.base.starts_with("http://127.0.0.2:"),
        "env: {}",
        server.base
    );
    server.signal("-TERM");
    server.wait().await;
    let mut server = Server::start(
        dir.path(),
        &["--listen", "127.0.0.1:0"],
        &[("HOOKWATCH_LISTEN", "127.0.0.2:0")],
    )
    .await;
    assert!(
        server.base.starts_with("http://127.0.0.1:"),
        "flag: {}",
        server.base
    );
    server.signal("-TERM");
    assert!(server.wait().await.success());
}

/// The threads of `pid` that serve requests (tokio names its workers so).
fn worker_threads(pid: i32) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "tokio-rt-worker")
        .count()
}

#[tokio::test]
async fn serve_runs_one_worker_per_core_on_either_store_unless_told_otherwise() {
    let Some(db) = crate::pg::fresh_db().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let cores = std::thread::available_parallelism().unwrap().get();
    let listen = ["--listen", "127.0.0.1:0"];
    let on_postgres = [&listen[..], &["--database", &db.url]].concat();
    let postgres = Server::start(dir.path(), &on_postgres, &[]).await;
    assert_eq!(worker_threads(postgres.pid()), cores, "{cores} cores");
    let chosen = [("TOKIO_WORKER_THREADS", "3")];
    let told = Server::start(dir.path(), &on_postgres, &chosen).await;
    assert_eq!(worker_threads(told.pid()), 3, "the environment decides");
    let sqlite = Server::start(dir.path(), &listen, &[]).await;
    assert_eq!(worker_threads(sqlite.pid()), cores, "{cores} cores");
}

#[tokio::test]
async fn sigterm_finishes_in_flight_requests_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/webhook/term", server.base);
    let mut tasks = Vec::new();
    for n in 0..50 {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            client
                .post(url)
                .body(format!("{{\"n\":{n}}}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
        }));
    }
    // Wait until some requests are being served, then ask the server to stop.
    let events_url = format!("{}/api/events", server.base);
    eventually("first events stored", || async {
        client
            .get(&events_url)
            .send()
            .await
            .map(|r| r.status() == 200)
            .unwrap_or(false)
    })
    .await;
    server.signal("-TERM");
    let acknowledged = futures_util::future::join_all(tasks)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Ok(200))))
        .count();
    assert!(server.wait().await.success(), "exit code 0");
    let out = run_cli(dir.path(), &["events", "--json", "--limit", "1000"]);
    let stored = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(
        stored, acknowledged,
        "every acknowledged event is stored, nothing else"
    );
}

#[tokio::test]
async fn after_kill_9_under_load_every_acknowledged_event_is_present_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path(), &["--listen", "127.0.0.1:0"], &[]).await;
    let client = reqwest::Client::new();
    let acked = Arc::new(std::sync::Mutex::new(Vec::<(String, i64)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..16 {
        let (client, url, acked, stop) = (
            client.clone(),
            format!("{}/webhook/crash", server.base),
            acked.clone(),
            stop.clone(),
        );
        workers.push(tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs(20);
            for n in 0..10_000 {
                if stop.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let key = format!("w{worker}-{n}");
                let sent = client
                    .post(&url)
                    .header("Idempotency-Key", &key)
                    .body(format!("{{\"key\":\"{key}\"}}"))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() == 200
                    && let Ok(answer) = response.json::<Value>().await
                {
                    acked
                        .lock()
                        .unwrap()
                        .push((key, answer["id"].as_i64().unwrap()));
                }
            }
        }));
    }
    eventually("300 events acknowledged", || async {
        acked.lock().unwrap().len() >= 300
    })
    .await;
    server.signal("-KILL");
    server.wait().await;
    stop.store(true, Ordering::Relaxed);
    futures_util::future::join_all(workers).await;
    let acked = acked.lock().unwrap().clone();
    let out = run_cli(
        dir.path(),
        &["events", "--json", "--limit", "1000", "--source", "crash"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Page through everything with the CLI's keyset cursor.
    let mut stored: Vec<Value> = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut args = vec!["events", "--json", "--limit", "1000", "--source", "crash"];
        let cursor = before.map(|b| b.to_string());
        if let Some(c) = &cursor {
            args.extend(["--before", c.as_str()]);
        }
        let out = run_cli(dir.path(), &args);
        let page: Vec<Value> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if page.is_empty() {
            break;
        }
        before = page.last().map(|e| e["id"].as_i64().unwrap());
        stored.extend(page);
    }
    let mut keys: Vec<&str> = stored
        .iter()
        .map(|e| e["delivery_id"].as_str().unwrap())
        .collect();
    keys.sort();
    let total = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), total, "no delivery stored twice");
    for (key, id) in &acked {
        let found: Vec<&Value> = stored
            .iter()
            .filter(|e| e["delivery_id"] == key.as_str())
            .collect();
        assert_eq!(found.len(), 1, "acknowledged {key} present exactly once");
        assert_eq!(found[0]["id"], *id);
    }
    eprintln!(
        "kill -9: {} acknowledged, {} stored",
        acked.len(),
        stored.len()
    );
}

#[tokio::test]
async fn the_offline_commands_read_a_populated_database() {
    let app = spawn_app().await;
    for f in all_fixtures().iter().filter(|f| f.name.contains("stripe/")) {
        app.post_fixture("stripe", f).await;
    }
    app.post("gh", &[("x-github-event", "push")], "{}").await;
    let dir = app.stop().await;
    let db = format!("sqlite://{}", dir.path().join("hookwatch.db").display());
    let out = run_cli(
        dir.path(),
        &[
            "events",
            "--database",
            &db,
            "--source",
            "stripe",
            "--type",
            "charge.*",
        ],
    );
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(table.lines().next().unwrap().contains("TYPE"), "{table}");
    assert!(
        table.contains("charge.failed") && table.contains("charge.succeeded"),
        "{table}"
    );
    assert!(
        !table.contains("invoice.paid") && !table.contains("push"),
        "{table}"
    );
    let out = run_cli(
        dir.path(),
        &["events", "--database", &db, "--json", "--error", "true"],
    );
    let errors: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        errors.len(),
        2,
        "charge.failed and payment_intent.payment_failed"
    );
    assert!(errors.iter().all(|e| e["is_error"] == true));
    let out = run_cli(dir.path(), &["stats", "--database", &db]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("events              6"), "{text}");
    assert!(text.contains("stripe") && text.contains("gh"), "{text}");
    let out = run_cli(dir.path(), &["stats", "--database", &db, "--json"]);
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["by_source"]["stripe"], 5);
    let out = run_cli(
        dir.path(),
        &["events", "--database", &db, "--since", "nonsense"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("since"));
}

/// Whether this process may mount a small tmpfs (root on Linux). In CI it must.
pub(crate) fn can_mount() -> bool {
    let probe = tempfile::tempdir().unwrap();
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(probe.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        let _ = Command::new("umount").arg(probe.path()).status();
    }
    ok
}

#[tokio::test]
async fn a_full_disk_gets_503_never_200_and_service_resumes_when_space_returns() {
    if !can_mount() {
        assert!(
            std::env::var("CI").is_err(),
            "CI must be able to mount a tmpfs for the disk-full test"
        );
        eprintln!(
            "SKIPPED: cannot mount a tmpfs here (needs root); the disk-full test did not run"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    assert!(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
            .arg(&disk)
            .status()
            .unwrap()
            .success()
    );
    let _unmount = Unmount(disk.clone());
    let mut server = Server::start(&disk, &["--listen", "127.0.0.1:0"], &[]).await;
    let client = reqwest::Client::new();
    let url = format!("{}/webhook/disk", server.base);
    assert_eq!(
        client
            .post(&url)
            .body("{\"before\":true}")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Fill the disk.
    let filler = disk.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    let body = "x".repeat(64 * 1024);
    for _ in 0..5 {
        let response = client.post(&url).body(body.clone()).send().await.unwrap();
        assert_eq!(response.status(), 503, "a full disk never gets a 200");
        assert!(response.headers().contains_key("retry-after"));
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    std::fs::remove_file(&filler).unwrap();
    let response = client.post(&url).body(body.clone()).send().await.unwrap();
    assert_eq!(response.status(), 200, "service resumes when space returns");
    let listed: Value = client
        .get(format!("{}/api/events", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["events"].as_array().unwrap().len(),
        2,
        "the first event and the one after recovery"
    );
    server.signal("-TERM");
    server.wait().await;
}

/// Unmounts the tmpfs when the test ends, pass or fail.
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn check_config_prints_the_effective_settings_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "database = \"postgres://app:db-password-1@localhost/hooks\"\n\
                [sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"whsec_topsecret_value_1\"]\nsecret_env = \"HW_TEST_SECRET\"\n\
                event_type = \"/data/kind\"\n";
    std::fs::write(dir.path().join("hookwatch.toml"), toml).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--token", "token-value-2"])
        .current_dir(dir.path())
        .env("HW_TEST_SECRET", "whsec_from_env_3")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[sources.stripe]") && stdout.contains("2 set, hidden"),
        "{stdout}"
    );
    assert!(stdout.contains("event_type = \"/data/kind\""), "{stdout}");
    for secret in [
        "whsec_topsecret_value_1",
        "whsec_from_env_3",
        "token-value-2",
        "db-password-1",
    ] {
        assert!(!stdout.contains(secret), "{secret} leaked: {stdout}");
    }
    std::fs::write(
        dir.path().join("hookwatch.toml"),
        "[sources.s]\nprovider = \"nope\"\n",
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn secrets_never_reach_the_log_or_any_api_answer() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "whsec_Zm9yLWxlYWstdGVzdHMtb25seQ==";
    let token = "api-token-for-leak-test";
    let toml = format!("[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{secret}\"]\n");
    std::fs::write(dir.path().join("hookwatch.toml"), toml).unwrap();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--token", token])
        .current_dir(dir.path())
        .env("HOOKWATCH_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = lines.next_line().await.unwrap().unwrap();
    let base = banner.split_whitespace().last().unwrap().to_string();
    let client = reqwest::Client::new();
    let body = "{\"id\":\"evt_leak\",\"type\":\"charge.failed\"}";
    let mut answers = String::new();
    for signature in ["t=1,v1=00", "garbage", ""] {
        let response = client
            .post(format!("{base}/webhook/stripe"))
            .header("stripe-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap();
        answers += &response.text().await.unwrap();
    }
    for path in [
        "/api/events",
        "/api/events/1",
        "/api/events/1/raw",
        "/api/stats",
        "/api/sources",
        "/healthz",
        "/api/nope",
    ] {
        let response = client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        answers += &response.text().await.unwrap();
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        answers += &response.text().await.unwrap();
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    let _ = child.wait().await;
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("Serving"), "the log was captured: {log}");
    assert!(
        answers.contains("rejected") || answers.contains("signature"),
        "the API was exercised: {answers}"
    );
    for leaked in [secret, token, "Zm9yLWxlYWstdGVzdHMtb25seQ"] {
        assert!(!log.contains(leaked), "{leaked} in the log");
        assert!(!answers.contains(leaked), "{leaked} in an API answer");
    }
}
