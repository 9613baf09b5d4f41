//! A local service on 127.0.0.1 speaking the SwiftSearch API (or a team's lookup API): it
//! records every request and answers from a script, then with a normal search answer.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// The key the tests configure; checked on the wire and searched for in every answer.
pub const KEY: &str = "sk_test_enrich_key_7f3a";
pub const KEY_VAR: &str = "HOOKWATCH_TEST_SEARCH_KEY";

/// Sets the key's variable once, before any app reads it.
pub fn set_key() {
    static ONCE: Once = Once::new();
    // SAFETY: set once, to the same value, before the first read; nothing in this test
    // binary removes or changes it afterwards.
    ONCE.call_once(|| unsafe { std::env::set_var(KEY_VAR, KEY) });
}

/// What the fake service does for one request.
#[derive(Clone)]
pub enum Reply {
    Answer(Value),
    Status(u16, Option<&'static str>, &'static str),
    Hang,
    Slow(Duration),
}

/// One request as the fake service saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Value,
    pub at: Instant,
}

#[derive(Clone, Default)]
struct Fake {
    seen: Arc<Mutex<Vec<Seen>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

pub struct Service {
    pub url: String,
    fake: Fake,
}

impl Service {
    pub fn seen(&self) -> Vec<Seen> {
        self.fake.seen.lock().unwrap().clone()
    }
}

pub fn search_answer() -> Value {
    json!({"search_results": [
        {"title": "Card declines", "url": "https://docs.stripe.com/declines", "snippet": "…"},
        {"title": "Decline codes", "url": "https://docs.stripe.com/declines/codes"},
        {"title": "Third", "url": "https://example.com/3"},
    ], "credits_used": 1})
}

/// Starts the fake service; replies follow `script`, then a normal search answer.
pub async fn service(path: &str, script: Vec<Reply>) -> Service {
    let fake = Fake {
        script: Arc::new(Mutex::new(script.into())),
        ..Fake::default()
    };
    let router = Router::new().fallback(answer).with_state(fake.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Service { url, fake }
}

async fn answer(
    State(fake): State<Fake>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_string())
    };
    fake.seen.lock().unwrap().push(Seen {
        method: method.to_string(),
        path: uri.path().to_string(),
        authorization: header("authorization"),
        content_type: header("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
    });
    let reply = fake.script.lock().unwrap().pop_front();
    match reply {
        None => axum::Json(search_answer()).into_response(),
        Some(Reply::Answer(value)) => axum::Json(value).into_response(),
        Some(Reply::Status(code, retry_after, text)) => {
            let mut response =
                (StatusCode::from_u16(code).unwrap(), text.to_string()).into_response();
            if let Some(secs) = retry_after {
                response
                    .headers_mut()
                    .insert("retry-after", secs.parse().unwrap());
            }
            response
        }
        Some(Reply::Hang) => std::future::pending().await,
        Some(Reply::Slow(delay)) => {
            tokio::time::sleep(delay).await;
            axum::Json(search_answer()).into_response()
        }
    }
}
