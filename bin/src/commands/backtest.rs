//! `topsellers backtest`: replays `as_of` over a period and scores each
//! variant's top N against the next horizon's purchases.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use topsellers_engine::ScoringPlan;
use topsellers_experiments::backtest::output::{write_csv, write_json, Parameters};
use topsellers_experiments::backtest::summary::{summarise, Interval, Metric, Summary};
use topsellers_experiments::{backtest, ExperimentError, ReplayTimes};
use topsellers_lake::{parse_rfc3339, ScanOptions};

use super::compute::{column_names, named_variants, scoring_plan};
use super::{thread_pool, UsageError};
use crate::cli::{BacktestArgs, MetricArg};

/// Validated backtest options.
#[derive(Debug)]
pub struct BacktestOptions {
    /// The replay times.
    pub times: ReplayTimes,
    /// Variants, windows and N (its `as_of` is the first replay time).
    pub plan: ScoringPlan,
    /// The best variant's metric.
    pub metric: Metric,
    /// CSV outputs.
    pub csv: Vec<PathBuf>,
    /// JSON outputs.
    pub json: Vec<PathBuf>,
}

impl BacktestOptions {
    /// Validates the arguments; every failure is a usage error.
    pub fn from_args(a: &BacktestArgs) -> Result<Self, UsageError> {
        let at = |flag: &str, text: &str| {
            parse_rfc3339(text).map_err(|e| UsageError(format!("--{flag}: {e}")))
        };
        let (from, to) = (at("from", &a.from)?, at("to", &a.to)?);
        let times = ReplayTimes::new(from, to, a.every, a.horizon).map_err(|e| match e {
            ExperimentError::InvalidParameter { name: "--from", .. } => {
                UsageError(format!("--from {} is after --to {}", a.from, a.to))
            }
            other => UsageError(other.to_string()),
        })?;
        let plan = scoring_plan(from, named_variants(&a.variant)?, &a.scoring)?;
        let (mut csv, mut json) = (Vec::new(), Vec::new());
        for path in &a.out {
            match path.extension().and_then(|e| e.to_str()) {
                Some("csv") => csv.push(path.clone()),
                Some("json") => json.push(path.clone()),
                _ => {
                    return Err(UsageError(format!(
                        "--out {}: name a .csv or a .json file",
                        path.display()
                    )))
                }
            }
        }
        if let Some(chart) = &a.chart {
            if chart.extension().and_then(|e| e.to_str()) != Some("png") {
                return Err(UsageError(format!(
                    "--chart {}: name a .png file",
                    chart.display()
                )));
            }
        }
        Ok(Self {
            times,
            plan,
            metric: match a.metric {
                MetricArg::Ndcg => Metric::Ndcg,
                MetricArg::HitRate => Metric::HitRate,
            },
            csv,
            json,
        })
    }
}

/// Runs `backtest`.
pub fn run(a: &BacktestArgs) -> Result<()> {
    let opts = BacktestOptions::from_args(a)?;
    let pool = thread_pool(a.threads)?;
    let started = Instant::now();
    let scan = ScanOptions {
        columns: column_names(&a.scoring),
        ..ScanOptions::default()
    };
    let bt = pool
        .install(|| backtest(&a.lake, &scan, &opts.plan, &opts.times))
        .with_context(|| format!("cannot backtest the lake {}", a.lake.display()))?;
    let summary = summarise(&bt, opts.metric);
    let parameters = Parameters {
        lake: a.lake.display().to_string(),
        from: a.from.clone(),
        to: a.to.clone(),
        every_s: a.every as f64 / 1e9,
        horizon_s: a.horizon as f64 / 1e9,
        window_s: a.scoring.window / 1_000_000_000,
        max_window_s: a.scoring.max_window / 1_000_000_000,
        min_items: opts.plan.min_items,
    };
    for path in &opts.csv {
        write_csv(&bt, path)?;
    }
    for path in &opts.json {
        write_json(&bt, &summary, &parameters, path)?;
    }
    if let Some(path) = &a.chart {
        topsellers_experiments::chart::draw(&summary, path)?;
    }
    print!("{}", table(&summary));
    tracing::info!(
        replay_times = opts.times.len(),
        variants = opts.plan.variants.len(),
        seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
        "backtest done"
    );
    Ok(())
}

fn interval(i: &Interval) -> String {
    format!("[{:.4}, {:.4}]", i.low, i.high)
}

/// The terminal table: one line per variant, then the verdict.
fn table(s: &Summary) -> String {
    let mut out = format!(
        "{} replay times, {} with a complete horizon; top {}; coverage {}\n",
        s.replay_times,
        s.complete_replay_times,
        s.top,
        s.coverage
            .map_or("-".to_string(), |c| format!("{:.1}%", 100.0 * c))
    );
    if !s.incomplete.is_empty() {
        out += &format!(
            "incomplete (horizon past the newest purchase, {}): {} — left out\n",
            s.newest_purchase.as_deref().unwrap_or("none"),
            s.incomplete.join(", ")
        );
    }
    out += &format!(
        "\n{:<12} {:>9} {:>8} {:>18} {:>8} {:>18} {:>10} {:>9} {:>22}\n",
        "variant",
        "purchases",
        "hit rate",
        "95% interval",
        "NDCG",
        "95% interval",
        "cat. hit",
        "cat. NDCG",
        format!("Δ {} vs best", s.metric.label())
    );
    for v in &s.variants {
        let diff = match &v.diff_interval {
            Some(i) => format!("{:+.4} [{:+.4}, {:+.4}]", v.diff_to_best, i.low, i.high),
            None if s.best.as_deref() == Some(v.variant.as_str()) => "best".to_string(),
            None => "-".to_string(),
        };
        out += &format!(
            "{:<12} {:>9} {:>8.4} {:>18} {:>8.4} {:>18} {:>10.4} {:>9.4} {:>22}\n",
            v.variant,
            v.purchases,
            v.hit_rate,
            interval(&v.hit_rate_interval),
            v.ndcg,
            interval(&v.ndcg_interval),
            v.category_avg_hit_rate,
            v.category_avg_ndcg,
            diff
        );
    }
    out += &format!("\n{}\n", s.verdict);
    out
}
