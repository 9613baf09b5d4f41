//! The far ends of the forwarding benchmark, counted where the events land rather than by
//! hookwatch's own records: an HTTP server in the bench process, a JetStream stream, a Redis
//! stream. Each says how many events it holds, and at the end how many arrived more than once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use redis::streams::StreamRangeReply;

/// What the HTTP target has seen: every request, and the distinct `X-Hookwatch-Event-Id`s.
#[derive(Default)]
pub struct Counter {
    pub requests: AtomicU64,
    pub ids: Mutex<HashSet<String>>,
}

/// An HTTP target answering `200` to everything on a loopback port, counting as it goes;
/// returns its URL. It runs on the bench's runtime until the process ends.
pub async fn counting_target() -> (String, Arc<Counter>) {
    let counter = Arc::new(Counter::default());
    let seen = counter.clone();
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            seen.requests.fetch_add(1, Ordering::Relaxed);
            if let Some(id) = headers
                .get("x-hookwatch-event-id")
                .and_then(|v| v.to_str().ok())
            {
                seen.ids.lock().unwrap().insert(id.to_string());
            }
            StatusCode::OK
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, counter)
}

/// Where one forwarding rule delivers.
pub enum Sink {
    Http(Arc<Counter>),
    /// The JetStream stream that takes the rule's subject.
    Nats(Box<async_nats::jetstream::stream::Stream>),
    /// A connection and the stream's key.
    Redis(redis::aio::MultiplexedConnection, String),
}

/// What a sink holds at the end: distinct events, and arrivals beyond the first of each.
pub struct Landed {
    pub distinct: u64,
    pub duplicates: u64,
}

impl Sink {
    /// Events that have landed so far (cheap enough to poll; may count a repeat twice).
    pub async fn count(&mut self) -> u64 {
        match self {
            Sink::Http(counter) => counter.ids.lock().unwrap().len() as u64,
            Sink::Nats(stream) => stream.get_info().await.expect("stream info").state.messages,
            Sink::Redis(conn, key) => redis::cmd("XLEN")
                .arg(&*key)
                .query_async(conn)
                .await
                .expect("XLEN"),
        }
    }

    /// Distinct events and repeats. JetStream drops a repeat within its duplicate window
    /// (`Nats-Msg-Id`), so a NATS sink shows none; a Redis stream is read through.
    pub async fn landed(&mut self) -> Landed {
        match self {
            Sink::Http(counter) => {
                let distinct = counter.ids.lock().unwrap().len() as u64;
                let requests = counter.requests.load(Ordering::Relaxed);
                Landed {
                    distinct,
                    duplicates: requests - distinct,
                }
            }
            Sink::Nats(_) => Landed {
                distinct: self.count().await,
                duplicates: 0,
            },
            Sink::Redis(conn, key) => {
                let (mut ids, mut entries) = (HashSet::new(), 0u64);
                let mut from = "-".to_string();
                loop {
                    let page: StreamRangeReply = redis::cmd("XRANGE")
                        .arg(&*key)
                        .arg(&from)
                        .arg("+")
                        .arg("COUNT")
                        .arg(10_000)
                        .query_async(conn)
                        .await
                        .expect("XRANGE");
                    let Some(last) = page.ids.last() else { break };
                    from = format!("({}", last.id);
                    for entry in &page.ids {
                        entries += 1;
                        if let Some(id) = entry.get::<String>("hookwatch-event-id") {
                            ids.insert(id);
                        }
                    }
                }
                Landed {
                    distinct: ids.len() as u64,
                    duplicates: entries - ids.len() as u64,
                }
            }
        }
    }
}
