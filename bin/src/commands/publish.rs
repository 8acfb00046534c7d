//! `topsellers publish`: a results file → the store (DynamoDB or MySQL),
//! then Redis. Also the publish stage of `run`.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use topsellers_lake::{read_results, ResultSet};
use topsellers_store::cache::{self, WarmOptions, WarmReport};
use topsellers_store::ResultStore;

use crate::job_report::{CacheOutcome, JobReport, Stage};

use super::store::{StoreChoice, StoreSettings, PASSWORD_ENV};
use super::UsageError;
use crate::cli::PublishArgs;
use crate::progress::rows_bar;

/// Positions compared per category by `publish --dry-run` (`run`'s
/// `diff_top` default).
const DIFF_TOP: usize = 10;

/// Where and how to publish (shared by `publish` and `run`).
#[derive(Debug, Clone)]
pub struct PublishSettings {
    /// The store.
    pub store: StoreChoice,
    /// The store as messages name it (the table, or `MySQL HOST:PORT/DB`).
    pub table: String,
    /// Create the table or schema when it is missing.
    pub create_table: bool,
    /// Store requests in flight at once.
    pub concurrency: usize,
    /// Redis, when the cache is to be warmed.
    pub redis: Option<WarmOptions>,
}

impl PublishSettings {
    /// Validates the publish settings.
    pub fn new(
        store: StoreChoice,
        create_table: bool,
        concurrency: usize,
        redis: Option<String>,
        ttl_ns: i64,
        jitter: f64,
    ) -> Result<Self, UsageError> {
        if !(1..=1024).contains(&concurrency) {
            return Err(UsageError(format!(
                "concurrency {concurrency}: use 1 to 1024 requests in flight"
            )));
        }
        if !(0.0..=0.9).contains(&jitter) {
            return Err(UsageError(format!(
                "TTL jitter {jitter}: use a fraction from 0 to 0.9"
            )));
        }
        if let Some(url) = &redis {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(UsageError(format!(
                    "{}: a Redis URL looks like redis://HOST:PORT",
                    cache::redacted(url)
                )));
            }
        }
        Ok(Self {
            table: store.target(),
            store,
            create_table,
            concurrency,
            redis: redis.map(|url| WarmOptions {
                url,
                ttl: Duration::from_nanos(ttl_ns.max(1_000_000_000) as u64),
                jitter,
            }),
        })
    }
}

impl PublishSettings {
    /// The results store these settings name.
    pub async fn store(&self) -> Result<Box<dyn ResultStore>> {
        self.store
            .for_jobs(self.create_table, self.concurrency)
            .await
    }
}

/// The I/O runtime of the publish stages.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the I/O runtime")
}

/// Publishes `set` to `store` (only the groups `only_groups` when given),
/// then warms Redis with what the store now holds. A store failure is an
/// error; a Redis failure is a warning, recorded in `job`.
pub fn publish_and_warm(
    rt: &tokio::runtime::Runtime,
    store: &dyn ResultStore,
    settings: &PublishSettings,
    set: &ResultSet,
    only_groups: Option<&BTreeSet<usize>>,
    job: &mut JobReport,
) -> Result<()> {
    let started = Instant::now();
    let table = &settings.table;
    let bar = rows_bar("publishing", Some(set.groups.len() as u64));
    let published = rt.block_on(store.publish(set, only_groups, &|n| bar.inc(n)));
    bar.finish_and_clear();
    let stage_ok = published.is_ok();
    job.stages.push(Stage {
        name: "publish",
        seconds: started.elapsed().as_secs_f64(),
        rows: published.as_ref().map_or(0, |p| p.items_written),
        bytes: 0,
        ok: stage_ok,
    });
    let report = published.with_context(|| {
        format!(
            "cannot publish generation {} (as_of {}) to {table}; the live results are those of the last complete publish",
            set.generation(),
            set.as_of()
        )
    })?;
    let summary = |f: fn(&topsellers_store::VariantPublish) -> u64| {
        report.variants.iter().map(f).sum::<u64>()
    };
    let (new, replaced, unchanged, newer) = (
        summary(|v| v.new),
        summary(|v| v.replaced),
        summary(|v| v.unchanged),
        summary(|v| v.newer),
    );
    let rate = (new + replaced) as f64 / report.seconds.max(1e-9);
    match report.outcome {
        "no-op" => {
            tracing::info!(table = %table, generation = report.generation, unchanged, "no-op: this run is already live");
            // An incremental cycle hands over only the groups whose top
            // changed: say so, rather than "0 items unchanged" when none did.
            let why = match only_groups {
                Some(changed) if changed.is_empty() => {
                    format!("none of the {} tops changed", set.groups.len())
                }
                _ => format!("{unchanged} items unchanged"),
            };
            println!(
                "no-op: as_of {} (generation {}) is already live in {table}; nothing written ({why})",
                report.as_of, report.generation
            );
        }
        "stale" => {
            let live = report
                .variants
                .iter()
                .filter_map(|v| v.live_generation)
                .max();
            tracing::warn!(table = %table, generation = report.generation, live_generation = %live.map_or_else(|| "none".to_string(), |g| g.to_string()), "stale: a newer run is live; nothing changed");
            println!(
                "stale: as_of {} (generation {}) is older than the live generation {}; nothing changed",
                report.as_of,
                report.generation,
                live.map_or_else(|| "?".to_string(), |g| g.to_string())
            );
        }
        _ => {
            tracing::info!(
                table = %table, generation = report.generation, new, replaced, unchanged, newer_kept = newer,
                seconds = format!("{:.2}", report.seconds), items_per_s = format!("{rate:.0}"),
                "published to {}", settings.store.kind_name()
            );
            println!(
                "published as_of {} (generation {}) to {table}: {new} new, {replaced} replaced, {unchanged} unchanged, {newer} newer kept, {:.2} s",
                report.as_of, report.generation, report.seconds
            );
        }
    }
    print_leavers(&report, table);
    let live_groups = report.live_groups.clone();
    let left: Vec<String> = report
        .left
        .iter()
        .map(|(v, c)| cache::cache_key(v, c))
        .collect();
    let leavers_error = report.leavers_error.clone();
    job.publish = Some(report);
    if live_groups.is_empty() && left.is_empty() {
        tracing::info!("nothing of this run is live: the cache is left as it is");
    } else if let Some(redis) = &settings.redis {
        warm(rt, redis, set, &live_groups, &left, job);
    } else {
        tracing::info!("no Redis configured: the cache is not warmed");
    }
    if let Some(e) = leavers_error {
        anyhow::bail!(
            "published generation {} to {table}, but deleting the categories that left its results failed: {e}; the next publish deletes them",
            set.generation()
        );
    }
    Ok(())
}

/// Says, per variant, how many categories that left the results were
/// deleted (and kept because a newer run holds them); nothing when none left.
fn print_leavers(report: &topsellers_store::PublishReport, table: &str) {
    for v in &report.variants {
        if v.leavers_deleted + v.leavers_kept == 0 {
            continue;
        }
        tracing::info!(table = %table, variant = %v.variant, deleted = v.leavers_deleted, newer_kept = v.leavers_kept, "categories that left the results");
        println!(
            "variant {}: {} categories left the results: {} deleted from {table}, {} kept (a newer run holds them)",
            v.variant,
            v.leavers_deleted + v.leavers_kept,
            v.leavers_deleted,
            v.leavers_kept
        );
    }
}

/// Warms Redis with `groups` of `set`, then marks the keys of the leavers
/// (`left`: categories the store just deleted) with tombstones.
fn warm(
    rt: &tokio::runtime::Runtime,
    redis: &WarmOptions,
    set: &ResultSet,
    groups: &[usize],
    left: &[String],
    job: &mut JobReport,
) {
    let started = Instant::now();
    let entries = cache::entries(set, groups);
    let bytes = entries
        .iter()
        .map(|(k, b)| (k.len() + b.len()) as u64)
        .sum();
    let mut w = WarmReport::default();
    let result = rt.block_on(async {
        let warmed = cache::warm(redis, set.generation(), &entries, &mut w).await;
        let marked = cache::mark_leavers(redis, set.generation(), left, &mut w).await;
        warmed.and(marked)
    });
    job.stages.push(Stage {
        name: "cache",
        seconds: started.elapsed().as_secs_f64(),
        rows: w.keys,
        bytes,
        ok: result.is_ok(),
    });
    let error = match result {
        Ok(()) => {
            tracing::info!(server = %w.server, keys = w.keys, newer_kept = w.newer_kept, seconds = format!("{:.3}", w.seconds), "Redis warmed");
            if w.leavers_marked + w.leavers_newer_kept > 0 {
                tracing::info!(
                    marked = w.leavers_marked,
                    newer_kept = w.leavers_newer_kept,
                    "Redis: the keys of the categories that left the results hold tombstones"
                );
            }
            None
        }
        Err(e) if w.maybe_stale + w.leavers_unmarked == 0 => {
            tracing::warn!(error = %e, written = w.keys, deleted = w.deleted, "Redis warm-up failed; the keys not written were deleted, so the site reads them through from DynamoDB");
            Some(e.to_string())
        }
        Err(e) => {
            tracing::warn!(
                error = %e, written = w.keys, deleted = w.deleted, maybe_stale = w.maybe_stale, leavers_unmarked = w.leavers_unmarked,
                "Redis warm-up failed; {} keys could be neither written nor deleted, and {} keys of categories that left could not be marked gone: they may serve the previous run until their TTL (at most {} s)",
                w.maybe_stale, w.leavers_unmarked, w.ttl_s
            );
            Some(e.to_string())
        }
    };
    job.cache = Some(CacheOutcome {
        ok: error.is_none(),
        warm: Some(w),
        error,
    });
}

/// Writes the job's report and metrics where asked.
pub fn write_outputs(
    job: &JobReport,
    report: Option<&PathBuf>,
    metrics: Option<&PathBuf>,
) -> Result<()> {
    if let Some(path) = report {
        job.write_json(path)?;
    }
    if let Some(path) = metrics {
        job.write_metrics(path, super::now_ns())?;
    }
    Ok(())
}

/// `topsellers publish`.
pub fn run(a: &PublishArgs) -> Result<()> {
    let store = StoreChoice::new(
        StoreSettings {
            store: a.store.store.clone(),
            table: a.table.clone(),
            mysql_url: a.store.mysql_url.clone(),
            mysql_standby_url: a.store.mysql_standby_url.clone(),
            mysql_password_file: a.store.mysql_password_file.as_ref().map(PathBuf::from),
            mysql_ca_file: a.store.mysql_ca_file.as_ref().map(PathBuf::from),
        },
        std::env::var(PASSWORD_ENV).ok(),
    )?;
    let settings = PublishSettings::new(
        store,
        a.create_table,
        a.concurrency,
        a.redis.clone(),
        a.ttl,
        a.cache_ttl_jitter,
    )?;
    let mut job = JobReport {
        job: "publish",
        started_at: topsellers_lake::rfc3339(super::now_ns()),
        ..JobReport::default()
    };
    let result = (|| {
        let started = Instant::now();
        let set = read_results(&a.results)
            .with_context(|| format!("cannot read the results {}", a.results.display()))?;
        job.as_of = Some(set.as_of());
        job.stages.push(Stage {
            name: "read",
            seconds: started.elapsed().as_secs_f64(),
            rows: set.item_count(),
            bytes: std::fs::metadata(&a.results).map_or(0, |m| m.len()),
            ok: true,
        });
        if set.groups.is_empty() {
            anyhow::bail!(
                "{}: the results are empty; nothing to publish",
                a.results.display()
            );
        }
        let rt = runtime()?;
        let store = rt.block_on(settings.store())?;
        if a.dry_run {
            let diff = rt
                .block_on(store.diff(&set, DIFF_TOP))
                .with_context(|| format!("cannot compare with what {} holds", settings.table))?;
            super::run::dryrun::print(&set, &settings.table, &diff, None, false);
            return Ok(());
        }
        publish_and_warm(&rt, store.as_ref(), &settings, &set, None, &mut job)
    })();
    if a.dry_run {
        // A dry run changes nothing, its report and metrics included.
        return result;
    }
    job.status = if result.is_ok() { "success" } else { "failed" };
    job.error = result.as_ref().err().map(crate::error_text);
    job.finished_at = topsellers_lake::rfc3339(super::now_ns());
    let written = write_outputs(&job, a.report.as_ref(), a.metrics_file.as_ref());
    result?;
    written
}
