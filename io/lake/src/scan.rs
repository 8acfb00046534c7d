//! Scanning a local lake: discovery, partition and row-group pruning, and the
//! parallel, deterministic aggregation of every category.
//!
//! # Design
//!
//! 1. *Discover* the files (cheap directory walk) and drop `dt=` partitions
//!    wholly outside the largest window.
//! 2. *Plan* ([`crate::plan`]): in parallel, map each file, read its footer
//!    and page index, resolve the columns, drop row groups and pages wholly
//!    outside the largest window, and split the rest between the first pass
//!    (base window) and the second (the longer lookback of sparse
//!    categories). Only the metadata is kept.
//! 3. *Scan*: categories run in parallel, largest first, each one a task of
//!    its own; within a category its row groups run in parallel too
//!    ([`aggregate_units`]), so one huge category does not serialise the
//!    run. Each unit's column chunks are mapped or read ([`crate::chunks`]),
//!    decoded column by column and folded into an accumulator, then let go:
//!    resident memory stays bounded by the units in flight, never by the
//!    lake. A category runs its second pass only if its base window holds
//!    fewer than `min_items` items.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::LocalKey;
use std::time::Instant;

use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection};
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;
use topsellers_engine::{
    aggregate_units, BytesInterner, CategoryOutcome, IntInterner, ScoringPlan,
};

use crate::chunks::{with_unit, UnitBytes};
use crate::columns::{ColumnNames, ItemKind};
use crate::contain::contain_panic;
use crate::decode::{BatchColumns, Scratch};
use crate::discover::{discover_window, Discovered, LakeFile, Symlinks};
use crate::error::LakeError;
use crate::makespan::{UnitClock, UnitTimes};
use crate::pages::{self, PageKeys, PageScratch};
use crate::plan::{plan_file, FilePlan, Horizon, Part};

/// How to read the lake.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Column names.
    pub columns: ColumnNames,
    /// Rows per decoded batch.
    pub batch_size: usize,
    /// Decode row groups with the dictionary-code page decoder where it
    /// applies ([`crate::pages`]); `false` sends every row group through the
    /// Arrow reader. Both give bit-identical results.
    pub page_decoder: bool,
    /// Which symbolic links below the lake root discovery follows.
    pub symlinks: Symlinks,
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            columns: ColumnNames::default(),
            batch_size: 64 * 1024,
            page_decoder: true,
            symlinks: Symlinks::Skip,
        }
    }
}

/// What the scan read and skipped.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ScanStats {
    /// Data files found in the partitions that can matter.
    pub files_found: u64,
    /// `dt=` folders not even listed: they lie outside the largest window.
    pub partitions_pruned: u64,
    /// Symbolic links in the lake not followed (see [`crate::Symlinks`]).
    pub symlinks_skipped: u64,
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
    /// Rows beyond the base window that no category needed (its base window
    /// already held enough distinct items), so the second pass skipped them.
    pub rows_not_needed: u64,
    /// Categories that needed the second pass (their window grew).
    pub categories_second_pass: u64,
    /// Compressed bytes of the column chunks touched.
    pub bytes_read: u64,
    /// Size of the files read.
    pub bytes_found: u64,
    /// Work units (row groups, once per pass) decoded by the page decoder,
    /// aggregating on dictionary codes.
    pub units_dictionary_path: u64,
    /// Work units decoded by the Arrow reader (the page decoder off, or a
    /// case it hands over: see [`crate::pages`]).
    pub units_arrow_path: u64,
    /// Seconds spent discovering files.
    pub discover_s: f64,
    /// Seconds spent reading footers and pruning.
    pub plan_s: f64,
    /// Seconds spent decoding and aggregating.
    pub scan_s: f64,
    /// Each work unit's time and the many-core model built on them.
    pub units: UnitTimes,
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

#[derive(Clone)]
struct Unit {
    /// Index into the scan's unit clock.
    id: usize,
    file: usize,
    row_group: usize,
    /// Pages to read, when not all.
    selection: Option<RowSelection>,
    rows: u64,
}

/// A category's work: units of the first pass and of the second.
#[derive(Default)]
struct CategoryWork {
    first: Vec<Unit>,
    second: Vec<Unit>,
}

/// Scans the lake at `root` and scores every category under `plan`.
/// `progress` receives the number of rows of each finished unit.
pub fn scan_lake(
    root: &Path,
    opts: &ScanOptions,
    plan: &ScoringPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScanOutput, LakeError> {
    let started = Instant::now();
    let horizon = Horizon::new(plan);
    let found = discover_window(root, opts.symlinks, horizon.cutoff, plan.as_of_ns)?;
    scan_found(found, started, opts, plan, progress)
}

/// Scores exactly `files` (already listed, with their partition values):
/// the incremental path recomputes the categories whose window changed from
/// the files its own discovery found, without walking the lake again.
pub fn scan_files(
    mut files: Vec<LakeFile>,
    opts: &ScanOptions,
    plan: &ScoringPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScanOutput, LakeError> {
    // The order discovery gives, which fixes the fold order of the sums.
    files.sort();
    let mut categories: Vec<String> = files.iter().map(|f| f.category.clone()).collect();
    categories.dedup();
    let found = Discovered {
        files,
        partitions_pruned: 0,
        categories,
        symlinks_skipped: 0,
    };
    scan_found(found, Instant::now(), opts, plan, progress)
}

fn scan_found(
    found: Discovered,
    started: Instant,
    opts: &ScanOptions,
    plan: &ScoringPlan,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<ScanOutput, LakeError> {
    let mut stats = ScanStats::default();
    let horizon = Horizon::new(plan);
    let live: Vec<&LakeFile> = found.files.iter().collect();
    stats.files_found = live.len() as u64;
    stats.partitions_pruned = found.partitions_pruned;
    stats.symlinks_skipped = found.symlinks_skipped;
    stats.discover_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let plans: Vec<FilePlan> = live
        .par_iter()
        .map(|f| plan_file(&f.path, &opts.columns, horizon))
        .collect::<Result<_, _>>()?;
    stats.files_read = plans.len() as u64;
    stats.bytes_found = plans.iter().map(|p| p.size).sum();
    let item_kind = item_kind(&plans)?;
    // Units per category, in (path, row group) order: fixed by the lake, not
    // by the thread count.
    // (file, row group) of each unit, by unit id.
    let mut unit_names: Vec<(usize, usize)> = Vec::new();
    let mut categories: BTreeMap<&str, CategoryWork> = found
        .categories
        .iter()
        .map(|c| (c.as_str(), CategoryWork::default()))
        .collect();
    for (i, (file, p)) in live.iter().zip(&plans).enumerate() {
        let work = categories
            .get_mut(file.category.as_str())
            .expect("every file's category is listed");
        let total_rgs = p.meta.metadata().num_row_groups();
        stats.row_groups_pruned += (total_rgs - p.row_groups.len()) as u64;
        // Saturating: a corrupt footer's file total may fall short of its
        // row groups' (found by fuzzing).
        stats.rows_pruned += p
            .rows
            .saturating_sub(p.row_groups.iter().map(|r| r.rows).sum::<u64>());
        for rg in &p.row_groups {
            stats.row_groups_read += 1;
            stats.bytes_read += rg.bytes;
            let planned = rg.first.rows(rg.rows) + rg.second.rows(rg.rows);
            stats.rows_pruned_by_page += rg.rows - planned;
            for (part, list) in [(&rg.first, &mut work.first), (&rg.second, &mut work.second)] {
                if !matches!(part, Part::Nothing) {
                    list.push(Unit {
                        id: unit_names.len(),
                        file: i,
                        row_group: rg.index,
                        selection: part.selection().cloned(),
                        rows: part.rows(rg.rows),
                    });
                    unit_names.push((i, rg.index));
                }
            }
        }
    }
    stats.plan_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let paths = PathCounts::default();
    let clock = UnitClock::new(unit_names.len());
    let ctx = ScanContext {
        files: &plans,
        opts,
        plan,
        progress,
        paths: &paths,
        clock: &clock,
    };
    // Largest categories first, each one a task of its own: rayon otherwise
    // hands each thread a run of consecutive categories to go through in
    // turn, and the run left last kept one core busy while the other slept
    // (a third of the scan on the 100M benchmark lake). Results do not
    // depend on the order: each category folds its own units in unit order.
    let mut order: Vec<(usize, &str, CategoryWork)> = categories
        .into_iter()
        .enumerate()
        .map(|(i, (category, work))| (i, category, work))
        .collect();
    order.sort_by_cached_key(|(i, _, work)| {
        let rows: u64 = work.first.iter().chain(&work.second).map(|u| u.rows).sum();
        (std::cmp::Reverse(rows), *i)
    });
    let mut results = order
        .into_par_iter()
        .with_max_len(1)
        .map(|(i, category, work)| {
            let scanned = match item_kind {
                Some(ItemKind::Str) => scan_category::<BytesInterner>(category, &work, &ctx),
                _ => scan_category::<IntInterner>(category, &work, &ctx),
            };
            scanned.map(|r| (i, r))
        })
        .collect::<Result<Vec<_>, _>>()?;
    results.sort_unstable_by_key(|(i, _)| *i);
    stats.units_dictionary_path = paths.dictionary.into_inner();
    stats.units_arrow_path = paths.arrow.into_inner();
    let mut outcomes = Vec::with_capacity(results.len());
    for (_, (outcome, second)) in results {
        match second {
            Pass2::Read => stats.categories_second_pass += 1,
            Pass2::NotNeeded(rows) => stats.rows_not_needed += rows,
        }
        outcomes.push(outcome);
    }
    stats.scan_s = started.elapsed().as_secs_f64();
    stats.units = UnitTimes::from_ns(&clock.into_ns(), |u| {
        let (file, row_group) = unit_names[u];
        format!("{}, row group {row_group}", live[file].path.display())
    });
    Ok(ScanOutput {
        item_kind,
        outcomes,
        stats,
    })
}

/// The lake's one item id type.
fn item_kind(plans: &[FilePlan]) -> Result<Option<ItemKind>, LakeError> {
    let Some(first) = plans.first() else {
        return Ok(None);
    };
    for p in plans {
        if p.cols.item_kind != first.cols.item_kind {
            return Err(LakeError::MixedItemTypes {
                path: p.path.clone(),
                found: p.cols.item_kind.name(),
                expected: first.cols.item_kind.name(),
                first: first.path.clone(),
            });
        }
    }
    Ok(Some(first.cols.item_kind))
}

/// Whether a category's second pass ran.
enum Pass2 {
    Read,
    /// Skipped, with the rows it would have decoded.
    NotNeeded(u64),
}

/// Units decoded by each path.
#[derive(Default)]
struct PathCounts {
    dictionary: AtomicU64,
    arrow: AtomicU64,
}

/// What every unit of a scan shares.
struct ScanContext<'a> {
    files: &'a [FilePlan],
    opts: &'a ScanOptions,
    plan: &'a ScoringPlan,
    progress: &'a (dyn Fn(u64) + Sync),
    paths: &'a PathCounts,
    clock: &'a UnitClock,
}

fn scan_category<I: PageKeys>(
    category: &str,
    work: &CategoryWork,
    ctx: &ScanContext<'_>,
) -> Result<(CategoryOutcome, Pass2), LakeError> {
    let plan = ctx.plan;
    let run = |units: &[Unit]| {
        aggregate_units::<I, LakeError, _>(plan, units.len(), |u, acc| {
            let unit = &units[u];
            let started = Instant::now();
            decode_unit(
                &ctx.files[unit.file],
                unit.row_group,
                unit.selection.as_ref(),
                ctx,
                acc,
            )?;
            let ns = started.elapsed().as_nanos().max(1);
            ctx.clock
                .record(unit.id, u64::try_from(ns).unwrap_or(u64::MAX));
            (ctx.progress)(unit.rows);
            Ok(())
        })
    };
    let mut acc = run(&work.first)?;
    let second = if work.second.is_empty() {
        Pass2::NotNeeded(0)
    } else if acc.distinct_within(0) >= plan.min_items {
        Pass2::NotNeeded(work.second.iter().map(|u| u.rows).sum())
    } else {
        let mut rest = run(&work.second)?;
        acc.absorb(&mut rest);
        Pass2::Read
    };
    Ok((acc.finish(plan, category.to_string()), second))
}

fn decode_unit<I: PageKeys>(
    file: &FilePlan,
    row_group: usize,
    selection: Option<&RowSelection>,
    ctx: &ScanContext<'_>,
    acc: &mut topsellers_engine::CategoryAccumulator<I>,
) -> Result<(), LakeError> {
    // Each unit brings its chunks in again rather than keeping the plan's
    // mapping: holding one mapping per lake file for the whole scan would
    // keep every footer's pages resident and can exceed the kernel's limit
    // on mappings per process (vm.max_map_count, 65,530 by default, against
    // 49,786 files in the 100M benchmark lake laid out by category and day).
    with_unit(file, row_group, |bytes| {
        decode_chunks(bytes, file, row_group, selection, ctx, acc)
    })?
}

/// Decodes one unit from its column chunks in `bytes`: by the page decoder
/// where it applies, else by the Arrow reader.
fn decode_chunks<I: PageKeys>(
    bytes: &Arc<UnitBytes>,
    file: &FilePlan,
    row_group: usize,
    selection: Option<&RowSelection>,
    ctx: &ScanContext<'_>,
    acc: &mut topsellers_engine::CategoryAccumulator<I>,
) -> Result<(), LakeError> {
    let (opts, plan) = (ctx.opts, ctx.plan);
    if opts.page_decoder {
        let decoded = with_page_scratch(|scratch| {
            pages::decode_unit(
                bytes,
                file,
                row_group,
                selection,
                &opts.columns,
                opts.batch_size,
                plan,
                acc,
                scratch,
            )
        });
        match decoded {
            Ok(()) => {
                ctx.paths.dictionary.fetch_add(1, Ordering::Relaxed);
                return Ok(());
            }
            Err(why) => {
                tracing::debug!(
                    path = %file.path.display(),
                    row_group,
                    reason = why.0,
                    "row group decoded through the Arrow reader"
                );
                // Whatever the page decoder added is dropped: the unit is
                // decoded again from the start.
                acc.clear();
            }
        }
    }
    ctx.paths.arrow.fetch_add(1, Ordering::Relaxed);
    let decode_err = |e: &dyn std::fmt::Display| LakeError::Decode {
        path: file.path.clone(),
        row_group,
        message: e.to_string(),
    };
    // Only the `parquet` crate's calls are contained (see `contain`).
    let corrupt =
        |m: String| decode_err(&format!("the Parquet reader failed on corrupt data ({m})"));
    let mask = ProjectionMask::roots(file.meta.parquet_schema(), file.cols.roots.iter().copied());
    let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(
        UnitBytes::clone(bytes),
        file.meta.clone(),
    )
    .with_projection(mask)
    .with_row_groups(vec![row_group])
    .with_batch_size(opts.batch_size);
    if let Some(selection) = selection {
        builder = builder.with_row_selection(selection.clone());
    }
    let mut reader = contain_panic(|| builder.build().map_err(|e| decode_err(&e)), corrupt)?;
    with_scratch(|scratch| {
        while let Some(batch) = contain_panic(
            || reader.next().transpose().map_err(|e| decode_err(&e)),
            corrupt,
        )? {
            let cols = BatchColumns::locate(&batch, &opts.columns, file.cols.ts_unit_ns)
                .ok_or_else(|| decode_err(&"projected columns missing from the decoded batch"))?;
            I::add_batch(acc, plan, &cols, scratch, &file.path, row_group)?;
        }
        Ok(())
    })
}

thread_local! {
    /// The widening buffers of this worker thread: a unit's buffers grow to a
    /// batch (512 KiB each at 64k rows), and making them per unit paid the
    /// allocation and its page faults again for every row group.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
    /// The page decoder's buffers of this worker thread, kept for the same
    /// reason.
    static PAGE_SCRATCH: RefCell<PageScratch> = RefCell::new(PageScratch::default());
}

/// Runs `f` with this thread's buffers in `key`.
fn with_buffers<B: Default + 'static, T>(
    key: &'static LocalKey<RefCell<B>>,
    f: impl FnOnce(&mut B) -> T,
) -> T {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buffers) => f(&mut buffers),
        // Only if a decode ever nested on this thread: fresh buffers then.
        Err(_) => f(&mut B::default()),
    })
}

/// Runs `f` with this thread's widening buffers.
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    with_buffers(&SCRATCH, f)
}

/// Runs `f` with this thread's page decoder buffers.
fn with_page_scratch<T>(f: impl FnOnce(&mut PageScratch) -> T) -> T {
    with_buffers(&PAGE_SCRATCH, f)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int32Array, RecordBatch, TimestampMillisecondArray};
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;
    use topsellers_engine::Variant;

    use super::*;
    use crate::decode::SCRATCH_MADE;

    const DAY_MS: i64 = 86_400_000;

    /// A lake of one category, one file of `row_groups` row groups with
    /// INT32 ids and quantities (both widened through the scratch buffers).
    fn lake(dir: &Path, row_groups: usize) {
        category(dir, "c", row_groups);
    }

    /// Category `name` of the lake at `dir`, as [`lake`] writes it.
    fn category(dir: &Path, name: &str, row_groups: usize) {
        let cat = dir.join(format!("category={name}"));
        std::fs::create_dir_all(&cat).unwrap();
        let n = row_groups * 100;
        let batch = RecordBatch::try_from_iter([
            (
                "item_id",
                Arc::new(Int32Array::from_iter_values((0..n as i32).map(|i| i % 37))) as ArrayRef,
            ),
            (
                "ts",
                Arc::new(TimestampMillisecondArray::from_iter_values(
                    (0..n as i64).map(|i| 10 * DAY_MS - i * 60_000),
                )),
            ),
            (
                "quantity",
                Arc::new(Int32Array::from_iter_values(
                    (0..n as i32).map(|i| 1 + i % 3),
                )),
            ),
        ])
        .unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .build();
        let file = std::fs::File::create(cat.join("a.parquet")).unwrap();
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    }

    /// One variant (half-life 1 day), as of day 10, windows 30 to 365 days.
    fn plan() -> ScoringPlan {
        ScoringPlan::new(
            10 * DAY_MS * 1_000_000,
            vec![Variant::from_half_life("v", 86_400.0).unwrap()],
            30 * DAY_MS * 1_000_000,
            365 * DAY_MS * 1_000_000,
            None,
            10,
        )
        .unwrap()
    }

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
    }

    #[test]
    fn one_scratch_per_worker_not_per_row_group() {
        let dir = tempfile::tempdir().unwrap();
        lake(dir.path(), 5);
        let plan = plan();
        let (out, made) = pool(1).install(|| {
            let before = SCRATCH_MADE.with(|n| n.get());
            // The Arrow path's buffers (the page decoder would read these
            // dictionary-encoded row groups itself).
            let opts = ScanOptions {
                page_decoder: false,
                ..ScanOptions::default()
            };
            let out = scan_lake(dir.path(), &opts, &plan, &|_| {}).unwrap();
            (out, SCRATCH_MADE.with(|n| n.get()) - before)
        });
        assert_eq!(out.stats.row_groups_read, 5);
        assert_eq!(made, 1, "scratch buffers made for 5 row groups on 1 worker");
    }

    #[test]
    fn categories_run_largest_first_and_come_out_by_name() {
        let dir = tempfile::tempdir().unwrap();
        // Sizes out of name order, so the largest-first order differs from
        // the names' order.
        for (name, row_groups) in [("a", 1), ("b", 6), ("c", 3), ("d", 9), ("e", 2)] {
            category(dir.path(), name, row_groups);
        }
        let plan = plan();
        let run = |threads| {
            pool(threads)
                .install(|| scan_lake(dir.path(), &ScanOptions::default(), &plan, &|_| {}))
                .unwrap()
        };
        let one = run(1);
        let names: Vec<&str> = one.outcomes.iter().map(|o| o.category.as_str()).collect();
        assert_eq!(names, ["a", "b", "c", "d", "e"]);
        for threads in [2, 3, 8] {
            let many = run(threads);
            assert_eq!(
                format!("{:?}", many.outcomes),
                format!("{:?}", one.outcomes)
            );
        }
    }
}
