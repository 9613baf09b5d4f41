//! What `/metrics` shows: counters, gauges and histograms of one running instance.
//!
//! Each app instance owns one [`Metrics`] with its own registry (`prometheus-client`), so
//! several servers in one process (the tests) never mix their counts and nothing global has
//! to be installed. The features receive the handle and record into it; the HTTP edge
//! renders it (`http`). The store's batch writers record into their own [`StoreMetrics`],
//! which the registry shares.
//!
//! Label values are names an operator chose or a small fixed set: source names (see
//! `sources` for how unconfigured ones are capped), rule names, sink kinds, target names.
//! Never a secret or a URL. Depends on nothing else of hookwatch.

pub mod http;
mod names;
mod sources;

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use names::{
    ALERTS, ENRICHMENT_CALLS, FORWARD_ATTEMPTS, FORWARD_PENDING, SIGNATURE_CHECKS, SINK_FAILURES,
    WEBHOOKS, describe_empty,
};
pub use sources::{INVALID_SOURCE, MAX_UNCONFIGURED_SOURCES, OTHER_SOURCE, SourceMetrics};
use sources::{SignatureFamily, SourceCache, WebhookFamily};

/// Seconds buckets for a request or a commit: half a millisecond to ten seconds.
const SECONDS_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The batch writers' timings, shared by the store and the registry (clones share counts).
#[derive(Clone, Debug)]
pub struct StoreMetrics {
    commit_duration: Histogram,
    batch_size: Histogram,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            commit_duration: Histogram::new(SECONDS_BUCKETS),
            // 1, 2, 4 … 1024: the writers' largest batch.
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
        }
    }
}

impl StoreMetrics {
    /// One committed (or failed) batch of `jobs` that took `took` from begin to commit.
    pub fn batch(&self, jobs: usize, took: Duration) {
        self.commit_duration.observe(took.as_secs_f64());
        self.batch_size.observe(jobs as f64);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetResult {
    target: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabel {
    target: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabel {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleState {
    rule: String,
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SinkLabel {
    sink: &'static str,
}

/// One instance's metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

struct Inner {
    registry: Registry,
    sources: SourceCache,
    ingest_duration: Histogram,
    forward_attempts: Family<TargetResult, Counter>,
    forward_pending: Family<TargetLabel, Gauge>,
    enrichment_calls: Family<ResultLabel, Counter>,
    alerts: Family<RuleState, Counter>,
    sink_failures: Family<SinkLabel, Counter>,
    stream_subscribers: Gauge,
    resident_memory: Gauge,
}

impl Default for Metrics {
    /// Metrics of no configured source over store timings nobody records: for parts built
    /// alone (tests, tools).
    fn default() -> Self {
        Metrics::new(&StoreMetrics::default(), Vec::new())
    }
}

impl Metrics {
    /// A registry with every metric described; `configured` are the configured sources and
    /// whether each checks signatures (their series exist from the start, at zero).
    pub fn new(store: &StoreMetrics, configured: Vec<(String, bool)>) -> Metrics {
        let mut registry = Registry::default();
        let webhooks = WebhookFamily::default();
        let signatures = SignatureFamily::default();
        registry.register(WEBHOOKS.name, WEBHOOKS.help, webhooks.clone());
        let checks = &SIGNATURE_CHECKS;
        registry.register(checks.name, checks.help, signatures.clone());
        let ingest_duration = Histogram::new(SECONDS_BUCKETS);
        registry.register_with_unit(
            "hookwatch_ingest_duration",
            "Time from a delivery's arrival to its answer",
            Unit::Seconds,
            ingest_duration.clone(),
        );
        registry.register_with_unit(
            "hookwatch_store_commit_duration",
            "Time to commit one batch of writes",
            Unit::Seconds,
            store.commit_duration.clone(),
        );
        registry.register(
            "hookwatch_store_batch_size",
            "Writes committed together in one batch",
            store.batch_size.clone(),
        );
        let inner = Inner {
            sources: SourceCache::new(webhooks, signatures, configured),
            ingest_duration,
            forward_attempts: Family::default(),
            forward_pending: Family::default(),
            enrichment_calls: Family::default(),
            alerts: Family::default(),
            sink_failures: Family::default(),
            stream_subscribers: Gauge::default(),
            resident_memory: Gauge::default(),
            registry,
        };
        Metrics(Arc::new(register_the_rest(inner)))
    }

    /// The counters of source `name` (`_invalid` for a name that is not a valid source name).
    pub fn source(&self, name: &str) -> Arc<SourceMetrics> {
        self.0.sources.get(name)
    }

    /// One delivery answered after `took`.
    pub fn ingest_took(&self, took: Duration) {
        self.0.ingest_duration.observe(took.as_secs_f64());
    }

    /// One forwarding attempt to `target` (its configured name, never its URL) and how it ended
    /// (`delivered`, `failed`, …).
    pub fn forward_attempt(&self, target: &str, result: &str) {
        let labels = TargetResult {
            target: target.to_string(),
            result: result.to_string(),
        };
        self.0.forward_attempts.get_or_create(&labels).inc();
    }

    /// How many events wait to be forwarded to `target`.
    pub fn forward_pending(&self, target: &str, pending: i64) {
        let labels = TargetLabel {
            target: target.to_string(),
        };
        self.0.forward_pending.get_or_create(&labels).set(pending);
    }

    /// One enrichment: `ok`, `error`, `budget_exhausted` (no call made) or `cached`.
    pub fn enrichment(&self, result: &'static str) {
        let labels = ResultLabel { result };
        self.0.enrichment_calls.get_or_create(&labels).inc();
    }

    /// One alert transition this instance claimed (`firing` or `resolved`).
    pub fn alert(&self, rule: &str, state: &'static str) {
        let labels = RuleState {
            rule: rule.to_string(),
            state,
        };
        self.0.alerts.get_or_create(&labels).inc();
    }

    /// One failed attempt of a sink (`slack`, `webhook`, …) to deliver an alert.
    pub fn sink_failure(&self, sink: &'static str) {
        self.0
            .sink_failures
            .get_or_create(&SinkLabel { sink })
            .inc();
    }

    /// Counts an open live stream until the returned guard is dropped.
    pub fn stream_opened(&self) -> StreamGuard {
        self.0.stream_subscribers.inc();
        StreamGuard(self.0.stream_subscribers.clone())
    }

    /// Every metric in the Prometheus text format, the process's memory read now.
    pub fn render(&self) -> String {
        if let Some(bytes) = resident_memory_bytes() {
            self.0.resident_memory.set(bytes);
        }
        let mut text = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &self.0.registry);
        describe_empty(&mut text);
        text
    }
}

fn register_the_rest(mut inner: Inner) -> Inner {
    let registry = &mut inner.registry;
    let (attempts, pending) = (&FORWARD_ATTEMPTS, &FORWARD_PENDING);
    registry.register(attempts.name, attempts.help, inner.forward_attempts.clone());
    registry.register(pending.name, pending.help, inner.forward_pending.clone());
    let (enrichment, alerts) = (&ENRICHMENT_CALLS, &ALERTS);
    registry.register(
        enrichment.name,
        enrichment.help,
        inner.enrichment_calls.clone(),
    );
    registry.register(alerts.name, alerts.help, inner.alerts.clone());
    let sinks = &SINK_FAILURES;
    registry.register(sinks.name, sinks.help, inner.sink_failures.clone());
    registry.register(
        "hookwatch_stream_subscribers",
        "Open live streams",
        inner.stream_subscribers.clone(),
    );
    registry.register_with_unit(
        "process_resident_memory",
        "Resident memory of the process",
        Unit::Bytes,
        inner.resident_memory.clone(),
    );
    inner
}

/// Holds one live stream in `hookwatch_stream_subscribers`.
pub struct StreamGuard(Gauge);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The resident set size from `/proc/self/status` (Linux); `None` elsewhere.
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
