//! `hookwatch tail`, the real binary as a child process following the real server: `follow`
//! (lines and JSON, filters, the token, a server restart mid-stream) and `forward`
//! (`--forward-to` a local application, an axum server on port 0 that records what it
//! receives). This file holds what both use.

mod follow;
mod forward;

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

/// `hookwatch serve` as a child process on a fixed address and the SQLite file in `dir`, to
/// be stopped and started again (on the same or another file) under a running `tail`.
async fn serve_process(dir: &std::path::Path, address: &str) -> tokio::process::Child {
    let database = format!("sqlite://{}", dir.join("hookwatch.db").display());
    let mut child = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", address, "--database", &database])
        .current_dir(dir)
        .env_remove("HOOKWATCH_TOKEN")
        .env_remove("HOOKWATCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start hookwatch serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("banner in time");
    assert!(banner.unwrap().is_some(), "hookwatch serve started");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    child
}

/// A free loopback address (bound, then released).
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}
