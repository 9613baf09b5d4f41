//! Answers by query, so a storm of identical failures costs one call.
//!
//! Time is passed in (pure, tested with fixed instants). Bounded: at `capacity` entries the
//! expired ones are dropped, then the one closest to expiry, so memory never grows with the
//! number of distinct queries a sender can provoke.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta, Utc};

/// Default number of distinct queries remembered.
pub const DEFAULT_CAPACITY: usize = 1024;

/// A size-capped map from query to answer with per-entry expiry.
#[derive(Debug)]
pub struct Cache<V> {
    entries: HashMap<String, (V, DateTime<Utc>)>,
    capacity: usize,
}

impl<V: Clone> Cache<V> {
    pub fn new(capacity: usize) -> Cache<V> {
        Cache {
            entries: HashMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// The answer for `key` if it has not expired at `now`.
    pub fn get(&mut self, key: &str, now: DateTime<Utc>) -> Option<V> {
        match self.entries.get(key) {
            Some((value, expires)) if *expires > now => Some(value.clone()),
            Some(_) => {
                self.entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Remembers `value` for `ttl` from `now`; a zero (or absurdly long) `ttl` remembers nothing.
    pub fn put(&mut self, key: &str, value: V, ttl: TimeDelta, now: DateTime<Utc>) {
        let Some(expires) = now
            .checked_add_signed(ttl)
            .filter(|_| ttl > TimeDelta::zero())
        else {
            return;
        };
        if !self.entries.contains_key(key) && self.entries.len() >= self.capacity {
            self.make_room(now);
        }
        self.entries.insert(key.to_string(), (value, expires));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn make_room(&mut self, now: DateTime<Utc>) {
        self.entries.retain(|_, (_, expires)| *expires > now);
        if self.entries.len() < self.capacity {
            return;
        }
        let soonest = self
            .entries
            .iter()
            .min_by_key(|(_, (_, expires))| *expires)
            .map(|(key, _)| key.clone());
        if let Some(key) = soonest {
            self.entries.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn an_answer_is_served_until_it_expires() {
        let mut cache = Cache::new(8);
        cache.put("q", 1, TimeDelta::seconds(60), t(0));
        assert_eq!(cache.get("q", t(59)), Some(1));
        assert_eq!(cache.get("q", t(60)), None);
        assert!(cache.is_empty(), "an expired entry is dropped when seen");
    }

    #[test]
    fn a_zero_ttl_disables_caching() {
        let mut cache = Cache::new(8);
        cache.put("q", 1, TimeDelta::zero(), t(0));
        assert_eq!(cache.get("q", t(0)), None);
    }

    #[test]
    fn the_size_stays_capped_dropping_expired_then_soonest() {
        let mut cache = Cache::new(3);
        cache.put("a", 1, TimeDelta::seconds(10), t(0));
        cache.put("b", 2, TimeDelta::seconds(100), t(0));
        cache.put("c", 3, TimeDelta::seconds(50), t(0));
        cache.put("d", 4, TimeDelta::seconds(100), t(20)); // "a" has expired: it goes
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("b", t(20)), Some(2));
        cache.put("e", 5, TimeDelta::seconds(100), t(20)); // none expired: "c" is soonest
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.get("c", t(20)), None);
        assert_eq!(cache.get("e", t(20)), Some(5));
        for n in 0..100 {
            cache.put(&format!("k{n}"), n, TimeDelta::seconds(100), t(30));
        }
        assert_eq!(cache.len(), 3);
    }
}
