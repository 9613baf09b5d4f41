//! `scheme = "basic"`: HTTP basic authentication (`Authorization: Basic base64(user:password)`).
//!
//! The `user:password` the sender offers is compared with each configured pair as bytes, in
//! constant time, so several passwords can be accepted while one is rotated. The
//! `Authorization` value is a credential: ingest stores it as `***` (see [`super::Verifier::mask`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::mac;
use super::{Outcome, Reason, Request, header};

/// The header basic auth travels in.
pub(super) const HEADER: &str = "authorization";

/// A configured basic-auth scheme; the passwords are the verifier's secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicScheme {
    pub user: String,
}

/// Verifies a request's basic credentials; see the module doc.
pub(super) fn verify(scheme: &BasicScheme, req: &Request<'_>, passwords: &[String]) -> Outcome {
    let mut values = req
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case(HEADER));
    let Some(_) = values.next() else {
        return Outcome::Missing;
    };
    if values.next().is_some() {
        return Outcome::Invalid(Reason::Ambiguous("authorization header sent twice"));
    }
    let value = header(req.headers, HEADER).unwrap_or_default().trim();
    let malformed = |problem| {
        Outcome::Invalid(Reason::Malformed {
            what: "authorization header".into(),
            problem,
        })
    };
    let Some((kind, encoded)) = value.split_once(' ') else {
        return malformed("not `Basic` credentials");
    };
    if !kind.eq_ignore_ascii_case("basic") {
        return malformed("not `Basic` credentials");
    }
    let Ok(offered) = STANDARD.decode(encoded.trim()) else {
        return malformed("the credentials are not base64");
    };
    if !offered.contains(&b':') {
        return malformed("the credentials have no `user:password` colon");
    }
    let matched = passwords.iter().fold(false, |found, password| {
        let want = [scheme.user.as_bytes(), b":", password.as_bytes()].concat();
        found | mac::equal(&want, &offered)
    });
    if matched {
        Outcome::Valid
    } else {
        Outcome::Invalid(Reason::WrongCredentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::test_headers;

    fn check(value: Option<&str>, passwords: &[&str]) -> Outcome {
        let mut pairs = vec![("content-type", "text/plain")];
        pairs.extend(value.map(|v| ("Authorization", v)));
        let headers = test_headers(&pairs);
        let req = Request {
            headers: &headers,
            body: b"",
            url: None,
            content_type: None,
            query: "",
        };
        let passwords: Vec<String> = passwords.iter().map(|s| s.to_string()).collect();
        let scheme = BasicScheme {
            user: "legacy".into(),
        };
        verify(&scheme, &req, &passwords)
    }

    fn basic(credentials: &str) -> String {
        format!("Basic {}", STANDARD.encode(credentials))
    }

    #[test]
    fn the_right_user_and_any_configured_password_is_valid() {
        let value = basic("legacy:hunter2");
        assert_eq!(check(Some(&value), &["new", "hunter2"]), Outcome::Valid);
        assert_eq!(
            check(Some(&value), &["new"]),
            Outcome::Invalid(Reason::WrongCredentials)
        );
        let other_user = basic("admin:hunter2");
        assert_eq!(
            check(Some(&other_user), &["hunter2"]),
            Outcome::Invalid(Reason::WrongCredentials)
        );
    }

    #[test]
    fn a_basic_header_with_invalid_base64_is_malformed() {
        for value in [
            "Basic ***not-base64***",
            "Bearer abc",
            "Basic",
            basic("nocolon").as_str(),
        ] {
            let outcome = check(Some(value), &["hunter2"]);
            assert!(
                matches!(outcome, Outcome::Invalid(Reason::Malformed { .. })),
                "{value}: {outcome:?}"
            );
        }
    }

    #[test]
    fn no_authorization_header_is_missing() {
        assert_eq!(check(None, &["hunter2"]), Outcome::Missing);
    }
}
