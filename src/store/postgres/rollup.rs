//! The rollups a batch adds to (`minute_counts` for stats, `sources` for the source list),
//! summed in memory first so each batch writes each rollup row once, in one statement.
//!
//! Summing first matters twice: a multi-row `ON CONFLICT DO UPDATE` may not touch one row
//! twice, and fewer row locks means less waiting between instances.

use std::collections::BTreeMap;

use deadpool_postgres::ClientWrapper;

use crate::model::{NewEvent, Status};

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

/// Increments for one (minute, source, event type) row.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    total: i64,
    errors: i64,
    rejected: i64,
    signature_failures: i64,
    duplicates: i64,
}

/// Increments for one source row.
#[derive(Debug)]
struct SourceCounts {
    provider: &'static str,
    count: i64,
    errors: i64,
    last_received: i64,
}

/// Everything one batch adds to the rollups.
#[derive(Debug, Default)]
pub(super) struct Rollups {
    minutes: BTreeMap<(i64, String, String), Counts>,
    sources: BTreeMap<String, SourceCounts>,
}

impl Rollups {
    /// A newly stored event (received or rejected).
    pub(super) fn add_stored(&mut self, e: &NewEvent) {
        let c = self.minute(e, e.event_type.as_deref());
        c.total += 1;
        c.errors += e.is_error as i64;
        c.rejected += (e.status == Status::Rejected) as i64;
        c.signature_failures += e.signature_failure as i64;
        let at = e.received_at.timestamp_micros();
        let s = self
            .sources
            .entry(e.source.clone())
            .or_insert(SourceCounts {
                provider: e.provider.as_str(),
                count: 0,
                errors: 0,
                last_received: at,
            });
        s.provider = e.provider.as_str();
        s.count += 1;
        s.errors += e.is_error as i64;
        s.last_received = s.last_received.max(at);
    }

    /// A redelivery, counted in its own minute under the original's event type (as SQLite).
    pub(super) fn add_duplicate(&mut self, e: &NewEvent, original_type: Option<&str>) {
        self.minute(e, original_type).duplicates += 1;
    }

    fn minute(&mut self, e: &NewEvent, event_type: Option<&str>) -> &mut Counts {
        let key = (
            e.received_at.timestamp().div_euclid(60),
            e.source.clone(),
            event_type.unwrap_or("").to_string(),
        );
        self.minutes.entry(key).or_default()
    }

    /// Upserts both rollups; rows in key order, so concurrent writers lock in the same order.
    pub(super) async fn write(&self, tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
        tokio::try_join!(self.write_minutes(tx), self.write_sources(tx))?;
        Ok(())
    }

    async fn write_minutes(&self, tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
        if self.minutes.is_empty() {
            return Ok(());
        }
        let minutes: Vec<i64> = self.minutes.keys().map(|k| k.0).collect();
        let sources: Vec<&str> = self.minutes.keys().map(|k| k.1.as_str()).collect();
        let types: Vec<&str> = self.minutes.keys().map(|k| k.2.as_str()).collect();
        let col = |f: fn(&Counts) -> i64| self.minutes.values().map(f).collect::<Vec<i64>>();
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

    async fn write_sources(&self, tx: &ClientWrapper) -> Result<(), tokio_postgres::Error> {
        if self.sources.is_empty() {
            return Ok(());
        }
        let names: Vec<&str> = self.sources.keys().map(String::as_str).collect();
        let providers: Vec<&str> = self.sources.values().map(|s| s.provider).collect();
        let counts: Vec<i64> = self.sources.values().map(|s| s.count).collect();
        let errors: Vec<i64> = self.sources.values().map(|s| s.errors).collect();
        let last: Vec<i64> = self.sources.values().map(|s| s.last_received).collect();
        let stmt = tx.prepare_cached(UPSERT_SOURCES).await?;
        tx.execute(&stmt, &[&names, &providers, &counts, &errors, &last])
            .await?;
        Ok(())
    }
}
