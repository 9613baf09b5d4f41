//! What a dashboard session is: a random id in the cookie, its hash in the store, the
//! fingerprint of the token it was made under, and when it stops being valid.
//!
//! - The id is 32 bytes from the operating system's CSPRNG, so it cannot be guessed, and a new
//!   one is drawn at every login, so two logins never share a cookie.
//! - The store keeps SHA-256 of the id: someone who reads the database cannot use a session.
//! - The fingerprint (an HMAC keyed by the token) ties a session to the token it was made
//!   under: change the token and every earlier session is invalid.
//! - A session expires after `idle` without use (sliding). Its last use is written at most
//!   once per [`touch_interval`], so a busy dashboard does not write on every request; a
//!   session may therefore end up to that interval before `idle` has fully passed.
//!
//! Pure: `now` is passed in, no I/O. Entry points: [`new_id`], [`id_hash`], [`fingerprint`],
//! [`judge`].

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::SessionRecord;

/// Random bytes in a session id.
const ID_BYTES: usize = 32;
/// The longest time between two writes of a session's last use.
const MAX_TOUCH_INTERVAL: TimeDelta = TimeDelta::seconds(60);

/// The operating system could not give random bytes; no session can be made.
#[derive(Debug, thiserror::Error)]
#[error("no randomness for a session id: {0}")]
pub struct NoRandomness(getrandom::Error);

/// A fresh session id: the cookie's value, 64 lowercase hex digits.
pub fn new_id() -> Result<String, NoRandomness> {
    let mut bytes = [0u8; ID_BYTES];
    getrandom::fill(&mut bytes).map_err(NoRandomness)?;
    Ok(hex::encode(bytes))
}

/// The hash the store keeps of a session id; `None` when the text cannot be an id (so a
/// malformed cookie never reaches the store).
pub fn id_hash(id: &str) -> Option<String> {
    let well_formed = id.len() == ID_BYTES * 2
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    well_formed.then(|| hex::encode(Sha256::digest(id.as_bytes())))
}

/// Which token a session was made under, without storing anything the token can be read from.
pub fn fingerprint(token: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(token.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"hookwatch session token fingerprint v1");
    hex::encode(mac.finalize().into_bytes())
}

/// How often a used session's last use is written: a tenth of `idle`, at most a minute.
pub fn touch_interval(idle: TimeDelta) -> TimeDelta {
    (idle / 10).min(MAX_TOUCH_INTERVAL)
}

/// What a stored session is worth at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid; `touch` when its last use should be written now.
    Valid { touch: bool },
    /// Idle for longer than `idle`.
    Expired,
    /// Made under another token.
    OtherToken,
}

/// Judges a stored session against the current token's fingerprint at `now`.
pub fn judge(
    record: &SessionRecord,
    fingerprint: &str,
    now: DateTime<Utc>,
    idle: TimeDelta,
) -> Verdict {
    let same_token = record
        .token_fingerprint
        .as_bytes()
        .ct_eq(fingerprint.as_bytes());
    if !bool::from(same_token) {
        return Verdict::OtherToken;
    }
    if now >= record.last_seen + idle {
        return Verdict::Expired;
    }
    Verdict::Valid {
        touch: now >= record.last_seen + touch_interval(idle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap()
    }

    fn record(token: &str, last_seen: i64) -> SessionRecord {
        SessionRecord {
            token_fingerprint: fingerprint(token),
            created_at: at(0),
            last_seen: at(last_seen),
        }
    }

    #[test]
    fn ids_are_random_hex_and_only_well_formed_ids_have_a_hash() {
        let (a, b) = (new_id().unwrap(), new_id().unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        let hash = id_hash(&a).unwrap();
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, a, "the store never sees the id");
        assert_eq!(id_hash(&a), Some(hash));
        for bad in [
            "",
            "s3cret",
            &a[..63],
            &a.to_uppercase(),
            &format!("{}g", &a[..63]),
        ] {
            assert_eq!(id_hash(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_fingerprint_tells_tokens_apart_without_containing_them() {
        let token = "a-long-token-value-for-tests";
        assert_eq!(fingerprint(token), fingerprint(token));
        assert_ne!(fingerprint(token), fingerprint("another-long-token-value"));
        assert!(!fingerprint(token).contains(token));
    }

    #[test]
    fn a_session_slides_while_used_and_expires_after_idle_time() {
        let idle = TimeDelta::hours(12);
        let fresh = record("tok", 0);
        assert_eq!(
            judge(&fresh, &fingerprint("tok"), at(30), idle),
            Verdict::Valid { touch: false },
            "used again within the touch interval: nothing to write"
        );
        assert_eq!(
            judge(&fresh, &fingerprint("tok"), at(61), idle),
            Verdict::Valid { touch: true }
        );
        let last = at(12 * 3600 - 1);
        assert_eq!(
            judge(&fresh, &fingerprint("tok"), last, idle),
            Verdict::Valid { touch: true }
        );
        assert_eq!(
            judge(&fresh, &fingerprint("tok"), at(12 * 3600), idle),
            Verdict::Expired
        );
        let touched = record("tok", 12 * 3600 - 1);
        assert_eq!(
            judge(&touched, &fingerprint("tok"), at(20 * 3600), idle),
            Verdict::Valid { touch: true },
            "a touch moves the expiry"
        );
    }

    #[test]
    fn a_session_made_under_another_token_is_invalid() {
        let idle = TimeDelta::hours(12);
        assert_eq!(
            judge(&record("old", 0), &fingerprint("new"), at(1), idle),
            Verdict::OtherToken
        );
    }

    #[test]
    fn the_touch_interval_is_a_tenth_of_idle_up_to_a_minute() {
        assert_eq!(
            touch_interval(TimeDelta::seconds(1)),
            TimeDelta::milliseconds(100)
        );
        assert_eq!(touch_interval(TimeDelta::hours(12)), TimeDelta::seconds(60));
    }
}
