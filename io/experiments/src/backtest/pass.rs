//! The replay: one pass forward in time per category, over its purchases
//! read once into memory.
//!
//! # Background
//!
//! A replay time must score exactly as `compute --as-of T`. Running a
//! compute per time would read the lake once per time; moving the
//! incremental state of `run --incremental` from file re-reads would
//! decode a whole row group for each day that expires or comes of age
//! (with one row group per category file, the whole file, twice a day).
//! Decay is memoryless, so one ordered pass does it instead.
//!
//! # Design
//!
//! Per category (in parallel):
//!
//! 1. its valid purchases with `first − W < ts ≤ last + horizon` are read
//!    once, interned and sorted by time (W the base window); a category that
//!    needs a longer window at some replay time (fewer than `min_items`
//!    distinct items within W) is read again from `first − W_max`;
//! 2. at each replay time T the window rule picks `W_c` (a running count of
//!    the distinct items within W answers the common case; the whole ladder
//!    is counted only when it falls short), and the engine's
//!    [`CategoryState`] (compensated anchored sums, held exact to 1e-9 over
//!    hundreds of cycles by the engine's tests) moves from the previous time
//!    by adding what came of age and expiring what slid out of `W_c`; it is
//!    rebuilt from memory when `W_c` changes or its anchor grows old;
//! 3. each variant's top N is scored against the purchases of
//!    `(T, T + horizon]`, from the same rows.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use topsellers_engine::{CategoryState, ItemId, ItemKey, ScoringPlan};
use topsellers_lake::incremental::visit_rows;
use topsellers_lake::{discover, ColumnNames, LakeFile};

use super::metrics::score_top;
use super::{Coverage, ReplayTimes, Row};
use crate::error::ExperimentError;
use crate::purchases::dt_meets;

/// What the replay did, for the report.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplayStats {
    /// Categories replayed.
    pub categories: u64,
    /// Purchases read into memory (a category read twice counts twice).
    pub purchases_read: u64,
    /// Categories read again from `first − W_max` for a longer window.
    pub categories_reread: u64,
    /// Category states rebuilt after the first replay time (window changes,
    /// anchors grown old).
    pub states_rebuilt: u64,
}

/// One category's purchases in memory, sorted by time.
#[derive(Default)]
struct Purchases {
    ids: Vec<ItemId>,
    /// `(ts_ns, item index, quantity)`.
    rows: Vec<(i64, u32, i64)>,
    /// The lower end of the times read (`lo < ts`).
    lo: i64,
    /// The newest purchase in the category's files (row-group statistics).
    newest: Option<i64>,
}

impl Purchases {
    fn read(
        files: &[&LakeFile],
        columns: &ColumnNames,
        lo: i64,
        hi: i64,
    ) -> Result<Self, ExperimentError> {
        // foldhash (hashbrown's default), not SipHash: one lookup per row read.
        let mut index: hashbrown::HashMap<ItemId, u32> = hashbrown::HashMap::new();
        let mut p = Purchases {
            lo,
            ..Purchases::default()
        };
        for f in files {
            let (a, b) = if dt_meets(f, lo, hi) {
                (lo, hi)
            } else {
                (0, -1)
            };
            let read = visit_rows(&f.path, columns, a, b, &mut |item, ts, q| {
                let id = match item {
                    ItemKey::Int(v) => ItemId::Int(v),
                    ItemKey::Str(s) => ItemId::Str(s.to_string()),
                };
                let next = p.ids.len() as u32;
                let at = *index.entry(id).or_insert_with_key(|id| {
                    p.ids.push(id.clone());
                    next
                });
                p.rows.push((ts, at, q));
            })?;
            if read.span.max_ns != i64::MIN {
                p.newest = Some(
                    p.newest
                        .map_or(read.span.max_ns, |t| t.max(read.span.max_ns)),
                );
            }
        }
        p.rows.sort_unstable();
        Ok(p)
    }

    /// The index of the first row with `ts > t`.
    fn after(&self, t: i64) -> usize {
        self.rows.partition_point(|r| r.0 <= t)
    }
}

/// What one category gave.
struct CategoryRun {
    rows: Vec<Row>,
    /// Per replay time: (has a next-horizon purchase, had a top list).
    coverage: Vec<(bool, bool)>,
    newest: Option<i64>,
    read: u64,
    reread: bool,
    rebuilt: u64,
}

/// A category's rows, its coverage per replay time (has a next-horizon
/// purchase, had a top list) and the states it rebuilt.
type Replayed = (Vec<Row>, Vec<(bool, bool)>, u64);

/// The category needs purchases older than those read.
struct NeedsOlder;

fn replay_category(
    category: &str,
    p: &Purchases,
    plan: &ScoringPlan,
    times: &ReplayTimes,
) -> Result<Replayed, NeedsOlder> {
    let lambdas = plan.lambdas();
    let ladder = plan.windows.windows_ns();
    let (w_base, w_max) = (ladder[0], plan.windows.max_ns());
    let nv = plan.variants.len();
    let key = |i: u32| ItemKey::from(&p.ids[i as usize]);
    let mut in_base = vec![0u32; p.ids.len()];
    let mut newest = vec![i64::MIN; p.ids.len()];
    let (mut distinct, mut seen, mut base_lo) = (0usize, 0usize, 0usize);
    let mut state: Option<CategoryState> = None;
    let mut prev = i64::MIN;
    let mut out = Vec::new();
    let mut coverage = Vec::with_capacity(times.len());
    let mut rebuilt = 0;
    for k in 0..times.len() {
        let t = times.at(k);
        // The distinct items within the base window, and every item's newest purchase.
        let upto = p.after(t);
        for &(ts, i, _) in &p.rows[seen..upto] {
            in_base[i as usize] += 1;
            distinct += usize::from(in_base[i as usize] == 1);
            newest[i as usize] = ts;
        }
        seen = upto;
        let base_from = p.after(t.saturating_sub(w_base));
        for &(_, i, _) in &p.rows[base_lo..base_from.max(base_lo)] {
            in_base[i as usize] -= 1;
            distinct -= usize::from(in_base[i as usize] == 0);
        }
        base_lo = base_lo.max(base_from);
        let window = if distinct >= plan.min_items {
            w_base
        } else {
            if p.lo > t.saturating_sub(w_max) {
                return Err(NeedsOlder);
            }
            ladder
                .iter()
                .copied()
                .find(|&w| {
                    newest.iter().filter(|&&n| n > t.saturating_sub(w)).count() >= plan.min_items
                })
                .unwrap_or(w_max)
        };
        // The state at t under that window.
        let fresh = match &state {
            Some(s) => s.window_ns != window || s.reanchor_due(t, &lambdas),
            None => true,
        };
        if fresh {
            rebuilt += u64::from(k > 0);
            let mut s = CategoryState::new(window, t, nv);
            for &(ts, i, q) in &p.rows[p.after(t.saturating_sub(window))..upto] {
                s.add(key(i), ts, q, &lambdas);
            }
            state = Some(s);
        } else if let Some(s) = state.as_mut() {
            let gone = p.after(prev.saturating_sub(window))..p.after(t.saturating_sub(window));
            let mut held = true;
            for &(ts, i, q) in &p.rows[gone] {
                held &= s.expire(key(i), ts, q, &lambdas).is_ok();
            }
            for &(ts, i, q) in &p.rows[p.after(prev)..upto] {
                s.add(key(i), ts, q, &lambdas);
            }
            debug_assert!(held, "the state holds every purchase it expires");
        }
        prev = t;
        // The next horizon's purchases, scored against each variant's top N.
        let mut gains: HashMap<ItemId, i64> = HashMap::new();
        for &(_, i, q) in &p.rows[upto..p.after(t.saturating_add(times.horizon_ns))] {
            *gains.entry(p.ids[i as usize].clone()).or_insert(0) += q;
        }
        let listed = state.as_ref().filter(|s| !s.is_empty());
        coverage.push((!gains.is_empty(), !gains.is_empty() && listed.is_some()));
        if let (Some(s), false) = (listed, gains.is_empty()) {
            for (v, variant) in plan.variants.iter().enumerate() {
                let top: Vec<ItemId> = s
                    .top(v, plan.top, t, variant.lambda_per_sec)
                    .into_iter()
                    .map(|r| r.item)
                    .collect();
                if let Some(scores) = score_top(&top, &gains, plan.top) {
                    out.push(Row {
                        variant: v,
                        k,
                        category: category.to_string(),
                        scores,
                    });
                }
            }
        }
    }
    Ok((out, coverage, rebuilt))
}

fn run_category(
    category: &str,
    files: &[&LakeFile],
    columns: &ColumnNames,
    plan: &ScoringPlan,
    times: &ReplayTimes,
) -> Result<CategoryRun, ExperimentError> {
    let hi = times.last_ns().saturating_add(times.horizon_ns);
    let first = times.first_ns();
    let base = plan.windows.windows_ns()[0];
    let p = Purchases::read(files, columns, first.saturating_sub(base), hi)?;
    let mut read = p.rows.len() as u64;
    let (p, reread, result) = match replay_category(category, &p, plan, times) {
        Ok(r) => (p, false, r),
        Err(NeedsOlder) => {
            let older = Purchases::read(
                files,
                columns,
                first.saturating_sub(plan.windows.max_ns()),
                hi,
            )?;
            read += older.rows.len() as u64;
            let r = replay_category(category, &older, plan, times).map_err(|NeedsOlder| {
                ExperimentError::InvalidParameter {
                    name: "--max-window",
                    reason: "the replay needed purchases older than the largest window".into(),
                }
            })?;
            (older, true, r)
        }
    };
    let (rows, coverage, rebuilt) = result;
    Ok(CategoryRun {
        rows,
        coverage,
        newest: p.newest,
        read,
        reread,
        rebuilt,
    })
}

/// What the pass over every category gave.
pub struct PassOutput {
    /// Rows of every (variant, replay time, category).
    pub rows: Vec<Row>,
    /// Per replay time.
    pub coverage: Vec<Coverage>,
    /// The newest purchase of the lake.
    pub newest_ns: Option<i64>,
    /// What the pass did.
    pub stats: ReplayStats,
}

/// Replays every category of the lake over `times`.
pub fn replay_lake(
    lake: &Path,
    columns: &ColumnNames,
    plan: &ScoringPlan,
    times: &ReplayTimes,
) -> Result<PassOutput, ExperimentError> {
    let files = discover(lake)?;
    let mut by_category: BTreeMap<&str, Vec<&LakeFile>> = BTreeMap::new();
    for f in &files {
        by_category.entry(f.category.as_str()).or_default().push(f);
    }
    // The largest categories first, so that one of them does not start last.
    let mut work: Vec<(&str, Vec<&LakeFile>, u64)> = by_category
        .into_iter()
        .map(|(c, fs)| {
            let bytes = fs
                .iter()
                .map(|f| std::fs::metadata(&f.path).map_or(0, |m| m.len()))
                .sum();
            (c, fs, bytes)
        })
        .collect();
    work.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
    let runs: Vec<CategoryRun> = work
        .par_iter()
        .map(|(c, fs, _)| run_category(c, fs, columns, plan, times))
        .collect::<Result<_, _>>()?;
    let mut out = PassOutput {
        rows: Vec::new(),
        coverage: vec![Coverage::default(); times.len()],
        newest_ns: None,
        stats: ReplayStats::default(),
    };
    for r in runs {
        out.stats.categories += 1;
        out.stats.purchases_read += r.read;
        out.stats.categories_reread += u64::from(r.reread);
        out.stats.states_rebuilt += r.rebuilt;
        for (k, (has, covered)) in r.coverage.into_iter().enumerate() {
            out.coverage[k].with_purchases += u64::from(has);
            out.coverage[k].covered += u64::from(covered);
        }
        if let Some(t) = r.newest {
            out.newest_ns = Some(out.newest_ns.map_or(t, |n| n.max(t)));
        }
        out.rows.extend(r.rows);
    }
    // Rows in (replay time, category, variant) order, whatever the threads.
    out.rows
        .sort_by(|a, b| (a.k, &a.category, a.variant).cmp(&(b.k, &b.category, b.variant)));
    Ok(out)
}
