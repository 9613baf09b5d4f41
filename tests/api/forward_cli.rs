//! `hookwatch replay` and `hookwatch forwards` against a running server.

use serde_json::Value;

use crate::forward::{forward_all, post_json, wait_json, wait_state};
use crate::forward_target::{Reply, Target};
use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary without blocking the test's runtime (the server runs on it).
async fn cli(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .env_remove("HOOKWATCH_TOKEN")
        .output()
        .await
        .unwrap();
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[tokio::test]
async fn replay_and_forwards_talk_to_a_running_server() {
    let target = Target::start(Reply::Status(200)).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "")).await;
    let server = app.url("");
    let server = server.trim_end_matches('/');
    let a = post_json(&app, "shop", "{}").await;
    let b = post_json(&app, "shop", "{}").await;
    post_json(&app, "other", "{}").await;
    target.wait_for(3).await;
    wait_state(&app, a, "delivered").await;

    let run = cli(&["replay", &a.to_string(), "--server", server]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, format!("event {a}: queued to app\n"));
    target.wait_for(4).await;

    let run = cli(&["replay", "--source", "shop", "--server", server]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "replayed 2 events (2 deliveries queued); 0 taken by no rule\n"
    );
    let got = target.wait_for(6).await;
    let mut last: Vec<i64> = got[4..].iter().map(|r| r.event_id()).collect();
    last.sort();
    assert_eq!(last, [a, b]);

    let run = cli(&["replay", "999", "--server", server]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("404"), "{}", run.stderr);
    for args in [vec!["replay"], vec!["replay", "1", "--source", "x"]] {
        let mut args = args.clone();
        args.extend(["--server", server]);
        let run = cli(&args).await;
        assert_eq!(run.code, Some(2), "{args:?}: {}", run.stderr);
    }

    let run = cli(&["forwards", "pause", "app", "--server", server]).await;
    assert_eq!(
        (run.code, run.stdout.as_str()),
        (Some(0), "app: paused\n"),
        "{}",
        run.stderr
    );
    let run = cli(&["forwards", "pause", "nope", "--server", server]).await;
    assert_eq!(run.code, Some(1));
    let run = cli(&["forwards", "resume", "app", "--server", server]).await;
    assert_eq!((run.code, run.stdout.as_str()), (Some(0), "app: active\n"));

    wait_json(&app, "/api/forwards?state=delivered", |f| {
        f["forwards"].as_array().unwrap().len() == 6
    })
    .await;
    let run = cli(&[
        "forwards", "--json", "--source", "other", "--server", server,
    ])
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["source"], "other");
    assert_eq!(lines[0]["state"], "delivered");
    let run = cli(&["forwards", "--state", "delivered", "--server", server]).await;
    assert_eq!(run.stdout.lines().count(), 6, "{}", run.stdout);
    assert!(run.stdout.contains("HTTP 200"), "{}", run.stdout);
    let run = cli(&["forwards", "--state", "lost", "--server", server]).await;
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("state"), "{}", run.stderr);
}
