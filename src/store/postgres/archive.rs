//! Export pages and imports on pooled connections (see `store::archive`).
//!
//! An import inserts into `events`, so it takes the ids lock (`batch::IDS_LOCK`) first, like
//! every writer, and holds it to its COMMIT: ids stay visible in order for every instance's
//! listener. Before the COMMIT it moves the id sequence past the highest imported id, so the
//! next delivery gets an id above every imported event.

use std::sync::Arc;

use tokio_postgres::Transaction;
use tokio_postgres::types::ToSql;

use super::batch::IDS_LOCK;
use super::read::Bind;
use super::{PgStore, rollup, unavailable};
use crate::model::Event;
use crate::search::text::distinct_words;
use crate::store::archive::{INSERT_BODY, INSERT_EVENT, count_query, page_query, stored_text};
use crate::store::rollup::Rollups;
use crate::store::sql::{detail, dollar_placeholders};
use crate::store::{EventFilter, StoreError};

/// Adds an import's counts to the minute rollup, in one shard.
const ADD_MINUTE: &str = "INSERT INTO minute_counts AS m (shard, minute, source, event_type,
       total, errors, rejected, signature_failures, duplicates)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     ON CONFLICT (minute, source, event_type, shard) DO UPDATE SET
       total = m.total + excluded.total, errors = m.errors + excluded.errors,
       rejected = m.rejected + excluded.rejected,
       signature_failures = m.signature_failures + excluded.signature_failures,
       duplicates = m.duplicates + excluded.duplicates";

/// Adds an import's counts to the source rollup, in one shard.
const ADD_SOURCE: &str = "INSERT INTO sources AS s (shard, source, provider, count, errors,
       last_received) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (source, shard) DO UPDATE SET provider = excluded.provider,
       count = s.count + excluded.count, errors = s.errors + excluded.errors,
       last_received = GREATEST(s.last_received, excluded.last_received)";

impl PgStore {
    pub(in crate::store) async fn export_page(
        &self,
        filter: EventFilter,
    ) -> Result<Vec<Event>, StoreError> {
        let (sql, values) = page_query(&filter, |n| format!("${n}"));
        let binds: Vec<Bind> = values.into_iter().map(Bind).collect();
        let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        let client = self.client().await?;
        let rows = client.query(&sql, &params).await.map_err(unavailable)?;
        rows.iter()
            .map(detail)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    pub(in crate::store) async fn count_matching(
        &self,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        let (sql, values) = count_query(&filter, |n| format!("${n}"));
        let binds: Vec<Bind> = values.into_iter().map(Bind).collect();
        let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        let client = self.client().await?;
        let row = client.query_one(&sql, &params).await.map_err(unavailable)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub(in crate::store) async fn import(
        &self,
        events: Arc<[Event]>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&IDS_LOCK])
            .await
            .map_err(unavailable)?;
        // Holds the index's cursor for the transaction (see `store::index`).
        let indexed_through: i64 = tx
            .query_one("SELECT event_id FROM search_cursor FOR SHARE", &[])
            .await
            .map_err(unavailable)?
            .get(0);
        let mut rollups = Rollups::default();
        let added = insert_all(&tx, &events, indexed_through, &mut rollups)
            .await
            .map_err(unavailable)?;
        write_rollups(&tx, &rollups).await.map_err(unavailable)?;
        let highest = events
            .iter()
            .zip(&added)
            .filter(|(_, a)| **a)
            .map(|(e, _)| e.id)
            .max();
        if let Some(highest) = highest {
            tx.execute(
                "SELECT setval('events_id_seq', GREATEST((SELECT last_value FROM events_id_seq), $1))",
                &[&highest],
            )
            .await
            .map_err(unavailable)?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(added)
    }
}

async fn insert_all(
    tx: &Transaction<'_>,
    events: &[Event],
    indexed_through: i64,
    rollups: &mut Rollups,
) -> Result<Vec<bool>, tokio_postgres::Error> {
    let insert = tx.prepare(&dollar_placeholders(INSERT_EVENT)).await?;
    let body = tx.prepare(&dollar_placeholders(INSERT_BODY)).await?;
    let words = tx
        .prepare(
            "INSERT INTO event_words (id, doc) \
             VALUES ($1, array_to_tsvector(string_to_array($2, ' '))) ON CONFLICT DO NOTHING",
        )
        .await?;
    let mut added = Vec::with_capacity(events.len());
    for e in events {
        let n = &e.new;
        let (headers, enrichment, lease) = stored_text(e);
        let inserted = tx
            .execute(
                &insert,
                &[
                    &e.id,
                    &n.source,
                    &n.received_at.timestamp_micros(),
                    &n.method,
                    &n.path,
                    &n.query,
                    &n.remote_addr,
                    &n.content_type,
                    &(n.body.len() as i64),
                    &n.provider.as_str(),
                    &n.event_type,
                    &n.delivery_id,
                    &n.signature.as_str(),
                    &n.signature_reason,
                    &n.signature_failure,
                    &n.status.as_str(),
                    &n.is_error,
                    &e.duplicates,
                    &enrichment,
                    &lease,
                ],
            )
            .await?
            == 1;
        if inserted {
            tx.execute(&body, &[&e.id, &headers, &n.body]).await?;
            if e.id <= indexed_through {
                let text = distinct_words(n.event_type.as_deref(), &n.body);
                tx.execute(&words, &[&e.id, &text]).await?;
            }
            rollups.add_imported(e);
        }
        added.push(inserted);
    }
    Ok(added)
}

/// Rows in key order, like every writer, so writers sharing a shard lock them in one order.
async fn write_rollups(
    tx: &Transaction<'_>,
    rollups: &Rollups,
) -> Result<(), tokio_postgres::Error> {
    let shard = rollup::pick_shard();
    for ((minute, source, event_type), c) in &rollups.minutes {
        tx.execute(
            ADD_MINUTE,
            &[
                &shard,
                minute,
                source,
                event_type,
                &c.total,
                &c.errors,
                &c.rejected,
                &c.signature_failures,
                &c.duplicates,
            ],
        )
        .await?;
    }
    for (source, s) in &rollups.sources {
        tx.execute(
            ADD_SOURCE,
            &[
                &shard,
                source,
                &s.provider,
                &s.count,
                &s.errors,
                &s.last_received,
            ],
        )
        .await?;
    }
    Ok(())
}
