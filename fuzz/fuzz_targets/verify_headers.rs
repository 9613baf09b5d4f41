//! Feeds arbitrary bytes to every signature scheme's header parsers through the public
//! `hookwatch::verify` API.
//!
//! The input is split on `\n` into: the value of every signature header, the value of every
//! timestamp header, the value of every id header, the body, the URL and the content type, so
//! one input reaches every parser past its earlier checks. Header values that are not UTF-8 are
//! decoded as Latin-1, as ingest does. The oracle: no panic, and nothing random is ever `Valid`.
#![no_main]

use hookwatch::model::Header;
use hookwatch::verify::{Outcome, Request, Scheme, Verifier};
use libfuzzer_sys::fuzz_target;

const SIGNATURE_HEADERS: [&str; 8] = [
    "stripe-signature",
    "x-hub-signature-256",
    "x-hub-signature",
    "x-slack-signature",
    "x-shopify-hmac-sha256",
    "webhook-signature",
    "svix-signature",
    "x-twilio-signature",
];
const TIMESTAMP_HEADERS: [&str; 3] = ["x-slack-request-timestamp", "webhook-timestamp", "svix-timestamp"];
const ID_HEADERS: [&str; 2] = ["webhook-id", "svix-id"];

const SCHEMES: [Scheme; 6] = [
    Scheme::Stripe,
    Scheme::Github,
    Scheme::Slack,
    Scheme::Shopify,
    Scheme::Standard,
    Scheme::Twilio,
];

/// UTF-8 when it is, Latin-1 otherwise (every byte one char), like ingest's header decoding.
fn text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_string(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

fn headers(signature: &str, timestamp: &str, id: &str) -> Vec<Header> {
    let named = |names: &[&str], value: &str| -> Vec<Header> {
        names.iter().map(|n| (n.to_string(), value.to_string())).collect()
    };
    let mut all = named(&SIGNATURE_HEADERS, signature);
    all.extend(named(&TIMESTAMP_HEADERS, timestamp));
    all.extend(named(&ID_HEADERS, id));
    all
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(6, |&b| b == b'\n');
    let mut next = || parts.next().unwrap_or_default();
    let (signature, timestamp, id) = (text(next()), text(next()), text(next()));
    let body = next();
    let (url, content_type) = (text(next()), text(next()));
    let headers = headers(&signature, &timestamp, &id);
    let req = Request {
        headers: &headers,
        body,
        url: Some(&url),
        content_type: Some(&content_type),
    };
    let now = timestamp.trim().parse::<i64>().unwrap_or(1_767_225_600);
    for scheme in SCHEMES {
        let secrets = match scheme {
            Scheme::Standard => vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_string()],
            _ => vec!["fuzz-secret".to_string(), "whsec_fuzz".to_string()],
        };
        let verifier = Verifier { scheme, secrets, tolerance_secs: 300 };
        let outcome = verifier.verify(&req, now);
        let _ = outcome.reason();
        assert_ne!(outcome, Outcome::Valid, "{scheme:?} accepted a random signature");
    }
});
