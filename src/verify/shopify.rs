//! Shopify: `x-shopify-hmac-sha256: <base64>`, the base64 HMAC-SHA256 of the body, keyed with
//! the app's client secret. No timestamp, so no replay window.

use super::mac::{self, Algorithm};
use super::{Outcome, Reason, Request, header};

const HEADER: &str = "x-shopify-hmac-sha256";

/// Verifies a Shopify delivery; see the module doc.
pub(super) fn verify(req: &Request<'_>, secrets: &[String]) -> Outcome {
    let Some(value) = header(req.headers, HEADER) else {
        return Outcome::Missing;
    };
    let Some(offered) = mac::decode_base64(value.trim(), Algorithm::Sha256.output_len()) else {
        return Outcome::Invalid(Reason::MalformedHeader {
            header: HEADER,
            problem: "not a base64 HMAC-SHA256",
        });
    };
    let keys = secrets.iter().map(|s| s.as_bytes());
    if mac::any_matches(Algorithm::Sha256, keys, &[req.body], &[offered]) {
        Outcome::Valid
    } else {
        Outcome::Invalid(Reason::WrongSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::mac::sign;
    use crate::verify::test_headers;

    const SECRET: &str = "shopify-fixture-secret";
    const BODY: &[u8] = b"{\"id\":820982911946154508}";

    fn check(pairs: &[(&str, &str)], secrets: &[&str]) -> Outcome {
        let headers = test_headers(pairs);
        let req = Request {
            headers: &headers,
            body: BODY,
            url: None,
            content_type: None,
            query: "",
        };
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        verify(&req, &secrets)
    }

    fn signature(secret: &str) -> String {
        sign::base64(Algorithm::Sha256, secret.as_bytes(), &[BODY])
    }

    #[test]
    fn a_shopify_body_signed_with_the_secret_is_valid() {
        assert_eq!(
            check(&[(HEADER, &signature(SECRET))], &[SECRET]),
            Outcome::Valid
        );
    }

    #[test]
    fn the_header_name_is_found_whatever_its_case() {
        let outcome = check(&[("X-Shopify-Hmac-Sha256", &signature(SECRET))], &[SECRET]);
        assert_eq!(outcome, Outcome::Valid);
    }

    #[test]
    fn a_hex_digest_instead_of_base64_is_malformed() {
        let hex = sign::hex(Algorithm::Sha256, SECRET.as_bytes(), &[BODY]);
        let outcome = check(&[(HEADER, &hex)], &[SECRET]);
        assert!(matches!(
            outcome,
            Outcome::Invalid(Reason::MalformedHeader { .. })
        ));
    }

    #[test]
    fn a_request_without_the_hmac_header_is_missing() {
        assert_eq!(
            check(&[("x-shopify-topic", "orders/create")], &[SECRET]),
            Outcome::Missing
        );
    }

    #[test]
    fn a_receiver_holding_new_and_old_secrets_accepts_the_old_signature() {
        let old = signature("old");
        assert_eq!(check(&[(HEADER, &old)], &["new", "old"]), Outcome::Valid);
        let wrong = Outcome::Invalid(Reason::WrongSecret);
        assert_eq!(check(&[(HEADER, &old)], &["new"]), wrong);
    }
}
