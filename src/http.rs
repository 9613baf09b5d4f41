//! The HTTP edge shared by every feature: one error type mapped to a response in one place.
//!
//! Every error reply is JSON `{"error": "…", "code": "snake_case"}` with a fitting status;
//! internals are logged, never returned. Query strings are read through one extractor,
//! `Params`, so no route can silently ignore a parameter it does not understand.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
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

/// The query parameters a route understands. Every read route takes its query string as
/// `Params<T>`; a route without parameters takes `Params<NoParams>`. `T` also denies unknown
/// fields, so a name listed here but missing from `T` is a `400` too, never ignored
/// (`takes_every_name_it_lists` checks the two agree).
pub trait QueryParams: DeserializeOwned {
    /// Every parameter name the route takes, as written in a query string.
    const NAMES: &'static [&'static str];
    /// Names among `NAMES` that may be given more than once (`field=…&field=…`). Their values
    /// are handed to `repeated`, in order, instead of to serde.
    const REPEATABLE: &'static [&'static str] = &[];

    /// Takes the values of a repeatable parameter.
    fn repeated(&mut self, _name: &str, _values: Vec<String>) {}
}

/// For routes that take no query parameters: any parameter is refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

impl QueryParams for NoParams {
    const NAMES: &'static [&'static str] = &[];
}

/// The most characters of an unknown parameter's name an error message repeats.
const MAX_SHOWN_NAME: usize = 64;

/// A route's query string, parsed into `T` after every name in it is checked against
/// `T::NAMES`: an unknown or repeated parameter is a `400` naming it.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<T: QueryParams, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        check_names(query, T::NAMES, T::REPEATABLE)?;
        parse::<T>(query)
    }
}

/// Parses a checked query string: the repeatable names by hand, the rest by serde.
fn parse<T: QueryParams>(query: &str) -> Result<Params<T>, ApiError> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let (repeated, single): (Vec<_>, Vec<_>) = pairs
        .into_iter()
        .partition(|(name, _)| T::REPEATABLE.contains(&name.as_str()));
    let single = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(single)
        .finish();
    let uri: axum::http::Uri = format!("/?{single}")
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_parameter", "the query string is malformed"))?;
    let Query(mut params) = Query::<T>::try_from_uri(&uri)
        .map_err(|e| ApiError::bad_request("invalid_parameter", e.body_text()))?;
    for name in T::REPEATABLE {
        let values: Vec<String> = repeated
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .collect();
        params.repeated(name, values);
    }
    Ok(Params(params))
}

/// Whether `T` parses a query string that sets every name it lists (all empty), for each
/// route's unit test.
#[cfg(test)]
pub fn takes_every_name_it_lists<T: QueryParams>() -> bool {
    let query: Vec<String> = T::NAMES.iter().map(|n| format!("{n}=")).collect();
    let query = query.join("&");
    check_names(&query, T::NAMES, T::REPEATABLE).is_ok() && parse::<T>(&query).is_ok()
}

/// Refuses the first name in `query` that is not in `accepted`, or that appears twice without
/// being `repeatable`.
fn check_names(query: &str, accepted: &[&str], repeatable: &[&str]) -> Result<(), ApiError> {
    let mut seen = BTreeSet::new();
    for (name, _) in form_urlencoded::parse(query.as_bytes()) {
        if accepted.contains(&name.as_ref()) {
            if !seen.insert(name.clone()) && !repeatable.contains(&name.as_ref()) {
                return Err(ApiError::bad_request(
                    "invalid_parameter",
                    format!("query parameter `{name}` is given more than once"),
                ));
            }
            continue;
        }
        let takes = match accepted {
            [] => "this route takes no query parameters".to_string(),
            names => format!("this route takes {}", names.join(", ")),
        };
        return Err(ApiError::bad_request(
            "unknown_parameter",
            format!("unknown query parameter `{}`: {takes}", clipped(&name)),
        ));
    }
    Ok(())
}

/// An unknown name as an error message repeats it: at most `MAX_SHOWN_NAME` characters.
fn clipped(name: &str) -> String {
    match name.char_indices().nth(MAX_SHOWN_NAME) {
        Some((end, _)) => format!("{}…", &name[..end]),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(query: &str, accepted: &[&str]) -> (&'static str, String) {
        let error = check_names(query, accepted, &[]).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        (error.code, error.message)
    }

    #[test]
    fn a_route_without_parameters_takes_none() {
        assert!(takes_every_name_it_lists::<NoParams>());
    }

    #[test]
    fn known_names_pass_once_each_and_empty_values_are_fine() {
        assert!(check_names("", &[], &[]).is_ok());
        let accepted = ["source", "type", "limit"];
        assert!(check_names("source=a&type=&limit=5", &accepted, &[]).is_ok());
        assert!(check_names("type=a&type=b", &accepted, &["type"]).is_ok());
    }

    #[test]
    fn an_unknown_name_is_refused_with_what_the_route_takes() {
        let (code, message) = refusal("source=a&sourc=github", &["source", "type"]);
        assert_eq!(code, "unknown_parameter");
        assert!(message.contains("`sourc`"), "{message}");
        assert!(message.contains("source, type"), "{message}");
        let (_, message) = refusal("bogus=1", &[]);
        assert!(message.contains("`bogus`") && message.contains("no query parameters"));
    }

    #[test]
    fn a_name_is_decoded_before_it_is_checked() {
        let (_, message) = refusal("sour%63e=a&s%6Fu=1", &["source"]);
        assert!(message.contains("`sou`"), "{message}");
    }

    #[test]
    fn a_huge_unknown_name_is_shown_clipped() {
        let query = format!("{}=1", "é".repeat(10_000));
        let (_, message) = refusal(&query, &["source"]);
        assert!(message.len() < 400, "{} bytes", message.len());
        assert!(message.contains("é…`"), "{message}");
    }

    #[test]
    fn a_repeated_parameter_is_refused_rather_than_one_value_winning() {
        let (_, message) = refusal("source=a&source=b", &["source"]);
        assert!(message.contains("`source`") && message.contains("more than once"));
    }
}
