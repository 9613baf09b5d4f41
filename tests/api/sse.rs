//! A minimal Server-Sent Events reader for `/api/stream`: ids of `webhook` events, with
//! deadlines instead of sleeps.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send>>;

/// An open stream and the text received but not yet parsed.
pub struct SseReader {
    stream: ByteStream,
    buffer: String,
}

impl SseReader {
    /// Opens `url` (the whole `/api/stream?…` URL), resuming after `last_id` when given. The
    /// server has subscribed to its feed once this returns.
    pub async fn open(client: &reqwest::Client, url: &str, last_id: Option<i64>) -> SseReader {
        let mut request = client.get(url);
        if let Some(id) = last_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.expect("open stream");
        assert_eq!(response.status(), 200, "stream status");
        SseReader {
            stream: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The id of the next `webhook` event, or `None` if none arrives within `within`.
    pub async fn next_id(&mut self, within: Duration) -> Option<i64> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(id) = self.parse_one() {
                return Some(id);
            }
            let chunk = tokio::time::timeout_at(deadline, self.stream.next()).await;
            match chunk {
                Ok(Some(Ok(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(Some(Err(error))) => panic!("stream failed: {error}"),
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Ids of the next `n` webhook events, each within `each`; panics when one is late.
    pub async fn next_ids(&mut self, n: usize, each: Duration) -> Vec<i64> {
        let mut ids = Vec::with_capacity(n);
        for k in 0..n {
            match self.next_id(each).await {
                Some(id) => ids.push(id),
                None => {
                    panic!("stream: event {k} of {n} not received within {each:?}; got {ids:?}")
                }
            }
        }
        ids
    }

    fn parse_one(&mut self) -> Option<i64> {
        loop {
            let normalized = self.buffer.replace("\r\n", "\n");
            let end = normalized.find("\n\n")?;
            let frame = normalized[..end].to_string();
            self.buffer = normalized[end + 2..].to_string();
            let is_webhook = frame.lines().any(|l| l.trim() == "event: webhook");
            let id = frame
                .lines()
                .find_map(|l| l.strip_prefix("id:"))
                .and_then(|v| v.trim().parse().ok());
            if let (true, Some(id)) = (is_webhook, id) {
                return Some(id);
            }
        }
    }
}
