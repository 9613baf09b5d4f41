//! Export pages on a reader connection; imports on the writer thread, inside its group
//! commit (see `store::archive`).

use std::sync::Arc;

use rusqlite::{Transaction, params, params_from_iter};

use super::SqliteStore;
use crate::model::Event;
use crate::store::archive::{INSERT_BODY, INSERT_EVENT, count_query, page_query, stored_text};
use crate::store::rollup::Rollups;
use crate::store::sql::{SqlValue, detail};
use crate::store::{EventFilter, StoreError};

impl SqliteStore {
    pub(in crate::store) async fn export_page(
        &self,
        filter: EventFilter,
    ) -> Result<Vec<Event>, StoreError> {
        let (sql, values) = page_query(&filter, |n| format!("?{n}"));
        let params = values.into_iter().map(|v| match v {
            SqlValue::Text(t) => rusqlite::types::Value::Text(t),
            SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
        });
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(params), |row| detail(row))?;
            rows.collect()
        })
        .await
    }

    pub(in crate::store) async fn count_matching(
        &self,
        filter: EventFilter,
    ) -> Result<u64, StoreError> {
        let (sql, values) = count_query(&filter, |n| format!("?{n}"));
        let params = values.into_iter().map(|v| match v {
            SqlValue::Text(t) => rusqlite::types::Value::Text(t),
            SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
        });
        self.read(move |c| {
            c.prepare_cached(&sql)?
                .query_row(params_from_iter(params), |row| row.get::<_, i64>(0))
        })
        .await
        .map(|n| n as u64)
    }

    pub(in crate::store) async fn import(
        &self,
        events: Arc<[Event]>,
    ) -> Result<Vec<bool>, StoreError> {
        self.write(|reply| super::writer::Job::Import { events, reply })
            .await
    }
}

/// Stores the events that are not there yet, adding them to the batch's rollups. Those the
/// index's cursor has passed are indexed here (see `store::index`).
pub(super) fn import(
    tx: &Transaction,
    events: &[Event],
    rollups: &mut Rollups,
) -> rusqlite::Result<Vec<bool>> {
    let mut insert = tx.prepare_cached(INSERT_EVENT)?;
    let mut body = tx.prepare_cached(INSERT_BODY)?;
    let indexed_through = super::index::cursor(tx)?;
    let mut added = Vec::with_capacity(events.len());
    for e in events {
        let n = &e.new;
        let (headers, enrichment, lease) = stored_text(e);
        let inserted = insert.execute(params![
            e.id,
            n.source,
            n.received_at.timestamp_micros(),
            n.method,
            n.path,
            n.query,
            n.remote_addr,
            n.content_type,
            n.body.len() as i64,
            n.provider.as_str(),
            n.event_type,
            n.delivery_id,
            n.signature.as_str(),
            n.signature_reason,
            n.signature_failure as i64,
            n.status.as_str(),
            n.is_error as i64,
            e.duplicates,
            enrichment,
            lease,
        ])? == 1;
        if inserted {
            body.execute(params![e.id, headers, n.body])?;
            if e.id <= indexed_through {
                super::index::index_words(tx, e.id, n.event_type.as_deref(), &n.body)?;
            }
            rollups.add_imported(e);
        }
        added.push(inserted);
    }
    Ok(added)
}
