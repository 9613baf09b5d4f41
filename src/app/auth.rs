//! Access control: when a token is configured, every `/api/*` request must carry it, as
//! `Authorization: Bearer TOKEN` or as the dashboard's session cookie.
//!
//! The cookie holds an HMAC of the token, never the token itself, and every comparison is
//! constant-time.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::http::ApiError;

/// Name of the dashboard's session cookie.
pub const SESSION_COOKIE: &str = "hookwatch_session";

/// The configured token, if any; cheap to clone.
#[derive(Clone, Default)]
pub struct Auth {
    token: Option<std::sync::Arc<str>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("token", &self.token.as_ref().map(|_| "[hidden]"))
            .finish()
    }
}

impl Auth {
    pub fn new(token: Option<String>) -> Auth {
        Auth {
            token: token.map(Into::into),
        }
    }

    /// Whether any token is required at all.
    pub fn enabled(&self) -> bool {
        self.token.is_some()
    }

    /// Whether the request carries the token (header) or a valid session (cookie).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(token) = &self.token else {
            return true;
        };
        if let Some(bearer) = bearer(headers) {
            return bool::from(bearer.as_bytes().ct_eq(token.as_bytes()));
        }
        match cookie(headers, SESSION_COOKIE) {
            Some(session) => bool::from(session.as_bytes().ct_eq(session_value(token).as_bytes())),
            None => false,
        }
    }

    /// Whether `candidate` is the token (for the login form).
    pub fn is_token(&self, candidate: &str) -> bool {
        self.token
            .as_ref()
            .is_some_and(|t| bool::from(candidate.as_bytes().ct_eq(t.as_bytes())))
    }

    /// The cookie value proving a login; `None` when no token is configured.
    pub fn session(&self) -> Option<String> {
        self.token.as_deref().map(session_value)
    }
}

/// A value derived from the token, so the cookie does not carry the token itself.
fn session_value(token: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"hookwatch session v1");
    hex::encode(mac.finalize().into_bytes())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    value.strip_prefix("Bearer ").map(str::trim)
}

/// The value of one cookie from the `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Middleware for `/api/*`: 401 JSON without the token.
pub async fn require_token(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    if auth.allows(request.headers()) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}
