//! Incremental cycles agree with a full recompute at the same `as_of`
//! (SPEC section 1: ranks equal, scores within 1e-9 relative), after any
//! sequence of appends and cycles: late and future events, windows that grow
//! and shrink, categories that appear and empty, a damaged state.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use proptest::prelude::*;
use topsellers_engine::reference::check_outcome;
use topsellers_engine::{CategoryOutcome, RowCounts, ScoringPlan, Variant};
use topsellers_lake::incremental::{advance, save, CycleOptions};
use topsellers_lake::{scan_lake, ScanOptions};

const DAY_US: i64 = 86_400_000_000;
const DAY_NS: i64 = DAY_US * 1000;

/// Rows (item, ts µs, quantity) by (category, day).
type Groups = BTreeMap<(u8, i64), Vec<(u16, i64, i32)>>;
/// 2026-01-01T00:00:00Z.
const START_US: i64 = 1_767_225_600_000_000;

#[derive(Debug, Clone)]
struct Purchase {
    category: u8,
    item: u16,
    /// Offset from the step's `as_of`, in hours (negative: in the past).
    hours: i32,
    quantity: i32,
}

#[derive(Debug, Clone)]
struct Step {
    purchases: Vec<Purchase>,
    /// Hours `as_of` moves forward before the cycle.
    advance_hours: u32,
    /// Damage the state file before the cycle.
    damage: bool,
}

fn purchase() -> impl Strategy<Value = Purchase> {
    (
        0u8..4,
        0u16..25,
        -24 * 30..6i32,
        prop_oneof![4 => Just(1), 1 => 0..5i32],
    )
        .prop_map(|(category, item, hours, quantity)| Purchase {
            category,
            item,
            hours,
            quantity,
        })
}

fn step() -> impl Strategy<Value = Step> {
    (
        proptest::collection::vec(purchase(), 0..60),
        prop_oneof![3 => 0u32..48, 1 => 48u32..24 * 12],
        proptest::bool::weighted(0.1),
    )
        .prop_map(|(purchases, advance_hours, damage)| Step {
            purchases,
            advance_hours,
            damage,
        })
}

/// Writes `rows` (category, item, ts µs, quantity) of one category and day as
/// a new file of the lake.
fn write_file(
    lake: &Path,
    n: usize,
    category: u8,
    day: i64,
    rows: &[(u16, i64, i32)],
    strings: bool,
) {
    let date = chrono::DateTime::from_timestamp_micros(day * DAY_US)
        .unwrap()
        .format("%Y-%m-%d");
    let path = lake.join(format!(
        "category=c{category}/dt={date}/part-{n:05}.parquet"
    ));
    common::write_parquet(&path, rows, strings);
}

/// A file the test wrote: its category, day and rows (item, ts ns, quantity).
struct Written {
    category: String,
    day: i64,
    rows: Vec<(u16, i64, i32)>,
}

impl Written {
    /// Whether discovery lists it for a cycle looking at `(lo, hi]`.
    fn listed(&self, lo: i64, hi: i64) -> bool {
        let (start, end) = (self.day * DAY_NS, (self.day + 1) * DAY_NS);
        end - 1 > lo && start <= hi
    }

    /// Its valid purchases with `lo < ts <= hi`.
    fn purchases(&self, lo: i64, hi: i64) -> u64 {
        let inside = |r: &&(u16, i64, i32)| r.2 > 0 && r.1 > lo && r.1 <= hi;
        self.rows.iter().filter(inside).count() as u64
    }

    /// Whether its time span meets `(lo, hi]`.
    fn meets(&self, lo: i64, hi: i64) -> bool {
        let max = self.rows.iter().map(|r| r.1).max().unwrap_or(i64::MIN);
        let min = self.rows.iter().map(|r| r.1).min().unwrap_or(i64::MAX);
        max > lo && min <= hi
    }
}

fn append(
    lake: &Path,
    files: &mut Vec<Written>,
    as_of_us: i64,
    purchases: &[Purchase],
    strings: bool,
) {
    let mut groups = Groups::new();
    for p in purchases {
        let ts = as_of_us + i64::from(p.hours) * 3_600_000_000 - 1;
        groups
            .entry((p.category, ts.div_euclid(DAY_US)))
            .or_default()
            .push((p.item, ts, p.quantity));
    }
    for ((category, day), rows) in groups {
        write_file(lake, files.len() + 1, category, day, &rows, strings);
        files.push(Written {
            category: format!("c{category}"),
            day,
            rows: rows.iter().map(|r| (r.0, r.1 * 1000, r.2)).collect(),
        });
    }
}

/// What an incremental cycle from `t1` to `t` must report, from the files
/// the test wrote (`known`: those folded into the state; `windows`: the
/// state's categories and windows): the files found and new, the known
/// files re-read, the purchases added and taken back.
fn expected(
    files: &[Written],
    known: &BTreeSet<usize>,
    windows: &BTreeMap<String, i64>,
    (t1, t): (i64, i64),
) -> [u64; 5] {
    let found: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].listed(t1 - 20 * DAY_NS, t))
        .collect();
    let (mut reread, mut added, mut expired) = (0, 0, 0);
    for &i in &found {
        let f = &files[i];
        let Some(&w) = windows.get(&f.category) else {
            continue;
        };
        if !known.contains(&i) {
            added += f.purchases(t - w, t);
            continue;
        }
        let (lo, hi) = (t1 - w, (t - w).min(t1));
        let (mlo, mhi) = (t1.max(t - w), t);
        let expire = hi > lo && f.meets(lo, hi);
        let mature = f.meets(t1, i64::MAX) && f.meets(mlo, mhi);
        if expire {
            expired += f.purchases(lo, hi);
        }
        if mature {
            added += f.purchases(mlo, mhi);
        }
        reread += u64::from(expire || mature);
    }
    let new = found.iter().filter(|i| !known.contains(i)).count() as u64;
    [found.len() as u64, new, reread, added, expired]
}

fn plan(as_of_ns: i64, min_items: usize) -> ScoringPlan {
    ScoringPlan::new(
        as_of_ns,
        vec![
            Variant::from_half_life("fast", 86_400.0).unwrap(),
            Variant::from_half_life("slow", 10.0 * 86_400.0).unwrap(),
        ],
        2 * DAY_NS,
        20 * DAY_NS,
        Some(min_items),
        4,
    )
    .unwrap()
}

/// Runs `steps`, checking each cycle; returns each cycle's mode.
fn run_steps(
    steps: &[Step],
    min_items: usize,
    strings: bool,
) -> Result<Vec<&'static str>, TestCaseError> {
    let mut modes = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(&lake).unwrap();
    let opts = CycleOptions {
        lake: lake.clone(),
        state_path: dir.path().join("state.bin"),
        scan: ScanOptions::default(),
    };
    let (mut as_of_us, mut files) = (START_US, Vec::new());
    // The state as the test knows it: as_of, files folded in, windows.
    let mut state: Option<(i64, BTreeSet<usize>, BTreeMap<String, i64>)> = None;
    for (i, s) in steps.iter().enumerate() {
        append(&lake, &mut files, as_of_us, &s.purchases, strings);
        as_of_us += i64::from(s.advance_hours) * 3_600_000_000;
        if s.damage && opts.state_path.exists() {
            let mut bytes = std::fs::read(&opts.state_path).unwrap();
            let at = bytes.len() / 2;
            bytes[at] ^= 0x55;
            std::fs::write(&opts.state_path, bytes).unwrap();
        }
        if files.is_empty() {
            continue;
        }
        let p = plan(as_of_us * 1000, min_items);
        let got = advance(&opts, &p).unwrap();
        let r = &got.report;
        let t = as_of_us * 1000;
        let prior = state.take().filter(|_| !s.damage);
        // The files the state holds after the cycle: those its discovery listed.
        let listed_from = prior.as_ref().map_or(t, |p| p.0) - 20 * DAY_NS;
        match prior {
            // A cycle that rebuilt without a reason would fail here.
            Some((t1, known, windows)) => {
                prop_assert_eq!(r.mode, "incremental", "step {}: {:?}", i, r);
                let got_counts = [
                    r.files_found,
                    r.files_new,
                    r.files_reread,
                    r.purchases_added,
                    r.purchases_expired,
                ];
                prop_assert_eq!(
                    got_counts,
                    expected(&files, &known, &windows, (t1, t)),
                    "step {}: [found, new, reread, added, expired] ({:?})",
                    i,
                    r
                );
            }
            None => {
                prop_assert_eq!(r.mode, "rebuild", "step {}: {:?}", i, r);
                let found = files.iter().filter(|f| f.listed(t - 20 * DAY_NS, t));
                prop_assert_eq!(r.files_found, found.count() as u64);
                prop_assert_eq!((r.files_new, r.purchases_added), (0, 0));
            }
        }
        let mut want = scan_lake(&lake, &ScanOptions::default(), &p, &|_| {})
            .unwrap()
            .outcomes;
        want.retain(|o| o.scored.is_some());
        for o in &mut want {
            o.counts = RowCounts::default();
        }
        let cats: Vec<&str> = got.outcomes.iter().map(|o| o.category.as_str()).collect();
        let want_cats: Vec<&str> = want.iter().map(|o| o.category.as_str()).collect();
        prop_assert_eq!(cats, want_cats, "step {}: categories ({:?})", i, got.report);
        for (g, w) in got.outcomes.iter().zip(&want) {
            // Row counters say what each path read, not what it computed.
            let g = CategoryOutcome {
                counts: RowCounts::default(),
                ..g.clone()
            };
            if let Err(e) = check_outcome(&g, w, 1e-9) {
                return Err(TestCaseError::fail(format!(
                    "step {i}: {e} ({:?})",
                    got.report
                )));
            }
        }
        eprintln!(
            "MODE step={i} dmg={} {} exp={} add={} recomputed={} reason={:?}",
            s.damage,
            got.report.mode,
            got.report.purchases_expired,
            got.report.purchases_added,
            got.report.recomputed.len(),
            got.report.rebuild_reason
        );
        modes.push(got.report.mode);
        save(&opts.state_path, &got.state).unwrap();
        let known = (0..files.len())
            .filter(|&i| files[i].listed(listed_from, t))
            .collect();
        let windows = got
            .outcomes
            .iter()
            .filter_map(|o| Some((o.category.clone(), o.scored.as_ref()?.window_ns)))
            .collect();
        state = Some((t, known, windows));
    }
    Ok(modes)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn incremental_equals_full_recompute(
        steps in proptest::collection::vec(step(), 1..8),
        min_items in 1usize..6,
        strings in proptest::bool::weighted(0.25),
    ) {
        run_steps(&steps, min_items, strings)?;
    }
}

#[test]
fn a_quiet_cycle_reads_nothing_new_and_a_state_survives_a_reload() {
    let steps = vec![
        Step {
            purchases: (0..40)
                .map(|i| Purchase {
                    category: (i % 3) as u8,
                    item: (i % 7) as u16,
                    hours: -i * 5,
                    quantity: 1,
                })
                .collect(),
            advance_hours: 1,
            damage: false,
        },
        Step {
            purchases: vec![],
            advance_hours: 1,
            damage: false,
        },
    ];
    assert_eq!(
        run_steps(&steps, 2, false).unwrap(),
        ["rebuild", "incremental"]
    );
}
