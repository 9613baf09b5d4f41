//! The `sessions` table on SQLite: writes run on the writer's transaction, reads on a reader.

use rusqlite::{Connection, OptionalExtension, params};

use crate::store::session::{SessionRecord, SessionWrite, sql, time};

/// Applies one session write; answers the rows it changed.
pub(super) fn write(conn: &Connection, write: &SessionWrite) -> rusqlite::Result<u64> {
    let changed = match write {
        SessionWrite::Create {
            id_hash,
            fingerprint,
            now,
            expired_before,
        } => {
            conn.prepare_cached(sql::PURGE)?.execute([expired_before])?;
            conn.prepare_cached(sql::CREATE)?
                .execute(params![id_hash, fingerprint, now])?
        }
        SessionWrite::Touch { id_hash, now } => conn
            .prepare_cached(sql::TOUCH)?
            .execute(params![id_hash, now])?,
        SessionWrite::Revoke { id_hash } => conn.prepare_cached(sql::REVOKE)?.execute([id_hash])?,
        SessionWrite::RevokeAllBut { keep: Some(keep) } => {
            conn.prepare_cached(sql::REVOKE_ALL_BUT)?.execute([keep])?
        }
        SessionWrite::RevokeAllBut { keep: None } => {
            conn.prepare_cached(sql::REVOKE_ALL)?.execute([])?
        }
    };
    Ok(changed as u64)
}

pub(super) fn get(conn: &Connection, id_hash: &str) -> rusqlite::Result<Option<SessionRecord>> {
    conn.prepare_cached(sql::GET)?
        .query_row([id_hash], |r| {
            Ok(SessionRecord {
                token_fingerprint: r.get(0)?,
                created_at: time(r.get(1)?),
                last_seen: time(r.get(2)?),
            })
        })
        .optional()
}
