//! The pruning `serve` runs in the background: soon after start, then every `EVERY`.
//!
//! Each round carries out the plan of its moment in deletions of at most `BATCH` events,
//! yielding between them, so the writer (shared with ingest on SQLite) is never held for
//! long and deliveries never wait behind a large backlog. The oldest go first. A failed round
//! is logged and the next one tries again; nothing is lost by waiting.

use std::time::Duration;

use chrono::Utc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::{Plan, Retention};
use crate::store::{Store, StoreError};

/// Most events deleted in one transaction.
pub const BATCH: u32 = 1000;
/// The pause between rounds: well under the minute within which pruning must run.
pub const EVERY: Duration = Duration::from_secs(30);
/// The pause before the first round, so start-up itself stays quick.
pub const FIRST: Duration = Duration::from_secs(2);

/// Runs rounds until `shutdown`.
pub fn spawn(retention: Retention, store: Store, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = FIRST;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = EVERY;
            let plan = retention.plan(Utc::now());
            match run(&store, &plan, &shutdown).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, "Pruned events past their retention."),
                Err(error) => tracing::warn!(error = %error, "Pruning failed; trying again later."),
            }
        }
    })
}

/// Carries out one plan; answers how many events it deleted. Stops early on `shutdown`.
pub async fn run(
    store: &Store,
    plan: &Plan,
    shutdown: &CancellationToken,
) -> Result<u64, StoreError> {
    let mut deleted = 0;
    for cut in &plan.cuts {
        while !shutdown.is_cancelled() {
            let ids = store.expired_ids(cut, BATCH).await?;
            if ids.is_empty() {
                break;
            }
            deleted += store.delete_events(&ids).await?;
            tokio::task::yield_now().await;
        }
    }
    // The newest beyond the limit is found once per round: ids only grow, so everything up
    // to it stays beyond the limit while the round deletes.
    if let Some(keep) = plan.keep_newest
        && let Some(last) = store.newest_beyond(keep).await?
    {
        while !shutdown.is_cancelled() {
            let ids = store.ids_up_to(last, BATCH).await?;
            if ids.is_empty() {
                break;
            }
            deleted += store.delete_events(&ids).await?;
            tokio::task::yield_now().await;
        }
    }
    store.forget_minutes_before(plan.minutes_before).await?;
    Ok(deleted)
}
