//! The enqueuer: turns stored events into deliveries, off the ingest path.
//!
//! It reads the events after its cursor (kept in the store) in id order, in batches, and for
//! each batch queues a delivery per matching rule and moves the cursor, in one transaction.
//! Queuing is idempotent, so work repeated after a crash or done by two instances at once
//! changes nothing, and an event is never skipped: the cursor moves only with the deliveries
//! of the events it passes. The feed only wakes it; what it queues it reads from the store.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::settings::TargetSettings;
use super::wake::Wake;
use crate::feed::Feed;
use crate::model::Event;
use crate::store::{EventFilter, NewDelivery, Store, StoreError};

/// Events read per transaction.
const BATCH: u32 = 500;
/// Events read per transaction when some rule has a `filter`, which needs their bodies.
const BATCH_WITH_BODIES: u32 = 50;
/// The wait before trying again when the store fails.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// The deliveries `events` make under `targets`.
pub fn deliveries(events: &[Event], targets: &[TargetSettings]) -> Vec<NewDelivery> {
    events
        .iter()
        .flat_map(|event| {
            let e = &event.new;
            targets
                .iter()
                .filter(|t| t.rule.takes_event(e))
                .map(|t| NewDelivery {
                    event_id: event.id,
                    source: e.source.clone(),
                    target: t.name.clone(),
                    to: None,
                })
        })
        .collect()
}

/// Runs until `shutdown`, waking `worker` whenever it queued something.
pub async fn run(
    store: Store,
    targets: Arc<Vec<TargetSettings>>,
    feed: Feed,
    worker: Arc<Wake>,
    shutdown: CancellationToken,
) {
    let mut items = feed.subscribe();
    let mut cursor = loop {
        match store.start_forward_cursor().await {
            Ok(cursor) => break cursor,
            Err(error) => {
                tracing::error!(error = %error, "Cannot read the forwarding cursor.");
                if pause(&shutdown, STORE_RETRY).await {
                    return;
                }
            }
        }
    };
    loop {
        match catch_up(&store, &targets, cursor, &worker).await {
            Ok(moved) => cursor = moved,
            Err(error) => {
                tracing::error!(error = %error, "Cannot queue deliveries.");
                if pause(&shutdown, STORE_RETRY).await {
                    return;
                }
                continue;
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            item = items.recv() => {
                if let Err(broadcast::error::RecvError::Closed) = item {
                    return;
                }
                // Whatever else is waiting is read from the store by the next catch-up.
                while items.try_recv().is_ok() {}
            }
        }
    }
}

/// Queues the deliveries of every event after `cursor`; answers the new cursor.
async fn catch_up(
    store: &Store,
    targets: &[TargetSettings],
    mut cursor: i64,
    worker: &Wake,
) -> Result<i64, StoreError> {
    let bodies = targets.iter().any(|t| !t.rule.filter.is_empty());
    let batch = if bodies { BATCH_WITH_BODIES } else { BATCH };
    loop {
        let filter = EventFilter {
            after: Some(cursor),
            limit: batch,
            ..EventFilter::default()
        };
        let events = match bodies {
            true => store.list_details(filter).await?,
            false => store.list(filter).await?,
        };
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(cursor);
        };
        let queued = deliveries(&events, targets);
        let any = !queued.is_empty();
        store.enqueue_deliveries(queued, last, Utc::now()).await?;
        cursor = last;
        if any {
            worker.queued();
        }
        if events.len() < batch as usize {
            return Ok(cursor);
        }
    }
}

/// Waits `wait` unless shut down first; answers whether it was shut down.
async fn pause(shutdown: &CancellationToken, wait: Duration) -> bool {
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forward::rule::{Rule, SourceMatch};
    use crate::model::{NewEvent, Status};
    use crate::query::type_match;

    fn event(id: i64, source: &str, event_type: &str, status: Status) -> Event {
        let mut new = NewEvent::sample(source, id as usize);
        new.event_type = Some(event_type.to_string());
        new.status = status;
        Event {
            id,
            size: new.body.len() as i64,
            new,
            duplicates: 0,
            enrichment: None,
        }
    }

    fn target(name: &str, source: &str, event_type: Option<&str>) -> TargetSettings {
        let mut t = TargetSettings::ad_hoc("http://127.0.0.1:9/");
        t.name = name.to_string();
        t.rule = Rule {
            source: SourceMatch::parse(source),
            event_type: event_type.map(type_match),
            filter: Vec::new(),
        };
        t
    }

    #[test]
    fn each_event_gets_a_delivery_per_rule_that_takes_it() {
        let events = [
            event(1, "stripe", "charge.failed", Status::Received),
            event(2, "github", "push", Status::Received),
            event(3, "stripe", "charge.failed", Status::Rejected),
        ];
        let targets = [
            target("all", "*", None),
            target("charges", "stripe", Some("charge.*")),
        ];
        let made: Vec<(i64, String)> = deliveries(&events, &targets)
            .into_iter()
            .map(|d| (d.event_id, d.target))
            .collect();
        assert_eq!(
            made,
            [
                (1, "all".to_string()),
                (1, "charges".to_string()),
                (2, "all".to_string())
            ]
        );
    }
}
