//! GitHub: `x-hub-signature-256: sha256=<hex>`, the hex HMAC-SHA256 of the body. No timestamp,
//! so GitHub deliveries have no replay window.
//!
//! GitHub also sends the legacy `x-hub-signature: sha1=<hex>` on every delivery. It is not used
//! as a fallback when `x-hub-signature-256` is absent: GitHub documents the sha256 header as the one to check, the
//! fixture vector `github-missing-header` requires a sha1-only request to be `missing`, and a
//! fallback would let a request downgrade to SHA-1 by dropping a header. The same parser checks
//! the legacy header in the tests, against the `github-sha1` vectors.

use super::mac::{self, Algorithm};
use super::{Outcome, Reason, Request, header};

/// One GitHub signature header: its name, the prefix before the hex digest, and the hash.
struct Format {
    header: &'static str,
    prefix: &'static str,
    algorithm: Algorithm,
    /// Static texts for reasons, so no signature value ever reaches a reason.
    no_prefix: &'static str,
    bad_digest: &'static str,
}

const SHA256: Format = Format {
    header: "x-hub-signature-256",
    prefix: "sha256=",
    algorithm: Algorithm::Sha256,
    no_prefix: "does not start with sha256=",
    bad_digest: "not a hex HMAC-SHA256 after sha256=",
};

/// Verifies a GitHub delivery; see the module doc.
pub(super) fn verify(req: &Request<'_>, secrets: &[String]) -> Outcome {
    check(&SHA256, req, secrets)
}

/// Verifies only the legacy `x-hub-signature: sha1=<hex>` header (vectors `github-sha1-*`).
#[cfg(test)]
pub(super) fn verify_legacy_sha1(req: &Request<'_>, secrets: &[String]) -> Outcome {
    const SHA1: Format = Format {
        header: "x-hub-signature",
        prefix: "sha1=",
        algorithm: Algorithm::Sha1,
        no_prefix: "does not start with sha1=",
        bad_digest: "not a hex HMAC-SHA1 after sha1=",
    };
    check(&SHA1, req, secrets)
}

fn check(format: &Format, req: &Request<'_>, secrets: &[String]) -> Outcome {
    let Some(value) = header(req.headers, format.header) else {
        return Outcome::Missing;
    };
    let malformed = |problem| {
        Outcome::Invalid(Reason::MalformedHeader {
            header: format.header,
            problem,
        })
    };
    let Some(digest) = value.trim().strip_prefix(format.prefix) else {
        return malformed(format.no_prefix);
    };
    let Some(offered) = mac::decode_hex(digest, format.algorithm.output_len()) else {
        return malformed(format.bad_digest);
    };
    let keys = secrets.iter().map(|s| s.as_bytes());
    if mac::any_matches(format.algorithm, keys, &[req.body], &[offered]) {
        Outcome::Valid
    } else {
        Outcome::Invalid(Reason::WrongSecret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::test_headers;

    const SECRET: &str = "It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    const SIG256: &str = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    const SIG1: &str = "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59";

    fn check_headers(pairs: &[(&str, &str)], secrets: &[&str]) -> Outcome {
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

    #[test]
    fn githubs_published_example_is_valid() {
        let outcome = check_headers(&[("x-hub-signature-256", SIG256)], &[SECRET]);
        assert_eq!(outcome, Outcome::Valid);
    }

    #[test]
    fn a_mixed_case_header_name_is_still_found() {
        let outcome = check_headers(&[("X-Hub-Signature-256", SIG256)], &[SECRET]);
        assert_eq!(outcome, Outcome::Valid);
    }

    #[test]
    fn only_the_legacy_sha1_header_counts_as_missing() {
        let outcome = check_headers(&[("x-hub-signature", SIG1)], &[SECRET]);
        assert_eq!(outcome, Outcome::Missing);
    }

    #[test]
    fn a_bad_sha256_header_is_not_rescued_by_a_good_sha1_one() {
        let pairs = [
            ("x-hub-signature-256", "sha256=00"),
            ("x-hub-signature", SIG1),
        ];
        let outcome = check_headers(&pairs, &[SECRET]);
        assert!(matches!(
            outcome,
            Outcome::Invalid(Reason::MalformedHeader { .. })
        ));
    }

    #[test]
    fn the_legacy_sha1_header_verifies_with_hmac_sha1() {
        let headers = test_headers(&[("x-hub-signature", SIG1)]);
        let req = Request {
            headers: &headers,
            body: BODY,
            url: None,
            content_type: None,
            query: "",
        };
        assert_eq!(
            verify_legacy_sha1(&req, &[SECRET.to_string()]),
            Outcome::Valid
        );
    }

    #[test]
    fn a_digest_without_its_prefix_or_of_the_wrong_length_is_malformed() {
        let bare = SIG256.trim_start_matches("sha256=");
        let short = &SIG256[..SIG256.len() - 2];
        for value in [bare, SIG1, short, "sha256=", "sha256=zz"] {
            let outcome = check_headers(&[("x-hub-signature-256", value)], &[SECRET]);
            assert!(
                matches!(outcome, Outcome::Invalid(Reason::MalformedHeader { .. })),
                "{value:?} gave {outcome:?}"
            );
        }
    }

    #[test]
    fn a_receiver_holding_new_and_old_secrets_accepts_the_old_signature() {
        let outcome = check_headers(&[("x-hub-signature-256", SIG256)], &["new", SECRET]);
        assert_eq!(outcome, Outcome::Valid);
        let outcome = check_headers(&[("x-hub-signature-256", SIG256)], &["new"]);
        assert_eq!(outcome, Outcome::Invalid(Reason::WrongSecret));
    }

    #[test]
    fn the_reason_never_contains_the_signature() {
        let value = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e";
        let outcome = check_headers(&[("x-hub-signature-256", value)], &[SECRET]);
        let reason = outcome.reason().unwrap_or_default();
        assert!(!reason.is_empty() && !reason.contains("757107"), "{reason}");
    }
}
