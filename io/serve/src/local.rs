//! The in-process cache in front of Redis: a few seconds of TTL on the
//! hottest keys, so that a hot key costs a hash lookup rather than a Redis
//! round trip. It also remembers, briefly, which keys DynamoDB does not
//! have, so a flood of unknown categories does not reach DynamoDB.
//!
//! Entries and absences are kept in two maps, each bounded on its own and
//! under its own lock: requests for made-up categories (any string will do)
//! fill the map of absences, never pushing the hot keys out. A full map
//! drops its oldest keys ([`Expiring`]), never everything at once.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use super::entry::Entry;
use super::expiring::Expiring;

/// What the cache knows about a key.
#[derive(Debug, Clone)]
pub enum Cached {
    /// The entry.
    Found(Arc<Entry>),
    /// DynamoDB had no item for it.
    Missing,
}

/// Where the cache reads the time: the monotonic clock in `serve`, a clock
/// the test moves in tests (so that expiry is tested without sleeping).
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// [`Instant::now`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// TTL maps from Redis key to [`Cached`], bounded in size.
#[derive(Debug)]
pub struct LocalCache<C = SystemClock> {
    found: RwLock<Expiring<Arc<Entry>>>,
    missing: RwLock<Expiring<()>>,
    found_on: bool,
    missing_on: bool,
    clock: C,
}

// A poisoned lock only means a panic elsewhere while inserting; the map
// itself is still a valid map.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|e| e.into_inner())
}

impl LocalCache {
    /// A cache keeping entries `ttl` and absences `negative_ttl` (zero
    /// disables either), holding at most `capacity` entries and, apart,
    /// at most `capacity` absences.
    pub fn new(ttl: Duration, negative_ttl: Duration, capacity: usize) -> Self {
        Self::with_clock(ttl, negative_ttl, capacity, SystemClock)
    }
}

impl<C: Clock> LocalCache<C> {
    /// [`LocalCache::new`] reading the time from `clock`.
    pub fn with_clock(ttl: Duration, negative_ttl: Duration, capacity: usize, clock: C) -> Self {
        Self {
            found: RwLock::new(Expiring::new(ttl, capacity)),
            missing: RwLock::new(Expiring::new(negative_ttl, capacity)),
            found_on: !ttl.is_zero(),
            missing_on: !negative_ttl.is_zero(),
            clock,
        }
    }

    /// What is cached for `key`, unless expired.
    pub fn get(&self, key: &str) -> Option<Cached> {
        if !self.found_on && !self.missing_on {
            return None;
        }
        let now = self.clock.now();
        if self.found_on {
            if let Some(entry) = read(&self.found).get(key, now) {
                return Some(Cached::Found(entry));
            }
        }
        if self.missing_on && read(&self.missing).get(key, now).is_some() {
            return Some(Cached::Missing);
        }
        None
    }

    /// Remembers `cached` for `key`, for the TTL of its kind (and forgets
    /// what the other kind said about it).
    pub fn put(&self, key: &str, cached: Cached) {
        match cached {
            Cached::Found(entry) => {
                if self.missing_on {
                    write(&self.missing).remove(key);
                }
                if self.found_on {
                    let mut found = write(&self.found);
                    // Read under the lock: insertion order stays expiry order.
                    found.insert(key, entry, self.clock.now());
                }
            }
            Cached::Missing => {
                if self.found_on {
                    write(&self.found).remove(key);
                }
                if self.missing_on {
                    let mut missing = write(&self.missing);
                    missing.insert(key, (), self.clock.now());
                }
            }
        }
    }

    /// Forgets every key.
    pub fn clear(&self) {
        write(&self.found).clear();
        write(&self.missing).clear();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use topsellers_store::StoredGroup;

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

    /// A clock that moves only when told.
    struct ManualClock(Mutex<Instant>);

    impl ManualClock {
        fn new() -> Self {
            Self(Mutex::new(Instant::now()))
        }

        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }
    }

    impl Clock for ManualClock {
        fn now(&self) -> Instant {
            *self.0.lock().unwrap()
        }
    }

    #[test]
    fn entries_expire_and_absences_keep_their_own_ttl() {
        let ms = Duration::from_millis;
        let c = LocalCache::with_clock(ms(50), ms(20), 10, ManualClock::new());
        c.put("a", Cached::Found(entry()));
        c.put("b", Cached::Missing);
        assert!(matches!(c.get("a"), Some(Cached::Found(_))));
        assert!(matches!(c.get("b"), Some(Cached::Missing)));
        c.clock.advance(ms(19));
        assert!(c.get("a").is_some() && c.get("b").is_some());
        c.clock.advance(ms(1));
        assert!(c.get("b").is_none(), "the absence expired at its own TTL");
        assert!(c.get("a").is_some());
        c.clock.advance(ms(29));
        assert!(c.get("a").is_some(), "1 ms before its TTL");
        c.clock.advance(ms(1));
        assert!(c.get("a").is_none(), "expired at its TTL");

        let c = LocalCache::new(Duration::from_secs(5), Duration::ZERO, 10);
        c.put("b", Cached::Missing);
        assert!(c.get("b").is_none(), "negative TTL 0 keeps no absence");
        let c = LocalCache::new(Duration::ZERO, Duration::from_secs(5), 10);
        c.put("a", Cached::Found(entry()));
        c.put("b", Cached::Missing);
        assert!(c.get("a").is_none(), "TTL 0 disables the cache of entries");
        assert!(matches!(c.get("b"), Some(Cached::Missing)));
    }

    #[test]
    fn a_key_found_after_it_was_missing_is_found() {
        let c = LocalCache::new(Duration::from_secs(5), Duration::from_secs(5), 10);
        c.put("a", Cached::Missing);
        c.put("a", Cached::Found(entry()));
        assert!(matches!(c.get("a"), Some(Cached::Found(_))));
        c.put("a", Cached::Missing);
        assert!(matches!(c.get("a"), Some(Cached::Missing)));
    }

    #[test]
    fn a_full_cache_stays_bounded() {
        let c = LocalCache::new(Duration::from_secs(5), Duration::from_secs(5), 3);
        for k in ["a", "b", "c", "d", "e"] {
            c.put(k, Cached::Missing);
        }
        assert!(read(&c.missing).len() <= 3);
        assert!(c.get("e").is_some());
        c.clear();
        assert!(c.get("e").is_none());
    }
    #[test]
    fn a_flood_of_unknown_keys_does_not_evict_hot_keys() {
        let c = LocalCache::new(Duration::from_secs(5), Duration::from_secs(5), 3);
        c.put("hot1", Cached::Found(entry()));
        c.put("hot2", Cached::Found(entry()));
        for i in 0..1000 {
            c.put(&format!("unknown{i}"), Cached::Missing);
        }
        for k in ["hot1", "hot2"] {
            assert!(
                matches!(c.get(k), Some(Cached::Found(_))),
                "{k} was evicted by unknown keys"
            );
        }
        assert!(matches!(c.get("unknown999"), Some(Cached::Missing)));
    }

    #[test]
    fn a_full_cache_evicts_its_oldest_key_not_every_key() {
        let c = LocalCache::new(Duration::from_secs(5), Duration::from_secs(5), 3);
        for k in ["a", "b", "c", "d"] {
            c.put(k, Cached::Found(entry()));
        }
        assert!(c.get("a").is_none(), "the oldest key makes room");
        for k in ["b", "c", "d"] {
            assert!(c.get(k).is_some(), "{k} was evicted with the oldest");
        }
    }
}
