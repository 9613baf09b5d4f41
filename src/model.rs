//! Plain data shared by every layer: the event as received and as stored.
//!
//! Must not depend on anything else in the crate, on I/O, tokio, axum or SQL. Everything
//! here is cheap to construct in tests.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who sent a delivery; decides how event type, delivery id and signature are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    Stripe,
    Github,
    Slack,
    Shopify,
    Standard,
    Twilio,
    Generic,
}

impl Provider {
    /// Every provider, for parsing and for listing in messages.
    pub const ALL: [Provider; 7] = [
        Provider::Stripe,
        Provider::Github,
        Provider::Slack,
        Provider::Shopify,
        Provider::Standard,
        Provider::Twilio,
        Provider::Generic,
    ];

    /// The name used in config files, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Github => "github",
            Provider::Slack => "slack",
            Provider::Shopify => "shopify",
            Provider::Standard => "standard",
            Provider::Twilio => "twilio",
            Provider::Generic => "generic",
        }
    }

    /// Parses a stored or configured name; `None` for anything unknown.
    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The outcome of signature verification, stored with every event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signature {
    Valid,
    Invalid,
    Missing,
    /// The source has no secret, so nothing was checked.
    Unverified,
}

impl Signature {
    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Signature::Valid => "valid",
            Signature::Invalid => "invalid",
            Signature::Missing => "missing",
            Signature::Unverified => "unverified",
        }
    }

    /// Parses a stored or queried name.
    pub fn parse(name: &str) -> Option<Signature> {
        [
            Signature::Valid,
            Signature::Invalid,
            Signature::Missing,
            Signature::Unverified,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// Whether a delivery was accepted, or refused (401) and only recorded for diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Received,
    Rejected,
}

impl Status {
    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Received => "received",
            Status::Rejected => "rejected",
        }
    }

    /// Parses a stored or queried name.
    pub fn parse(name: &str) -> Option<Status> {
        [Status::Received, Status::Rejected]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One HTTP header as received: the name lower-cased (HTTP names are case-insensitive), the
/// value exactly as sent. Values that are not UTF-8 are decoded as Latin-1, which maps every
/// byte to one char and so loses nothing.
pub type Header = (String, String);

/// The first value of header `name`. Names are compared ignoring ASCII case: ingest stores
/// them lower-case, but a mixed-case name from any caller must never make a header look
/// absent (a signed request would then read as unsigned).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// A delivery as ingest hands it to the store: everything the sender sent, plus what hookwatch
/// concluded about it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub remote_addr: String,
    pub content_type: Option<String>,
    /// In the order received; a repeated header appears once per occurrence.
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
    pub provider: Provider,
    pub event_type: Option<String>,
    pub delivery_id: Option<String>,
    pub signature: Signature,
    /// Why the signature is `invalid` (wrong secret, stale timestamp, malformed header).
    pub signature_reason: Option<String>,
    /// Counts toward `signature_failures`: invalid, or missing on a source that has secrets.
    pub signature_failure: bool,
    pub status: Status,
    /// The delivery reports a failure (`provider::failure`); always false for a rejected
    /// one, whose content is not trusted (see `ingest::judge`).
    pub is_error: bool,
}

#[cfg(test)]
impl NewEvent {
    /// A small generic delivery to `source` for unit tests; `n` makes its body and type unique.
    pub fn sample(source: &str, n: usize) -> NewEvent {
        NewEvent {
            source: source.into(),
            received_at: Utc::now(),
            method: "POST".into(),
            path: format!("/webhook/{source}"),
            query: String::new(),
            remote_addr: "127.0.0.1".into(),
            content_type: None,
            headers: Vec::new(),
            body: format!("{n}").into_bytes(),
            provider: Provider::Generic,
            event_type: Some(format!("t{n}")),
            delivery_id: None,
            signature: Signature::Unverified,
            signature_reason: None,
            signature_failure: false,
            status: Status::Received,
            is_error: false,
        }
    }
}

/// A stored event: the delivery, its id, and what happened to it since.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: i64,
    /// The delivery. In summaries (lists, the live feed) `headers` and `body` are left empty.
    pub new: NewEvent,
    /// The body's length in bytes, kept apart so summaries know it without the body.
    pub size: i64,
    pub duplicates: i64,
    /// The enrichment document, when enrichment ran.
    pub enrichment: Option<serde_json::Value>,
}

impl Event {
    /// Whether this is a summary whose body was left out (a non-empty body that is not here):
    /// whoever needs the body then reads the whole event from the store.
    pub fn lacks_body(&self) -> bool {
        self.new.body.len() as i64 != self.size
    }
}

/// What an alert rule watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    Burst,
    Errors,
    Silence,
    SignatureFailures,
    /// Failed or dead forwarding deliveries of a target (its `source` is the target's name).
    ForwardFailures,
}

impl AlertKind {
    /// Every kind, for parsing and for listing in messages.
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Burst,
        AlertKind::Errors,
        AlertKind::Silence,
        AlertKind::SignatureFailures,
        AlertKind::ForwardFailures,
    ];

    /// The name used in config files, the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Burst => "burst",
            AlertKind::Errors => "errors",
            AlertKind::Silence => "silence",
            AlertKind::SignatureFailures => "signature_failures",
            AlertKind::ForwardFailures => "forward_failures",
        }
    }

    /// Parses a configured or stored name; `None` for anything unknown.
    pub fn parse(name: &str) -> Option<AlertKind> {
        AlertKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// Whether an alert notice says a condition started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Firing,
    Resolved,
}

impl AlertState {
    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Resolved => "resolved",
        }
    }

    /// Parses a stored name.
    pub fn parse(name: &str) -> Option<AlertState> {
        [AlertState::Firing, AlertState::Resolved]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// One firing or resolution of a rule for one source, as evaluated and before it is stored.
/// `(rule, source, state, at)` identifies it: every instance evaluating the same events
/// computes the same four values, which is what lets a store hand it out exactly once.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAlert {
    pub rule: String,
    pub kind: AlertKind,
    pub source: String,
    pub state: AlertState,
    /// Matching events in the window when the transition happened.
    pub count: u64,
    pub window_secs: u64,
    /// The event time at which the condition changed (not the wall-clock time it was noticed).
    pub at: DateTime<Utc>,
    /// A few of the events that tripped it, newest last.
    pub sample_event_ids: Vec<i64>,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub id: i64,
    pub new: NewAlert,
}

/// Whether `name` may name a source: 1–64 characters of `[A-Za-z0-9._-]`. Anything
/// else is refused before a byte is stored, so names are always safe in URLs, logs and SQL.
pub fn is_valid_source_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_names_follow_the_spec_alphabet_and_length() {
        assert!(is_valid_source_name("stripe"));
        assert!(is_valid_source_name("my.app_v2-prod"));
        assert!(is_valid_source_name(&"a".repeat(64)));
        assert!(!is_valid_source_name(&"a".repeat(65)));
        assert!(!is_valid_source_name(""));
        assert!(!is_valid_source_name("a b"));
        assert!(!is_valid_source_name("<script>"));
        assert!(!is_valid_source_name("é"));
    }
}
