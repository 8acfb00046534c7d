//! Cells indexed by dictionary code, for one work unit.
//!
//! # Background
//!
//! [`CategoryAccumulator::add_coded`] keeps a code → slot table so that a
//! key is interned once per dictionary entry; every row still pays a
//! dependent load in that table (400 KiB for a 100k-entry dictionary, out
//! of L1 and mostly out of L2) before it reaches its cell. A work unit's
//! accumulator starts empty, so for its duration the cells can be indexed by
//! the code itself, and the keys interned once at the end.
//!
//! # Exactness
//!
//! A cell is the sum of its rows' weights, added one by one from 0.0 in row
//! order, whether the cell is found by slot or by code, as long as one code
//! means one key. [`CategoryAccumulator::end_codes`] checks that while it
//! interns: a key met under a second code is [`RepeatedKey`], and the
//! caller decodes the unit another way. Slots come out in code order rather
//! than in order of first purchase; nothing downstream depends on slot
//! order (ties in [`crate::top_n`] are broken by key, and
//! [`CategoryAccumulator::absorb`] adds whole cells).

use super::{CategoryAccumulator, SlotSource, NO_SLOT, PREFETCH_DISTANCE};
use crate::batch::Batch;
use crate::key::{Interner, KeyColumn};
use crate::params::ScoringPlan;

/// The newest-bucket mark of a code with no counted row yet.
const UNSEEN: u8 = u8::MAX;

/// Two entries of one dictionary hold the same key: cells indexed by code
/// would have summed its rows in two parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RepeatedKey;

/// Rows given as codes that index the cells directly.
struct Direct<'a>(&'a [u32]);

impl<I: Interner> SlotSource<I> for Direct<'_> {
    const PREFETCHES: bool = true;

    /// The code's cells: `scatter` adds to them a block later.
    #[inline(always)]
    fn prefetch(&self, acc: &CategoryAccumulator<I>, i: usize) {
        // Under a null the code is arbitrary: hence wrapping arithmetic.
        let code = self.0[i] as usize;
        super::prefetch(
            acc.sums
                .as_ptr()
                .wrapping_add(code.wrapping_mul(acc.variants * acc.buckets)),
        );
    }

    #[inline(always)]
    fn slot(&mut self, acc: &mut CategoryAccumulator<I>, i: usize, bucket: u8) -> usize {
        let code = self.0[i] as usize;
        if acc.buckets == 1 {
            // One window (a fixed-window query): the newest bucket can only
            // be 0, and a store does not wait for the line as a compare
            // does (that load was a fifth of this loop's samples).
            acc.newest[code] = 0;
        } else {
            acc.touch(code, bucket);
        }
        code
    }
}

impl<I: Interner> CategoryAccumulator<I> {
    /// Starts a unit whose rows come as codes into a dictionary of
    /// `entries` entries: until [`end_codes`](Self::end_codes), slot means
    /// code. The accumulator must be empty.
    pub fn begin_codes(&mut self, entries: usize) {
        debug_assert!(self.is_empty() && self.interner.is_empty());
        self.newest.clear();
        self.sums.clear();
        self.grow_codes(entries);
    }

    /// The dictionary now has `entries` entries (codes only grow).
    pub fn grow_codes(&mut self, entries: usize) {
        if entries > self.newest.len() {
            self.newest.resize(entries, UNSEEN);
            self.sums
                .resize(entries * self.variants * self.buckets, 0.0);
        }
    }

    /// Folds one batch whose item column holds codes below the size given to
    /// [`begin_codes`](Self::begin_codes) or [`grow_codes`](Self::grow_codes)
    /// (a larger code panics). The filter, buckets, weights and additions
    /// are those of [`add`](Self::add), in the same order.
    pub fn add_codes(&mut self, plan: &ScoringPlan, batch: &Batch<'_, [u32]>) {
        debug_assert_eq!(batch.items.len(), batch.ts.len());
        self.add_from(plan, batch, &mut Direct(batch.items));
    }

    /// Ends the code-indexed unit: interns the key of every code with a
    /// counted row, in code order, and moves its cells to its slot. When
    /// `slots` is given it receives each code's slot ([`NO_SLOT`] for codes
    /// without a counted row), so that rows can go on through
    /// [`add_coded`](Self::add_coded).
    ///
    /// On [`RepeatedKey`] the state is unusable: [`clear`](Self::clear) it.
    pub fn end_codes<K: KeyColumn<I> + ?Sized>(
        &mut self,
        dictionary: &K,
        mut slots: Option<&mut [u32]>,
    ) -> Result<(), RepeatedKey> {
        let stride = self.variants * self.buckets;
        let codes = self.newest.len().min(dictionary.len());
        debug_assert!(self.newest[codes..].iter().all(|&b| b == UNSEEN));
        // The unit's table starts empty: sized once for every counted code
        // instead of doubling its way there (rehashing was 2% of the
        // samples on the 100M lake).
        let counted = self.newest[..codes]
            .iter()
            .filter(|&&b| b != UNSEEN)
            .count();
        self.interner.reserve(counted);
        let mut next = 0;
        for code in 0..codes {
            // Interning probes a table out of cache at random: start the
            // probe of a code a few entries ahead (counted or not).
            if I::PREFETCHES && code + PREFETCH_DISTANCE < codes {
                self.interner
                    .prefetch(dictionary.key(code + PREFETCH_DISTANCE));
            }
            let bucket = self.newest[code];
            let slot = if bucket == UNSEEN {
                NO_SLOT
            } else {
                let slot = self.interner.intern(dictionary.key(code)) as usize;
                if slot != next {
                    return Err(RepeatedKey);
                }
                // `next <= code`: moving down never overwrites a cell still
                // to be moved.
                self.newest[next] = bucket;
                self.sums
                    .copy_within(code * stride..(code + 1) * stride, next * stride);
                next += 1;
                slot as u32
            };
            if let Some(slots) = slots.as_deref_mut() {
                slots[code] = slot;
            }
        }
        self.newest.truncate(next);
        self.sums.truncate(next * stride);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{columns, rows, two_variants, Columns};
    use super::*;
    use crate::key::IntInterner;

    #[test]
    fn a_key_under_two_codes_is_refused() {
        let plan = two_variants();
        let dictionary: &[i64] = &[4, 9, 4];
        let mut acc = CategoryAccumulator::<IntInterner>::new(&plan);
        acc.begin_codes(dictionary.len());
        let ts = [99 * 86_400_000i64, 98 * 86_400_000];
        acc.add_codes(&plan, &Batch::new(&[0u32, 2][..], &ts, 1_000_000));
        assert_eq!(acc.end_codes(dictionary, None), Err(RepeatedKey));
    }

    #[test]
    fn untouched_codes_get_no_slot() {
        let plan = two_variants();
        let dictionary: &[i64] = &[4, 9, 4, 11];
        let mut acc = CategoryAccumulator::<IntInterner>::new(&plan);
        acc.begin_codes(dictionary.len());
        let ts = [99 * 86_400_000i64, 98 * 86_400_000];
        // Code 0 (key 4) is never counted, so code 2 (also key 4) is no repeat.
        acc.add_codes(&plan, &Batch::new(&[3u32, 2][..], &ts, 1_000_000));
        let mut slots = vec![7; 4];
        assert_eq!(acc.end_codes(dictionary, Some(&mut slots)), Ok(()));
        assert_eq!(slots, [NO_SLOT, NO_SLOT, 0, 1]);
        assert_eq!(acc.len(), 2);
    }

    proptest::proptest! {
        /// Rows by code, switched to the code → slot table half way (as
        /// when a dictionary overflows), give the state that the same rows
        /// given as keys give: the same cells, bit for bit, and the same
        /// outcome.
        #[test]
        fn cells_by_code_add_exactly_what_keys_add(
            dictionary in proptest::collection::btree_set(0i64..400, 1..60),
            rows in rows(5000),
            switch in proptest::bool::ANY,
        ) {
            let plan = two_variants();
            let dictionary: Vec<i64> = dictionary.into_iter().rev().collect();
            let Columns { codes, ts, quantity, items_valid, ts_valid } = columns(&rows, dictionary.len());
            let keys: Vec<i64> = codes.iter().map(|&c| dictionary[c as usize]).collect();
            let half = rows.len() / 2;
            let mut by_key = CategoryAccumulator::<IntInterner>::new(&plan);
            let mut by_code = CategoryAccumulator::<IntInterner>::new(&plan);
            by_code.begin_codes(dictionary.len());
            let mut slots = vec![NO_SLOT; dictionary.len()];
            for (n, range) in [0..half, half..rows.len()].into_iter().enumerate() {
                let valid = |bits: &[u8], r: &std::ops::Range<usize>| -> Vec<u8> {
                    let mut b = vec![0u8; r.len().div_ceil(8)];
                    for (j, i) in r.clone().enumerate() {
                        if bits[i / 8] & (1 << (i % 8)) != 0 {
                            b[j / 8] |= 1 << (j % 8);
                        }
                    }
                    b
                };
                let (iv, tv) = (valid(&items_valid, &range), valid(&ts_valid, &range));
                let q = &quantity[range.clone()];
                let mut key_batch = Batch::new(&keys[range.clone()], &ts[range.clone()], 1_000_000);
                let mut code_batch = Batch::new(&codes[range.clone()], &ts[range.clone()], 1_000_000);
                key_batch.quantity = Some(q);
                code_batch.quantity = Some(q);
                key_batch.items_valid = Some(crate::batch::Validity { bits: &iv, offset: 0 });
                key_batch.ts_valid = Some(crate::batch::Validity { bits: &tv, offset: 0 });
                code_batch.items_valid = key_batch.items_valid;
                code_batch.ts_valid = key_batch.ts_valid;
                by_key.add(&plan, &key_batch);
                if n == 1 && switch {
                    by_code.add_coded(&plan, &code_batch, &dictionary[..], &mut slots);
                } else {
                    by_code.add_codes(&plan, &code_batch);
                }
                if n == 0 && switch {
                    proptest::prop_assert_eq!(by_code.end_codes(&dictionary[..], Some(&mut slots)), Ok(()));
                }
            }
            if !switch {
                proptest::prop_assert_eq!(by_code.end_codes(&dictionary[..], None), Ok(()));
            }
            let stride = 2 * plan.windows.len();
            let cells = |acc: &CategoryAccumulator<IntInterner>| {
                (0..acc.len())
                    .map(|s| {
                        let sums = &acc.sums[s * stride..(s + 1) * stride];
                        let bits: Vec<u64> = sums.iter().map(|v| v.to_bits()).collect();
                        (acc.interner.key(s as u32), (bits, acc.newest[s]))
                    })
                    .collect::<std::collections::BTreeMap<_, _>>()
            };
            proptest::prop_assert_eq!(by_key.len(), by_code.len());
            proptest::prop_assert_eq!(cells(&by_key), cells(&by_code));
            proptest::prop_assert_eq!(by_key.bucket_rows.clone(), by_code.bucket_rows.clone());
            proptest::prop_assert_eq!(by_key.finish(&plan, "c".into()), by_code.finish(&plan, "c".into()));
        }
    }
}
