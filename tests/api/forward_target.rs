//! A target application for forwarding tests: a tiny HTTP server on loopback that records
//! every request it gets and answers as the test plans (a status, a hang, a huge body, a
//! redirect, a gate the test opens), so a test sees exactly what hookwatch sent, how many
//! requests it had open at once, and how it reacted.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

/// How the target answers one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Status(u16),
    /// A status with `Retry-After: 0`, so the retry comes after hookwatch's own backoff.
    Soon(u16),
    /// Never answers.
    Hang,
    /// `200` after this many milliseconds.
    Slow(u64),
    /// `200` with a body of several megabytes.
    Huge,
    /// `302` to another path of the target.
    Redirect,
    /// `200` once the test calls `Target::open` (at once after it).
    Gated,
}

/// One request as the target received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// In the order received, names lower-case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// When it arrived.
    pub at: std::time::Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn event_id(&self) -> i64 {
        self.header("x-hookwatch-event-id")
            .and_then(|v| v.parse().ok())
            .expect("an event id header")
    }
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    plan: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    arrived: Notify,
    /// Requests being answered now, and the most there ever were.
    open_now: AtomicUsize,
    most_at_once: AtomicUsize,
    gate: Option<watch::Sender<bool>>,
}

/// The running target; stops when dropped.
pub struct Target {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Target {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback port nobody listens on (bound, then released), for a target that is down.
pub async fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}

impl Target {
    /// A target on a fresh port answering `default` to every request.
    pub async fn start(default: Reply) -> Target {
        Target::start_on(0, default).await
    }

    /// A target on `port` (0: any).
    pub async fn start_on(port: u16, default: Reply) -> Target {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            gate: Some(watch::Sender::new(false)),
            ..Shared::default()
        });
        *shared.default.lock().unwrap() = Some(default);
        let app = Router::new().fallback(record).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Target { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next requests get these answers, in order, before the default again.
    pub fn then(&self, replies: &[Reply]) {
        self.shared.plan.lock().unwrap().extend(replies);
    }

    /// The most requests the target was answering at one time.
    pub fn most_at_once(&self) -> usize {
        self.shared.most_at_once.load(Ordering::SeqCst)
    }

    /// Lets every `Gated` request (waiting or to come) be answered.
    pub fn open(&self) {
        if let Some(gate) = &self.shared.gate {
            gate.send_replace(true);
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until `n` requests have arrived (at most 30 s), and answers them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let arrived = self.shared.arrived.notified();
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                panic!("{n} requests expected, {} arrived", self.received().len());
            }
        }
    }
}

/// Counts a request as open while it lives.
struct Open<'a>(&'a Shared);

impl<'a> Open<'a> {
    fn new(shared: &'a Shared) -> Open<'a> {
        let now = shared.open_now.fetch_add(1, Ordering::SeqCst) + 1;
        shared.most_at_once.fetch_max(now, Ordering::SeqCst);
        Open(shared)
    }
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.open_now.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn record(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let _open = Open::new(&shared);
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let received = Received {
        method: parts.method.to_string(),
        uri: parts.uri.to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
        at: std::time::Instant::now(),
    };
    let reply = {
        let planned = shared.plan.lock().unwrap().pop_front();
        planned.or(*shared.default.lock().unwrap()).unwrap()
    };
    shared.received.lock().unwrap().push(received);
    shared.arrived.notify_waiters();
    let status = |code: u16| StatusCode::from_u16(code).unwrap();
    match reply {
        Reply::Status(code) => (status(code), format!("answer {code}")).into_response(),
        Reply::Soon(code) => (status(code), [("retry-after", "0")], "later").into_response(),
        Reply::Hang => std::future::pending().await,
        Reply::Slow(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            (StatusCode::OK, "slow").into_response()
        }
        Reply::Huge => (StatusCode::OK, Body::from(vec![b'x'; 4 * 1024 * 1024])).into_response(),
        Reply::Redirect => (StatusCode::FOUND, [("location", "/elsewhere")], "").into_response(),
        Reply::Gated => {
            if let Some(gate) = &shared.gate {
                let _ = gate.subscribe().wait_for(|open| *open).await;
            }
            (StatusCode::OK, "let through").into_response()
        }
    }
}
