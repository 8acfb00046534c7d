//! `topsellers run`: sync (when the lake is in S3) → compute → validate →
//! publish, one run at a time. The job the systemd timer starts.
//!
//! Write, audit, publish: the results are written to the local `out` file,
//! compared with the live manifests, and only then published. A refused run
//! exits non-zero and leaves the live results as they were.

pub(crate) mod config;
pub(crate) mod dryrun;
mod incremental;
mod options;

use std::time::Instant;

use anyhow::{Context, Result};
use topsellers_lake::{LakeError, ResultSet, RunLock, RunResults};
use topsellers_s3::AddressingStyle;

use crate::job_report::{JobReport, Stage, Validation};

pub use options::RunOptions;

use super::{compute, now_ns, publish, sync};
use crate::cli::{LogFormat, RunArgs};

/// Validation refused the results: exit status 1, nothing published.
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// The log format the run's settings ask for (read before logging starts).
pub fn log_format(a: &RunArgs) -> Option<LogFormat> {
    config::log_format(a).and_then(|f| options::log_format(&f))
}

/// `topsellers run`.
pub fn run(a: &RunArgs) -> Result<()> {
    let merged = config::merge(a, &|k| std::env::var(k).ok())?;
    let opts = RunOptions::from_config(merged, a)?;
    let lock = match RunLock::acquire(&opts.lock_file) {
        Ok(lock) => lock,
        // A cycle a minute: one that finds a run in progress (a full run, or
        // a slow cycle) is simply skipped; the next catches up. The last
        // success metric is not touched, so a stuck holder still alerts.
        Err(e @ LakeError::Locked { .. }) if opts.incremental.is_some() => {
            tracing::info!(error = %e, "skipped: another run holds the lock; the next cycle catches up");
            println!("skipped: {e}");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    tracing::info!(lock = %lock.path().display(), dry_run = opts.dry_run, force = opts.force, "run started");
    if !opts.dry_run {
        remove_killed_writes(&opts)?;
    }
    let mut job = JobReport {
        job: "run",
        started_at: topsellers_lake::rfc3339(now_ns()),
        ..JobReport::default()
    };
    let result = stages(&opts, &mut job);
    job.status = match &result {
        Ok(()) if opts.dry_run => "dry_run",
        Ok(()) => "success",
        Err(e) if e.is::<Refused>() => "refused",
        Err(_) => "failed",
    };
    job.error = result.as_ref().err().map(crate::error_text);
    job.finished_at = topsellers_lake::rfc3339(now_ns());
    if opts.dry_run {
        // A dry run changes nothing, its report and metrics included.
        return result;
    }
    let written = publish::write_outputs(&job, opts.report.as_ref(), opts.metrics_file.as_ref());
    match &result {
        Ok(()) => tracing::info!(status = job.status, "run done"),
        // The reason is the `error:` line that follows (and the report's
        // `error`): said once, not twice.
        Err(_) => tracing::info!(status = job.status, "run ended"),
    }
    drop(lock);
    result?;
    written
}

/// Removes what writes of the run's files left when a run was killed
/// outright (SIGKILL, power loss): safe under the lock, which makes this
/// run their only writer.
fn remove_killed_writes(opts: &RunOptions) -> Result<()> {
    let files = [
        Some(&opts.compute.out),
        opts.report.as_ref(),
        opts.metrics_file.as_ref(),
        opts.incremental.as_ref().map(|i| &i.state_file),
    ];
    for file in files.into_iter().flatten() {
        topsellers_lake::remove_temps_of(file)?;
    }
    Ok(())
}

fn stage(
    job: &mut JobReport,
    name: &'static str,
    started: Instant,
    rows: u64,
    bytes: u64,
    ok: bool,
) {
    job.stages.push(Stage {
        name,
        seconds: started.elapsed().as_secs_f64(),
        rows,
        bytes,
        ok,
    });
}

fn stages(opts: &RunOptions, job: &mut JobReport) -> Result<()> {
    for file in [
        Some(&opts.compute.out),
        opts.report.as_ref(),
        opts.metrics_file.as_ref(),
    ] {
        if let Some(dir) = file
            .and_then(|f| f.parent())
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create the folder {}", dir.display()))?;
        }
    }
    let rt = publish::runtime()?;
    // An incremental cycle from a usable state lists only recent partitions;
    // a rebuild needs the whole lake.
    let mut prior = opts
        .incremental
        .as_ref()
        .map(|inc| incremental::load(&opts.compute, inc));
    let mut source = opts.sync.clone();
    if let (Some(s), Some((p, _))) = (&mut source, &prior) {
        if p.rebuilds() {
            s.recent_from = None;
        }
    }
    if let Some(source) = &source {
        let started = Instant::now();
        let synced = sync::run_sync(source, AddressingStyle::Auto);
        let (rows, bytes) = synced.as_ref().map_or((0, 0), |r| {
            ((r.new.len() + r.changed.len()) as u64, r.bytes_downloaded)
        });
        stage(job, "sync", started, rows, bytes, synced.is_ok());
        job.sync = Some(synced?);
    }
    let started = Instant::now();
    let (computed, cycle_state) = match (&opts.incremental, prior.take()) {
        (Some(inc), Some(prior)) => {
            let cycle = incremental::cycle(&opts.compute, inc, prior);
            let rows = cycle.as_ref().map_or(0, |c| c.report.rows_decoded);
            stage(job, "cycle", started, rows, 0, cycle.is_ok());
            let cycle = cycle?;
            job.incremental = Some(cycle.report);
            (cycle.computed, Some(cycle.state))
        }
        _ => {
            let computed = compute::run(&opts.compute);
            let (rows, bytes) = computed.as_ref().map_or((0, 0), |c| {
                (c.report.rows.scanned, c.report.scan.bytes_read)
            });
            stage(job, "compute", started, rows, bytes, computed.is_ok());
            (computed?, None)
        }
    };
    let set = ResultSet::from_run(
        &RunResults {
            plan: &opts.compute.plan,
            outcomes: &computed.outcomes,
        },
        now_ns(),
    );
    job.as_of = Some(set.as_of());
    job.compute = Some(computed.report);

    let store = rt.block_on(opts.publish.store())?;
    let store = store.as_ref();
    if opts.dry_run {
        // A dry run writes nothing: it takes no lease.
        return store_stages(opts, job, &rt, store, &set, cycle_state.as_ref());
    }
    let started = Instant::now();
    let lease = &opts.lease;
    let taken = rt.block_on(store.acquire_lease(&lease.host_id, lease.ttl, lease.wait()));
    stage(job, "lease", started, 0, 0, taken.is_ok());
    let taken = taken.with_context(|| {
        format!(
            "cannot take the run lease of {} as host {:?}; nothing was published",
            opts.publish.table, lease.host_id
        )
    })?;
    tracing::debug!(host_id = %taken.owner, token = taken.token, "publishing under the lease");
    let result = store_stages(opts, job, &rt, store, &set, cycle_state.as_ref());
    if let Err(e) = rt.block_on(store.release_lease()) {
        tracing::warn!(error = %e, ttl_s = lease.ttl.as_secs_f64(), "cannot release the lease: it expires by itself");
    }
    result
}

/// Validation, then the publish (or the dry run's diff), then the
/// incremental state: everything of a run that reads or writes the store.
fn store_stages(
    opts: &RunOptions,
    job: &mut JobReport,
    rt: &tokio::runtime::Runtime,
    store: &dyn topsellers_store::ResultStore,
    set: &ResultSet,
    cycle_state: Option<&topsellers_lake::incremental::State>,
) -> Result<()> {
    let started = Instant::now();
    let table = opts.publish.table.as_str();
    let validated = rt.block_on(store.live_manifests(&set.variants));
    stage(
        job,
        "validate",
        started,
        set.groups.len() as u64,
        0,
        validated.is_ok(),
    );
    let live = validated.with_context(|| format!("cannot read the live manifests of {table}"))?;
    let refusals = topsellers_store::validate(set, &live, &opts.thresholds);
    job.validation = Some(Validation {
        live,
        refusals: refusals.clone(),
        forced: opts.force && !refusals.is_empty(),
    });
    if opts.dry_run {
        let started = Instant::now();
        let diff = rt.block_on(store.diff(set, opts.diff_top));
        stage(
            job,
            "diff",
            started,
            set.groups.len() as u64,
            0,
            diff.is_ok(),
        );
        let diff = diff.with_context(|| format!("cannot compare with what {table} holds"))?;
        dryrun::print(set, table, &diff, Some(&refusals), opts.force);
        job.diff = Some(diff);
        return Ok(());
    }
    if !refusals.is_empty() {
        if !opts.force {
            let list: Vec<&str> = refusals.iter().map(|r| r.message.as_str()).collect();
            return Err(Refused(format!(
                "validation refused the results (as_of {}): {}; nothing was published and the live results are untouched (--force publishes anyway)",
                set.as_of(),
                list.join("; ")
            ))
            .into());
        }
        // Forced: no error line will list them, so the log does, once.
        for r in &refusals {
            tracing::warn!(
                check = r.check,
                variant = r.variant.as_deref().unwrap_or("-"),
                "{}",
                r.message
            );
        }
        tracing::warn!("publishing despite the refusals (--force)");
    }
    let (Some(inc), Some(state)) = (&opts.incremental, cycle_state) else {
        return publish::publish_and_warm(rt, store, &opts.publish, set, None, job);
    };
    let stored = rt
        .block_on(store.stored_groups(set))
        .with_context(|| format!("cannot read what {table} holds"))?;
    let changed = incremental::changed_groups(set, &stored, inc.republish_after_ns);
    tracing::info!(
        changed = changed.len(),
        groups = set.groups.len(),
        "publishing the categories whose top changed"
    );
    publish::publish_and_warm(rt, store, &opts.publish, set, Some(&changed), job)?;
    let started = Instant::now();
    let saved = topsellers_lake::incremental::save(&inc.state_file, state);
    stage(
        job,
        "state",
        started,
        state.categories.len() as u64,
        *saved.as_ref().unwrap_or(&0),
        saved.is_ok(),
    );
    saved.with_context(|| {
        format!(
            "cannot save the incremental state {}; the next cycle starts again from the previous one",
            inc.state_file.display()
        )
    })?;
    Ok(())
}
