//! `POST|PUT|PATCH /webhook/{source}`: read the request within the size limit and answer.
//!
//! The body is read with a hard limit while it streams in (nothing is buffered past
//! `max_body_bytes`); a declared `Content-Length` over the limit is refused before reading.
//! A body that stalls is `408`, one that cannot be read (bad chunked framing) `400`.
//! A source's configured response (`[sources.NAME.response]`) replaces the default answer of a
//! stored or duplicate delivery; like it, it is sent only after the commit.

use std::net::SocketAddr;
use std::time::Instant;

use axum::Json;
use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use http_body_util::LengthLimitError;
use serde_json::json;

use super::{Delivery, Ingest, Outcome};
use crate::config::ResponseSettings;
use crate::http::{ApiError, BodyStalled};
use crate::metrics::{INVALID_SOURCE, SourceMetrics};
use crate::model::{Header, is_valid_source_name};
use crate::openapi::schemas as doc;

/// What the ingest handler needs from the app.
#[derive(Clone)]
pub struct IngestState {
    pub ingest: Ingest,
    pub max_body_bytes: u64,
}

/// The ingest handler: the answer, counted in the source's metrics and timed.
#[utoipa::path(method(post, put, patch), path = "/webhook/{source}", tag = "ingest",
    summary = "Receive a webhook",
    security(()),
    params(("source" = String, Path, pattern = "^[A-Za-z0-9._-]{1,64}$",
        description = "The source name: 1–64 characters of A-Z a-z 0-9 . _ -")),
    request_body(description = "Any content type, any bytes; kept exactly",
        content((serde_json::Value = "application/json"), (doc::Bytes = "application/octet-stream"))),
    responses(
        (status = 200, description = "Stored, or a redelivery of a stored event (after the \
            commit). A source's configured response replaces this answer; Slack's \
            url_verification is answered with its challenge as text.",
            content((doc::Received = "application/json"), (String = "text/plain"))),
        (status = 400, description = "An invalid source name or an unreadable body",
            body = doc::ErrorBody),
        (status = 401, description = "The signature is invalid or missing and the source \
            rejects such deliveries; the attempt is recorded", body = doc::ErrorBody),
        (status = 403, description = "The client address is outside the source's allow_ips",
            body = doc::ErrorBody),
        (status = 408, description = "The body stopped arriving", body = doc::ErrorBody),
        (status = 413, description = "Larger than max_body_bytes; nothing stored",
            body = doc::ErrorBody),
        (status = 503, description = "The store cannot take it; retry after Retry-After",
            body = doc::ErrorBody),
    ))]
pub async fn receive(
    State(state): State<IngestState>,
    Path(source): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    let started = Instant::now();
    let metrics = state.ingest.metrics();
    let counters = metrics.source(&source);
    let configured = state.ingest.response(&source);
    let response = match accept(&state, source, peer, request).await {
        Ok(outcome) => {
            count(&counters, &outcome);
            match configured {
                Some(configured) => configured_answer(configured, outcome).await,
                None => answer(outcome),
            }
        }
        Err(error) => {
            count_error(&counters, &error);
            error.into_response()
        }
    };
    metrics.ingest_took(started.elapsed());
    response
}

/// Reads the request within the limits and hands the delivery to ingest.
async fn accept(
    state: &IngestState,
    source: String,
    peer: SocketAddr,
    request: Request,
) -> Result<Outcome, ApiError> {
    let received_at = Utc::now();
    if !is_valid_source_name(&source) {
        return Err(invalid_source());
    }
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    let limit = state.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(limit));
    }
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let body = to_bytes(body, limit_usize)
        .await
        .map_err(|error| unreadable(&error, limit))?;
    let delivery = Delivery {
        source,
        received_at,
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        remote_addr: peer.ip().to_string(),
        headers: header_pairs(&headers),
        body: body.to_vec(),
    };
    Ok(state.ingest.accept(delivery).await?)
}

fn count(counters: &SourceMetrics, outcome: &Outcome) {
    match outcome {
        Outcome::Received { .. } | Outcome::SlackChallenge(_) => counters.received.inc(),
        Outcome::Duplicate { .. } => counters.duplicate.inc(),
        Outcome::Rejected { .. } | Outcome::Forbidden { .. } => counters.rejected.inc(),
    };
}

/// A refused request by its status: too large, store unavailable, or a bad request (which
/// includes a body that stalled).
fn count_error(counters: &SourceMetrics, error: &ApiError) {
    match error.status {
        StatusCode::PAYLOAD_TOO_LARGE => counters.too_large.inc(),
        StatusCode::SERVICE_UNAVAILABLE => counters.unavailable.inc(),
        _ => counters.bad_request.inc(),
    };
}

/// The source's configured answer for a stored or duplicate delivery (after its delay); the
/// other outcomes (a challenge, a refusal) keep their own answers.
async fn configured_answer(configured: &ResponseSettings, outcome: Outcome) -> Response {
    let (id, delivery_id) = match &outcome {
        Outcome::Received {
            id, delivery_id, ..
        }
        | Outcome::Duplicate { id, delivery_id } => (*id, delivery_id.clone()),
        _ => return answer(outcome),
    };
    if !configured.delay.is_zero() {
        tokio::time::sleep(configured.delay).await;
    }
    let status = StatusCode::from_u16(configured.status).unwrap_or(StatusCode::OK);
    let mut response = match &configured.body {
        Some(body) => {
            let text = body.render(id, delivery_id.as_deref());
            let mut response = (status, text).into_response();
            let content_type = configured
                .content_type
                .as_deref()
                .unwrap_or("text/plain; charset=utf-8");
            set_header(&mut response, "content-type", content_type);
            response
        }
        None => {
            let mut response = answer(outcome);
            *response.status_mut() = status;
            if let Some(content_type) = &configured.content_type {
                set_header(&mut response, "content-type", content_type);
            }
            response
        }
    };
    for (name, value) in &configured.headers {
        set_header(&mut response, name, value);
    }
    response
}

/// Sets a header checked at start-up (so the conversions cannot fail; one that did is skipped).
fn set_header(response: &mut Response, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        response.headers_mut().insert(name, value);
    }
}

/// Any path under `/webhook/` that is not a single valid source name.
pub async fn bad_source(State(state): State<IngestState>) -> ApiError {
    let started = Instant::now();
    let metrics = state.ingest.metrics();
    metrics.source(INVALID_SOURCE).bad_request.inc();
    metrics.ingest_took(started.elapsed());
    invalid_source()
}

fn answer(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Received {
            id,
            source,
            received_at,
            ..
        } => Json(json!({
            "status": "received", "id": id, "source": source,
            "received_at": crate::query::view::time(received_at),
        }))
        .into_response(),
        Outcome::Duplicate { id, .. } => {
            Json(json!({ "status": "duplicate", "id": id })).into_response()
        }
        Outcome::SlackChallenge(challenge) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        Outcome::Rejected { reason } => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_signature",
            format!("signature check failed: {reason}"),
        )
        .into_response(),
        Outcome::Forbidden { reason } => {
            ApiError::new(StatusCode::FORBIDDEN, "address_not_allowed", reason).into_response()
        }
    }
}

fn invalid_source() -> ApiError {
    ApiError::bad_request(
        "invalid_source",
        "the source name must be 1–64 characters of A-Z a-z 0-9 . _ -",
    )
}

/// Why the body could not be read: over the limit, stalled, or broken off.
fn unreadable(error: &axum::Error, limit: u64) -> ApiError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error.is::<LengthLimitError>() {
            return too_large(limit);
        }
        if let Some(stalled) = error.downcast_ref::<BodyStalled>() {
            return ApiError::body_timeout(stalled);
        }
        cause = error.source();
    }
    ApiError::bad_request(
        "unreadable_body",
        format!("the body could not be read ({error}); nothing was stored"),
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        format!("the body is larger than max_body_bytes ({limit} bytes); nothing was stored"),
    )
}

/// Every header in order, names lower-case (hyper already lower-cases them), values exact:
/// UTF-8 when they are, otherwise Latin-1, which keeps every byte.
fn header_pairs(headers: &HeaderMap) -> Vec<Header> {
    headers
        .iter()
        .map(|(name, value)| {
            let bytes = value.as_bytes();
            let text = match std::str::from_utf8(bytes) {
                Ok(text) => text.to_string(),
                Err(_) => bytes.iter().map(|&b| b as char).collect(),
            };
            (name.as_str().to_string(), text)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn each_refusal_counts_under_its_outcome() {
        let metrics = Metrics::default();
        let counters = metrics.source("shop");
        let store_down = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", "");
        count_error(&counters, &store_down);
        count_error(&counters, &too_large(10));
        count_error(&counters, &invalid_source());
        count_error(
            &counters,
            &ApiError::new(StatusCode::REQUEST_TIMEOUT, "t", ""),
        );
        let counts = [
            &counters.unavailable,
            &counters.too_large,
            &counters.bad_request,
        ];
        assert_eq!(counts.map(|c| c.get()), [1, 1, 2]);
        count(&counters, &Outcome::SlackChallenge("c".into()));
        count(
            &counters,
            &Outcome::Forbidden {
                reason: "ip".into(),
            },
        );
        let answered = [&counters.received, &counters.rejected, &counters.duplicate];
        assert_eq!(answered.map(|c| c.get()), [1, 1, 0]);
    }
}
