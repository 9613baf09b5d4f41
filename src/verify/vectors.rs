//! Runs every case of `tests/fixtures/signature-vectors.json` (98 of them, 11 published by the
//! providers) through [`Verifier::verify`], so the Rust verifier and the fixtures' `sign.py` are
//! checked against the same cases. See `tests/fixtures/README.md` for the file's fields.
//!
//! Vectors of scheme `github-sha1` exercise the legacy `x-hub-signature` parser directly: the
//! GitHub scheme itself checks only `x-hub-signature-256` (see `github.rs` for why).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use super::{Outcome, Request, Scheme, Verifier, github};
use crate::model::Header;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
const VECTORS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/signature-vectors.json"
);

/// Any fixed time, for the vectors that carry no timestamp.
const SOME_TIME: i64 = 1_767_225_600;

#[derive(Debug, Deserialize)]
struct Vector {
    id: String,
    scheme: String,
    secret: String,
    secrets: Option<Vec<String>>,
    body: Option<String>,
    body_b64: Option<String>,
    body_file: Option<String>,
    url: Option<String>,
    headers_to_send: BTreeMap<String, String>,
    timestamp: Option<i64>,
    now: Option<i64>,
    expected: String,
    signature_status: String,
}

impl Vector {
    fn body(&self) -> Result<Vec<u8>, String> {
        match (&self.body, &self.body_b64, &self.body_file) {
            (Some(text), None, None) => Ok(text.as_bytes().to_vec()),
            (None, Some(b64), None) => STANDARD.decode(b64).map_err(|e| e.to_string()),
            (None, None, Some(path)) => {
                std::fs::read(format!("{FIXTURES}/{path}")).map_err(|e| format!("{path}: {e}"))
            }
            _ => Err("needs exactly one of body, body_b64, body_file".into()),
        }
    }

    fn scheme(&self) -> Result<Scheme, String> {
        match self.scheme.as_str() {
            "stripe" => Ok(Scheme::Stripe),
            "github" | "github-sha1" => Ok(Scheme::Github),
            "slack" => Ok(Scheme::Slack),
            "shopify" => Ok(Scheme::Shopify),
            "standard" => Ok(Scheme::Standard),
            "twilio" => Ok(Scheme::Twilio),
            other => Err(format!("unknown scheme {other}")),
        }
    }

    /// Runs the case; `Err` describes a mismatch.
    fn run(&self) -> Result<(), String> {
        let body = self.body()?;
        let headers: Vec<Header> = self
            .headers_to_send
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        let content_type = super::header(&headers, "content-type");
        let req = Request {
            headers: &headers,
            body: &body,
            url: self.url.as_deref(),
            content_type,
            query: "",
        };
        let verifier = Verifier {
            scheme: self.scheme()?,
            secrets: self
                .secrets
                .clone()
                .unwrap_or_else(|| vec![self.secret.clone()]),
            tolerance_secs: 300,
        };
        let now = self.now.or(self.timestamp).unwrap_or(SOME_TIME);
        let outcome = if self.scheme == "github-sha1" {
            github::verify_legacy_sha1(&req, &verifier.secrets)
        } else {
            verifier.verify(&req, now)
        };
        let valid = if outcome == Outcome::Valid {
            "valid"
        } else {
            "invalid"
        };
        let status = outcome.signature().as_str();
        if status == self.signature_status && valid == self.expected {
            Ok(())
        } else {
            Err(format!(
                "expected {} ({}), got {status}: {outcome:?}",
                self.signature_status, self.expected
            ))
        }
    }
}

#[test]
fn every_signature_vector_gives_its_expected_status() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("{VECTORS}: {e}"));
    let vectors: Vec<Vector> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(vectors.len(), 98, "the vectors file should hold 98 cases");
    let failures: Vec<String> = vectors
        .iter()
        .filter_map(|v| v.run().err().map(|e| format!("{}: {e}", v.id)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} failing vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_vectors_cover_every_scheme() {
    let text = std::fs::read_to_string(VECTORS).unwrap_or_else(|e| panic!("{VECTORS}: {e}"));
    let vectors: Vec<Vector> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    for scheme in [
        "stripe",
        "github",
        "github-sha1",
        "slack",
        "shopify",
        "standard",
        "twilio",
    ] {
        let count = vectors.iter().filter(|v| v.scheme == scheme).count();
        assert!(count >= 2, "{scheme} has {count} vectors");
    }
}
