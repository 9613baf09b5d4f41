//! A broker `to`, filled in for one event and parsed into what the publish needs: the URL to
//! connect to, kept apart from where in the broker the message goes, so one connection serves
//! every subject, routing key or stream of a target.
//!
//! `{source}` and `{type}` are filled in before the URL is parsed. Each value keeps only
//! `[A-Za-z0-9_.-]` (anything else becomes `_`), so a sender cannot reach another subject,
//! routing key or stream with a crafted event type, nor break the URL. A missing type is
//! `unknown`, and so is an empty one. Pure.

use url::Url;

/// Where one event goes, and through which connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    Nats(NatsAddress),
    Amqp(AmqpAddress),
    Redis(RedisAddress),
}

/// `nats://[USER:PASS@]HOST:PORT/SUBJECT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatsAddress {
    /// The server, with its credentials and without the subject.
    pub server: String,
    pub subject: String,
}

/// `amqp://USER:PASS@HOST:PORT/VHOST?exchange=X&routing_key=K`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpAddress {
    /// The server and virtual host, with the credentials and without the query.
    pub server: String,
    /// `""`, the default exchange, when not given.
    pub exchange: String,
    pub routing_key: String,
}

/// `redis://[:PASS@]HOST:PORT/DB?stream=KEY&maxlen=N`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisAddress {
    /// The server and database, with the credentials and without the query.
    pub server: String,
    pub stream: String,
    /// Trims the stream to about this many entries (`MAXLEN ~`).
    pub maxlen: Option<u64>,
}

impl Address {
    /// The URL the connection is opened with; one connection per target and server.
    pub fn server(&self) -> &str {
        match self {
            Address::Nats(a) => &a.server,
            Address::Amqp(a) => &a.server,
            Address::Redis(a) => &a.server,
        }
    }
}

/// Why a broker `to` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("`{0}` is not a URL")]
    NotAUrl(String),
    #[error("`{0}` is not a broker scheme (nats, amqp, redis)")]
    Scheme(String),
    #[error("a nats:// target needs a subject after the host")]
    NoSubject,
    #[error("`{0}` is not a NATS subject: it has an empty token (dots at an end or side by side)")]
    Subject(String),
    #[error("a redis:// target needs `stream=`")]
    NoStream,
    #[error("`maxlen` must be a whole number above 0, not `{0}`")]
    Maxlen(String),
    #[error("the {scheme}:// target has no parameter `{name}` (it knows {known})")]
    UnknownParameter {
        scheme: &'static str,
        name: String,
        known: &'static str,
    },
}

/// `template` with `{source}` and `{type}` filled in for one event.
pub fn fill(template: &str, source: &str, event_type: Option<&str>) -> String {
    template.replace("{source}", &clean(source)).replace(
        "{type}",
        &clean(event_type.filter(|t| !t.is_empty()).unwrap_or("unknown")),
    )
}

/// `value` with every character outside `[A-Za-z0-9_.-]` turned into `_`.
fn clean(value: &str) -> String {
    value
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Parses a filled-in broker `to`.
pub fn parse(to: &str) -> Result<Address, AddressError> {
    let url = Url::parse(to).map_err(|_| AddressError::NotAUrl(crate::redact::url(to)))?;
    match url.scheme() {
        "nats" => nats(url),
        "amqp" => amqp(url),
        "redis" => redis(url),
        other => Err(AddressError::Scheme(other.to_string())),
    }
}

fn nats(mut url: Url) -> Result<Address, AddressError> {
    check_parameters(&url, "nats", &[], "none")?;
    let subject = url.path().trim_start_matches('/').to_string();
    if subject.is_empty() {
        return Err(AddressError::NoSubject);
    }
    if subject.split('.').any(str::is_empty) {
        return Err(AddressError::Subject(subject));
    }
    url.set_path("");
    Ok(Address::Nats(NatsAddress {
        server: url.to_string(),
        subject,
    }))
}

fn amqp(mut url: Url) -> Result<Address, AddressError> {
    check_parameters(
        &url,
        "amqp",
        &["exchange", "routing_key"],
        "exchange, routing_key",
    )?;
    let exchange = parameter(&url, "exchange").unwrap_or_default();
    let routing_key = parameter(&url, "routing_key").unwrap_or_default();
    url.set_query(None);
    Ok(Address::Amqp(AmqpAddress {
        server: url.to_string(),
        exchange,
        routing_key,
    }))
}

fn redis(mut url: Url) -> Result<Address, AddressError> {
    check_parameters(&url, "redis", &["stream", "maxlen"], "stream, maxlen")?;
    let stream = parameter(&url, "stream")
        .filter(|s| !s.is_empty())
        .ok_or(AddressError::NoStream)?;
    let maxlen = match parameter(&url, "maxlen") {
        None => None,
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(AddressError::Maxlen(text)),
        },
    };
    url.set_query(None);
    Ok(Address::Redis(RedisAddress {
        server: url.to_string(),
        stream,
        maxlen,
    }))
}

fn parameter(url: &Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Refuses a parameter the target does not use, rather than ignoring a typo.
fn check_parameters(
    url: &Url,
    scheme: &'static str,
    allowed: &[&str],
    known: &'static str,
) -> Result<(), AddressError> {
    match url
        .query_pairs()
        .find(|(key, _)| !allowed.contains(&key.as_ref()))
    {
        Some((name, _)) => Err(AddressError::UnknownParameter {
            scheme,
            name: name.into_owned(),
            known,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_and_type_are_filled_in_with_only_safe_characters() {
        assert_eq!(
            fill(
                "nats://h:4222/hooks.{source}.{type}",
                "stripe",
                Some("charge.failed")
            ),
            "nats://h:4222/hooks.stripe.charge.failed"
        );
        assert_eq!(fill("x/{type}", "s", Some("a b/c*>?#&é")), "x/a_b_c______");
        assert_eq!(fill("x/{source}.{type}", "s", None), "x/s.unknown");
        assert_eq!(fill("x/{type}", "s", Some("")), "x/unknown");
    }

    #[test]
    fn a_nats_to_gives_the_server_and_the_subject() {
        assert_eq!(
            parse("nats://u:p@127.0.0.1:4222/hooks.stripe").unwrap(),
            Address::Nats(NatsAddress {
                server: "nats://u:p@127.0.0.1:4222".into(),
                subject: "hooks.stripe".into(),
            })
        );
        assert_eq!(
            parse("nats://127.0.0.1:4222/"),
            Err(AddressError::NoSubject)
        );
    }

    #[test]
    fn an_amqp_to_gives_the_vhost_exchange_and_routing_key() {
        assert_eq!(
            parse("amqp://guest:guest@127.0.0.1:5672/%2f?exchange=hooks&routing_key=stripe.x")
                .unwrap(),
            Address::Amqp(AmqpAddress {
                server: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
                exchange: "hooks".into(),
                routing_key: "stripe.x".into(),
            })
        );
        let Address::Amqp(plain) = parse("amqp://127.0.0.1:5672/%2f?routing_key=q").unwrap() else {
            panic!("not amqp")
        };
        assert_eq!(plain.exchange, "", "the default exchange");
    }

    #[test]
    fn a_redis_to_gives_the_database_stream_and_maxlen() {
        assert_eq!(
            parse("redis://:pw@127.0.0.1:6379/2?stream=hooks.s&maxlen=1000").unwrap(),
            Address::Redis(RedisAddress {
                server: "redis://:pw@127.0.0.1:6379/2".into(),
                stream: "hooks.s".into(),
                maxlen: Some(1000),
            })
        );
        assert_eq!(
            parse("redis://127.0.0.1:6379/0?maxlen=5"),
            Err(AddressError::NoStream)
        );
        for bad in ["0", "-1", "many", ""] {
            assert_eq!(
                parse(&format!("redis://h/0?stream=s&maxlen={bad}")),
                Err(AddressError::Maxlen(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn unknown_parameters_and_schemes_are_refused_by_name() {
        let error = parse("amqp://h/%2f?routing_key=k&exchnage=x").unwrap_err();
        assert_eq!(
            error.to_string(),
            "the amqp:// target has no parameter `exchnage` (it knows exchange, routing_key)"
        );
        assert!(matches!(
            parse("nats://h/s?token=t"),
            Err(AddressError::UnknownParameter { .. })
        ));
        assert!(matches!(
            parse("redis://h/0?stream=s&db=3"),
            Err(AddressError::UnknownParameter { .. })
        ));
        assert_eq!(
            parse("http://h/x"),
            Err(AddressError::Scheme("http".into()))
        );
    }

    #[test]
    fn a_broken_url_is_shown_without_its_password() {
        let error = parse("amqp://u:secret@[bad/%2f").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
