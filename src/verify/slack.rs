//! Slack: `x-slack-signature: v0=<hex>` and `x-slack-request-timestamp: <unix>`.
//!
//! The signature is the hex HMAC-SHA256 of `"v0:{ts}:{body}"`, the timestamp signed as the text
//! sent. Both headers are needed: either one absent makes the signature missing. Slack documents
//! a check on the absolute difference between the timestamp and now, so future timestamps
//! outside the window are rejected like stale ones.

use super::mac::{self, Algorithm};
use super::timestamp::{self, Window};
use super::{Outcome, Reason, Request, header};

const SIGNATURE: &str = "x-slack-signature";
const TIMESTAMP: &str = "x-slack-request-timestamp";

/// Verifies a Slack request; see the module doc.
pub(super) fn verify(req: &Request<'_>, secrets: &[String], window: Window) -> Outcome {
    let (Some(signature), Some(timestamp_text)) = (
        header(req.headers, SIGNATURE),
        header(req.headers, TIMESTAMP),
    ) else {
        return Outcome::Missing;
    };
    let timestamp_text = timestamp_text.trim();
    let Some(signed_at) = timestamp::parse(timestamp_text) else {
        return Outcome::Invalid(Reason::MalformedHeader {
            header: TIMESTAMP,
            problem: "not a Unix time",
        });
    };
    let Some(digest) = signature.trim().strip_prefix("v0=") else {
        return Outcome::Invalid(Reason::UnsupportedVersion {
            header: SIGNATURE,
            version: "v0=",
        });
    };
    let Some(offered) = mac::decode_hex(digest, Algorithm::Sha256.output_len()) else {
        return Outcome::Invalid(Reason::MalformedHeader {
            header: SIGNATURE,
            problem: "not a hex HMAC-SHA256 after v0=",
        });
    };
    let message = [b"v0:", timestamp_text.as_bytes(), b":", req.body];
    let keys = secrets.iter().map(|s| s.as_bytes());
    if !mac::any_matches(Algorithm::Sha256, keys, &message, &[offered]) {
        return Outcome::Invalid(Reason::WrongSecret);
    }
    match window.check(signed_at) {
        Ok(()) => Outcome::Valid,
        Err(reason) => Outcome::Invalid(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::mac::sign;
    use crate::verify::test_headers;

    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: i64 = 1_531_420_618;
    const BODY: &[u8] = b"token=xyz&command=%2Fweather";
    const WINDOW: Window = Window {
        now: TS + 60,
        tolerance_secs: 300,
    };

    fn signature(secret: &str) -> String {
        let ts = TS.to_string();
        let hex = sign::hex(
            Algorithm::Sha256,
            secret.as_bytes(),
            &[b"v0:", ts.as_bytes(), b":", BODY],
        );
        format!("v0={hex}")
    }

    fn check(pairs: &[(&str, &str)], secrets: &[&str], window: Window) -> Outcome {
        let headers = test_headers(pairs);
        let req = Request {
            headers: &headers,
            body: BODY,
            url: None,
            content_type: None,
            query: "",
        };
        let secrets: Vec<String> = secrets.iter().map(|s| s.to_string()).collect();
        verify(&req, &secrets, window)
    }

    fn signed(secret: &str) -> Vec<(&'static str, String)> {
        vec![(TIMESTAMP, TS.to_string()), (SIGNATURE, signature(secret))]
    }

    fn check_signed(secret: &str, secrets: &[&str], window: Window) -> Outcome {
        let owned = signed(secret);
        let pairs: Vec<(&str, &str)> = owned.iter().map(|(n, v)| (*n, v.as_str())).collect();
        check(&pairs, secrets, window)
    }

    #[test]
    fn a_slack_request_signed_with_the_secret_is_valid() {
        assert_eq!(check_signed(SECRET, &[SECRET], WINDOW), Outcome::Valid);
    }

    #[test]
    fn a_slack_timestamp_301_seconds_in_the_future_is_rejected() {
        let window = Window {
            now: TS - 301,
            tolerance_secs: 300,
        };
        let expected = Reason::FutureTimestamp {
            ahead_secs: 301,
            tolerance_secs: 300,
        };
        assert_eq!(
            check_signed(SECRET, &[SECRET], window),
            Outcome::Invalid(expected)
        );
    }

    #[test]
    fn a_slack_timestamp_exactly_300_seconds_old_is_valid() {
        let window = Window {
            now: TS + 300,
            tolerance_secs: 300,
        };
        assert_eq!(check_signed(SECRET, &[SECRET], window), Outcome::Valid);
    }

    #[test]
    fn either_header_alone_is_missing() {
        let sig = signature(SECRET);
        assert_eq!(
            check(&[(SIGNATURE, &sig)], &[SECRET], WINDOW),
            Outcome::Missing
        );
        assert_eq!(
            check(&[(TIMESTAMP, "1531420618")], &[SECRET], WINDOW),
            Outcome::Missing
        );
    }

    #[test]
    fn a_v1_prefix_is_an_unsupported_version() {
        let sig = signature(SECRET).replacen("v0=", "v1=", 1);
        let outcome = check(
            &[(TIMESTAMP, "1531420618"), (SIGNATURE, &sig)],
            &[SECRET],
            WINDOW,
        );
        let expected = Reason::UnsupportedVersion {
            header: SIGNATURE,
            version: "v0=",
        };
        assert_eq!(outcome, Outcome::Invalid(expected));
    }

    #[test]
    fn a_fractional_timestamp_is_malformed() {
        let sig = signature(SECRET);
        let outcome = check(
            &[(TIMESTAMP, "1531420618.5"), (SIGNATURE, &sig)],
            &[SECRET],
            WINDOW,
        );
        assert!(matches!(
            outcome,
            Outcome::Invalid(Reason::MalformedHeader {
                header: TIMESTAMP,
                ..
            })
        ));
    }

    #[test]
    fn a_timestamp_changed_after_signing_does_not_match() {
        let sig = signature(SECRET);
        let outcome = check(
            &[(TIMESTAMP, "1531420619"), (SIGNATURE, &sig)],
            &[SECRET],
            WINDOW,
        );
        assert_eq!(outcome, Outcome::Invalid(Reason::WrongSecret));
    }

    #[test]
    fn a_receiver_holding_new_and_old_secrets_accepts_the_old_signature() {
        assert_eq!(check_signed("old", &["new", "old"], WINDOW), Outcome::Valid);
        let wrong = Outcome::Invalid(Reason::WrongSecret);
        assert_eq!(check_signed("old", &["new"], WINDOW), wrong);
    }
}
