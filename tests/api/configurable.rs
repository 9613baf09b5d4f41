//! Verification described in config for senders hookwatch does not know (`scheme = "hmac"`,
//! `"basic"`, `"api_key"`, `allow_ips` behind `trusted_proxies`), through the live server,
//! and the start-up errors a mistake in them gives.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha512;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");

const ACME: &str = r#"
[sources.acme]
scheme = "hmac"
header = "X-Signature"
algorithm = "sha512"
encoding = "hex"
prefix = "sha512="
timestamp_header = "X-Timestamp"
signed = "{timestamp}.{body}"
secrets = ["acme-old", "acme-new"]
"#;

fn sha512_hex(secret: &str, message: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// The newest event of `source` (waiting for it: a rejected attempt may land after the 401).
async fn newest(app: &TestApp, source: &str) -> Value {
    let path = format!("/api/events?source={source}&limit=1");
    eventually("the event is listed", || async {
        app.get_json(&path).await["events"][0]["id"].is_i64()
    })
    .await;
    let id = app.get_json(&path).await["events"][0]["id"].clone();
    app.get_json(&format!("/api/events/{id}")).await
}

#[tokio::test]
async fn a_sender_signing_sha512_hex_over_timestamp_and_body_is_valid() {
    let app = spawn_app_with(ACME).await;
    let body = r#"{"type":"invoice.paid","id":"in_1"}"#;
    let t = chrono::Utc::now().timestamp().to_string();
    let sig = format!(
        "sha512={}",
        sha512_hex("acme-new", format!("{t}.{body}").as_bytes())
    );
    let headers = [
        ("content-type", "application/json"),
        ("x-signature", sig.as_str()),
        ("x-timestamp", t.as_str()),
    ];
    let response = app.post("acme", &headers, body).await;
    assert_eq!(response.status(), 200);
    let event = newest(&app, "acme").await;
    assert_eq!(event["signature"], "valid", "{event}");
    assert_eq!(event["event_type"], "invoice.paid");
    assert_eq!(
        event["headers"]["x-signature"], sig,
        "a signature is no secret"
    );

    let tampered = [headers[0], headers[1], headers[2]];
    let response = app.post("acme", &tampered, "{\"type\":\"forged\"}").await;
    assert_eq!(response.status(), 401);
    let rejected = newest(&app, "acme").await;
    assert_eq!(rejected["status"], "rejected", "{rejected}");
    assert_eq!(
        rejected["signature_reason"],
        "no secret matches the signature"
    );

    let unprefixed = sig.trim_start_matches("sha512=");
    let response = app
        .post(
            "acme",
            &[("x-signature", unprefixed), ("x-timestamp", &t)],
            body,
        )
        .await;
    assert_eq!(response.status(), 401);
    let reason = newest(&app, "acme").await["signature_reason"].clone();
    assert!(reason.as_str().unwrap().contains("prefix"), "{reason}");

    let response = app.post("acme", &[], body).await;
    assert_eq!(response.status(), 401);
    let missing = newest(&app, "acme").await;
    assert_eq!(missing["signature"], "missing");
    assert_eq!(
        missing["signature_reason"], "no x-signature header was sent",
        "a missing signature has a reason too"
    );
}

#[tokio::test]
async fn a_matching_signature_with_an_old_timestamp_is_rejected_as_stale() {
    let app = spawn_app_with(ACME).await;
    let body = "{}";
    let t = (chrono::Utc::now().timestamp() - 3600).to_string();
    let sig = format!(
        "sha512={}",
        sha512_hex("acme-old", format!("{t}.{body}").as_bytes())
    );
    let response = app
        .post("acme", &[("x-signature", &sig), ("x-timestamp", &t)], body)
        .await;
    assert_eq!(response.status(), 401);
    let reason = newest(&app, "acme").await["signature_reason"].clone();
    assert!(reason.as_str().unwrap().contains("old"), "{reason}");
}

#[tokio::test]
async fn basic_auth_credentials_are_checked_and_stored_masked() {
    let toml = "[sources.legacy]\nscheme = \"basic\"\nuser = \"legacy\"\npassword = \"hunter2\"\n";
    let app = spawn_app_with(toml).await;
    let good = format!("Basic {}", STANDARD.encode("legacy:hunter2"));
    let response = app.post("legacy", &[("authorization", &good)], "a=1").await;
    assert_eq!(response.status(), 200);
    let event = newest(&app, "legacy").await;
    assert_eq!(event["signature"], "valid");
    assert_eq!(event["headers"]["authorization"], "***");
    assert!(!event.to_string().contains(&good[6..]), "{event}");

    let response = app
        .post("legacy", &[("authorization", "Basic %%%not-base64%%%")], "")
        .await;
    assert_eq!(response.status(), 401);
    let rejected = newest(&app, "legacy").await;
    assert_eq!(rejected["status"], "rejected");
    let reason = rejected["signature_reason"].as_str().unwrap().to_string();
    assert!(reason.contains("not base64"), "{reason}");
    assert_eq!(rejected["headers"]["authorization"], "***");

    let wrong = format!("Basic {}", STANDARD.encode("legacy:hunter3"));
    let response = app.post("legacy", &[("authorization", &wrong)], "").await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn an_api_key_is_accepted_in_the_header_or_the_query_but_not_in_both() {
    let toml = "[sources.partner]\nscheme = \"api_key\"\nheader = \"X-Api-Key\"\n\
                query = \"key\"\nkeys = [\"k-old\", \"k-new\"]\n";
    let app = spawn_app_with(toml).await;
    let response = app.post("partner", &[("x-api-key", "k-old")], "{}").await;
    assert_eq!(response.status(), 200);
    let event = newest(&app, "partner").await;
    assert_eq!(event["signature"], "valid");
    assert_eq!(event["headers"]["x-api-key"], "***");

    let url = app.url("/webhook/partner?a=1&key=k-new");
    let response = app.client.post(&url).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let event = newest(&app, "partner").await;
    assert_eq!(event["query"], "a=1&key=***", "{event}");

    let url = app.url("/webhook/partner?key=k-new");
    let response = app
        .client
        .post(&url)
        .header("x-api-key", "k-new")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let rejected = newest(&app, "partner").await;
    assert_eq!(rejected["status"], "rejected");
    assert!(
        rejected["signature_reason"]
            .as_str()
            .unwrap()
            .contains("more than once"),
        "{rejected}"
    );
    assert_eq!(rejected["query"], "key=***");
    assert_eq!(rejected["headers"]["x-api-key"], "***");
}

#[tokio::test]
async fn a_peer_outside_allow_ips_is_refused_even_with_a_spoofed_forwarded_for() {
    let toml = "[sources.open]\nallow_ips = [\"203.0.113.0/24\"]\n";
    let app = spawn_app_with(toml).await;
    let response = app
        .post("open", &[("x-forwarded-for", "203.0.113.5")], "{}")
        .await;
    assert_eq!(response.status(), 403);
    let answer: Value = response.json().await.unwrap();
    assert!(
        answer["error"].as_str().unwrap().contains("127.0.0.1"),
        "{answer}"
    );
    let rejected = newest(&app, "open").await;
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(
        rejected["signature_reason"],
        "client address 127.0.0.1 is not in allow_ips"
    );
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_right_most_untrusted_forwarded_address_counts() {
    let toml = "trusted_proxies = [\"127.0.0.0/8\"]\n[sources.open]\n\
                allow_ips = [\"203.0.113.0/24\"]\n";
    let app = spawn_app_with(toml).await;
    let allowed = "198.51.100.1, 203.0.113.5, 127.0.0.2";
    let response = app
        .post("open", &[("x-forwarded-for", allowed)], "{}")
        .await;
    assert_eq!(response.status(), 200);
    let refused = "203.0.113.5, 198.51.100.1";
    let response = app
        .post("open", &[("x-forwarded-for", refused)], "{}")
        .await;
    assert_eq!(response.status(), 403);
    let response = app.post("open", &[], "{}").await;
    assert_eq!(response.status(), 403, "the proxy itself is not allowed");
}

fn serve_exit(toml: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.toml"), toml).unwrap();
    let out = Command::new(BIN)
        .args(["serve", "--config", "bad.toml"])
        .current_dir(dir.path())
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_CONFIG")
        .output()
        .expect("run hookwatch");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_mistake_in_a_configured_scheme_stops_start_up_naming_the_key() {
    let hmac = "[sources.a]\nscheme = \"hmac\"\nheader = \"X-Sig\"\nsecrets = [\"s\"]\n";
    let cases = [
        (
            format!("{hmac}signed = \"{{timestamp}}.{{bdy}}\"\ntimestamp_header = \"X-T\"\n"),
            "sources.a.signed",
            "{bdy}",
        ),
        (
            format!("{hmac}signed = \"{{timestamp}}.{{body}}\"\n"),
            "sources.a.signed",
            "timestamp_header",
        ),
        (
            format!("{hmac}signed = \"{{url}}\"\n"),
            "sources.a.signed",
            "public_url",
        ),
        (
            format!("{hmac}algorithm = \"md5\"\n"),
            "sources.a.algorithm",
            "md5",
        ),
        (
            format!("{hmac}encoding = \"base32\"\n"),
            "sources.a.encoding",
            "base32",
        ),
        (
            format!("{hmac}user = \"u\"\n"),
            "sources.a.user",
            "not read",
        ),
        (
            "[sources.a]\nscheme = \"hmac\"\nsecrets = [\"s\"]\n".into(),
            "sources.a.header",
            "header",
        ),
        (
            "[sources.a]\nscheme = \"rsa\"\n".into(),
            "sources.a.scheme",
            "rsa",
        ),
        (
            "[sources.a]\nallow_ips = [\"203.0.113.0/24\", \"203.0.113.300/24\"]\n".into(),
            "sources.a.allow_ips",
            "203.0.113.300/24",
        ),
        (
            "[sources.a]\nallow_ips = []\n".into(),
            "sources.a.allow_ips",
            "no network",
        ),
        (
            "trusted_proxies = [\"proxy.local\"]\n".into(),
            "trusted_proxies",
            "proxy.local",
        ),
        (
            "[sources.a]\nscheme = \"basic\"\nuser = \"u\"\n".into(),
            "sources.a.password",
            "password_env",
        ),
        (
            "[sources.a]\nscheme = \"basic\"\nuser = \"u\"\npassword_env = \"HOOKWATCH_TEST_UNSET\"\n"
                .into(),
            "sources.a.password_env",
            "HOOKWATCH_TEST_UNSET",
        ),
        (
            "[sources.a]\nscheme = \"api_key\"\nkeys = [\"k\"]\n".into(),
            "sources.a.header",
            "query",
        ),
        (
            "[sources.a]\nkeys = [\"k\"]\n".into(),
            "sources.a.keys",
            "scheme",
        ),
    ];
    for (text, key, problem) in cases {
        let (code, stderr) = serve_exit(&text);
        assert_eq!(code, Some(2), "{text}: {stderr}");
        assert!(stderr.contains(key), "names {key}: {stderr}");
        assert!(stderr.contains(problem), "says {problem}: {stderr}");
        assert!(!stderr.contains("secrets = [\"s\"]"), "{stderr}");
    }
}
