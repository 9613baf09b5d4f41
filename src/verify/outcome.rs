//! The result of verifying one request, stored with the event: [`Outcome`] and, when the
//! signature is invalid, the [`Reason`] shown to the user.
//!
//! A reason's text never contains a secret or a signature value, only header names, fixed
//! descriptions and numbers, so it is safe to store, log and show on the dashboard.

use crate::model::Signature;

/// What verification concluded about one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A signature made with one of the source's secrets, inside the time window.
    Valid,
    /// A signature header was sent but does not prove the request came from the sender.
    Invalid(Reason),
    /// The scheme's signature header (or one it needs beside it) was not sent at all.
    Missing,
}

impl Outcome {
    /// The stored status (`valid`, `invalid`, `missing`).
    pub fn signature(&self) -> Signature {
        match self {
            Outcome::Valid => Signature::Valid,
            Outcome::Invalid(_) => Signature::Invalid,
            Outcome::Missing => Signature::Missing,
        }
    }

    /// Why the signature is invalid, as stored in `signature_reason`; `None` otherwise.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Invalid(reason) => Some(reason.to_string()),
            Outcome::Valid | Outcome::Missing => None,
        }
    }
}

/// Why a signature is invalid. The `Display` text is a short sentence for humans.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// Well-formed, but made with none of the source's secrets (or over other bytes).
    #[error("no secret matches the signature")]
    WrongSecret,
    /// The signature matches, but the signed timestamp is older than the tolerance: a replay,
    /// a long-delayed retry, or a clock that is behind.
    #[error("timestamp is {age_secs} s old (tolerance {tolerance_secs} s)")]
    StaleTimestamp { age_secs: u64, tolerance_secs: u64 },
    /// The signature matches, but the signed timestamp is ahead of `now` by more than the
    /// tolerance: a clock that is ahead, or a request pre-signed for later replay.
    #[error("timestamp is {ahead_secs} s in the future (tolerance {tolerance_secs} s)")]
    FutureTimestamp {
        ahead_secs: u64,
        tolerance_secs: u64,
    },
    /// A header the scheme needs was sent but cannot be parsed.
    #[error("{header} header is malformed: {problem}")]
    MalformedHeader {
        header: &'static str,
        problem: &'static str,
    },
    /// The header holds only signature versions hookwatch does not check (Stripe `v0`, Slack
    /// `v1=`, Standard Webhooks `v1a`/`v2`); accepting an unknown version would be a way around
    /// verification.
    #[error("{header} header has no {version} signature, the only version checked")]
    UnsupportedVersion {
        header: &'static str,
        version: &'static str,
    },
    /// Twilio JSON body: the URL signature matches, but the body is not the one whose hash the
    /// URL carries in `bodySHA256`.
    #[error("body does not match the bodySHA256 in the URL")]
    BodyHashMismatch,
    /// Twilio signs the URL it called, and the source has no public URL to rebuild it from.
    #[error("no public URL to check the Twilio signature against")]
    NoPublicUrl,
    /// None of the source's secrets can be used with the scheme (e.g. a Standard Webhooks
    /// secret that is not base64); config should have refused it at start-up.
    #[error("no configured secret is usable: {0}")]
    UnusableSecret(&'static str),
    /// A configurable scheme's credential (a header or query parameter named in config) was
    /// sent but cannot be read; `what` names it (`x-acme-signature header`).
    #[error("{what} is malformed: {problem}")]
    Malformed { what: String, problem: &'static str },
    /// A header that the `signed` template or the timestamp check needs was not sent.
    #[error("{0} header was not sent, and the signature covers it")]
    MissingSignedHeader(String),
    /// Basic auth or an API key that matches none of the source's.
    #[error("the credentials match none of the source's")]
    WrongCredentials,
    /// The same credential sent twice (two headers, or header and query): refused rather than
    /// guessing which one counts.
    #[error("{0}")]
    Ambiguous(&'static str),
    /// The client address is outside the source's `allow_ips`.
    #[error("client address {0} is not in allow_ips")]
    AddressNotAllowed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_timestamp_reads_as_its_age_and_the_tolerance() {
        let reason = Reason::StaleTimestamp {
            age_secs: 301,
            tolerance_secs: 300,
        };
        assert_eq!(
            reason.to_string(),
            "timestamp is 301 s old (tolerance 300 s)"
        );
    }

    #[test]
    fn only_an_invalid_outcome_has_a_reason() {
        assert_eq!(Outcome::Valid.reason(), None);
        assert_eq!(Outcome::Missing.reason(), None);
        let invalid = Outcome::Invalid(Reason::WrongSecret);
        assert_eq!(
            invalid.reason().as_deref(),
            Some("no secret matches the signature")
        );
        assert_eq!(invalid.signature(), Signature::Invalid);
        assert_eq!(Outcome::Missing.signature(), Signature::Missing);
        assert_eq!(Outcome::Valid.signature(), Signature::Valid);
    }

    #[test]
    fn a_malformed_header_reason_names_the_header_and_the_problem() {
        let reason = Reason::MalformedHeader {
            header: "stripe-signature",
            problem: "no t= timestamp",
        };
        assert_eq!(
            reason.to_string(),
            "stripe-signature header is malformed: no t= timestamp"
        );
    }
}
