//! `topsellers sync`: S3 prefix → local folder, incremental and atomic.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use topsellers_s3::{client, sync, AddressingStyle, S3Location, SyncOptions, SyncReport};

use super::UsageError;
use crate::cli::{PathStyle, SyncArgs};
use crate::progress::bytes_bar;

/// Validates `sync`'s arguments.
pub fn options(a: &SyncArgs) -> Result<SyncOptions, UsageError> {
    let from = S3Location::parse(&a.from).map_err(|e| UsageError(format!("--from {e}")))?;
    let oldest_ns = match a.horizon {
        Some(h) => {
            let as_of = match &a.as_of {
                Some(t) => topsellers_lake::parse_rfc3339(t)
                    .map_err(|e| UsageError(format!("--as-of: {e}")))?,
                None => chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX),
            };
            Some(as_of.saturating_sub(h))
        }
        None => None,
    };
    if a.concurrency == 0 {
        return Err(UsageError("--concurrency must be at least 1".into()));
    }
    Ok(SyncOptions {
        from,
        to: a.to.clone(),
        oldest_ns,
        delete: a.delete,
        dry_run: a.dry_run,
        concurrency: a.concurrency,
        part_size: a.part_size,
        recent_from: None,
    })
}

/// The addressing style a flag asks for.
pub fn style(p: PathStyle) -> AddressingStyle {
    match p {
        PathStyle::Auto => AddressingStyle::Auto,
        PathStyle::Path => AddressingStyle::Path,
        PathStyle::Virtual => AddressingStyle::Virtual,
    }
}

/// Runs a sync on a fresh runtime (the rest of the program is synchronous).
pub fn run_sync(opts: &SyncOptions, style: AddressingStyle) -> Result<SyncReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")?;
    let bar = bytes_bar("syncing");
    let report = runtime.block_on(async {
        let client = client(style).await;
        sync(&client, opts, &|n| bar.inc(n)).await
    });
    bar.finish_and_clear();
    let report =
        report.with_context(|| format!("cannot sync {} to {}", opts.from, opts.to.display()))?;
    tracing::info!(
        source = %report.source,
        listed = report.listed,
        new = report.new.len(),
        changed = report.changed.len(),
        unchanged = report.unchanged,
        deleted = report.deleted.len(),
        skipped_by_horizon = report.skipped_by_horizon,
        mb = report.bytes_downloaded / (1 << 20),
        seconds = format!("{:.2}", report.seconds),
        dry_run = report.dry_run,
        "sync done"
    );
    Ok(report)
}

/// `topsellers sync`.
pub fn run(a: &SyncArgs) -> Result<()> {
    let opts = options(a)?;
    let report = run_sync(&opts, style(a.path_style))?;
    if opts.dry_run {
        for f in &report.new {
            println!("new      {f}");
        }
        for f in &report.changed {
            println!("changed  {f}");
        }
        for f in &report.deleted {
            println!("delete   {f}");
        }
        println!(
            "{} new, {} changed, {} to delete, {} unchanged, {} skipped by the horizon",
            report.new.len(),
            report.changed.len(),
            report.deleted.len(),
            report.unchanged,
            report.skipped_by_horizon
        );
    }
    if let Some(path) = &a.report {
        write_json(path, &report)?;
    }
    Ok(())
}

fn write_json(path: &Path, report: &SyncReport) -> Result<()> {
    topsellers_lake::write_atomically(path, |w| {
        serde_json::to_writer_pretty(&mut *w, report).map_err(|e| e.to_string())
    })?;
    Ok(())
}

/// The local cache folder of an S3 lake.
pub fn cache_folder(cache_dir: &Path, from: &S3Location) -> PathBuf {
    cache_dir
        .join(&from.bucket)
        .join(from.prefix.trim_end_matches('/'))
}
