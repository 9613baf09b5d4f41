//! The full-text index's steps on the writer thread, and its cursor (see `store::index`).

use rusqlite::types::ValueRef;
use rusqlite::{Connection, Transaction, params};

use super::SqliteStore;
use crate::search::text::indexed_text;
use crate::store::{IndexStep, STEP_BYTES, STEP_EVENTS, StoreError};

impl SqliteStore {
    pub(in crate::store) async fn index_step(&self) -> Result<IndexStep, StoreError> {
        self.write(|reply| super::writer::Job::Index { reply })
            .await
    }

    pub(in crate::store) async fn indexed_through(&self) -> Result<i64, StoreError> {
        self.read(cursor).await
    }
}

/// The newest event id whose words are indexed.
pub(super) fn cursor(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached("SELECT event_id FROM search_cursor")?
        .query_row([], |r| r.get(0))
}

/// Indexes the events after the cursor, one at a time as they are read (so at most one body
/// is held), and moves the cursor past them.
pub(super) fn step(tx: &Transaction) -> rusqlite::Result<IndexStep> {
    let mut last = cursor(tx)?;
    let mut select = tx.prepare_cached(
        "SELECT e.id, e.event_type, b.body FROM events e JOIN bodies b USING (id)
         WHERE e.id > ?1 ORDER BY e.id LIMIT ?2",
    )?;
    let mut rows = select.query(params![last, STEP_EVENTS])?;
    let (mut indexed, mut bytes) = (0, 0);
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let event_type: Option<String> = row.get(1)?;
        let body = match row.get_ref(2)? {
            ValueRef::Blob(b) | ValueRef::Text(b) => b,
            _ => &[],
        };
        index_words(tx, id, event_type.as_deref(), body)?;
        (last, indexed, bytes) = (id, indexed + 1, bytes + body.len());
        if bytes >= STEP_BYTES {
            break;
        }
    }
    if indexed > 0 {
        tx.prepare_cached("UPDATE search_cursor SET event_id = ?1")?
            .execute([last])?;
    }
    let newest = tx
        .prepare_cached("SELECT COALESCE(max(id), 0) FROM events")?
        .query_row([], |r| r.get(0))?;
    Ok(IndexStep {
        indexed,
        cursor: last,
        newest,
    })
}

/// Adds an event's type and body text to the full-text index (`q`).
pub(super) fn index_words(
    tx: &Transaction,
    id: i64,
    event_type: Option<&str>,
    body: &[u8],
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO events_fts (rowid, doc) VALUES (?1, COALESCE(?2, '') || ' ' || ?3)",
    )?
    .execute(params![id, event_type, indexed_text(body)])?;
    Ok(())
}
