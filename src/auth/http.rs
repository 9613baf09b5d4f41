//! Reading credentials from requests, and the middleware that guards the API.

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{Auth, SESSION_COOKIE};
use crate::http::ApiError;

impl Auth {
    /// Whether the request carries the token (header) or a valid session (cookie).
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        self.allows_credentials(bearer(headers), cookie(headers, SESSION_COOKIE))
    }
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
