//! The top lists of every variant at every replay time, from one pass
//! forward in time through the incremental machinery of the lake crate.
//!
//! # Design
//!
//! The first replay time starts from an empty state at that time, so the
//! cycle finds every file new and computes every category in full (the
//! scan of `compute --as-of T`, without the rebuild a damaged state would
//! log as a warning); every later one moves that state
//! forward by `--every`, reading only the purchases that came of age and
//! those that slid out of the window, and recomputing in full only a
//! category whose window changes (see `topsellers_lake::incremental`). The
//! incremental runs are held to the full compute's results to 1e-9 by the
//! lake crate's tests, so each replay is what `compute --as-of T` gives.
//!
//! A lake is static during a backtest, so the purchases of a later replay
//! time sit in files the state already knows. The cycle adds them to the
//! categories it holds; a category it does not hold yet (no counted
//! purchase at the previous time) has its files forgotten before the cycle,
//! which then finds them new and computes the category in full.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use topsellers_engine::{ItemId, ScoringPlan};
use topsellers_lake::incremental::{advance_from, CycleOptions, Prior, State};
use topsellers_lake::{LakeError, ScanOptions};

use super::ReplayTimes;
use crate::error::ExperimentError;

/// Per category, per variant, the top items at one replay time.
pub type Tops = BTreeMap<String, Vec<Vec<ItemId>>>;

/// What the replay did, for the report.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplayStats {
    /// Replay times moved forward incrementally (all but the first).
    pub incremental_steps: u64,
    /// Categories recomputed in full after the first time (window changes,
    /// categories that appeared).
    pub categories_recomputed: u64,
    /// Rows decoded by the forward steps.
    pub rows_decoded: u64,
}

/// Forgets the files of categories the state does not hold that have
/// purchases after its `as_of`: the next cycle then reads them as new.
fn forget_unheld(state: &mut State) {
    let held: BTreeSet<&String> = state.categories.keys().collect();
    let t = state.as_of_ns;
    let gone: Vec<_> = state
        .files
        .iter()
        .filter(|(_, e)| !held.contains(&e.category) && e.span.max_ns > t)
        .map(|(p, _)| p.clone())
        .collect();
    for p in gone {
        state.files.remove(&p);
    }
}

/// Calls `visit(k, tops)` for every replay time in order, with the top
/// lists `compute --as-of T_k` would give under `plan`'s variants, windows
/// and N (its `as_of` is replaced by each replay time).
pub fn replay(
    lake: &Path,
    scan: &ScanOptions,
    plan: &ScoringPlan,
    times: &ReplayTimes,
    visit: &mut dyn FnMut(usize, Tops),
) -> Result<ReplayStats, ExperimentError> {
    let opts = CycleOptions {
        lake: lake.to_path_buf(),
        // Never read nor written: the state is handed from cycle to cycle.
        state_path: lake.join(".backtest-state-unused"),
        scan: scan.clone(),
    };
    let mut stats = ReplayStats::default();
    let canonical = std::fs::canonicalize(lake).map_err(|e| LakeError::io(lake, e))?;
    let mut prior = Prior::Usable(Box::new(State {
        lake: canonical,
        as_of_ns: times.first_ns(),
        variants: plan.variants.len(),
        ..State::default()
    }));
    for k in 0..times.len() {
        let mut at = plan.clone();
        at.as_of_ns = times.at(k);
        let out = advance_from(&opts, &at, prior)?;
        if k > 0 {
            stats.incremental_steps += u64::from(out.report.mode == "incremental");
            stats.categories_recomputed += out.report.recomputed.len() as u64;
            stats.rows_decoded += out.report.rows_decoded;
        }
        let tops: Tops = out
            .outcomes
            .into_iter()
            .filter_map(|o| {
                let scored = o.scored?;
                let lists = scored
                    .top
                    .into_iter()
                    .map(|list| list.into_iter().map(|r| r.item).collect())
                    .collect();
                Some((o.category, lists))
            })
            .collect();
        visit(k, tops);
        let mut state = out.state;
        forget_unheld(&mut state);
        prior = Prior::Usable(Box::new(state));
    }
    Ok(stats)
}
