//! `topsellers compute`: lake → results, report and metrics.

use std::path::PathBuf;
use std::time::Instant;

use super::sync::cache_folder;
use anyhow::{Context, Result};
use topsellers_engine::{CategoryOutcome, ScoringPlan, Variant};
use topsellers_lake::{
    parse_rfc3339, scan_lake, write_results, ColumnNames, Format, RunReport, RunResults,
    ScanOptions, Symlinks,
};
use topsellers_s3::{AddressingStyle, S3Location, SyncOptions};

use super::{thread_pool, UsageError};
use crate::cli::{ComputeArgs, ScoringArgs};
use crate::progress::rows_bar;

/// Validated compute options.
#[derive(Debug)]
pub struct ComputeOptions {
    /// Lake root (the local cache when the lake is in S3).
    pub lake: PathBuf,
    /// The S3 lake to sync into `lake` first, if any.
    pub source: Option<SyncOptions>,
    /// The scoring plan.
    pub plan: ScoringPlan,
    /// Column names.
    pub columns: ColumnNames,
    /// Results file.
    pub out: PathBuf,
    /// Report file.
    pub report: Option<PathBuf>,
    /// Metrics file.
    pub metrics_file: Option<PathBuf>,
    /// Threads (None: all cores).
    pub threads: Option<usize>,
    /// Aggregate on dictionary codes where the page decoder applies
    /// (`false`: the Arrow reader for every row group).
    pub page_decoder: bool,
    /// Which symbolic links in the lake are followed.
    pub symlinks: Symlinks,
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

impl ComputeOptions {
    /// Validates the arguments; every failure is a usage error.
    pub fn from_args(a: &ComputeArgs) -> Result<Self, UsageError> {
        let as_of_ns = match &a.as_of {
            Some(t) => parse_rfc3339(t).map_err(|e| UsageError(format!("--as-of: {e}")))?,
            None => now_ns(),
        };
        let bad = |e: topsellers_engine::EngineError| UsageError(e.to_string());
        let variants = if let Some(h) = a.half_life {
            vec![Variant::from_half_life("default", h as f64 / 1e9).map_err(bad)?]
        } else if let Some(l) = a.lambda {
            vec![Variant::from_lambda_per_day("default", l).map_err(bad)?]
        } else if !a.variant.is_empty() {
            named_variants(&a.variant)?
        } else {
            vec![Variant::from_half_life("default", 7.0 * 86_400.0).map_err(bad)?]
        };
        let plan = scoring_plan(as_of_ns, variants, &a.scoring)?;
        Format::from_path(&a.out).map_err(|e| UsageError(format!("--out {e}")))?;
        let source = if S3Location::is_s3(&a.lake) {
            let from = S3Location::parse(&a.lake).map_err(|e| UsageError(format!("--lake {e}")))?;
            // Everything the largest window can reach, with a month of margin.
            let horizon = plan
                .windows
                .max_ns()
                .saturating_add(30 * 86_400 * 1_000_000_000);
            Some(SyncOptions {
                to: cache_folder(&a.cache_dir, &from),
                from,
                oldest_ns: Some(plan.as_of_ns.saturating_sub(horizon)),
                delete: true,
                dry_run: false,
                concurrency: 32,
                part_size: 8 << 20,
                recent_from: None,
            })
        } else {
            None
        };
        Ok(Self {
            lake: source
                .as_ref()
                .map_or_else(|| PathBuf::from(&a.lake), |s| s.to.clone()),
            source,
            plan,
            columns: column_names(&a.scoring),
            out: a.out.clone(),
            report: a.report.clone(),
            metrics_file: a.metrics_file.clone(),
            threads: a.threads,
            page_decoder: !a.arrow_decoder,
            symlinks: if a.follow_symlinks {
                Symlinks::FollowOutside
            } else {
                Symlinks::Skip
            },
        })
    }
}

/// The plan of `variants` at `as_of_ns` under the shared scoring settings.
pub fn scoring_plan(
    as_of_ns: i64,
    variants: Vec<Variant>,
    a: &ScoringArgs,
) -> Result<ScoringPlan, UsageError> {
    ScoringPlan::new(
        as_of_ns,
        variants,
        a.window,
        a.max_window,
        a.min_items.map(|m| m as usize),
        a.top as usize,
    )
    .map_err(|e| UsageError(e.to_string()))
}

/// The column names of the shared scoring settings.
pub fn column_names(a: &ScoringArgs) -> ColumnNames {
    ColumnNames {
        item: a.item_column.clone(),
        ts: a.ts_column.clone(),
        quantity: a.quantity_column.clone(),
    }
}

/// Named variants `NAME=HALF_LIFE` (half-lives in ns).
pub fn named_variants(given: &[(String, i64)]) -> Result<Vec<Variant>, UsageError> {
    given
        .iter()
        .map(|(n, h)| Variant::from_half_life(n.clone(), *h as f64 / 1e9))
        .collect::<Result<_, _>>()
        .map_err(|e| UsageError(e.to_string()))
}

/// What a compute produced.
pub struct Computed {
    /// Per category outcomes.
    pub outcomes: Vec<CategoryOutcome>,
    /// The report.
    pub report: RunReport,
}

/// Runs a compute and writes its outputs.
pub fn run(opts: &ComputeOptions) -> Result<Computed> {
    let pool = thread_pool(opts.threads)?;
    let threads = pool.current_num_threads();
    let started = Instant::now();
    let mut sync_s = None;
    if let Some(source) = &opts.source {
        let report = super::sync::run_sync(source, AddressingStyle::Auto)?;
        sync_s = Some(report.seconds);
    }
    let bar = rows_bar("scoring", None);
    let scan_opts = ScanOptions {
        columns: opts.columns.clone(),
        page_decoder: opts.page_decoder,
        symlinks: opts.symlinks,
        ..ScanOptions::default()
    };
    let scanned = pool
        .install(|| scan_lake(&opts.lake, &scan_opts, &opts.plan, &|rows| bar.inc(rows)))
        .with_context(|| format!("cannot compute the lake {}", opts.lake.display()))?;
    bar.finish_and_clear();
    let write_started = Instant::now();
    write_results(
        &opts.out,
        &RunResults {
            plan: &opts.plan,
            outcomes: &scanned.outcomes,
        },
    )?;
    let s = &scanned.stats;
    let mut stages = vec![
        ("discover".to_string(), s.discover_s),
        ("plan".to_string(), s.plan_s),
        ("scan".to_string(), s.scan_s),
        ("write".to_string(), write_started.elapsed().as_secs_f64()),
        ("total".to_string(), started.elapsed().as_secs_f64()),
    ];
    if let Some(s) = sync_s {
        stages.insert(0, ("sync".to_string(), s));
    }
    let finished = now_ns();
    let report = RunReport::new(
        &opts.plan,
        &scanned.outcomes,
        scanned.stats.clone(),
        threads,
        &opts.lake,
        stages,
        finished,
    );
    if let Some(path) = &opts.report {
        report.write_json(path)?;
    }
    if let Some(path) = &opts.metrics_file {
        report.write_metrics(path, opts.plan.as_of_ns, finished)?;
    }
    tracing::info!(
        rows = report.rows.scanned,
        counted = report.rows.counted,
        skipped = report.rows.skipped.null_item_id + report.rows.skipped.null_ts + report.rows.skipped.quantity_not_positive,
        categories = report.categories_scored,
        omitted = report.categories_omitted.len(),
        files = s.files_read,
        row_groups_pruned = s.row_groups_pruned,
        seconds = format!("{:.3}", started.elapsed().as_secs_f64()),
        peak_rss_mb = report.peak_rss_bytes / (1 << 20),
        out = %opts.out.display(),
        "compute done"
    );
    Ok(Computed {
        outcomes: scanned.outcomes,
        report,
    })
}
