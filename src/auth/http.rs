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

/// The credentials of an `Authorization: Bearer …` header. The scheme is matched in any case
/// (`bearer`, `BEARER`), as RFC 9110 says authentication schemes are case-insensitive.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| credentials.trim())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_authorization(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(axum::http::header::AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn the_bearer_scheme_is_matched_in_any_case() {
        for value in ["Bearer t0k", "bearer t0k", "BEARER t0k", "bEaReR   t0k "] {
            assert_eq!(bearer(&with_authorization(value)), Some("t0k"), "{value}");
        }
        for value in ["Basic dXNlcjpwYXNz", "Bearer", "Bearert0k", "t0k"] {
            assert_eq!(bearer(&with_authorization(value)), None, "{value}");
        }
    }
}
