//! Standard Webhooks (<https://www.standardwebhooks.com>), and Svix, which sends the same
//! headers with an `svix-` prefix: `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64>[ v1,<base64>…]`.
//!
//! Each `v1` is the base64 HMAC-SHA256 of `"{id}.{ts}.{body}"`. The key is the secret after its
//! `whsec_` prefix, base64-**decoded** (unlike Stripe, which keys with the whole string); a
//! secret without the prefix is decoded the same way, as the official libraries do. Entries of
//! other versions (`v1a` asymmetric signatures, future versions) are skipped; a header with no
//! `v1` entry at all is invalid. Only the first [`MAX_SIGNATURES`] `v1`
//! entries are examined.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::mac::{self, Algorithm};
use super::timestamp::{self, Window};
use super::{MAX_SIGNATURES, Outcome, Reason, Request, header};

/// The three header names of one branding.
struct Names {
    id: &'static str,
    timestamp: &'static str,
    signature: &'static str,
}

const WEBHOOK: Names = Names {
    id: "webhook-id",
    timestamp: "webhook-timestamp",
    signature: "webhook-signature",
};

const SVIX: Names = Names {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

const BAD_SECRET: &str = "a Standard Webhooks secret is whsec_ followed by base64";

/// Verifies a Standard Webhooks or Svix delivery; see the module doc.
pub(super) fn verify(req: &Request<'_>, secrets: &[String], window: Window) -> Outcome {
    let Some(names) = [WEBHOOK, SVIX].into_iter().find(|names| {
        header(req.headers, names.signature).is_some() || header(req.headers, names.id).is_some()
    }) else {
        return Outcome::Missing;
    };
    let (Some(id), Some(timestamp_text), Some(signature)) = (
        header(req.headers, names.id),
        header(req.headers, names.timestamp),
        header(req.headers, names.signature),
    ) else {
        return Outcome::Missing;
    };
    let timestamp_text = timestamp_text.trim();
    let Some(signed_at) = timestamp::parse(timestamp_text) else {
        return Outcome::Invalid(Reason::MalformedHeader {
            header: names.timestamp,
            problem: "not a Unix time",
        });
    };
    let offered = match parse_signatures(signature, names.signature) {
        Ok(offered) => offered,
        Err(reason) => return Outcome::Invalid(reason),
    };
    let keys: Vec<Vec<u8>> = secrets.iter().filter_map(|s| key(s)).collect();
    if keys.is_empty() {
        return Outcome::Invalid(Reason::UnusableSecret(BAD_SECRET));
    }
    let message = [
        id.as_bytes(),
        b".",
        timestamp_text.as_bytes(),
        b".",
        req.body,
    ];
    let keys = keys.iter().map(Vec::as_slice);
    if !mac::any_matches(Algorithm::Sha256, keys, &message, &offered) {
        return Outcome::Invalid(Reason::WrongSecret);
    }
    match window.check(signed_at) {
        Ok(()) => Outcome::Valid,
        Err(reason) => Outcome::Invalid(reason),
    }
}

/// The decoded `v1` signatures of a space-separated list of `version,base64` entries.
fn parse_signatures(value: &str, name: &'static str) -> Result<Vec<Vec<u8>>, Reason> {
    let mut offered = Vec::new();
    let mut v1_seen = false;
    for entry in value.split_ascii_whitespace() {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            continue;
        };
        v1_seen = true;
        if offered.len() < MAX_SIGNATURES
            && let Some(sig) = mac::decode_base64(encoded, Algorithm::Sha256.output_len())
        {
            offered.push(sig);
        }
    }
    if !v1_seen {
        return Err(Reason::UnsupportedVersion {
            header: name,
            version: "v1",
        });
    }
    if offered.is_empty() {
        return Err(Reason::MalformedHeader {
            header: name,
            problem: "v1, is not a base64 HMAC-SHA256",
        });
    }
    Ok(offered)
}

/// The HMAC key of a secret: base64-decode what follows an optional `whsec_`.
pub(super) fn key(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded).ok().filter(|key| !key.is_empty())
}

/// See [`Scheme::check_secret`](super::Scheme::check_secret).
pub(super) fn check_secret(secret: &str) -> Result<(), &'static str> {
    key(secret).map(|_| ()).ok_or(BAD_SECRET)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::mac::sign;
    use crate::verify::test_headers;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const OFFICIAL: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    const WINDOW: Window = Window {
        now: 1_614_265_330,
        tolerance_secs: 300,
    };

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

    fn with_signature(signature: &str, secrets: &[&str]) -> Outcome {
        let pairs = [
            (WEBHOOK.id, ID),
            (WEBHOOK.timestamp, TS),
            (WEBHOOK.signature, signature),
        ];
        check(&pairs, secrets, WINDOW)
    }

    #[test]
    fn the_official_libraries_vector_is_valid() {
        assert_eq!(with_signature(OFFICIAL, &[SECRET]), Outcome::Valid);
    }

    #[test]
    fn svix_branded_header_names_are_accepted() {
        let pairs = [
            (SVIX.id, ID),
            (SVIX.timestamp, TS),
            (SVIX.signature, OFFICIAL),
        ];
        assert_eq!(check(&pairs, &[SECRET], WINDOW), Outcome::Valid);
    }

    #[test]
    fn a_secret_without_whsec_decodes_to_the_same_key() {
        let bare = SECRET.trim_start_matches("whsec_");
        assert_eq!(with_signature(OFFICIAL, &[bare]), Outcome::Valid);
    }

    #[test]
    fn asymmetric_and_unknown_entries_are_skipped() {
        let value = format!("v1a,AAAA v2,{} junk  {OFFICIAL}", &OFFICIAL[3..]);
        assert_eq!(with_signature(&value, &[SECRET]), Outcome::Valid);
    }

    #[test]
    fn a_header_with_only_an_unknown_version_is_unsupported() {
        let value = OFFICIAL.replacen("v1,", "v2,", 1);
        let expected = Reason::UnsupportedVersion {
            header: WEBHOOK.signature,
            version: "v1",
        };
        assert_eq!(
            with_signature(&value, &[SECRET]),
            Outcome::Invalid(expected)
        );
    }

    #[test]
    fn a_standard_timestamp_301_seconds_in_the_future_is_rejected() {
        let pairs = [
            (WEBHOOK.id, ID),
            (WEBHOOK.timestamp, TS),
            (WEBHOOK.signature, OFFICIAL),
        ];
        let window = Window {
            now: 1_614_265_330 - 301,
            tolerance_secs: 300,
        };
        let expected = Reason::FutureTimestamp {
            ahead_secs: 301,
            tolerance_secs: 300,
        };
        assert_eq!(check(&pairs, &[SECRET], window), Outcome::Invalid(expected));
    }

    #[test]
    fn a_missing_id_timestamp_or_signature_is_missing() {
        let all = [
            (WEBHOOK.id, ID),
            (WEBHOOK.timestamp, TS),
            (WEBHOOK.signature, OFFICIAL),
        ];
        for skip in 0..all.len() {
            let pairs: Vec<_> = (0..all.len())
                .filter(|i| *i != skip)
                .map(|i| all[i])
                .collect();
            assert_eq!(
                check(&pairs, &[SECRET], WINDOW),
                Outcome::Missing,
                "without {skip}"
            );
        }
    }

    #[test]
    fn the_id_is_part_of_the_signed_content() {
        let pairs = [
            (WEBHOOK.id, "msg_other"),
            (WEBHOOK.timestamp, TS),
            (WEBHOOK.signature, OFFICIAL),
        ];
        assert_eq!(
            check(&pairs, &[SECRET], WINDOW),
            Outcome::Invalid(Reason::WrongSecret)
        );
    }

    #[test]
    fn a_receiver_holding_new_and_old_keys_accepts_the_old_signature() {
        let new = "whsec_aG9va3dhdGNoLXJvdGF0ZWQtbmV3LWtleS0zMmJ5dGU=";
        assert_eq!(with_signature(OFFICIAL, &[new, SECRET]), Outcome::Valid);
        assert_eq!(
            with_signature(OFFICIAL, &[new]),
            Outcome::Invalid(Reason::WrongSecret)
        );
    }

    #[test]
    fn a_secret_that_is_not_base64_is_unusable() {
        let outcome = with_signature(OFFICIAL, &["whsec_not base64!"]);
        assert_eq!(
            outcome,
            Outcome::Invalid(Reason::UnusableSecret(BAD_SECRET))
        );
    }

    #[test]
    fn the_signature_covers_id_timestamp_and_body() {
        let key = key(SECRET).unwrap_or_default();
        let b64 = sign::base64(
            Algorithm::Sha256,
            &key,
            &[ID.as_bytes(), b".", TS.as_bytes(), b".", BODY],
        );
        assert_eq!(format!("v1,{b64}"), OFFICIAL);
    }
}
