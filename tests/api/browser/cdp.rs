//! A thin Chrome DevTools Protocol client: JSON commands over one WebSocket, answers matched
//! by id, events broadcast to whoever listens.
//!
//! Hand-written on purpose: the crate's `serde_json` has `arbitrary_precision` on, which breaks
//! the untagged-enum decoding in CDP crates (chromiumoxide drops every `Page.lifecycleEvent`
//! and hangs). Here every message stays a `serde_json::Value`, which is unaffected.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>>;

/// How long one command may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(20);

/// One DevTools connection (to the browser; pages are reached through session ids).
pub struct Cdp {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    events: broadcast::Sender<Value>,
    next_id: AtomicU64,
}

impl Cdp {
    /// Connects to `ws://…/devtools/browser/…` and starts reading.
    pub async fn connect(url: &str) -> Arc<Cdp> {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("DevTools WebSocket");
        let (mut sink, mut stream) = socket.split();
        let (out, mut outgoing) = mpsc::unbounded_channel::<Message>();
        tokio::spawn(async move {
            while let Some(message) = outgoing.recv().await {
                if sink.send(message).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(4096);
        let (answers, published) = (pending.clone(), events.clone());
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(text) = message {
                    dispatch(&answers, &published, text.as_str());
                }
            }
        });
        Arc::new(Cdp {
            out,
            pending,
            events,
            next_id: AtomicU64::new(1),
        })
    }

    /// Sends a command (to a page when `session` is given) and returns its result.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, String> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(id, tx);
        self.out
            .send(Message::text(message.to_string()))
            .map_err(|_| "the DevTools connection is closed".to_string())?;
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(format!("{method}: connection closed")),
            Err(_) => Err(format!("{method}: no answer in {COMMAND_TIMEOUT:?}")),
        }
    }

    /// Every event from now on: `{"method", "params", "sessionId"}`.
    pub fn events(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }
}

fn dispatch(pending: &Pending, events: &broadcast::Sender<Value>, text: &str) {
    let Ok(message) = serde_json::from_str::<Value>(text) else {
        return;
    };
    match message["id"].as_u64() {
        Some(id) => {
            if let Some(tx) = pending.lock().unwrap().remove(&id) {
                let answer = match message.get("error") {
                    Some(error) => Err(error.to_string()),
                    None => Ok(message["result"].clone()),
                };
                let _ = tx.send(answer);
            }
        }
        None => {
            let _ = events.send(message);
        }
    }
}
