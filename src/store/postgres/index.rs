//! The full-text index's steps and its cursor (see `store::index`).
//!
//! A step holds the cursor's row (`FOR UPDATE`) until it commits, so instances sharing the
//! database take turns, and an import (which holds the row `FOR SHARE`) is either wholly
//! before a step or wholly after it.

use tokio_postgres::Transaction;

use super::{PgStore, unavailable};
use crate::search::text::distinct_words;
use crate::store::{IndexStep, STEP_BYTES, STEP_EVENTS, StoreError};

impl PgStore {
    pub(in crate::store) async fn index_step(&self) -> Result<IndexStep, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        let step = step(&tx).await.map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
        Ok(step)
    }

    pub(in crate::store) async fn indexed_through(&self) -> Result<i64, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one("SELECT event_id FROM search_cursor", &[])
            .await
            .map_err(unavailable)?;
        Ok(row.get(0))
    }
}

/// Indexes the events after the cursor and moves it past them. Their sizes are read first,
/// so the bodies read at once stay within `STEP_BYTES` (or one event).
async fn step(tx: &Transaction<'_>) -> Result<IndexStep, tokio_postgres::Error> {
    let cursor: i64 = tx
        .query_one("SELECT event_id FROM search_cursor FOR UPDATE", &[])
        .await?
        .get(0);
    let sizes = tx
        .query(
            "SELECT id, size FROM events WHERE id > $1 ORDER BY id LIMIT $2",
            &[&cursor, &i64::from(STEP_EVENTS)],
        )
        .await?;
    let (mut last, mut bytes) = (cursor, 0);
    for row in &sizes {
        last = row.get(0);
        bytes += row.get::<_, i64>(1).max(0) as usize;
        if bytes >= STEP_BYTES {
            break;
        }
    }
    let mut indexed = 0;
    if last > cursor {
        let rows = tx
            .query(
                "SELECT e.id, e.event_type, b.body FROM events e JOIN bodies b USING (id)
                 WHERE e.id > $1 AND e.id <= $2",
                &[&cursor, &last],
            )
            .await?;
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let words: Vec<String> = rows
            .iter()
            .map(|r| distinct_words(r.get::<_, Option<&str>>(1), r.get::<_, &[u8]>(2)))
            .collect();
        tx.execute(
            "INSERT INTO event_words (id, doc)
             SELECT id, array_to_tsvector(string_to_array(words, ' '))
             FROM UNNEST($1::int8[], $2::text[]) AS w(id, words)
             ON CONFLICT DO NOTHING",
            &[&ids, &words],
        )
        .await?;
        tx.execute("UPDATE search_cursor SET event_id = $1", &[&last])
            .await?;
        indexed = ids.len() as u64;
    }
    let newest: i64 = tx
        .query_one("SELECT COALESCE(max(id), 0) FROM events", &[])
        .await?
        .get(0);
    Ok(IndexStep {
        indexed,
        cursor: last,
        newest,
    })
}
