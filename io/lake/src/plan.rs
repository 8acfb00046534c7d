//! Planning a scan: which row groups and pages of each file to decode, in
//! which pass.
//!
//! # Design
//!
//! The adaptive window reads in two passes. The *first* pass decodes every
//! page that can hold a purchase inside the base window W (by the `ts`
//! statistics of the row group and, when the file has a page index, of each
//! page). That is enough to know each category's distinct items under W
//! exactly. Only a category that has fewer than `min_items` of them needs
//! the *second* pass, which decodes the remaining pages up to W_max — pages
//! the first pass did not read, so no row is ever decoded twice. Dense
//! categories, which hold almost all the data, never pay for the long
//! lookback that sparse ones need. Pages and row groups wholly outside
//! `(as_of − W_max, as_of]` are never read.

use std::path::{Path, PathBuf};

use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, RowSelection, RowSelector,
};
use parquet::errors::ParquetError;
use parquet::file::metadata::{PageIndexPolicy, ParquetMetaData};
use parquet::file::page_index::column_index::ColumnIndexMetaData;
use parquet::file::page_index::offset_index::PageLocation;
use parquet::file::statistics::Statistics;
use topsellers_engine::ScoringPlan;

use crate::columns::{resolve, ColumnNames, ResolvedColumns};
use crate::contain::contain_panic;
use crate::error::LakeError;
use crate::mmap::map_file;

/// The time ranges that matter, in nanoseconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Horizon {
    /// Purchases after this never count.
    pub as_of: i64,
    /// Purchases at or before this are outside the base window.
    pub inner_cutoff: i64,
    /// Purchases at or before this are outside every window.
    pub cutoff: i64,
}

impl Horizon {
    pub fn new(plan: &ScoringPlan) -> Self {
        let as_of = plan.as_of_ns;
        Self {
            as_of,
            inner_cutoff: as_of.saturating_sub(plan.windows.windows_ns()[0]),
            cutoff: as_of.saturating_sub(plan.windows.max_ns()),
        }
    }

    /// Where a block of rows with times in `[min, max]` (in ns) belongs.
    fn classify(&self, min: i64, max: i64) -> Pass {
        if max <= self.cutoff || min > self.as_of {
            Pass::Skip
        } else if max > self.inner_cutoff {
            Pass::First
        } else {
            Pass::Second
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pass {
    Skip,
    First,
    Second,
}

/// Rows of one row group to decode in one pass.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// Nothing.
    Nothing,
    /// The whole row group.
    All,
    /// Some pages.
    Pages(RowSelection),
}

impl Part {
    /// Rows this part decodes, out of `total`.
    pub fn rows(&self, total: u64) -> u64 {
        match self {
            Part::Nothing => 0,
            Part::All => total,
            Part::Pages(s) => s.row_count() as u64,
        }
    }

    /// The row selection to hand the reader (`None` = every row).
    pub fn selection(&self) -> Option<&RowSelection> {
        match self {
            Part::Pages(s) => Some(s),
            _ => None,
        }
    }
}

/// The plan of one row group.
#[derive(Debug, Clone)]
pub(crate) struct RowGroupPlan {
    pub index: usize,
    pub rows: u64,
    /// Compressed bytes of the projected column chunks.
    pub bytes: u64,
    pub first: Part,
    pub second: Part,
}

/// The plan of one file.
pub(crate) struct FilePlan {
    pub path: PathBuf,
    pub meta: ArrowReaderMetadata,
    pub cols: ResolvedColumns,
    /// Row groups with anything to read (the others are pruned).
    pub row_groups: Vec<RowGroupPlan>,
    /// Rows in the file.
    pub rows: u64,
    /// Bytes in the file.
    pub size: u64,
}

/// Maps a file, reads its footer and page index, resolves the columns and
/// decides what each pass reads.
pub(crate) fn plan_file(
    path: &Path,
    names: &ColumnNames,
    horizon: Horizon,
) -> Result<FilePlan, LakeError> {
    // SAFETY: lake files are immutable while a run reads them (see `map_file`).
    let bytes = unsafe { map_file(path) }?;
    let options = ArrowReaderOptions::new()
        .with_skip_arrow_metadata(true)
        .with_page_index_policy(PageIndexPolicy::Optional);
    let not_parquet = |error| LakeError::NotParquet {
        path: path.to_path_buf(),
        error,
    };
    let meta = contain_panic(
        || ArrowReaderMetadata::load(&bytes, options).map_err(not_parquet),
        |m| {
            not_parquet(ParquetError::General(format!(
                "the footer is corrupt ({m})"
            )))
        },
    )?;
    let cols = resolve(path, names, meta.schema(), meta.parquet_schema())?;
    let md = meta.metadata();
    check_chunks(path, md, &cols.leaves, bytes.len() as u64)?;
    let mut row_groups = Vec::new();
    for rg in 0..md.num_row_groups() {
        let rg_md = md.row_group(rg);
        let rows = rg_md.num_rows().max(0) as u64;
        let chunk_bytes = cols
            .leaves
            .iter()
            .map(|&leaf| rg_md.column(leaf).compressed_size().max(0) as u64)
            .sum();
        let stats = match (
            cols.ts_stats_unit_ns,
            rg_md.column(cols.ts_leaf).statistics(),
        ) {
            (Some(unit), Some(Statistics::Int64(s))) => match (s.min_opt(), s.max_opt()) {
                (Some(&min), Some(&max)) => {
                    Some((min.saturating_mul(unit), max.saturating_mul(unit)))
                }
                _ => None,
            },
            _ => None,
        };
        let (first, second) = match stats.map(|(min, max)| horizon.classify(min, max)) {
            // No usable statistics: read everything in the first pass.
            None => (Part::All, Part::Nothing),
            Some(Pass::Skip) => continue,
            // Wholly inside the base window (nothing after `as_of` either):
            // every page, a page of nulls included, goes to the first pass,
            // so there is nothing to split and no page header to read.
            Some(Pass::First)
                if stats.is_some_and(|(min, max)| {
                    horizon.classify(min, min) == Pass::First
                        && horizon.classify(max, max) == Pass::First
                }) =>
            {
                (Part::All, Part::Nothing)
            }
            Some(pass) => {
                split_pages(&meta, &bytes, &cols, rg, rows, horizon).unwrap_or(match pass {
                    Pass::First => (Part::All, Part::Nothing),
                    _ => (Part::Nothing, Part::All),
                })
            }
        };
        row_groups.push(RowGroupPlan {
            index: rg,
            rows,
            bytes: chunk_bytes,
            first,
            second,
        });
    }
    let rows = md.file_metadata().num_rows().max(0) as u64;
    let size = bytes.len() as u64;
    Ok(FilePlan {
        size,
        path: path.to_path_buf(),
        meta,
        cols,
        row_groups,
        rows,
    })
}

/// Splits a row group's pages between the passes using the page index,
/// or, without one, the time column's page headers (see [`headers`]).
/// `None` when the file has neither.
fn split_pages(
    meta: &ArrowReaderMetadata,
    bytes: &[u8],
    cols: &ResolvedColumns,
    rg: usize,
    rows: u64,
    horizon: Horizon,
) -> Option<(Part, Part)> {
    let unit = cols.ts_stats_unit_ns?;
    let pages =
        indexed_pages(meta, cols, rg, rows).or_else(|| header_pages(meta, bytes, cols, rg))?;
    if pages.iter().map(|p| p.0).sum::<u64>() != rows {
        return None;
    }
    let mut first = Selectors::default();
    let mut second = Selectors::default();
    for (n, min_max) in pages {
        let pass = match min_max {
            Some((min, max)) => {
                horizon.classify(min.saturating_mul(unit), max.saturating_mul(unit))
            }
            // An all-null page: its rows are skipped rows, counted in the first pass.
            None => Pass::First,
        };
        let n = n as usize;
        first.push(n, pass == Pass::First);
        second.push(n, pass == Pass::Second);
    }
    Some((first.finish(), second.finish()))
}

/// Rows and raw time bounds of each page of the time column.
type TimePages = Vec<(u64, Option<(i64, i64)>)>;

/// The time column's pages per the page index.
fn indexed_pages(
    meta: &ArrowReaderMetadata,
    cols: &ResolvedColumns,
    rg: usize,
    rows: u64,
) -> Option<TimePages> {
    let md = meta.metadata();
    let index = md.page_index_for_row_group(rg);
    let Some(ColumnIndexMetaData::INT64(ci)) = index.column_index(cols.ts_leaf) else {
        return None;
    };
    let locations = index.offset_index(cols.ts_leaf)?.page_locations();
    if locations.len() != ci.num_pages() as usize {
        return None;
    }
    let pages = locations.iter().enumerate().map(|(p, loc)| {
        let start = loc.first_row_index.max(0) as u64;
        let end = locations
            .get(p + 1)
            .map_or(rows, |l| l.first_row_index.max(0) as u64);
        let min_max = ci.min_value(p).copied().zip(ci.max_value(p).copied());
        (end.saturating_sub(start), min_max)
    });
    Some(pages.collect())
}

/// Refuses a file whose footer places a chunk of the columns read before
/// the file's start or past its end: the `parquet` crate asserts on
/// negative offsets (a panic, not an error) and would read out of range.
fn check_chunks(
    path: &Path,
    md: &ParquetMetaData,
    leaves: &[usize],
    file_len: u64,
) -> Result<(), LakeError> {
    for (rg, rg_md) in md.row_groups().iter().enumerate() {
        for &leaf in leaves {
            let chunk = rg_md.column(leaf);
            let start = chunk
                .dictionary_page_offset()
                .unwrap_or(chunk.data_page_offset());
            let len = chunk.compressed_size();
            let fits = start >= 0
                && len >= 0
                && chunk.data_page_offset() >= 0
                && (start as u64)
                    .checked_add(len as u64)
                    .is_some_and(|end| end <= file_len);
            let column = chunk.column_path().string();
            let corrupt = |message: String| LakeError::Decode {
                path: path.to_path_buf(),
                row_group: rg,
                message: format!("column {column:?}: {message}"),
            };
            if !fits {
                return Err(corrupt(format!(
                    "the footer places its {len} bytes at offset {start}, \
                     outside the file's {file_len} bytes (a corrupt footer)"
                )));
            }
            if let Some(index) = md.page_index_for_row_group(rg).offset_index(leaf) {
                check_pages(index.page_locations(), start, start + len).map_err(corrupt)?;
            }
        }
    }
    Ok(())
}

/// Refuses an offset index whose pages leave their chunk `start..end` or
/// go back in row order: the page readers subtract these offsets without
/// checking them (found by fuzzing).
fn check_pages(pages: &[PageLocation], start: i64, end: i64) -> Result<(), String> {
    let mut first_row = 0;
    for (i, p) in pages.iter().enumerate() {
        let size = i64::from(p.compressed_page_size);
        let inside =
            p.offset >= start && size >= 0 && p.offset.checked_add(size).is_some_and(|e| e <= end);
        if !inside || p.first_row_index < first_row {
            return Err(format!(
                "page {i} of the offset index (offset {}, {size} bytes, first row {}) does not \
                 lie within its chunk (bytes {start}..{end}) in row order (a corrupt page index)",
                p.offset, p.first_row_index
            ));
        }
        first_row = p.first_row_index;
    }
    Ok(())
}

/// The time column's pages per their headers, for files without a page
/// index: used only when every page carries its statistics.
fn header_pages(
    meta: &ArrowReaderMetadata,
    bytes: &[u8],
    cols: &ResolvedColumns,
    rg: usize,
) -> Option<TimePages> {
    let chunk = meta.metadata().row_group(rg).column(cols.ts_leaf);
    if chunk.column_descr().physical_type() != parquet::basic::Type::INT64 {
        return None;
    }
    let (start, len) = chunk.byte_range();
    let start = usize::try_from(start).ok()?;
    let end = start.checked_add(usize::try_from(len).ok()?)?;
    let pages = headers::int64_pages(bytes.get(start..end)?)?;
    // A header without statistics may belong to a page of nulls only or to
    // a writer that wrote none: not knowing which, prune nothing.
    if pages.iter().any(|p| p.min_max.is_none()) {
        return None;
    }
    Some(pages.iter().map(|p| (p.rows, p.min_max)).collect())
}

#[derive(Default)]
struct Selectors {
    list: Vec<RowSelector>,
    selected: usize,
    total: usize,
}

impl Selectors {
    fn push(&mut self, n: usize, select: bool) {
        self.total += n;
        if select {
            self.selected += n;
        }
        match self.list.last_mut() {
            Some(last) if last.skip != select => last.row_count += n,
            _ => self.list.push(if select {
                RowSelector::select(n)
            } else {
                RowSelector::skip(n)
            }),
        }
    }

    fn finish(self) -> Part {
        if self.selected == 0 {
            Part::Nothing
        } else if self.selected == self.total {
            Part::All
        } else {
            Part::Pages(RowSelection::from(self.list))
        }
    }
}

mod headers;

#[cfg(test)]
mod tests;
