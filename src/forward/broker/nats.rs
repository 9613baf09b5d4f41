//! Publishing to NATS JetStream: one message per delivery, acknowledged by the stream.
//!
//! A plain NATS publish is fire-and-forget, so a delivery is only counted once a stream has
//! stored it and said so (the PubAck). The message id (`Nats-Msg-Id`) is the target and event,
//! so a retry after a lost PubAck is dropped by the stream's duplicate window instead of stored
//! twice; a duplicate PubAck therefore also means delivered.
//!
//! Streams belong to whoever runs NATS: without `create_stream` a subject no stream listens on
//! is a failed attempt that says so, never a stream made up on the spot.

use std::str::FromStr;

use async_nats::jetstream::{
    self, context::PublishError, context::PublishErrorKind, message::PublishMessage as Publish,
    stream,
};
use async_nats::{HeaderMap, HeaderName};
use bytes::Bytes;

use super::address::NatsAddress;
use super::{Message, Target};

/// One open connection to a NATS server.
#[derive(Clone)]
pub struct Connection {
    jetstream: jetstream::Context,
}

/// Connects to `server` (a `nats://` URL without the subject).
pub async fn open(server: &str) -> Result<Connection, String> {
    let client = async_nats::ConnectOptions::new()
        .connect(server)
        .await
        .map_err(|e| super::reason(&e))?;
    Ok(Connection {
        jetstream: jetstream::new(client),
    })
}

/// Where a stream made by `create_stream` listens: the rule's subject with `{source}` as a
/// wildcard token, and everything from the first token holding `{type}` (a type may hold
/// dots, so it may span tokens) as `>`. Every event of the rule then lands in one stream.
pub fn stream_subjects(template_subject: &str) -> String {
    let mut tokens = Vec::new();
    for token in template_subject.split('.') {
        if token.contains("{type}") {
            tokens.push(">");
            break;
        }
        tokens.push(if token.contains("{source}") {
            "*"
        } else {
            token
        });
    }
    tokens.join(".")
}

/// The subject of a `nats://` `to` as written, `{source}` and `{type}` still in it.
fn template_subject(to: &str) -> &str {
    let after_scheme = to.split_once("://").map_or(to, |(_, rest)| rest);
    let path = after_scheme.split_once('/').map_or("", |(_, path)| path);
    path.split(['?', '#']).next().unwrap_or("")
}

/// The name of the stream `create_stream` makes for target `name` (a stream name may not
/// hold dots).
pub fn stream_name(target: &str) -> String {
    format!("hookwatch-{}", target.replace('.', "_"))
}

/// Publishes `message` to `address.subject` and waits for the stream's PubAck.
pub async fn publish(
    connection: &Connection,
    address: &NatsAddress,
    message: &Message<'_>,
    create_stream: Option<&Target<'_>>,
) -> Result<String, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &message.metadata {
        // A name NATS cannot carry (`:` or a control character in it) is left out; HTTP never
        // lets one through.
        if let Ok(name) = HeaderName::from_str(name) {
            headers.append(name, value.as_str());
        }
    }
    let publish = Publish::build()
        .payload(Bytes::copy_from_slice(message.body))
        .headers(headers)
        .message_id(&message.id);
    let js = &connection.jetstream;
    let mut result = send(js, &address.subject, publish.clone()).await;
    if let (true, Some(target)) = (no_stream(&result), create_stream) {
        let config = stream::Config {
            name: stream_name(target.name),
            subjects: vec![stream_subjects(template_subject(target.to))],
            ..Default::default()
        };
        js.get_or_create_stream(config)
            .await
            .map_err(|e| format!("could not create a stream: {}", super::reason(&e)))?;
        result = send(js, &address.subject, publish).await;
    }
    match result {
        Ok(ack) if ack.duplicate => Ok(format!(
            "stream {} seq {} (duplicate)",
            ack.stream, ack.sequence
        )),
        Ok(ack) => Ok(format!("stream {} seq {}", ack.stream, ack.sequence)),
        Err(e) if e.kind() == PublishErrorKind::StreamNotFound => Err(format!(
            "no stream for subject {} (create one, or set create_stream = true)",
            address.subject
        )),
        Err(e) => Err(super::reason(&e)),
    }
}

fn no_stream<T>(result: &Result<T, PublishError>) -> bool {
    matches!(result, Err(e) if e.kind() == PublishErrorKind::StreamNotFound)
}

async fn send(
    js: &jetstream::Context,
    subject: &str,
    publish: Publish,
) -> Result<jetstream::publish::PublishAck, PublishError> {
    js.send_publish(subject.to_string(), publish).await?.await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_stream_takes_every_source_and_type_of_the_rule() {
        assert_eq!(stream_subjects("hooks"), "hooks");
        assert_eq!(stream_subjects("hooks.{source}"), "hooks.*");
        assert_eq!(stream_subjects("hooks.{source}.{type}"), "hooks.*.>");
        assert_eq!(stream_subjects("hooks.src-{source}.x"), "hooks.*.x");
        assert_eq!(stream_subjects("hooks.{type}.in.{source}"), "hooks.>");
        assert_eq!(stream_name("nats.local-1"), "hookwatch-nats_local-1");
    }

    #[test]
    fn the_subject_template_is_read_from_the_to() {
        assert_eq!(
            template_subject("nats://u:p@h:4222/hooks.{source}.{type}"),
            "hooks.{source}.{type}"
        );
        assert_eq!(template_subject("nats://h:4222/a.b"), "a.b");
    }
}
