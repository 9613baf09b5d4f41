//! `scheme = "api_key"`: a shared key sent in a header (`X-Api-Key: …`) or a query parameter
//! (`?key=…`), compared with each configured key in constant time (several keys, so one can be
//! rotated out).
//!
//! A key offered twice (the header repeated, the parameter repeated, or both places when both
//! are configured) is refused rather than guessing which one counts. The key's value is a
//! credential: ingest stores it as `***` (see [`super::Verifier::mask`]).

use std::borrow::Cow;

use super::mac;
use super::{Outcome, Reason, Request};

/// Where a configured key is sent; at least one of the two is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyScheme {
    /// The header name, lower-case.
    pub header: Option<String>,
    /// The query parameter name, as sent.
    pub query: Option<String>,
}

/// Verifies a request's API key; see the module doc.
pub(super) fn verify(scheme: &ApiKeyScheme, req: &Request<'_>, keys: &[String]) -> Outcome {
    let mut offered: Vec<Cow<'_, str>> = Vec::new();
    if let Some(name) = &scheme.header {
        offered.extend(
            req.headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| Cow::Borrowed(v.trim())),
        );
    }
    if let Some(name) = &scheme.query {
        offered.extend(query_values(req.query, name).map(Cow::Owned));
    }
    let key = match offered.as_slice() {
        [] => return Outcome::Missing,
        [key] => key,
        _ => {
            return Outcome::Invalid(Reason::Ambiguous(
                "the API key was sent more than once; send it once",
            ));
        }
    };
    let matched = keys.iter().fold(false, |found, want| {
        found | mac::equal(want.as_bytes(), key.as_bytes())
    });
    if matched {
        Outcome::Valid
    } else {
        Outcome::Invalid(Reason::WrongCredentials)
    }
}

/// The decoded values of every `name` parameter of a query string.
fn query_values<'q>(query: &'q str, name: &'q str) -> impl Iterator<Item = String> + 'q {
    form_urlencoded::parse(query.as_bytes())
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The query string with the value of every `name` parameter replaced by `***`; the other
/// parameters are kept byte for byte.
pub(super) fn mask_query(query: &str, name: &str) -> String {
    query
        .split('&')
        .map(|pair| {
            let raw_name = pair.split_once('=').map_or(pair, |(n, _)| n);
            let decoded: String = form_urlencoded::parse(raw_name.as_bytes())
                .map(|(n, _)| n.into_owned())
                .next()
                .unwrap_or_default();
            if decoded == name {
                format!("{raw_name}=***")
            } else {
                pair.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::test_headers;

    fn both() -> ApiKeyScheme {
        ApiKeyScheme {
            header: Some("x-api-key".into()),
            query: Some("key".into()),
        }
    }

    fn check(scheme: &ApiKeyScheme, pairs: &[(&str, &str)], query: &str) -> Outcome {
        let headers = test_headers(pairs);
        let req = Request {
            headers: &headers,
            body: b"",
            url: None,
            content_type: None,
            query,
        };
        verify(scheme, &req, &["k-old".into(), "k-new".into()])
    }

    #[test]
    fn any_configured_key_in_the_header_or_the_query_is_valid() {
        assert_eq!(
            check(&both(), &[("X-Api-Key", "k-old")], ""),
            Outcome::Valid
        );
        assert_eq!(check(&both(), &[], "a=1&key=k-new"), Outcome::Valid);
        assert_eq!(
            check(&both(), &[], "key=k-other"),
            Outcome::Invalid(Reason::WrongCredentials)
        );
        assert_eq!(check(&both(), &[], "a=1"), Outcome::Missing);
    }

    #[test]
    fn an_api_key_in_both_header_and_query_is_refused() {
        let outcome = check(&both(), &[("x-api-key", "k-old")], "key=k-old");
        assert!(matches!(outcome, Outcome::Invalid(Reason::Ambiguous(_))));
        let outcome = check(&both(), &[], "key=k-old&key=k-new");
        assert!(matches!(outcome, Outcome::Invalid(Reason::Ambiguous(_))));
    }

    #[test]
    fn a_key_in_an_unconfigured_place_is_not_read() {
        let header_only = ApiKeyScheme {
            header: Some("x-api-key".into()),
            query: None,
        };
        assert_eq!(check(&header_only, &[], "key=k-old"), Outcome::Missing);
    }

    #[test]
    fn masking_replaces_only_the_keys_value() {
        assert_eq!(mask_query("a=1&key=s3cret&b", "key"), "a=1&key=***&b");
        assert_eq!(mask_query("k%65y=s3cret", "key"), "k%65y=***");
        assert_eq!(mask_query("key", "key"), "key=***");
        assert_eq!(mask_query("", "key"), "");
    }
}
