//! A map whose entries all live one TTL, bounded in size.
//!
//! # Design
//!
//! With one TTL, insertion order is expiry order, so a queue of insertions
//! finds both the entries that have expired and, when the map is full, the
//! oldest live one: each insert costs O(1) amortised, with no scan of the
//! map and no clearing of it under the write lock. Evicting the oldest is
//! also evicting the entry with the least life left. A key put again leaves
//! its old record in the queue; a record whose expiry no longer matches the
//! map's is skipped when it comes out, and the queue is compacted when such
//! records pile up.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Entries of one TTL, at most `capacity` of them.
#[derive(Debug)]
pub struct Expiring<V> {
    ttl: Duration,
    capacity: usize,
    map: HashMap<Arc<str>, (Instant, V)>,
    /// (expiry, key) in insertion order.
    order: VecDeque<(Instant, Arc<str>)>,
}

impl<V: Clone> Expiring<V> {
    /// An empty map of entries living `ttl`, holding at most `capacity`
    /// (at least 1).
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity: capacity.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The value of `key`, unless it has expired at `now`.
    pub fn get(&self, key: &str, now: Instant) -> Option<V> {
        match self.map.get(key) {
            Some((expires, value)) if *expires > now => Some(value.clone()),
            _ => None,
        }
    }

    /// Puts `value` for `key` until `now + ttl`, first dropping what has
    /// expired, then (when full) the oldest entries.
    pub fn insert(&mut self, key: &str, value: V, now: Instant) {
        while self.order.front().is_some_and(|(e, _)| *e <= now) {
            self.pop_oldest();
        }
        if !self.map.contains_key(key) {
            // Every entry has a record in the queue, so this ends.
            while self.map.len() >= self.capacity && self.pop_oldest() {}
        }
        let key: Arc<str> = Arc::from(key);
        let expires = now + self.ttl;
        self.map.insert(key.clone(), (expires, value));
        self.order.push_back((expires, key));
        if self.order.len() > 2 * self.capacity {
            let map = &self.map;
            self.order
                .retain(|(e, k)| map.get(k).is_some_and(|(expires, _)| expires == e));
        }
    }

    /// Drops the entry of `key`, if any.
    pub fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    /// Drops every entry.
    pub fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }

    /// Entries held (some may have expired).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Takes the oldest record off the queue, removing its entry unless the
    /// key was put again since; false when the queue is empty.
    fn pop_oldest(&mut self) -> bool {
        let Some((expires, key)) = self.order.pop_front() else {
            return false;
        };
        if self.map.get(&key).is_some_and(|(e, _)| *e == expires) {
            self.map.remove(&key);
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_entry_makes_room_and_a_key_put_again_is_younger() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut m = Expiring::new(ms(100), 3);
        m.insert("a", 1, t0);
        m.insert("b", 2, t0 + ms(1));
        m.insert("c", 3, t0 + ms(2));
        m.insert("a", 4, t0 + ms(3));
        m.insert("d", 5, t0 + ms(4));
        assert_eq!(m.get("b", t0 + ms(4)), None, "b was the oldest");
        assert_eq!(m.get("a", t0 + ms(4)), Some(4), "a was put again");
        assert_eq!(
            (m.get("c", t0 + ms(4)), m.get("d", t0 + ms(4))),
            (Some(3), Some(5))
        );
        assert_eq!(m.len(), 3);
        assert_eq!(m.get("d", t0 + ms(104)), None, "expired at its TTL");
    }

    #[test]
    fn expired_entries_and_stale_records_do_not_pile_up() {
        let t0 = Instant::now();
        let mut m = Expiring::new(Duration::from_millis(10), 4);
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(i);
            m.insert(&format!("k{}", i % 3), i, now);
            assert!(m.len() <= 4);
            assert!(m.order.len() <= 8, "{} records at {i}", m.order.len());
        }
        let end = t0 + Duration::from_millis(9_999);
        assert_eq!(m.get("k0", end), Some(9_999));
        assert_eq!(m.get("k1", end), Some(9_997));
        m.remove("k0");
        assert_eq!(m.get("k0", end), None);
        m.clear();
        assert_eq!((m.len(), m.order.len()), (0, 0));
    }
}
