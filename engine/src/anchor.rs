//! Scores kept relative to a fixed anchor time, in compensated sums: what
//! lets the incremental state take a purchase back exactly.
//!
//! # Background
//!
//! The score of an item at `as_of` is `Σ q·exp(−λ·(as_of − ts))`. Kept at the
//! state's `as_of` and decayed each cycle (multiplied by `exp(−λ·Δ)`), every
//! purchase's share of the sum drifts by a rounding per cycle from the weight
//! computed afresh when it expires. Subtracting that weight leaves the drift
//! behind: after hundreds of cycles, a purchase of 10^6 leaves a residue that
//! exceeds the contract's 1e-9 next to purchases of 1, and can turn a score
//! negative.
//!
//! # Design
//!
//! - A purchase adds `q·exp(λ·(ts − anchor))`, the anchor being fixed when
//!   the state is built from the lake; the score at `as_of` is the sum times
//!   `exp(−λ·(as_of − anchor))`. Nothing touches the sums between cycles,
//!   so taking a purchase back subtracts the very f64 that adding it added.
//! - The sums are compensated (Neumaier): the rounding of every addition is
//!   kept apart, so what remains after a large weight is taken back is exact
//!   to the size of what remains, not of what was taken.
//! - `exp(λ·(ts − anchor))` grows as time passes the anchor. Past
//!   [`MAX_EXPONENT`] (about 866 half-lives of the fastest variant) a sum
//!   could overflow, and the state must be rebuilt from the lake, anchored at
//!   its new `as_of`.

use crate::params::NANOS_PER_SEC;

/// The largest `λ·(as_of − anchor)` a state may reach: `e^600` times the
/// largest quantity (2^63) times the most purchases of an item (2^32) stays
/// far below `f64::MAX` (about `e^709`).
pub const MAX_EXPONENT: f64 = 600.0;

fn seconds(ns: i64) -> f64 {
    ns as f64 / NANOS_PER_SEC as f64
}

/// The weight of a purchase of `quantity` at `ts_ns`, relative to the anchor.
#[inline]
pub fn anchored_weight(quantity: i64, ts_ns: i64, anchor_ns: i64, lambda_per_sec: f64) -> f64 {
    quantity as f64 * (lambda_per_sec * seconds(ts_ns.saturating_sub(anchor_ns))).exp()
}

/// `λ·(as_of − anchor)`: how far the anchored weights have grown.
pub fn exponent(as_of_ns: i64, anchor_ns: i64, lambda_per_sec: f64) -> f64 {
    lambda_per_sec * seconds(as_of_ns.saturating_sub(anchor_ns))
}

/// What turns an anchored sum into the score at `as_of_ns`.
pub fn scale(as_of_ns: i64, anchor_ns: i64, lambda_per_sec: f64) -> f64 {
    (-exponent(as_of_ns, anchor_ns, lambda_per_sec)).exp()
}

/// Adds `x` to the compensated sum `pair` (`[sum, compensation]`).
#[inline]
pub fn add(pair: &mut [f64], x: f64) {
    let (sum, comp) = (pair[0], pair[1]);
    let t = sum + x;
    // The low-order part that `t` lost, from whichever operand is smaller.
    pair[1] = comp
        + if sum.abs() >= x.abs() {
            (sum - t) + x
        } else {
            (x - t) + sum
        };
    pair[0] = t;
}

/// The value of the compensated sum `pair`.
#[inline]
pub fn value(pair: &[f64]) -> f64 {
    pair[0] + pair[1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_large_weight_taken_back_leaves_the_small_ones_exact() {
        let mut pair = [0.0, 0.0];
        let small = [0.1, 0.2, 0.3];
        add(&mut pair, small[0]);
        add(&mut pair, 1e6 * std::f64::consts::PI);
        add(&mut pair, small[1]);
        add(&mut pair, small[2]);
        add(&mut pair, -1e6 * std::f64::consts::PI);
        let want = 0.1 + 0.2 + 0.3;
        assert!((value(&pair) - want).abs() <= 1e-15 * want, "{pair:?}");
    }

    #[test]
    fn anchored_weights_scale_to_the_weight_at_as_of() {
        let l = std::f64::consts::LN_2 / 86_400.0;
        let (anchor, ts, as_of) = (0, 5 * 86_400 * NANOS_PER_SEC, 9 * 86_400 * NANOS_PER_SEC);
        let got = anchored_weight(3, ts, anchor, l) * scale(as_of, anchor, l);
        let want = 3.0 * 0.5f64.powi(4);
        assert!((got - want).abs() <= 1e-14 * want, "{got} != {want}");
        assert!((exponent(as_of, anchor, l) - 9.0 * std::f64::consts::LN_2).abs() < 1e-12);
    }
}
