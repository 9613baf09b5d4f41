//! `hookwatch trigger`: the real binary sends built-in samples to the live server, signed with
//! the secrets of the server's own config, and every one is stored as `valid`.

use serde_json::Value;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");
const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn config() -> String {
    let mut toml = String::from("public_url = \"https://hooks.example\"\n");
    for provider in ["stripe", "github", "slack", "shopify", "standard", "twilio"] {
        toml += &format!(
            "[sources.{provider}]\nprovider = \"{provider}\"\nsecrets = [\"{STANDARD_SECRET}\"]\n"
        );
    }
    toml += r#"
[sources.acme]
scheme = "hmac"
header = "X-Signature"
algorithm = "sha512"
prefix = "sha512="
timestamp_header = "X-Timestamp"
signed = "{timestamp}.{body}"
secrets = ["acme-secret"]
"#;
    toml
}

async fn trigger(app: &TestApp, args: &[&str]) -> (Option<i32>, String, String) {
    let config = app.dir.path().join("hookwatch.toml");
    let out = tokio::process::Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("trigger")
        .args(args)
        .args(["--server", &app.url("")])
        .env_remove("HOOKWATCH_DATABASE")
        .env_remove("HOOKWATCH_CONFIG")
        .output()
        .await
        .expect("run hookwatch trigger");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn newest(app: &TestApp, source: &str) -> Value {
    let list = app
        .get_json(&format!("/api/events?source={source}&limit=1"))
        .await;
    let id = list["events"][0]["id"].clone();
    app.get_json(&format!("/api/events/{id}")).await
}

#[tokio::test]
async fn a_triggered_sample_of_every_provider_is_stored_valid_with_its_type() {
    let app = spawn_app_with(&config()).await;
    let cases = [
        ("stripe", "charge.failed"),
        ("github", "pull_request.opened"),
        ("slack", "app_mention"),
        ("shopify", "orders/paid"),
        ("standard", "invoice.payment_failed"),
        ("twilio", "delivered"),
    ];
    for (provider, event_type) in cases {
        let (code, stdout, stderr) = trigger(&app, &[provider, event_type]).await;
        assert_eq!(code, Some(0), "{provider}: {stdout} {stderr}");
        assert!(stdout.starts_with("200"), "{stdout}");
        let event = newest(&app, provider).await;
        assert_eq!(event["signature"], "valid", "{provider}: {event}");
        assert_eq!(event["event_type"], event_type, "{provider}");
        assert!(event["delivery_id"].is_string(), "{provider}: {event}");
    }
    let (code, _, _) = trigger(&app, &["stripe", "charge.failed"]).await;
    assert_eq!(code, Some(0));
    let again = newest(&app, "stripe").await;
    assert_eq!(again["duplicates"], 0, "a fresh delivery id each time");
}

#[tokio::test]
async fn a_sample_sent_to_a_configured_hmac_source_is_signed_its_way() {
    let app = spawn_app_with(&config()).await;
    let (code, stdout, stderr) =
        trigger(&app, &["stripe", "invoice.paid", "--source", "acme"]).await;
    assert_eq!(code, Some(0), "{stdout} {stderr}");
    let event = newest(&app, "acme").await;
    assert_eq!(event["signature"], "valid", "{event}");
    assert!(
        event["headers"]["x-signature"]
            .as_str()
            .unwrap()
            .starts_with("sha512=")
    );
}

#[tokio::test]
async fn a_wrong_secret_exits_1_and_unknown_names_exit_2() {
    let app = spawn_app_with(&config()).await;
    let (code, stdout, _) = trigger(&app, &["github", "push", "--secret", "wrong"]).await;
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.starts_with("401"), "{stdout}");
    let (code, _, stderr) = trigger(&app, &["paypal", "payment.sale"]).await;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("unknown provider `paypal`"), "{stderr}");
    let (code, _, stderr) = trigger(&app, &["stripe", "charge.exploded"]).await;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("charge.failed"),
        "lists the known types: {stderr}"
    );
    let (code, stdout, _) = trigger(&app, &["--list"]).await;
    assert_eq!(code, Some(0));
    for provider in ["stripe", "github", "slack", "shopify", "standard", "twilio"] {
        let count = stdout.lines().filter(|l| l.starts_with(provider)).count();
        assert!(count >= 5, "{provider}: {stdout}");
    }
}
