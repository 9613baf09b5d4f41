//! One attempt at one claimed delivery: send its event through [`send`], judge the outcome
//! with [`schedule`], and answer what to record. Recording is the recorder's
//! (`record`), so that attempts ending together are written together.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use tokio::time::Instant;

use super::broker::Publisher;
use super::lane::chrono_of;
use super::outcome::{AttemptOutcome, Ended};
use super::record::Record;
use super::schedule::{self, Verdict};
use super::send::{self, Attempt};
use super::settings::TargetSettings;
use crate::config::SourceSettings;
use crate::metrics::Metrics;
use crate::model::Event;
use crate::store::{After, Delivery, Finished, Store};

/// Where an attempt goes: a target's settings, its broker connection, its metrics label.
pub struct Route {
    pub settings: TargetSettings,
    /// A broker target's connection keeper; `None` for HTTP.
    pub publisher: Option<Publisher>,
    /// The metrics' target label (never an ad-hoc replay's URL).
    pub label: String,
}

/// What every attempt needs.
#[derive(Clone)]
pub struct Context {
    pub store: Store,
    pub client: reqwest::Client,
    pub sources: Arc<BTreeMap<String, SourceSettings>>,
    pub metrics: Metrics,
}

/// Makes one attempt at `delivery` with its `event` (`None`: no longer stored, so the
/// delivery is dead).
pub async fn make(
    context: &Context,
    route: &Route,
    delivery: Delivery,
    event: Option<Event>,
) -> Record {
    let target = &route.settings;
    let n = u32::try_from(delivery.attempts + 1).unwrap_or(u32::MAX);
    let started = Instant::now();
    let mut finished = Finished {
        delivery_id: delivery.id,
        n: delivery.attempts + 1,
        at: Utc::now(),
        status: None,
        ms: 0,
        error: None,
        response_excerpt: String::new(),
        after: After::Dead,
    };
    let Some(event) = event else {
        finished.error = Some("the event is no longer stored".into());
        return Record {
            finished,
            outcome: None,
        };
    };
    let resign = match target.resign {
        true => context
            .sources
            .get(&event.new.source)
            .and_then(|s| s.verifier.as_ref()),
        false => None,
    };
    let sent = match &route.publisher {
        Some(publisher) => send::publish(publisher, target, &event, delivery.replay).await,
        None => {
            let attempt = Attempt {
                event: &event,
                to: delivery.to.as_deref().unwrap_or(&target.to),
                n,
                timeout: target.timeout,
                add_headers: &target.add_headers,
                resign,
                now: finished.at,
            };
            send::send(&context.client, attempt).await
        }
    };
    drop(event);
    let now = Utc::now();
    let verdict = schedule::judge(&sent.outcome, n, target.max_attempts, jitter(), now);
    let (after, result, ended) = match verdict {
        Verdict::Delivered => (After::Delivered, "delivered", Ended::Delivered),
        Verdict::Dead => (After::Dead, "dead", Ended::Dead),
        Verdict::RetryAfter(wait) => (
            After::RetryAt(now + chrono_of(wait)),
            "failed",
            Ended::Failed,
        ),
    };
    context.metrics.forward_attempt(&route.label, result);
    finished.after = after;
    finished.ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
    finished.status = sent.status.map(i64::from);
    finished.error = sent.error;
    finished.response_excerpt = sent.excerpt;
    // Replays to an ad-hoc `to` belong to no target: nothing to tell.
    let outcome = delivery.to.is_none().then(|| AttemptOutcome {
        target: target.name.clone(),
        event_id: delivery.event_id,
        at: now,
        ended,
    });
    Record { finished, outcome }
}

/// A number in `[0, 1)` that spreads retries apart.
fn jitter() -> f64 {
    getrandom::u64()
        .map(|bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
        .unwrap_or(0.5)
}
