//! Ingest through the live server: fixtures, redeliveries and hostile inputs.

use base64::Engine;
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn every_fixture_comes_back_with_its_provider_type_delivery_id_and_exact_bytes() {
    let app = spawn_app().await;
    let fixtures = all_fixtures();
    assert!(fixtures.len() >= 30, "fixtures missing: {}", fixtures.len());
    for (n, fixture) in fixtures.iter().enumerate() {
        // A source per fixture, so the Slack retry fixture is not a duplicate here.
        let source = format!("src{n}");
        let (status, answer) = app.post_fixture(&source, fixture).await;
        assert_eq!(status, 200, "{}: {answer}", fixture.name);
        let id = match answer.get("id") {
            Some(id) => id.as_i64().unwrap(),
            // Slack's handshake answers with the challenge; find the stored event instead.
            None => app.get_json(&format!("/api/events?source={source}")).await["events"][0]["id"]
                .as_i64()
                .unwrap(),
        };
        let event = app.get_json(&format!("/api/events/{id}")).await;
        let expect = &fixture.expect;
        assert_eq!(event["provider"], expect["provider"], "{}", fixture.name);
        assert_eq!(
            event["event_type"], expect["event_type"],
            "{}",
            fixture.name
        );
        assert_eq!(
            event["delivery_id"], expect["delivery_id"],
            "{}",
            fixture.name
        );
        assert_eq!(event["size"].as_u64().unwrap() as usize, fixture.body.len());
        let raw = app
            .client
            .get(app.url(&format!("/api/events/{id}/raw")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            raw.bytes().await.unwrap().as_ref(),
            fixture.body.as_slice(),
            "{}",
            fixture.name
        );
        match std::str::from_utf8(&fixture.body) {
            Ok(text) => assert_eq!(event["raw_body"], text, "{}", fixture.name),
            Err(_) => {
                let b64 = base64::engine::general_purpose::STANDARD.encode(&fixture.body);
                assert_eq!(event["raw_body_base64"], b64.as_str());
                assert_eq!(event["raw_body"], Value::Null);
            }
        }
    }
    let listed = app.get_json("/api/events?limit=1000").await;
    assert_eq!(listed["events"].as_array().unwrap().len(), fixtures.len());
}

#[tokio::test]
async fn stripe_charge_failed_is_an_error_with_its_headers_and_body_kept() {
    let app = spawn_app().await;
    let fixture = fixture("payloads/stripe/charge.failed.json");
    let (status, answer) = app.post_fixture("stripe", &fixture).await;
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "received");
    assert_eq!(answer["source"], "stripe");
    assert!(answer["received_at"].as_str().unwrap().ends_with('Z'));
    let event = app.get_json(&format!("/api/events/{}", answer["id"])).await;
    assert_eq!(event["is_error"], true);
    assert_eq!(event["signature"], "unverified");
    assert_eq!(event["status"], "received");
    assert_eq!(event["method"], "POST");
    assert_eq!(event["path"], "/webhook/stripe");
    assert_eq!(event["remote_addr"], "127.0.0.1");
    assert_eq!(event["content_type"], "application/json; charset=utf-8");
    assert_eq!(
        event["headers"]["stripe-signature"],
        fixture.headers["Stripe-Signature"].as_str()
    );
    assert_eq!(
        event["body"]["data"]["object"]["failure_code"],
        "card_declined"
    );
}

#[tokio::test]
async fn a_redelivery_is_answered_duplicate_and_counted_on_the_first_event() {
    let app = spawn_app().await;
    let first = fixture("payloads/slack/event_callback.message.json");
    let retry = fixture("payloads/slack/event_callback.message.retry.json");
    let (_, original) = app.post_fixture("slack", &first).await;
    let (status, again) = app.post_fixture("slack", &retry).await;
    assert_eq!(status, 200);
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["id"], original["id"]);
    let (_, third) = app.post_fixture("slack", &retry).await;
    assert_eq!(third["id"], original["id"]);
    let event = app
        .get_json(&format!("/api/events/{}", original["id"]))
        .await;
    assert_eq!(event["duplicates"], 2);
    let listed = app.get_json("/api/events?source=slack").await;
    assert_eq!(
        listed["events"].as_array().unwrap().len(),
        1,
        "a redelivery is not stored again"
    );
    let stats = app.get_json("/api/stats").await;
    assert_eq!(stats["duplicates"], 2);
    assert_eq!(stats["total"], 1);
}

#[tokio::test]
async fn the_same_delivery_id_on_another_source_is_not_a_duplicate() {
    let app = spawn_app().await;
    let f = fixture("payloads/stripe/invoice.paid.json");
    let (_, a) = app.post_fixture("stripe-a", &f).await;
    let (_, b) = app.post_fixture("stripe-b", &f).await;
    assert_eq!(a["status"], "received");
    assert_eq!(b["status"], "received");
    assert_ne!(a["id"], b["id"]);
}

#[tokio::test]
async fn slack_url_verification_is_answered_with_the_challenge() {
    let app = spawn_app().await;
    let f = fixture("payloads/slack/url_verification.json");
    let challenge = serde_json::from_slice::<Value>(&f.body).unwrap()["challenge"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, answer) = app.post_fixture("slack", &f).await;
    assert_eq!(status, 200);
    assert_eq!(answer, Value::String(challenge));
}

#[tokio::test]
async fn bad_source_names_get_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    let long = "a".repeat(65);
    for source in ["a%20b", "%3Cscript%3E", long.as_str(), "caf%C3%A9", "a/b"] {
        let response = app.post(source, &[], "{}").await;
        assert_eq!(response.status(), 400, "{source}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("source"), "{body}");
    }
    let ok = app.post(&"a".repeat(64), &[], "{}").await;
    assert_eq!(ok.status(), 200);
    let listed = app.get_json("/api/events").await;
    assert_eq!(listed["events"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_size_limit_admits_exactly_the_limit_and_refuses_one_byte_more() {
    let app = spawn_app_with("max_body_bytes = 1024").await;
    let at_limit = vec![b'a'; 1024];
    let over = vec![b'a'; 1025];
    assert_eq!(app.post("big", &[], at_limit.clone()).await.status(), 200);
    let refused = app.post("big", &[], over).await;
    assert_eq!(refused.status(), 413);
    let body: Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("max_body_bytes"));
    // Streamed without a Content-Length: the limit still holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(vec![b'b'; 700]), Ok(vec![b'b'; 700])];
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    assert_eq!(app.post("big", &[], streamed).await.status(), 413);
    let listed = app.get_json("/api/events").await;
    assert_eq!(
        listed["events"].as_array().unwrap().len(),
        1,
        "nothing over the limit is stored"
    );
    assert_eq!(listed["events"][0]["size"], 1024);
}

#[tokio::test]
async fn a_12_mib_body_is_accepted_under_the_default_limit() {
    let app = spawn_app().await;
    let body = format!(
        "{{\"type\":\"large.test\",\"padding\":\"{}\"}}",
        "a".repeat(12 * 1024 * 1024 - 34)
    );
    let response = app
        .post(
            "large",
            &[("content-type", "application/json")],
            body.clone(),
        )
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    let raw = app
        .client
        .get(app.url(&format!("/api/events/{}/raw", answer["id"])))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.bytes().await.unwrap().len(), body.len());
    let summary = &app.get_json("/api/events?source=large").await["events"][0];
    assert_eq!(summary["event_type"], "large.test");
}

#[tokio::test]
async fn hostile_and_odd_bodies_are_kept_exactly_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let nested = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let cases: Vec<(&str, Vec<u8>, Value)> = vec![
        (
            "application/json",
            vec![b'{', 0xff, 0xfe, b'}'],
            Value::Null,
        ),
        (
            "application/json",
            b"{\"type\": \"trunc".to_vec(),
            Value::Null,
        ),
        ("application/json", nested.into_bytes(), Value::Null),
        ("application/json", Vec::new(), Value::Null),
        (
            "application/octet-stream",
            (0u8..=255).collect(),
            Value::Null,
        ),
        (
            "application/x-www-form-urlencoded",
            b"a=1&b=x+y&a=2&c=".to_vec(),
            serde_json::json!({"a": ["1", "2"], "b": "x y", "c": ""}),
        ),
    ];
    for (content_type, body, parsed) in cases {
        let response = app
            .post("odd", &[("content-type", content_type)], body.clone())
            .await;
        assert_eq!(
            response.status(),
            200,
            "{content_type} {:?}",
            &body[..body.len().min(20)]
        );
        let answer: Value = response.json().await.unwrap();
        let event = app.get_json(&format!("/api/events/{}", answer["id"])).await;
        assert_eq!(event["body"], parsed);
        let raw = app
            .client
            .get(app.url(&format!("/api/events/{}/raw", answer["id"])))
            .send()
            .await
            .unwrap();
        assert_eq!(raw.bytes().await.unwrap().as_ref(), body.as_slice());
    }
    assert_eq!(app.get_status("/healthz").await, 200);
}

#[tokio::test]
async fn other_methods_and_unknown_paths_get_json_errors() {
    let app = spawn_app().await;
    let response = app.client.get(app.url("/webhook/x")).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    let response = app.client.get(app.url("/nope")).send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    for method in [reqwest::Method::PUT, reqwest::Method::PATCH] {
        let response = app
            .client
            .request(method.clone(), app.url("/webhook/m?x=1"))
            .body("hi")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{method}");
        let id = response.json::<Value>().await.unwrap()["id"].clone();
        let event = app.get_json(&format!("/api/events/{id}")).await;
        assert_eq!(event["method"], method.as_str());
        assert_eq!(event["query"], "x=1");
    }
}

#[tokio::test]
async fn everything_stored_is_still_there_after_a_restart() {
    let app = spawn_app().await;
    for f in all_fixtures().iter().take(10) {
        app.post_fixture("restart", f).await;
    }
    let before = app.get_json("/api/events?limit=1000").await;
    let dir = app.stop().await;
    let app = spawn_in(dir, "", None).await;
    let after = app.get_json("/api/events?limit=1000").await;
    assert_eq!(before, after);
    assert_eq!(after["events"].as_array().unwrap().len(), 10);
}
