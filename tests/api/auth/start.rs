//! The real binary: a short token is refused off loopback and warned about on loopback, and a
//! throttled address is logged once.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

fn hookwatch(dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .current_dir(dir)
        .env_remove("HOOKWATCH_LISTEN")
        .env_remove("HOOKWATCH_TOKEN")
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_CONFIG");
    command
}

#[test]
fn a_token_shorter_than_16_characters_is_refused_off_loopback_saying_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["serve", "check-config"] {
        let out = hookwatch(dir.path())
            .args([
                command,
                "--listen",
                "0.0.0.0:0",
                "--token",
                "fifteen-chars-x",
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains("openssl rand -hex 32"), "{stderr}");
        assert!(stderr.contains("16"), "{stderr}");
        assert!(
            !stderr.contains("fifteen-chars-x"),
            "the token is not echoed"
        );
    }
    let out = hookwatch(dir.path())
        .args(["check-config", "--listen", "0.0.0.0:0"])
        .args(["--token", "sixteen-chars-xx"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn on_loopback_a_short_token_is_warned_about_and_a_guessing_address_is_logged_once() {
    let dir = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = tokio::process::Command::from(hookwatch(dir.path()));
    let mut child = child
        .args(["serve", "--listen", "127.0.0.1:0", "--token", "short"])
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    while let Ok(Ok(Some(line))) =
        tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await
    {
        let last = line.contains("data:");
        banner.push(line);
        if last {
            break;
        }
    }
    let base = banner[0].split_whitespace().last().unwrap().to_string();
    // The warning follows the data line.
    let warning = tokio::time::timeout(Duration::from_secs(5), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap_or_default();
    assert!(
        warning.contains("WARNING") && warning.contains("openssl rand -hex 32"),
        "{banner:?} {warning}"
    );
    let client = reqwest::Client::new();
    for n in 0..15 {
        let status = client
            .get(format!("{base}/api/events"))
            .bearer_auth(format!("guess-{n}"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, if n < 10 { 401 } else { 429 }, "request {n}");
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    let _ = child.wait().await;
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert_eq!(
        log.matches("Too many wrong tokens").count(),
        1,
        "logged once: {log}"
    );
    assert!(!log.contains("guess-"), "guesses are not logged: {log}");
}
