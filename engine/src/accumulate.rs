//! The per-category aggregation state and its hot loop.
//!
//! # Background
//!
//! For every (item, variant, window bucket) the accumulator keeps the sum of
//! `quantity · exp(−λ·age)` over the purchases that fall in that bucket, plus
//! each item's newest bucket. That is enough to pick the adaptive window and
//! to score every variant under it after a single scan (see [`crate::window`]).
//!
//! # Design
//!
//! Cells live in one flat `Vec<f64>`, slot-major (`[slot][variant][bucket]`),
//! so a row touches one cache line per variant group. Work units (row groups)
//! each fill their own accumulator; [`CategoryAccumulator::absorb`] folds them
//! in unit order, which is what makes results independent of thread count.

mod coded;

pub use coded::RepeatedKey;

use crate::batch::Batch;
use crate::counts::RowCounts;
use crate::decay::{decay_weights, nanos_to_seconds};
use crate::key::{Interner, ItemId, KeyColumn};
use crate::params::ScoringPlan;
use crate::topk::top_n;

/// One ranked item of a result.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// The item.
    pub item: ItemId,
    /// Its score.
    pub score: f64,
}

/// The scores of a category that had counted purchases.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// The window chosen for the category, in nanoseconds.
    pub window_ns: i64,
    /// Purchases counted under that window.
    pub counted: u64,
    /// Distinct items with a counted purchase under that window.
    pub distinct_items: usize,
    /// Per variant (in plan order), the top items, best first.
    pub top: Vec<Vec<Ranked>>,
}

/// What a category's scan produced.
#[derive(Debug, Clone, PartialEq)]
pub struct CategoryOutcome {
    /// The category.
    pub category: String,
    /// Row counters of the scan.
    pub counts: RowCounts,
    /// `None` when no purchase counted within the largest window.
    pub scored: Option<Scored>,
}

/// The aggregation state of one category (or of one work unit of it).
pub struct CategoryAccumulator<I: Interner> {
    interner: I,
    variants: usize,
    buckets: usize,
    /// `[slot][variant][bucket]` sums of weights.
    sums: Vec<f64>,
    /// Per slot, the bucket of its newest purchase.
    newest: Vec<u8>,
    /// Per bucket, the purchases counted in it.
    bucket_rows: Vec<u64>,
    counts: RowCounts,
    staged: Staging,
}

/// Rows staged between the filter and the scatter steps (reused buffers).
///
/// The buffers are [`BLOCK`] long once the first block is staged, and `len`
/// says how many rows they hold: the filter loop writes row `k` by index,
/// with no length to load, bump and store back per row as `Vec::push` has.
#[derive(Default)]
struct Staging {
    /// Index of the row's first cell (`slot · stride + bucket`).
    cell: Vec<usize>,
    /// Ages: nanoseconds as staged, seconds once `scatter` divides them.
    age_s: Vec<f64>,
    quantity: Vec<f64>,
    weight: Vec<f64>,
    len: usize,
}

impl Staging {
    /// Empties the staging, sized for a block.
    fn clear(&mut self) {
        if self.cell.len() < BLOCK {
            self.cell.resize(BLOCK, 0);
            self.age_s.resize(BLOCK, 0.0);
            self.quantity.resize(BLOCK, 0.0);
            self.weight.resize(BLOCK, 0.0);
        }
        self.len = 0;
    }
}

/// How many rows ahead the hot loop prefetches hash buckets.
const PREFETCH_DISTANCE: usize = 16;

/// Rows per block of the hot loop: staging buffers stay in L1/L2.
const BLOCK: usize = 2048;

/// A dictionary entry not yet given a slot (see
/// [`CategoryAccumulator::add_coded`]).
pub const NO_SLOT: u32 = u32::MAX;

/// Where the hot loop gets a counted row's slot from.
trait SlotSource<I: Interner> {
    /// Whether [`prefetch`](SlotSource::prefetch) does anything.
    const PREFETCHES: bool;
    /// Hints that row `i` will be looked up soon.
    fn prefetch(&self, acc: &CategoryAccumulator<I>, i: usize);
    /// The slot of row `i`, a purchase in `bucket`, in `acc`.
    fn slot(&mut self, acc: &mut CategoryAccumulator<I>, i: usize, bucket: u8) -> usize;
}

/// Hints that `ptr` will be read soon.
#[inline(always)]
fn prefetch<T>(ptr: *const T) {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: a prefetch is only a hint: it never faults, whatever the
        // address.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(ptr as *const i8)
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = ptr;
}

/// Rows given as keys: one interner probe per row.
struct Keys<'a, K: ?Sized>(&'a K);

impl<I: Interner, K: KeyColumn<I> + ?Sized> SlotSource<I> for Keys<'_, K> {
    const PREFETCHES: bool = I::PREFETCHES;

    #[inline(always)]
    fn prefetch(&self, acc: &CategoryAccumulator<I>, i: usize) {
        acc.interner.prefetch(self.0.key(i));
    }

    #[inline(always)]
    fn slot(&mut self, acc: &mut CategoryAccumulator<I>, i: usize, bucket: u8) -> usize {
        acc.slot_for(self.0.key(i), bucket)
    }
}

/// Rows given as dictionary codes: one interner probe per distinct code.
struct Codes<'a, K: ?Sized> {
    codes: &'a [u32],
    dictionary: &'a K,
    slots: &'a mut [u32],
}

impl<I: Interner, K: KeyColumn<I> + ?Sized> SlotSource<I> for Codes<'_, K> {
    const PREFETCHES: bool = true;

    /// Two steps ahead: the code → slot entry of row `i`, then, half the
    /// distance later, what that slot leads to (the item's newest bucket and
    /// cells, or for a code not interned yet, its hash bucket). The table of
    /// a 100k-entry dictionary does not fit in L1/L2 either.
    #[inline(always)]
    fn prefetch(&self, acc: &CategoryAccumulator<I>, i: usize) {
        // Under a null the code is arbitrary, possibly out of range: hence
        // the wrapping pointer arithmetic and the checked reads.
        prefetch(self.slots.as_ptr().wrapping_add(self.codes[i] as usize));
        let code = self.codes[i - PREFETCH_DISTANCE / 2] as usize;
        match self.slots.get(code) {
            Some(&NO_SLOT) if code < self.dictionary.len() => {
                acc.interner.prefetch(self.dictionary.key(code));
            }
            Some(&slot) => {
                let slot = slot as usize;
                prefetch(acc.newest.as_ptr().wrapping_add(slot));
                prefetch(
                    acc.sums
                        .as_ptr()
                        .wrapping_add(slot * acc.variants * acc.buckets),
                );
            }
            None => {}
        }
    }

    #[inline(always)]
    fn slot(&mut self, acc: &mut CategoryAccumulator<I>, i: usize, bucket: u8) -> usize {
        let code = self.codes[i] as usize;
        match self.slots[code] {
            NO_SLOT => {
                let slot = acc.slot_for(self.dictionary.key(code), bucket);
                self.slots[code] = slot as u32;
                slot
            }
            slot => {
                let slot = slot as usize;
                acc.touch(slot, bucket);
                slot
            }
        }
    }
}

impl<I: Interner> CategoryAccumulator<I> {
    /// An empty accumulator shaped for `plan`.
    pub fn new(plan: &ScoringPlan) -> Self {
        Self {
            interner: I::default(),
            variants: plan.variants.len(),
            buckets: plan.windows.len(),
            sums: Vec::new(),
            newest: Vec::new(),
            bucket_rows: vec![0; plan.windows.len()],
            counts: RowCounts::default(),
            staged: Staging::default(),
        }
    }

    /// Row counters so far.
    pub fn counts(&self) -> RowCounts {
        self.counts
    }

    /// Distinct items held.
    pub fn len(&self) -> usize {
        self.newest.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.newest.is_empty()
    }

    /// Distinct items with a purchase in a bucket `<= bucket`, i.e. present
    /// under candidate window `bucket`.
    pub fn distinct_within(&self, bucket: usize) -> usize {
        self.newest
            .iter()
            .filter(|&&b| (b as usize) <= bucket)
            .count()
    }

    /// Approximate heap bytes held.
    pub fn size_bytes(&self) -> usize {
        self.interner.size_bytes() + self.sums.capacity() * 8 + self.newest.capacity()
    }

    /// Records a purchase of the item in `slot` in `bucket`.
    #[inline]
    fn touch(&mut self, slot: usize, bucket: u8) {
        if bucket < self.newest[slot] {
            self.newest[slot] = bucket;
        }
    }

    #[inline]
    fn slot_for(&mut self, key: I::Key<'_>, bucket: u8) -> usize {
        let slot = self.interner.intern(key) as usize;
        if slot == self.newest.len() {
            self.newest.push(bucket);
            self.sums
                .resize(self.sums.len() + self.variants * self.buckets, 0.0);
        } else if bucket < self.newest[slot] {
            self.newest[slot] = bucket;
        }
        slot
    }

    /// Records rows that the caller read and classified itself, without
    /// handing them over: rows the filter of [`add`](Self::add) would not
    /// count (null time, after `as_of`, older than the largest window). They
    /// only move the counters, as they would inside `add`.
    pub fn count_uncounted(&mut self, counts: RowCounts) {
        debug_assert_eq!(counts.in_max_window, 0);
        self.counts += counts;
    }

    /// Folds one batch of purchases into the state.
    ///
    /// Rows are processed in blocks of [`BLOCK`]: first filtered, bucketed and
    /// interned (one hash probe per row), then weighted by the vectorised decay
    /// kernel once per variant, then scattered into the cells. The staging
    /// buffers are reused, so the loop allocates nothing per row.
    pub fn add<K: KeyColumn<I> + ?Sized>(&mut self, plan: &ScoringPlan, batch: &Batch<'_, K>) {
        debug_assert_eq!(batch.items.len(), batch.ts.len());
        self.add_from(plan, batch, &mut Keys(batch.items));
    }

    /// Folds one batch whose item column holds dictionary codes: row `i`'s
    /// key is `dictionary.key(batch.items[i])`.
    ///
    /// `slots[code]` caches the slot of each dictionary entry in this
    /// accumulator ([`NO_SLOT`] until its first counted row), so a key is
    /// interned once per distinct entry instead of once per row. Slots are
    /// still handed out in the order of the rows that count, and every
    /// filter, bucket, weight and addition is the one [`add`](Self::add)
    /// makes, in the same order: the sums are bit-identical to those of the
    /// same rows given as keys.
    ///
    /// The caller fills `slots` with [`NO_SLOT`] for a fresh accumulator or a
    /// new dictionary, and guarantees every code is below `dictionary.len()`
    /// and `slots.len()` (an out-of-range code panics).
    pub fn add_coded<K: KeyColumn<I> + ?Sized>(
        &mut self,
        plan: &ScoringPlan,
        batch: &Batch<'_, [u32]>,
        dictionary: &K,
        slots: &mut [u32],
    ) {
        debug_assert_eq!(batch.items.len(), batch.ts.len());
        debug_assert_eq!(dictionary.len(), slots.len());
        let mut codes = Codes {
            codes: batch.items,
            dictionary,
            slots,
        };
        self.add_from(plan, batch, &mut codes);
    }

    fn add_from<K: ?Sized, S: SlotSource<I>>(
        &mut self,
        plan: &ScoringPlan,
        batch: &Batch<'_, K>,
        source: &mut S,
    ) {
        let n = batch.ts.len();
        let mut start = 0;
        while start < n {
            let end = (start + BLOCK).min(n);
            self.stage(plan, batch, source, start, end);
            self.scatter(plan);
            start = end;
        }
    }

    /// Filters rows `start..end`, finds their slots and stages what the
    /// weighting and scatter steps need.
    #[inline]
    fn stage<K: ?Sized, S: SlotSource<I>>(
        &mut self,
        plan: &ScoringPlan,
        batch: &Batch<'_, K>,
        source: &mut S,
        start: usize,
        end: usize,
    ) {
        let as_of = plan.as_of_ns;
        let mut c = RowCounts {
            scanned: (end - start) as u64,
            ..RowCounts::default()
        };
        let mut staged = std::mem::take(&mut self.staged);
        staged.clear();
        let stride = self.variants * self.buckets;
        let one_bucket = self.buckets == 1;
        let (cells, ages, quantities) = (
            &mut staged.cell[..BLOCK],
            &mut staged.age_s[..BLOCK],
            &mut staged.quantity[..BLOCK],
        );
        let mut k = 0;
        for i in start..end {
            // Start fetching the hash bucket of a row a little ahead, so the
            // cache misses of successive probes overlap (only for interners
            // that prefetch: reading a string key ahead costs bounds checks
            // and a slice for nothing).
            if S::PREFETCHES && i + PREFETCH_DISTANCE < end {
                source.prefetch(self, i + PREFETCH_DISTANCE);
            }
            if batch.items_valid.is_some_and(|v| !v.is_valid(i)) {
                c.null_item += 1;
                continue;
            }
            if batch.ts_valid.is_some_and(|v| !v.is_valid(i)) {
                c.null_ts += 1;
                continue;
            }
            let q = match batch.quantity {
                Some(q) if batch.quantity_valid.is_none_or(|v| v.is_valid(i)) => q[i],
                _ => 1,
            };
            if q <= 0 {
                c.bad_quantity += 1;
                continue;
            }
            let t = batch.ts[i].saturating_mul(batch.ts_unit_ns);
            if t > as_of {
                c.after_as_of += 1;
                continue;
            }
            let age_ns = as_of.saturating_sub(t);
            let Some(bucket) = plan.windows.bucket(age_ns) else {
                c.before_max_window += 1;
                continue;
            };
            if !one_bucket {
                self.bucket_rows[bucket as usize] += 1;
            }
            let slot = source.slot(self, i, bucket);
            cells[k] = slot * stride + bucket as usize;
            // In nanoseconds here: `scatter` divides the block into seconds
            // four lanes at a time (one scalar division per row held this
            // loop up: ~5% of `compute`'s samples on the 100M lake).
            ages[k] = age_ns as f64;
            quantities[k] = q as f64;
            k += 1;
        }
        if one_bucket {
            // Counted once per block: a counter in memory bumped per row is
            // a chain of dependent loads and stores.
            self.bucket_rows[0] += k as u64;
        }
        staged.len = k;
        c.in_max_window = k as u64;
        self.counts += c;
        self.staged = staged;
    }

    /// Weighs the staged rows for every variant and adds them to their cells.
    #[inline]
    fn scatter(&mut self, plan: &ScoringPlan) {
        let Staging {
            cell,
            age_s,
            quantity,
            weight,
            len,
        } = &mut self.staged;
        let n = *len;
        let (cell, age_s, quantity, weight) = (
            &cell[..n],
            &mut age_s[..n],
            &quantity[..n],
            &mut weight[..n],
        );
        nanos_to_seconds(age_s);
        for (v, variant) in plan.variants.iter().enumerate() {
            decay_weights(variant.lambda_per_sec, age_s, quantity, weight);
            let offset = v * self.buckets;
            for (&c, &w) in cell.iter().zip(weight.iter()) {
                self.sums[c + offset] += w;
            }
        }
    }

    /// Folds `later` (the state of the next work unit) into `self`, and
    /// leaves `later` empty, its capacity kept for reuse.
    pub fn absorb(&mut self, later: &mut Self) {
        if self.is_empty() && self.counts == RowCounts::default() {
            // Adding into zeros is exact, so taking `later` as is gives the same sums.
            std::mem::swap(self, later);
            later.clear();
            return;
        }
        let stride = self.variants * self.buckets;
        for slot in 0..later.len() {
            // Every key is a probe at a random place of a table that a large
            // category keeps out of cache: start the one a few keys ahead.
            if I::PREFETCHES && slot + PREFETCH_DISTANCE < later.len() {
                let ahead = later.interner.key((slot + PREFETCH_DISTANCE) as u32);
                self.interner.prefetch(ahead);
            }
            let key = later.interner.key(slot as u32);
            let mine = self.slot_for(key, later.newest[slot]);
            let theirs = &later.sums[slot * stride..(slot + 1) * stride];
            for (a, b) in self.sums[mine * stride..(mine + 1) * stride]
                .iter_mut()
                .zip(theirs)
            {
                *a += *b;
            }
        }
        for (a, b) in self.bucket_rows.iter_mut().zip(&later.bucket_rows) {
            *a += *b;
        }
        self.counts += later.counts;
        later.clear();
    }

    /// Empties the state, keeping its allocations.
    pub fn clear(&mut self) {
        self.interner.clear();
        self.sums.clear();
        self.newest.clear();
        self.bucket_rows.fill(0);
        self.counts = RowCounts::default();
    }

    /// Chooses the category's window, scores every variant under it and keeps
    /// the top N of each.
    pub fn finish(self, plan: &ScoringPlan, category: String) -> CategoryOutcome {
        let scored = self.score(plan);
        CategoryOutcome {
            category,
            counts: self.counts,
            scored,
        }
    }

    fn score(&self, plan: &ScoringPlan) -> Option<Scored> {
        if self.is_empty() {
            return None;
        }
        // Distinct items present under window j = items whose newest bucket <= j.
        let mut present = vec![0usize; self.buckets];
        for &b in &self.newest {
            present[b as usize] += 1;
        }
        let mut cumulative = 0;
        let mut chosen = self.buckets - 1;
        for (j, &p) in present.iter().enumerate() {
            cumulative += p;
            if cumulative >= plan.min_items {
                chosen = j;
                break;
            }
        }
        let distinct_items = present[..=chosen].iter().sum();
        let counted = self.bucket_rows[..=chosen].iter().sum();
        let stride = self.variants * self.buckets;
        let eligible: Vec<u32> = (0..self.len() as u32)
            .filter(|&s| self.newest[s as usize] as usize <= chosen)
            .collect();
        let mut candidates = Vec::with_capacity(eligible.len());
        let top = (0..self.variants)
            .map(|v| {
                candidates.clear();
                candidates.extend(eligible.iter().map(|&slot| {
                    let base = slot as usize * stride + v * self.buckets;
                    let score: f64 = self.sums[base..=base + chosen].iter().sum();
                    (score, slot)
                }));
                top_n(&mut candidates, plan.top, |a, b| {
                    self.interner.cmp_slots(a, b)
                })
                .iter()
                .map(|&(score, slot)| Ranked {
                    item: self.interner.item_id(slot),
                    score,
                })
                .collect()
            })
            .collect();
        Some(Scored {
            window_ns: plan.windows.windows_ns()[chosen],
            counted,
            distinct_items,
            top,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::key::BytesInterner;
    use crate::params::{Variant, NANOS_PER_SEC};

    const DAY_NS: i64 = 86_400 * NANOS_PER_SEC;

    /// String keys that count how often the hot loop reads one.
    struct CountedKeys {
        keys: Vec<String>,
        reads: Cell<usize>,
    }

    impl KeyColumn<BytesInterner> for CountedKeys {
        fn len(&self) -> usize {
            self.keys.len()
        }
        fn key(&self, i: usize) -> &[u8] {
            self.reads.set(self.reads.get() + 1);
            self.keys[i].as_bytes()
        }
    }

    /// One variant (half-life 1 day) at day 100, top 10.
    fn one_day_half_life_plan() -> ScoringPlan {
        ScoringPlan::new(
            100 * DAY_NS,
            vec![Variant::from_half_life("v", 86_400.0).expect("valid")],
            30 * DAY_NS,
            365 * DAY_NS,
            None,
            10,
        )
        .expect("valid plan")
    }

    #[test]
    fn reads_each_key_once_when_the_interner_does_not_prefetch() {
        let plan = one_day_half_life_plan();
        let n = 2 * BLOCK + 100;
        let keys = CountedKeys {
            keys: (0..n).map(|i| format!("sku-{}", i % 500)).collect(),
            reads: Cell::new(0),
        };
        let ts_ms = vec![99 * 86_400_000; n];
        let mut acc = CategoryAccumulator::<BytesInterner>::new(&plan);
        acc.add(&plan, &Batch::new(&keys, &ts_ms, 1_000_000));
        assert_eq!(acc.len(), 500);
        // The look-ahead read feeds only a prefetch, a no-op for this interner.
        assert_eq!(keys.reads.get(), n, "key reads for {n} rows");
    }

    #[test]
    fn ages_are_divided_into_seconds_exactly() {
        let plan = one_day_half_life_plan();
        // An age whose quotient by 1e9 differs from its product by 1e-9: a
        // reciprocal multiplication would change the score's last bits.
        let age_ns = 3 * DAY_NS + 1;
        let exact = age_ns as f64 / NANOS_PER_SEC as f64;
        assert_ne!(exact, age_ns as f64 * (1.0 / NANOS_PER_SEC as f64));
        let ts = [100 * DAY_NS - age_ns];
        let mut acc = CategoryAccumulator::<crate::key::IntInterner>::new(&plan);
        acc.add(&plan, &Batch::new(&[7i64][..], &ts, 1));
        let mut want = [0.0];
        decay_weights(plan.variants[0].lambda_per_sec, &[exact], &[1.0], &mut want);
        let got = acc.finish(&plan, "c".into()).scored.expect("scored").top[0][0].score;
        assert_eq!(got.to_bits(), want[0].to_bits());
    }

    /// (code seed, age in thirds of a day, quantity, item valid, ts valid).
    pub(super) type Row = (usize, i64, i64, bool, bool);

    /// Up to `max` random rows, with nulls, bad quantities and rows outside
    /// the windows among them.
    pub(super) fn rows(max: usize) -> impl proptest::strategy::Strategy<Value = Vec<Row>> {
        use proptest::bool::weighted;
        let row = (
            0usize..1000,
            -5i64..400,
            -1i64..4,
            weighted(0.9),
            weighted(0.95),
        );
        proptest::collection::vec(row, 0..max)
    }

    /// Two variants (half-lives of a day and a week) at day 100, windows
    /// from 30 days to a year, five items at least, top 10.
    pub(super) fn two_variants() -> ScoringPlan {
        ScoringPlan::new(
            100 * DAY_NS,
            vec![
                Variant::from_half_life("a", 86_400.0).expect("valid"),
                Variant::from_half_life("b", 7.0 * 86_400.0).expect("valid"),
            ],
            30 * DAY_NS,
            365 * DAY_NS,
            Some(5),
            10,
        )
        .expect("valid plan")
    }

    /// The columns of `rows`: codes into a dictionary of `entries`, times
    /// in milliseconds, quantities, and the item and time validity bits.
    pub(super) struct Columns {
        pub codes: Vec<u32>,
        pub ts: Vec<i64>,
        pub quantity: Vec<i64>,
        pub items_valid: Vec<u8>,
        pub ts_valid: Vec<u8>,
    }

    pub(super) fn columns(rows: &[Row], entries: usize) -> Columns {
        let bits = |f: fn(&Row) -> bool| {
            let mut b = vec![0u8; rows.len().div_ceil(8)];
            for (i, r) in rows.iter().enumerate() {
                if f(r) {
                    b[i / 8] |= 1 << (i % 8);
                }
            }
            b
        };
        Columns {
            codes: rows.iter().map(|r| (r.0 % entries) as u32).collect(),
            ts: rows
                .iter()
                .map(|r| 100 * 86_400_000 - r.1 * 86_400_000 / 3)
                .collect(),
            quantity: rows.iter().map(|r| r.2).collect(),
            items_valid: bits(|r| r.3),
            ts_valid: bits(|r| r.4),
        }
    }

    proptest::proptest! {
        /// Codes into a dictionary (with repeated entries, nulls, bad
        /// quantities and rows outside the windows) give the very state
        /// that the same rows given as keys give: same slots, same bits.
        #[test]
        fn codes_add_exactly_what_keys_add(
            dictionary in proptest::collection::vec(0i64..40, 1..60),
            rows in rows(3 * BLOCK),
        ) {
            let plan = two_variants();
            let Columns { codes, ts, quantity, items_valid, ts_valid } = columns(&rows, dictionary.len());
            let keys: Vec<i64> = codes.iter().map(|&c| dictionary[c as usize]).collect();
            fn with<'a, K: ?Sized>(
                mut b: Batch<'a, K>,
                items: &'a [u8],
                ts: &'a [u8],
                quantity: &'a [i64],
            ) -> Batch<'a, K> {
                b.items_valid = Some(crate::batch::Validity { bits: items, offset: 0 });
                b.ts_valid = Some(crate::batch::Validity { bits: ts, offset: 0 });
                b.quantity = Some(quantity);
                b
            }
            let mut by_key = CategoryAccumulator::<crate::key::IntInterner>::new(&plan);
            let mut by_code = CategoryAccumulator::<crate::key::IntInterner>::new(&plan);
            let mut slots = vec![NO_SLOT; dictionary.len()];
            // Two batches, so the slot cache carries over between them.
            let half = rows.len() / 2;
            for range in [0..half, half..rows.len()] {
                let mut key_batch =
                    Batch::new(&keys[range.clone()], &ts[range.clone()], 1_000_000);
                key_batch.quantity = Some(&quantity[range.clone()]);
                let mut code_batch =
                    Batch::new(&codes[range.clone()], &ts[range.clone()], 1_000_000);
                code_batch.quantity = Some(&quantity[range.clone()]);
                by_key.add(&plan, &key_batch);
                by_code.add_coded(&plan, &code_batch, &dictionary[..], &mut slots);
            }
            // And one whole batch with nulls.
            let key_batch = with(
                Batch::new(&keys[..], &ts[..], 1_000_000),
                &items_valid,
                &ts_valid,
                &quantity,
            );
            let code_batch = with(
                Batch::new(&codes[..], &ts[..], 1_000_000),
                &items_valid,
                &ts_valid,
                &quantity,
            );
            by_key.add(&plan, &key_batch);
            by_code.add_coded(&plan, &code_batch, &dictionary[..], &mut slots);
            proptest::prop_assert_eq!(by_key.len(), by_code.len());
            let stride = 2 * plan.windows.len();
            for slot in 0..by_key.len() as u32 {
                proptest::prop_assert_eq!(by_key.interner.key(slot), by_code.interner.key(slot));
            }
            let a: Vec<u64> = by_key.sums.iter().map(|v| v.to_bits()).collect();
            let b: Vec<u64> = by_code.sums.iter().map(|v| v.to_bits()).collect();
            proptest::prop_assert_eq!(a.len(), by_key.len() * stride);
            proptest::prop_assert_eq!(a, b);
            proptest::prop_assert_eq!(by_key.finish(&plan, "c".into()), by_code.finish(&plan, "c".into()));
        }
    }
}
