//! Delivering events to message brokers — NATS JetStream, RabbitMQ, Redis Streams — with
//! the same promise as an HTTP delivery: delivered means the broker acknowledged it.
//!
//! [`Publisher`] is the one entry point. It keeps one connection per target and server,
//! opened on the first delivery rather than at start-up, so a broker that is down never holds
//! anything else up: its deliveries fail with the reason and are retried like any other.
//! Any failure drops the connection, and the next delivery opens a fresh one, which is how a
//! restarted broker is found again. Every publish, connecting included, has a time limit.
//!
//! - [`address`]: the `to` filled in for one event and parsed (pure).
//! - [`metadata`]: the fields that travel beside the raw body, the same for every broker (pure).
//! - `nats.rs`, `amqp.rs`, `redis.rs`: one file per broker, each `open` and `publish`.

pub mod address;
mod amqp;
pub mod metadata;
mod nats;
mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::model::Event;
use address::Address;

/// A broker target as its rule describes it.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The target's name (it goes into the NATS message id).
    pub name: &'a str,
    /// The rule's `to`, with `{source}` and `{type}` still in it.
    pub to: &'a str,
    /// NATS only: make a stream for the rule's subject when none takes it.
    pub create_stream: bool,
}

/// One message, as the three brokers publish it.
struct Message<'a> {
    /// `hookwatch-{target}-{event id}`, plus `-r{n}` for replay `n`.
    id: String,
    /// The exact bytes received.
    body: &'a [u8],
    metadata: Vec<(String, String)>,
}

impl<'a> Message<'a> {
    fn new(target: &str, event: &'a Event, replay: Option<u32>) -> Message<'a> {
        let mut id = format!("hookwatch-{target}-{}", event.id);
        if let Some(n) = replay {
            id.push_str(&format!("-r{n}"));
        }
        Message {
            id,
            body: &event.new.body,
            metadata: metadata::metadata(event),
        }
    }
}

/// An open connection to one broker; cheap to clone, shared by concurrent deliveries.
#[derive(Clone)]
enum Connection {
    Nats(nats::Connection),
    Amqp(amqp::Connection),
    Redis(redis::Connection),
}

/// A target's connection and which opening it is, so a delivery that failed drops only the
/// connection it used, never a fresh one another delivery has opened since.
type Slot = Arc<tokio::sync::Mutex<Option<(u64, Connection)>>>;

/// Publishes events to brokers. Cheap to clone: clones share the connections.
#[derive(Clone)]
pub struct Publisher {
    timeout: Duration,
    slots: Arc<Mutex<HashMap<(String, String), Slot>>>,
    openings: Arc<std::sync::atomic::AtomicU64>,
}

impl Publisher {
    /// A publisher that gives each delivery, connecting included, `timeout`.
    pub fn new(timeout: Duration) -> Publisher {
        Publisher {
            timeout,
            slots: Arc::default(),
            openings: Arc::default(),
        }
    }

    /// Delivers `event` to `target` (`replay`: the replay's number, `None` for the first
    /// delivery). `Ok` is the broker's acknowledgement in a few words; `Err` says why it failed.
    pub async fn publish(
        &self,
        target: &Target<'_>,
        event: &Event,
        replay: Option<u32>,
    ) -> Result<String, String> {
        let filled = address::fill(
            target.to,
            &event.new.source,
            event.new.event_type.as_deref(),
        );
        let address = address::parse(&filled).map_err(|e| e.to_string())?;
        let slot = self.slot(target.name, address.server());
        let message = Message::new(target.name, event, replay);
        let mut used = None;
        let attempt = async {
            let (opening, connection) = self.connection(&slot, &address).await?;
            used = Some(opening);
            send(&connection, &address, &message, target).await
        };
        let result = match tokio::time::timeout(self.timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(format!(
                "no answer from the broker within {} s",
                self.timeout.as_secs_f64()
            )),
        };
        if let (Err(_), Some(opening)) = (&result, used) {
            let mut current = slot.lock().await;
            if matches!(&*current, Some((n, _)) if *n == opening) {
                *current = None;
            }
        }
        result.map_err(|reason| without_password(reason, address.server()))
    }

    fn slot(&self, target: &str, server: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let key = (target.to_string(), server.to_string());
        slots.entry(key).or_default().clone()
    }

    /// The slot's connection, opened now if there is none.
    async fn connection(
        &self,
        slot: &Slot,
        address: &Address,
    ) -> Result<(u64, Connection), String> {
        let mut current = slot.lock().await;
        if let Some(open) = &*current {
            return Ok(open.clone());
        }
        let server = address.server();
        let connection = match address {
            Address::Nats(_) => Connection::Nats(nats::open(server).await?),
            Address::Amqp(_) => Connection::Amqp(amqp::open(server).await?),
            Address::Redis(_) => Connection::Redis(redis::open(server).await?),
        };
        let opening = self
            .openings
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *current = Some((opening, connection.clone()));
        Ok((opening, connection))
    }
}

async fn send(
    connection: &Connection,
    address: &Address,
    message: &Message<'_>,
    target: &Target<'_>,
) -> Result<String, String> {
    match (connection, address) {
        (Connection::Nats(c), Address::Nats(a)) => {
            let create = target.create_stream.then_some(target);
            nats::publish(c, a, message, create).await
        }
        (Connection::Amqp(c), Address::Amqp(a)) => amqp::publish(c, a, message).await,
        (Connection::Redis(c), Address::Redis(a)) => redis::publish(c, a, message).await,
        // Slots are keyed by the server URL, whose scheme decides the kind.
        _ => Err("the connection does not match the target's scheme".to_string()),
    }
}

/// `reason` with the password of `server` masked, should a client library ever quote it:
/// reasons are stored and shown.
fn without_password(reason: String, server: &str) -> String {
    let Some(password) = url::Url::parse(server)
        .ok()
        .and_then(|url| url.password().map(str::to_string))
        .filter(|password| !password.is_empty())
    else {
        return reason;
    };
    let decoded = percent_encoding::percent_decode_str(&password)
        .decode_utf8_lossy()
        .into_owned();
    reason.replace(&password, "***").replace(&decoded, "***")
}

/// An error and its causes in one line, as a person reads it: `connection refused`,
/// `authentication failed`, …
fn reason(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_never_shows_the_password() {
        let server = "amqp://guest:p%40ss@127.0.0.1:5672/%2f";
        assert_eq!(
            without_password("login p@ss and p%40ss refused".into(), server),
            "login *** and *** refused"
        );
        for server in ["redis://127.0.0.1/0", "amqp://guest:@h/%2f"] {
            assert_eq!(
                without_password("connection refused".into(), server),
                "connection refused"
            );
        }
    }
}
