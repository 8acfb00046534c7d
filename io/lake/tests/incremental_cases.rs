//! Incremental cycles in the cases a random sequence of appends hardly
//! reaches: the lake's id type, files rewritten in place, paths that are
//! not UTF-8, a lake that cannot be resolved, what a new category costs.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use topsellers_engine::{ScoringPlan, Variant};
use topsellers_lake::incremental::{advance, prepare, save, CycleOptions, CycleOutput, Prior};
use topsellers_lake::{scan_lake, LakeError, ScanOptions};

const DAY_US: i64 = 86_400_000_000;
const HOUR_US: i64 = 3_600_000_000;
/// 2026-01-10T00:00:00Z, the day the test files hold.
const DAY0_US: i64 = 1_768_003_200_000_000;

struct Lake {
    _dir: tempfile::TempDir,
    opts: CycleOptions,
}

impl Lake {
    fn new() -> Self {
        Self::named(OsStr::new("lake"))
    }

    fn named(name: &OsStr) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lake = dir.path().join(name);
        std::fs::create_dir_all(&lake).unwrap();
        let opts = CycleOptions {
            lake,
            state_path: dir.path().join("state.bin"),
            scan: ScanOptions::default(),
        };
        Self { _dir: dir, opts }
    }

    /// The path of a file of `category` on the test's day.
    fn file(&self, category: &str, name: impl AsRef<Path>) -> PathBuf {
        self.opts
            .lake
            .join(format!("category={category}/dt=2026-01-10"))
            .join(name)
    }

    /// One cycle at `hours` after the day began; the state is saved.
    fn cycle(&self, hours: i64) -> Result<CycleOutput, LakeError> {
        let out = advance(&self.opts, &plan(hours))?;
        save(&self.opts.state_path, &out.state).unwrap();
        Ok(out)
    }
}

fn plan(hours: i64) -> ScoringPlan {
    plan_with(hours, 7.0 * 86_400.0)
}

fn plan_with(hours: i64, half_life_s: f64) -> ScoringPlan {
    ScoringPlan::new(
        (DAY0_US + hours * HOUR_US) * 1000,
        vec![Variant::from_half_life("default", half_life_s).unwrap()],
        2 * DAY_US * 1000,
        20 * DAY_US * 1000,
        Some(1),
        10,
    )
    .unwrap()
}

/// Purchases of items `0..n` in the day's first hour.
fn rows(n: u16) -> Vec<(u16, i64, i32)> {
    (0..n).map(|i| (i, DAY0_US + i64::from(i), 1)).collect()
}

/// Purchases of items `0..n` 20 hours into the day: after an early as_of.
fn later_rows(n: u16) -> Vec<(u16, i64, i32)> {
    rows(n)
        .iter()
        .map(|r| (r.0, r.1 + 20 * HOUR_US, 1))
        .collect()
}

fn full_scan(lake: &Lake, hours: i64) -> Result<(), LakeError> {
    scan_lake(
        &lake.opts.lake,
        &ScanOptions::default(),
        &plan(hours),
        &|_| {},
    )
    .map(|_| ())
}

#[test]
fn a_new_category_with_another_id_type_is_refused_like_a_full_scan() {
    let lake = Lake::new();
    common::write_parquet(&lake.file("a", "part-1.parquet"), &rows(3), false);
    assert_eq!(lake.cycle(2).unwrap().report.mode, "rebuild");
    common::write_parquet(&lake.file("b", "part-2.parquet"), &rows(3), true);
    let full = full_scan(&lake, 3).unwrap_err();
    assert!(matches!(full, LakeError::MixedItemTypes { .. }), "{full}");
    let cycle = lake.cycle(3).err().map(|e| e.to_string());
    assert_eq!(cycle, Some(full.to_string()));
}

#[test]
fn a_state_without_items_still_holds_its_id_type() {
    let lake = Lake::new();
    // Only purchases after as_of: the state holds no item, yet the lake's
    // ids are integers.
    let later = later_rows(3);
    common::write_parquet(&lake.file("a", "part-1.parquet"), &later, false);
    let first = lake.cycle(2).unwrap();
    assert_eq!((first.report.mode, first.report.items), ("rebuild", 0));
    common::write_parquet(&lake.file("b", "part-2.parquet"), &rows(3), true);
    let full = full_scan(&lake, 3).unwrap_err();
    let cycle = lake.cycle(3).err().map(|e| e.to_string());
    assert_eq!(cycle, Some(full.to_string()));
}

#[test]
fn purchases_that_come_of_age_in_a_category_the_state_holds_empty_count() {
    let lake = Lake::new();
    // Every purchase of the category is after the first as_of: the state
    // holds no items for it, yet its file is known.
    let later = later_rows(3);
    common::write_parquet(&lake.file("a", "part-1.parquet"), &later, false);
    assert_eq!(lake.cycle(2).unwrap().report.items, 0);
    let out = lake.cycle(22).unwrap();
    assert_eq!(out.report.mode, "incremental", "{:?}", out.report);
    assert_eq!(out.report.items, 3, "{:?}", out.report);
    let full = scan_lake(&lake.opts.lake, &ScanOptions::default(), &plan(22), &|_| {}).unwrap();
    let top = |o: &[topsellers_engine::CategoryOutcome]| -> Vec<(String, Vec<String>)> {
        o.iter()
            .filter_map(|o| {
                let top = &o.scored.as_ref()?.top[0];
                Some((
                    o.category.clone(),
                    top.iter().map(|r| format!("{:?}", r.item)).collect(),
                ))
            })
            .collect()
    };
    assert_eq!(top(&out.outcomes), top(&full.outcomes));
}

#[test]
fn a_new_category_reads_its_files_only_to_recompute_it() {
    let lake = Lake::new();
    common::write_parquet(&lake.file("a", "part-1.parquet"), &rows(3), false);
    assert_eq!(lake.cycle(2).unwrap().report.mode, "rebuild");
    common::write_parquet(&lake.file("b", "part-2.parquet"), &rows(4), false);
    let r = lake.cycle(3).unwrap().report;
    assert_eq!(r.mode, "incremental", "{r:?}");
    assert_eq!(r.recomputed.keys().collect::<Vec<_>>(), ["b"], "{r:?}");
    assert_eq!((r.files_new, r.files_reread), (1, 0), "{r:?}");
    // The full scan that chooses its window, then the read into its state:
    // nothing before that.
    assert_eq!((r.files_recomputed, r.file_reads), (1, 2), "{r:?}");
    assert_eq!(r.items, 7, "{r:?}");
}

#[test]
fn a_file_rewritten_with_its_size_and_mtime_is_noticed() {
    let lake = Lake::new();
    let path = lake.file("a", "part-1.parquet");
    common::write_parquet(&path, &rows(3), false);
    let meta = std::fs::metadata(&path).unwrap();
    assert_eq!(lake.cycle(2).unwrap().report.mode, "rebuild");
    // Item 2 becomes item 5: the same bytes but one, as `cp -p` or
    // `rsync -t` would leave it (same size, same modification time).
    let mut other = rows(3);
    other[2].0 = 5;
    common::write_parquet(&path, &other, false);
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    let now = std::fs::metadata(&path).unwrap();
    assert_eq!(
        (now.len(), now.modified().unwrap()),
        (meta.len(), meta.modified().unwrap())
    );
    let out = lake.cycle(3).unwrap();
    let r = &out.report;
    assert_eq!(r.mode, "rebuild", "{r:?}");
    let reason = r.rebuild_reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("part-1.parquet") && reason.contains("changed"),
        "{reason}"
    );
    let top = &out.outcomes[0].scored.as_ref().unwrap().top[0];
    assert!(
        top.iter()
            .any(|r| r.item == topsellers_engine::ItemId::Int(5)),
        "{top:?}"
    );
}

#[test]
fn paths_that_are_not_utf8_survive_the_state() {
    let odd = |b: &'static [u8]| OsStr::from_bytes(b);
    for (lake, file) in [
        (odd(b"lake"), odd(b"part-\xe9.parquet")),
        (odd(b"lake-\xff"), odd(b"part-1.parquet")),
    ] {
        let lake = Lake::named(lake);
        common::write_parquet(&lake.file("a", file), &rows(3), false);
        assert_eq!(lake.cycle(2).unwrap().report.mode, "rebuild");
        let r = lake.cycle(3).unwrap().report;
        assert_eq!(r.mode, "incremental", "{file:?}: {r:?}");
    }
}

#[test]
fn a_lake_that_cannot_be_resolved_is_reported_as_such() {
    let lake = Lake::new();
    common::write_parquet(&lake.file("a", "part-1.parquet"), &rows(3), false);
    assert_eq!(lake.cycle(2).unwrap().report.mode, "rebuild");
    // Before a sync brings it back, the local lake may be gone.
    let moved = lake.opts.lake.with_extension("moved");
    std::fs::rename(&lake.opts.lake, &moved).unwrap();
    let Prior::Rebuild(reason) = prepare(&lake.opts, &plan(3)) else {
        panic!("a state whose lake cannot be found is not usable");
    };
    let path = lake.opts.lake.display().to_string();
    assert!(reason.contains(&path), "{reason}");
    assert!(reason.contains("No such file or directory"), "{reason}");
    assert!(!reason.contains("another lake"), "{reason}");
}

#[test]
fn a_state_anchored_too_long_ago_is_recomputed() {
    let lake = Lake::new();
    let minute = 60.0;
    let cycle = |hours| {
        let out = advance(&lake.opts, &plan_with(hours, minute)).unwrap();
        save(&lake.opts.state_path, &out.state).unwrap();
        out
    };
    common::write_parquet(&lake.file("a", "part-1.parquet"), &rows(3), false);
    assert_eq!(cycle(2).report.mode, "rebuild");
    // 600 / ln 2 half-lives of a minute (14.4 h) later, the weights relative
    // to the first cycle's time would outgrow an f64.
    let late: Vec<_> = rows(3)
        .iter()
        .map(|r| (r.0, r.1 + 16 * HOUR_US, 1))
        .collect();
    common::write_parquet(&lake.file("a", "part-2.parquet"), &late, false);
    let out = cycle(17);
    let r = &out.report;
    assert_eq!(r.mode, "incremental", "{r:?}");
    assert!(r.recomputed["a"].contains("anchor"), "{r:?}");
    let full = scan_lake(
        &lake.opts.lake,
        &ScanOptions::default(),
        &plan_with(17, minute),
        &|_| {},
    )
    .unwrap();
    let want = full.outcomes[0].scored.as_ref().unwrap();
    let got = out.outcomes[0].scored.as_ref().unwrap();
    for (g, w) in got.top[0].iter().zip(&want.top[0]) {
        assert_eq!(g.item, w.item);
        assert!(
            (g.score - w.score).abs() <= 1e-9 * w.score,
            "{g:?} != {w:?}"
        );
    }
    assert_eq!(got.top[0].len(), want.top[0].len());
}
