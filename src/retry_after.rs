//! The `Retry-After` header (RFC 9110), read as how long to wait: a number of seconds or an
//! HTTP date. Shared by every outbound caller that retries (enrichment, forwarding), so they
//! all understand a service's request for patience the same way. Pure; `now` is passed in.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The wait a `Retry-After` value asks for; a date in the past asks for none. `None` when the
/// value is neither form, so the caller falls back to its own backoff.
pub fn wait(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date = DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (date.with_timezone(&Utc) - now)
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn seconds_and_dates_are_both_read() {
        assert_eq!(wait("7", now()), Some(Duration::from_secs(7)));
        assert_eq!(wait(" 7 ", now()), Some(Duration::from_secs(7)));
        assert_eq!(
            wait("Sat, 28 Nov 2026 12:00:03 GMT", now()),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn a_date_in_the_past_means_now_and_nonsense_means_nothing() {
        assert_eq!(
            wait("Sat, 28 Nov 2026 11:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(wait("soon", now()), None);
        assert_eq!(wait("-5", now()), None);
    }
}
