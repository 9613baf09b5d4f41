//! Dashboard sessions kept in the store (`store::session`), judged by `auth::session`, with a
//! small cache in front so that a dashboard's many requests do not each read the store.
//!
//! The cache trusts a store answer for `RECHECK` at most, and never past the session's expiry:
//! a logout on this instance takes effect at once (it clears the entry), a logout on another
//! instance of a cluster within `RECHECK`. It holds at most `MAX_CACHED` sessions and starts
//! over when full; the store stays the truth.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};

use super::session::{self, NoRandomness, Verdict};
use crate::store::{Store, StoreError};

/// How long a store answer about a session is trusted.
const RECHECK: TimeDelta = TimeDelta::seconds(10);
/// Sessions remembered at most.
const MAX_CACHED: usize = 1024;

/// Why a session could not be made or ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    NoRandomness(#[from] NoRandomness),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The sessions of one token.
pub struct Sessions {
    store: Store,
    fingerprint: String,
    idle: TimeDelta,
    cache: Mutex<HashMap<String, Cached>>,
}

/// What the store last said about a valid session.
#[derive(Debug, Clone, Copy)]
struct Cached {
    last_seen: DateTime<Utc>,
    checked: DateTime<Utc>,
}

impl Sessions {
    /// Sessions made under `token` that end after `idle` without use.
    pub fn new(store: Store, token: &str, idle: TimeDelta) -> Sessions {
        Sessions {
            store,
            fingerprint: session::fingerprint(token),
            idle,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session at `now`; answers its id, the cookie's value. Sessions idle for longer
    /// than `idle` are deleted from the store on the way.
    pub async fn create(&self, now: DateTime<Utc>) -> Result<String, SessionError> {
        let id = session::new_id()?;
        let hash = session::id_hash(&id).expect("a new id is well formed");
        self.store
            .create_session(&hash, &self.fingerprint, now, now - self.idle)
            .await?;
        self.remember(hash, now, now);
        Ok(id)
    }

    /// Whether `id` is a valid session at `now`; a valid one's idle time starts again.
    pub async fn validate(&self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let Some(hash) = session::id_hash(id) else {
            return Ok(false);
        };
        if self.cached(&hash, now) {
            return Ok(true);
        }
        let record = self.store.session(&hash).await?;
        let verdict = record
            .as_ref()
            .map(|r| session::judge(r, &self.fingerprint, now, self.idle));
        match (record, verdict) {
            (Some(record), Some(Verdict::Valid { touch })) => {
                let last_seen = if touch {
                    self.store.touch_session(&hash, now).await?;
                    now
                } else {
                    record.last_seen
                };
                self.remember(hash, last_seen, now);
                Ok(true)
            }
            _ => {
                self.forget(&hash);
                Ok(false)
            }
        }
    }

    /// Ends the session `id` (logout), here and in the store.
    pub async fn revoke(&self, id: &str) -> Result<(), StoreError> {
        let Some(hash) = session::id_hash(id) else {
            return Ok(());
        };
        self.forget(&hash);
        self.store.revoke_session(&hash).await.map(|_| ())
    }

    /// Deletes every stored session made under another token; answers how many.
    pub async fn revoke_other_tokens(&self) -> Result<u64, StoreError> {
        self.store.revoke_sessions(Some(&self.fingerprint)).await
    }

    /// Whether the cache may answer "valid" for `hash` at `now` without the store.
    fn cached(&self, hash: &str, now: DateTime<Utc>) -> bool {
        let Ok(cache) = self.cache.lock() else {
            return false;
        };
        cache.get(hash).is_some_and(|c| {
            let fresh = now - c.checked < RECHECK.min(session::touch_interval(self.idle));
            fresh && now < c.last_seen + self.idle
        })
    }

    fn remember(&self, hash: String, last_seen: DateTime<Utc>, checked: DateTime<Utc>) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
            cache.insert(hash, Cached { last_seen, checked });
        }
    }

    fn forget(&self, hash: &str) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.remove(hash);
        }
    }
}
