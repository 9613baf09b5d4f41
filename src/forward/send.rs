//! One attempt at a target, and what came of it.
//!
//! This is the seam between the queue and the kinds of target: the worker hands an HTTP
//! [`Attempt`] to [`send`], or a broker delivery to [`publish`], and gets a [`Sent`] — an
//! [`Outcome`] for `schedule::judge`, the status, the error, and the first KiB of the answer
//! (a broker's acknowledgement in a few words). Redirects are never followed (a 3xx is a
//! failed attempt), and a large answer is never read whole.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER};
use reqwest::{Method, Response};

use super::broker::{self, Publisher};
use super::outbound;
use super::schedule::Outcome;
use super::settings::TargetSettings;
use crate::model::{Event, Header};
use crate::verify::{self, Verifier};

/// The most of an answer's body kept with the attempt.
pub const EXCERPT_BYTES: usize = 1024;

/// What one attempt sends.
pub struct Attempt<'a> {
    pub event: &'a Event,
    /// The target URL, before the original query string is added.
    pub to: &'a str,
    /// 1 for the first attempt.
    pub n: u32,
    pub timeout: Duration,
    pub add_headers: &'a [(String, String)],
    /// Sign again with this source's first secret (`resign = true`).
    pub resign: Option<&'a Verifier>,
    pub now: DateTime<Utc>,
}

/// What came of an attempt.
#[derive(Debug, Clone)]
pub struct Sent {
    pub outcome: Outcome,
    pub status: Option<u16>,
    /// Why there was no answer; `None` when there was one.
    pub error: Option<String>,
    /// The first [`EXCERPT_BYTES`] of the answer's body, as text.
    pub excerpt: String,
}

impl Sent {
    fn failed(error: impl Into<String>) -> Sent {
        Sent {
            outcome: Outcome::NoAnswer,
            status: None,
            error: Some(error.into()),
            excerpt: String::new(),
        }
    }
}

/// The client every HTTP attempt uses: redirects off, timeouts per attempt.
pub fn client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .build()
}

/// Sends one attempt and reads at most [`EXCERPT_BYTES`] of the answer, all within the
/// attempt's timeout.
pub async fn send(client: &reqwest::Client, attempt: Attempt<'_>) -> Sent {
    let event = &attempt.event.new;
    let Ok(method) = Method::from_bytes(event.method.as_bytes()) else {
        return Sent::failed(format!("`{}` is not an HTTP method", event.method));
    };
    let url = outbound::url_with_query(attempt.to, &event.query);
    let headers = headers(&attempt, &url);
    let request = client
        .request(method, &url)
        .headers(headers)
        .body(event.body.clone())
        .send();
    let answer = async {
        let response = request.await?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let excerpt = excerpt(response).await;
        Ok::<_, reqwest::Error>((status, retry_after, excerpt))
    };
    match tokio::time::timeout(attempt.timeout, answer).await {
        Err(_) => Sent::failed(format!(
            "no answer within {} s (timeout_secs)",
            attempt.timeout.as_secs()
        )),
        Ok(Err(error)) => Sent::failed(cause(&error)),
        Ok(Ok((status, retry_after, excerpt))) => Sent {
            outcome: Outcome::Answered {
                status,
                retry_after,
            },
            status: Some(status),
            error: None,
            excerpt,
        },
    }
}

/// Publishes one delivery to a broker target; delivered only once the broker acknowledged it.
/// `replay` is the delivery's replay number (0 for the rule's own delivery).
pub async fn publish(
    publisher: &Publisher,
    target: &TargetSettings,
    event: &Event,
    replay: i64,
) -> Sent {
    let to = broker::Target {
        name: &target.name,
        to: &target.to,
        create_stream: target.create_stream,
    };
    let replay = u32::try_from(replay).ok().filter(|n| *n > 0);
    match publisher.publish(&to, event, replay).await {
        Ok(answer) => Sent {
            outcome: Outcome::Acknowledged,
            status: None,
            error: None,
            excerpt: answer,
        },
        Err(reason) => Sent::failed(reason),
    }
}

/// The original headers that travel on (re-signed when asked), hookwatch's own, then the
/// rule's `add_headers`.
fn headers(attempt: &Attempt, url: &str) -> HeaderMap {
    let event = &attempt.event.new;
    let mut pairs: Vec<Header> = outbound::forwarded_headers(&event.headers)
        .into_iter()
        .cloned()
        .collect();
    if let Some(signed) = attempt.resign.and_then(|v| resign(v, attempt, url)) {
        pairs.retain(|(name, _)| !signed.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)));
        pairs.extend(signed);
    }
    let mut map = HeaderMap::new();
    for (name, value) in &pairs {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    let own = outbound::hookwatch_headers(attempt.event.id, &event.source, attempt.n);
    let added = attempt
        .add_headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.clone()));
    for (name, value) in own.into_iter().chain(added) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            map.insert(name, value);
        }
    }
    map
}

/// The signature headers of the source's scheme, computed afresh at `now`.
fn resign(verifier: &Verifier, attempt: &Attempt, url: &str) -> Option<Vec<Header>> {
    let secret = verifier.secrets.first()?;
    let event = &attempt.event.new;
    let request = verify::Request {
        headers: &event.headers,
        body: &event.body,
        url: Some(url),
        content_type: event.content_type.as_deref(),
        query: &event.query,
    };
    match verify::sign(&verifier.scheme, secret, &request, attempt.now.timestamp()) {
        Ok(signed) => Some(signed.headers),
        Err(error) => {
            tracing::warn!(event = attempt.event.id, error = %error, "Cannot sign again; sending the original signature.");
            None
        }
    }
}

/// The first [`EXCERPT_BYTES`] of the body, read chunk by chunk and then dropped, so a huge
/// answer costs no more than that.
async fn excerpt(mut response: Response) -> String {
    let mut kept: Vec<u8> = Vec::new();
    while kept.len() < EXCERPT_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            _ => break,
        }
    }
    kept.truncate(EXCERPT_BYTES);
    let mut text = String::from_utf8_lossy(&kept).into_owned();
    if text.ends_with('\u{FFFD}') && kept.len() == EXCERPT_BYTES {
        text.pop();
    }
    text
}

/// A reqwest error in a few words, with its underlying cause (refused, reset, TLS).
fn cause(error: &reqwest::Error) -> String {
    let mut text = if error.is_connect() {
        "cannot connect".to_string()
    } else if error.is_timeout() {
        "timed out".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    text
}
