//! `topsellers ingest`: newline-delimited JSON purchase events → the lake.

use std::path::Path;

use anyhow::{anyhow, Context, Result};
use topsellers_ingest::IngestError;
use topsellers_ingest::{
    ingest, Destination, FieldNames, IngestOptions, IngestReport, Input, S3Destination,
};
use topsellers_lake::{write_atomically, ItemKind};
use topsellers_s3::{S3Location, UploadTuning, MIN_PART_SIZE};

use super::sync::style;
use super::{thread_pool, UsageError};
use crate::cli::{IdType, IngestArgs};
use crate::progress::rows_bar;

fn field_list(flag: &str, names: &[String]) -> Result<Vec<String>, UsageError> {
    let names: Vec<String> = names.iter().map(|n| n.trim().to_string()).collect();
    if names.is_empty() || names.iter().any(String::is_empty) {
        return Err(UsageError(format!(
            "{flag} needs one or more field names, comma-separated"
        )));
    }
    Ok(names)
}

/// Where `--lake` points: a folder, or a prefix in S3 with the upload flags.
fn destination(a: &IngestArgs) -> Result<Destination, UsageError> {
    let text = a.lake.to_string_lossy();
    if !S3Location::is_s3(&text) {
        return Ok(Destination::Local(a.lake.clone()));
    }
    let location = S3Location::parse(&text).map_err(|e| UsageError(format!("--lake {e}")))?;
    if a.part_size < MIN_PART_SIZE {
        return Err(UsageError(format!(
            "--part-size must be at least {MIN_PART_SIZE} bytes (5 MiB, S3's smallest part), got {}",
            a.part_size
        )));
    }
    if a.upload_concurrency == 0 {
        return Err(UsageError("--upload-concurrency must be at least 1".into()));
    }
    Ok(Destination::S3(S3Destination {
        location,
        staging_dir: a.staging_dir.clone(),
        style: style(a.path_style),
        tuning: UploadTuning {
            multipart_threshold: a.multipart_threshold,
            part_size: a.part_size,
            concurrency: a.upload_concurrency,
        },
    }))
}

/// Validates `ingest`'s arguments.
pub fn options(a: &IngestArgs) -> Result<IngestOptions, UsageError> {
    if !(0.0..=1.0).contains(&a.max_bad_fraction) {
        return Err(UsageError(format!(
            "--max-bad-fraction must be within 0..1, got {}",
            a.max_bad_fraction
        )));
    }
    if a.row_group_rows == 0 || a.max_buffered_rows == 0 {
        return Err(UsageError(
            "--row-group-rows and --max-buffered-rows must be at least 1".into(),
        ));
    }
    let inputs: Vec<Input> = a
        .inputs
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                Input::Stdin
            } else {
                Input::File(p.clone())
            }
        })
        .collect();
    if inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
        return Err(UsageError(
            "standard input (-) can be read only once".into(),
        ));
    }
    Ok(IngestOptions {
        destination: destination(a)?,
        inputs,
        quarantine: a.quarantine.clone(),
        max_bad_fraction: a.max_bad_fraction,
        fields: FieldNames {
            item: field_list("--item-field", &a.item_field)?,
            category: field_list("--category-field", &a.category_field)?,
            time: field_list("--time-field", &a.time_field)?,
            quantity: field_list("--quantity-field", &a.quantity_field)?,
        },
        id_type: a.id_type.map(|t| match t {
            IdType::Int => ItemKind::Int,
            IdType::String => ItemKind::Str,
        }),
        row_group_rows: usize::try_from(a.row_group_rows).unwrap_or(usize::MAX),
        max_buffered_rows: usize::try_from(a.max_buffered_rows).unwrap_or(usize::MAX),
        stale_temp_grace: std::time::Duration::from_nanos(a.stale_temp_grace.unsigned_abs()),
        ..IngestOptions::default()
    })
}

fn write_report(path: &Path, report: &IngestReport) -> Result<()> {
    let json = report.to_json();
    write_atomically(path, |w| {
        w.write_all(json.as_bytes())
            .and_then(|()| w.write_all(b"\n"))
            .map_err(|e| e.to_string())
    })
    .with_context(|| format!("cannot write the report {}", path.display()))
}

/// Runs `ingest`.
pub fn run(a: &IngestArgs) -> Result<()> {
    let opts = options(a)?;
    let pool = thread_pool(a.threads)?;
    let bar = rows_bar("ingesting", None);
    let outcome = pool.install(|| ingest(&opts, &|lines| bar.inc(lines)));
    bar.finish_and_clear();
    match outcome {
        Ok(report) => {
            if let Some(path) = &a.report {
                write_report(path, &report)?;
            }
            // Each file and rollback is logged as it goes; the total once.
            if report.stale_temps_removed > 0 || report.rolled_back_objects > 0 {
                tracing::info!(
                    stale_temps_removed = report.stale_temps_removed,
                    stale_temp_bytes_removed = report.stale_temp_bytes_removed,
                    rolled_back_objects = report.rolled_back_objects,
                    "cleaned up after killed runs"
                );
            }
            if report.bad_lines > 0 {
                tracing::warn!(
                    bad = report.bad_lines,
                    quarantine = report.quarantine.as_deref().unwrap_or("-"),
                    "bad lines quarantined"
                );
            }
            tracing::info!(
                events = report.events_written,
                files = report.files_written,
                partitions = report.partitions_written,
                bad = report.bad_lines,
                seconds = format!("{:.2}", report.seconds),
                events_per_s = format!("{:.0}", report.events_per_s),
                objects = report.upload.as_ref().map_or(0, |u| u.objects.len()),
                lake = %opts.destination,
                "ingested"
            );
            Ok(())
        }
        Err(IngestError::TooManyBad { report }) => {
            if let Some(path) = &a.report {
                write_report(path, &report)?;
            }
            Err(anyhow!(IngestError::TooManyBad { report }))
        }
        Err(e) => Err(e).with_context(|| format!("cannot ingest into {}", opts.destination)),
    }
}
