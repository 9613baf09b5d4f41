//! Publishing to RabbitMQ (AMQP 0-9-1): a persistent, mandatory message on a channel in
//! confirm mode.
//!
//! Without publisher confirms the broker may lose a message and nobody hears of it, so a
//! delivery counts only on the broker's ack. `mandatory` makes a message no queue takes come
//! back (basic.return) instead of vanishing: that, or a nack, is a failed attempt to retry.

use lapin::Confirmation;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, ConnectionProperties};

use super::Message;
use super::address::AmqpAddress;

/// Persistent: the broker writes the message to disk on a durable queue.
const PERSISTENT: u8 = 2;

/// One open connection and its confirming channel.
#[derive(Clone)]
pub struct Connection {
    /// Kept so the connection lives as long as its channel is in use.
    _connection: std::sync::Arc<lapin::Connection>,
    channel: Channel,
}

/// Connects to `server` (an `amqp://` URL with the virtual host, without the query) and opens
/// a channel in confirm mode.
pub async fn open(server: &str) -> Result<Connection, String> {
    let connection = lapin::Connection::connect(server, ConnectionProperties::default())
        .await
        .map_err(|e| match super::reason(&e) {
            reason if reason.contains("Login was refused") => {
                format!("authentication failed (wrong user or password): {reason}")
            }
            reason => reason,
        })?;
    let channel = connection
        .create_channel()
        .await
        .map_err(|e| super::reason(&e))?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .map_err(|e| super::reason(&e))?;
    Ok(Connection {
        _connection: std::sync::Arc::new(connection),
        channel,
    })
}

/// Publishes `message` and waits for the broker's confirm.
pub async fn publish(
    connection: &Connection,
    address: &AmqpAddress,
    message: &Message<'_>,
) -> Result<String, String> {
    let exchange = short(&address.exchange, "the exchange")?;
    let routing_key = short(&address.routing_key, "the routing key")?;
    let mut headers = FieldTable::default();
    for (name, value) in &message.metadata {
        // A header name longer than AMQP allows (255 bytes) cannot travel; no sender needs one.
        if let Ok(name) = ShortString::try_new(name.as_str()) {
            headers.insert(name, AMQPValue::LongString(value.as_str().into()));
        }
    }
    let mut properties = BasicProperties::default()
        .with_delivery_mode(PERSISTENT)
        .with_headers(headers);
    if let Ok(id) = ShortString::try_new(message.id.as_str()) {
        properties = properties.with_message_id(id);
    }
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let confirm = connection
        .channel
        .basic_publish(exchange, routing_key, options, message.body, properties)
        .await
        .map_err(|e| super::reason(&e))?
        .await
        .map_err(|e| super::reason(&e))?;
    match confirm {
        Confirmation::Ack(None) => Ok(format!(
            "confirmed (exchange \"{}\", routing key \"{}\")",
            address.exchange, address.routing_key
        )),
        Confirmation::Ack(Some(returned)) | Confirmation::Nack(Some(returned)) => Err(format!(
            "returned by the broker: {} {} (no queue is bound for routing key \"{}\" on exchange \"{}\")",
            returned.reply_code, returned.reply_text, address.routing_key, address.exchange
        )),
        Confirmation::Nack(None) => Err("the broker refused the message (nack)".to_string()),
        Confirmation::NotRequested => Err("the channel is not in confirm mode".to_string()),
    }
}

fn short(text: &str, what: &str) -> Result<ShortString, String> {
    ShortString::try_new(text).map_err(|_| format!("{what} is longer than 255 bytes"))
}
