//! `topsellers demo`: the whole computation on a generated lake, no services.

use std::fmt::Write as _;

use anyhow::Result;
use topsellers_engine::{CategoryOutcome, ScoringPlan, Variant};
use topsellers_lake::gen::{generate, GenOptions, Layout};
use topsellers_lake::ColumnNames;

use super::compute::{self, ComputeOptions};
use crate::cli::DemoArgs;
use crate::progress::rows_bar;

const DAY_NS: i64 = 86_400_000_000_000;

/// Runs the demo.
pub fn run(a: &DemoArgs) -> Result<()> {
    let lake = a.dir.join("lake");
    let gen = GenOptions {
        purchases: a.purchases,
        categories: 60,
        days: 60,
        layout: Layout::CategoryDay,
        quantity: true,
        ..GenOptions::default()
    };
    if lake.exists() {
        tracing::info!(lake = %lake.display(), "reusing the demo lake");
    } else {
        let bar = rows_bar("generating", Some(gen.purchases));
        let s = generate(&lake, &gen, &|rows| bar.inc(rows))?;
        bar.finish_and_clear();
        tracing::info!(rows = s.rows, files = s.files, lake = %lake.display(), "demo lake generated");
    }
    let plan = ScoringPlan::new(
        gen.end_us * 1_000,
        vec![
            Variant::from_half_life("default", 7.0 * 86_400.0)?,
            Variant::from_half_life("fast", 86_400.0)?,
        ],
        30 * DAY_NS,
        365 * DAY_NS,
        None,
        100,
    )?;
    let opts = ComputeOptions {
        lake: lake.clone(),
        source: None,
        plan,
        columns: ColumnNames::default(),
        out: a.dir.join("results.csv"),
        report: Some(a.dir.join("report.json")),
        metrics_file: Some(a.dir.join("topsellers.prom")),
        threads: None,
        page_decoder: true,
        symlinks: topsellers_lake::Symlinks::Skip,
    };
    let done = compute::run(&opts)?;
    print!("{}", summary(&opts, &done.outcomes, &done.report));
    Ok(())
}

fn summary(
    opts: &ComputeOptions,
    outcomes: &[CategoryOutcome],
    report: &topsellers_lake::RunReport,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nTop sellers as of {} (variant \"default\", half-life 7d; window grows from 30d up to 365d)\n",
        report.as_of
    );
    let mut scored: Vec<&CategoryOutcome> =
        outcomes.iter().filter(|o| o.scored.is_some()).collect();
    scored.sort_by_key(|o| std::cmp::Reverse(o.counts.scanned));
    let dense = scored.iter().take(2);
    let sparse = scored.iter().rev().take(2);
    for o in dense.chain(sparse) {
        let Some(sc) = &o.scored else { continue };
        let _ = writeln!(
            s,
            "{}: window {}d, {} purchases counted, {} items",
            o.category,
            sc.window_ns / DAY_NS,
            sc.counted,
            sc.distinct_items
        );
        let _ = writeln!(s, "  {:>4}  {:>14}  {:>12}", "rank", "item_id", "score");
        for (rank, r) in sc.top[0].iter().take(5).enumerate() {
            let _ = writeln!(
                s,
                "  {:>4}  {:>14}  {:>12.4}",
                rank + 1,
                r.item.to_string(),
                r.score
            );
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "{} categories scored ({} rows in {:.2} s, peak memory {} MB).",
        report.categories_scored,
        report.rows.scanned,
        report
            .stages_s
            .iter()
            .find(|(n, _)| n == "total")
            .map_or(0.0, |t| t.1),
        report.peak_rss_bytes / (1 << 20)
    );
    let _ = writeln!(s, "Full results: {}", opts.out.display());
    if let Some(r) = &opts.report {
        let _ = writeln!(s, "Run report:   {}", r.display());
    }
    if let Some(m) = &opts.metrics_file {
        let _ = writeln!(s, "Metrics:      {}", m.display());
    }
    s
}
