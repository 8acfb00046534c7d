//! `run --incremental`: one cycle of the persistent state in place of the
//! full compute, the full recompute beside it with `--verify`, and the
//! choice of what to publish (only the categories whose top differs from
//! what DynamoDB holds).

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use anyhow::{Context, Result};
use topsellers_engine::reference::check_outcome;
use topsellers_engine::{CategoryOutcome, RowCounts};
use topsellers_lake::incremental::{
    advance_from, prepare, CycleOptions, CycleReport, Prior, State,
};
use topsellers_lake::{
    scan_lake, write_results, ResultSet, RunReport, RunResults, ScanOptions, ScanStats,
};
use topsellers_store::{group_key, Stored};

use super::super::compute::{ComputeOptions, Computed};
use super::super::{now_ns, thread_pool};
use super::options::IncrementalSettings;

/// A finished cycle: results as a compute gives them, and the state to save
/// once they are published.
pub struct Cycle {
    /// Results and report.
    pub computed: Computed,
    /// The state at the run's `as_of`.
    pub state: State,
    /// What the cycle did.
    pub report: CycleReport,
}

fn cycle_options(opts: &ComputeOptions, inc: &IncrementalSettings) -> CycleOptions {
    CycleOptions {
        lake: opts.lake.clone(),
        state_path: inc.state_file.clone(),
        scan: ScanOptions {
            columns: opts.columns.clone(),
            page_decoder: opts.page_decoder,
            symlinks: opts.symlinks,
            ..ScanOptions::default()
        },
    }
}

/// Loads and checks the state (before the sync, which lists only recent
/// partitions when the state is usable); returns it with the seconds taken.
pub fn load(opts: &ComputeOptions, inc: &IncrementalSettings) -> (Prior, f64) {
    let started = Instant::now();
    let prior = prepare(&cycle_options(opts, inc), &opts.plan);
    (prior, started.elapsed().as_secs_f64())
}

/// Runs one cycle from `prior` (and the full recompute beside it when
/// verifying), and writes the results file.
pub fn cycle(
    opts: &ComputeOptions,
    inc: &IncrementalSettings,
    (prior, load_s): (Prior, f64),
) -> Result<Cycle> {
    let pool = thread_pool(opts.threads)?;
    let threads = pool.current_num_threads();
    let started = Instant::now();
    let cycle_opts = cycle_options(opts, inc);
    let scan = cycle_opts.scan.clone();
    let out = pool
        .install(|| advance_from(&cycle_opts, &opts.plan, prior))
        .with_context(|| {
            format!(
                "cannot run an incremental cycle on the lake {}",
                opts.lake.display()
            )
        })?;
    let mut report = out.report;
    report.load_s = load_s;
    let cycle_s = started.elapsed().as_secs_f64();
    if inc.verify {
        let verifying = Instant::now();
        let full = pool
            .install(|| scan_lake(&opts.lake, &scan, &opts.plan, &|_| {}))
            .with_context(|| format!("cannot recompute the lake {}", opts.lake.display()))?;
        verify(&out.outcomes, full.outcomes).context(
            "--verify: the incremental cycle and the full recompute differ; nothing was published and the state was not saved",
        )?;
        report.verify_s = Some(verifying.elapsed().as_secs_f64());
        tracing::info!(
            categories = out.outcomes.len(),
            seconds = format!("{:.3}", verifying.elapsed().as_secs_f64()),
            "verified: the incremental results equal a full recompute"
        );
    }
    let writing = Instant::now();
    write_results(
        &opts.out,
        &RunResults {
            plan: &opts.plan,
            outcomes: &out.outcomes,
        },
    )?;
    let stats = ScanStats {
        files_found: report.files_found,
        files_read: report.files_new + report.files_reread,
        discover_s: report.discover_s,
        scan_s: report.update_s + report.recompute_s,
        ..ScanStats::default()
    };
    let stages = vec![
        ("cycle".to_string(), cycle_s),
        ("write".to_string(), writing.elapsed().as_secs_f64()),
        ("total".to_string(), started.elapsed().as_secs_f64()),
    ];
    let run_report = RunReport::new(
        &opts.plan,
        &out.outcomes,
        stats,
        threads,
        &opts.lake,
        stages,
        now_ns(),
    );
    tracing::info!(
        mode = report.mode,
        reason = report.rebuild_reason.as_deref().unwrap_or(""),
        files_new = report.files_new,
        files_reread = report.files_reread,
        added = report.purchases_added,
        expired = report.purchases_expired,
        recomputed = report.recomputed.len(),
        seconds = format!("{cycle_s:.3}"),
        "incremental cycle done"
    );
    Ok(Cycle {
        computed: Computed {
            outcomes: out.outcomes,
            report: run_report,
        },
        state: out.state,
        report,
    })
}

/// Checks the cycle's results against a full recompute: the same
/// categories, windows and counts, ranks equal and scores within 1e-9.
fn verify(got: &[CategoryOutcome], mut want: Vec<CategoryOutcome>) -> Result<()> {
    want.retain(|o| o.scored.is_some());
    let names =
        |o: &[CategoryOutcome]| -> Vec<String> { o.iter().map(|o| o.category.clone()).collect() };
    if names(got) != names(&want) {
        let (g, w): (BTreeSet<_>, BTreeSet<_>) = (
            names(got).into_iter().collect(),
            names(&want).into_iter().collect(),
        );
        anyhow::bail!(
            "categories differ: only incremental {:?}, only full {:?}",
            g.difference(&w).collect::<Vec<_>>(),
            w.difference(&g).collect::<Vec<_>>()
        );
    }
    for (g, mut w) in got.iter().cloned().zip(want) {
        // Row counters describe what each path read, not the results.
        w.counts = RowCounts::default();
        let g = CategoryOutcome {
            counts: RowCounts::default(),
            ..g
        };
        check_outcome(&g, &w, 1e-9).map_err(|e| anyhow::anyhow!(e))?;
    }
    Ok(())
}

/// The groups of `set` to publish, from what DynamoDB holds (`stored`, by
/// key): those it does not hold, whose ranked ids differ from the stored
/// ones, or whose stored copy is older than `republish_after_ns`. A group a
/// newer run wrote is left to it. A group stored at this very generation
/// with exactly these items and scores is handed over too: a cycle killed
/// between its writes and its Redis warm-up left it stored but not warmed,
/// and publish, finding it unchanged, writes nothing and warms it (found by
/// `bin/tests/kill9.rs`: Redis kept the older body). One stored by another
/// computation of the same `as_of` (a full run: the same ids, scores
/// differing in the last bits) is left as it is. Deciding from a memory of what was
/// published would go wrong after a crash between the writes and saving
/// that memory, or after another run's publish: A → B (live) → A would keep
/// B live.
pub fn changed_groups(
    set: &ResultSet,
    stored: &HashMap<String, Stored>,
    republish_after_ns: i64,
) -> BTreeSet<usize> {
    let generation = set.generation();
    let stale_ms = republish_after_ns / 1_000_000;
    set.groups
        .iter()
        .enumerate()
        .filter(
            |(_, g)| match stored.get(&group_key(&g.variant, &g.category)) {
                None | Some(Err(_)) => true,
                Some(Ok(live)) if live.generation > generation => false,
                Some(Ok(live)) if live.generation == generation && live.items == g.items => true,
                Some(Ok(live)) => {
                    generation - live.generation > stale_ms
                        || live.items.len() != g.items.len()
                        || live
                            .items
                            .iter()
                            .zip(&g.items)
                            .any(|(a, b)| a.item != b.item)
                }
            },
        )
        .map(|(i, _)| i)
        .collect()
}
