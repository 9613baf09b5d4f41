//! One `[[forward]]` rule, resolved: what it takes, where it sends, and how hard it tries.
//!
//! Built by `config::forward` from the file; read by the worker, the enqueuer and the API.
//! Plain data, no I/O.

use std::time::Duration;

use super::rule::Rule;
use super::target::Kind;

/// Per-attempt timeout when a rule sets none.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// Attempts before a delivery is dead when a rule sets none.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 12;
/// Concurrent requests to one target when a rule sets none.
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 8;

/// A resolved `[[forward]]` rule; its `name` is the target's identity in the store.
#[derive(Debug, Clone)]
pub struct TargetSettings {
    pub name: String,
    pub rule: Rule,
    /// As written: it may hold credentials, so it is shown only through `redact::url`.
    pub to: String,
    pub kind: Kind,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub max_in_flight: u32,
    /// Sign again with the source's first secret at send time.
    pub resign: bool,
    /// Headers added to every delivery, after the original ones.
    pub add_headers: Vec<(String, String)>,
    /// Deliveries per second to this target; `None` is unlimited.
    pub rate_per_sec: Option<f64>,
    /// NATS only: make a JetStream stream for the subject when none takes it.
    pub create_stream: bool,
}

impl TargetSettings {
    /// The settings of an ad-hoc replay target (`POST /api/events/{id}/replay` with a `to`):
    /// the defaults, nothing added.
    pub fn ad_hoc(to: &str) -> TargetSettings {
        TargetSettings {
            name: crate::redact::url(to),
            rule: Rule {
                source: super::rule::SourceMatch::Any,
                event_type: None,
                filter: Vec::new(),
            },
            to: to.to_string(),
            kind: Kind::Http,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_SECS),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            resign: false,
            add_headers: Vec::new(),
            rate_per_sec: None,
            create_stream: false,
        }
    }
}
