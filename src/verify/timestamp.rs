//! The replay window of the timestamped schemes (Stripe, Slack, Standard Webhooks).
//!
//! A signed timestamp must be within `tolerance_secs` of `now`, in both directions (a
//! future timestamp is as suspect as an old one). The window is inclusive: exactly 300 s old
//! is valid with a 300 s tolerance, 301 s is not.

use super::Reason;

/// `now` and the tolerance of one verification, passed in so the code never reads a clock.
#[derive(Debug, Clone, Copy)]
pub(super) struct Window {
    pub(super) now: i64,
    pub(super) tolerance_secs: u64,
}

impl Window {
    /// `Ok` when `signed_at` is inside the window; the reason says by how much it is not.
    pub(super) fn check(self, signed_at: i64) -> Result<(), Reason> {
        // i128: neither the difference nor its negation can overflow.
        let age = i128::from(self.now) - i128::from(signed_at);
        let tolerance = i128::from(self.tolerance_secs);
        let secs = |d: i128| u64::try_from(d).unwrap_or(u64::MAX);
        if age > tolerance {
            Err(Reason::StaleTimestamp {
                age_secs: secs(age),
                tolerance_secs: self.tolerance_secs,
            })
        } else if -age > tolerance {
            Err(Reason::FutureTimestamp {
                ahead_secs: secs(-age),
                tolerance_secs: self.tolerance_secs,
            })
        } else {
            Ok(())
        }
    }
}

/// Parses a decimal Unix timestamp: ASCII digits only (no sign, no fraction, no spaces; the
/// caller trims). `None` when it is not one or does not fit in an `i64`.
pub(super) fn parse(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Window = Window {
        now: 1_000_000,
        tolerance_secs: 300,
    };

    #[test]
    fn a_timestamp_exactly_at_the_tolerance_is_inside_the_window() {
        assert_eq!(WINDOW.check(1_000_000 - 300), Ok(()));
        assert_eq!(WINDOW.check(1_000_000 + 300), Ok(()));
    }

    #[test]
    fn a_timestamp_301_seconds_old_is_stale() {
        let expected = Reason::StaleTimestamp {
            age_secs: 301,
            tolerance_secs: 300,
        };
        assert_eq!(WINDOW.check(1_000_000 - 301), Err(expected));
    }

    #[test]
    fn a_timestamp_301_seconds_in_the_future_is_rejected() {
        let expected = Reason::FutureTimestamp {
            ahead_secs: 301,
            tolerance_secs: 300,
        };
        assert_eq!(WINDOW.check(1_000_000 + 301), Err(expected));
    }

    #[test]
    fn extreme_timestamps_do_not_overflow() {
        let window = Window {
            now: i64::MIN,
            tolerance_secs: u64::MAX,
        };
        assert_eq!(window.check(i64::MAX), Ok(()));
        let window = Window {
            now: i64::MAX,
            tolerance_secs: 0,
        };
        assert!(matches!(
            window.check(i64::MIN),
            Err(Reason::StaleTimestamp { .. })
        ));
    }

    #[test]
    fn only_plain_decimal_digits_are_a_timestamp() {
        assert_eq!(parse("1531420618"), Some(1_531_420_618));
        for text in [
            "",
            "1531420618.5",
            "-5",
            "+5",
            " 5",
            "abc",
            "99999999999999999999",
            "٣",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
    }
}
