//! Scanning a local lake: discovery, partition and row-group pruning, and the
//! parallel, deterministic aggregation of every category.
//!
//! # Design
//!
//! 1. *Discover* the files (cheap directory walk) and drop `dt=` partitions
//!    wholly outside the largest window.
//! 2. *Plan*: in parallel, map each file, read its footer, resolve the
//!    columns, and drop row groups whose `ts` statistics lie wholly outside
//!    the largest window. The mapping is released right away; only the
//!    metadata is kept.
//! 3. *Scan*: categories run in parallel, and within a category its row groups
//!    run in parallel too ([`aggregate_units`]), so one huge category does not
//!    serialise the run. Each row group is mapped, decoded column by column and
//!    folded into an accumulator, then unmapped: resident memory stays bounded
//!    by the row groups in flight, never by the lake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection,
    RowSelector,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::statistics::Statistics;
use rayon::prelude::*;
use topsellers_engine::{
    aggregate_units, BytesInterner, CategoryOutcome, IntInterner, ScoringPlan,
};

use crate::columns::{resolve, ColumnNames, ItemKind, ResolvedColumns};
use crate::decode::{BatchColumns, DecodeKeys, Scratch};
use crate::discover::{discover, dt_range_ns, LakeFile};
use crate::error::IoError;
use crate::mmap::map_file;

/// How to read the lake.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Column names.
    pub columns: ColumnNames,
    /// Rows per decoded batch.
    pub batch_size: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            columns: ColumnNames::default(),
            batch_size: 64 * 1024,
        }
    }
}

/// What the scan read and skipped.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ScanStats {
    /// Data files found.
    pub files_found: u64,
    /// Files skipped because their `dt=` partition lies outside the largest window.
    pub files_pruned: u64,
    /// Files whose footer was read.
    pub files_read: u64,
    /// Row groups decoded.
    pub row_groups_read: u64,
    /// Row groups skipped by their `ts` statistics.
    pub row_groups_pruned: u64,
    /// Rows in the skipped row groups.
    pub rows_pruned: u64,
    /// Rows in pages skipped by the page index (inside row groups read).
    pub rows_pruned_by_page: u64,
    /// Compressed bytes of the column chunks decoded.
    pub bytes_read: u64,
    /// Size of every file found.
    pub bytes_found: u64,
    /// Seconds spent discovering files.
    pub discover_s: f64,
    /// Seconds spent reading footers and pruning.
    pub plan_s: f64,
    /// Seconds spent decoding and aggregating.
    pub scan_s: f64,
}

/// The scan's results.
#[derive(Debug)]
pub struct ScanOutput {
    /// The lake's item id type (`None` when no file was read).
    pub item_kind: Option<ItemKind>,
    /// One outcome per category found, sorted by category.
    pub outcomes: Vec<CategoryOutcome>,
    /// Counters.
    pub stats: ScanStats,
}

struct FilePlan {
    path: PathBuf,
    meta: ArrowReaderMetadata,
    cols: ResolvedColumns,
    /// Row groups to read, each with the pages to read when the page index
    /// lets some be skipped.
    row_groups: Vec<(usize, Option<RowSelection>)>,
}

#[derive(Clone)]
struct Unit {
    file: usize,
    row_group: usize,
    /// Pages to read, when some can be skipped.
    selection: Option<RowSelection>,
    rows: u64,
}

/// Scans the lake at `root` and scores every category under `plan`.
/// `progress` receives the number of rows of each finished row group.
pub fn scan_lake(
    root: &Path,
    opts: &ScanOptions,
    plan: &ScoringPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScanOutput, IoError> {
    let mut stats = ScanStats::default();
    let started = Instant::now();
    let files = discover(root)?;
    if files.is_empty() {
        return Err(IoError::EmptyLake {
            root: root.to_path_buf(),
        });
    }
    stats.files_found = files.len() as u64;
    stats.bytes_found = files.iter().map(|f| f.size).sum();
    let cutoff = plan.as_of_ns.saturating_sub(plan.windows.max_ns()); // counted iff ts > cutoff
    let live: Vec<&LakeFile> = files
        .iter()
        .filter(|f| match f.dt {
            Some(dt) => {
                let (start, end) = dt_range_ns(dt);
                end - 1 > cutoff && start <= plan.as_of_ns
            }
            None => true,
        })
        .collect();
    stats.files_pruned = (files.len() - live.len()) as u64;
    stats.discover_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let plans: Vec<FilePlan> = live
        .par_iter()
        .map(|f| plan_file(&f.path, &opts.columns, plan, cutoff))
        .collect::<Result<_, _>>()?;
    stats.files_read = plans.len() as u64;
    let mut kind: Option<(ItemKind, &Path)> = None;
    for p in &plans {
        match kind {
            None => kind = Some((p.cols.item_kind, &p.path)),
            Some((k, first)) if k != p.cols.item_kind => {
                return Err(IoError::MixedItemTypes {
                    path: p.path.clone(),
                    found: p.cols.item_kind.name(),
                    expected: k.name(),
                    first: first.to_path_buf(),
                })
            }
            Some(_) => {}
        }
    }
    // Units per category, in (path, row group) order: fixed by the lake, not
    // by the thread count.
    let mut categories: BTreeMap<&str, Vec<Unit>> = files
        .iter()
        .map(|f| (f.category.as_str(), Vec::new()))
        .collect();
    for (i, (file, p)) in live.iter().zip(&plans).enumerate() {
        let rg_meta = p.meta.metadata();
        let total = rg_meta.num_row_groups();
        stats.row_groups_pruned += (total - p.row_groups.len()) as u64;
        let mut kept = p.row_groups.iter().peekable();
        for rg in 0..total {
            let rg_md = rg_meta.row_group(rg);
            if let Some((_, selection)) = kept.next_if(|(k, _)| *k == rg) {
                stats.row_groups_read += 1;
                stats.bytes_read += p
                    .cols
                    .roots_leaves()
                    .map(|leaf| rg_md.column(leaf).compressed_size() as u64)
                    .sum::<u64>();
                let rows = rg_md.num_rows() as u64;
                stats.rows_pruned_by_page +=
                    rows - selection.as_ref().map_or(rows, |s| s.row_count() as u64);
                let unit = Unit {
                    file: i,
                    row_group: rg,
                    selection: selection.clone(),
                    rows,
                };
                categories
                    .get_mut(file.category.as_str())
                    .expect("every file's category is listed")
                    .push(unit);
            } else {
                stats.rows_pruned += rg_md.num_rows() as u64;
            }
        }
    }
    stats.plan_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let item_kind = kind.map(|(k, _)| k);
    let outcomes = categories
        .into_par_iter()
        .map(|(category, units)| match item_kind {
            Some(ItemKind::Str) => {
                scan_category::<BytesInterner>(category, &units, &plans, opts, plan, progress)
            }
            _ => scan_category::<IntInterner>(category, &units, &plans, opts, plan, progress),
        })
        .collect::<Result<Vec<_>, _>>()?;
    stats.scan_s = started.elapsed().as_secs_f64();
    Ok(ScanOutput {
        item_kind,
        outcomes,
        stats,
    })
}

impl ResolvedColumns {
    /// Leaf indices of the projected columns (the lake's columns are flat, so
    /// roots and leaves coincide by name; look them up to be safe).
    fn roots_leaves(&self) -> impl Iterator<Item = usize> + '_ {
        self.leaves.iter().copied()
    }
}

fn plan_file(
    path: &Path,
    names: &ColumnNames,
    plan: &ScoringPlan,
    cutoff: i64,
) -> Result<FilePlan, IoError> {
    // SAFETY: lake files are immutable while a run reads them (see `map_file`).
    let bytes = unsafe { map_file(path) }?;
    let options = ArrowReaderOptions::new()
        .with_skip_arrow_metadata(true)
        .with_page_index_policy(PageIndexPolicy::Optional);
    let meta =
        ArrowReaderMetadata::load(&bytes, options).map_err(|source| IoError::NotParquet {
            path: path.to_path_buf(),
            source,
        })?;
    let cols = resolve(path, names, meta.schema(), meta.parquet_schema())?;
    let md = meta.metadata();
    let outside = |min: i64, max: i64, unit: i64| {
        max.saturating_mul(unit) <= cutoff || min.saturating_mul(unit) > plan.as_of_ns
    };
    let row_groups = (0..md.num_row_groups())
        .filter(|&rg| {
            let Some(unit) = cols.ts_stats_unit_ns else {
                return true;
            };
            let Some(Statistics::Int64(s)) = md.row_group(rg).column(cols.ts_leaf).statistics()
            else {
                return true;
            };
            match (s.min_opt(), s.max_opt()) {
                (Some(&min), Some(&max)) => !outside(min, max, unit),
                _ => true,
            }
        })
        .map(|rg| (rg, page_selection(&meta, &cols, rg, &outside)))
        .collect();
    Ok(FilePlan {
        path: path.to_path_buf(),
        meta,
        cols,
        row_groups,
    })
}

/// Pages of the time column that lie wholly outside the window, as a row
/// selection (`None` when every page is needed or there is no page index).
/// Files fed in time order, as lakes are, skip most of their old pages.
fn page_selection(
    meta: &ArrowReaderMetadata,
    cols: &ResolvedColumns,
    rg: usize,
    outside: &impl Fn(i64, i64, i64) -> bool,
) -> Option<RowSelection> {
    let unit = cols.ts_stats_unit_ns?;
    let md = meta.metadata();
    let index = md.page_index_for_row_group(rg);
    let Some(ColumnIndexMetaData::INT64(ci)) = index.column_index(cols.ts_leaf) else {
        return None;
    };
    let locations = index.offset_index(cols.ts_leaf)?.page_locations();
    let rows = md.row_group(rg).num_rows() as usize;
    if locations.len() != ci.num_pages() as usize {
        return None;
    }
    let mut selectors: Vec<RowSelector> = Vec::with_capacity(locations.len());
    let mut skipped_any = false;
    for (p, loc) in locations.iter().enumerate() {
        let first = loc.first_row_index as usize;
        let end = locations
            .get(p + 1)
            .map_or(rows, |l| l.first_row_index as usize);
        let skip = match (ci.min_value(p), ci.max_value(p)) {
            (Some(&min), Some(&max)) => outside(min, max, unit),
            _ => false,
        };
        skipped_any |= skip;
        let n = end.saturating_sub(first);
        match selectors.last_mut() {
            Some(last) if last.skip == skip => last.row_count += n,
            _ => selectors.push(if skip {
                RowSelector::skip(n)
            } else {
                RowSelector::select(n)
            }),
        }
    }
    skipped_any.then(|| RowSelection::from(selectors))
}

fn scan_category<I: DecodeKeys>(
    category: &str,
    units: &[Unit],
    files: &[FilePlan],
    opts: &ScanOptions,
    plan: &ScoringPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CategoryOutcome, IoError> {
    let acc = aggregate_units::<I, IoError, _>(plan, units.len(), |u, acc| {
        let unit = &units[u];
        let file = &files[unit.file];
        decode_unit(
            file,
            unit.row_group,
            unit.selection.as_ref(),
            opts,
            plan,
            acc,
        )?;
        progress(unit.rows);
        Ok(())
    })?;
    Ok(acc.finish(plan, category.to_string()))
}

fn decode_unit<I: DecodeKeys>(
    file: &FilePlan,
    row_group: usize,
    selection: Option<&RowSelection>,
    opts: &ScanOptions,
    plan: &ScoringPlan,
    acc: &mut topsellers_engine::CategoryAccumulator<I>,
) -> Result<(), IoError> {
    let decode_err = |e: &dyn std::fmt::Display| IoError::Decode {
        path: file.path.clone(),
        row_group,
        message: e.to_string(),
    };
    // SAFETY: lake files are immutable while a run reads them (see `map_file`).
    let bytes = unsafe { map_file(&file.path) }?;
    let mask = ProjectionMask::roots(file.meta.parquet_schema(), file.cols.roots.iter().copied());
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(bytes, file.meta.clone())
        .with_projection(mask)
        .with_row_groups(vec![row_group])
        .with_batch_size(opts.batch_size);
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection.clone());
    }
    let reader = builder.build().map_err(|e| decode_err(&e))?;
    let mut scratch = Scratch::default();
    for batch in reader {
        let batch = batch.map_err(|e| decode_err(&e))?;
        let cols = BatchColumns::locate(&batch, &opts.columns, file.cols.ts_unit_ns)
            .ok_or_else(|| decode_err(&"projected columns missing from the decoded batch"))?;
        I::add_batch(acc, plan, &cols, &mut scratch, &file.path, row_group)?;
    }
    Ok(())
}
