//! Writing a batch's redeliveries to the minute rollup (`store::rollup`) in PostgreSQL: one
//! multi-row upsert. A batch's new events are added to both rollups by the batch statement
//! itself (`batch`), in SQL, with the same shard.
//!
//! Every rollup row is split into `SHARDS` shards and each writer adds to its own (chosen at
//! random when it starts), so writers of different instances do not queue on the same rows'
//! locks until the other commits; readers sum the shards (`read`). Two writers that happen to
//! share a shard are still correct, only slower.

use std::hash::{BuildHasher, RandomState};

use deadpool_postgres::ClientWrapper;

use crate::store::rollup::Rollups;

/// How many shards each rollup row may be split into.
pub(super) const SHARDS: i16 = 64;

/// Adds a batch's redeliveries to the minutes they arrived in (the other counts start at 0).
const ADD_DUPLICATES: &str =
    "INSERT INTO minute_counts AS m (shard, minute, source, event_type, duplicates)
                 SELECT $5::int2, * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[])
                 ON CONFLICT (minute, source, event_type, shard) DO UPDATE SET
                   duplicates = m.duplicates + excluded.duplicates";

/// A shard for a new writer, at random so the writers of a cluster rarely share one.
pub(super) fn pick_shard() -> i16 {
    let random = RandomState::new().hash_one(std::process::id());
    (random % SHARDS as u64) as i16
}

/// Prepares (once per connection) the upsert, so `write_duplicates` sends it on its first
/// poll: pipelined with a COMMIT polled after it, it runs before the COMMIT.
pub(super) async fn prepare(tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
    tx.prepare_cached(ADD_DUPLICATES).await?;
    Ok(())
}

/// Adds the redeliveries counted in `rollups` to the minute rollup in `shard`; rows in key
/// order, so writers sharing a shard lock them in the same order. New events never come
/// here: the batch statement counts them itself.
pub(super) async fn write_duplicates(
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
    let duplicates: Vec<i64> = rollups.minutes.values().map(|c| c.duplicates).collect();
    let stmt = tx.prepare_cached(ADD_DUPLICATES).await?;
    tx.execute(&stmt, &[&minutes, &sources, &types, &duplicates, &shard])
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
