//! Reading credentials from requests, and the middlewares that guard the API (`require_token`)
//! and every cookie-authenticated state change (`same_origin`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::origin::{self, Origin, Sent};
use super::{Access, Auth, Credentials, SESSION_COOKIE, SessionError};
use crate::http::ApiError;

impl Auth {
    /// What a request with these headers, from `client`, may do now.
    pub async fn check(&self, headers: &HeaderMap, client: IpAddr) -> Access {
        let credentials = Credentials {
            bearer: bearer(headers),
            session: cookie(headers, SESSION_COOKIE),
        };
        self.access(credentials, client, chrono::Utc::now()).await
    }
}

/// The client's address, from the connection. A request without one (a router driven
/// without a socket) counts as the unspecified address.
pub fn client_address(request: &Request) -> IpAddr {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |info| info.0.ip())
}

/// The credentials of an `Authorization: Bearer …` header. The scheme is matched in any case
/// (`bearer`, `BEARER`), as RFC 9110 says authentication schemes are case-insensitive.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, credentials) = value.trim_start().split_once(' ')?;
    let credentials = credentials.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !credentials.is_empty()).then_some(credentials)
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

/// Middleware for the routes that need the token: `401` JSON without it, `429` with
/// `Retry-After` for an address that guessed too often.
pub async fn require_token(State(auth): State<Auth>, request: Request, next: Next) -> Response {
    let client = client_address(&request);
    match auth.check(request.headers(), client).await {
        Access::Allowed => next.run(request).await,
        Access::Denied => ApiError::unauthorized().into_response(),
        Access::Throttled(wait) => too_many_attempts(wait),
    }
}

/// hookwatch's own origin when `public_url` says it; otherwise each request's `Host` does.
#[derive(Debug, Clone, Default)]
pub struct OwnOrigin(pub Option<Origin>);

/// Middleware for every route a browser may send state changes to (the API, login, logout;
/// not the webhooks): a `POST` (any method but `GET` and `HEAD`) that comes from a page of
/// another origin is refused with `403` JSON before it reaches a handler (`auth::origin`).
pub async fn same_origin(State(own): State<OwnOrigin>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let headers = request.headers();
    // A header that is present but not text counts as sent (and matches nothing).
    let text = |name| {
        headers
            .get(name)
            .map(|v: &HeaderValue| v.to_str().unwrap_or_default())
    };
    let own = own.0.or_else(|| {
        let host = text(header::HOST).or_else(|| request.uri().authority().map(|a| a.as_str()));
        host.and_then(Origin::of_host)
    });
    let sent = Sent {
        bearer: bearer(headers).is_some(),
        session: cookie(headers, SESSION_COOKIE).is_some(),
        origin: text(header::ORIGIN),
        referer: text(header::REFERER),
    };
    match origin::judge(own.as_ref(), sent) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            let from = sent.origin.or(sent.referer).and_then(Origin::of_url);
            tracing::info!(
                client = %client_address(&request),
                method = %request.method(),
                path = request.uri().path(),
                from = from.as_ref().map_or("(no usable origin)", Origin::as_str),
                "Refused a state change from another origin."
            );
            ApiError::new(StatusCode::FORBIDDEN, "cross_origin", refusal.to_string())
                .into_response()
        }
    }
}

/// `429` JSON with `Retry-After` in whole seconds (at least one).
pub fn too_many_attempts(wait: Duration) -> Response {
    let message = "too many wrong tokens from this address; try again later";
    let error = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_attempts", message);
    with_retry_after(error.into_response(), wait)
}

/// Adds `Retry-After` in whole seconds, rounded up, at least one.
pub fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}

impl From<SessionError> for ApiError {
    fn from(error: SessionError) -> ApiError {
        match error {
            SessionError::Store(error) => error.into(),
            SessionError::NoRandomness(error) => {
                tracing::error!(error = %error, "Cannot make a session.");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "cannot start a session right now",
                )
            }
        }
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
