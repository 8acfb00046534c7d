//! The incremental state agrees with the plain reference after hundreds of
//! cycles of purchases added and taken back, quantities up to 10^6 among
//! ones: scores within 1e-9 relative (SPEC section 1), never negative.
//!
//! A state that subtracts a freshly computed weight from a sum decayed step
//! by step keeps a residue of every large purchase that expired, and it
//! shows next to the small purchases that remain.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use topsellers_engine::reference::{score_category, Purchase};
use topsellers_engine::{CategoryState, ItemId, ItemKey, ScoringPlan, Variant};

const HOUR_NS: i64 = 3_600_000_000_000;
const DAY_NS: i64 = 24 * HOUR_NS;
const WINDOW_NS: i64 = 7 * DAY_NS;
const ITEMS: u64 = 12;
const CYCLES: usize = 500;

/// A small deterministic generator (xorshift64*), seeded per case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn plan(as_of_ns: i64) -> ScoringPlan {
    ScoringPlan::new(
        as_of_ns,
        vec![
            Variant::from_half_life("day", 86_400.0).unwrap(),
            Variant::from_half_life("year", 365.0 * 86_400.0).unwrap(),
        ],
        WINDOW_NS,
        WINDOW_NS,
        Some(1),
        ITEMS as usize,
    )
    .unwrap()
}

/// Runs `CYCLES` cycles of an hour, one purchase in ten near `large`,
/// comparing every item's score with the reference after each; returns the
/// worst relative error.
fn run(seed: u64, large: i64) -> f64 {
    let mut rng = Rng(seed);
    let mut rows: Vec<(i64, i64, i64)> = Vec::new();
    let lambdas = plan(0).lambdas();
    let mut t = 1_000 * DAY_NS;
    let mut state = CategoryState::new(WINDOW_NS, t, lambdas.len());
    let mut worst: f64 = 0.0;
    for cycle in 0..CYCLES {
        let t1 = t;
        t += HOUR_NS;
        assert!(!state.reanchor_due(t, &lambdas), "cycle {cycle}");
        // Taken back: counted at t1, outside the window at t.
        for &(item, ts, q) in &rows {
            if ts > t1 - WINDOW_NS && ts <= t - WINDOW_NS {
                state.expire(ItemKey::Int(item), ts, q, &lambdas).unwrap();
            }
        }
        // New purchases in (t1, t]: mostly ones, one in ten near `large`.
        for _ in 0..rng.below(4) {
            let item = rng.below(ITEMS) as i64;
            let ts = t1 + 1 + rng.below(HOUR_NS as u64) as i64;
            let q = if rng.below(10) == 0 {
                large - rng.below(1_000) as i64
            } else {
                1
            };
            rows.push((item, ts, q));
            state.add(ItemKey::Int(item), ts, q, &lambdas);
        }
        let p = plan(t);
        let purchases: Vec<Purchase> = rows
            .iter()
            .map(|&(item, ts, q)| Purchase {
                item: Some(ItemId::Int(item)),
                ts_ns: Some(ts),
                quantity: Some(q),
            })
            .collect();
        let want = score_category(&p, "c", &purchases);
        let want = want.scored.map(|s| s.top).unwrap_or_default();
        for (v, want) in want.iter().enumerate() {
            let got: BTreeMap<ItemId, f64> = state
                .top(v, ITEMS as usize, t, lambdas[v])
                .into_iter()
                .map(|r| (r.item, r.score))
                .collect();
            assert_eq!(got.len(), want.len(), "cycle {cycle}: items held");
            for w in want {
                let g = got[&w.item];
                assert!(
                    g >= 0.0,
                    "cycle {cycle}, variant {v}: {} scores {g}",
                    w.item
                );
                let rel = (g - w.score).abs() / w.score.abs().max(f64::MIN_POSITIVE);
                worst = worst.max(rel);
                assert!(
                    rel <= 1e-9,
                    "cycle {cycle}, variant {v}: {} scores {g}, the reference {} (relative error {rel:e})",
                    w.item,
                    w.score
                );
            }
        }
    }
    worst
}

#[test]
fn hundreds_of_cycles_of_large_quantities_stay_exact() {
    for seed in [1, 2, 3, 0x5eed] {
        let worst = run(seed, 1_000_000);
        eprintln!("seed {seed}: worst relative error {worst:e}");
    }
}

#[test]
fn any_i32_quantity_stays_exact() {
    // Ingest accepts any i32 quantity.
    let worst = run(7, i64::from(i32::MAX));
    eprintln!("worst relative error {worst:e}");
}
