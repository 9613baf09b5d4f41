//! The log of the real binary: text or JSON lines, colour only on a terminal, a wrong setting
//! stops start-up, and no secret ever reaches it, whatever the traffic.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::pg;
use crate::support::eventually;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");
const TOKEN: &str = "log-test-token-TOKENSECRET";
const STRIPE_SECRET: &str = "whsec_STRIPESECRETforlogs";
const GITHUB_SECRET: &str = "GITHUBSECRETforlogs";
const API_KEY: &str = "ENRICHAPIKEYSECRET";
const DB_PASSWORD: &str = "DBPASSWORDSECRET";
/// A wrong guess is no secret, but it may be the real token mistyped: never logged either.
const GUESS: &str = "log-test-token-TOKENSECREX";

fn hmac_hex(key: &str, message: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The config of a server with every kind of secret; enrichment calls a port where nothing
/// listens, so its failure is logged too.
fn config() -> String {
    format!(
        "token = \"{TOKEN}\"\n\
         [sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{STRIPE_SECRET}\"]\n\
         [sources.github]\nprovider = \"github\"\nsecret_env = \"HW_LOG_GITHUB_SECRET\"\n\
         [enrichment]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/lookup\"\n\
         api_key_env = \"HW_LOG_API_KEY\"\nwhen_types = [\"*\"]\ntimeout_secs = 1\n"
    )
}

/// Runs `serve` with `format`, sends logins, bad logins, signed and forged deliveries and
/// session traffic, stops it; answers its stderr and the session id it handed out.
async fn run_with_traffic(dir: &Path, format: &str, database: &str) -> (String, String) {
    std::fs::write(dir.join("hookwatch.toml"), config()).unwrap();
    let log_path = dir.join(format!("{format}.log"));
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", database])
        .current_dir(dir)
        .env_remove("HOOKWATCH_CONFIG")
        .env_remove("HOOKWATCH_TOKEN")
        .env("HOOKWATCH_LOG", "trace")
        .env("HOOKWATCH_LOG_FORMAT", format)
        .env("HW_LOG_GITHUB_SECRET", GITHUB_SECRET)
        .env("HW_LOG_API_KEY", API_KEY)
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("banner in time")
        .unwrap()
        .expect("a banner");
    let base = banner.split_whitespace().last().unwrap().to_string();
    let session = traffic(&base).await;
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().unwrap().to_string()])
        .status();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("exit in time")
        .unwrap();
    assert!(status.success(), "{status}");
    (std::fs::read_to_string(log_path).unwrap(), session)
}

/// The traffic: answers the session id of the right login.
async fn traffic(base: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = |token: &'static str| {
        client
            .post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"))
            .send()
    };
    assert_eq!(login(GUESS).await.unwrap().status(), 401);
    let right = login(TOKEN).await.unwrap();
    assert_eq!(right.status(), 303);
    let cookie = right.headers()["set-cookie"].to_str().unwrap();
    let pair = cookie.split(';').next().unwrap().to_string();
    let session = pair.split_once('=').unwrap().1.to_string();
    let wrong_bearer = client
        .get(format!("{base}/api/events"))
        .bearer_auth(GUESS)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_bearer.status(), 401);

    let body = r#"{"id":"evt_log","type":"charge.failed"}"#;
    let t = chrono::Utc::now().timestamp();
    let stripe_ok = format!(
        "t={t},v1={}",
        hmac_hex(STRIPE_SECRET, &format!("{t}.{body}"))
    );
    let github_ok = format!("sha256={}", hmac_hex(GITHUB_SECRET, body));
    let deliveries = [
        ("stripe", "stripe-signature", stripe_ok.as_str(), 200),
        ("stripe", "stripe-signature", "t=1,v1=00", 401),
        ("github", "x-hub-signature-256", github_ok.as_str(), 200),
        ("github", "x-hub-signature-256", "sha256=00", 401),
        ("github", "x-unrelated", "x", 401),
    ];
    for (source, header, value, status) in deliveries {
        let response = client
            .post(format!("{base}/webhook/{source}"))
            .header(header, value)
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("d-{value}"))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{source} {value}");
    }

    // The session at work, a forged cross-origin logout, then a real one and a stale cookie.
    let with_cookie = |request: reqwest::RequestBuilder| request.header("cookie", &pair);
    let events: Value = with_cookie(client.get(format!("{base}/api/events?signature=valid")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = events["events"][0]["id"].as_i64().expect("an event");
    eventually("the enrichment call to fail", || {
        let request = client
            .get(format!("{base}/api/events/{id}"))
            .bearer_auth(TOKEN);
        async move {
            let event: Value = request.send().await.unwrap().json().await.unwrap();
            event["enrichment"]["error"].is_string()
        }
    })
    .await;
    let forged = with_cookie(client.post(format!("{base}/logout")))
        .header("origin", "http://127.0.0.1:1")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 403);
    let logout = with_cookie(client.post(format!("{base}/logout")))
        .header("origin", base)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    let stale = with_cookie(client.get(format!("{base}/api/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 401);
    session
}

/// Asserts the run was logged (the traffic reached the log) and no secret is in it.
fn assert_no_secret(log: &str, session: &str) {
    for exercised in [
        "Enrichment call failed",
        "login refused",
        "Refused a state change",
        "Serving",
    ] {
        assert!(log.contains(exercised), "`{exercised}` is logged:\n{log}");
    }
    let secrets = [
        TOKEN,
        GUESS,
        STRIPE_SECRET,
        "STRIPESECRETforlogs",
        GITHUB_SECRET,
        API_KEY,
        DB_PASSWORD,
        session,
    ];
    for secret in secrets {
        assert!(!log.contains(secret), "{secret} is in the log:\n{log}");
    }
}

#[tokio::test]
async fn no_secret_reaches_the_log_in_either_format_and_json_lines_each_parse() {
    let dir = tempfile::tempdir().unwrap();
    let (text_db, json_db) = (pg::fresh_db().await, pg::fresh_db().await);
    // With trust auth the server ignores the password, so the URL can carry one.
    let database = |db: &Option<pg::TestDb>, name: &str| match db {
        Some(db) => db.url.replacen('@', &format!(":{DB_PASSWORD}@"), 1),
        None => format!("sqlite://{}", dir.path().join(name).display()),
    };
    let (text_db, json_db) = (database(&text_db, "text.db"), database(&json_db, "json.db"));
    let (text, session) = run_with_traffic(dir.path(), "text", &text_db).await;
    assert!(!text.contains('\u{1b}'), "no colour codes in a file");
    assert_no_secret(&text, &session);

    let (json, session) = run_with_traffic(dir.path(), "json", &json_db).await;
    let mut lines = 0;
    for line in json.lines() {
        let value: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(value.is_object() && value["level"].is_string(), "{line}");
        lines += 1;
    }
    assert!(lines > 10, "the JSON run logged: {json}");
    assert!(!json.contains('\u{1b}'));
    assert_no_secret(&json, &session);
}

#[test]
fn an_unknown_log_format_or_filter_stops_start_up_with_exit_2_naming_the_variable() {
    let cases = [
        ("HOOKWATCH_LOG_FORMAT", "yaml"),
        ("HOOKWATCH_LOG_FORMAT", "JSON"),
        ("HOOKWATCH_LOG", "hookwatch=loud"),
    ];
    for (var, value) in cases {
        let out = Command::new(BIN)
            .args(["check-config"])
            .env(var, value)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{var}={value}: {stderr}");
        assert!(stderr.contains(&format!("{var}:")), "{stderr}");
        assert!(stderr.contains(value), "{stderr}");
    }
}

/// The first log lines of `serve` run on a pseudo-terminal (through `script`), up to the line
/// that says it is serving.
async fn serve_on_a_terminal(envs: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let serve = format!("{BIN} serve --listen 127.0.0.1:0");
    let mut command = tokio::process::Command::new("script");
    command
        .args(["-q", "-e", "-c", &serve, "/dev/null"])
        .current_dir(dir.path())
        .env_remove("HOOKWATCH_CONFIG")
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_TOKEN")
        .env_remove("NO_COLOR")
        .env_remove("HOOKWATCH_LOG_FORMAT")
        .env("HOOKWATCH_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    for (name, value) in envs {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("script (util-linux) runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen += &line;
            seen.push('\n');
            if line.contains("Serving") {
                return;
            }
        }
    };
    let finished = tokio::time::timeout(Duration::from_secs(30), read).await;
    assert!(
        finished.is_ok(),
        "serve logged on the terminal in time:\n{seen}"
    );
    seen
}

#[tokio::test]
async fn text_logs_are_coloured_on_a_terminal_unless_no_color_or_json() {
    let coloured = serve_on_a_terminal(&[]).await;
    assert!(
        coloured.contains("\u{1b}["),
        "colour on a terminal:\n{coloured}"
    );
    let plain = serve_on_a_terminal(&[("NO_COLOR", "1")]).await;
    assert!(!plain.contains("\u{1b}["), "NO_COLOR:\n{plain}");
    let json = serve_on_a_terminal(&[("HOOKWATCH_LOG_FORMAT", "json")]).await;
    assert!(!json.contains("\u{1b}["), "JSON:\n{json}");
    let line = json.lines().find(|l| l.contains("Serving")).unwrap();
    let parsed: Value = serde_json::from_str(line.trim()).expect("a JSON line");
    assert!(parsed["message"].as_str().unwrap().contains("Serving"));
}
