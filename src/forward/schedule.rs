//! The verdict on one delivery attempt, and when the next one is due.
//!
//! Any 2xx is delivered. `410 Gone` is the application saying it will never want this: dead
//! at once. Everything else — another status, a refused connection, a timeout, a redirect
//! (never followed) — is retried until `max_attempts`, then dead.
//!
//! Retries back off exponentially from one second to one hour, each delay spread by jitter to
//! between half and one and a half times its nominal value (clamped to that range), so
//! deliveries that failed together — a target that was down — do not all come back in the
//! same second. An answer's `Retry-After` is a floor: hookwatch never comes back sooner than
//! asked, though it stops listening past a day, so a broken header cannot park a delivery for
//! ever. Pure: the jitter is passed in as a number in `[0, 1)`, and `now` for HTTP dates.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// The shortest wait between two attempts.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest wait the backoff reaches.
pub const MAX_DELAY: Duration = Duration::from_secs(3600);
/// The longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(86_400);

/// What came of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The target answered with this status (and maybe a `Retry-After`).
    Answered {
        status: u16,
        retry_after: Option<String>,
    },
    /// No answer: refused, reset, timed out, or a broker that did not acknowledge.
    NoAnswer,
    /// A broker acknowledged the message.
    Acknowledged,
}

/// What happens to the delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    Dead,
    RetryAfter(Duration),
}

/// The verdict on attempt number `attempt` (1-based) of a delivery allowed `max_attempts`.
pub fn judge(
    outcome: &Outcome,
    attempt: u32,
    max_attempts: u32,
    jitter: f64,
    now: DateTime<Utc>,
) -> Verdict {
    let asked = match outcome {
        Outcome::Acknowledged => return Verdict::Delivered,
        Outcome::Answered { status, .. } if (200..300).contains(status) => {
            return Verdict::Delivered;
        }
        Outcome::Answered { status: 410, .. } => return Verdict::Dead,
        Outcome::Answered { retry_after, .. } => retry_after
            .as_deref()
            .and_then(|value| crate::retry_after::wait(value, now)),
        Outcome::NoAnswer => None,
    };
    if attempt >= max_attempts {
        return Verdict::Dead;
    }
    let backoff = delay(attempt, jitter);
    let floor = asked.unwrap_or(Duration::ZERO).min(MAX_RETRY_AFTER);
    Verdict::RetryAfter(backoff.max(floor))
}

/// The wait after failed attempt `attempt`: 1 s doubling to 1 h, times `0.5 + jitter`,
/// clamped to `[FIRST_DELAY, MAX_DELAY]`.
pub fn delay(attempt: u32, jitter: f64) -> Duration {
    let doublings = attempt.saturating_sub(1).min(12);
    let nominal = (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY);
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let spread = 0.5 + jitter;
    nominal.mul_f64(spread).clamp(FIRST_DELAY, MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    fn answered(status: u16) -> Outcome {
        Outcome::Answered {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn any_2xx_or_a_broker_ack_is_delivered() {
        for status in [200, 201, 202, 204, 299] {
            assert_eq!(
                judge(&answered(status), 1, 5, 0.5, now()),
                Verdict::Delivered
            );
        }
        assert_eq!(
            judge(&Outcome::Acknowledged, 5, 5, 0.5, now()),
            Verdict::Delivered,
            "success on the last attempt still counts"
        );
    }

    #[test]
    fn gone_is_dead_at_once() {
        assert_eq!(judge(&answered(410), 1, 12, 0.5, now()), Verdict::Dead);
    }

    #[test]
    fn failures_are_retried_until_max_attempts_then_dead() {
        for outcome in [
            answered(500),
            answered(302),
            answered(404),
            Outcome::NoAnswer,
        ] {
            assert!(matches!(
                judge(&outcome, 1, 3, 0.5, now()),
                Verdict::RetryAfter(_)
            ));
            assert!(matches!(
                judge(&outcome, 2, 3, 0.5, now()),
                Verdict::RetryAfter(_)
            ));
            assert_eq!(
                judge(&outcome, 3, 3, 0.5, now()),
                Verdict::Dead,
                "{outcome:?}"
            );
        }
    }

    #[test]
    fn the_backoff_doubles_from_one_second_to_one_hour() {
        assert_eq!(delay(1, 0.5), Duration::from_secs(1));
        assert_eq!(delay(2, 0.5), Duration::from_secs(2));
        assert_eq!(delay(5, 0.5), Duration::from_secs(16));
        assert_eq!(delay(12, 0.5), Duration::from_secs(2048));
        assert_eq!(delay(13, 0.5), MAX_DELAY, "4096 s is capped at an hour");
        assert_eq!(delay(u32::MAX, 0.5), MAX_DELAY);
    }

    #[test]
    fn jitter_spreads_a_delay_but_never_below_a_second_or_above_an_hour() {
        assert_eq!(delay(1, 0.0), FIRST_DELAY);
        assert_eq!(delay(4, 0.0), Duration::from_secs(4));
        assert_eq!(delay(4, 0.999), Duration::from_secs(8).mul_f64(1.499));
        assert_eq!(delay(30, 0.999), MAX_DELAY);
        assert_eq!(delay(30, 0.0), MAX_DELAY / 2);
        assert_eq!(
            delay(3, f64::NAN),
            Duration::from_secs(4),
            "no jitter, no panic"
        );
    }

    #[test]
    fn retry_after_is_a_floor_not_a_ceiling() {
        let later = |value: &str| Outcome::Answered {
            status: 503,
            retry_after: Some(value.to_string()),
        };
        assert_eq!(
            judge(&later("120"), 1, 12, 0.5, now()),
            Verdict::RetryAfter(Duration::from_secs(120))
        );
        assert_eq!(
            judge(&later("0"), 5, 12, 0.5, now()),
            Verdict::RetryAfter(Duration::from_secs(16)),
            "a shorter Retry-After does not make hookwatch come back sooner than its backoff"
        );
        assert_eq!(
            judge(&later("Sat, 28 Nov 2026 12:10:00 GMT"), 1, 12, 0.5, now()),
            Verdict::RetryAfter(Duration::from_secs(600))
        );
        assert_eq!(
            judge(&later("99999999"), 1, 12, 0.5, now()),
            Verdict::RetryAfter(MAX_RETRY_AFTER)
        );
        assert_eq!(
            judge(&later("soon"), 1, 12, 0.5, now()),
            Verdict::RetryAfter(Duration::from_secs(1))
        );
    }
}
