//! `topsellers gen`: a synthetic lake.

use std::time::Instant;

use anyhow::{Context, Result};
use topsellers_lake::gen::{generate, GenOptions, Layout};
use topsellers_lake::parse_rfc3339;

use super::{thread_pool, UsageError};
use crate::cli::{GenArgs, IdType, LayoutArg};
use crate::progress::rows_bar;

/// Validates `gen`'s arguments.
pub fn options(a: &GenArgs) -> Result<GenOptions, UsageError> {
    let end_ns = parse_rfc3339(&a.end).map_err(|e| UsageError(format!("--end: {e}")))?;
    if !(0.0..=1.0).contains(&a.sparse_fraction) {
        return Err(UsageError(format!(
            "--sparse-fraction must be within 0..1, got {}",
            a.sparse_fraction
        )));
    }
    if let Some(s) = a.top_category_share {
        if !(s > 0.0 && s < 1.0) {
            return Err(UsageError(format!(
                "--top-category-share must be within (0, 1), got {s}"
            )));
        }
    }
    if a.row_group_rows == 0 {
        return Err(UsageError("--row-group-rows must be at least 1".into()));
    }
    Ok(GenOptions {
        purchases: a.purchases,
        categories: a.categories as usize,
        days: a.days,
        layout: match a.layout {
            LayoutArg::Category => Layout::Category,
            LayoutArg::CategoryDt => Layout::CategoryDay,
        },
        string_ids: matches!(a.id_type, IdType::String),
        quantity: a.quantity,
        seed: a.seed,
        end_us: end_ns.div_euclid(1_000),
        sparse_fraction: a.sparse_fraction,
        top_category_share: a.top_category_share,
        row_group_rows: a.row_group_rows as usize,
        zstd_level: 1,
    })
}

/// Runs `gen`.
pub fn run(a: &GenArgs) -> Result<()> {
    let opts = options(a)?;
    let pool = thread_pool(a.threads)?;
    let started = Instant::now();
    let bar = rows_bar("generating", Some(opts.purchases));
    let summary = pool
        .install(|| generate(&a.out, &opts, &|rows| bar.inc(rows)))
        .with_context(|| format!("cannot generate a lake in {}", a.out.display()))?;
    bar.finish_and_clear();
    tracing::info!(
        rows = summary.rows,
        files = summary.files,
        mb = summary.bytes / (1 << 20),
        seconds = format!("{:.2}", started.elapsed().as_secs_f64()),
        lake = %a.out.display(),
        "lake generated"
    );
    Ok(())
}
