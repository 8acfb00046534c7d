//! The in-process cache in front of Redis: a few seconds of TTL on the
//! hottest keys, so that a hot key costs a hash lookup rather than a Redis
//! round trip. It also remembers, briefly, which keys DynamoDB does not
//! have, so a flood of unknown categories does not reach DynamoDB.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::entry::Entry;

/// What the cache knows about a key.
#[derive(Debug, Clone)]
pub enum Cached {
    /// The entry.
    Found(Arc<Entry>),
    /// DynamoDB had no item for it.
    Missing,
}

/// A TTL map from Redis key to [`Cached`], bounded in size.
#[derive(Debug)]
pub struct LocalCache {
    ttl: Duration,
    negative_ttl: Duration,
    capacity: usize,
    map: RwLock<HashMap<String, (Instant, Cached)>>,
}

impl LocalCache {
    /// A cache keeping entries `ttl` and absences `negative_ttl` (zero
    /// disables either), holding at most `capacity` keys.
    pub fn new(ttl: Duration, negative_ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            negative_ttl,
            capacity: capacity.max(1),
            map: RwLock::new(HashMap::new()),
        }
    }

    /// What is cached for `key`, unless expired.
    pub fn get(&self, key: &str) -> Option<Cached> {
        if self.ttl.is_zero() && self.negative_ttl.is_zero() {
            return None;
        }
        // A poisoned lock only means a panic elsewhere while inserting;
        // the map itself is still a valid map.
        let map = self.map.read().unwrap_or_else(|e| e.into_inner());
        match map.get(key) {
            Some((expires, cached)) if *expires > Instant::now() => Some(cached.clone()),
            _ => None,
        }
    }

    /// Remembers `cached` for `key`, for the TTL of its kind.
    pub fn put(&self, key: &str, cached: Cached) {
        let ttl = match cached {
            Cached::Found(_) => self.ttl,
            Cached::Missing => self.negative_ttl,
        };
        if ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        let mut map = self.map.write().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.capacity && !map.contains_key(key) {
            map.retain(|_, (expires, _)| *expires > now);
            if map.len() >= self.capacity {
                // Still full of live keys: start over rather than track
                // recency on every read; the next reads refill it.
                map.clear();
            }
        }
        map.insert(key.to_string(), (now + ttl, cached));
    }

    /// Forgets every key.
    pub fn clear(&self) {
        self.map.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamo::StoredGroup;

    fn entry() -> Arc<Entry> {
        Arc::new(Entry::from_stored(
            "default",
            "toys",
            StoredGroup {
                generation: 1,
                as_of: "t".into(),
                window_s: 1,
                items: Vec::new(),
            },
        ))
    }

    #[test]
    fn entries_expire_and_absences_keep_their_own_ttl() {
        let c = LocalCache::new(Duration::from_millis(50), Duration::ZERO, 10);
        c.put("a", Cached::Found(entry()));
        c.put("b", Cached::Missing);
        assert!(matches!(c.get("a"), Some(Cached::Found(_))));
        assert!(c.get("b").is_none(), "negative TTL 0 keeps no absence");
        std::thread::sleep(Duration::from_millis(80));
        assert!(c.get("a").is_none());
        let c = LocalCache::new(Duration::ZERO, Duration::from_secs(5), 10);
        c.put("a", Cached::Found(entry()));
        c.put("b", Cached::Missing);
        assert!(c.get("a").is_none(), "TTL 0 disables the cache of entries");
        assert!(matches!(c.get("b"), Some(Cached::Missing)));
    }

    #[test]
    fn a_full_cache_stays_bounded() {
        let c = LocalCache::new(Duration::from_secs(5), Duration::from_secs(5), 3);
        for k in ["a", "b", "c", "d", "e"] {
            c.put(k, Cached::Missing);
        }
        assert!(c.map.read().unwrap().len() <= 3);
        assert!(c.get("e").is_some());
        c.clear();
        assert!(c.get("e").is_none());
    }
}
