//! Top-N selection without sorting every candidate.

use std::cmp::Ordering;

/// Keeps the best `n` of `candidates` (score descending, then key ascending as
/// ordered by `cmp_keys`) and returns them best first.
///
/// Uses a partial selection (`select_nth_unstable_by`, O(len)) and sorts only
/// the survivors, so a category with millions of items costs one pass, not a
/// full sort.
pub fn top_n<K: Copy>(
    candidates: &mut Vec<(f64, K)>,
    n: usize,
    cmp_keys: impl Fn(K, K) -> Ordering,
) -> &[(f64, K)] {
    let order = |a: &(f64, K), b: &(f64, K)| b.0.total_cmp(&a.0).then_with(|| cmp_keys(a.1, b.1));
    if candidates.len() > n && n > 0 {
        candidates.select_nth_unstable_by(n - 1, order);
        candidates.truncate(n);
    }
    candidates.truncate(n);
    candidates.sort_unstable_by(order);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_full_sort(scores in proptest::collection::vec(0u8..6, 0..200), n in 0usize..50) {
            let mut cands: Vec<(f64, u32)> =
                scores.iter().enumerate().map(|(i, &s)| (f64::from(s), i as u32)).collect();
            let mut full = cands.clone();
            full.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            full.truncate(n);
            let got = top_n(&mut cands, n, |a, b| a.cmp(&b)).to_vec();
            prop_assert_eq!(got, full);
        }
    }
}
