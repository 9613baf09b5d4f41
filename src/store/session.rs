//! Dashboard sessions in the store, so they survive a restart and are shared by the instances
//! of a cluster. The store keeps only a hash of each session id (a copy of the database does
//! not let anyone log in) and a fingerprint of the token it was made under; what is valid, and
//! for how long, is decided in `auth`, not here.
//!
//! Both backends run the same SQL (`sql`), with `?N` placeholders (`dollar_placeholders` for
//! PostgreSQL); times are microseconds since the epoch, like every other time column.

use chrono::{DateTime, Utc};

use super::{Backend, Store, StoreError};

/// One stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Which token the session was made under (`auth::session::fingerprint`).
    pub token_fingerprint: String,
    pub created_at: DateTime<Utc>,
    /// The last time the session was used, as last written (`Store::touch_session`).
    pub last_seen: DateTime<Utc>,
}

/// A write to the `sessions` table; every one answers the number of rows it changed.
#[derive(Debug, Clone)]
pub(crate) enum SessionWrite {
    /// A new session; sessions idle since before `expired_before` are deleted with it, so the
    /// table holds only live sessions.
    Create {
        id_hash: String,
        fingerprint: String,
        now: i64,
        expired_before: i64,
    },
    /// The session was used at `now`.
    Touch { id_hash: String, now: i64 },
    /// Logout.
    Revoke { id_hash: String },
    /// Every session not made under `keep` (every session when `None`).
    RevokeAllBut { keep: Option<String> },
}

/// The SQL of `SessionWrite` and `Store::session`, shared by both backends.
pub(crate) mod sql {
    /// ?1 id hash, ?2 fingerprint, ?3 now.
    pub const CREATE: &str = "INSERT INTO sessions (id_hash, token_fingerprint, created_at,
        last_seen) VALUES (?1, ?2, ?3, ?3)";
    /// ?1 idle since before this.
    pub const PURGE: &str = "DELETE FROM sessions WHERE last_seen < ?1";
    /// ?1 id hash, ?2 now. Never moves `last_seen` back (two instances touching at once).
    pub const TOUCH: &str =
        "UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1 AND last_seen < ?2";
    /// ?1 id hash.
    pub const REVOKE: &str = "DELETE FROM sessions WHERE id_hash = ?1";
    /// ?1 the fingerprint to keep.
    pub const REVOKE_ALL_BUT: &str = "DELETE FROM sessions WHERE token_fingerprint <> ?1";
    pub const REVOKE_ALL: &str = "DELETE FROM sessions";
    /// ?1 id hash.
    pub const GET: &str =
        "SELECT token_fingerprint, created_at, last_seen FROM sessions WHERE id_hash = ?1";
}

/// A stored time back to a `DateTime`; an impossible one reads as the epoch (long expired).
pub(crate) fn time(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

impl Store {
    /// Stores a new session made under the token with `fingerprint`, and deletes the ones
    /// idle since before `expired_before`.
    pub async fn create_session(
        &self,
        id_hash: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        expired_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.write_session(SessionWrite::Create {
            id_hash: id_hash.to_string(),
            fingerprint: fingerprint.to_string(),
            now: now.timestamp_micros(),
            expired_before: expired_before.timestamp_micros(),
        })
        .await
        .map(|_| ())
    }

    /// The session with this id hash, if it exists.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRecord>, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.session(id_hash).await,
            Backend::Postgres(s) => s.session(id_hash).await,
        }
    }

    /// Records that the session was used at `now` (its idle time starts again).
    pub async fn touch_session(&self, id_hash: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        let id_hash = id_hash.to_string();
        let now = now.timestamp_micros();
        self.write_session(SessionWrite::Touch { id_hash, now })
            .await
            .map(|_| ())
    }

    /// Ends one session (logout); answers whether it existed.
    pub async fn revoke_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        let id_hash = id_hash.to_string();
        let revoked = self.write_session(SessionWrite::Revoke { id_hash }).await?;
        Ok(revoked > 0)
    }

    /// Ends every session not made under the token with fingerprint `keep` (every session
    /// when `None`); answers how many ended.
    pub async fn revoke_sessions(&self, keep: Option<&str>) -> Result<u64, StoreError> {
        let keep = keep.map(str::to_string);
        self.write_session(SessionWrite::RevokeAllBut { keep })
            .await
    }

    async fn write_session(&self, write: SessionWrite) -> Result<u64, StoreError> {
        match &self.0 {
            Backend::Sqlite(s) => s.write_session(write).await,
            Backend::Postgres(s) => s.write_session(write).await,
        }
    }
}
