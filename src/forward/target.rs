//! A rule's `to`: what kind of target it is, how it is shown, what it is called by default,
//! and the one target that is never allowed — hookwatch's own `/webhook/`, which would feed
//! every delivery back in for ever.
//!
//! Broker URLs may carry `{source}` and `{type}` in their subject, routing key or stream;
//! they are filled in per event before the URL is parsed, so checking a rule parses it with
//! both filled in with a harmless word, the way [`crate::forward::broker::address`] parses it for a delivery.
//!
//! A `to` may hold credentials (`amqp://user:PASS@…`, `?token=…`). [`redact::url`] is the
//! only form of it that is ever shown — API answers, the dashboard, logs, metrics labels,
//! `check-config`.

use std::net::{IpAddr, SocketAddr};

use url::Url;

use crate::forward::broker::address::{self, AddressError};
use crate::redact;

/// Where deliveries of a rule go, by the scheme of its `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `http://` or `https://`: the original request, re-sent.
    Http,
    /// `nats://HOST:PORT/SUBJECT`: a JetStream publish.
    Nats,
    /// `amqp://USER:PASS@HOST:PORT/VHOST?exchange=X&routing_key=K`: RabbitMQ, confirmed.
    Amqp,
    /// `redis://HOST:PORT/DB?stream=KEY`: `XADD`.
    Redis,
}

/// Why a `to` cannot be used; said at start-up with the rule's key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("`{0}` is not a URL")]
    NotAUrl(String),
    #[error("the scheme `{0}` is not one of http, https, nats, amqp, redis")]
    Scheme(String),
    #[error(
        "a nats:// target needs a subject after the host, as in nats://127.0.0.1:4222/webhooks.{{source}}"
    )]
    NoSubject,
    #[error("a redis:// target needs a stream, as in redis://127.0.0.1:6379/0?stream=webhooks")]
    NoStream,
    #[error(
        "it points at this hookwatch's own /webhook/, so every delivery would come back in (a loop)"
    )]
    Loop,
    /// Anything else a broker URL gets wrong: an unknown parameter, a bad `maxlen`.
    #[error("{0}")]
    Broker(AddressError),
}

/// Where this hookwatch receives webhooks, for the loop check.
#[derive(Debug, Clone)]
pub struct Own<'a> {
    pub listen: SocketAddr,
    pub public_url: Option<&'a str>,
}

/// Parses and checks a `to`: a known scheme, what a broker needs, and not a loop.
pub fn check(to: &str, own: &Own) -> Result<Kind, TargetError> {
    let sample = to.replace("{source}", "source").replace("{type}", "type");
    let url = Url::parse(&sample).map_err(|_| TargetError::NotAUrl(redact::url(to)))?;
    let kind = match url.scheme() {
        "http" | "https" => Kind::Http,
        "nats" => Kind::Nats,
        "amqp" => Kind::Amqp,
        "redis" => Kind::Redis,
        other => return Err(TargetError::Scheme(other.to_string())),
    };
    match kind {
        Kind::Nats if url.path().trim_start_matches('/').is_empty() => {
            return Err(TargetError::NoSubject);
        }
        Kind::Redis
            if !url
                .query_pairs()
                .any(|(k, v)| k == "stream" && !v.is_empty()) =>
        {
            return Err(TargetError::NoStream);
        }
        Kind::Http if is_own_webhook(&url, own) => return Err(TargetError::Loop),
        Kind::Http => {}
        Kind::Nats | Kind::Amqp | Kind::Redis => {
            address::parse(&sample).map_err(TargetError::Broker)?;
        }
    }
    Ok(kind)
}

/// Whether an HTTP `to` lands on this hookwatch's `/webhook/` path: through its listening
/// address (any loopback name when it listens on loopback or on every interface) or through
/// its `public_url`.
fn is_own_webhook(url: &Url, own: &Own) -> bool {
    if !url.path().starts_with("/webhook/") {
        return false;
    }
    if let Some(public) = own.public_url.and_then(|text| Url::parse(text).ok()) {
        let same_origin = public.scheme() == url.scheme()
            && public.host_str() == url.host_str()
            && public.port_or_known_default() == url.port_or_known_default();
        if same_origin {
            return true;
        }
    }
    if url.port_or_known_default() != Some(own.listen.port()) {
        return false;
    }
    let listen_ip = own.listen.ip();
    let any_loopback = listen_ip.is_loopback() || listen_ip.is_unspecified();
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        Some(url::Host::Domain(name)) => {
            return any_loopback && name.eq_ignore_ascii_case("localhost");
        }
        None => return false,
    };
    ip == listen_ip || (any_loopback && ip.is_loopback())
}

/// The name of an unnamed rule: its `to` host, `-`, and its 1-based position in the file
/// (`localhost-1`), so two rules to one host are still two targets. Characters a name may not
/// hold become `_`.
pub fn default_name(to: &str, position: usize) -> String {
    let host = Url::parse(&to.replace("{source}", "source").replace("{type}", "type"))
        .ok()
        .and_then(|url| url.host_str().map(str::to_string))
        .unwrap_or_else(|| "target".to_string());
    let suffix = format!("-{position}");
    let mut name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    name.truncate(64 - suffix.len());
    name + &suffix
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own() -> Own<'static> {
        Own {
            listen: "127.0.0.1:8080".parse().unwrap(),
            public_url: Some("https://hooks.example.com"),
        }
    }

    #[test]
    fn each_scheme_gives_its_kind() {
        assert_eq!(check("http://localhost:3000/hooks", &own()), Ok(Kind::Http));
        assert_eq!(check("https://app.example.com/h", &own()), Ok(Kind::Http));
        assert_eq!(
            check("nats://127.0.0.1:4222/webhooks.{source}.{type}", &own()),
            Ok(Kind::Nats)
        );
        assert_eq!(
            check(
                "amqp://guest:guest@127.0.0.1:5672/%2f?exchange=hooks&routing_key={source}",
                &own()
            ),
            Ok(Kind::Amqp)
        );
        assert_eq!(
            check("redis://127.0.0.1:6379/0?stream=hooks&maxlen=1000", &own()),
            Ok(Kind::Redis)
        );
    }

    #[test]
    fn unknown_schemes_and_incomplete_broker_urls_are_refused() {
        assert_eq!(
            check("ftp://example.com/x", &own()),
            Err(TargetError::Scheme("ftp".into()))
        );
        assert_eq!(
            check("file:///etc/passwd", &own()),
            Err(TargetError::Scheme("file".into()))
        );
        assert!(matches!(
            check("localhost:3000", &own()),
            Err(TargetError::Scheme(_))
        ));
        assert!(matches!(
            check("not a url", &own()),
            Err(TargetError::NotAUrl(_))
        ));
        assert_eq!(
            check("nats://127.0.0.1:4222", &own()),
            Err(TargetError::NoSubject)
        );
        assert_eq!(
            check("nats://127.0.0.1:4222/", &own()),
            Err(TargetError::NoSubject)
        );
        assert_eq!(
            check("redis://127.0.0.1:6379/0", &own()),
            Err(TargetError::NoStream)
        );
        assert_eq!(
            check("redis://127.0.0.1:6379/0?stream=", &own()),
            Err(TargetError::NoStream)
        );
    }

    #[test]
    fn a_broker_url_with_a_parameter_it_does_not_know_or_a_bad_maxlen_is_refused() {
        let error = check("redis://127.0.0.1:6379/0?stream=s&maxln=5", &own()).unwrap_err();
        assert!(error.to_string().contains("`maxln`"), "{error}");
        let error = check("redis://127.0.0.1:6379/0?stream=s&maxlen=x", &own()).unwrap_err();
        assert!(error.to_string().contains("maxlen"), "{error}");
        let error = check("amqp://h:5672/%2f?routing_key=k&exchange_type=x", &own()).unwrap_err();
        assert!(error.to_string().contains("`exchange_type`"), "{error}");
        assert!(check("nats://h:4222/a.{source}?x=1", &own()).is_err());
    }

    #[test]
    fn a_target_on_our_own_webhook_path_is_a_loop() {
        for to in [
            "http://127.0.0.1:8080/webhook/stripe",
            "http://localhost:8080/webhook/x",
            "http://127.0.0.2:8080/webhook/x",
            "https://hooks.example.com/webhook/stripe",
            "https://hooks.example.com:443/webhook/stripe?a=1",
        ] {
            assert_eq!(check(to, &own()), Err(TargetError::Loop), "{to}");
        }
        for to in [
            "http://127.0.0.1:8081/webhook/stripe",
            "http://127.0.0.1:8080/api/events",
            "http://hooks.example.com/webhook/stripe",
            "https://other.example.com/webhook/stripe",
        ] {
            assert_eq!(check(to, &own()), Ok(Kind::Http), "{to}");
        }
    }

    #[test]
    fn listening_on_every_interface_makes_loopback_a_loop_too() {
        let everywhere = Own {
            listen: "0.0.0.0:9000".parse().unwrap(),
            public_url: None,
        };
        assert_eq!(
            check("http://127.0.0.1:9000/webhook/a", &everywhere),
            Err(TargetError::Loop)
        );
        assert_eq!(
            check("http://[::1]:9000/webhook/a", &everywhere),
            Err(TargetError::Loop)
        );
        assert_eq!(
            check("http://10.1.2.3:9000/webhook/a", &everywhere),
            Ok(Kind::Http)
        );
    }

    #[test]
    fn default_names_are_the_host_and_the_position() {
        assert_eq!(
            default_name("http://localhost:3000/hooks", 1),
            "localhost-1"
        );
        assert_eq!(
            default_name("nats://127.0.0.1:4222/x.{source}", 2),
            "127.0.0.1-2"
        );
        assert_eq!(default_name("http://[::1]:3000/h", 3), "___1_-3");
        let long = format!("http://{}.example.com/", "a".repeat(80));
        let name = default_name(&long, 12);
        assert_eq!(name.len(), 64);
        assert!(name.ends_with("-12"));
        assert!(crate::model::is_valid_source_name(&name));
    }
}
