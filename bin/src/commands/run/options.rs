//! `run`'s settings validated into one options struct, with the defaults.

use std::path::PathBuf;
use std::time::Duration;

use topsellers_s3::SyncOptions;
use topsellers_store::Thresholds;

use super::super::compute::ComputeOptions;
use super::super::publish::PublishSettings;
use super::super::store::{StoreChoice, StoreSettings, PASSWORD_ENV};
use super::super::UsageError;
use super::config::{env_name, RunConfig};
use crate::cli::{ComputeArgs, LogFormat, RunArgs, ScoringArgs};
use crate::units::{parse_duration_ns, parse_variant};

/// Everything a `run` needs, validated.
#[derive(Debug)]
pub struct RunOptions {
    /// The S3 lake to sync first, if the lake is in S3.
    pub sync: Option<SyncOptions>,
    /// The compute (its own report and metrics off: the run writes both).
    pub compute: ComputeOptions,
    /// The store and Redis.
    pub publish: PublishSettings,
    /// Validation thresholds.
    pub thresholds: Thresholds,
    /// Publish despite validation refusals.
    pub force: bool,
    /// Compare with what is live, publish nothing.
    pub dry_run: bool,
    /// Positions compared per category in a dry run.
    pub diff_top: usize,
    /// The run lock.
    pub lock_file: PathBuf,
    /// The run report (JSON).
    pub report: Option<PathBuf>,
    /// Prometheus textfile metrics.
    pub metrics_file: Option<PathBuf>,
    /// Incremental cycles instead of full recomputes.
    pub incremental: Option<IncrementalSettings>,
    /// The store's run lease.
    pub lease: LeaseSettings,
}

/// How `run` takes the store's lease (README, *Two hosts*).
#[derive(Debug, Clone)]
pub struct LeaseSettings {
    /// This host's name in the lease.
    pub host_id: String,
    /// How long the lease lasts unless renewed.
    pub ttl: Duration,
}

impl LeaseSettings {
    /// How long a run waits for a lease another host holds: long enough
    /// for a dead holder's lease to expire (its TTL and the clock margin).
    pub fn wait(&self) -> Duration {
        self.ttl + topsellers_store::lease::CLOCK_SKEW + Duration::from_secs(1)
    }
}

/// This machine's hostname, the default host id.
fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: `buf` is writable for its whole length, which is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// The lease settings, checked: a TTL from 1 s to 1 h, a host id of 1 to
/// 255 printable characters.
fn lease_settings(ttl: Option<&str>, host_id: Option<String>) -> Result<LeaseSettings, UsageError> {
    let ns = duration("lease_ttl", ttl, "60s")?;
    if !(1_000_000_000..=3_600_000_000_000).contains(&ns) {
        return Err(UsageError(format!(
            "lease_ttl = {}: use 1s to 1h",
            ttl.unwrap_or("60s")
        )));
    }
    let host_id = match host_id {
        Some(h) => h,
        None => hostname().ok_or_else(|| {
            UsageError(
                "host_id is not set and the hostname cannot be read: set host_id (--host-id)"
                    .into(),
            )
        })?,
    };
    let printable = host_id.chars().all(|c| !c.is_control());
    if host_id.trim().is_empty() || host_id.chars().count() > 255 || !printable {
        return Err(UsageError(format!(
            "host_id = {host_id:?}: use 1 to 255 printable characters, unique per host"
        )));
    }
    Ok(LeaseSettings {
        host_id,
        ttl: Duration::from_nanos(ns.unsigned_abs()),
    })
}

/// How an incremental run keeps and checks its state.
#[derive(Debug, Clone)]
pub struct IncrementalSettings {
    /// The state file.
    pub state_file: PathBuf,
    /// Recompute in full beside the cycle and fail on any difference.
    pub verify: bool,
    /// Publish a category again when its live top is older than this, even
    /// if its items did not change (its scores did).
    pub republish_after_ns: i64,
}

fn missing(key: &str, flag: &str) -> UsageError {
    UsageError(format!(
        "{key} is not set: give it in the config file ({key} = …), as {} or as {flag}",
        env_name(key)
    ))
}

fn duration(key: &str, value: Option<&str>, default: &str) -> Result<i64, UsageError> {
    parse_duration_ns(value.unwrap_or(default)).map_err(|e| UsageError(format!("{key}: {e}")))
}

fn fraction(key: &str, value: Option<f64>, default: f64) -> Result<f64, UsageError> {
    let v = value.unwrap_or(default);
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(UsageError(format!(
            "{key} = {v}: use a fraction from 0 to 1"
        )))
    }
}

/// A `log_format` value.
pub fn log_format(text: &str) -> Option<LogFormat> {
    match text {
        "text" => Some(LogFormat::Text),
        "json" => Some(LogFormat::Json),
        _ => None,
    }
}

impl RunOptions {
    /// Validates merged settings; every failure is a usage error.
    pub fn from_config(c: RunConfig, a: &RunArgs) -> Result<Self, UsageError> {
        if let Some(f) = &c.log_format {
            log_format(f).ok_or_else(|| {
                UsageError(format!("log_format = {f:?}: use \"text\" or \"json\""))
            })?;
        }
        let top = c.top.unwrap_or(100);
        if !(1..=1_000_000).contains(&top) {
            return Err(UsageError(format!("top = {top}: use 1 to 1000000")));
        }
        if c.min_items == Some(0) {
            return Err(UsageError(
                "min_items = 0: a window needs at least 1 item".into(),
            ));
        }
        let variants = c
            .variants
            .unwrap_or_else(|| vec!["default=7d".to_string()])
            .iter()
            .map(|v| parse_variant(v).map_err(|e| UsageError(format!("variants: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        if variants.is_empty() {
            return Err(UsageError(
                "variants is empty: name at least one, like \"default=7d\"".into(),
            ));
        }
        let out = c.out.ok_or_else(|| missing("out", "--out"))?;
        let args = ComputeArgs {
            lake: c.lake.ok_or_else(|| missing("lake", "--lake"))?,
            cache_dir: c
                .cache_dir
                .unwrap_or_else(|| PathBuf::from("/var/cache/topsellers")),
            as_of: c.as_of,
            half_life: None,
            lambda: None,
            variant: variants,
            scoring: ScoringArgs {
                window: duration("window", c.window.as_deref(), "30d")?,
                max_window: duration("max_window", c.max_window.as_deref(), "365d")?,
                min_items: c.min_items,
                top,
                item_column: c.item_column.unwrap_or_else(|| "item_id".into()),
                ts_column: c.ts_column.unwrap_or_else(|| "ts".into()),
                quantity_column: c.quantity_column.unwrap_or_else(|| "quantity".into()),
            },
            out: out.clone(),
            report: None,
            metrics_file: None,
            threads: c.threads,
            arrow_decoder: false,
            follow_symlinks: c.follow_symlinks.unwrap_or(false),
        };
        let mut compute = ComputeOptions::from_args(&args)?;
        let mut sync = compute.source.take();
        if let Some(s) = &mut sync {
            s.concurrency = c.sync_concurrency.unwrap_or(32).max(1);
        }
        if c.store.as_deref().is_none_or(|s| s == "dynamodb") && c.table.is_none() {
            return Err(missing("table", "--table"));
        }
        let store = StoreChoice::new(
            StoreSettings {
                store: c.store,
                table: c.table,
                mysql_url: c.mysql_url,
                mysql_standby_url: c.mysql_standby_url,
                mysql_password_file: c.mysql_password_file,
                mysql_ca_file: c.mysql_ca_file,
            },
            std::env::var(PASSWORD_ENV).ok(),
        )?;
        let publish = PublishSettings::new(
            store,
            c.create_table.unwrap_or(false),
            c.concurrency.unwrap_or(16),
            c.redis,
            duration("cache_ttl", c.cache_ttl.as_deref(), "24h")?,
            c.cache_ttl_jitter.unwrap_or(0.1),
        )?;
        let lock_file = c.lock_file.unwrap_or_else(|| {
            out.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), PathBuf::from)
                .join(".topsellers-run.lock")
        });
        let incremental = if c.incremental.unwrap_or(false) {
            let state_file = c.state_file.unwrap_or_else(|| {
                let lake = &compute.lake;
                let name = lake
                    .file_name()
                    .map_or_else(|| "lake".into(), |n| n.to_string_lossy().into_owned());
                lake.with_file_name(format!("{name}.topsellers-state"))
            });
            // An incremental cycle lists only the last days of partitions
            // in S3; a full run lists everything.
            let days = c.incremental_sync_days.unwrap_or(2);
            if let (Some(s), true) = (&mut sync, days > 0) {
                let as_of =
                    chrono::DateTime::from_timestamp_nanos(compute.plan.as_of_ns).date_naive();
                s.recent_from = as_of.checked_sub_days(chrono::Days::new(days - 1));
            }
            Some(IncrementalSettings {
                state_file,
                verify: c.verify.unwrap_or(false),
                republish_after_ns: duration(
                    "republish_after",
                    c.republish_after.as_deref(),
                    "1h",
                )?,
            })
        } else if c.verify.unwrap_or(false) {
            return Err(UsageError(
                "verify = true needs incremental = true (--verify checks an incremental cycle)"
                    .into(),
            ));
        } else {
            None
        };
        Ok(Self {
            lease: lease_settings(c.lease_ttl.as_deref(), c.host_id)?,
            incremental,
            sync,
            compute,
            publish,
            thresholds: Thresholds {
                max_category_drop: fraction("max_category_drop", c.max_category_drop, 0.2)?,
                max_counted_drop: fraction("max_counted_drop", c.max_counted_drop, 0.5)?,
            },
            force: a.force,
            dry_run: a.dry_run,
            diff_top: c.diff_top.unwrap_or(10),
            lock_file,
            report: c.report,
            metrics_file: c.metrics_file,
        })
    }
}
