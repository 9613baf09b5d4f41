//! Twilio: `x-twilio-signature: <base64>`, the base64 HMAC-SHA1 (keyed with the auth token) of
//! the URL Twilio called followed by the form parameters, sorted by key then value, each key
//! immediately followed by its value.
//!
//! The URL must be the public one (`public_url` + path + query as received), not the one seen
//! behind a proxy; the caller passes it in [`Request::url`]. Twilio signs it inconsistently with
//! or without the port, so both forms are tried: the port removed, and the port kept or the
//! scheme's default added.
//!
//! JSON bodies are not parameters: Twilio adds `bodySHA256=<hex sha256 of the body>` to the URL
//! and signs only the URL, so the URL signature is checked first, then the body against the
//! hash. A request without a `content-type` is treated as a form, as Twilio's own libraries do.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::mac::{self, Algorithm};
use super::{Outcome, Reason, Request, header};

const HEADER: &str = "x-twilio-signature";
const FORM: &str = "application/x-www-form-urlencoded";

/// Verifies a Twilio request; see the module doc.
pub(super) fn verify(req: &Request<'_>, secrets: &[String]) -> Outcome {
    let Some(value) = header(req.headers, HEADER) else {
        return Outcome::Missing;
    };
    let Some(url) = req.url else {
        return Outcome::Invalid(Reason::NoPublicUrl);
    };
    let Some(offered) = mac::decode_base64(value.trim(), Algorithm::Sha1.output_len()) else {
        return Outcome::Invalid(Reason::MalformedHeader {
            header: HEADER,
            problem: "not a base64 HMAC-SHA1",
        });
    };
    let body_hash = query_param(url, "bodySHA256");
    let params = match body_hash {
        None if is_form(req.content_type) => sorted_params(req.body),
        _ => String::new(),
    };
    let variants = url_variants(url);
    let offered = [offered];
    let matched = secrets.iter().any(|secret| {
        variants.iter().any(|variant| {
            let message = [variant.as_bytes(), params.as_bytes()];
            mac::any_matches(Algorithm::Sha1, [secret.as_bytes()], &message, &offered)
        })
    });
    if !matched {
        return Outcome::Invalid(Reason::WrongSecret);
    }
    match body_hash {
        Some(hash) if !body_matches(&hash, req.body) => Outcome::Invalid(Reason::BodyHashMismatch),
        _ => Outcome::Valid,
    }
}

/// A missing content type counts as a form, as in Twilio's libraries.
fn is_form(content_type: Option<&str>) -> bool {
    content_type.is_none_or(|ct| ct.to_ascii_lowercase().contains(FORM))
}

/// The form parameters as signed: decoded pairs sorted by key then value (byte order, which is
/// code-point order), each key followed by its value. A repeated key contributes every value.
pub(super) fn sorted_params(body: &[u8]) -> String {
    let mut pairs: Vec<_> = form_urlencoded::parse(body).collect();
    pairs.sort_unstable();
    pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()
}

/// The first value of query parameter `name` in `url`, decoded.
fn query_param(url: &str, name: &str) -> Option<String> {
    let (_, query) = url.split_once('?')?;
    let query = query.split_once('#').map_or(query, |(q, _)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// Whether `hex_hash` is the SHA-256 of `body`, compared in constant time.
fn body_matches(hex_hash: &str, body: &[u8]) -> bool {
    let actual = Sha256::digest(body);
    mac::decode_hex(hex_hash, actual.len()).is_some_and(|want| bool::from(want.ct_eq(&actual[..])))
}

/// The URL with its port removed, and with its port kept or the scheme's default added; the
/// URL as given is always one of the two. A URL without `scheme://` is tried only as given.
fn url_variants(url: &str) -> Vec<String> {
    let Some((scheme, after)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    // The port follows the last ':' that is past any IPv6 ']' or userinfo '@'.
    let host_start = authority.rfind([']', '@']).map_or(0, |i| i + 1);
    let port_colon = authority[host_start..].rfind(':').map(|i| host_start + i);
    let (host, port) = match port_colon {
        Some(i) => (&authority[..i], Some(&authority[i + 1..])),
        None => (authority, None),
    };
    let without_port = format!("{scheme}://{host}{rest}");
    let with_port = match port {
        Some(_) => url.to_string(),
        None => {
            let default = if scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                80
            };
            format!("{scheme}://{host}:{default}{rest}")
        }
    };
    vec![without_port, with_port]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::mac::sign;
    use crate::verify::test_headers;

    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const BODY: &[u8] = b"CallSid=CA1234567890ABCDE&Digits=1234&From=%2B14158675309&To=%2B18005551212&Caller=%2B14158675309";
    const OFFICIAL: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    fn check(
        signature: &str,
        url: Option<&str>,
        body: &[u8],
        content_type: Option<&str>,
    ) -> Outcome {
        let headers = test_headers(&[(HEADER, signature)]);
        let req = Request {
            headers: &headers,
            body,
            url,
            content_type,
            query: "",
        };
        verify(&req, &[TOKEN.to_string()])
    }

    #[test]
    fn twilios_published_form_example_is_valid() {
        assert_eq!(check(OFFICIAL, Some(URL), BODY, Some(FORM)), Outcome::Valid);
    }

    #[test]
    fn a_form_without_a_content_type_is_still_a_form() {
        assert_eq!(check(OFFICIAL, Some(URL), BODY, None), Outcome::Valid);
    }

    #[test]
    fn a_url_seen_with_a_port_matches_a_signature_made_without_it() {
        let url = "https://mycompany.com:1234/myapp.php?foo=1&bar=2";
        assert_eq!(check(OFFICIAL, Some(url), BODY, Some(FORM)), Outcome::Valid);
    }

    #[test]
    fn a_signature_made_with_the_default_port_matches_a_url_without_it() {
        let with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2";
        let params = sorted_params(BODY);
        let sig = sign::base64(
            Algorithm::Sha1,
            TOKEN.as_bytes(),
            &[with_port.as_bytes(), params.as_bytes()],
        );
        assert_eq!(check(&sig, Some(URL), BODY, Some(FORM)), Outcome::Valid);
    }

    #[test]
    fn url_variants_strip_or_add_the_port() {
        assert_eq!(
            url_variants("http://h/p?q"),
            ["http://h/p?q", "http://h:80/p?q"]
        );
        assert_eq!(
            url_variants("https://h:8443"),
            ["https://h", "https://h:8443"]
        );
        assert_eq!(
            url_variants("https://[::1]:9/x"),
            ["https://[::1]/x", "https://[::1]:9/x"]
        );
        assert_eq!(url_variants("no-scheme"), ["no-scheme"]);
    }

    #[test]
    fn repeated_keys_contribute_every_value_sorted() {
        assert_eq!(sorted_params(b"b=2&a=9&a=1&c"), "a1a9b2c");
    }

    #[test]
    fn a_json_body_is_checked_against_the_body_hash_in_the_signed_url() {
        let body = br#"{"property": "value", "boolean": true}"#;
        let url = format!("{URL}&bodySHA256={}", hex::encode(Sha256::digest(body)));
        let sig = sign::base64(Algorithm::Sha1, TOKEN.as_bytes(), &[url.as_bytes()]);
        let json = Some("application/json");
        assert_eq!(check(&sig, Some(&url), body, json), Outcome::Valid);
        let changed = br#"{"property": "value", "boolean": false}"#;
        let mismatch = Outcome::Invalid(Reason::BodyHashMismatch);
        assert_eq!(check(&sig, Some(&url), changed, json), mismatch);
    }

    #[test]
    fn twilio_without_a_public_url_is_invalid() {
        assert_eq!(
            check(OFFICIAL, None, BODY, Some(FORM)),
            Outcome::Invalid(Reason::NoPublicUrl)
        );
    }

    #[test]
    fn twilio_without_its_header_is_missing() {
        let req = Request {
            headers: &[],
            body: BODY,
            url: Some(URL),
            content_type: Some(FORM),
            query: "",
        };
        assert_eq!(verify(&req, &[TOKEN.to_string()]), Outcome::Missing);
    }

    #[test]
    fn a_changed_parameter_or_token_does_not_match() {
        let changed = String::from_utf8_lossy(BODY).replace("Digits=1234", "Digits=1235");
        let wrong = Outcome::Invalid(Reason::WrongSecret);
        assert_eq!(
            check(OFFICIAL, Some(URL), changed.as_bytes(), Some(FORM)),
            wrong
        );
        let headers = test_headers(&[(HEADER, OFFICIAL)]);
        let req = Request {
            headers: &headers,
            body: BODY,
            url: Some(URL),
            content_type: Some(FORM),
            query: "",
        };
        assert_eq!(verify(&req, &["54321".to_string()]), wrong);
        assert_eq!(
            verify(&req, &["54321".to_string(), TOKEN.to_string()]),
            Outcome::Valid
        );
    }
}
