//! The HTTP edge shared by every feature: one error type mapped to a response in one place.
//!
//! Every error reply is JSON `{"error": "…", "code": "snake_case"}` with a fitting status
//! (SPEC §2); internals are logged, never returned.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

/// Seconds a sender should wait before retrying when the store cannot take an event.
pub const RETRY_AFTER_SECS: u64 = 2;

/// An error answer: status, stable code and a message meant for the caller.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// A request body that stopped arriving (see [`BodyStalled`]).
    pub fn body_timeout(stalled: &BodyStalled) -> ApiError {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            stalled.to_string(),
        )
    }

    /// The JSON every error answer carries, also written by the server itself for requests
    /// that never reach a handler.
    pub fn body(&self) -> serde_json::Value {
        json!({ "error": self.message, "code": self.code })
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a token is required: send Authorization: Bearer TOKEN",
        )
    }
}

/// The error a request body yields when the sender stops sending: raised by the server's body
/// reader, turned into `408` by whichever handler was reading.
#[derive(Debug, thiserror::Error)]
#[error("the request body stopped arriving: no progress for {secs} s")]
pub struct BodyStalled {
    pub secs: u64,
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        tracing::error!(error = %error, "Store error.");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
            "the store cannot take requests right now; retry later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Json(self.body());
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
        }
        response
    }
}
