//! Throttling token guesses per client address, so guessing the token costs a minute per ten
//! tries instead of nothing.
//!
//! A wrong token (in the login form or a bearer header) is a failure; a request without one, or
//! with a stale session cookie, is not (a browser left open on an old session is no attacker).
//! After [`LIMIT`] failures within a [`WINDOW`] that started with the first of them, the address
//! is refused for the rest of that window, whatever token it sends: answering a right guess
//! would tell the guesser it was right.
//!
//! Addresses are keyed as a client controls them: an IPv4 address, or an IPv6 /64 (one host
//! usually owns a whole /64, and would otherwise get 2^64 tries). At most [`CAPACITY`]
//! addresses are tracked; when full, finished windows are dropped first, then the oldest
//! window. The state is per process: each instance of a cluster throttles on its own.
//!
//! Pure: `now` is passed in, no I/O. Entry points: [`Throttle::blocked`], [`Throttle::failed`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Wrong tokens allowed from one address within a window.
pub const LIMIT: u32 = 10;
/// How long a window lasts, counted from its first wrong token.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at most; bounds the memory a flood of addresses can take.
pub const CAPACITY: usize = 10_000;

/// What one client address did in its current window.
#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

/// Wrong tokens per client address.
#[derive(Debug)]
pub struct Throttle {
    limit: u32,
    window: Duration,
    capacity: usize,
    clients: HashMap<IpAddr, Window>,
}

impl Default for Throttle {
    fn default() -> Throttle {
        Throttle::new(LIMIT, WINDOW, CAPACITY)
    }
}

impl Throttle {
    pub fn new(limit: u32, window: Duration, capacity: usize) -> Throttle {
        Throttle {
            limit: limit.max(1),
            window,
            capacity: capacity.max(1),
            clients: HashMap::new(),
        }
    }

    /// How long `client` must wait, when it is refused at `now`.
    pub fn blocked(&self, client: IpAddr, now: Instant) -> Option<Duration> {
        let window = self.clients.get(&key(client))?;
        let ends = window.started + self.window;
        (window.failures >= self.limit && now < ends).then(|| ends - now)
    }

    /// Records a wrong token from `client` at `now`. Answers how long the address is now
    /// refused when this failure is the one that reached the limit (once per window, so the
    /// caller logs it once).
    pub fn failed(&mut self, client: IpAddr, now: Instant) -> Option<Duration> {
        let client = key(client);
        if !self.clients.contains_key(&client) {
            self.make_room(now);
        }
        let fresh = Window {
            started: now,
            failures: 0,
        };
        let window = self.clients.entry(client).or_insert(fresh);
        if now >= window.started + self.window {
            *window = fresh;
        }
        window.failures = window.failures.saturating_add(1);
        (window.failures == self.limit).then(|| window.started + self.window - now)
    }

    /// Addresses tracked now.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no address is tracked.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Frees a slot for a new address: finished windows go first, then the oldest one.
    fn make_room(&mut self, now: Instant) {
        if self.clients.len() < self.capacity {
            return;
        }
        let window = self.window;
        self.clients.retain(|_, w| now < w.started + window);
        if self.clients.len() < self.capacity {
            return;
        }
        let oldest = self
            .clients
            .iter()
            .min_by_key(|(_, w)| w.started)
            .map(|(client, _)| *client);
        if let Some(oldest) = oldest {
            self.clients.remove(&oldest);
        }
    }
}

/// The part of an address one client controls: the IPv4 address (also when written as an
/// IPv4-mapped IPv6 one), or the IPv6 /64.
fn key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(prefix.into())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ten_wrong_tokens_within_a_minute_refuse_the_address_for_the_rest_of_it() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        let guesser = ip("203.0.113.7");
        for n in 0..9 {
            let at = start + Duration::from_secs(n);
            assert_eq!(throttle.failed(guesser, at), None, "failure {n}");
            assert_eq!(throttle.blocked(guesser, at), None, "after failure {n}");
        }
        let tenth = start + Duration::from_secs(20);
        assert_eq!(
            throttle.failed(guesser, tenth),
            Some(Duration::from_secs(40)),
            "the tenth reaches the limit"
        );
        assert_eq!(
            throttle.blocked(guesser, tenth + Duration::from_secs(10)),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            throttle.failed(guesser, tenth + Duration::from_secs(1)),
            None,
            "reported once per window"
        );
        assert_eq!(throttle.blocked(ip("203.0.113.8"), tenth), None);
        assert_eq!(throttle.blocked(guesser, start + WINDOW), None);
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_never_block() {
        let mut throttle = Throttle::default();
        let start = Instant::now();
        let client = ip("198.51.100.1");
        for n in 0..30 {
            let at = start + Duration::from_secs(n * 7);
            throttle.failed(client, at);
            assert_eq!(throttle.blocked(client, at), None, "failure {n}");
        }
    }

    #[test]
    fn an_ipv6_client_is_one_address_per_64_and_a_mapped_ipv4_is_its_ipv4() {
        let mut throttle = Throttle::new(2, WINDOW, 100);
        let now = Instant::now();
        throttle.failed(ip("2001:db8:1:2::1"), now);
        throttle.failed(ip("2001:db8:1:2:ffff::9"), now);
        assert!(throttle.blocked(ip("2001:db8:1:2::77"), now).is_some());
        assert!(throttle.blocked(ip("2001:db8:1:3::1"), now).is_none());
        throttle.failed(ip("::ffff:192.0.2.1"), now);
        throttle.failed(ip("192.0.2.1"), now);
        assert!(throttle.blocked(ip("192.0.2.1"), now).is_some());
    }

    #[test]
    fn memory_is_bounded_dropping_finished_windows_then_the_oldest() {
        let mut throttle = Throttle::new(1, WINDOW, 3);
        let start = Instant::now();
        for n in 0..3u8 {
            throttle.failed(
                IpAddr::from([10, 0, 0, n]),
                start + Duration::from_secs(n.into()),
            );
        }
        let later = start + Duration::from_secs(30);
        for n in 10..200u8 {
            throttle.failed(IpAddr::from([10, 0, 1, n]), later);
            assert!(throttle.len() <= 3);
        }
        assert!(
            throttle
                .blocked(IpAddr::from([10, 0, 1, 199]), later)
                .is_some(),
            "the newest is kept"
        );
        assert!(
            throttle
                .blocked(IpAddr::from([10, 0, 0, 0]), later)
                .is_none()
        );
        let next_minute = start + WINDOW + Duration::from_secs(31);
        throttle.failed(ip("10.9.9.9"), next_minute);
        assert_eq!(throttle.len(), 1, "finished windows are dropped first");
    }
}
