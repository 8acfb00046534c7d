//! The decompression floor of a scan: the time to read and decompress just
//! the pages `compute` would decode, with no decoding at all.
//!
//! # Design
//!
//! The floor discovers and plans the lake with the scan's own code
//! ([`crate::plan`]): the same `dt=` pruning, the same row groups pruned by
//! their `ts` statistics, the same pages skipped by the page index (or,
//! without one, by the page headers' row counts, as the page decoder skips
//! them). Each
//! planned unit (a row group's pages of the first pass) then goes through the
//! parquet crate's page reader, column chunk by column chunk, for the
//! projected columns (item id, time, quantity when present): every page the
//! row selection keeps is read and decompressed, every other data page is
//! skipped unread, as the page decoder does (zstd pages with its per-thread
//! context, small units read rather than mapped, as it holds them). The
//! values are never decoded.
//! No Parquet engine can scan these rows faster, so `compute / floor` says
//! how much of a run is decoding and aggregating rather than bytes.
//!
//! Only the first pass is read: the second pass (the longer lookback of
//! sparse categories) depends on what the first one found. With a fixed
//! window (`--max-window` = `--window`) there is no second pass, and the
//! floor is exact; otherwise its rows are reported as not read.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use parquet::arrow::arrow_reader::RowSelection;
use parquet::column::page::PageReader;
use parquet::file::serialized_reader::SerializedPageReader;
use rayon::prelude::*;
use serde::Serialize;
use topsellers_engine::ScoringPlan;

use crate::chunks::{with_unit, UnitBytes};
use crate::columns::ColumnNames;
use crate::discover::{discover_window, Symlinks};
use crate::error::LakeError;
use crate::pages::column::header_rows;
use crate::pages::inflate::{inflate, raw_zstd};
use crate::pages::ranges;
use crate::plan::{plan_file, FilePlan, Horizon, Part, RowGroupPlan};

/// What the floor read.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FloorStats {
    /// Files whose footer was read.
    pub files: u64,
    /// Row groups read (units of the first pass).
    pub units: u64,
    /// Rows the first pass selects.
    pub rows: u64,
    /// Rows of the second pass, not read (see the module docs).
    pub rows_second_pass: u64,
    /// Pages read and decompressed (dictionary pages included).
    pub pages_read: u64,
    /// Data pages skipped unread: by the page index, or by their headers'
    /// row counts where the file has no index.
    pub pages_skipped: u64,
    /// Bytes of the column chunks read as stored, less the pages the page
    /// index skipped (a page skipped by its header alone still counts: the
    /// header does not give the page's size).
    pub compressed_bytes: u64,
    /// Bytes of the pages read after decompression.
    pub decompressed_bytes: u64,
    /// Seconds spent discovering files.
    pub discover_s: f64,
    /// Seconds spent reading footers and pruning.
    pub plan_s: f64,
    /// Seconds spent reading and decompressing pages.
    pub read_s: f64,
}

/// Counters of one unit, summed over units.
#[derive(Default, Clone, Copy)]
struct Read {
    pages_read: u64,
    pages_skipped: u64,
    compressed: u64,
    decompressed: u64,
}

impl Read {
    fn add(mut self, o: Self) -> Self {
        self.pages_read += o.pages_read;
        self.pages_skipped += o.pages_skipped;
        self.compressed += o.compressed;
        self.decompressed += o.decompressed;
        self
    }
}

/// Reads and decompresses, on the current rayon pool, the pages of the lake
/// at `root` that a scan under `plan` decodes in its first pass.
pub fn read_floor(
    root: &Path,
    columns: &ColumnNames,
    plan: &ScoringPlan,
) -> Result<FloorStats, LakeError> {
    let mut stats = FloorStats::default();
    let started = Instant::now();
    let horizon = Horizon::new(plan);
    // The scan's partition pruning.
    let found = discover_window(root, Symlinks::Skip, horizon.cutoff, plan.as_of_ns)?;
    stats.discover_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let plans: Vec<FilePlan> = found
        .files
        .par_iter()
        .map(|f| plan_file(&f.path, columns, horizon))
        .collect::<Result<_, _>>()?;
    stats.files = plans.len() as u64;
    for p in &plans {
        for rg in &p.row_groups {
            stats.rows_second_pass += rg.second.rows(rg.rows);
            if !matches!(rg.first, Part::Nothing) {
                stats.rows += rg.first.rows(rg.rows);
                stats.units += 1;
            }
        }
    }
    stats.plan_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let read = read_pages(&plans)?;
    stats.read_s = started.elapsed().as_secs_f64();
    stats.pages_read = read.pages_read;
    stats.pages_skipped = read.pages_skipped;
    stats.compressed_bytes = read.compressed;
    stats.decompressed_bytes = read.decompressed;
    Ok(stats)
}

/// Reads and decompresses the first pass's pages of every planned unit.
fn read_pages(plans: &[FilePlan]) -> Result<Read, LakeError> {
    // Largest units first, each one a task of its own, as the scan runs
    // its categories (see `scan`).
    let mut units: Vec<(&FilePlan, &RowGroupPlan)> = plans
        .iter()
        .flat_map(|p| {
            p.row_groups
                .iter()
                .filter(|rg| !matches!(rg.first, Part::Nothing))
                .map(move |rg| (p, rg))
        })
        .collect();
    units.sort_by_key(|(_, rg)| std::cmp::Reverse(rg.bytes));
    units
        .par_iter()
        .with_max_len(1)
        .map(|&(file, rg)| {
            with_unit(file, rg.index, |bytes| {
                read_unit(bytes, file, rg.index, rg.first.selection(), rg.rows)
            })?
        })
        .try_reduce(Read::default, |a, b| Ok(a.add(b)))
}

/// Reads the selected pages of one row group's projected column chunks,
/// held in `bytes` (read or mapped as `compute` holds them).
fn read_unit(
    bytes: &Arc<UnitBytes>,
    file: &FilePlan,
    row_group: usize,
    selection: Option<&RowSelection>,
    rows: u64,
) -> Result<Read, LakeError> {
    let fail = |e: &dyn std::fmt::Display| LakeError::Decode {
        path: file.path.clone(),
        row_group,
        message: e.to_string(),
    };
    let md = file.meta.metadata();
    let index = md.page_index_for_row_group(row_group);
    // The rows the selection keeps, as ranges.
    let kept = ranges(selection, rows);
    let mut read = Read::default();
    for &leaf in &file.cols.leaves {
        let chunk = md.row_group(row_group).column(leaf);
        let locations = index.offset_index(leaf).map(|o| o.page_locations().clone());
        // Each data page's first row and compressed size, by the offset
        // index where the file has one; else the page headers give the rows
        // (one level per row in a flat column), as the page decoder reads
        // them.
        let indexed: Option<Vec<(u64, u64)>> = locations.as_ref().map(|l| {
            l.iter()
                .map(|p| {
                    (
                        p.first_row_index.max(0) as u64,
                        p.compressed_page_size.max(0) as u64,
                    )
                })
                .collect()
        });
        let mut skipped_bytes = 0;
        // zstd pages decompressed as the page decoder does them, with this
        // thread's context (see `pages::inflate`).
        let raw = raw_zstd(chunk);
        let mut pages: SerializedPageReader<UnitBytes> = SerializedPageReader::new(
            Arc::clone(bytes),
            raw.as_ref().unwrap_or(chunk),
            rows as usize,
            locations,
        )
        .map_err(|e| fail(&e))?;
        let (mut data_page, mut row) = (0, 0u64);
        while let Some(meta) = pages.peek_next_page().map_err(|e| fail(&e))? {
            if !meta.is_dict {
                let end = match &indexed {
                    Some(pages) => pages.get(data_page + 1).map_or(rows, |p| p.0),
                    // The header does not say: read it.
                    None => header_rows(&meta).map_or(rows, |n| row + n),
                };
                let wanted =
                    selection.is_none() || kept.iter().any(|r| r.start < end && row < r.end);
                let size = indexed.as_ref().and_then(|p| p.get(data_page)).map(|p| p.1);
                data_page += 1;
                row = end;
                if !wanted {
                    pages.skip_next_page().map_err(|e| fail(&e))?;
                    read.pages_skipped += 1;
                    skipped_bytes += size.unwrap_or(0);
                    continue;
                }
            }
            let Some(mut page) = pages.get_next_page().map_err(|e| fail(&e))? else {
                break;
            };
            if raw.is_some() {
                page = inflate(page).map_err(|e| fail(&e.0))?;
            }
            read.pages_read += 1;
            read.decompressed += page.buffer().len() as u64;
        }
        read.compressed += (chunk.compressed_size().max(0) as u64).saturating_sub(skipped_bytes);
    }
    Ok(read)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow_array::{ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
    use parquet::arrow::ArrowWriter;
    use parquet::file::metadata::PageIndexPolicy;
    use parquet::file::properties::WriterProperties;
    use topsellers_engine::Variant;

    use super::*;
    use crate::scan::{scan_lake, ScanOptions};

    const DAY_MS: i64 = 86_400_000;

    /// One category, one file: a purchase an hour over 40 days, in pages
    /// of 100 rows (page index written), row groups of 400 rows.
    fn lake(dir: &Path) {
        let cat = dir.join("category=c");
        std::fs::create_dir_all(&cat).unwrap();
        let n = 40 * 24;
        let batch = RecordBatch::try_from_iter([
            (
                "item_id",
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 17))) as ArrayRef,
            ),
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    (0..n).map(|i| i * DAY_MS / 24),
                )),
            ),
        ])
        .unwrap();
        // Small pages (written in batches of 100 rows) so the page index can skip some.
        let small_pages = WriterProperties::builder()
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .set_max_row_group_row_count(Some(400));
        let mut bytes = Vec::new();
        let mut w =
            ArrowWriter::try_new(&mut bytes, batch.schema(), Some(small_pages.build())).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        std::fs::write(cat.join("a.parquet"), bytes).unwrap();
    }

    fn plan_of(days: i64) -> ScoringPlan {
        let day_ns = DAY_MS * 1_000_000;
        ScoringPlan::new(
            40 * day_ns,
            vec![Variant::from_half_life("v", 86_400.0).unwrap()],
            days * day_ns,
            days * day_ns,
            None,
            5,
        )
        .unwrap()
    }

    #[test]
    fn reads_the_rows_the_scan_decodes() {
        let dir = tempfile::tempdir().unwrap();
        lake(dir.path());
        let plan = plan_of(10);
        let names = ColumnNames::default();
        let floor = read_floor(dir.path(), &names, &plan).unwrap();
        let scan = scan_lake(dir.path(), &ScanOptions::default(), &plan, &|_| {}).unwrap();
        let total = 40 * 24;
        let decoded = total - scan.stats.rows_pruned - scan.stats.rows_pruned_by_page;
        assert_eq!(floor.rows, decoded);
        assert_eq!(floor.units, scan.stats.row_groups_read);
        assert!(floor.pages_skipped > 0, "{floor:?}");
        assert!(floor.rows < total);
        assert_eq!(floor.rows_second_pass, 0);
        assert!(floor.decompressed_bytes > 0 && floor.compressed_bytes > 0);
    }

    #[test]
    fn without_a_page_index_the_headers_skip_the_pages_the_index_would() {
        let dir = tempfile::tempdir().unwrap();
        lake(dir.path());
        let path = dir.path().join("category=c/a.parquet");
        let horizon = Horizon::new(&plan_of(10));
        let mut plans = vec![plan_file(&path, &ColumnNames::default(), horizon).unwrap()];
        let indexed = read_pages(&plans).unwrap();
        assert!(indexed.pages_skipped > 0);
        // The same plan, read as from a file without the index (pyarrow
        // writes none by default): page rows come from the headers.
        let bytes = Bytes::from(std::fs::read(&path).unwrap());
        let options = ArrowReaderOptions::new()
            .with_skip_arrow_metadata(true)
            .with_page_index_policy(PageIndexPolicy::Skip);
        plans[0].meta = ArrowReaderMetadata::load(&bytes, options).unwrap();
        let index = plans[0].meta.metadata().page_index_for_row_group(0);
        assert!(index.offset_index(0).is_none());
        let headers = read_pages(&plans).unwrap();
        assert_eq!(
            (
                headers.pages_read,
                headers.pages_skipped,
                headers.decompressed
            ),
            (
                indexed.pages_read,
                indexed.pages_skipped,
                indexed.decompressed
            )
        );
    }
}
