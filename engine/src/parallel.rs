//! Deterministic parallel aggregation of one category's work units.
//!
//! # Design
//!
//! A category's data comes in work units (Parquet row groups) whose
//! boundaries are fixed by the files, not by the thread count. Each unit is
//! aggregated into its own accumulator on whichever thread rayon picks, and the
//! partial states are folded strictly in unit order. Floating-point sums are
//! therefore the same whatever the number of threads, and a category with
//! half of all purchases is spread over every core instead of serialising the
//! run. Units are taken in groups of [`merge_group`] units, so that at most
//! that many partial states are alive per category. The group size follows
//! the thread count, but results do not: whatever the grouping, partial
//! states are folded one by one in unit order.

use std::sync::Mutex;

use rayon::prelude::*;

use crate::accumulate::CategoryAccumulator;
use crate::key::Interner;
use crate::params::ScoringPlan;

/// Work units aggregated concurrently per category before their states are
/// folded: two per thread, enough to keep every thread busy while the
/// previous group is folded. Each partial state of a 1M-row unit holds a few
/// MiB; sixteen of them were most of `compute`'s peak memory on two threads,
/// and every fresh page of it was faulted in and zeroed.
pub fn merge_group() -> usize {
    (2 * rayon::current_num_threads()).clamp(4, 64)
}

/// Aggregates units `0..units` of one category. `feed(u, acc)` decodes unit
/// `u` and adds its batches to `acc`; the first error (in unit order) wins.
pub fn aggregate_units<I, E, F>(
    plan: &ScoringPlan,
    units: usize,
    feed: F,
) -> Result<CategoryAccumulator<I>, E>
where
    I: Interner,
    E: Send,
    F: Fn(usize, &mut CategoryAccumulator<I>) -> Result<(), E> + Sync,
{
    let mut total = CategoryAccumulator::<I>::new(plan);
    // Emptied partial states, kept for the next group so that their hash
    // tables and cell vectors are not reallocated (and page-faulted) per unit.
    let spare: Mutex<Vec<CategoryAccumulator<I>>> = Mutex::new(Vec::new());
    let take = || {
        spare
            .lock()
            .ok()
            .and_then(|mut s| s.pop())
            .unwrap_or_else(|| CategoryAccumulator::new(plan))
    };
    let group = merge_group();
    let mut start = 0;
    while start < units {
        let end = (start + group).min(units);
        let partials: Vec<Result<CategoryAccumulator<I>, E>> = (start..end)
            .into_par_iter()
            .map(|u| {
                let mut acc = take();
                feed(u, &mut acc)?;
                Ok(acc)
            })
            .collect();
        for partial in partials {
            let mut partial = partial?;
            total.absorb(&mut partial);
            if let Ok(mut s) = spare.lock() {
                s.push(partial);
            }
        }
        start = end;
    }
    Ok(total)
}
