//! Deleting events: the one way events leave the store (retention, `hookwatch prune`).
//!
//! Callers first ask which ids a cut selects, a page at a time, then hand those ids to
//! `delete_events`, which removes everything that belongs to each event in one short
//! transaction. Deleting an id that is already gone does nothing, so instances pruning the
//! same database at once never conflict. The rollups behind `/api/stats` are not touched:
//! they describe traffic received, and only lose minutes through `forget_minutes_before`.

use chrono::{DateTime, Utc};

use super::sql::SqlValue;
use super::{Backend, Store, StoreError};

/// Events received before `before`: of the source `only` when set, else of every source
/// not in `except`.
#[derive(Debug, Clone, PartialEq)]
pub struct AgeCut {
    pub before: DateTime<Utc>,
    pub only: Option<String>,
    pub except: Vec<String>,
}

/// The WHERE clause of a cut and its values; `placeholder(n)` renders the n-th parameter.
pub(crate) fn cut_clause(
    cut: &AgeCut,
    placeholder: fn(usize) -> String,
) -> (String, Vec<SqlValue>) {
    let mut values = vec![SqlValue::Int(cut.before.timestamp_micros())];
    let mut sql = format!("WHERE received_at < {}", placeholder(1));
    if let Some(source) = &cut.only {
        values.push(SqlValue::Text(source.clone()));
        sql += &format!(" AND source = {}", placeholder(values.len()));
    }
    if !cut.except.is_empty() {
        let mut names = Vec::new();
        for source in &cut.except {
            values.push(SqlValue::Text(source.clone()));
            names.push(placeholder(values.len()));
        }
        sql += &format!(" AND source NOT IN ({})", names.join(", "));
    }
    (sql, values)
}

/// The query of a page of a cut's ids, oldest first (the received_at index serves it).
pub(crate) fn expired_query(
    cut: &AgeCut,
    limit: u32,
    placeholder: fn(usize) -> String,
) -> (String, Vec<SqlValue>) {
    let (clause, values) = cut_clause(cut, placeholder);
    (
        format!("SELECT id FROM events {clause} ORDER BY received_at LIMIT {limit}"),
        values,
    )
}

/// The query counting a cut's events.
pub(crate) fn count_query(
    cut: &AgeCut,
    placeholder: fn(usize) -> String,
) -> (String, Vec<SqlValue>) {
    let (clause, values) = cut_clause(cut, placeholder);
    (format!("SELECT count(*) FROM events {clause}"), values)
}

/// ?1 how many to keep: the id of the newest event beyond them, if any.
pub(crate) const NEWEST_BEYOND: &str = "SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ?1";
/// ?1 last id, ?2 limit: the oldest ids up to `last`.
pub(crate) const UP_TO: &str = "SELECT id FROM events WHERE id <= ?1 ORDER BY id LIMIT ?2";
/// ?1 the first minute kept (minutes since the epoch).
pub(crate) const FORGET_MINUTES: &str = "DELETE FROM minute_counts WHERE minute < ?1";

/// One deletion for a backend's writer.
#[derive(Debug, Clone)]
pub(crate) enum Prune {
    /// These events, with their bodies and everything else that belongs to them.
    Events(Vec<i64>),
    /// Per-minute counts before this minute (minutes since the epoch).
    MinutesBefore(i64),
}

impl Store {
    /// The ids of a cut's events, oldest first, at most `limit`.
    pub async fn expired_ids(&self, cut: &AgeCut, limit: u32) -> Result<Vec<i64>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.expired_ids(cut, limit).await,
            Backend::Postgres(s) => s.expired_ids(cut, limit).await,
        }
    }

    /// How many events a cut selects (`prune --dry-run`).
    pub async fn count_expired(&self, cut: &AgeCut) -> Result<u64, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.count_expired(cut).await,
            Backend::Postgres(s) => s.count_expired(cut).await,
        }
    }

    /// The id of the newest event that is not among the newest `keep`: it and every older
    /// one are beyond `max_events`. `None` when there are at most `keep` events.
    pub async fn newest_beyond(&self, keep: u64) -> Result<Option<i64>, StoreError> {
        let keep = i64::try_from(keep).unwrap_or(i64::MAX);
        match &self.0 {
            Backend::Sqlite(s) => s.newest_beyond(keep).await,
            Backend::Postgres(s) => s.newest_beyond(keep).await,
        }
    }

    /// The oldest ids up to and including `last`, at most `limit`.
    pub async fn ids_up_to(&self, last: i64, limit: u32) -> Result<Vec<i64>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.ids_up_to(last, limit).await,
            Backend::Postgres(s) => s.ids_up_to(last, limit).await,
        }
    }

    /// Deletes these events and everything that belongs to them (headers, body), in one
    /// transaction; answers how many were still there. Keep `ids` small (a thousand or so):
    /// on SQLite the deletion shares the writer with ingest.
    pub async fn delete_events(&self, ids: &[i64]) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        self.prune(Prune::Events(ids.to_vec())).await
    }

    /// Deletes the per-minute counts of minutes before `before`; answers the rows deleted.
    pub async fn forget_minutes_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.prune(Prune::MinutesBefore(before.timestamp().div_euclid(60)))
            .await
    }

    async fn prune(&self, prune: Prune) -> Result<u64, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.prune(prune).await,
            Backend::Postgres(s) => s.prune(prune).await,
        }
    }
}
