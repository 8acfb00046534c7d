//! An open-addressing hash table from INT64 item ids to dense slots, built
//! for the aggregation hot loop.
//!
//! # Why not hashbrown
//!
//! Profiles of `compute` showed a third of the time stalled on the cache miss
//! of each hash probe: a row group's table (100k+ items) does not fit in L2,
//! and a probe cannot start before the previous row is done. This table lets
//! the loop [`prefetch`](IntTable::prefetch) the bucket of a row a few rows
//! ahead, so the misses overlap. Linear probing over 16-byte buckets (key,
//! slot, epoch) keeps each probe sequence inside one or two cache lines;
//! Fibonacci hashing spreads the ids; the table doubles at half load.
//!
//! # Clearing
//!
//! Work units reuse emptied tables, and one large unit can grow a table to
//! millions of buckets. A bucket is live only if it carries the table's
//! current epoch, so [`clear`](IntTable::clear) just moves to the next epoch:
//! it costs nothing whatever the capacity, where zeroing the buckets cost a
//! pass over all of them after every unit.

/// One bucket: 16 bytes, like the `(i64, u32)` pair it replaces.
#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    key: i64,
    slot: u32,
    /// The table epoch the entry was written in; `0` (fresh memory) is never
    /// a live epoch.
    epoch: u32,
}

/// Key → slot map with prefetching.
#[derive(Debug, Clone)]
pub struct IntTable {
    buckets: Vec<Bucket>,
    /// `64 − log2(buckets.len())`.
    shift: u32,
    len: usize,
    /// Buckets of this epoch are live; every other one is empty.
    epoch: u32,
}

impl Default for IntTable {
    fn default() -> Self {
        Self {
            buckets: Vec::new(),
            shift: 0,
            len: 0,
            epoch: 1,
        }
    }
}

const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;
const MIN_BUCKETS: usize = 1024;

impl IntTable {
    #[inline(always)]
    fn home(&self, key: i64) -> usize {
        ((key as u64).wrapping_mul(FIBONACCI) >> self.shift) as usize
    }

    /// Number of keys.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Buckets allocated.
    pub fn capacity(&self) -> usize {
        self.buckets.len()
    }

    /// Forgets every key, keeping the allocation, in constant time.
    pub fn clear(&mut self) {
        self.len = 0;
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            // Once in 2^32 clears the epochs run out: start over from clean
            // buckets, so that no stale entry can look live.
            self.buckets.fill(Bucket::default());
            self.epoch = 1;
        }
    }

    /// Hints the CPU to fetch `key`'s bucket.
    #[inline(always)]
    pub fn prefetch(&self, key: i64) {
        if self.buckets.is_empty() {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            let ptr = self.buckets.as_ptr().wrapping_add(self.home(key)) as *const i8;
            // SAFETY: a prefetch is only a hint: it never faults, whatever the
            // address, and `ptr` points into `buckets` anyway.
            unsafe { std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr) };
        }
    }

    /// The slot of `key`, or `next` after inserting it with that slot.
    #[inline(always)]
    pub fn get_or_insert(&mut self, key: i64, next: u32) -> u32 {
        if self.len * 2 >= self.buckets.len() {
            self.grow();
        }
        let mask = self.buckets.len() - 1;
        let epoch = self.epoch;
        let mut i = self.home(key);
        loop {
            let b = self.buckets[i];
            if b.epoch != epoch {
                self.buckets[i] = Bucket {
                    key,
                    slot: next,
                    epoch,
                };
                self.len += 1;
                return next;
            }
            if b.key == key {
                return b.slot;
            }
            i = (i + 1) & mask;
        }
    }

    /// Makes room for `additional` more keys without growing on the way.
    pub fn reserve(&mut self, additional: usize) {
        let size = ((self.len + additional) * 2 + 1)
            .next_power_of_two()
            .max(MIN_BUCKETS);
        if size > self.buckets.len() {
            self.resize(size);
        }
    }

    #[cold]
    fn grow(&mut self) {
        self.resize((self.buckets.len() * 2).max(MIN_BUCKETS));
    }

    /// Moves the live entries into `size` fresh buckets.
    fn resize(&mut self, size: usize) {
        let old = std::mem::replace(&mut self.buckets, vec![Bucket::default(); size]);
        self.shift = 64 - size.trailing_zeros();
        let mask = size - 1;
        let epoch = self.epoch;
        for b in old.into_iter().filter(|b| b.epoch == epoch) {
            let mut i = self.home(b.key);
            while self.buckets[i].epoch == epoch {
                i = (i + 1) & mask;
            }
            self.buckets[i] = b;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        #[test]
        fn behaves_like_a_map(keys in proptest::collection::vec(any::<i64>().prop_map(|k| k % 5000), 0..5000)) {
            let mut t = IntTable::default();
            let mut m: HashMap<i64, u32> = HashMap::new();
            for k in keys {
                let next = m.len() as u32;
                let want = *m.entry(k).or_insert(next);
                t.prefetch(k);
                prop_assert_eq!(t.get_or_insert(k, next), want);
            }
            prop_assert_eq!(t.len(), m.len());
        }

        #[test]
        fn reserving_keeps_every_key_and_room_for_more(
            keys in proptest::collection::vec(any::<i64>(), 0..3000),
            more in 0usize..5000,
        ) {
            let mut t = IntTable::default();
            for (i, &k) in keys.iter().enumerate() {
                t.get_or_insert(k, i as u32);
            }
            let before: Vec<u32> = keys.iter().map(|&k| t.get_or_insert(k, u32::MAX)).collect();
            t.reserve(more);
            let capacity = t.capacity();
            prop_assert!(capacity > 2 * (t.len() + more));
            let after: Vec<u32> = keys.iter().map(|&k| t.get_or_insert(k, u32::MAX)).collect();
            prop_assert_eq!(before, after);
            for k in 0..more as i64 {
                let next = t.len() as u32;
                t.get_or_insert(k.wrapping_mul(7919) ^ i64::MIN, next);
            }
            prop_assert_eq!(t.capacity(), capacity, "grew after reserving");
        }

        #[test]
        fn forgets_every_key_at_each_clear(
            rounds in proptest::collection::vec(
                proptest::collection::vec(any::<i64>().prop_map(|k| k % 3000), 0..3000),
                1..6,
            ),
            // Near the end of the epochs, the clears wrap around.
            epoch in prop_oneof![Just(1u32), Just(u32::MAX - 2)],
        ) {
            let mut t = IntTable { epoch, ..IntTable::default() };
            for keys in rounds {
                let mut m: HashMap<i64, u32> = HashMap::new();
                for k in keys {
                    let next = m.len() as u32;
                    let want = *m.entry(k).or_insert(next);
                    prop_assert_eq!(t.get_or_insert(k, next), want);
                }
                prop_assert_eq!(t.len(), m.len());
                t.clear();
            }
        }
    }

    /// Buckets that still hold an entry, live or not.
    fn written_buckets(t: &IntTable) -> usize {
        t.buckets.iter().filter(|b| b.epoch != 0).count()
    }

    #[test]
    fn clear_does_not_sweep_the_buckets() {
        // One large unit grows the table; clearing it for the next unit must
        // not cost a pass over the whole bucket array.
        let mut t = IntTable::default();
        for k in 0..100_000 {
            t.get_or_insert(k, k as u32);
        }
        t.clear();
        assert_eq!(written_buckets(&t), 100_000, "clear wrote the buckets");
        assert!(t.is_empty());
        assert_eq!(t.get_or_insert(99_999, 0), 0);
        assert_eq!(t.get_or_insert(5, 1), 1);
        assert_eq!(t.get_or_insert(99_999, 2), 0);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn clear_keeps_capacity_and_forgets_keys() {
        let mut t = IntTable::default();
        for k in 0..3000 {
            t.get_or_insert(k, k as u32);
        }
        let cap = t.capacity();
        t.clear();
        assert!(t.is_empty());
        assert_eq!(t.capacity(), cap);
        assert_eq!(t.get_or_insert(7, 0), 0);
        assert_eq!(t.get_or_insert(i64::MIN, 1), 1);
        assert_eq!(t.get_or_insert(7, 2), 0);
    }
}
