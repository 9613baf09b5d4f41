//! One outbound JSON POST, made safe to run unattended: a timeout per attempt, a bounded
//! answer, at most `MAX_ATTEMPTS` attempts with retries only on 429, 5xx and connection
//! failures, and waits that honour `Retry-After` (up to `MAX_RETRY_AFTER`).
//!
//! Timeouts are not retried: the service is slow, and retrying would triple the wait of every
//! queued event. The key goes in a header marked sensitive and is never formatted: errors here
//! are built from status codes, the URL and the transport's own error chain, none of which
//! contains request headers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde_json::Value;

use super::settings::ApiKey;

/// Attempts per call, the first included.
pub const MAX_ATTEMPTS: u32 = 3;
/// Largest answer read; more is refused rather than buffered.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;
/// Longest `Retry-After` honoured; a longer one gives up (the queue must keep moving).
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);
/// First backoff without `Retry-After`; doubles per attempt.
const BASE_BACKOFF: Duration = Duration::from_millis(500);
/// Characters of an error answer kept in the message, for the operator.
const EXCERPT_CHARS: usize = 200;

/// Why a call produced no usable answer. The text is stored on the event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("no answer from {url} within {secs} s")]
    Timeout { url: String, secs: u64 },
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("{url} answered HTTP {status}{excerpt}")]
    Status {
        url: String,
        status: u16,
        excerpt: String,
    },
    #[error("{url} asked to wait {secs} s before retrying; giving up")]
    WaitTooLong { url: String, secs: u64 },
    #[error("the answer from {url} is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge { url: String },
    #[error("the answer from {url} is not JSON")]
    NotJson { url: String },
    #[error("the API key is not a valid HTTP header value")]
    InvalidKey,
    #[error("daily budget of {limit} calls used")]
    Budget { limit: u64 },
}

/// One attempt's outcome.
enum Attempt {
    Done(Value),
    /// Worth another try, after `Retry-After` when the service sent one.
    Retry(CallError, Option<String>),
    Fail(CallError),
}

/// A configured endpoint.
#[derive(Debug)]
pub struct Outbound {
    pub client: reqwest::Client,
    pub url: String,
    pub key: Option<ApiKey>,
    pub timeout: Duration,
}

impl Outbound {
    /// POSTs `body` as JSON; `spend` is asked before every attempt (the daily budget).
    pub async fn post(
        &self,
        body: &Value,
        mut spend: impl FnMut() -> Result<(), CallError>,
    ) -> Result<Value, CallError> {
        let mut attempt = 1;
        loop {
            spend()?;
            let (error, retry_after) = match self.attempt(body).await {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry(error, retry_after) => (error, retry_after),
            };
            if attempt >= MAX_ATTEMPTS {
                return Err(error);
            }
            let delay = backoff(retry_after.as_deref(), attempt, Utc::now());
            if delay > MAX_RETRY_AFTER {
                let secs = delay.as_secs();
                return Err(CallError::WaitTooLong {
                    url: self.url.clone(),
                    secs,
                });
            }
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "Enrichment call will be retried.");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn attempt(&self, body: &Value) -> Attempt {
        let mut request = self.client.post(&self.url).json(body);
        if let Some(key) = &self.key {
            let Ok(mut value) = HeaderValue::from_str(&format!("Bearer {}", key.expose())) else {
                return Attempt::Fail(CallError::InvalidKey);
            };
            value.set_sensitive(true);
            request = request.header(AUTHORIZATION, value);
        }
        let exchange = async {
            let response = request.send().await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let bytes = read_bounded(response).await?;
            Ok::<_, reqwest::Error>((status, retry_after, bytes))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Err(_) => Attempt::Fail(CallError::Timeout {
                url: self.url.clone(),
                secs: self.timeout.as_secs(),
            }),
            Ok(Err(error)) => Attempt::Retry(self.unreachable(&error), None),
            Ok(Ok((_, _, None))) => Attempt::Fail(CallError::TooLarge {
                url: self.url.clone(),
            }),
            Ok(Ok((status, retry_after, Some(bytes)))) => self.judge(status, retry_after, &bytes),
        }
    }

    fn judge(&self, status: StatusCode, retry_after: Option<String>, bytes: &[u8]) -> Attempt {
        if status.is_success() {
            return match serde_json::from_slice(bytes) {
                Ok(answer) => Attempt::Done(answer),
                Err(_) => Attempt::Fail(CallError::NotJson {
                    url: self.url.clone(),
                }),
            };
        }
        let text: String = String::from_utf8_lossy(bytes)
            .chars()
            .take(EXCERPT_CHARS)
            .collect();
        let error = CallError::Status {
            url: self.url.clone(),
            status: status.as_u16(),
            excerpt: match text.trim() {
                "" => String::new(),
                t => format!(": {t}"),
            },
        };
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Attempt::Retry(error, retry_after)
        } else {
            Attempt::Fail(error)
        }
    }

    /// The transport error and its causes, without the URL repeated.
    fn unreachable(&self, error: &reqwest::Error) -> CallError {
        let mut reason = String::new();
        let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
        while let Some(c) = cause {
            if !reason.is_empty() {
                reason += ": ";
            }
            reason += &c.to_string();
            cause = c.source();
        }
        if reason.is_empty() {
            reason = "the connection failed".into();
        }
        CallError::Unreachable {
            url: self.url.clone(),
            reason,
        }
    }
}

/// The body, or `None` when it is larger than `MAX_ANSWER_BYTES`.
async fn read_bounded(mut response: reqwest::Response) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Ok(None);
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Some(bytes))
}

/// How long to wait after failed attempt number `attempt` (1-based): what `Retry-After` asks
/// for when the service sent one, else exponential from `BASE_BACKOFF`.
pub fn backoff(retry_after: Option<&str>, attempt: u32, now: DateTime<Utc>) -> Duration {
    retry_after
        .and_then(|value| crate::retry_after::wait(value, now))
        .unwrap_or_else(|| BASE_BACKOFF * 2u32.saturating_pow(attempt.saturating_sub(1).min(16)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn retry_after_seconds_and_dates_are_honoured() {
        assert_eq!(backoff(Some("7"), 1, now()), Duration::from_secs(7));
        assert_eq!(
            backoff(Some("Sat, 28 Nov 2026 12:00:03 GMT"), 1, now()),
            Duration::from_secs(3)
        );
        assert_eq!(
            backoff(Some("Sat, 28 Nov 2026 11:00:00 GMT"), 1, now()),
            Duration::ZERO,
            "a date in the past means now"
        );
    }

    #[test]
    fn without_retry_after_the_backoff_doubles() {
        assert_eq!(backoff(None, 1, now()), Duration::from_millis(500));
        assert_eq!(backoff(None, 2, now()), Duration::from_millis(1000));
        assert_eq!(backoff(Some("soon"), 3, now()), Duration::from_millis(2000));
        assert!(backoff(None, u32::MAX, now()) > Duration::ZERO);
    }
}
