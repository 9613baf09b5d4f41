//! Signatures through the live server, for every provider: genuine, tampered, stale, rotated,
//! accepted-invalid and unverified deliveries. Requests are signed by the fixtures' own
//! `sign.py` (an independent implementation) at the current time.

use std::process::Command;

use serde_json::Value;

use crate::support::*;

const OLD: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"; // base64, so Standard Webhooks takes it too
const NEW: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
const PUBLIC_URL: &str = "https://hooks.example";

const PROVIDERS: [&str; 6] = ["stripe", "github", "slack", "shopify", "standard", "twilio"];

/// A delivery of `provider` numbered `n`: headers that name it, and its body.
fn delivery(provider: &str, n: u32) -> (Vec<(String, String)>, String) {
    let h = |pairs: &[(&str, String)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    match provider {
        "stripe" => (
            h(&[("content-type", "application/json".into())]),
            format!("{{\"id\":\"evt_{n}\",\"type\":\"charge.failed\"}}"),
        ),
        "github" => (
            h(&[
                ("content-type", "application/json".into()),
                ("x-github-event", "issues".into()),
                ("x-github-delivery", format!("d-{n}")),
            ]),
            format!("{{\"action\":\"opened\",\"n\":{n}}}"),
        ),
        "slack" => (
            h(&[("content-type", "application/json".into())]),
            format!(
                "{{\"type\":\"event_callback\",\"event_id\":\"Ev{n}\",\"event\":{{\"type\":\"message\"}}}}"
            ),
        ),
        "shopify" => (
            h(&[
                ("content-type", "application/json".into()),
                ("x-shopify-topic", "orders/create".into()),
                ("x-shopify-webhook-id", format!("w-{n}")),
            ]),
            format!("{{\"id\":{n}}}"),
        ),
        "standard" => (
            h(&[("content-type", "application/json".into())]),
            format!("{{\"type\":\"contact.created\",\"n\":{n}}}"),
        ),
        "twilio" => (
            h(&[
                ("content-type", "application/x-www-form-urlencoded".into()),
                ("i-twilio-idempotency-token", format!("t-{n}")),
            ]),
            format!("MessageSid=SM{n}&MessageStatus=delivered&To=%2B15551234567"),
        ),
        other => panic!("unknown provider {other}"),
    }
}

/// Signature headers from `sign.py`, made with `secret` at `timestamp` (None: now).
pub(crate) fn sign(
    provider: &str,
    source: &str,
    secret: &str,
    body: &str,
    n: u32,
    timestamp: Option<i64>,
) -> Vec<(String, String)> {
    let dir = tempfile::tempdir().unwrap();
    let body_file = dir.path().join("body");
    std::fs::write(&body_file, body).unwrap();
    let mut command = Command::new("python3");
    command
        .arg(fixtures_dir().join("sign.py"))
        .args([provider, "--secret", secret, "--body-file"])
        .arg(&body_file);
    if let Some(t) = timestamp {
        command.args(["--timestamp", &t.to_string()]);
    }
    match provider {
        "standard" => {
            command.args(["--id", &format!("msg_{n}")]);
        }
        "twilio" => {
            command.args(["--url", &format!("{PUBLIC_URL}/webhook/{source}")]);
        }
        _ => {}
    }
    let out = command.output().expect("python3 runs sign.py");
    assert!(
        out.status.success(),
        "sign.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let headers: serde_json::Map<String, Value> = serde_json::from_slice(&out.stdout).unwrap();
    headers
        .into_iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap().to_string()))
        .collect()
}

fn config() -> String {
    let mut toml = format!("public_url = \"{PUBLIC_URL}\"\n");
    for p in PROVIDERS {
        toml += &format!("[sources.{p}]\nprovider = \"{p}\"\nsecrets = [\"{NEW}\", \"{OLD}\"]\n");
        toml += &format!(
            "[sources.{p}-accept]\nprovider = \"{p}\"\nsecrets = [\"{NEW}\"]\non_invalid = \"accept\"\n"
        );
        toml += &format!("[sources.{p}-open]\nprovider = \"{p}\"\n");
    }
    toml
}

/// Posts a signed delivery; returns the status and the answer.
async fn send(
    app: &TestApp,
    source: &str,
    provider: &str,
    n: u32,
    secret: &str,
    timestamp: Option<i64>,
    tamper: bool,
) -> (u16, Value) {
    let (mut headers, body) = delivery(provider, n);
    headers.extend(sign(provider, source, secret, &body, n, timestamp));
    let body = if tamper {
        body.replacen(&n.to_string(), &(n + 1).to_string(), 1)
    } else {
        body
    };
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let response = app.post(source, &pairs, body).await;
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
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
async fn every_provider_accepts_genuine_deliveries_and_rejects_forged_ones() {
    let app = spawn_app_with(&config()).await;
    let now = chrono::Utc::now().timestamp();
    for (i, p) in PROVIDERS.iter().enumerate() {
        let n = 100 * (i as u32 + 1);
        // Both secrets of a rotation pass.
        for (k, secret) in [OLD, NEW].iter().enumerate() {
            let (status, answer) = send(&app, p, p, n + k as u32, secret, None, false).await;
            assert_eq!(status, 200, "{p} with secret {k}: {answer}");
            assert_eq!(newest(&app, p).await["signature"], "valid", "{p}");
        }
        // One byte changed: 401, recorded as rejected with a reason.
        let (status, answer) = send(&app, p, p, n + 2, NEW, None, true).await;
        assert_eq!(status, 401, "{p} tampered: {answer}");
        assert!(answer["error"].is_string());
        let rejected = newest(&app, p).await;
        assert_eq!(rejected["status"], "rejected", "{p}");
        assert_eq!(rejected["signature"], "invalid", "{p}");
        assert!(
            rejected["signature_reason"]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{p}: {rejected}"
        );
        // A wrong secret: 401.
        let (status, _) = send(
            &app,
            p,
            p,
            n + 3,
            "whsec_d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==",
            None,
            false,
        )
        .await;
        assert_eq!(status, 401, "{p} wrong secret");
        // No signature at all: 401, recorded as missing.
        let (headers, body) = delivery(p, n + 4);
        let pairs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            app.post(p, &pairs, body).await.status(),
            401,
            "{p} unsigned"
        );
        assert_eq!(newest(&app, p).await["signature"], "missing", "{p}");
        // Timestamped schemes: 301 s old is stale.
        if ["stripe", "slack", "standard"].contains(p) {
            let (status, _) = send(&app, p, p, n + 5, NEW, Some(now - 301), false).await;
            assert_eq!(status, 401, "{p} stale");
            let stale = newest(&app, p).await;
            assert!(
                stale["signature_reason"].as_str().unwrap().contains("old"),
                "{p}: {stale}"
            );
        }
    }
}

#[tokio::test]
async fn accept_stores_invalid_deliveries_and_open_sources_are_unverified() {
    let app = spawn_app_with(&config()).await;
    for (i, p) in PROVIDERS.iter().enumerate() {
        let n = 1000 + i as u32;
        let source = format!("{p}-accept");
        let (status, answer) = send(&app, &source, p, n, OLD, None, false).await;
        assert_eq!(status, 200, "{p}: {answer}");
        let event = newest(&app, &source).await;
        assert_eq!(event["signature"], "invalid", "{p}");
        assert_eq!(event["status"], "received", "{p}");
        let source = format!("{p}-open");
        let (status, _) = send(&app, &source, p, n, OLD, None, false).await;
        assert_eq!(status, 200, "{p}");
        assert_eq!(
            newest(&app, &source).await["signature"],
            "unverified",
            "{p}"
        );
    }
    let stats = app.get_json("/api/stats").await;
    assert_eq!(
        stats["signature_failures"], 6,
        "the accepted invalid ones: {stats}"
    );
    let sources = app.get_json("/api/sources").await;
    let verified = |name: &str| {
        sources["sources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["source"] == name)
            .unwrap()["verified"]
            .clone()
    };
    assert_eq!(verified("stripe-accept"), true);
    assert_eq!(verified("stripe-open"), false);
}

#[tokio::test]
async fn a_forged_delivery_does_not_make_the_genuine_one_a_duplicate() {
    let app = spawn_app_with(&config()).await;
    let (status, _) = send(
        &app,
        "stripe",
        "stripe",
        7,
        "whsec_d3JvbmdzZWNyZXR3cm9uZ3NlY3JldA==",
        None,
        false,
    )
    .await;
    assert_eq!(status, 401);
    let (status, answer) = send(&app, "stripe", "stripe", 7, NEW, None, false).await;
    assert_eq!(status, 200);
    assert_eq!(
        answer["status"], "received",
        "not a duplicate of the forged attempt"
    );
    let (_, again) = send(&app, "stripe", "stripe", 7, NEW, None, false).await;
    assert_eq!(again["status"], "duplicate");
    let stats = app.get_json("/api/stats").await;
    assert_eq!(stats["rejected"], 1);
    assert_eq!(
        stats["total"], 2,
        "the rejected attempt and the genuine event"
    );
}

#[tokio::test]
async fn every_fixture_sidecar_verifies_when_checked_at_its_signing_time() {
    // The sidecars were signed long ago; the schemes without timestamps verify them now.
    let toml = "[sources.gh]\nprovider = \"github\"\nsecrets = [\"It's a Secret to Everybody\"]\n\
                [sources.shop]\nprovider = \"shopify\"\nsecrets = [\"shopify-fixture-secret\"]\n\
                [sources.twilio]\nprovider = \"twilio\"\nsecrets = [\"12345\"]\npublic_url = \"https://hookwatch.example\"\n";
    let app = spawn_app_with(toml).await;
    for f in all_fixtures() {
        let source = match f.expect["provider"].as_str().unwrap() {
            "github" => "gh",
            "shopify" => "shop",
            "twilio" => "twilio",
            _ => continue,
        };
        // Twilio's sidecar was signed for https://hookwatch.example/webhook/twilio.
        let (status, answer) = app.post_fixture(source, &f).await;
        assert_eq!(status, 200, "{}: {answer}", f.name);
        let id = answer["id"].as_i64().unwrap();
        let event = app.get_json(&format!("/api/events/{id}")).await;
        assert_eq!(event["signature"], "valid", "{}", f.name);
    }
}
