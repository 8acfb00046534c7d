//! `backtest`: how well each variant's top N at replay times T predicts the
//! purchases of the next horizon `(T, T + horizon]`.
//!
//! - [`ReplayTimes`]: `from`, `from + every`, … up to and including `to`;
//! - [`pass`]: the top lists `compute --as-of T` gives at each time and
//!   the next horizon's purchases, in one forward pass per category;
//! - [`metrics`]: hit rate and NDCG, defined exactly;
//! - [`summary`]: per category and overall figures, bootstrap intervals over
//!   replay times and paired intervals against the best variant.

pub mod metrics;
pub mod output;
pub mod pass;
pub mod summary;

use std::path::Path;

use topsellers_engine::ScoringPlan;
use topsellers_lake::ScanOptions;

use crate::error::ExperimentError;
use metrics::Scores;
use pass::{replay_lake, ReplayStats};

/// The most replay times a backtest takes.
pub const MAX_REPLAYS: usize = 100_000;

/// The replay times and the horizon, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayTimes {
    from_ns: i64,
    every_ns: i64,
    count: usize,
    /// The horizon after each time, ns.
    pub horizon_ns: i64,
}

impl ReplayTimes {
    /// `from`, `from + every`, … up to and including `to`.
    pub fn new(
        from_ns: i64,
        to_ns: i64,
        every_ns: i64,
        horizon_ns: i64,
    ) -> Result<Self, ExperimentError> {
        let bad = |name, reason: String| ExperimentError::InvalidParameter { name, reason };
        if every_ns <= 0 {
            return Err(bad("--every", "must be a positive duration".into()));
        }
        if horizon_ns <= 0 {
            return Err(bad("--horizon", "must be a positive duration".into()));
        }
        if from_ns > to_ns {
            return Err(bad("--from", "is after --to".into()));
        }
        let count = ((to_ns as i128 - from_ns as i128) / every_ns as i128 + 1) as u128;
        if count > MAX_REPLAYS as u128 {
            return Err(bad(
                "--every",
                format!("gives {count} replay times from --from to --to; at most {MAX_REPLAYS}"),
            ));
        }
        Ok(Self {
            from_ns,
            every_ns,
            count: count as usize,
            horizon_ns,
        })
    }

    /// Number of replay times.
    #[allow(clippy::len_without_is_empty)] // at least one by construction
    pub fn len(&self) -> usize {
        self.count
    }

    /// The `k`-th replay time, ns.
    pub fn at(&self, k: usize) -> i64 {
        self.from_ns + k as i64 * self.every_ns
    }

    /// The first replay time.
    pub fn first_ns(&self) -> i64 {
        self.from_ns
    }

    /// The last replay time.
    pub fn last_ns(&self) -> i64 {
        self.at(self.count - 1)
    }

    /// The replay times whose horizon `(T, T + horizon]` holds `ts`.
    pub fn horizons_holding(&self, ts: i64) -> std::ops::Range<usize> {
        // T_k ∈ [ts − horizon, ts): k from ⌈(ts − h − from)/every⌉ to ⌈(ts − from)/every⌉ − 1.
        let ceil = |x: i128| -> i128 {
            x.div_euclid(self.every_ns as i128)
                + i128::from(x.rem_euclid(self.every_ns as i128) != 0)
        };
        let rel = ts as i128 - self.from_ns as i128;
        let lo = ceil(rel - self.horizon_ns as i128).max(0);
        let hi = ceil(rel).min(self.count as i128);
        if lo >= hi {
            return 0..0;
        }
        lo as usize..hi as usize
    }
}

/// The metrics of one (variant, replay time, category).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The variant's index in the plan.
    pub variant: usize,
    /// The replay time's index.
    pub k: usize,
    /// The category.
    pub category: String,
    /// Its metrics.
    pub scores: Scores,
}

/// Coverage at one replay time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Coverage {
    /// Categories with at least one next-horizon purchase.
    pub with_purchases: u64,
    /// Those of them that had a top list at T.
    pub covered: u64,
}

/// Everything a backtest measured.
#[derive(Debug, Clone)]
pub struct Backtest {
    /// The replay times.
    pub times: ReplayTimes,
    /// The plan (variants, windows, N); its `as_of` is the first time.
    pub plan: ScoringPlan,
    /// One row per (variant, replay time, category) with a top list and at
    /// least one next-horizon purchase, complete horizons or not.
    pub rows: Vec<Row>,
    /// Per replay time.
    pub coverage: Vec<Coverage>,
    /// Per replay time: whether its horizon ends at or before the lake's
    /// newest purchase.
    pub complete: Vec<bool>,
    /// The lake's newest purchase (ns).
    pub newest_ns: Option<i64>,
    /// What the replay did.
    pub stats: ReplayStats,
}

/// Runs a backtest of `plan`'s variants over `times`.
pub fn backtest(
    lake: &Path,
    scan: &ScanOptions,
    plan: &ScoringPlan,
    times: &ReplayTimes,
) -> Result<Backtest, ExperimentError> {
    let n = times.len();
    let out = replay_lake(lake, &scan.columns, plan, times)?;
    let complete = (0..n)
        .map(|k| {
            out.newest_ns
                .is_some_and(|t| times.at(k).saturating_add(times.horizon_ns) <= t)
        })
        .collect();
    let mut plan = plan.clone();
    plan.as_of_ns = times.first_ns();
    Ok(Backtest {
        times: times.clone(),
        plan,
        rows: out.rows,
        coverage: out.coverage,
        complete,
        newest_ns: out.newest_ns,
        stats: out.stats,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn replay_times_and_the_horizons_a_purchase_falls_in() {
        let t = ReplayTimes::new(100, 130, 10, 15).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!((t.at(0), t.last_ns()), (100, 130));
        // (T, T + 15]: 101 is in T=100's; 110 in 100's (not 110's); 116 in 110's only.
        assert_eq!(t.horizons_holding(101), 0..1);
        assert_eq!(t.horizons_holding(110), 0..1);
        assert_eq!(t.horizons_holding(115), 0..2);
        assert_eq!(t.horizons_holding(116), 1..2);
        assert_eq!(t.horizons_holding(100), 0..0);
        assert_eq!(t.horizons_holding(145), 3..4);
        assert_eq!(t.horizons_holding(146), 0..0);
        assert_eq!(ReplayTimes::new(0, 0, 1, 1).unwrap().len(), 1);
        assert!(ReplayTimes::new(2, 1, 1, 1).is_err());
        assert!(ReplayTimes::new(0, 1, 0, 1).is_err());
        assert!(ReplayTimes::new(0, 1, 1, -1).is_err());
    }
}
