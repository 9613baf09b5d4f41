//! Input that is not understood is refused, never silently ignored: query parameters on every
//! read route, config keys this build does not implement, and the offline commands' flags and
//! database paths.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sse::SseReader;
use crate::support::*;

/// A GET whose answer must be `400 {"error": …}` mentioning `needle`.
async fn assert_refused(app: &TestApp, path: &str, needle: &str) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 400, "GET {path}: {body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(error.contains(needle), "GET {path} names {needle}: {body}");
}

#[tokio::test]
async fn every_read_route_refuses_a_query_parameter_it_does_not_know() {
    let app = spawn_app().await;
    let stored = app
        .post(
            "s",
            &[("content-type", "application/json")],
            "{\"type\":\"t\"}",
        )
        .await;
    assert_eq!(stored.status(), 200);
    let id = stored.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let routes = [
        "/api/events".to_string(),
        format!("/api/events/{id}"),
        format!("/api/events/{id}/raw"),
        "/api/stats".to_string(),
        "/api/sources".to_string(),
        "/api/stream".to_string(),
        "/api/alerts".to_string(),
        "/api/meta".to_string(),
    ];
    for route in &routes {
        assert_eq!(
            app.get_status(route).await,
            200,
            "{route} without parameters"
        );
        assert_refused(&app, &format!("{route}?bogus=1"), "`bogus`").await;
    }
    assert_refused(&app, "/api/events?sourc=github", "`sourc`").await;
    assert_refused(&app, "/api/events?source=s&sourc=github", "`sourc`").await;
    assert_refused(&app, "/api/stats?since=1h&until=1m", "`until`").await;
    assert_refused(&app, "/api/stream?source=s&limit=5", "`limit`").await;
    assert_refused(&app, "/api/alerts?limit=5&lmit=3", "`lmit`").await;
}

/// Posts a JSON body to source `s`; returns the event's id.
async fn post_json(app: &TestApp, body: &'static str) -> i64 {
    let response = app
        .post("s", &[("content-type", "application/json")], body)
        .await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn the_stream_applies_the_status_signature_and_error_filters_live_and_on_resume() {
    let app = spawn_app_with("[sources.gh]\nprovider = \"github\"\nsecrets = [\"s3cret\"]\n").await;
    let fine = r#"{"type":"payment","status":"ok"}"#;
    let failed = r#"{"type":"payment","status":"failed"}"#;
    post_json(&app, fine).await;
    let failed_before = post_json(&app, failed).await;
    let errors = app.url("/api/stream?error=true&status=received&signature=unverified");
    let mut resumed = SseReader::open(&app.client, &errors, Some(0)).await;
    let mut fine_only =
        SseReader::open(&app.client, &app.url("/api/stream?error=false"), None).await;
    let mut rejected =
        SseReader::open(&app.client, &app.url("/api/stream?status=rejected"), None).await;
    let failed_after = post_json(&app, failed).await;
    let fine_after = post_json(&app, fine).await;
    let forged = app.post("gh", &[("x-github-event", "push")], "{}").await;
    assert_eq!(forged.status(), 401, "recorded as rejected");
    let each = Duration::from_secs(10);
    assert_eq!(
        resumed.next_ids(2, each).await,
        [failed_before, failed_after]
    );
    assert_eq!(fine_only.next_ids(1, each).await, [fine_after]);
    let rejected_id = rejected.next_id(each).await.expect("the rejected one");
    assert!(rejected_id > fine_after, "only the rejected one");
    assert_refused(&app, "/api/stream?error=maybe", "error").await;
    assert_refused(&app, "/api/stream?since=yesterday", "since").await;
    assert_refused(&app, "/api/stream?until=1h", "`until`").await;
    assert_refused(&app, "/api/stream?before=1", "`before`").await;
    assert_refused(&app, "/api/stream?limit=1", "`limit`").await;
}

#[tokio::test]
async fn search_parameters_are_checked_and_only_field_may_repeat() {
    let app = spawn_app().await;
    for route in ["/api/events", "/api/stream"] {
        assert_refused(&app, &format!("{route}?q=%2A"), "q:").await;
        assert_refused(&app, &format!("{route}?field=%2Fa%3E%3Dx"), "field:").await;
        assert_refused(&app, &format!("{route}?q=a&q=b"), "`q`").await;
    }
    let page = app
        .get_json("/api/events?q=card&field=%2Fa%3D1&field=header%3Ax%3D2")
        .await;
    assert!(page["events"].is_array(), "{page}");
}

#[tokio::test]
async fn a_repeated_or_out_of_range_parameter_is_refused_not_narrowed() {
    let app = spawn_app().await;
    assert_refused(&app, "/api/events?source=a&source=b", "`source`").await;
    assert_refused(&app, "/api/events?source=str%20ipe", "source").await;
    assert_refused(&app, "/api/events?limit=5000", "limit").await;
    assert_refused(&app, "/api/alerts?limit=5000", "limit").await;
    let page = app.get_json("/api/events?limit=1000&source=").await;
    assert!(page["events"].is_array(), "{page}");
}

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

/// What one run of the binary said.
pub(crate) struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `hookwatch ARGS` in `dir` with only the given `HOOKWATCH_*` variables set; gives up
/// (and fails) after 20 s, so a command that should stop but serves instead cannot hang.
pub(crate) fn hookwatch(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "HOOKWATCH_LISTEN",
        "HOOKWATCH_TOKEN",
        "HOOKWATCH_DATABASE",
        "HOOKWATCH_CONFIG",
    ] {
        command.env_remove(var);
    }
    command.envs(envs.iter().copied());
    let mut child = command.spawn().expect("start hookwatch");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("hookwatch {args:?} did not stop");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The names of the files in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_forward_failures_rule_naming_an_unknown_target_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let forward = "[[forward]]\nname = \"app\"\nsource = \"*\"\nto = \"http://localhost:3000/\"\n";
    let rule = "[[alerts.rules]]\nname = \"f\"\nthreshold = 1\nwindow_secs = 60\n";
    let cases = [
        (
            format!("{forward}{rule}kind = \"forward_failures\"\ntarget = \"appp\"\n"),
            "`alerts.rules[0].target`",
        ),
        (
            format!("{forward}{rule}kind = \"burst\"\ntarget = \"app\"\n"),
            "`target` applies only to forward_failures rules",
        ),
        (
            format!("{forward}{rule}kind = \"forward_failures\"\nsource = \"stripe\"\n"),
            "do not apply to a forward_failures rule",
        ),
    ];
    for (text, wanted) in cases {
        std::fs::write(dir.path().join("f.toml"), &text).unwrap();
        for command in ["serve", "check-config"] {
            let run = hookwatch(dir.path(), &[command, "--config", "f.toml"], &[]);
            assert_eq!(run.code, Some(2), "{command} with {text}: {}", run.stderr);
            assert!(run.stderr.contains(wanted), "{wanted}: {}", run.stderr);
        }
    }
    let good = format!("{forward}{rule}kind = \"forward_failures\"\ntarget = \"app\"\n");
    std::fs::write(dir.path().join("f.toml"), good).unwrap();
    let run = hookwatch(dir.path(), &["check-config", "--config", "f.toml"], &[]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stdout
            .contains("kind = \"forward_failures\"\ntarget = \"app\"\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_config_shows_every_section_it_understood() {
    let dir = tempfile::tempdir().unwrap();
    let toml = "public_url = \"https://hooks.example.com\"\n\
                [sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"whsec_hidden_1\"]\n\
                [[alerts.rules]]\nname = \"burst\"\nkind = \"burst\"\nthreshold = 3\nwindow_secs = 60\n\
                [[alerts.sinks]]\nkind = \"log\"\n\
                [enrichment]\nkind = \"swiftsearch\"\nurl = \"https://search.example/api\"\n\
                api_key_env = \"HW_TEST_ENRICH_KEY\"\n";
    std::fs::write(dir.path().join("hookwatch.toml"), toml).unwrap();
    let run = hookwatch(
        dir.path(),
        &["check-config"],
        &[("HW_TEST_ENRICH_KEY", "key-hidden-2")],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    for section in [
        "public_url = \"https://hooks.example.com\"",
        "[sources.stripe]",
        "[[alerts.rules]]",
        "[[alerts.sinks]]",
        "[enrichment]",
    ] {
        assert!(
            run.stdout.contains(section),
            "shows {section}: {}",
            run.stdout
        );
    }
    assert!(!run.stdout.contains("hidden_1") && !run.stdout.contains("key-hidden-2"));
    std::fs::write(dir.path().join("hookwatch.toml"), "").unwrap();
    let empty = hookwatch(dir.path(), &["check-config"], &[]);
    for absent in [
        "# no [sources.NAME]",
        "# no [enrichment]",
        "# no [[alerts.rules]]",
    ] {
        assert!(
            empty.stdout.contains(absent),
            "says {absent}: {}",
            empty.stdout
        );
    }
}

/// The value of `database = "…"` in check-config's output.
fn database_line(stdout: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("database = "))
        .unwrap_or_else(|| panic!("a database line: {stdout}"));
    line["database = ".len()..].trim_matches('"').to_string()
}

#[test]
fn check_config_prints_a_database_url_that_can_be_pasted_back() {
    let dir = tempfile::tempdir().unwrap();
    let run = hookwatch(dir.path(), &["check-config"], &[]);
    assert_eq!(database_line(&run.stdout), "sqlite://hookwatch.db");
    let run = hookwatch(
        dir.path(),
        &["check-config", "--database", "sqlite:data/h.db"],
        &[],
    );
    let shown = database_line(&run.stdout);
    assert_eq!(shown, "sqlite://data/h.db");
    let again = hookwatch(dir.path(), &["check-config", "--database", &shown], &[]);
    assert_eq!(database_line(&again.stdout), shown, "pasted back, the same");
    let run = hookwatch(
        dir.path(),
        &[
            "check-config",
            "--database",
            "postgres://app:pw-secret-3@db.internal:5432/hooks",
        ],
        &[],
    );
    assert_eq!(
        database_line(&run.stdout),
        "postgres://app:***@db.internal:5432/hooks"
    );
    assert!(!run.stdout.contains("pw-secret-3"));
}

#[test]
fn a_missing_config_file_is_reported_once_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let flag = hookwatch(dir.path(), &["serve", "--config", "missing.toml"], &[]);
    let env = hookwatch(
        dir.path(),
        &["events"],
        &[("HOOKWATCH_CONFIG", "missing.toml")],
    );
    for run in [flag, env] {
        assert_eq!(run.code, Some(2), "{}", run.stderr);
        assert_eq!(
            run.stderr.matches("missing.toml").count(),
            1,
            "{}",
            run.stderr
        );
        assert_eq!(
            run.stderr.matches("no such file").count(),
            1,
            "{}",
            run.stderr
        );
        assert!(!run.stderr.contains("os error"), "{}", run.stderr);
    }
    assert_eq!(files(dir.path()), Vec::<String>::new(), "nothing created");
}

#[test]
fn the_read_commands_on_a_database_file_that_does_not_exist_exit_1_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["events", "stats", "alerts"] {
        let run = hookwatch(
            dir.path(),
            &[command, "--database", "sqlite://typo.db"],
            &[],
        );
        assert_eq!(run.code, Some(1), "{command}: {}", run.stderr);
        assert!(
            run.stderr.contains("no database at typo.db"),
            "{command}: {}",
            run.stderr
        );
        let run = hookwatch(dir.path(), &[command], &[]);
        assert_eq!(run.code, Some(1), "{command}: {}", run.stderr);
        assert!(
            run.stderr.contains("no database at hookwatch.db"),
            "{command} with the default database: {}",
            run.stderr
        );
    }
    assert_eq!(files(dir.path()), Vec::<String>::new(), "nothing created");
}

#[tokio::test]
async fn a_bad_flag_value_exits_2_naming_the_flag() {
    let dir = spawn_app().await.stop().await;
    let db = format!("sqlite://{}", dir.path().join("hookwatch.db").display());
    let with_db = |args: &[&str]| {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--database", &db]);
        hookwatch(dir.path(), &all, &[])
    };
    for good in [
        &[
            "events", "--since", "2h", "--limit", "1000", "--status", "received",
        ][..],
        &["stats", "--since", "15m"],
        &["alerts", "--limit", "1000"],
    ] {
        let run = with_db(good);
        assert_eq!(run.code, Some(0), "{good:?}: {}", run.stderr);
    }
    let cases = [
        (&["events", "--since", "2x"][..], "--since"),
        (&["events", "--until", "tomorrow"], "--until"),
        (&["events", "--limit", "0"], "--limit"),
        (&["events", "--limit", "5000"], "--limit"),
        (&["events", "--limit", "ten"], "--limit"),
        (&["events", "--status", "ok"], "--status"),
        (&["events", "--signature", "yes"], "--signature"),
        (&["events", "--error", "maybe"], "--error"),
        (&["events", "--before", "last"], "--before"),
        (&["events", "--source", "stripe "], "--source"),
        (&["stats", "--since", "2x"], "--since"),
        (&["alerts", "--limit", "0"], "--limit"),
        (&["alerts", "--limit", "5000"], "--limit"),
        (&["serve", "--pool-size", "many"], "--pool-size"),
    ];
    for (args, flag) in cases {
        let run = with_db(args);
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(flag),
            "{args:?} names {flag}: {}",
            run.stderr
        );
    }
}

#[test]
fn an_address_in_use_is_named_with_how_to_choose_another() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let run = hookwatch(dir.path(), &["serve", "--listen", &address], &[]);
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr.contains(&address),
        "names {address}: {}",
        run.stderr
    );
    assert!(run.stderr.contains("already in use"), "{}", run.stderr);
    assert!(run.stderr.contains("--listen"), "{}", run.stderr);
    assert_eq!(
        files(dir.path()),
        Vec::<String>::new(),
        "no database created"
    );
}
