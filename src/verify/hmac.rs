//! `scheme = "hmac"`: an HMAC scheme described in config, for senders hookwatch does not know.
//!
//! The signature header holds one signature, optionally after a fixed `prefix` (`sha512=`),
//! encoded as hex (either case) or padded standard base64. What was signed is the [`Template`]
//! rendered over the request; the key is each secret's UTF-8 bytes. With a `timestamp_header`
//! its value (as sent, in Unix seconds) must be within the tolerance, checked only once the
//! signature matches, as for the built-in schemes.

use super::mac::{self, Algorithm};
use super::template::Template;
use super::timestamp::{self, Window};
use super::{Outcome, Reason, Request, header};

/// How the signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Hex,
    Base64,
}

impl Encoding {
    /// Parses a config name (`hex`, `base64`).
    pub fn parse(name: &str) -> Option<Encoding> {
        match name {
            "hex" => Some(Encoding::Hex),
            "base64" => Some(Encoding::Base64),
            _ => None,
        }
    }
}

/// A configured HMAC scheme, resolved at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacScheme {
    /// The signature header, lower-case.
    pub header: String,
    pub algorithm: Algorithm,
    pub encoding: Encoding,
    /// Stripped before decoding; a signature without it is invalid.
    pub prefix: Option<String>,
    /// The header carrying the signed Unix timestamp, lower-case.
    pub timestamp_header: Option<String>,
    pub signed: Template,
}

/// Verifies a request against a configured HMAC scheme; see the module doc.
pub(super) fn verify(
    scheme: &HmacScheme,
    req: &Request<'_>,
    secrets: &[String],
    window: Window,
) -> Outcome {
    let Some(value) = header(req.headers, &scheme.header) else {
        return Outcome::Missing;
    };
    let malformed = |problem| {
        Outcome::Invalid(Reason::Malformed {
            what: format!("{} header", scheme.header),
            problem,
        })
    };
    let value = value.trim();
    let Some(value) = strip_prefix(value, scheme.prefix.as_deref()) else {
        return malformed("it does not start with the configured prefix");
    };
    let len = scheme.algorithm.output_len();
    let offered = match scheme.encoding {
        Encoding::Hex => mac::decode_hex(value, len),
        Encoding::Base64 => mac::decode_base64(value, len),
    };
    let Some(offered) = offered else {
        return malformed(match scheme.encoding {
            Encoding::Hex => "not a hex HMAC of the configured algorithm",
            Encoding::Base64 => "not a base64 HMAC of the configured algorithm",
        });
    };
    let (stamp_text, signed_at) = match &scheme.timestamp_header {
        None => ("", None),
        Some(name) => match header(req.headers, name).map(str::trim) {
            None => return Outcome::Invalid(Reason::MissingSignedHeader(name.clone())),
            Some(text) => match timestamp::parse(text) {
                Some(t) => (text, Some(t)),
                None => {
                    return Outcome::Invalid(Reason::Malformed {
                        what: format!("{name} header"),
                        problem: "not a Unix time in seconds",
                    });
                }
            },
        },
    };
    let message = match scheme.signed.render(req, stamp_text) {
        Ok(message) => message,
        Err(missing) => return Outcome::Invalid(Reason::MissingSignedHeader(missing.into())),
    };
    let keys = secrets.iter().map(|s| s.as_bytes());
    if !mac::any_matches(scheme.algorithm, keys, &message, &[offered]) {
        return Outcome::Invalid(Reason::WrongSecret);
    }
    match signed_at.map(|t| window.check(t)) {
        None | Some(Ok(())) => Outcome::Valid,
        Some(Err(reason)) => Outcome::Invalid(reason),
    }
}

fn strip_prefix<'a>(value: &'a str, prefix: Option<&str>) -> Option<&'a str> {
    match prefix {
        None => Some(value),
        Some(prefix) => value.strip_prefix(prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::mac::sign;
    use crate::verify::test_headers;

    const SECRET: &str = "acme-secret";
    const T: i64 = 1_767_225_600;
    const BODY: &[u8] = b"{\"id\":\"a1\"}";
    const WINDOW: Window = Window {
        now: T + 5,
        tolerance_secs: 300,
    };

    fn acme() -> HmacScheme {
        HmacScheme {
            header: "x-signature".into(),
            algorithm: Algorithm::Sha512,
            encoding: Encoding::Hex,
            prefix: Some("sha512=".into()),
            timestamp_header: Some("x-timestamp".into()),
            signed: Template::parse("{timestamp}.{body}").unwrap(),
        }
    }

    fn signature(secret: &str, t: i64) -> String {
        let t = t.to_string();
        let hex = sign::hex(
            Algorithm::Sha512,
            secret.as_bytes(),
            &[t.as_bytes(), b".", BODY],
        );
        format!("sha512={hex}")
    }

    fn check(scheme: &HmacScheme, pairs: &[(&str, &str)], secrets: &[&str]) -> Outcome {
        let headers = test_headers(pairs);
        let req = Request {
            headers: &headers,
            body: BODY,
            url: None,
            content_type: None,
            query: "",
        };
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        verify(scheme, &req, &secrets, WINDOW)
    }

    #[test]
    fn a_sha512_hex_signature_over_timestamp_and_body_is_valid() {
        let t = T.to_string();
        let sig = signature(SECRET, T);
        let pairs = [("X-Signature", sig.as_str()), ("X-Timestamp", t.as_str())];
        assert_eq!(check(&acme(), &pairs, &["old", SECRET]), Outcome::Valid);
        assert_eq!(
            check(&acme(), &pairs, &["old"]),
            Outcome::Invalid(Reason::WrongSecret)
        );
    }

    #[test]
    fn a_signature_without_the_prefix_is_invalid() {
        let t = T.to_string();
        let sig = signature(SECRET, T);
        let bare = sig.trim_start_matches("sha512=");
        let outcome = check(
            &acme(),
            &[("x-signature", bare), ("x-timestamp", &t)],
            &[SECRET],
        );
        assert!(
            matches!(outcome, Outcome::Invalid(Reason::Malformed { .. })),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_matching_signature_with_a_stale_timestamp_is_stale() {
        let old = T - 1000;
        let (sig, t) = (signature(SECRET, old), old.to_string());
        let outcome = check(
            &acme(),
            &[("x-signature", &sig), ("x-timestamp", &t)],
            &[SECRET],
        );
        assert!(
            matches!(outcome, Outcome::Invalid(Reason::StaleTimestamp { .. })),
            "{outcome:?}"
        );
    }

    #[test]
    fn a_missing_signature_is_missing_and_a_missing_timestamp_is_named() {
        assert_eq!(check(&acme(), &[], &[SECRET]), Outcome::Missing);
        let sig = signature(SECRET, T);
        assert_eq!(
            check(&acme(), &[("x-signature", &sig)], &[SECRET]),
            Outcome::Invalid(Reason::MissingSignedHeader("x-timestamp".into()))
        );
        let outcome = check(
            &acme(),
            &[("x-signature", &sig), ("x-timestamp", "soon")],
            &[SECRET],
        );
        assert!(matches!(
            outcome,
            Outcome::Invalid(Reason::Malformed { .. })
        ));
    }

    #[test]
    fn a_base64_sha1_signature_over_a_header_and_the_body_is_valid() {
        let scheme = HmacScheme {
            header: "x-sig".into(),
            algorithm: Algorithm::Sha1,
            encoding: Encoding::Base64,
            prefix: None,
            timestamp_header: None,
            signed: Template::parse("{header:x-id}:{body}").unwrap(),
        };
        let sig = sign::base64(Algorithm::Sha1, SECRET.as_bytes(), &[b"7", b":", BODY]);
        let pairs = [("x-sig", sig.as_str()), ("x-id", "7")];
        assert_eq!(check(&scheme, &pairs, &[SECRET]), Outcome::Valid);
        assert_eq!(
            check(&scheme, &[("x-sig", &sig)], &[SECRET]),
            Outcome::Invalid(Reason::MissingSignedHeader("x-id".into()))
        );
        let hex = sign::hex(Algorithm::Sha1, SECRET.as_bytes(), &[b"7", b":", BODY]);
        let outcome = check(&scheme, &[("x-sig", &hex), ("x-id", "7")], &[SECRET]);
        assert!(matches!(
            outcome,
            Outcome::Invalid(Reason::Malformed { .. })
        ));
    }
}
