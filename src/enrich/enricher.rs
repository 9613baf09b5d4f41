//! One enrichment, start to finish: render the query, answer from the cache or call the
//! service within the daily budget, build the document, store it on the event.
//!
//! Shared by the background worker and `POST /api/events/{id}/enrich`. The cache and the
//! budget sit behind one `std::sync::Mutex`, held only for map lookups, never across an await.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};

use super::budget::{Budget, Spend};
use super::cache::{self, Cache};
use super::call::{self, CallError, Outbound};
use super::settings::{EnrichSettings, Kind};
use super::template::Context;
use super::{http_kind, swiftsearch};
use crate::metrics::Metrics;
use crate::model::Event;
use crate::provider;
use crate::store::{Store, StoreError};

/// Longest a failed answer is cached: an outage must not hammer the service with one call
/// per identical event, but recovery should show within a minute.
const ERROR_CACHE_SECS: u64 = 60;
/// Added to the longest enrichment to make a claim's lease: writing the result, a slow store.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// Why enrichment did not start.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

/// What asked for the enrichment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The worker, for a newly stored event: cached answers are used.
    Feed,
    /// An operator: the service is asked afresh (the cache is refreshed, not read).
    OnDemand,
}

/// The enrichment service with its cache, budget and counters; shared behind an `Arc`.
pub struct Enricher {
    pub(super) settings: EnrichSettings,
    pub(super) store: Store,
    outbound: Outbound,
    memory: Mutex<Memory>,
    skipped: AtomicU64,
    /// Counts each enrichment by result.
    metrics: Metrics,
}

struct Memory {
    cache: Cache<Result<Value, String>>,
    budget: Budget,
}

impl Enricher {
    pub fn new(
        settings: EnrichSettings,
        store: Store,
        metrics: Metrics,
    ) -> Result<Enricher, EnrichError> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("hookwatch/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| EnrichError::Client(e.to_string()))?;
        let outbound = Outbound {
            client,
            url: settings.url.clone(),
            key: settings.api_key.clone(),
            timeout: Duration::from_secs(settings.timeout_secs),
        };
        let memory = Mutex::new(Memory {
            cache: Cache::new(cache::DEFAULT_CAPACITY),
            budget: Budget::new(settings.max_calls_per_day),
        });
        Ok(Enricher {
            settings,
            store,
            outbound,
            memory,
            skipped: AtomicU64::new(0),
            metrics,
        })
    }

    /// How long a claim lasts: longer than the longest enrichment (every attempt timing out,
    /// the longest waits between them), plus a margin, so a live process never loses its
    /// claim to another, while a dead one's claim is taken over soon after.
    pub fn lease(&self) -> TimeDelta {
        let attempts = call::MAX_ATTEMPTS;
        let longest = Duration::from_secs(self.settings.timeout_secs) * attempts
            + call::MAX_RETRY_AFTER * (attempts - 1)
            + LEASE_MARGIN;
        TimeDelta::from_std(longest).unwrap_or(TimeDelta::MAX)
    }

    /// Whether the worker enriches this event unasked.
    pub fn wants(&self, event: &Event) -> bool {
        self.settings.rule.matches(event)
    }

    /// Events skipped because the queue was full or the feed ran ahead, since start.
    pub fn skipped(&self) -> u64 {
        self.skipped.load(Ordering::Relaxed)
    }

    /// Counts skipped events; logs the first and then every hundredth, not every one.
    pub(super) fn note_skipped(&self, count: u64, why: &'static str) {
        let before = self.skipped.fetch_add(count, Ordering::Relaxed);
        let total = before + count;
        if before == 0 || before / 100 != total / 100 {
            tracing::warn!(
                skipped = total,
                reason = why,
                "Enrichment is behind; events skipped."
            );
        }
    }

    /// Enriches one event and stores the document; returns the document.
    pub async fn enrich(&self, event: &Event, trigger: Trigger) -> Result<Value, StoreError> {
        let query = self.query(event);
        let cached = match trigger {
            Trigger::Feed => self.lock().cache.get(&query, Utc::now()),
            Trigger::OnDemand => None,
        };
        let outcome = match cached {
            Some(outcome) => {
                self.metrics.enrichment("cached");
                outcome
            }
            None => self.call(event, &query).await,
        };
        let document = self.document(&query, outcome, Utc::now());
        self.store.set_enrichment(event.id, &document).await?;
        Ok(document)
    }

    fn query(&self, event: &Event) -> String {
        let n = &event.new;
        let body = provider::parse_body(n.content_type.as_deref(), &n.body);
        self.settings.query.render(&Context {
            source: &n.source,
            event_type: n.event_type.as_deref(),
            provider: n.provider.as_str(),
            body: body.as_ref(),
        })
    }

    /// Asks the service; caches the outcome (a failure briefly) unless the budget said no.
    async fn call(&self, event: &Event, query: &str) -> Result<Value, String> {
        let request = match &self.settings.kind {
            Kind::SwiftSearch {
                max_results,
                auto_scrape_top,
            } => swiftsearch::request(query, *max_results, *auto_scrape_top),
            Kind::Http { include_body } => http_kind::request(event, query, *include_body),
        };
        let answer = self.outbound.post(&request, || self.spend()).await;
        let outcome = match answer {
            Err(CallError::Budget { limit }) => {
                self.metrics.enrichment("budget_exhausted");
                return Err(CallError::Budget { limit }.to_string());
            }
            Err(error) => Err(self.redact(&error.to_string())),
            Ok(answer) => self.interpret(answer),
        };
        self.metrics.enrichment(match outcome {
            Ok(_) => "ok",
            Err(_) => "error",
        });
        if let Err(error) = &outcome {
            tracing::warn!(event_id = event.id, error = %error, "Enrichment call failed.");
        }
        let ttl = match &outcome {
            Ok(_) => self.settings.cache_secs,
            Err(_) => self.settings.cache_secs.min(ERROR_CACHE_SECS),
        };
        let ttl = i64::try_from(ttl)
            .ok()
            .and_then(TimeDelta::try_seconds)
            .unwrap_or_default();
        self.lock()
            .cache
            .put(query, outcome.clone(), ttl, Utc::now());
        outcome
    }

    fn interpret(&self, answer: Value) -> Result<Value, String> {
        match &self.settings.kind {
            Kind::SwiftSearch { max_results, .. } => {
                swiftsearch::results(&answer, *max_results as usize)
            }
            Kind::Http { .. } => http_kind::result(answer),
        }
    }

    fn spend(&self) -> Result<(), CallError> {
        let mut memory = self.lock();
        let limit = memory.budget.limit();
        match memory.budget.spend(Utc::now()) {
            Spend::Granted => Ok(()),
            Spend::Exhausted { first } => {
                if first {
                    tracing::warn!(
                        limit,
                        "Enrichment daily budget used; paused until midnight UTC."
                    );
                }
                Err(CallError::Budget { limit })
            }
        }
    }

    /// The stored document: `{"query","results","at"}` or `{"query","error","at"}` for
    /// SwiftSearch; the `http` kind adds `"kind":"http"` and keeps `result`.
    fn document(&self, query: &str, outcome: Result<Value, String>, at: DateTime<Utc>) -> Value {
        let at = at.to_rfc3339_opts(SecondsFormat::Micros, true);
        let http = matches!(self.settings.kind, Kind::Http { .. });
        let document = match (outcome, http) {
            (Ok(results), false) => json!({"query": query, "results": results, "at": at}),
            (Ok(result), true) => {
                json!({"kind": "http", "query": query, "result": result, "at": at})
            }
            (Err(error), false) => json!({"query": query, "error": error, "at": at}),
            (Err(error), true) => {
                json!({"kind": "http", "query": query, "error": error, "at": at})
            }
        };
        self.scrub(document)
    }

    /// The document without the API key, even if the service echoed it back.
    fn scrub(&self, document: Value) -> Value {
        let Some(key) = &self.settings.api_key else {
            return document;
        };
        let text = document.to_string();
        if !text.contains(key.expose()) {
            return document;
        }
        serde_json::from_str(&key.redact(&text)).unwrap_or(Value::Null)
    }

    fn redact(&self, text: &str) -> String {
        match &self.settings.api_key {
            Some(key) => key.redact(text),
            None => text.to_string(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // A panic while holding this lock can only come from a bug in the cache or the
        // budget; their data is still usable, so a poisoned lock is taken over.
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }
}
