//! A plain, obviously-correct implementation of the scoring semantics, used by
//! tests to check the fast path. Quadratic where that keeps it simple.

use std::collections::BTreeMap;

use crate::accumulate::{CategoryOutcome, Ranked, Scored};
use crate::counts::RowCounts;
use crate::key::ItemId;
use crate::params::{ScoringPlan, NANOS_PER_SEC};

/// One purchase as the reference sees it (nulls as `None`, time in ns).
#[derive(Debug, Clone, PartialEq)]
pub struct Purchase {
    /// The item id.
    pub item: Option<ItemId>,
    /// Purchase time in ns since the epoch.
    pub ts_ns: Option<i64>,
    /// The quantity (`None` = 1).
    pub quantity: Option<i64>,
}

/// Scores one category the slow way.
pub fn score_category(plan: &ScoringPlan, category: &str, rows: &[Purchase]) -> CategoryOutcome {
    let mut counts = RowCounts {
        scanned: rows.len() as u64,
        ..RowCounts::default()
    };
    // (item, age_ns, quantity) of rows that are valid and not in the future.
    let mut valid = Vec::new();
    for r in rows {
        let Some(item) = &r.item else {
            counts.null_item += 1;
            continue;
        };
        let Some(ts) = r.ts_ns else {
            counts.null_ts += 1;
            continue;
        };
        let q = r.quantity.unwrap_or(1);
        if q <= 0 {
            counts.bad_quantity += 1;
            continue;
        }
        if ts > plan.as_of_ns {
            counts.after_as_of += 1;
            continue;
        }
        let age = plan.as_of_ns - ts;
        if age >= plan.windows.max_ns() {
            counts.before_max_window += 1;
            continue;
        }
        counts.in_max_window += 1;
        valid.push((item.clone(), age, q));
    }
    let distinct_under = |w: i64| {
        let mut items: Vec<&ItemId> = valid.iter().filter(|r| r.1 < w).map(|r| &r.0).collect();
        items.sort();
        items.dedup();
        items.len()
    };
    let windows = plan.windows.windows_ns();
    let window = windows
        .iter()
        .copied()
        .find(|&w| distinct_under(w) >= plan.min_items)
        .unwrap_or(plan.windows.max_ns());
    if valid.is_empty() {
        return CategoryOutcome {
            category: category.to_string(),
            counts,
            scored: None,
        };
    }
    let in_window: Vec<_> = valid.iter().filter(|r| r.1 < window).collect();
    let top = plan
        .variants
        .iter()
        .map(|v| {
            let mut scores: BTreeMap<ItemId, f64> = BTreeMap::new();
            for (item, age, q) in &in_window {
                let w =
                    *q as f64 * (-v.lambda_per_sec * (*age as f64 / NANOS_PER_SEC as f64)).exp();
                *scores.entry(item.clone()).or_default() += w;
            }
            let mut ranked: Vec<Ranked> = scores
                .into_iter()
                .map(|(item, score)| Ranked { item, score })
                .collect();
            ranked.sort_by(|a, b| {
                b.score
                    .total_cmp(&a.score)
                    .then_with(|| a.item.cmp(&b.item))
            });
            ranked.truncate(plan.top);
            ranked
        })
        .collect();
    CategoryOutcome {
        category: category.to_string(),
        counts,
        scored: Some(Scored {
            window_ns: window,
            counted: in_window.len() as u64,
            distinct_items: distinct_under(window),
            top,
        }),
    }
}

/// Checks that `got` matches `want` per the accuracy contract: same window,
/// same counts, scores within `rel` relative, and the same items at each rank
/// except inside runs of scores that tie within `rel`. Returns a description of
/// the first difference.
pub fn check_outcome(
    got: &CategoryOutcome,
    want: &CategoryOutcome,
    rel: f64,
) -> Result<(), String> {
    let ctx = &want.category;
    if got.category != want.category || got.counts != want.counts {
        return Err(format!(
            "{ctx}: counts {:?} != {:?}",
            got.counts, want.counts
        ));
    }
    let (g, w) = match (&got.scored, &want.scored) {
        (None, None) => return Ok(()),
        (Some(g), Some(w)) => (g, w),
        _ => {
            return Err(format!(
                "{ctx}: scored {:?} vs {:?}",
                got.scored, want.scored
            ))
        }
    };
    if (g.window_ns, g.counted, g.distinct_items) != (w.window_ns, w.counted, w.distinct_items) {
        return Err(format!(
            "{ctx}: window/counted/distinct {:?} != {:?}",
            (g.window_ns, g.counted, g.distinct_items),
            (w.window_ns, w.counted, w.distinct_items)
        ));
    }
    for (v, (gv, wv)) in g.top.iter().zip(&w.top).enumerate() {
        if gv.len() != wv.len() {
            return Err(format!(
                "{ctx} variant {v}: {} items != {}",
                gv.len(),
                wv.len()
            ));
        }
        let close = |a: f64, b: f64| (a - b).abs() <= rel * a.abs().max(b.abs());
        for (rank, (a, b)) in gv.iter().zip(wv).enumerate() {
            if !close(a.score, b.score) {
                return Err(format!(
                    "{ctx} variant {v} rank {rank}: score {} != {}",
                    a.score, b.score
                ));
            }
            if a.item != b.item {
                // Acceptable only if the wanted item sits among ties of this score.
                let tied = |r: &Ranked| close(r.score, b.score);
                let ok = gv.iter().filter(|r| tied(r)).any(|r| r.item == b.item)
                    || wv.iter().filter(|r| tied(r)).count() > gv.len();
                // Or `a` was cut off from the wanted top N by a tie at its end.
                let cut_at_tie = wv.last().is_some_and(|last| close(a.score, last.score))
                    && !wv.iter().any(|r| r.item == a.item);
                if !ok && !cut_at_tie && !wv.iter().any(|r| r.item == a.item && tied(r)) {
                    return Err(format!(
                        "{ctx} variant {v} rank {rank}: item {} != {}",
                        a.item, b.item
                    ));
                }
            }
        }
    }
    Ok(())
}
