//! Hostile input: whatever a sender puts in the headers, body or URL, verification must not
//! panic, must not call a forgery valid, and must take time linear in the input.
//!
//! Property tests feed every header every scheme reads with arbitrary text (commas, spaces,
//! `=`, any Unicode, up to ~100 KB). The timing test uses 1 MB headers shaped to hit each
//! parser's loops and asserts a bound ([`LIMIT`]) that linear code meets with a wide margin on a
//! loaded machine, while quadratic code (≈10¹¹ steps) could not.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::{
    Algorithm, ApiKeyScheme, BasicScheme, Encoding, HmacScheme, Outcome, Request, Scheme, Template,
    Verifier,
};
use crate::model::Header;

/// Every built-in scheme and one of each configurable kind.
fn schemes() -> Vec<Scheme> {
    let hmac = HmacScheme {
        header: "x-acme-signature".into(),
        algorithm: Algorithm::Sha512,
        encoding: Encoding::Base64,
        prefix: Some("sha512=".into()),
        timestamp_header: Some("x-acme-timestamp".into()),
        signed: Template::parse("{timestamp}.{header:webhook-id}.{url}.{body}").expect("template"),
    };
    vec![
        Scheme::Stripe,
        Scheme::Github,
        Scheme::Slack,
        Scheme::Shopify,
        Scheme::Standard,
        Scheme::Twilio,
        Scheme::Hmac(Box::new(hmac)),
        Scheme::Basic(BasicScheme {
            user: "user".into(),
        }),
        Scheme::ApiKey(ApiKeyScheme {
            header: Some("x-api-key".into()),
            query: Some("key".into()),
        }),
    ]
}

/// Headers whose values are signatures or credentials: the ones with loops over entries.
const SIGNATURE_HEADERS: [&str; 10] = [
    "stripe-signature",
    "x-hub-signature-256",
    "x-slack-signature",
    "x-shopify-hmac-sha256",
    "webhook-signature",
    "svix-signature",
    "x-twilio-signature",
    "x-acme-signature",
    "authorization",
    "x-api-key",
];

/// The other headers a scheme reads, with a plausible value that lets parsing go on to the
/// signature.
const OTHER_HEADERS: [(&str, &str); 8] = [
    (
        "x-hub-signature",
        "sha1=01dc10d0c83e72ed246219cdd91669667fe2ca59",
    ),
    ("x-slack-request-timestamp", "1767225600"),
    ("webhook-id", "msg_1"),
    ("webhook-timestamp", "1767225600"),
    ("svix-id", "msg_1"),
    ("svix-timestamp", "1767225600"),
    ("content-type", "application/x-www-form-urlencoded"),
    ("x-acme-timestamp", "1767225600"),
];

const NOW: i64 = 1_767_225_600;

/// Linear code verifies a 1 MB input in well under 0.3 s in a debug build; quadratic code would
/// need hours. The wide margin keeps the test stable on a loaded 2-core machine.
const LIMIT: Duration = Duration::from_secs(5);

fn verifier(scheme: Scheme) -> Verifier {
    let secrets = match scheme {
        Scheme::Standard => vec![
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            "AAAA".into(),
        ],
        _ => vec!["secret-one".into(), "whsec_two".into()],
    };
    Verifier {
        scheme,
        secrets,
        tolerance_secs: 300,
    }
}

/// Verifies `headers` with every scheme and returns the outcomes.
fn verify_all(headers: &[Header], body: &[u8], url: Option<&str>) -> Vec<Outcome> {
    let content_type = super::header(headers, "content-type");
    let req = Request {
        headers,
        body,
        url,
        content_type,
        query: url.unwrap_or(""),
    };
    schemes()
        .into_iter()
        .map(|s| verifier(s).verify(&req, NOW))
        .collect()
}

/// Characters that matter to the parsers, often; any character, sometimes.
fn weird_char() -> impl Strategy<Value = char> {
    let special = vec![
        ',', ' ', '=', '.', ':', ';', 't', 'v', '0', '1', 'a', 'f', 'A', '/', '+', '?', '&', '#',
        '[', ']', '@', '%', '\t', '\u{0}', 'é', '\u{feff}', '𝄞',
    ];
    prop_oneof![4 => prop::sample::select(special), 1 => any::<char>()]
}

fn weird_string(max_len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(weird_char(), 0..max_len).prop_map(String::from_iter)
}

/// Headers where every signature header holds `value` and the others hold `other` (or their
/// plausible value when `other` is `None`).
fn headers_with(value: &str, other: Option<&str>) -> Vec<Header> {
    let signatures = SIGNATURE_HEADERS
        .iter()
        .map(|name| (name.to_string(), value.to_string()));
    let others = OTHER_HEADERS
        .iter()
        .map(|(name, plausible)| (name.to_string(), other.unwrap_or(plausible).to_string()));
    signatures.chain(others).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_headers_never_panic_and_are_never_valid(
        values in prop::collection::vec(prop::option::of(weird_string(300)), 18),
        body in prop::collection::vec(any::<u8>(), 0..256),
        url in prop::option::of(weird_string(200)),
    ) {
        let names = SIGNATURE_HEADERS.iter().chain(OTHER_HEADERS.iter().map(|(n, _)| n));
        let headers: Vec<Header> = names
            .zip(&values)
            .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
            .collect();
        for outcome in verify_all(&headers, &body, url.as_deref()) {
            prop_assert_ne!(outcome, Outcome::Valid);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn long_repetitive_headers_never_panic(pattern in weird_string(12), plausible in any::<bool>()) {
        let unit = if pattern.is_empty() { ",".to_string() } else { pattern };
        let long = unit.repeat(100_000 / unit.len() + 1);
        let other = if plausible { None } else { Some(long.as_str()) };
        let headers = headers_with(&long, other);
        for outcome in verify_all(&headers, long.as_bytes(), Some(&long)) {
            prop_assert_ne!(outcome, Outcome::Valid);
        }
    }
}

/// 1 MB header values shaped to make each parser loop as much as it can.
fn hostile_values() -> Vec<String> {
    const SIZE: usize = 1 << 20;
    let units = [
        ",",
        " ",
        "=",
        "t=1,",
        "v1=,",
        "v1=0000000000000000000000000000000000000000000000000000000000000000,",
        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= ",
        "v1a,x ",
        ":@]",
        "a=b&",
    ];
    let mut values: Vec<String> = units.iter().map(|u| u.repeat(SIZE / u.len())).collect();
    values.push(format!("t=1767225600,{}", "v1=00,".repeat(SIZE / 6)));
    values.push("0".repeat(SIZE));
    values
}

#[test]
fn verifying_a_megabyte_header_takes_linear_time() {
    for value in hostile_values() {
        let url = format!("https://h:1/{value}?bodySHA256={value}");
        for plausible_others in [true, false] {
            let other = if plausible_others {
                None
            } else {
                Some(value.as_str())
            };
            let headers = headers_with(&value, other);
            for scheme in schemes() {
                let req = Request {
                    headers: &headers,
                    body: value.as_bytes(),
                    url: Some(&url),
                    content_type: None,
                    query: &url,
                };
                let started = Instant::now();
                let outcome = verifier(scheme.clone()).verify(&req, NOW);
                let took = started.elapsed();
                let head: String = value.chars().take(20).collect();
                assert!(took < LIMIT, "{scheme:?} took {took:?} on {head:?}…");
                assert_ne!(outcome, Outcome::Valid);
            }
        }
    }
}

#[test]
fn a_twilio_request_with_a_megabyte_url_and_form_takes_linear_time() {
    let headers = vec![(
        "x-twilio-signature".to_string(),
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=".to_string(),
    )];
    for value in hostile_values() {
        let url = format!("https://h:1/{value}?{value}");
        for content_type in [None, Some("application/json")] {
            let req = Request {
                headers: &headers,
                body: value.as_bytes(),
                url: Some(&url),
                content_type,
                query: "",
            };
            let started = Instant::now();
            let outcome = verifier(Scheme::Twilio).verify(&req, NOW);
            let took = started.elapsed();
            let head: String = value.chars().take(20).collect();
            assert!(took < LIMIT, "took {took:?} on {head:?}…");
            assert_ne!(outcome, Outcome::Valid);
        }
    }
}
