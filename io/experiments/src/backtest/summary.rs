//! Summaries of a backtest: per replay time, per category and overall, with
//! bootstrap 95% intervals over replay times.
//!
//! # Definitions
//!
//! Only replay times whose horizon is complete count. With `hits`,
//! `purchases` and `ndcg` per (variant, time, category) as in
//! [`super::metrics`]:
//!
//! - purchase-weighted: `hit_rate = Σ hits / Σ purchases` and
//!   `ndcg = Σ purchases·ndcg / Σ purchases`, over every (time, category);
//! - category-averaged: the plain mean of `hit_rate` and of `ndcg` over
//!   every (time, category), each category counting once per time;
//! - the interval of a variant: the 2.5th and 97.5th percentiles of the
//!   purchase-weighted figure over [`RESAMPLES`] resamples of the complete
//!   replay times, drawn with replacement (seeded, so a rerun agrees);
//! - the paired interval against the best variant (the best purchase-weighted
//!   figure of the chosen metric): the same percentiles of the difference
//!   `variant − best`, both computed on the same resample.
//!
//! The best variant wins when every other variant's paired interval lies
//! below zero; otherwise the data cannot separate it from those whose
//! interval reaches zero.

use std::collections::BTreeMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use topsellers_lake::rfc3339;

use super::Backtest;

/// Bootstrap resamples.
pub const RESAMPLES: usize = 2_000;
/// The bootstrap's seed.
pub const SEED: u64 = 13;

/// The metric that picks the best variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Purchase-weighted NDCG@N.
    Ndcg,
    /// Purchase-weighted hit rate@N.
    HitRate,
}

impl Metric {
    /// Its name in tables.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Ndcg => "NDCG",
            Metric::HitRate => "hit rate",
        }
    }
}

/// A 95% interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Interval {
    /// 2.5th percentile.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
}

/// One variant over every complete replay time and category.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VariantSummary {
    /// The variant.
    pub variant: String,
    /// Its half-life, seconds (null for λ = 0).
    pub half_life_s: Option<f64>,
    /// Σ purchases.
    pub purchases: i64,
    /// Σ hits.
    pub hits: i64,
    /// Purchase-weighted hit rate.
    pub hit_rate: f64,
    /// Its bootstrap interval.
    pub hit_rate_interval: Interval,
    /// Purchase-weighted NDCG.
    pub ndcg: f64,
    /// Its bootstrap interval.
    pub ndcg_interval: Interval,
    /// Category-averaged hit rate.
    pub category_avg_hit_rate: f64,
    /// Category-averaged NDCG.
    pub category_avg_ndcg: f64,
    /// The chosen metric minus the best variant's (0 for the best).
    pub diff_to_best: f64,
    /// Its paired interval (`None` for the best itself).
    pub diff_interval: Option<Interval>,
}

/// One variant at one replay time, over its categories.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeFigures {
    /// The variant.
    pub variant: String,
    /// Σ purchases.
    pub purchases: i64,
    /// Purchase-weighted hit rate (null without purchases).
    pub hit_rate: Option<f64>,
    /// Purchase-weighted NDCG (null without purchases).
    pub ndcg: Option<f64>,
}

/// One replay time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeSummary {
    /// The replay time (RFC 3339).
    pub as_of: String,
    /// Whether its horizon ends at or before the lake's newest purchase;
    /// an incomplete one is left out of every other figure and of the CSV.
    pub complete: bool,
    /// Categories with a next-horizon purchase, and those with a top list.
    pub coverage: super::Coverage,
    /// Per variant.
    pub variants: Vec<TimeFigures>,
}

/// One category over the complete replay times, per variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategorySummary {
    /// The category.
    pub category: String,
    /// Per variant.
    pub variants: Vec<TimeFigures>,
}

/// The backtest's summaries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The metric that picks the best variant.
    pub metric: Metric,
    /// N.
    pub top: usize,
    /// The horizon, seconds.
    pub horizon_s: i64,
    /// Replay times in all.
    pub replay_times: usize,
    /// Those with a complete horizon (what every figure is over).
    pub complete_replay_times: usize,
    /// The replay times whose horizon runs past the lake's newest purchase.
    pub incomplete: Vec<String>,
    /// The lake's newest purchase (RFC 3339).
    pub newest_purchase: Option<String>,
    /// Σ covered / Σ categories with a next-horizon purchase.
    pub coverage: Option<f64>,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// The variant with the best figure of the metric.
    pub best: Option<String>,
    /// The winner, when the data separates the best from every other.
    pub winner: Option<String>,
    /// The verdict in words.
    pub verdict: String,
    /// Per variant.
    pub variants: Vec<VariantSummary>,
    /// Per replay time.
    pub times: Vec<TimeSummary>,
    /// Per category.
    pub categories: Vec<CategorySummary>,
}

/// Σ hits, Σ purchases and Σ purchases·ndcg.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    hits: i64,
    purchases: i64,
    ndcg_weighted: f64,
    rows: u64,
    hit_rate_sum: f64,
    ndcg_sum: f64,
}

impl Sums {
    fn add(&mut self, s: &super::metrics::Scores) {
        self.hits += s.hits;
        self.purchases += s.purchases;
        self.ndcg_weighted += s.purchases as f64 * s.ndcg;
        self.rows += 1;
        self.hit_rate_sum += s.hit_rate;
        self.ndcg_sum += s.ndcg;
    }

    fn merge(&mut self, o: &Sums) {
        self.hits += o.hits;
        self.purchases += o.purchases;
        self.ndcg_weighted += o.ndcg_weighted;
        self.rows += o.rows;
        self.hit_rate_sum += o.hit_rate_sum;
        self.ndcg_sum += o.ndcg_sum;
    }

    fn hit_rate(&self) -> Option<f64> {
        (self.purchases > 0).then(|| self.hits as f64 / self.purchases as f64)
    }

    fn ndcg(&self) -> Option<f64> {
        (self.purchases > 0).then(|| self.ndcg_weighted / self.purchases as f64)
    }

    fn value(&self, m: Metric) -> Option<f64> {
        match m {
            Metric::Ndcg => self.ndcg(),
            Metric::HitRate => self.hit_rate(),
        }
    }

    fn figures(&self, variant: &str) -> TimeFigures {
        TimeFigures {
            variant: variant.to_string(),
            purchases: self.purchases,
            hit_rate: self.hit_rate(),
            ndcg: self.ndcg(),
        }
    }
}

fn percentiles(mut values: Vec<f64>) -> Interval {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return Interval {
            low: f64::NAN,
            high: f64::NAN,
        };
    }
    values.sort_unstable_by(f64::total_cmp);
    let n = values.len();
    let at = |q: f64| values[((q * n as f64).floor() as usize).min(n - 1)];
    Interval {
        low: at(0.025),
        high: at(0.975),
    }
}

/// Summarises `bt`, choosing the best variant by `metric`.
pub fn summarise(bt: &Backtest, metric: Metric) -> Summary {
    let variants = &bt.plan.variants;
    let nv = variants.len();
    let complete: Vec<usize> = (0..bt.times.len()).filter(|&k| bt.complete[k]).collect();
    // Per (time, variant) and per (category, variant).
    let mut by_time = vec![vec![Sums::default(); nv]; bt.times.len()];
    let mut by_category: BTreeMap<&str, Vec<Sums>> = BTreeMap::new();
    for r in &bt.rows {
        by_time[r.k][r.variant].add(&r.scores);
        if bt.complete[r.k] {
            by_category
                .entry(r.category.as_str())
                .or_insert_with(|| vec![Sums::default(); nv])[r.variant]
                .add(&r.scores);
        }
    }
    let total = |ks: &mut dyn Iterator<Item = usize>| {
        let mut t = vec![Sums::default(); nv];
        for k in ks {
            for (v, s) in by_time[k].iter().enumerate() {
                t[v].merge(s);
            }
        }
        t
    };
    let overall = total(&mut complete.iter().copied());
    let best = (0..nv)
        .filter_map(|v| overall[v].value(metric).map(|x| (v, x)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map(|(v, _)| v);
    // Bootstrap over complete replay times.
    let mut rng = SmallRng::seed_from_u64(SEED);
    let mut draws: Vec<Vec<Sums>> = Vec::new();
    if !complete.is_empty() {
        for _ in 0..RESAMPLES {
            let mut pick =
                (0..complete.len()).map(|_| complete[rng.random_range(0..complete.len())]);
            draws.push(total(&mut pick));
        }
    }
    let nan = f64::NAN;
    let summaries: Vec<VariantSummary> = (0..nv)
        .map(|v| {
            let o = &overall[v];
            let of = |m: Metric| {
                percentiles(draws.iter().map(|d| d[v].value(m).unwrap_or(nan)).collect())
            };
            let (diff, diff_interval) = match best {
                Some(b) if b != v => (
                    o.value(metric).unwrap_or(nan) - overall[b].value(metric).unwrap_or(nan),
                    Some(percentiles(
                        draws
                            .iter()
                            .map(|d| {
                                d[v].value(metric).unwrap_or(nan)
                                    - d[b].value(metric).unwrap_or(nan)
                            })
                            .collect(),
                    )),
                ),
                _ => (0.0, None),
            };
            let rows = o.rows.max(1) as f64;
            VariantSummary {
                variant: variants[v].name.clone(),
                half_life_s: (variants[v].lambda_per_sec > 0.0)
                    .then(|| variants[v].half_life_secs()),
                purchases: o.purchases,
                hits: o.hits,
                hit_rate: o.hit_rate().unwrap_or(nan),
                hit_rate_interval: of(Metric::HitRate),
                ndcg: o.ndcg().unwrap_or(nan),
                ndcg_interval: of(Metric::Ndcg),
                category_avg_hit_rate: o.hit_rate_sum / rows,
                category_avg_ndcg: o.ndcg_sum / rows,
                diff_to_best: diff,
                diff_interval,
            }
        })
        .collect();
    let (winner, verdict) = verdict(&summaries, best, metric, complete.len());
    let covered: u64 = complete.iter().map(|&k| bt.coverage[k].covered).sum();
    let with: u64 = complete
        .iter()
        .map(|&k| bt.coverage[k].with_purchases)
        .sum();
    Summary {
        metric,
        top: bt.plan.top,
        horizon_s: bt.times.horizon_ns / 1_000_000_000,
        replay_times: bt.times.len(),
        complete_replay_times: complete.len(),
        incomplete: (0..bt.times.len())
            .filter(|&k| !bt.complete[k])
            .map(|k| rfc3339(bt.times.at(k)))
            .collect(),
        newest_purchase: bt.newest_ns.map(rfc3339),
        coverage: (with > 0).then(|| covered as f64 / with as f64),
        resamples: if complete.is_empty() { 0 } else { RESAMPLES },
        best: best.map(|b| variants[b].name.clone()),
        winner,
        verdict,
        variants: summaries,
        times: (0..bt.times.len())
            .map(|k| TimeSummary {
                as_of: rfc3339(bt.times.at(k)),
                complete: bt.complete[k],
                coverage: bt.coverage[k],
                variants: (0..nv)
                    .map(|v| by_time[k][v].figures(&variants[v].name))
                    .collect(),
            })
            .collect(),
        categories: by_category
            .into_iter()
            .map(|(c, sums)| CategorySummary {
                category: c.to_string(),
                variants: (0..nv)
                    .map(|v| sums[v].figures(&variants[v].name))
                    .collect(),
            })
            .collect(),
    }
}

fn verdict(
    s: &[VariantSummary],
    best: Option<usize>,
    metric: Metric,
    complete: usize,
) -> (Option<String>, String) {
    let Some(b) = best else {
        return (
            None,
            if complete == 0 {
                "no replay time has a complete horizon: nothing to compare".to_string()
            } else {
                "no next-horizon purchase fell in a category with a top list: nothing to compare"
                    .to_string()
            },
        );
    };
    let name = &s[b].variant;
    if s.len() == 1 {
        return (
            None,
            format!("{name} is the only variant: nothing to compare it with"),
        );
    }
    let close: Vec<String> = s
        .iter()
        .filter_map(|v| {
            let i = v.diff_interval?;
            (i.high >= 0.0 || i.high.is_nan()).then(|| {
                format!(
                    "{} ({:+.4}, 95% interval [{:+.4}, {:+.4}])",
                    v.variant, v.diff_to_best, i.low, i.high
                )
            })
        })
        .collect();
    if close.is_empty() {
        (
            Some(name.clone()),
            format!(
                "{name} wins on {}: every other variant's paired 95% interval lies below it",
                metric.label()
            ),
        )
    } else {
        (
            None,
            format!(
                "no winner: {name} has the best {}, but the data cannot separate it from {}",
                metric.label(),
                close.join(", ")
            ),
        )
    }
}
