//! Writing a batch's redeliveries to the rollups (`store::rollup`) in PostgreSQL: one
//! multi-row upsert each. A batch's new events are added to them by the batch statement
//! itself (`batch`), in SQL, with the same shard.
//!
//! Every rollup row is split into `SHARDS` shards and each writer adds to its own (chosen at
//! random when it starts), so writers of different instances do not queue on the same rows'
//! locks until the other commits; readers sum the shards (`read`). Two writers that happen to
//! share a shard are still correct, only slower.

use std::hash::{BuildHasher, RandomState};

use deadpool_postgres::ClientWrapper;

use crate::store::rollup::{Counts, Rollups};

/// How many shards each rollup row may be split into.
pub(super) const SHARDS: i16 = 64;

/// Adds a batch's per-minute counts.
const UPSERT_MINUTES: &str =
    "INSERT INTO minute_counts AS m (shard, minute, source, event_type, total, errors,
                   rejected, signature_failures, duplicates)
                 SELECT $9::int2, * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[],
                   $5::int8[], $6::int8[], $7::int8[], $8::int8[])
                 ON CONFLICT (minute, source, event_type, shard) DO UPDATE SET
                   total = m.total + excluded.total, errors = m.errors + excluded.errors,
                   rejected = m.rejected + excluded.rejected,
                   signature_failures = m.signature_failures + excluded.signature_failures,
                   duplicates = m.duplicates + excluded.duplicates";
/// Adds a batch's per-source counts.
const UPSERT_SOURCES: &str =
    "INSERT INTO sources AS s (shard, source, provider, count, errors, last_received)
                 SELECT $6::int2, * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[],
                   $5::int8[])
                 ON CONFLICT (source, shard) DO UPDATE SET provider = excluded.provider,
                   count = s.count + excluded.count, errors = s.errors + excluded.errors,
                   last_received = GREATEST(s.last_received, excluded.last_received)";

/// A shard for a new writer, at random so the writers of a cluster rarely share one.
pub(super) fn pick_shard() -> i16 {
    let random = RandomState::new().hash_one(std::process::id());
    (random % SHARDS as u64) as i16
}

/// Prepares (once per connection) both upserts, so `write` sends each on its first poll:
/// pipelined with a COMMIT polled after it, both run before the COMMIT.
pub(super) async fn prepare(tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
    tx.prepare_cached(UPSERT_MINUTES).await?;
    tx.prepare_cached(UPSERT_SOURCES).await?;
    Ok(())
}

/// Upserts both rollups into `shard`; rows in key order, so writers sharing a shard lock in
/// the same order.
pub(super) async fn write(
    rollups: &Rollups,
    shard: i16,
    tx: &ClientWrapper,
) -> Result<(), tokio_postgres::Error> {
    tokio::try_join!(
        write_minutes(rollups, shard, tx),
        write_sources(rollups, shard, tx)
    )?;
    Ok(())
}

async fn write_minutes(
    rollups: &Rollups,
    shard: i16,
    tx: &ClientWrapper,
) -> Result<(), tokio_postgres::Error> {
    if rollups.minutes.is_empty() {
        return Ok(());
    }
    let minutes: Vec<i64> = rollups.minutes.keys().map(|k| k.0).collect();
    let sources: Vec<&str> = rollups.minutes.keys().map(|k| k.1.as_str()).collect();
    let types: Vec<&str> = rollups.minutes.keys().map(|k| k.2.as_str()).collect();
    let col = |f: fn(&Counts) -> i64| rollups.minutes.values().map(f).collect::<Vec<i64>>();
    let (total, errors, rejected) = (col(|c| c.total), col(|c| c.errors), col(|c| c.rejected));
    let (failures, dups) = (col(|c| c.signature_failures), col(|c| c.duplicates));
    let stmt = tx.prepare_cached(UPSERT_MINUTES).await?;
    tx.execute(
        &stmt,
        &[
            &minutes, &sources, &types, &total, &errors, &rejected, &failures, &dups, &shard,
        ],
    )
    .await?;
    Ok(())
}

async fn write_sources(
    rollups: &Rollups,
    shard: i16,
    tx: &ClientWrapper,
) -> Result<(), tokio_postgres::Error> {
    if rollups.sources.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = rollups.sources.keys().map(String::as_str).collect();
    let providers: Vec<&str> = rollups.sources.values().map(|s| s.provider).collect();
    let counts: Vec<i64> = rollups.sources.values().map(|s| s.count).collect();
    let errors: Vec<i64> = rollups.sources.values().map(|s| s.errors).collect();
    let last: Vec<i64> = rollups.sources.values().map(|s| s.last_received).collect();
    let stmt = tx.prepare_cached(UPSERT_SOURCES).await?;
    tx.execute(
        &stmt,
        &[&names, &providers, &counts, &errors, &last, &shard],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_in_range_and_vary() {
        let picked: std::collections::HashSet<i16> = (0..200).map(|_| pick_shard()).collect();
        assert!(picked.iter().all(|s| (0..SHARDS).contains(s)));
        assert!(picked.len() > 1, "not always the same shard");
    }
}
