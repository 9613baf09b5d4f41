//! The `sessions` table on PostgreSQL: the same statements as SQLite, on a pooled connection.

use deadpool_postgres::ClientWrapper;

use crate::store::session::{SessionRecord, SessionWrite, sql, time};
use crate::store::sql::dollar_placeholders;

type PgResult<T> = Result<T, tokio_postgres::Error>;

/// Applies one session write; answers the rows it changed.
pub(super) async fn write(client: &mut ClientWrapper, write: &SessionWrite) -> PgResult<u64> {
    let run = |sql: &str| dollar_placeholders(sql);
    match write {
        SessionWrite::Create {
            id_hash,
            fingerprint,
            now,
            expired_before,
        } => {
            let tx = client.transaction().await?;
            tx.execute(&run(sql::PURGE), &[expired_before]).await?;
            let created = tx
                .execute(&run(sql::CREATE), &[id_hash, fingerprint, now])
                .await?;
            tx.commit().await?;
            Ok(created)
        }
        SessionWrite::Touch { id_hash, now } => {
            client.execute(&run(sql::TOUCH), &[id_hash, now]).await
        }
        SessionWrite::Revoke { id_hash } => client.execute(&run(sql::REVOKE), &[id_hash]).await,
        SessionWrite::RevokeAllBut { keep: Some(keep) } => {
            client.execute(&run(sql::REVOKE_ALL_BUT), &[keep]).await
        }
        SessionWrite::RevokeAllBut { keep: None } => client.execute(sql::REVOKE_ALL, &[]).await,
    }
}

pub(super) async fn get(client: &ClientWrapper, id_hash: &str) -> PgResult<Option<SessionRecord>> {
    let row = client
        .query_opt(&dollar_placeholders(sql::GET), &[&id_hash])
        .await?;
    row.map(|r| {
        Ok(SessionRecord {
            token_fingerprint: r.try_get(0)?,
            created_at: time(r.try_get(1)?),
            last_seen: time(r.try_get(2)?),
        })
    })
    .transpose()
}
