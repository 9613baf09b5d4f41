//! Whole events out and in, for `hookwatch export` and `import`.
//!
//! Export reads pages of whole events (headers and bodies) by keyset, oldest first, so memory
//! stays flat however many there are. Import stores events with the ids they carry: an id
//! already taken, or a delivery already stored under another id, is left alone and reported
//! as not added. Imported events are added to the rollups behind `/api/stats` and
//! `/api/sources` as if received at their `received_at` (redeliveries counted in that same
//! minute), so the stats describe the imported traffic too. New ids drawn afterwards are
//! above every imported one (SQLite's AUTOINCREMENT does this by itself; PostgreSQL's
//! sequence is moved forward under the ids lock).

use std::sync::Arc;

use super::sql::{SUMMARY_COLUMNS, SqlValue, where_clause};
use super::{Backend, EventFilter, Store, StoreError};
use crate::model::Event;

/// The query of one export page: whole events matching the filter, oldest first.
pub(crate) fn page_query(
    filter: &EventFilter,
    placeholder: fn(usize) -> String,
) -> (String, Vec<SqlValue>) {
    let (clause, values) = where_clause(filter, &placeholder, "id", None);
    let sql = format!(
        "SELECT {SUMMARY_COLUMNS}, b.headers, b.body FROM events e JOIN bodies b USING (id)
         {clause} ORDER BY id ASC LIMIT {}",
        filter.limit
    );
    (sql, values)
}

/// The query counting the events a filter matches (for a progress bar's total).
pub(crate) fn count_query(
    filter: &EventFilter,
    placeholder: fn(usize) -> String,
) -> (String, Vec<SqlValue>) {
    let (clause, values) = where_clause(filter, &placeholder, "id", None);
    (format!("SELECT count(*) FROM events {clause}"), values)
}

/// ?1 … ?20: an exported event with its id; does nothing when the id, or the delivery of a
/// received event, is already stored.
pub(crate) const INSERT_EVENT: &str = "INSERT INTO events (id, source, received_at, method, path,
       query, remote_addr, content_type, size, provider, event_type, delivery_id, signature,
       signature_reason, signature_failure, status, is_error, duplicates, enrichment,
       enrichment_lease)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
       ?19, ?20)
     ON CONFLICT DO NOTHING";

/// ?1 id, ?2 headers, ?3 body: the body of an event just imported (replacing any left over).
pub(crate) const INSERT_BODY: &str = "INSERT INTO bodies (id, headers, body) VALUES (?1, ?2, ?3)
     ON CONFLICT (id) DO UPDATE SET headers = excluded.headers, body = excluded.body";

/// An event's stored parts that are text in both backends: headers as JSON, the enrichment
/// document, and its lease (a pending claim is imported as expired, to be taken over).
pub(crate) fn stored_text(event: &Event) -> (String, Option<String>, Option<i64>) {
    let headers = serde_json::to_string(&event.new.headers).unwrap_or_else(|_| "[]".into());
    let enrichment = event.enrichment.as_ref().map(|e| e.to_string());
    let lease = (enrichment.as_deref() == Some(super::sql::enrichment::PENDING)).then_some(0);
    (headers, enrichment, lease)
}

impl Store {
    /// Whole events matching `filter` with ids above `filter.after` (0 for the first page),
    /// oldest first, at most `filter.limit`; `before` is ignored in favour of the order.
    pub async fn export_page(&self, filter: EventFilter) -> Result<Vec<Event>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.export_page(filter).await,
            Backend::Postgres(s) => s.export_page(filter).await,
        }
    }

    /// How many events match `filter` (its `limit` aside), for a progress bar's total.
    pub async fn count_matching(&self, filter: EventFilter) -> Result<u64, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.count_matching(filter).await,
            Backend::Postgres(s) => s.count_matching(filter).await,
        }
    }

    /// Stores exported events with their own ids, in one transaction; answers for each
    /// whether it was added (false: its id or its delivery was already stored). Shared, so
    /// the caller keeps them to look at the skipped ones without a copy.
    pub async fn import(&self, events: Arc<[Event]>) -> Result<Vec<bool>, StoreError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        match &self.0 {
            Backend::Sqlite(s) => s.import(events).await,
            Backend::Postgres(s) => s.import(events).await,
        }
    }
}
