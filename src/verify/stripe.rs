//! Stripe: `stripe-signature: t=<unix>,v1=<hex>[,v1=<hex>…]`.
//!
//! Each `v1` is the hex HMAC-SHA256 of `"{t}.{body}"`, keyed with the whole endpoint secret
//! string, `whsec_` prefix included (unlike Standard Webhooks, which decodes it). Stripe sends one
//! `v1` per active secret while a secret is being rolled, so any `v1` matching any secret is
//! valid. Unknown keys are ignored; `v0` (Stripe's test-mode legacy scheme) is never accepted.
//! Only the first [`MAX_SIGNATURES`] `v1` entries are examined.

use super::mac::{self, Algorithm};
use super::timestamp::{self, Window};
use super::{MAX_SIGNATURES, Outcome, Reason, Request, header};

const HEADER: &str = "stripe-signature";

/// The parts of a `stripe-signature` header that take part in verification.
#[derive(Debug)]
struct Parsed<'a> {
    /// The `t` value as sent: it is signed as text.
    timestamp_text: &'a str,
    timestamp: i64,
    signatures: Vec<Vec<u8>>,
}

/// Verifies a Stripe delivery; see the module doc.
pub(super) fn verify(req: &Request<'_>, secrets: &[String], window: Window) -> Outcome {
    let Some(value) = header(req.headers, HEADER) else {
        return Outcome::Missing;
    };
    let parsed = match parse(value) {
        Ok(parsed) => parsed,
        Err(reason) => return Outcome::Invalid(reason),
    };
    let message = [parsed.timestamp_text.as_bytes(), b".", req.body];
    let keys = secrets.iter().map(|s| s.as_bytes());
    if !mac::any_matches(Algorithm::Sha256, keys, &message, &parsed.signatures) {
        return Outcome::Invalid(Reason::WrongSecret);
    }
    match window.check(parsed.timestamp) {
        Ok(()) => Outcome::Valid,
        Err(reason) => Outcome::Invalid(reason),
    }
}

/// Splits the header once, left to right (linear in its length). The first `t` wins.
fn parse(value: &str) -> Result<Parsed<'_>, Reason> {
    let malformed = |problem| Reason::MalformedHeader {
        header: HEADER,
        problem,
    };
    let mut timestamp_text = None;
    let (mut signatures, mut v1_seen, mut v0_seen) = (Vec::new(), false, false);
    for item in value.split(',') {
        let Some((key, val)) = item.split_once('=') else {
            continue;
        };
        match key.trim() {
            "t" if timestamp_text.is_none() => timestamp_text = Some(val.trim()),
            "v1" => {
                v1_seen = true;
                if signatures.len() < MAX_SIGNATURES
                    && let Some(sig) = mac::decode_hex(val.trim(), Algorithm::Sha256.output_len())
                {
                    signatures.push(sig);
                }
            }
            "v0" => v0_seen = true,
            _ => {}
        }
    }
    let timestamp_text = timestamp_text.ok_or(malformed("no t= timestamp"))?;
    let timestamp = timestamp::parse(timestamp_text).ok_or(malformed("t= is not a Unix time"))?;
    if !v1_seen && v0_seen {
        return Err(Reason::UnsupportedVersion {
            header: HEADER,
            version: "v1",
        });
    }
    if !v1_seen {
        return Err(malformed("no v1= signature"));
    }
    if signatures.is_empty() {
        return Err(malformed("v1= is not a hex HMAC-SHA256"));
    }
    Ok(Parsed {
        timestamp_text,
        timestamp,
        signatures,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::mac::sign;
    use crate::verify::test_headers;

    const SECRET: &str = "whsec_test_secret";
    const T: i64 = 1_767_225_600;
    const BODY: &[u8] = b"{\"id\":\"evt_1\"}";
    const WINDOW: Window = Window {
        now: T + 5,
        tolerance_secs: 300,
    };

    fn v1(secret: &str, t: i64) -> String {
        let t = t.to_string();
        sign::hex(
            Algorithm::Sha256,
            secret.as_bytes(),
            &[t.as_bytes(), b".", BODY],
        )
    }

    fn check(value: &str, secrets: &[&str], window: Window) -> Outcome {
        let headers = test_headers(&[(HEADER, value)]);
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

    #[test]
    fn a_stripe_signature_keyed_with_the_whole_whsec_secret_is_valid() {
        let value = format!("t={T},v1={}", v1(SECRET, T));
        assert_eq!(check(&value, &[SECRET], WINDOW), Outcome::Valid);
    }

    #[test]
    fn a_stripe_header_with_only_v0_is_invalid() {
        let value = format!("t={T},v0={}", v1(SECRET, T));
        let expected = Reason::UnsupportedVersion {
            header: HEADER,
            version: "v1",
        };
        assert_eq!(check(&value, &[SECRET], WINDOW), Outcome::Invalid(expected));
    }

    #[test]
    fn any_v1_entry_may_match_and_unknown_keys_are_ignored() {
        let value = format!(
            "foo=bar, t={T} ,v1={},v1={} ,v0=00,bare",
            "ab".repeat(32),
            v1(SECRET, T)
        );
        assert_eq!(check(&value, &[SECRET], WINDOW), Outcome::Valid);
    }

    #[test]
    fn a_receiver_holding_new_and_old_secrets_accepts_the_old_signature() {
        let value = format!("t={T},v1={}", v1("whsec_old", T));
        assert_eq!(
            check(&value, &["whsec_new", "whsec_old"], WINDOW),
            Outcome::Valid
        );
        let wrong = Outcome::Invalid(Reason::WrongSecret);
        assert_eq!(check(&value, &["whsec_new"], WINDOW), wrong);
    }

    #[test]
    fn a_stripe_timestamp_301_seconds_old_is_stale() {
        let value = format!("t={T},v1={}", v1(SECRET, T));
        let window = Window {
            now: T + 301,
            tolerance_secs: 300,
        };
        let expected = Reason::StaleTimestamp {
            age_secs: 301,
            tolerance_secs: 300,
        };
        assert_eq!(check(&value, &[SECRET], window), Outcome::Invalid(expected));
    }

    #[test]
    fn a_stripe_timestamp_301_seconds_in_the_future_is_rejected_too() {
        let value = format!("t={T},v1={}", v1(SECRET, T));
        let window = Window {
            now: T - 301,
            tolerance_secs: 300,
        };
        let expected = Reason::FutureTimestamp {
            ahead_secs: 301,
            tolerance_secs: 300,
        };
        assert_eq!(check(&value, &[SECRET], window), Outcome::Invalid(expected));
    }

    #[test]
    fn a_forged_signature_is_reported_as_wrong_even_when_also_stale() {
        let value = format!("t={T},v1={}", "00".repeat(32));
        let window = Window {
            now: T + 10_000,
            tolerance_secs: 300,
        };
        assert_eq!(
            check(&value, &[SECRET], window),
            Outcome::Invalid(Reason::WrongSecret)
        );
    }

    #[test]
    fn headers_without_t_or_v1_or_with_a_bad_digest_are_malformed() {
        let sig = v1(SECRET, T);
        for value in [
            format!("v1={sig}"),
            format!("t=abc,v1={sig}"),
            format!("t={T}"),
            format!("t={T},v1=xyz"),
            "not-a-signature".to_string(),
            String::new(),
        ] {
            let outcome = check(&value, &[SECRET], WINDOW);
            assert!(
                matches!(outcome, Outcome::Invalid(Reason::MalformedHeader { .. })),
                "{value:?} gave {outcome:?}"
            );
        }
    }

    #[test]
    fn a_request_without_stripe_signature_is_missing() {
        let headers = test_headers(&[("content-type", "application/json")]);
        let req = Request {
            headers: &headers,
            body: BODY,
            url: None,
            content_type: None,
            query: "",
        };
        assert_eq!(
            verify(&req, &[SECRET.to_string()], WINDOW),
            Outcome::Missing
        );
    }

    #[test]
    fn the_header_name_is_found_whatever_its_case() {
        let value = format!("t={T},v1={}", v1(SECRET, T));
        let headers = test_headers(&[("Stripe-Signature", &value)]);
        let req = Request {
            headers: &headers,
            body: BODY,
            url: None,
            content_type: None,
            query: "",
        };
        assert_eq!(verify(&req, &[SECRET.to_string()], WINDOW), Outcome::Valid);
    }

    #[test]
    fn only_the_first_32_v1_entries_are_examined() {
        let junk = format!(",v1={}", "00".repeat(32)).repeat(MAX_SIGNATURES);
        let late = format!("t={T}{junk},v1={}", v1(SECRET, T));
        assert_eq!(
            check(&late, &[SECRET], WINDOW),
            Outcome::Invalid(Reason::WrongSecret)
        );
        let junk = format!(",v1={}", "00".repeat(32)).repeat(MAX_SIGNATURES - 1);
        let last = format!("t={T}{junk},v1={}", v1(SECRET, T));
        assert_eq!(check(&last, &[SECRET], WINDOW), Outcome::Valid);
    }
}
