//! The full-text index is written behind ingest, not in the transaction that stores an event.
//!
//! Indexing an event's words costs more than storing the event, so doing it on the way to the
//! `200` would halve the rate of ingest. Instead a cursor in the store names the newest event
//! whose words are indexed; `index_step` adds the words of the events after it, a bounded
//! number at a time, and moves it in the same transaction, so nothing is indexed twice or
//! missed over a crash. Events after the cursor are the tail a search checks itself
//! (`query::select`), which keeps every event searchable from its `200`.
//!
//! Events are stored with ids above the cursor, except imported ones, which keep their ids:
//! an import indexes those at or below the cursor itself, and on PostgreSQL holds the
//! cursor's row while it does, so a step cannot pass an id the import is still adding.

use super::{Backend, Store, StoreError};

/// The most events one step indexes.
pub const STEP_EVENTS: u32 = 500;
/// A step stops early after this many body bytes (at least one event).
pub const STEP_BYTES: usize = 8 * 1024 * 1024;

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStep {
    /// Events whose words it added.
    pub indexed: u64,
    /// The cursor after it: every event up to this id is indexed.
    pub cursor: i64,
    /// The newest event id stored; the index is behind while it is above `cursor`.
    pub newest: i64,
}

impl IndexStep {
    pub fn behind(&self) -> bool {
        self.newest > self.cursor
    }
}

impl Store {
    /// Adds the words of the next events after the cursor (at most `STEP_EVENTS`, or
    /// `STEP_BYTES` of bodies) to the full-text index and moves the cursor past them.
    pub async fn index_step(&self) -> Result<IndexStep, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.index_step().await,
            Backend::Postgres(s) => s.index_step().await,
        }
    }

    /// The newest event id whose words are in the index: a search (`EventFilter::text`) in
    /// `list` sees only events up to it.
    pub async fn indexed_through(&self) -> Result<i64, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.indexed_through().await,
            Backend::Postgres(s) => s.indexed_through().await,
        }
    }
}
