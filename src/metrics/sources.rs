//! Per-source counter handles, found without allocating on the ingest path.
//!
//! Looking a series up in a `Family` needs an owned label set (a `String` per request), so
//! each source's counters are made once and kept: configured sources at start, in a map that
//! never changes; sources hookwatch accepts without configuration when first seen, up to
//! [`MAX_UNCONFIGURED_SOURCES`]. Past that cap every new unconfigured name counts as
//! [`OTHER_SOURCE`], so a sender inventing names cannot grow `/metrics` without bound.
//! Invalid names all count as [`INVALID_SOURCE`].

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;

use crate::model::Signature;

/// The source label of a request whose source name failed validation.
pub const INVALID_SOURCE: &str = "_invalid";
/// The source label of unconfigured sources first seen after the cap.
pub const OTHER_SOURCE: &str = "_other";
/// Unconfigured source names that get their own series.
pub const MAX_UNCONFIGURED_SOURCES: usize = 100;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SourceOutcome {
    source: String,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(super) struct SourceResult {
    source: String,
    result: &'static str,
}

pub(super) type WebhookFamily = Family<SourceOutcome, Counter>;
pub(super) type SignatureFamily = Family<SourceResult, Counter>;

/// One source's counters.
#[derive(Debug)]
pub struct SourceMetrics {
    pub received: Counter,
    pub duplicate: Counter,
    pub rejected: Counter,
    pub too_large: Counter,
    pub bad_request: Counter,
    pub unavailable: Counter,
    /// Only for sources that check signatures.
    signatures: Option<[Counter; 3]>,
}

impl SourceMetrics {
    fn new(name: &str, webhooks: &WebhookFamily, signatures: Option<&SignatureFamily>) -> Self {
        let outcome = |outcome| {
            let labels = SourceOutcome {
                source: name.to_string(),
                outcome,
            };
            webhooks.get_or_create_owned(&labels)
        };
        let signatures = signatures.map(|family| {
            ["valid", "invalid", "missing"].map(|result| {
                let labels = SourceResult {
                    source: name.to_string(),
                    result,
                };
                family.get_or_create_owned(&labels)
            })
        });
        SourceMetrics {
            received: outcome("received"),
            duplicate: outcome("duplicate"),
            rejected: outcome("rejected"),
            too_large: outcome("too_large"),
            bad_request: outcome("bad_request"),
            unavailable: outcome("unavailable"),
            signatures,
        }
    }

    /// One signature check's result; ignored for a source that checks none.
    pub fn signature(&self, signature: Signature) {
        let Some([valid, invalid, missing]) = &self.signatures else {
            return;
        };
        match signature {
            Signature::Valid => valid.inc(),
            Signature::Invalid => invalid.inc(),
            Signature::Missing => missing.inc(),
            Signature::Unverified => return,
        };
    }
}

pub(super) struct SourceCache {
    webhooks: WebhookFamily,
    configured: HashMap<String, Arc<SourceMetrics>>,
    unconfigured: RwLock<HashMap<String, Arc<SourceMetrics>>>,
    /// Made when first needed, so they show only when they count something.
    invalid: OnceLock<Arc<SourceMetrics>>,
    other: OnceLock<Arc<SourceMetrics>>,
}

impl SourceCache {
    pub(super) fn new(
        webhooks: WebhookFamily,
        signatures: SignatureFamily,
        configured: Vec<(String, bool)>,
    ) -> SourceCache {
        let configured = configured
            .into_iter()
            .map(|(name, verified)| {
                let checks = verified.then_some(&signatures);
                let metrics = SourceMetrics::new(&name, &webhooks, checks);
                (name, Arc::new(metrics))
            })
            .collect();
        SourceCache {
            invalid: OnceLock::new(),
            other: OnceLock::new(),
            unconfigured: RwLock::default(),
            configured,
            webhooks,
        }
    }

    pub(super) fn get(&self, name: &str) -> Arc<SourceMetrics> {
        if let Some(metrics) = self.configured.get(name) {
            return metrics.clone();
        }
        if !crate::model::is_valid_source_name(name) {
            return self.shared(&self.invalid, INVALID_SOURCE);
        }
        let seen = self
            .unconfigured
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(metrics) = seen.get(name) {
            return metrics.clone();
        }
        drop(seen);
        let mut seen = self
            .unconfigured
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(metrics) = seen.get(name) {
            return metrics.clone();
        }
        if seen.len() >= MAX_UNCONFIGURED_SOURCES {
            return self.shared(&self.other, OTHER_SOURCE);
        }
        let metrics = Arc::new(SourceMetrics::new(name, &self.webhooks, None));
        seen.insert(name.to_string(), metrics.clone());
        metrics
    }

    fn shared(&self, cell: &OnceLock<Arc<SourceMetrics>>, label: &str) -> Arc<SourceMetrics> {
        cell.get_or_init(|| Arc::new(SourceMetrics::new(label, &self.webhooks, None)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> SourceCache {
        let configured = vec![("stripe".to_string(), true)];
        SourceCache::new(Family::default(), Family::default(), configured)
    }

    #[test]
    fn unconfigured_sources_past_the_cap_share_one_series() {
        let cache = cache();
        for n in 0..MAX_UNCONFIGURED_SOURCES {
            cache.get(&format!("s{n}")).received.inc();
        }
        let late = cache.get("one-too-many");
        late.received.inc();
        assert!(Arc::ptr_eq(&late, &cache.get("another-late-one")));
        assert_eq!(cache.get("s0").received.get(), 1);
        assert_eq!(late.received.get(), 1);
        // Configured sources never count against the cap.
        assert_eq!(cache.get("stripe").received.get(), 0);
        assert!(!Arc::ptr_eq(&cache.get("stripe"), &late));
    }

    #[test]
    fn invalid_names_share_the_invalid_series() {
        let cache = cache();
        let invalid = cache.get("bad name");
        assert!(Arc::ptr_eq(&invalid, &cache.get("")));
        assert!(Arc::ptr_eq(&invalid, &cache.get(&"x".repeat(65))));
    }

    #[test]
    fn only_sources_that_check_signatures_count_checks() {
        let cache = cache();
        assert!(cache.get("stripe").signatures.is_some());
        assert!(cache.get("unconfigured").signatures.is_none());
    }
}
