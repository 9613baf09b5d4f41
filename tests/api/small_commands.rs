//! The small commands of the real binary: `healthcheck`, `completions` and `--version`.

use std::process::{Command, Output};

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

async fn run(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || Command::new(BIN).args(&args).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn healthcheck_exits_0_for_a_running_server_and_1_for_a_closed_port() {
    let app = spawn_app().await;
    let up = run(&["healthcheck", "--server", &app.url("")]).await;
    assert_eq!(up.status.code(), Some(0), "{up:?}");
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let down = run(&["healthcheck", "--server", &closed]).await;
    assert_eq!(down.status.code(), Some(1), "{down:?}");
    let stderr = String::from_utf8_lossy(&down.stderr);
    assert!(
        stderr.contains("/healthz"),
        "says what it could not reach: {stderr}"
    );
}

#[tokio::test]
async fn healthcheck_exits_1_when_the_answer_is_not_200() {
    // Something listening that is not hookwatch: its /healthz is a 404.
    let router = axum::Router::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let output = run(&["healthcheck", "--server", &url]).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("404"));
}

#[tokio::test]
async fn bash_completions_know_the_subcommands_and_an_unknown_shell_exits_2() {
    let bash = run(&["completions", "bash"]).await;
    assert_eq!(bash.status.code(), Some(0));
    let script = String::from_utf8_lossy(&bash.stdout);
    for word in [
        "serve",
        "events",
        "tail",
        "healthcheck",
        "completions",
        "--forward-to",
    ] {
        assert!(script.contains(word), "`{word}` in the bash completions");
    }
    for shell in ["zsh", "fish"] {
        let output = run(&["completions", shell]).await;
        assert_eq!(output.status.code(), Some(0), "{shell}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("healthcheck"));
    }
    let unknown = run(&["completions", "tcsh"]).await;
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("tcsh"));
}

#[tokio::test]
async fn version_names_the_package_version_and_the_git_commit() {
    let output = run(&["--version"]).await;
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let expected = format!("hookwatch {}", env!("CARGO_PKG_VERSION"));
    let commit = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match commit {
        Some(commit) => assert_eq!(text, format!("{expected} ({commit})")),
        // Built outside a git checkout (a source tarball): the version alone.
        None => assert_eq!(text, expected),
    }
}

#[tokio::test]
async fn a_global_flag_a_command_does_not_use_is_refused_not_ignored() {
    for args in [
        &["tail", "--database", "sqlite://x.db"][..],
        &["--config", "a.toml", "healthcheck"],
        &["completions", "bash", "--database", "sqlite://x.db"],
        &[
            "trigger",
            "--database",
            "sqlite://x.db",
            "stripe",
            "charge.failed",
        ],
    ] {
        let out = run(args).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("does not use it"), "{args:?}: {stderr}");
    }
}
