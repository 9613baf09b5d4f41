//! Deleting events in PostgreSQL (see `store::prune`) on pooled connections.
//!
//! Several instances may prune one database at once: each deletion is a short transaction
//! over a list of ids, and an id another instance deleted first is simply not found. Space
//! is reclaimed by autovacuum, which makes the freed room reusable for new rows.

use tokio_postgres::types::ToSql;

use super::read::Bind;
use super::{PgStore, unavailable};
use crate::store::StoreError;
use crate::store::prune::{self, AgeCut, Prune};
use crate::store::sql::dollar_placeholders;

fn dollar(n: usize) -> String {
    format!("${n}")
}

impl PgStore {
    pub(in crate::store) async fn expired_ids(
        &self,
        cut: &AgeCut,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let (sql, values) = prune::expired_query(cut, limit, dollar);
        let binds: Vec<Bind> = values.into_iter().map(Bind).collect();
        let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        let client = self.client().await?;
        let rows = client.query(&sql, &params).await.map_err(unavailable)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    pub(in crate::store) async fn count_expired(&self, cut: &AgeCut) -> Result<u64, StoreError> {
        let (sql, values) = prune::count_query(cut, dollar);
        let binds: Vec<Bind> = values.into_iter().map(Bind).collect();
        let params: Vec<&(dyn ToSql + Sync)> = binds.iter().map(|b| b as _).collect();
        let client = self.client().await?;
        let row = client.query_one(&sql, &params).await.map_err(unavailable)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    pub(in crate::store) async fn newest_beyond(
        &self,
        keep: i64,
    ) -> Result<Option<i64>, StoreError> {
        let client = self.client().await?;
        let sql = dollar_placeholders(prune::NEWEST_BEYOND);
        let row = client
            .query_opt(&sql, &[&keep])
            .await
            .map_err(unavailable)?;
        Ok(row.map(|row| row.get(0)))
    }

    pub(in crate::store) async fn ids_up_to(
        &self,
        last: i64,
        limit: u32,
    ) -> Result<Vec<i64>, StoreError> {
        let client = self.client().await?;
        let sql = dollar_placeholders(prune::UP_TO);
        let rows = client
            .query(&sql, &[&last, &i64::from(limit)])
            .await
            .map_err(unavailable)?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }

    pub(in crate::store) async fn prune(&self, prune: Prune) -> Result<u64, StoreError> {
        let mut client = self.client().await?;
        match prune {
            Prune::Events(ids) => {
                let tx = client.transaction().await.map_err(unavailable)?;
                tx.execute("DELETE FROM bodies WHERE id = ANY($1)", &[&ids])
                    .await
                    .map_err(unavailable)?;
                let deleted = tx
                    .execute("DELETE FROM events WHERE id = ANY($1)", &[&ids])
                    .await
                    .map_err(unavailable)?;
                tx.commit().await.map_err(unavailable)?;
                Ok(deleted)
            }
            Prune::MinutesBefore(minute) => {
                let sql = dollar_placeholders(prune::FORGET_MINUTES);
                client.execute(&sql, &[&minute]).await.map_err(unavailable)
            }
        }
    }
}
