//! What a rule's own keys do to a delivery: `resign`, `rate_per_sec`, `max_in_flight`.

use std::time::Duration;

use hookwatch::verify::{Outcome, Request, Scheme, Verifier};

use crate::forward::{forward_all, post_json};
use crate::forward_target::{Reply, Target};
use crate::support::*;

#[tokio::test]
async fn resign_signs_a_late_delivery_afresh_so_its_timestamp_passes() {
    let target = Target::start(Reply::Status(200)).await;
    let secret = "whsec_resign";
    let toml = format!(
        "[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{secret}\"]\non_invalid = \"accept\"\n\
         [[forward]]\nsource = \"stripe\"\nto = \"{}\"\nresign = true\n",
        target.url("/")
    );
    let app = spawn_app_with(&toml).await;
    let body = "{\"id\":\"evt_old\",\"type\":\"charge.failed\"}";
    let old = chrono::Utc::now().timestamp() - 3600;
    let headers = crate::signatures::sign("stripe", "stripe", secret, body, 1, Some(old));
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let response = app.post("stripe", &pairs, body).await;
    assert_eq!(response.status(), 200);
    let got = &target.wait_for(1).await[0];
    let original = &headers
        .iter()
        .find(|(n, _)| n == "stripe-signature")
        .unwrap()
        .1;
    let sent = got.header("stripe-signature").unwrap();
    assert_ne!(sent, original);
    assert_eq!(
        got.headers
            .iter()
            .filter(|(n, _)| n == "stripe-signature")
            .count(),
        1
    );
    let verifier = Verifier {
        scheme: Scheme::Stripe,
        secrets: vec![secret.to_string()],
        tolerance_secs: 300,
    };
    let request = Request {
        headers: &got.headers,
        body: &got.body,
        url: None,
        query: "",
        content_type: None,
    };
    let now = chrono::Utc::now().timestamp();
    assert_eq!(verifier.verify(&request, now), Outcome::Valid);
}

#[tokio::test]
async fn rate_per_sec_spaces_deliveries_apart() {
    let target = Target::start(Reply::Status(200)).await;
    let app = spawn_app_with(&forward_all(&target.url("/"), "rate_per_sec = 4")).await;
    for n in 0..4 {
        post_json(&app, "app", &format!("{{\"n\":{n}}}")).await;
    }
    let got = target.wait_for(4).await;
    let span = got[3].at - got[0].at;
    assert!(span >= Duration::from_millis(700), "{span:?}");
}

#[tokio::test]
async fn max_in_flight_bounds_concurrent_requests_to_a_target() {
    let target = Target::start(Reply::Hang).await;
    let toml = forward_all(&target.url("/"), "max_in_flight = 2\ntimeout_secs = 30");
    let app = spawn_app_with(&toml).await;
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(post_json(&app, "app", &format!("{{\"n\":{n}}}")).await);
    }
    target.wait_for(2).await;
    crate::forward::wait_json(&app, "/api/forwards", |f| {
        f["forwards"].as_array().unwrap().len() == 4
    })
    .await;
    let settled = tokio::time::timeout(Duration::from_millis(300), target.wait_for(3)).await;
    assert!(settled.is_err(), "a third request while two hang");
}
