//! Deleting events in SQLite (see `store::prune`): lookups on a reader connection, the
//! deletions on the writer thread, inside its group commit.
//!
//! Freed pages go to SQLite's free list and are reused by later inserts, so once retention
//! deletes as much as arrives the file stops growing; no VACUUM is needed.

use rusqlite::{Connection, OptionalExtension, Transaction, params_from_iter};

use super::SqliteStore;
use crate::store::StoreError;
use crate::store::prune::{self, AgeCut, Prune};
use crate::store::sql::SqlValue;

fn numbered(n: usize) -> String {
    format!("?{n}")
}

fn bind(values: Vec<SqlValue>) -> impl Iterator<Item = rusqlite::types::Value> {
    values.into_iter().map(|v| match v {
        SqlValue::Text(t) => rusqlite::types::Value::Text(t),
        SqlValue::Int(i) => rusqlite::types::Value::Integer(i),
    })
}

impl SqliteStore {
    pub(in crate::store) async fn expired_ids(
        &self,
        cut: &AgeCut,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let (sql, values) = prune::expired_query(cut, limit, numbered);
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&sql)?;
            let ids = stmt.query_map(params_from_iter(bind(values)), |row| row.get(0))?;
            ids.collect()
        })
        .await
    }

    pub(in crate::store) async fn count_expired(&self, cut: &AgeCut) -> Result<u64, StoreError> {
        let (sql, values) = prune::count_query(cut, numbered);
        self.read(move |c| {
            c.prepare_cached(&sql)?
                .query_row(params_from_iter(bind(values)), |row| row.get::<_, i64>(0))
        })
        .await
        .map(|n| n as u64)
    }

    pub(in crate::store) async fn newest_beyond(
        &self,
        keep: i64,
    ) -> Result<Option<i64>, StoreError> {
        self.read(move |c| newest_beyond(c, keep)).await
    }

    pub(in crate::store) async fn ids_up_to(
        &self,
        last: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(prune::UP_TO)?;
            let ids = stmt.query_map(rusqlite::params![last, limit], |row| row.get(0))?;
            ids.collect()
        })
        .await
    }

    /// A deletion, through the writer thread like every write.
    pub(in crate::store) async fn prune(&self, prune: Prune) -> Result<u64, StoreError> {
        self.write(|reply| super::writer::Job::Prune { prune, reply })
            .await
    }
}

fn newest_beyond(c: &Connection, keep: i64) -> rusqlite::Result<Option<i64>> {
    c.prepare_cached(prune::NEWEST_BEYOND)?
        .query_row([keep], |row| row.get(0))
        .optional()
}

/// Applies a deletion inside the writer's transaction; answers the rows deleted.
pub(super) fn apply(tx: &Transaction, prune: &Prune) -> rusqlite::Result<u64> {
    match prune {
        Prune::Events(ids) => {
            let mut events = tx.prepare_cached("DELETE FROM events WHERE id = ?1")?;
            let mut bodies = tx.prepare_cached("DELETE FROM bodies WHERE id = ?1")?;
            let mut deleted = 0;
            for id in ids {
                deleted += events.execute([id])? as u64;
                bodies.execute([id])?;
            }
            Ok(deleted)
        }
        Prune::MinutesBefore(minute) => Ok(tx
            .prepare_cached(prune::FORGET_MINUTES)?
            .execute([minute])? as u64),
    }
}
