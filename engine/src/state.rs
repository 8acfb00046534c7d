//! The incremental state of one category: for every item with a purchase
//! inside the category's window, its score per variant (kept relative to
//! the state's anchor time, see [`crate::anchor`]), its number of in-window
//! purchases and the time of its newest one.
//!
//! # Background
//!
//! Exponential decay is memoryless: the score at `T2` is the score at `T1`
//! times `exp(−λ·(T2 − T1))`, plus the purchases that arrived since (each
//! weighted by its own age), minus those that slid out of the window. A
//! cycle therefore costs what the new and expired purchases cost, not what
//! the whole history costs.
//!
//! # Design
//!
//! - Scores are compensated sums of weights relative to a fixed anchor (see
//!   [`crate::anchor`]): expiry subtracts the very f64 that adding the
//!   purchase added, and what remains is exact to its own size whatever the
//!   quantities taken back (`tests/state_vs_reference.rs` holds it to the
//!   contract's 1e-9 over hundreds of cycles). A state whose anchor grows too
//!   old says so ([`CategoryState::reanchor_due`]), and is rebuilt.
//! - An item whose in-window count reaches zero leaves the state.
//! - The newest purchase of an item never expires before its older ones, so
//!   the distinct items under every candidate window up to the current one
//!   are known exactly; a window that would grow or shrink is reported and
//!   the caller recomputes that category in full.

use std::hash::{BuildHasher, Hash, Hasher};

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::accumulate::Ranked;
use crate::anchor::{self, anchored_weight, MAX_EXPONENT};
use crate::key::ItemId;
use crate::params::NANOS_PER_SEC;
use crate::topk::top_n;
use crate::window::WindowLadder;

/// The weight of a purchase of `quantity` at `ts_ns`, seen at `as_of_ns`.
#[inline]
pub fn weight(quantity: i64, ts_ns: i64, as_of_ns: i64, lambda_per_sec: f64) -> f64 {
    let age_s = as_of_ns.saturating_sub(ts_ns) as f64 / NANOS_PER_SEC as f64;
    quantity as f64 * (-lambda_per_sec * age_s).exp()
}

/// An item id borrowed from the rows being read: looking an item up in a
/// state costs no allocation; only an item new to the state is copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKey<'a> {
    /// An INT64 id.
    Int(i64),
    /// A UTF8 id.
    Str(&'a str),
}

impl ItemKey<'_> {
    /// The owned id.
    pub fn to_id(self) -> ItemId {
        match self {
            ItemKey::Int(v) => ItemId::Int(v),
            ItemKey::Str(s) => ItemId::Str(s.to_string()),
        }
    }
}

impl<'a> From<&'a ItemId> for ItemKey<'a> {
    fn from(id: &'a ItemId) -> Self {
        match id {
            ItemId::Int(v) => ItemKey::Int(*v),
            ItemId::Str(s) => ItemKey::Str(s),
        }
    }
}

impl Hash for ItemKey<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        match self {
            ItemKey::Int(v) => {
                h.write_u8(0);
                h.write_i64(*v);
            }
            ItemKey::Str(s) => {
                h.write_u8(1);
                s.hash(h);
            }
        }
    }
}

/// What the window rule says about a category after a cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowCheck {
    /// The window stays: the state is exact as it is.
    Keep,
    /// The window changes (to a longer one, or a shorter one with enough
    /// items): the category must be recomputed in full.
    Changed,
}

/// A purchase to expire that the state does not hold: the state does not
/// match the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotHeld {
    /// The item.
    pub item: ItemId,
}

/// One category's incremental state.
#[derive(Debug, Clone, Default)]
pub struct CategoryState {
    /// The window the state covers, `(as_of − window, as_of]`.
    pub window_ns: i64,
    /// The time the weights are relative to.
    anchor_ns: i64,
    variants: usize,
    /// Slots by the hash of their id (the ids themselves are in `ids`).
    index: HashTable<u32>,
    hasher: DefaultHashBuilder,
    ids: Vec<ItemId>,
    count: Vec<u32>,
    newest: Vec<i64>,
    /// `[slot][variant][sum, compensation]`: compensated sums of the
    /// anchored weights.
    sums: Vec<f64>,
}

impl CategoryState {
    /// An empty state for `variants` variants under `window_ns`, its
    /// weights relative to `anchor_ns` (the time it is built at).
    pub fn new(window_ns: i64, anchor_ns: i64, variants: usize) -> Self {
        Self {
            window_ns,
            anchor_ns,
            variants,
            ..Self::default()
        }
    }

    /// The time the weights are relative to.
    pub fn anchor_ns(&self) -> i64 {
        self.anchor_ns
    }

    /// Whether the anchored weights would grow past what a sum can hold by
    /// `as_of_ns`: the state must then be rebuilt from the lake.
    pub fn reanchor_due(&self, as_of_ns: i64, lambdas: &[f64]) -> bool {
        lambdas
            .iter()
            .any(|&l| anchor::exponent(as_of_ns, self.anchor_ns, l) > MAX_EXPONENT)
    }

    /// The `[sum, compensation]` pairs of `slot`, one per variant.
    fn row(&mut self, slot: usize) -> &mut [f64] {
        let w = 2 * self.variants;
        &mut self.sums[slot * w..(slot + 1) * w]
    }

    /// Variants scored.
    pub fn variants(&self) -> usize {
        self.variants
    }

    /// Items held.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether no item is held.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Purchases counted (in-window) over all items.
    pub fn counted(&self) -> u64 {
        self.count.iter().map(|&c| u64::from(c)).sum()
    }

    /// Approximate heap bytes held.
    pub fn size_bytes(&self) -> usize {
        let strings: usize = self
            .ids
            .iter()
            .map(|id| match id {
                ItemId::Int(_) => 0,
                ItemId::Str(s) => s.capacity(),
            })
            .sum();
        self.ids.capacity() * (std::mem::size_of::<ItemId>() + 4 + 8 + 16)
            + self.sums.capacity() * 8
            + strings
    }

    /// Every item: id, in-window purchases, newest purchase (ns), and its
    /// compensated anchored sums (`[sum, compensation]` per variant).
    pub fn items(&self) -> impl Iterator<Item = (&ItemId, u32, i64, &[f64])> {
        let w = 2 * self.variants;
        (0..self.ids.len()).map(move |s| {
            (
                &self.ids[s],
                self.count[s],
                self.newest[s],
                &self.sums[s * w..(s + 1) * w],
            )
        })
    }

    /// Inserts an item as [`CategoryState::items`] gives it, from a state
    /// with the same anchor. A repeated id is merged.
    pub fn insert(&mut self, item: ItemId, count: u32, newest_ns: i64, sums: &[f64]) {
        debug_assert_eq!(sums.len(), 2 * self.variants);
        let slot = self.slot(ItemKey::from(&item), newest_ns);
        self.count[slot] += count;
        for (a, b) in self.row(slot).chunks_exact_mut(2).zip(sums.chunks_exact(2)) {
            anchor::add(a, b[0]);
            a[1] += b[1];
        }
    }

    /// The slot of `item`, if held.
    fn find(&self, item: ItemKey<'_>) -> Option<usize> {
        let hash = self.hasher.hash_one(item);
        let ids = &self.ids;
        self.index
            .find(hash, |&s| ItemKey::from(&ids[s as usize]) == item)
            .map(|&s| s as usize)
    }

    /// The slot of `item`, added (a copy of its id) when new.
    fn slot(&mut self, item: ItemKey<'_>, ts_ns: i64) -> usize {
        if let Some(s) = self.find(item) {
            self.newest[s] = self.newest[s].max(ts_ns);
            return s;
        }
        let s = self.ids.len();
        self.ids.push(item.to_id());
        let (ids, hasher) = (&self.ids, &self.hasher);
        self.index
            .insert_unique(hasher.hash_one(item), s as u32, |&t| {
                hasher.hash_one(ItemKey::from(&ids[t as usize]))
            });
        self.count.push(0);
        self.newest.push(ts_ns);
        self.sums.resize(self.sums.len() + 2 * self.variants, 0.0);
        s
    }

    /// Counts a purchase (`as_of − window < ts ≤ as_of` is the caller's
    /// check, and so is [`CategoryState::reanchor_due`] at that `as_of`).
    pub fn add(&mut self, item: ItemKey<'_>, ts_ns: i64, quantity: i64, lambdas: &[f64]) {
        let slot = self.slot(item, ts_ns);
        self.count[slot] += 1;
        let anchor_ns = self.anchor_ns;
        for (pair, &l) in self.row(slot).chunks_exact_mut(2).zip(lambdas) {
            anchor::add(pair, anchored_weight(quantity, ts_ns, anchor_ns, l));
        }
    }

    /// Takes back a purchase that slid out of the window. The item leaves the
    /// state with its last purchase.
    pub fn expire(
        &mut self,
        item: ItemKey<'_>,
        ts_ns: i64,
        quantity: i64,
        lambdas: &[f64],
    ) -> Result<(), NotHeld> {
        let Some(slot) = self.find(item) else {
            return Err(NotHeld { item: item.to_id() });
        };
        if self.count[slot] == 1 {
            self.remove(slot);
            return Ok(());
        }
        self.count[slot] -= 1;
        let anchor_ns = self.anchor_ns;
        for (pair, &l) in self.row(slot).chunks_exact_mut(2).zip(lambdas) {
            anchor::add(pair, -anchored_weight(quantity, ts_ns, anchor_ns, l));
        }
        Ok(())
    }

    fn remove(&mut self, slot: usize) {
        let last = self.ids.len() - 1;
        let hash_of = |s: usize| self.hasher.hash_one(ItemKey::from(&self.ids[s]));
        let (gone, moved) = (hash_of(slot), hash_of(last));
        if let Ok(entry) = self.index.find_entry(gone, |&s| s as usize == slot) {
            entry.remove();
        }
        if slot != last {
            if let Some(s) = self.index.find_mut(moved, |&s| s as usize == last) {
                *s = slot as u32;
            }
        }
        self.ids.swap_remove(slot);
        self.count.swap_remove(slot);
        self.newest.swap_remove(slot);
        let w = 2 * self.variants;
        if slot != last {
            self.sums.copy_within(last * w..(last + 1) * w, slot * w);
        }
        self.sums.truncate(last * w);
    }

    /// Applies the window rule at `as_of_ns`: the smallest candidate window
    /// under which at least `min_items` distinct items have a purchase.
    pub fn check_window(
        &self,
        as_of_ns: i64,
        ladder: &WindowLadder,
        min_items: usize,
    ) -> WindowCheck {
        let max = ladder.max_ns();
        for &w in ladder.windows_ns().iter().filter(|&&w| w <= self.window_ns) {
            let cutoff = as_of_ns.saturating_sub(w);
            let present = self.newest.iter().filter(|&&t| t > cutoff).count();
            if present >= min_items {
                return if w == self.window_ns {
                    WindowCheck::Keep
                } else {
                    WindowCheck::Changed
                };
            }
        }
        if self.window_ns == max {
            WindowCheck::Keep
        } else {
            WindowCheck::Changed
        }
    }

    /// The best `n` items of variant `v` (decay rate `lambda_per_sec`) at
    /// `as_of_ns`: score descending, then id ascending.
    pub fn top(&self, v: usize, n: usize, as_of_ns: i64, lambda_per_sec: f64) -> Vec<Ranked> {
        let scale = anchor::scale(as_of_ns, self.anchor_ns, lambda_per_sec);
        let w = 2 * self.variants;
        let mut candidates: Vec<(f64, u32)> = (0..self.ids.len() as u32)
            .map(|s| {
                let at = s as usize * w + 2 * v;
                (anchor::value(&self.sums[at..at + 2]) * scale, s)
            })
            .collect();
        top_n(&mut candidates, n, |a, b| {
            self.ids[a as usize].cmp(&self.ids[b as usize])
        })
        .iter()
        .map(|&(score, s)| Ranked {
            item: self.ids[s as usize].clone(),
            score,
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400 * NANOS_PER_SEC;

    #[test]
    fn add_expire_round_trip() {
        let lambdas = [f64::ln(2.0) / (7.0 * 86_400.0)];
        let t1 = 100 * DAY;
        let mut s = CategoryState::new(30 * DAY, t1, 1);
        s.add(ItemKey::Int(1), t1 - 29 * DAY, 2, &lambdas);
        s.add(ItemKey::Int(1), t1 - DAY, 1, &lambdas);
        s.add(ItemKey::Int(2), t1 - 2 * DAY, 1, &lambdas);
        assert_eq!((s.len(), s.counted()), (2, 3));
        let t2 = t1 + 2 * DAY;
        s.expire(ItemKey::Int(1), t1 - 29 * DAY, 2, &lambdas)
            .expect("held");
        let want = weight(1, t1 - DAY, t2, lambdas[0]);
        let got = s.top(0, 10, t2, lambdas[0]);
        assert_eq!(got[0].item, ItemId::Int(1));
        assert!((got[0].score - want).abs() <= 1e-15 * want);
        s.expire(ItemKey::Int(2), t1 - 2 * DAY, 1, &lambdas)
            .expect("held");
        assert_eq!(s.len(), 1, "an item leaves with its last purchase");
        assert!(s.expire(ItemKey::Int(2), 0, 1, &lambdas).is_err());
    }

    #[test]
    fn an_old_anchor_is_due_for_a_rebuild() {
        let hour = 3_600.0;
        let lambdas = [0.0, f64::ln(2.0) / hour];
        let s = CategoryState::new(DAY, 0, 2);
        // 600 / ln 2 ≈ 865.6 half-lives of the fast variant.
        let half_lives = |n: i64| n * 3_600 * NANOS_PER_SEC;
        assert!(!s.reanchor_due(half_lives(865), &lambdas));
        assert!(s.reanchor_due(half_lives(866), &lambdas));
        assert!(
            !s.reanchor_due(half_lives(866), &lambdas[..1]),
            "λ = 0 never grows"
        );
    }

    #[test]
    fn window_rule() {
        let ladder = WindowLadder::new(10 * DAY, 40 * DAY).expect("valid");
        let lambdas = [0.0];
        let now = 100 * DAY;
        let mut s = CategoryState::new(20 * DAY, now, 1);
        s.add(ItemKey::Int(1), now - 15 * DAY, 1, &lambdas);
        s.add(ItemKey::Int(2), now - 12 * DAY, 1, &lambdas);
        assert_eq!(s.check_window(now, &ladder, 2), WindowCheck::Keep);
        assert_eq!(s.check_window(now, &ladder, 3), WindowCheck::Changed);
        s.add(ItemKey::Int(2), now - DAY, 1, &lambdas);
        s.add(ItemKey::Int(3), now - DAY, 1, &lambdas);
        assert_eq!(
            s.check_window(now, &ladder, 2),
            WindowCheck::Changed,
            "two items within 10 days: the window shrinks"
        );
    }
}
