//! `check-config --json`: the effective configuration as one JSON document, every section
//! present, every secret masked exactly as in the text form, exit 2 on a problem.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

const SECRETS: [&str; 9] = [
    "TOKENSECRETforjson",
    "DBPASSWORDforjson",
    "whsec_STRIPEforjson",
    "GITHUBENVforjson",
    "APIKEYforjson",
    "SLACKPATHforjson",
    "WEBHOOKPATHforjson",
    "PDROUTINGforjson",
    "SMTPPASSforjson",
];

/// A configuration with a secret in every place one can be.
fn config() -> String {
    format!(
        r#"database = "postgres://app:{db}@db.example.com/hooks"
token = "{token}"
session_idle = "30m"
[sources.stripe]
provider = "stripe"
secrets = ["{stripe}"]
secret_env = "HW_JSON_GITHUB"
event_type = "/data/kind"
[sources.open]
[enrichment]
kind = "http"
url = "https://lookup.example.com/q"
api_key_env = "HW_JSON_KEY"
when_types = ["*.failed"]
[[alerts.rules]]
name = "burst"
kind = "burst"
threshold = 5
window_secs = 60
[[alerts.sinks]]
kind = "slack"
url = "https://hooks.slack.com/services/{slack}"
[[alerts.sinks]]
kind = "webhook"
url = "https://ops.example.com/{webhook}"
[[alerts.sinks]]
kind = "pagerduty"
routing_key_env = "HW_JSON_PD"
[[alerts.sinks]]
kind = "email"
host = "smtp.example.com"
from = "hookwatch <alerts@example.com>"
to = ["ops@example.com"]
username = "alerts"
password_env = "HW_JSON_SMTP"
"#,
        db = SECRETS[1],
        token = SECRETS[0],
        stripe = SECRETS[2],
        slack = SECRETS[5],
        webhook = SECRETS[6],
    )
}

fn check_config(dir: &Path, json: bool) -> Output {
    let mut command = Command::new(BIN);
    command.arg("check-config");
    if json {
        command.arg("--json");
    }
    command
        .current_dir(dir)
        .env_remove("HOOKWATCH_CONFIG")
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_TOKEN")
        .env("HW_JSON_GITHUB", SECRETS[3])
        .env("HW_JSON_KEY", SECRETS[4])
        .env("HW_JSON_PD", SECRETS[7])
        .env("HW_JSON_SMTP", SECRETS[8])
        .output()
        .expect("run hookwatch")
}

#[test]
fn check_config_json_is_one_document_masked_like_the_text_form() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hookwatch.toml"), config()).unwrap();
    let out = check_config(dir.path(), true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let text = String::from_utf8(check_config(dir.path(), false).stdout).unwrap();
    for secret in SECRETS {
        assert!(!stdout.contains(secret), "{secret} in the JSON: {stdout}");
        assert!(!text.contains(secret), "{secret} in the text: {text}");
    }
    assert_eq!(json["config_file"], "hookwatch.toml");
    assert_eq!(json["token"], "(set, hidden)");
    assert!(text.contains("token = \"(set, hidden)\""), "{text}");
    assert_eq!(json["session_idle"], "30m");
    let stripe = &json["sources"]["stripe"];
    assert_eq!(stripe["secrets"], "(2 set, hidden)");
    assert!(text.contains("secrets = \"(2 set, hidden)\""), "{text}");
    assert_eq!(stripe["event_type"], "/data/kind");
    assert!(json["sources"]["open"]["secrets"].is_string());
    let database = json["database"].as_str().unwrap();
    assert!(
        text.contains(&format!("database = \"{database}\"")),
        "{text}"
    );
    assert_eq!(json["enrichment"]["api_key"], "(set, hidden)");
    assert_eq!(json["alerts"]["rules"][0]["name"], "burst");
    let sinks = json["alerts"]["sinks"].as_array().unwrap();
    assert_eq!(sinks.len(), 4, "{json:#}");
    assert_eq!(sinks[2]["routing_key"], "(set, hidden)");
    assert_eq!(sinks[3]["password"], "(set, hidden)");
    for sink in &sinks[..2] {
        let url = sink["url"].as_str().unwrap();
        assert!(
            text.contains(&format!("url = \"{url}\"")),
            "{url} as in the text"
        );
    }
}

#[test]
fn check_config_json_exits_2_on_a_problem_with_nothing_on_stdout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("hookwatch.toml"),
        "[sources.s]\nprovider = \"nope\"\n",
    )
    .unwrap();
    let out = check_config(dir.path(), true);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sources.s.provider"), "{stderr}");
}

#[test]
fn check_config_quotes_every_value_so_odd_ones_read_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[sources.s]\nevent_type = \"/data/say \\\"hi\\\"\\\\x\"\n\
                  [[alerts.rules]]\nname = \"a \\\"quoted\\\" rule\"\nkind = \"burst\"\n\
                  type = \"charge.*\"\nthreshold = 5\nwindow_secs = 60\n";
    std::fs::write(dir.path().join("hookwatch.toml"), config).unwrap();
    let database = r#"sqlite://odd "name" \ here.db"#;
    let mut command = Command::new(BIN);
    let out = command
        .args(["check-config", "--json", "--database", database])
        .current_dir(dir.path())
        .env_remove("HOOKWATCH_CONFIG")
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_TOKEN")
        .output()
        .expect("run hookwatch");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(json["database"], database);
    assert_eq!(json["sources"]["s"]["event_type"], r#"/data/say "hi"\x"#);
    let rule = &json["alerts"]["rules"][0];
    assert_eq!(rule["name"], r#"a "quoted" rule"#);
    assert_eq!(rule["type"], "charge.*", "the pattern as written: {rule}");
}
