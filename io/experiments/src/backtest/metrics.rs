//! The backtest's metrics for one (variant, replay time, category), defined
//! exactly so that others can recompute them.
//!
//! Over the counted purchases of the next horizon `(T, T + horizon]`
//! (valid id and time, quantity ≥ 1, weighted by quantity):
//!
//! - `purchases`: their quantity;
//! - `hits`: the quantity of those whose item is in the category's top N at T;
//! - `hit_rate = hits / purchases`;
//! - `ndcg = DCG / IDCG`, with DCG = Σ over ranks r = 1..N of
//!   gain(item at r) / log2(r + 1), an item's gain its next-horizon
//!   quantity, and IDCG the same sum over the N largest gains.

use std::collections::HashMap;

use topsellers_engine::ItemId;

/// The metrics of one top list against one horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Quantity of all next-horizon purchases of the category.
    pub purchases: i64,
    /// Quantity of those whose item is in the top list.
    pub hits: i64,
    /// `hits / purchases`.
    pub hit_rate: f64,
    /// DCG / IDCG.
    pub ndcg: f64,
}

/// Scores `top` (best first, at most N items) against the next-horizon
/// quantities `gains` (every item with a purchase, quantity > 0). `None`
/// when the horizon holds no purchase.
pub fn score_top(top: &[ItemId], gains: &HashMap<ItemId, i64>, n: usize) -> Option<Scores> {
    let purchases: i64 = gains.values().sum();
    if purchases <= 0 {
        return None;
    }
    let discount = |r: usize| 1.0 / ((r + 1) as f64).log2();
    let mut hits = 0;
    let mut dcg = 0.0;
    for (i, item) in top.iter().take(n).enumerate() {
        if let Some(&g) = gains.get(item) {
            hits += g;
            dcg += g as f64 * discount(i + 1);
        }
    }
    let mut best: Vec<i64> = gains.values().copied().collect();
    best.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = best
        .iter()
        .take(n)
        .enumerate()
        .map(|(i, &g)| g as f64 * discount(i + 1))
        .sum();
    Some(Scores {
        purchases,
        hits,
        hit_rate: hits as f64 / purchases as f64,
        ndcg: dcg / idcg,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn hits_and_ndcg_by_hand() {
        let gains: HashMap<ItemId, i64> = [
            (ItemId::Int(1), 3),
            (ItemId::Int(2), 1),
            (ItemId::Int(9), 4),
        ]
        .into_iter()
        .collect();
        let top = [ItemId::Int(2), ItemId::Int(1), ItemId::Int(5)];
        let s = score_top(&top, &gains, 3).unwrap();
        assert_eq!((s.purchases, s.hits), (8, 4));
        assert_eq!(s.hit_rate, 0.5);
        let dcg = 1.0 / 2f64.log2() + 3.0 / 3f64.log2();
        let idcg = 4.0 / 2f64.log2() + 3.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((s.ndcg - dcg / idcg).abs() < 1e-15);
        // The ideal order scores 1.
        let ideal = [ItemId::Int(9), ItemId::Int(1), ItemId::Int(2)];
        assert_eq!(score_top(&ideal, &gains, 3).unwrap().ndcg, 1.0);
        assert!(score_top(&top, &HashMap::new(), 3).is_none());
    }
}
