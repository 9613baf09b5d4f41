//! Alert configuration through the real binary: errors stop start-up naming the rule or
//! sink, `check-config` shows alerts with secrets masked, and no sink secret reaches the log
//! or an API answer even while every sink fails.

use std::process::{Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

use crate::alert_support::*;
use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

fn burst_rule(name: &str, source: &str, threshold: u32) -> String {
    format!(
        "[[alerts.rules]]\nname = \"{name}\"\nkind = \"burst\"\nsource = \"{source}\"\n\
         threshold = {threshold}\nwindow_secs = 1\ncooldown_secs = 0\n"
    )
}

#[test]
fn a_bad_alert_config_stops_start_up_naming_the_rule() {
    let dir = tempfile::tempdir().unwrap();
    let ok_rule = burst_rule("fine", "a", 1);
    let cases = [
        (
            "[[alerts.rules]]\nname = \"stripe burst\"\nkind = \"spike\"\nwindow_secs = 1\n",
            "alerts.rules[1] \"stripe burst\": unknown kind `spike`",
        ),
        (
            "[[alerts.rules]]\nname = \"stripe burst\"\nkind = \"burst\"\nthreshold = 5\nwindow_secs = 0\n",
            "alerts.rules[1] \"stripe burst\": `window_secs` must be at least 1",
        ),
        (
            "[[alerts.rules]]\nname = \"stripe burst\"\nkind = \"errors\"\nwindow_secs = 60\n",
            "alerts.rules[1] \"stripe burst\": missing `threshold`",
        ),
        (
            "[[alerts.sinks]]\nkind = \"slack\"\n",
            "alerts.sinks[0] (slack): missing URL",
        ),
        (
            "[[alerts.sinks]]\nkind = \"pagerduty\"\nrouting_key_env = \"HOOKWATCH_TEST_UNSET_VAR\"\n",
            "environment variable HOOKWATCH_TEST_UNSET_VAR is not set",
        ),
    ];
    for (extra, expected) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, format!("{ok_rule}\n{extra}")).unwrap();
        let out = Command::new(BIN)
            .args(["check-config", "--config"])
            .arg(&path)
            .env_remove("HOOKWATCH_TEST_UNSET_VAR")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{extra}: {stderr}");
        assert!(stderr.contains(expected), "{extra}: {stderr}");
    }
}

#[test]
fn check_config_shows_alerts_with_every_secret_masked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.toml");
    let config = format!(
        "{}\n[[alerts.sinks]]\nkind = \"slack\"\nurl = \"https://hooks.slack.com/services/T0/B0/SLACKSECRET\"\n\
         [[alerts.sinks]]\nkind = \"pagerduty\"\nrouting_key_env = \"HW_PD\"\n\
         [[alerts.sinks]]\nkind = \"email\"\nhost = \"smtp.example.com\"\nfrom = \"a@example.com\"\nto = \"b@example.com\"\nusername = \"u\"\npassword_env = \"HW_SMTP\"\n",
        burst_rule("masked", "a", 1)
    );
    std::fs::write(&path, config).unwrap();
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&path)
        .env("HW_PD", "PDSECRETKEY")
        .env("HW_SMTP", "SMTPSECRETPASSWORD")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("name = \"masked\"") && stdout.contains("kind = \"pagerduty\""),
        "{stdout}"
    );
    for secret in [
        "SLACKSECRET",
        "PDSECRETKEY",
        "SMTPSECRETPASSWORD",
        "/services/",
    ] {
        assert!(!stdout.contains(secret), "{secret} leaked: {stdout}");
    }
}

#[tokio::test]
async fn sink_secrets_never_reach_the_log_or_an_api_answer_while_sinks_fail() {
    let failing = start_receiver(Answer::FailFirst(usize::MAX)).await;
    let (smtp, _) = start_smtp().await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "{}\n[[alerts.sinks]]\nkind = \"slack\"\nurl = \"{}\"\nretries = 1\nbackoff_ms = 10\n\
         [[alerts.sinks]]\nkind = \"webhook\"\nurl = \"{}\"\nretries = 1\nbackoff_ms = 10\n\
         [[alerts.sinks]]\nkind = \"pagerduty\"\nurl = \"{}\"\nrouting_key_env = \"HW_PD\"\nretries = 1\nbackoff_ms = 10\n\
         [[alerts.sinks]]\nkind = \"email\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"a@example.com\"\n\
         to = \"b@example.com\"\nusername = \"u\"\npassword_env = \"HW_SMTP\"\nretries = 1\nbackoff_ms = 10\n",
        burst_rule("leak", "leak", 1),
        failing.url("/services/T0/B0/SLACKPATHSECRET"),
        failing.url("/hook?token=WEBHOOKQUERYSECRET"),
        failing.url("/pd"),
        smtp.port(),
    );
    std::fs::write(dir.path().join("hookwatch.toml"), config).unwrap();
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env_remove("HOOKWATCH_CONFIG")
        .env_remove("HOOKWATCH_DATABASE")
        .env("HOOKWATCH_LOG", "trace")
        .env("HW_PD", "PDROUTINGKEYSECRET")
        .env("HW_SMTP", "SMTPPASSWORDSECRET")
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let base = banner.split_whitespace().last().unwrap().to_string();
    let client = reqwest::Client::new();
    let sent = client
        .post(format!("{base}/webhook/leak"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(sent.status(), 200);
    let log_path = dir.path().join("server.log");
    eventually("every sink to give up", || async {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        log.matches("giving up").count() >= 4
    })
    .await;
    let mut answers = String::new();
    for path in ["/api/alerts", "/api/events", "/api/sources"] {
        answers += &client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    }
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    let _ = child.wait().await;
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(answers.contains("\"rule\":\"leak\""), "{answers}");
    assert_eq!(
        failing.bodies("/pd")[0]["routing_key"],
        "PDROUTINGKEYSECRET"
    );
    for secret in [
        "SLACKPATHSECRET",
        "WEBHOOKQUERYSECRET",
        "PDROUTINGKEYSECRET",
        "SMTPPASSWORDSECRET",
    ] {
        assert!(!log.contains(secret), "{secret} in the log");
        assert!(!answers.contains(secret), "{secret} in an API answer");
    }
}
