//! RabbitMQ targets: confirmed, persistent, mandatory publishes through an exchange.

use std::collections::BTreeMap;
use std::time::Duration;

use hookwatch::forward::broker::{Publisher, Target};
use lapin::options::{
    BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};

use super::{assert_carries, event, fixture_events, require, unique};

const SERVER: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

async fn channel() -> (Connection, Channel) {
    require(5672, "RabbitMQ", "rabbitmq-server -detached").await;
    let connection = Connection::connect(SERVER, ConnectionProperties::default())
        .await
        .expect("connect to RabbitMQ as guest");
    let channel = connection.create_channel().await.unwrap();
    (connection, channel)
}

fn publisher() -> Publisher {
    Publisher::new(Duration::from_secs(5))
}

#[tokio::test]
async fn amqp_events_arrive_byte_exact_persistent_with_every_header() {
    let (_connection, channel) = channel().await;
    let exchange = unique("hw-ex");
    let queue = unique("hw-q");
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                auto_delete: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            "fixture.#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let to = format!("{SERVER}?exchange={exchange}&routing_key={{source}}.{{type}}");
    let target = Target {
        name: "amqp-test",
        to: &to,
        create_stream: false,
    };
    let publisher = publisher();
    for event in fixture_events() {
        let answer = publisher.publish(&target, &event, None).await.unwrap();
        assert!(answer.starts_with("confirmed"), "{answer}");
        let message = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
            .expect("the message is in the queue");
        let event_type = event.new.event_type.as_deref().unwrap();
        assert_eq!(
            message.delivery.routing_key.as_str(),
            format!("fixture.{event_type}")
        );
        let properties = &message.delivery.properties;
        assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
        let fields: BTreeMap<String, String> = properties
            .headers()
            .as_ref()
            .expect("headers")
            .inner()
            .iter()
            .map(|(name, value)| {
                let AMQPValue::LongString(text) = value else {
                    panic!("{name} is not a string: {value:?}")
                };
                let text = String::from_utf8(text.as_bytes().to_vec()).unwrap();
                (name.to_string(), text)
            })
            .collect();
        assert_carries(&event, &message.delivery.data, &fields, &[]);
    }
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn amqp_a_message_no_queue_takes_comes_back_as_a_failed_attempt() {
    let (_connection, _channel) = channel().await;
    let to = format!("{SERVER}?routing_key={}", unique("nobody-listens"));
    let target = Target {
        name: "amqp-unrouted",
        to: &to,
        create_stream: false,
    };
    let error = publisher()
        .publish(&target, &event("payloads/github/push.json", 1), None)
        .await
        .unwrap_err();
    assert!(error.contains("NO_ROUTE"), "{error}");
}

#[tokio::test]
async fn amqp_a_wrong_password_fails_with_a_readable_reason_that_hides_it() {
    require(5672, "RabbitMQ", "rabbitmq-server -detached").await;
    let to = "amqp://guest:not-the-password@127.0.0.1:5672/%2f?routing_key=x";
    let target = Target {
        name: "amqp-wrong-password",
        to,
        create_stream: false,
    };
    let error = publisher()
        .publish(&target, &event("payloads/github/push.json", 1), None)
        .await
        .unwrap_err();
    assert!(error.starts_with("authentication failed"), "{error}");
    assert!(!error.contains("not-the-password"), "{error}");
}

#[tokio::test]
async fn amqp_a_channel_the_broker_closed_is_opened_again_for_the_next_delivery() {
    let (_connection, channel) = channel().await;
    let queue = unique("hw-reopen");
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let publisher = publisher();
    // Publishing to an exchange that does not exist makes the broker close the channel.
    let missing = format!(
        "{SERVER}?exchange={}&routing_key=x",
        unique("no-such-exchange")
    );
    let error = publisher
        .publish(
            &Target {
                name: "amqp-reopen",
                to: &missing,
                create_stream: false,
            },
            &event("payloads/github/push.json", 1),
            None,
        )
        .await
        .unwrap_err();
    assert!(error.contains("NOT_FOUND"), "{error}");
    let good = format!("{SERVER}?routing_key={queue}");
    publisher
        .publish(
            &Target {
                name: "amqp-reopen",
                to: &good,
                create_stream: false,
            },
            &event("payloads/github/push.json", 2),
            None,
        )
        .await
        .expect("the same target's next delivery goes through on a fresh channel");
    let message = channel
        .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: true })
        .await
        .unwrap()
        .expect("the message is in the queue");
    assert_eq!(
        message.delivery.data,
        event("payloads/github/push.json", 2).new.body
    );
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn amqp_a_message_the_broker_nacks_is_a_failed_attempt() {
    let (_connection, channel) = channel().await;
    let queue = unique("hw-full");
    // A queue that is always full and refuses what comes in: the broker nacks the publish.
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongLongInt(0));
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString("reject-publish".into()),
    );
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions::default(),
            arguments,
        )
        .await
        .unwrap();
    let to = format!("{SERVER}?routing_key={queue}");
    let target = Target {
        name: "amqp-nack",
        to: &to,
        create_stream: false,
    };
    let error = publisher()
        .publish(&target, &event("payloads/github/push.json", 1), None)
        .await
        .unwrap_err();
    assert!(error.contains("nack"), "{error}");
    channel
        .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
}
