//! `tail --forward-to`: re-sends an event to a local application as the sender sent it, so
//! the application's own signature check passes.
//!
//! The headers come from the event's detail and the exact bytes from its `/raw` body (the
//! summary on the stream carries neither). Sent: the original method, every header except
//! the hop-by-hop ones, `Host` and `Content-Length` (they describe the original connection,
//! not this one), plus `X-Hookwatch-Event-Id` for the application's own dedup; the original
//! query string is appended to the target URL's (the client adds only `Accept: */*`, when the
//! sender sent no `Accept`). Redirects are not followed: an application
//! that redirects answered with that status.

use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::Value;

use super::show::{Forwarded, Summary};
use crate::cli::remote::{Failure, Server, cause};
use crate::forward::outbound;
use crate::model::Header;

/// How long the application has to answer one event.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The target application and the client that reaches it.
pub struct Forwarder {
    to: Url,
    app: reqwest::Client,
}

impl Forwarder {
    pub fn new(to: Url) -> anyhow::Result<Forwarder> {
        let app = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(TIMEOUT)
            .build()?;
        Ok(Forwarder { to, app })
    }

    /// The event as stored: its detail's headers and its exact body bytes. Only an answer
    /// from the server ends this: a temporary failure is for the caller to wait out.
    pub async fn fetch(
        &self,
        server: &Server,
        client: &reqwest::Client,
        id: i64,
    ) -> Result<(HeaderMap, Vec<u8>), Failure> {
        let detail = server.get(client, &format!("api/events/{id}"), &[]);
        let detail = server.json(detail).await?;
        let raw = server.send(server.get(client, &format!("api/events/{id}/raw"), &[]));
        let raw = raw.await?;
        let url = raw.url().clone();
        let body = raw
            .bytes()
            .await
            .map_err(|error| Failure::Unreachable { url, error })?;
        Ok((headers(&detail["headers"]), body.to_vec()))
    }

    /// Sends one event to the application and says what came back.
    pub async fn send(&self, summary: &Summary, headers: HeaderMap, body: Vec<u8>) -> Forwarded {
        let Ok(method) = Method::from_bytes(summary.method.as_bytes()) else {
            return Forwarded::Failed(format!("`{}` is not an HTTP method", summary.method));
        };
        let url = target(&self.to, summary.query.as_deref().unwrap_or(""));
        let mut request = self.app.request(method, url).headers(headers).body(body);
        if let Ok(value) = HeaderValue::from_str(&summary.id.to_string()) {
            request = request.header("x-hookwatch-event-id", value);
        }
        let started = Instant::now();
        match request.send().await {
            Ok(response) => Forwarded::Answered {
                status: response.status().as_u16(),
                reason: response.status().canonical_reason(),
                took: started.elapsed(),
            },
            Err(error) => Forwarded::Failed(cause(&error)),
        }
    }
}

/// The target URL with the event's original query string after the target's own.
pub fn target(to: &Url, query: &str) -> Url {
    Url::parse(&outbound::url_with_query(to.as_str(), query)).unwrap_or_else(|_| to.clone())
}

/// The detail's `headers` object (a header sent several times is an array) as a header map,
/// less what never travels on (`forward::outbound` says which).
pub fn headers(object: &Value) -> HeaderMap {
    let pairs = header_pairs(object);
    let mut map = HeaderMap::new();
    for (name, value) in outbound::forwarded_headers(&pairs) {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(value);
        if let (Ok(name), Ok(value)) = (name, value) {
            map.append(name, value);
        }
    }
    map
}

/// The detail's `headers` object as `(name, value)` pairs, a repeated header once per value.
fn header_pairs(object: &Value) -> Vec<Header> {
    let Some(object) = object.as_object() else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for (name, value) in object {
        let values = match value {
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect::<Vec<_>>(),
        };
        pairs.extend(
            values
                .into_iter()
                .map(|v| (name.to_ascii_lowercase(), v.to_string())),
        );
    }
    pairs
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn connection_headers_host_and_length_are_dropped_and_the_rest_kept() {
        let map = headers(&json!({
            "host": "hooks.example.com", "content-length": "12", "connection": "keep-alive, x-hop",
            "x-hop": "1", "transfer-encoding": "chunked", "te": "trailers", "expect": "100-continue",
            "stripe-signature": "t=1,v1=ab", "content-type": "application/json",
            "x-many": ["a", "b"], "x-hookwatch-event-id": "forged"
        }));
        let mut names: Vec<&str> = map.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, ["content-type", "stripe-signature", "x-many"]);
        let many: Vec<&str> = map
            .get_all("x-many")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(many, ["a", "b"]);
    }

    #[test]
    fn the_original_query_follows_the_targets_own() {
        let to = Url::parse("http://127.0.0.1:3000/hook").unwrap();
        assert_eq!(target(&to, "").as_str(), "http://127.0.0.1:3000/hook");
        assert_eq!(
            target(&to, "a=1&b=%20").as_str(),
            "http://127.0.0.1:3000/hook?a=1&b=%20"
        );
        let with_own = Url::parse("http://127.0.0.1:3000/hook?env=dev").unwrap();
        assert_eq!(
            target(&with_own, "a=1").as_str(),
            "http://127.0.0.1:3000/hook?env=dev&a=1"
        );
    }
}
