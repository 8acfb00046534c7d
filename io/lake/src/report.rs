//! The run report (JSON) and the same figures as Prometheus text-format
//! metrics for node_exporter's textfile collector.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use topsellers_engine::{CategoryOutcome, RowCounts, ScoringPlan};

use crate::error::LakeError;
use crate::output::write_atomically;
use crate::scan::ScanStats;
use crate::timefmt::rfc3339;

/// One variant's parameters.
#[derive(Debug, Serialize)]
pub struct VariantReport {
    /// Name.
    pub name: String,
    /// Half-life in seconds.
    pub half_life_s: f64,
    /// Decay rate per day.
    pub lambda_per_day: f64,
}

/// The run's parameters.
#[derive(Debug, Serialize)]
pub struct Parameters {
    /// Variants.
    pub variants: Vec<VariantReport>,
    /// Base window, seconds.
    pub window_s: i64,
    /// Largest window, seconds.
    pub max_window_s: i64,
    /// Candidate windows, seconds.
    pub candidate_windows_s: Vec<i64>,
    /// Distinct items a window needs.
    pub min_items: usize,
    /// Items kept per (variant, category).
    pub top: usize,
    /// Worker threads.
    pub threads: usize,
    /// The lake root.
    pub lake: String,
}

/// One category's figures.
#[derive(Debug, Serialize)]
pub struct CategoryReport {
    /// Category.
    pub category: String,
    /// Window used, seconds (`None` when omitted).
    pub window_s: Option<i64>,
    /// Purchases counted under that window.
    pub counted: u64,
    /// Distinct items under that window.
    pub distinct_items: usize,
    /// Rows read for the category.
    pub rows_scanned: u64,
}

/// Rows skipped, by reason.
#[derive(Debug, Serialize)]
pub struct Skipped {
    /// Null item id.
    pub null_item_id: u64,
    /// Null purchase time.
    pub null_ts: u64,
    /// Quantity <= 0.
    pub quantity_not_positive: u64,
}

/// Row totals.
#[derive(Debug, Serialize)]
pub struct Rows {
    /// Rows read.
    pub scanned: u64,
    /// Rows counted under their category's window.
    pub counted: u64,
    /// Rows skipped as invalid.
    pub skipped: Skipped,
    /// Rows after `as_of` (not counted).
    pub after_as_of: u64,
    /// Rows older than the largest window (not counted).
    pub before_max_window: u64,
    /// Rows inside the largest window but outside their category's window.
    pub outside_category_window: u64,
}

/// The whole run report.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// Reference time.
    pub as_of: String,
    /// When the run finished.
    pub computed_at: String,
    /// Parameters.
    pub parameters: Parameters,
    /// Row totals.
    pub rows: Rows,
    /// Categories with results.
    pub categories_scored: usize,
    /// Categories without any counted purchase (left out of the results).
    pub categories_omitted: Vec<String>,
    /// Per category figures.
    pub categories: Vec<CategoryReport>,
    /// File, row-group and byte counters.
    pub scan: ScanStats,
    /// Seconds per stage.
    pub stages_s: Vec<(String, f64)>,
    /// Peak resident memory of the process, bytes.
    pub peak_rss_bytes: u64,
}

impl RunReport {
    /// Builds the report of a run.
    pub fn new(
        plan: &ScoringPlan,
        outcomes: &[CategoryOutcome],
        scan: ScanStats,
        threads: usize,
        lake: &Path,
        stages_s: Vec<(String, f64)>,
        computed_at_ns: i64,
    ) -> Self {
        let mut total = RowCounts::default();
        let mut counted = 0;
        let mut categories = Vec::with_capacity(outcomes.len());
        let mut omitted = Vec::new();
        for o in outcomes {
            total += o.counts;
            if o.scored.is_none() {
                omitted.push(o.category.clone());
            }
            let s = o.scored.as_ref();
            counted += s.map_or(0, |s| s.counted);
            categories.push(CategoryReport {
                category: o.category.clone(),
                window_s: s.map(|s| s.window_ns / 1_000_000_000),
                counted: s.map_or(0, |s| s.counted),
                distinct_items: s.map_or(0, |s| s.distinct_items),
                rows_scanned: o.counts.scanned,
            });
        }
        let secs = |ns: i64| ns / 1_000_000_000;
        Self {
            as_of: rfc3339(plan.as_of_ns),
            computed_at: rfc3339(computed_at_ns),
            parameters: Parameters {
                variants: plan
                    .variants
                    .iter()
                    .map(|v| VariantReport {
                        name: v.name.clone(),
                        half_life_s: v.half_life_secs(),
                        lambda_per_day: v.lambda_per_sec * 86_400.0,
                    })
                    .collect(),
                window_s: secs(plan.windows.windows_ns()[0]),
                max_window_s: secs(plan.windows.max_ns()),
                candidate_windows_s: plan.windows.windows_ns().iter().map(|&w| secs(w)).collect(),
                min_items: plan.min_items,
                top: plan.top,
                threads,
                lake: lake.display().to_string(),
            },
            rows: Rows {
                scanned: total.scanned,
                counted,
                skipped: Skipped {
                    null_item_id: total.null_item,
                    null_ts: total.null_ts,
                    quantity_not_positive: total.bad_quantity,
                },
                after_as_of: total.after_as_of,
                before_max_window: total.before_max_window,
                outside_category_window: total.in_max_window.saturating_sub(counted),
            },
            categories_scored: outcomes.len() - omitted.len(),
            categories_omitted: omitted,
            categories,
            scan,
            stages_s,
            peak_rss_bytes: peak_rss_bytes(),
        }
    }

    /// Writes the report as pretty JSON, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), LakeError> {
        write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, self).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(|e| e.to_string())
        })
    }

    /// The report as Prometheus text-format metrics.
    pub fn prometheus(&self, as_of_ns: i64, finished_ns: i64) -> String {
        let mut m = String::new();
        let mut metric = |name: &str, help: &str, kind: &str, samples: &[(&str, f64)]| {
            let _ = writeln!(
                m,
                "# HELP topsellers_{name} {help}\n# TYPE topsellers_{name} {kind}"
            );
            for (labels, v) in samples {
                let _ = writeln!(m, "topsellers_{name}{labels} {v}");
            }
        };
        let r = &self.rows;
        metric(
            "rows_scanned",
            "Rows read by the last compute.",
            "gauge",
            &[("", r.scanned as f64)],
        );
        metric(
            "rows_counted",
            "Rows counted under their category's window.",
            "gauge",
            &[("", r.counted as f64)],
        );
        metric(
            "rows_skipped",
            "Rows skipped as invalid, by reason.",
            "gauge",
            &[
                ("{reason=\"null_item_id\"}", r.skipped.null_item_id as f64),
                ("{reason=\"null_ts\"}", r.skipped.null_ts as f64),
                (
                    "{reason=\"quantity_not_positive\"}",
                    r.skipped.quantity_not_positive as f64,
                ),
            ],
        );
        metric(
            "rows_not_counted",
            "Valid rows outside the windows, by reason.",
            "gauge",
            &[
                ("{reason=\"after_as_of\"}", r.after_as_of as f64),
                ("{reason=\"before_max_window\"}", r.before_max_window as f64),
                (
                    "{reason=\"outside_category_window\"}",
                    r.outside_category_window as f64,
                ),
            ],
        );
        metric(
            "categories",
            "Categories of the last compute, by state.",
            "gauge",
            &[
                ("{state=\"scored\"}", self.categories_scored as f64),
                ("{state=\"omitted\"}", self.categories_omitted.len() as f64),
            ],
        );
        let s = &self.scan;
        metric(
            "files",
            "Lake files read; dt= partitions skipped whole.",
            "gauge",
            &[
                ("{state=\"read\"}", s.files_read as f64),
                ("{state=\"partitions_pruned\"}", s.partitions_pruned as f64),
            ],
        );
        metric(
            "row_groups",
            "Row groups, by state.",
            "gauge",
            &[
                ("{state=\"read\"}", s.row_groups_read as f64),
                ("{state=\"pruned\"}", s.row_groups_pruned as f64),
            ],
        );
        metric(
            "units_decoded",
            "Work units (row groups per pass), by decoder: dictionary codes or the Arrow reader.",
            "gauge",
            &[
                ("{path=\"dictionary\"}", s.units_dictionary_path as f64),
                ("{path=\"arrow\"}", s.units_arrow_path as f64),
            ],
        );
        metric(
            "bytes_read",
            "Compressed column bytes decoded.",
            "gauge",
            &[("", s.bytes_read as f64)],
        );
        let stages: Vec<(String, f64)> = self
            .stages_s
            .iter()
            .map(|(name, v)| (format!("{{stage=\"{name}\"}}"), *v))
            .collect();
        let stages: Vec<(&str, f64)> = stages.iter().map(|(l, v)| (l.as_str(), *v)).collect();
        metric(
            "stage_seconds",
            "Seconds per stage of the last compute.",
            "gauge",
            &stages,
        );
        metric(
            "peak_rss_bytes",
            "Peak resident memory of the last compute.",
            "gauge",
            &[("", self.peak_rss_bytes as f64)],
        );
        metric(
            "as_of_timestamp_seconds",
            "as_of of the last compute.",
            "gauge",
            &[("", as_of_ns as f64 / 1e9)],
        );
        metric(
            "last_compute_timestamp_seconds",
            "When the last compute finished.",
            "gauge",
            &[("", finished_ns as f64 / 1e9)],
        );
        m
    }

    /// Writes the metrics file atomically (node_exporter never sees half a file).
    pub fn write_metrics(
        &self,
        path: &Path,
        as_of_ns: i64,
        finished_ns: i64,
    ) -> Result<(), LakeError> {
        let text = self.prometheus(as_of_ns, finished_ns);
        write_atomically(path, |w| {
            w.write_all(text.as_bytes()).map_err(|e| e.to_string())
        })
    }
}

/// Peak resident set size of this process (Linux `VmHWM`), 0 where unknown.
pub fn peak_rss_bytes() -> u64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// A sample's value in a Prometheus text file, `None` when absent.
pub fn previous_sample(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let value = rest.strip_prefix(' ')?;
        value.trim().parse().ok()
    })
}
