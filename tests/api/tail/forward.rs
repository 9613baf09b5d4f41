//! `tail --forward-to`: exact bytes and headers, the application's answers and failures, and
//! an event whose body cannot be fetched until the server is back.

use super::*;

fn stripe_delivery(secret: &str) -> (String, String) {
    let body =
        "{\"id\":\"evt_1\",\"type\":\"charge.succeeded\",\"data\":{\"amount\":100}}".to_string();
    let t = chrono::Utc::now().timestamp();
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let signature = format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()));
    (signature, body)
}

#[tokio::test]
async fn forward_to_resends_exact_bytes_and_headers_so_a_stripe_signature_still_verifies() {
    let secret = "whsec_tail_test";
    let config = format!("[sources.stripe]\nprovider = \"stripe\"\nsecrets = [\"{secret}\"]\n");
    let app = spawn_app_with(&config).await;
    let (url, mut received) = application(202).await;
    let to = format!("{url}/hooks?env=dev");
    let mut tail = Tail::start(&app, &["--forward-to", &to], &[]).await;

    // Unsigned: rejected (401), shown, never forwarded.
    let forged = app
        .post("stripe", &[("content-type", "application/json")], "{}")
        .await;
    assert_eq!(forged.status(), 401);
    let (signature, body) = stripe_delivery(secret);
    let signed = app
        .client
        .post(app.url("/webhook/stripe?attempt=1"))
        .header("content-type", "application/json")
        .header("stripe-signature", &signature)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let signed_id = signed.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    let binary: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    let put = app
        .client
        .put(app.url("/webhook/blobs"))
        .header("content-type", "application/octet-stream")
        .header("x-custom", "kept")
        .header("expect", "100-continue")
        .body(binary.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);
    let binary_id = put.json::<Value>().await.unwrap()["id"].as_i64().unwrap();

    let first = next_received(&mut received).await;
    assert_eq!(first.method, Method::POST);
    assert_eq!(first.uri.to_string(), "/hooks?env=dev&attempt=1");
    assert_eq!(first.body, body.as_bytes(), "exact bytes");
    assert_eq!(first.headers["stripe-signature"], signature.as_str());
    assert_eq!(
        first.headers["x-hookwatch-event-id"],
        signed_id.to_string().as_str()
    );
    let headers: Vec<(String, String)> = first
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
        .collect();
    let verifier = Verifier {
        scheme: Scheme::Stripe,
        secrets: vec![secret.to_string()],
        tolerance_secs: 300,
    };
    let request = Request {
        headers: &headers,
        body: &first.body,
        url: None,
        query: "",
        content_type: Some("application/json"),
    };
    let now = chrono::Utc::now().timestamp();
    assert_eq!(verifier.verify(&request, now), Outcome::Valid);

    let second = next_received(&mut received).await;
    assert_eq!(second.method, Method::PUT);
    assert_eq!(second.body, binary, "binary bytes unchanged");
    assert_eq!(second.headers["x-custom"], "kept");
    assert!(
        second.headers.get("expect").is_none(),
        "answered by hookwatch already"
    );
    assert_eq!(second.headers["content-type"], "application/octet-stream");
    assert_eq!(
        second.headers["x-hookwatch-event-id"],
        binary_id.to_string().as_str()
    );

    let lines = [
        tail.next_line().await,
        tail.next_line().await,
        tail.next_line().await,
        tail.next_line().await,
        tail.next_line().await,
        tail.next_line().await,
    ];
    assert!(lines[0].contains("REJECTED"), "{lines:?}");
    assert!(lines[1].contains("not forwarded: rejected"), "{lines:?}");
    assert!(
        lines[3].contains(&format!("#{signed_id} -> 202 Accepted")),
        "{lines:?}"
    );
    assert!(
        lines[5].contains(&format!("#{binary_id} -> 202 Accepted")),
        "{lines:?}"
    );
    assert!(
        received.try_recv().is_err(),
        "the rejected one was not sent"
    );
}

#[tokio::test]
async fn a_redirecting_or_unreachable_application_is_reported_and_tail_goes_on() {
    let app = spawn_app().await;
    let (url, mut received) = application(307).await;
    let mut redirected = Tail::start(&app, &["--forward-to", &url], &[]).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", listener.local_addr().unwrap())
    };
    let mut unreachable = Tail::start(&app, &["--forward-to", &closed], &[]).await;
    let ids = [
        post_typed(&app, "s", "one").await,
        post_typed(&app, "s", "two").await,
    ];
    for id in ids {
        redirected.next_line().await;
        let line = redirected.next_line().await;
        assert!(line.contains(&format!("#{id} -> 307")), "{line}");
        assert_eq!(next_received(&mut received).await.uri.path(), "/");
        unreachable.next_line().await;
        let line = unreachable.next_line().await;
        assert!(line.contains(&format!("#{id} -> not delivered")), "{line}");
    }
    assert!(
        received.try_recv().is_err(),
        "the redirect was not followed"
    );
}

#[tokio::test]
async fn tail_follows_and_forwards_exact_bytes_from_a_postgresql_backed_server() {
    let Some(app) = spawn_on(Backend::Postgres, "").await else {
        return;
    };
    let (url, mut received) = application(200).await;
    let mut tail = Tail::start(&app, &["--json", "--forward-to", &url], &[]).await;
    let body: Vec<u8> = (0..4096u32).map(|n| (n * 7 % 256) as u8).collect();
    let response = app
        .post(
            "pg",
            &[("content-type", "application/octet-stream")],
            body.clone(),
        )
        .await;
    let id = response.json::<Value>().await.unwrap()["id"]
        .as_i64()
        .unwrap();
    assert_eq!(tail.next_json().await["id"], id);
    let got = next_received(&mut received).await;
    assert_eq!(got.body, body);
    tail.wait_stderr(&format!("#{id} -> 200 OK")).await;
}

#[tokio::test]
async fn an_event_whose_body_cannot_be_fetched_yet_is_forwarded_once_the_server_is_back() {
    let dir = tempfile::tempdir().unwrap();
    let address = free_address();
    let base = format!("http://{address}");
    let mut server = serve_process(dir.path(), &address).await;
    // The application holds its first request until the server has been killed.
    let (release, gate) = tokio::sync::watch::channel(false);
    let (tx, mut received) = mpsc::unbounded_channel();
    let handler = move |uri: Uri, body: Bytes| {
        let (tx, mut gate) = (tx.clone(), gate.clone());
        async move {
            let _ = tx.send((uri, body));
            let _ = gate.wait_for(|open| *open).await;
            StatusCode::NO_CONTENT
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app_url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, axum::Router::new().fallback(handler)).await });
    let mut tail = Tail::spawn(&base, &["--forward-to", &app_url], &[]);
    tail.wait_stderr("following").await;

    let client = reqwest::Client::new();
    let mut ids = Vec::new();
    for body in ["first", "second"] {
        let answer: Value = client
            .post(format!("{base}/webhook/s"))
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push(answer["id"].as_i64().unwrap());
    }
    let (_, first) = tokio::time::timeout(WAIT, received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first, "first");
    // Stopped gracefully, the server ends the stream cleanly after the second event, which
    // tail then reads, but cannot fetch until the server is back.
    let pid = server.id().unwrap().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status();
    assert!(stopped.unwrap().success());
    let exited = tokio::time::timeout(WAIT, server.wait()).await;
    assert!(exited.expect("the server stops in time").unwrap().success());
    release.send(true).unwrap();
    tail.wait_stderr(&format!("cannot fetch event {}", ids[1]))
        .await;
    let _server = serve_process(dir.path(), &address).await;
    let (_, second) = tokio::time::timeout(WAIT, received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second, "second");
    let mut lines = Vec::new();
    for _ in 0..4 {
        lines.push(tail.next_line().await);
    }
    assert!(
        lines[1].contains(&format!("#{} -> 204", ids[0])),
        "{lines:?}"
    );
    assert!(lines[2].contains(&format!("#{}", ids[1])), "{lines:?}");
    assert!(
        lines[3].contains(&format!("#{} -> 204", ids[1])),
        "{lines:?}"
    );
    // A third event comes next: nothing was shown or sent twice.
    let third = client
        .post(format!("{base}/webhook/s"))
        .body("third")
        .send()
        .await
        .unwrap();
    let third: Value = third.json().await.unwrap();
    let line = tail.next_line().await;
    assert!(line.contains(&format!("#{}", third["id"])), "{line}");
    let (_, body) = tokio::time::timeout(WAIT, received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(body, "third");
}
