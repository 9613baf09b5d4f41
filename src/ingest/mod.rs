//! Ingest: turn one HTTP delivery into a stored event and say what the sender should hear.
//!
//! The path of a webhook: `ingest::http` reads the request (size limit, source name) into a
//! `Delivery`; `Ingest::accept` reads the provider facts, checks the signature, applies the
//! source's policy, hands the event to the store and waits for the commit (the store then
//! publishes it on the feed, in commit order). Knows nothing of axum; decides nothing about
//! status codes.

pub mod http;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::{OnInvalid, SourceSettings};
use crate::model::{Header, NewEvent, Signature, Status, header};
use crate::provider::{self, SourceRules};
use crate::store::{Inserted, Store, StoreError};
use crate::verify;

/// A request as received, before hookwatch has judged it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub source: String,
    pub received_at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub remote_addr: String,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

/// What the sender is to be told.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Received {
        id: i64,
        source: String,
        received_at: DateTime<Utc>,
    },
    Duplicate {
        id: i64,
    },
    /// Slack's handshake: the reply body is the challenge.
    SlackChallenge(String),
    /// The signature failed and the source rejects such deliveries; recorded as `rejected`.
    Rejected {
        reason: String,
    },
}

/// Ingest with its collaborators; cheap to clone.
#[derive(Clone)]
pub struct Ingest {
    store: Store,
    sources: Arc<BTreeMap<String, SourceSettings>>,
    unconfigured: Arc<SourceSettings>,
}

impl Ingest {
    pub fn new(store: Store, sources: Arc<BTreeMap<String, SourceSettings>>) -> Ingest {
        let unconfigured = Arc::new(SourceSettings {
            rules: SourceRules::default(),
            verifier: None,
            on_invalid: OnInvalid::Reject,
            public_url: None,
        });
        Ingest {
            store,
            sources,
            unconfigured,
        }
    }

    /// Judges and stores one delivery (the store publishes it). Returns only after the commit.
    pub async fn accept(&self, delivery: Delivery) -> Result<Outcome, StoreError> {
        let settings = self
            .sources
            .get(&delivery.source)
            .unwrap_or(&self.unconfigured);
        let (event, challenge) = judge(settings, delivery);
        let status = event.status;
        let reason = event.signature_reason.clone();
        let inserted = self.store.insert(event).await?;
        match inserted {
            Inserted::Duplicate { id } => Ok(Outcome::Duplicate { id }),
            Inserted::Stored(event) => {
                if status == Status::Rejected {
                    let reason = reason.unwrap_or_else(|| "signature missing".into());
                    return Ok(Outcome::Rejected { reason });
                }
                if let Some(challenge) = challenge {
                    return Ok(Outcome::SlackChallenge(challenge));
                }
                Ok(Outcome::Received {
                    id: event.id,
                    source: event.new.source.clone(),
                    received_at: event.new.received_at,
                })
            }
        }
    }
}

/// Reads the delivery's facts and signature and applies the source's policy. Pure: the time
/// is the delivery's own arrival time.
///
/// A rejected delivery is never an error (`is_error` false), whatever its body says: its
/// content is not trusted, so a forger sending `"status":"failed"` must not raise the
/// `errors` count or alert. Deciding it here, once, makes every consumer agree (the rollups
/// behind `/api/stats` and `/api/sources`, the `error=` filter, the `errors` alert rule);
/// such records still count in `rejected` and `signature_failures`.
pub fn judge(settings: &SourceSettings, d: Delivery) -> (NewEvent, Option<String>) {
    let content_type = header(&d.headers, "content-type").map(str::to_string);
    let parsed = settings.rules.parse(content_type.as_deref(), &d.body);
    let facts = provider::facts(&settings.rules, &d.headers, parsed.as_ref());
    let challenge = provider::slack_challenge(facts.provider, parsed.as_ref());
    let (signature, reason) = check_signature(settings, &d, content_type.as_deref());
    let failed = matches!(signature, Signature::Invalid | Signature::Missing);
    let status = if failed && settings.on_invalid == OnInvalid::Reject {
        Status::Rejected
    } else {
        Status::Received
    };
    let event = NewEvent {
        source: d.source,
        received_at: d.received_at,
        method: d.method,
        path: d.path,
        query: d.query,
        remote_addr: d.remote_addr,
        content_type,
        headers: d.headers,
        body: d.body,
        provider: facts.provider,
        event_type: facts.event_type,
        delivery_id: facts.delivery_id,
        signature,
        signature_reason: reason,
        signature_failure: failed,
        status,
        is_error: facts.is_error && status == Status::Received,
    };
    (event, challenge)
}

fn check_signature(
    settings: &SourceSettings,
    d: &Delivery,
    content_type: Option<&str>,
) -> (Signature, Option<String>) {
    let Some(verifier) = &settings.verifier else {
        return (Signature::Unverified, None);
    };
    let url = settings.public_url.as_deref().map(|base| {
        let base = base.trim_end_matches('/');
        match d.query.is_empty() {
            true => format!("{base}{}", d.path),
            false => format!("{base}{}?{}", d.path, d.query),
        }
    });
    let request = verify::Request {
        headers: &d.headers,
        body: &d.body,
        url: url.as_deref(),
        content_type,
    };
    let outcome = verifier.verify(&request, d.received_at.timestamp());
    (outcome.signature(), outcome.reason())
}
