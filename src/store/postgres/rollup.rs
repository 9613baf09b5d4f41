//! Writing a batch's rollups (`store::rollup`) to PostgreSQL: one multi-row upsert each.

use deadpool_postgres::ClientWrapper;

use crate::store::rollup::{Counts, Rollups};

/// Adds a batch's per-minute counts.
pub(super) const UPSERT_MINUTES: &str =
    "INSERT INTO minute_counts AS m (minute, source, event_type, total, errors,
                   rejected, signature_failures, duplicates)
                 SELECT * FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[],
                   $5::int8[], $6::int8[], $7::int8[], $8::int8[])
                 ON CONFLICT (minute, source, event_type) DO UPDATE SET
                   total = m.total + excluded.total, errors = m.errors + excluded.errors,
                   rejected = m.rejected + excluded.rejected,
                   signature_failures = m.signature_failures + excluded.signature_failures,
                   duplicates = m.duplicates + excluded.duplicates";
/// Adds a batch's per-source counts.
pub(super) const UPSERT_SOURCES: &str =
    "INSERT INTO sources AS s (source, provider, count, errors, last_received)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::int8[])
                 ON CONFLICT (source) DO UPDATE SET provider = excluded.provider,
                   count = s.count + excluded.count, errors = s.errors + excluded.errors,
                   last_received = GREATEST(s.last_received, excluded.last_received)";

/// Upserts both rollups; rows in key order, so concurrent writers lock in the same order.
pub(super) async fn write(
    rollups: &Rollups,
    tx: &ClientWrapper,
) -> Result<(), tokio_postgres::Error> {
    tokio::try_join!(write_minutes(rollups, tx), write_sources(rollups, tx))?;
    Ok(())
}

async fn write_minutes(rollups: &Rollups, tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
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
            &minutes, &sources, &types, &total, &errors, &rejected, &failures, &dups,
        ],
    )
    .await?;
    Ok(())
}

async fn write_sources(rollups: &Rollups, tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
    if rollups.sources.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = rollups.sources.keys().map(String::as_str).collect();
    let providers: Vec<&str> = rollups.sources.values().map(|s| s.provider).collect();
    let counts: Vec<i64> = rollups.sources.values().map(|s| s.count).collect();
    let errors: Vec<i64> = rollups.sources.values().map(|s| s.errors).collect();
    let last: Vec<i64> = rollups.sources.values().map(|s| s.last_received).collect();
    let stmt = tx.prepare_cached(UPSERT_SOURCES).await?;
    tx.execute(&stmt, &[&names, &providers, &counts, &errors, &last])
        .await?;
    Ok(())
}
