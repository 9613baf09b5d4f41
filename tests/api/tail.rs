//! `hookwatch tail`, the real binary as a child process following the real server: lines and
//! JSON, filters, the token, a server restart mid-stream, and `--forward-to` a local
//! application (an axum server on port 0 that records what it receives).

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use hmac::{KeyInit, Mac};
use hookwatch::verify::{Outcome, Request, Scheme, Verifier};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::support::*;

const BIN: &str = env!("CARGO_BIN_EXE_hookwatch");
const WAIT: Duration = Duration::from_secs(15);

/// A running `hookwatch tail`: its stdout lines as they come, and all of its stderr.
struct Tail {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Ends when stderr closes: everything the process said is in `stderr`.
    stderr_done: tokio::task::JoinHandle<()>,
}

impl Tail {
    /// Starts `hookwatch tail --server APP ARGS…` and waits until it follows the stream.
    async fn start(app: &TestApp, args: &[&str], envs: &[(&str, &str)]) -> Tail {
        let mut tail = Tail::spawn(&app.url(""), args, envs);
        tail.wait_stderr("following").await;
        tail
    }

    fn spawn(server: &str, args: &[&str], envs: &[(&str, &str)]) -> Tail {
        let mut command = tokio::process::Command::new(BIN);
        command
            .args(["tail", "--server", server])
            .args(args)
            .env_remove("HOOKWATCH_TOKEN")
            .env_remove("HOOKWATCH_DATABASE")
            .env_remove("HOOKWATCH_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in envs {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("start hookwatch tail");
        let (tx, lines) = mpsc::unbounded_channel();
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        tokio::spawn(async move {
            while let Ok(Some(line)) = out.next_line().await {
                let _ = tx.send(line);
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = stderr.clone();
        let stderr_done = tokio::spawn(async move {
            while let Ok(Some(line)) = err.next_line().await {
                let mut text = sink.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
            }
        });
        Tail {
            child,
            lines,
            stderr,
            stderr_done,
        }
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    async fn wait_stderr(&mut self, text: &str) {
        let deadline = Instant::now() + WAIT;
        while !self.stderr().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "tail exited ({status}) before saying `{text}`: {}",
                    self.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "tail never said `{text}`; stderr: {}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn next_line(&mut self) -> String {
        match tokio::time::timeout(WAIT, self.lines.recv()).await {
            Ok(Some(line)) => line,
            _ => panic!("no line from tail in time; stderr: {}", self.stderr()),
        }
    }

    async fn next_json(&mut self) -> Value {
        let line = self.next_line().await;
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    /// Waits for the process to exit and its stderr to be read; its exit code.
    async fn exit_code(&mut self) -> i32 {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("tail exits in time")
            .unwrap();
        tokio::time::timeout(WAIT, &mut self.stderr_done)
            .await
            .expect("stderr closes")
            .unwrap();
        status.code().expect("an exit code")
    }
}

/// Posts a JSON body with a `type`; the new event's id.
async fn post_typed(app: &TestApp, source: &str, event_type: &str) -> i64 {
    let body = format!("{{\"type\":\"{event_type}\"}}");
    let response = app
        .post(source, &[("content-type", "application/json")], body)
        .await;
    assert_eq!(response.status(), 200);
    let answer: Value = response.json().await.unwrap();
    answer["id"].as_i64().expect("an id")
}

/// What the local application received.
#[derive(Debug)]
struct Received {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

/// A local application on port 0 answering every request with `status` (and a `Location`
/// back to itself, so a redirect would be followed if the client followed redirects).
async fn application(status: u16) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handler = move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(Received {
                method,
                uri,
                headers,
                body,
            });
            let status = StatusCode::from_u16(status).unwrap();
            (status, [("location", "/followed")], "answer")
        }
    };
    let router = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, rx)
}

async fn next_received(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("the application receives a request in time")
        .expect("a request")
}

#[tokio::test]
async fn new_events_appear_as_readable_lines_and_as_json_summaries() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some("s3cret")).await;
    let before = post_typed(&app, "shop", "order.created").await;
    let mut text = Tail::start(&app, &["--token", "s3cret"], &[]).await;
    let mut json = Tail::start(&app, &["--json"], &[("HOOKWATCH_TOKEN", "s3cret")]).await;
    let id = post_typed(&app, "shop", "order.paid").await;

    let line = text.next_line().await;
    for part in [
        "shop",
        "order.paid",
        "unverified",
        "received",
        &format!("#{id}"),
    ] {
        assert!(line.contains(part), "`{part}` in {line}");
    }
    let size = "{\"type\":\"order.paid\"}".len();
    assert!(
        line.ends_with(&format!(" {size} B")),
        "the size ends the line: {line}"
    );
    let summary = json.next_json().await;
    assert_eq!(
        summary["id"], id,
        "the event before tail started ({before}) is not shown"
    );
    assert_eq!(summary["source"], "shop");
    assert_eq!(summary["event_type"], "order.paid");
    assert!(summary.get("body").is_none(), "a summary: {summary}");
}

#[tokio::test]
async fn a_missing_or_wrong_token_exits_1_saying_the_token_is_the_problem() {
    let app = spawn_in(tempfile::tempdir().unwrap(), "", Some("s3cret")).await;
    for args in [&[][..], &["--token", "wrong"][..]] {
        let mut tail = Tail::spawn(&app.url(""), args, &[]);
        assert_eq!(tail.exit_code().await, 1, "{args:?}");
        let stderr = tail.stderr();
        assert!(
            stderr.contains("401") && stderr.contains("token"),
            "{stderr}"
        );
        assert!(
            !stderr.contains("wrong"),
            "the token is not echoed: {stderr}"
        );
    }
}

#[tokio::test]
async fn a_bad_server_or_forward_to_url_exits_2_naming_the_flag() {
    for (args, flag) in [
        (&["tail", "--server", "localhost:8080"][..], "--server"),
        (
            &["tail", "--forward-to", "ftp://x/hook"][..],
            "--forward-to",
        ),
        (&["tail", "--forward-to", "not a url"][..], "--forward-to"),
        (&["healthcheck", "--server", "127.0.0.1"][..], "--server"),
    ] {
        let output = std::process::Command::new(BIN).args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

#[tokio::test]
async fn source_and_type_filters_choose_the_events_shown() {
    let app = spawn_app().await;
    let mut tail = Tail::start(
        &app,
        &["--json", "--source", "a", "--type", "charge.*"],
        &[],
    )
    .await;
    post_typed(&app, "b", "charge.failed").await;
    post_typed(&app, "a", "refund.created").await;
    let wanted = post_typed(&app, "a", "charge.failed").await;
    let next = post_typed(&app, "a", "charge.captured").await;
    assert_eq!(tail.next_json().await["id"], wanted);
    assert_eq!(
        tail.next_json().await["id"],
        next,
        "nothing else in between"
    );
}

#[tokio::test]
async fn a_server_restart_mid_stream_loses_no_event_and_doubles_none() {
    let app = spawn_app().await;
    let mut tail = Tail::start(&app, &["--json"], &[]).await;
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(post_typed(&app, "s", "before.restart").await);
    }
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(tail.next_json().await["id"].as_i64().unwrap());
    }
    let app = app.restart().await;
    // Sent while tail is still disconnected or reconnecting: they come from Last-Event-ID.
    for _ in 0..3 {
        sent.push(post_typed(&app, "s", "after.restart").await);
    }
    for _ in 0..3 {
        seen.push(tail.next_json().await["id"].as_i64().unwrap());
    }
    tail.wait_stderr("reconnecting").await;
    tail.wait_stderr("reconnected").await;
    // One more: it must come next, so none of the earlier ones was shown twice.
    sent.push(post_typed(&app, "s", "after.reconnect").await);
    seen.push(tail.next_json().await["id"].as_i64().unwrap());
    assert_eq!(seen, sent);
}

/// A Stripe delivery signed now with `secret`: headers and body.
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
        content_type: Some("application/json"),
    };
    let now = chrono::Utc::now().timestamp();
    assert_eq!(verifier.verify(&request, now), Outcome::Valid);

    let second = next_received(&mut received).await;
    assert_eq!(second.method, Method::PUT);
    assert_eq!(second.body, binary, "binary bytes unchanged");
    assert_eq!(second.headers["x-custom"], "kept");
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
async fn a_server_that_is_not_hookwatch_makes_tail_exit_1_saying_so() {
    for status in [200, 404] {
        let (url, _received) = application(status).await;
        let mut tail = Tail::spawn(&url, &[], &[]);
        assert_eq!(tail.exit_code().await, 1, "answering {status}");
        assert!(
            tail.stderr().contains("is it hookwatch?"),
            "{}",
            tail.stderr()
        );
    }
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
