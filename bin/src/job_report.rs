//! The report of a `run` or `publish` job: status, per-stage figures and
//! the reports of each stage, as JSON and as Prometheus textfile metrics.
//!
//! Two metrics outlive a single job: `topsellers_last_success_timestamp_seconds`
//! (set only by a successful job, kept as it was by a failed one) and the
//! failure counters. They are carried over from the metrics file the
//! previous job wrote, which is always written whole (atomically).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use topsellers_lake::{previous_sample, write_atomically, LakeError, RunReport};
use topsellers_s3::SyncReport;
use topsellers_store::cache::WarmReport;
use topsellers_store::{Manifest, PublishReport, Refusal, VariantDiff};

/// One stage of a job.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// `sync`, `compute`, `validate`, `publish`, `cache`, …
    pub name: &'static str,
    /// Seconds taken.
    pub seconds: f64,
    /// Rows (or items, keys) the stage handled.
    pub rows: u64,
    /// Bytes the stage moved.
    pub bytes: u64,
    /// Whether it succeeded.
    pub ok: bool,
}

/// The audit of a run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Validation {
    /// The live manifests compared with.
    pub live: Vec<Manifest>,
    /// What the checks found (empty when the run passed).
    pub refusals: Vec<Refusal>,
    /// Whether `--force` published despite refusals.
    pub forced: bool,
}

/// What warming Redis did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CacheOutcome {
    /// Whether every key was written.
    pub ok: bool,
    /// The figures (after a failure: what was written, then deleted or
    /// left before it).
    pub warm: Option<WarmReport>,
    /// The failure, when it did not (the job still succeeds).
    pub error: Option<String>,
}

/// A job's report.
#[derive(Debug, Default, Serialize)]
pub struct JobReport {
    /// `run` or `publish`.
    pub job: &'static str,
    /// `success`, `refused` (validation), `failed` or `dry_run`.
    pub status: &'static str,
    /// The error that ended a failed or refused job.
    pub error: Option<String>,
    /// When the job started (RFC 3339).
    pub started_at: String,
    /// When it ended.
    pub finished_at: String,
    /// The run's `as_of`, once known.
    pub as_of: Option<String>,
    /// Per stage, in order.
    pub stages: Vec<Stage>,
    /// The sync, when the lake is in S3.
    pub sync: Option<SyncReport>,
    /// The compute.
    pub compute: Option<RunReport>,
    /// The incremental cycle, when the run is incremental.
    pub incremental: Option<topsellers_lake::incremental::CycleReport>,
    /// The audit.
    pub validation: Option<Validation>,
    /// What a dry run would change.
    pub diff: Option<Vec<VariantDiff>>,
    /// The DynamoDB publish.
    pub publish: Option<PublishReport>,
    /// The Redis warm-up.
    pub cache: Option<CacheOutcome>,
}

impl JobReport {
    /// Writes the report as pretty JSON, atomically.
    pub fn write_json(&self, path: &Path) -> Result<(), LakeError> {
        write_atomically(path, |w| {
            serde_json::to_writer_pretty(&mut *w, self).map_err(|e| e.to_string())?;
            w.write_all(b"\n").map_err(|e| e.to_string())
        })
    }

    /// The job's metrics; `previous` is the text of the last metrics file
    /// (empty when none), from which the success time and counters carry on.
    pub fn prometheus(&self, previous: &str, now_s: f64) -> String {
        let mut m = String::new();
        let mut metric = |name: &str, help: &str, kind: &str, samples: &[(String, f64)]| {
            let _ = writeln!(
                m,
                "# HELP topsellers_{name} {help}\n# TYPE topsellers_{name} {kind}"
            );
            for (labels, v) in samples {
                let _ = writeln!(m, "topsellers_{name}{labels} {v}");
            }
        };
        let one = |v: f64| vec![(String::new(), v)];
        let by = |label: &str, values: Vec<(String, f64)>| -> Vec<(String, f64)> {
            values
                .into_iter()
                .map(|(k, v)| (format!("{{{label}=\"{k}\"}}"), v))
                .collect()
        };
        let job = self.job;
        let carried = |name: &str| previous_sample(previous, &format!("topsellers_{name}"));
        let success = self.status == "success";
        let failed = matches!(self.status, "failed" | "refused");
        metric(
            &format!("{job}_success"),
            "1 when the last job succeeded, 0 when it failed or was refused.",
            "gauge",
            &one(if success { 1.0 } else { 0.0 }),
        );
        metric(
            &format!("{job}_refused"),
            "1 when validation refused the last run's results.",
            "gauge",
            &one(if self.status == "refused" { 1.0 } else { 0.0 }),
        );
        let failures = carried(&format!("{job}_failures_total")).unwrap_or(0.0);
        metric(
            &format!("{job}_failures_total"),
            "Jobs that failed or were refused (carried over from the previous metrics file).",
            "counter",
            &one(failures + if failed { 1.0 } else { 0.0 }),
        );
        metric(
            &format!("last_{job}_timestamp_seconds"),
            "When the last job ended.",
            "gauge",
            &one(now_s),
        );
        let last_success = if success {
            Some(now_s)
        } else {
            carried("last_success_timestamp_seconds")
        };
        if let Some(t) = last_success {
            metric(
                "last_success_timestamp_seconds",
                "When a job last succeeded (kept as it was by failed jobs).",
                "gauge",
                &one(t),
            );
        }
        let stage = |f: fn(&Stage) -> f64| {
            by(
                "stage",
                self.stages
                    .iter()
                    .map(|s| (s.name.to_string(), f(s)))
                    .collect(),
            )
        };
        metric(
            &format!("{job}_stage_seconds"),
            "Seconds per stage of the last job.",
            "gauge",
            &stage(|s| s.seconds),
        );
        metric(
            &format!("{job}_stage_rows"),
            "Rows, items or keys per stage of the last job.",
            "gauge",
            &stage(|s| s.rows as f64),
        );
        metric(
            &format!("{job}_stage_bytes"),
            "Bytes per stage of the last job.",
            "gauge",
            &stage(|s| s.bytes as f64),
        );
        if let Some(p) = &self.publish {
            let sum = |f: fn(&topsellers_store::VariantPublish) -> u64| {
                p.variants.iter().map(f).sum::<u64>() as f64
            };
            metric(
                "published_items",
                "DynamoDB items of the last publish, by what happened to them.",
                "gauge",
                &by(
                    "state",
                    vec![
                        ("new".into(), sum(|v| v.new)),
                        ("replaced".into(), sum(|v| v.replaced)),
                        ("unchanged".into(), sum(|v| v.unchanged)),
                        ("newer_kept".into(), sum(|v| v.newer)),
                    ],
                ),
            );
            metric(
                "published_leavers",
                "Categories that left the results at the last publish: deleted, or kept because a newer run holds them.",
                "gauge",
                &by(
                    "state",
                    vec![
                        ("deleted".into(), sum(|v| v.leavers_deleted)),
                        ("newer_kept".into(), sum(|v| v.leavers_kept)),
                    ],
                ),
            );
            metric(
                "published_generation",
                "Generation (as_of, epoch ms) of the last publish.",
                "gauge",
                &one(p.generation as f64),
            );
        }
        if let Some(c) = &self.cache {
            metric(
                "cache_warm_success",
                "1 when the last publish warmed Redis, 0 when Redis failed.",
                "gauge",
                &one(if c.ok { 1.0 } else { 0.0 }),
            );
            let errors = carried("cache_warm_failures_total").unwrap_or(0.0);
            metric(
                "cache_warm_failures_total",
                "Publishes whose Redis warm-up failed.",
                "counter",
                &one(errors + if c.ok { 0.0 } else { 1.0 }),
            );
            metric(
                "cache_keys_warmed",
                "Redis keys written by the last publish.",
                "gauge",
                &one(c.warm.as_ref().map_or(0.0, |w| w.keys as f64)),
            );
        }
        m
    }

    /// Writes the metrics file atomically, with the compute's metrics (when
    /// the job computed) followed by the job's.
    ///
    /// An incremental run names every metric `topsellers_fresh_…` instead of
    /// `topsellers_…`, so that node_exporter can collect the cycles' file
    /// beside the full runs' without two series of one name, and each job's
    /// last success alerts on its own.
    pub fn write_metrics(&self, path: &Path, now_ns: i64) -> Result<(), LakeError> {
        let fresh = self.incremental.is_some();
        let rename = |text: &str, from: &str, to: &str| -> String {
            text.lines()
                .map(|l| {
                    let (lead, rest) = match l.strip_prefix("# HELP ").or(l.strip_prefix("# TYPE "))
                    {
                        Some(rest) => (&l[..7], rest),
                        None => ("", l),
                    };
                    match rest.strip_prefix(from) {
                        Some(tail) => format!("{lead}{to}{tail}\n"),
                        None => format!("{l}\n"),
                    }
                })
                .collect()
        };
        let mut previous = std::fs::read_to_string(path).unwrap_or_default();
        if fresh {
            previous = rename(&previous, "topsellers_fresh_", "topsellers_");
        }
        let mut text = String::new();
        if let Some(c) = &self.compute {
            let as_of_ns = topsellers_lake::parse_rfc3339(&c.as_of).unwrap_or(0);
            text.push_str(&c.prometheus(as_of_ns, now_ns));
        }
        text.push_str(&self.prometheus(&previous, now_ns as f64 / 1e9));
        if fresh {
            text = rename(&text, "topsellers_", "topsellers_fresh_");
        }
        write_atomically(path, |w| {
            w.write_all(text.as_bytes()).map_err(|e| e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incremental_runs_write_fresh_metrics_and_carry_their_success_over() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("fresh.prom");
        let mut job = JobReport {
            job: "run",
            status: "success",
            incremental: Some(topsellers_lake::incremental::CycleReport::default()),
            ..JobReport::default()
        };
        job.write_metrics(&path, 100_000_000_000)
            .unwrap_or_else(|e| panic!("{e}"));
        job.status = "failed";
        job.write_metrics(&path, 200_000_000_000)
            .unwrap_or_else(|e| panic!("{e}"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            text.lines()
                .all(|l| !l.starts_with("topsellers_") || l.starts_with("topsellers_fresh_")),
            "{text}"
        );
        assert!(
            text.contains("# TYPE topsellers_fresh_run_success gauge"),
            "{text}"
        );
        assert_eq!(
            previous_sample(&text, "topsellers_fresh_last_success_timestamp_seconds"),
            Some(100.0)
        );
        assert_eq!(
            previous_sample(&text, "topsellers_fresh_run_failures_total"),
            Some(1.0)
        );
    }

    #[test]
    fn success_time_survives_failures() {
        let mut job = JobReport {
            job: "run",
            status: "success",
            ..JobReport::default()
        };
        let first = job.prometheus("", 100.0);
        assert_eq!(
            previous_sample(&first, "topsellers_last_success_timestamp_seconds"),
            Some(100.0)
        );
        assert_eq!(
            previous_sample(&first, "topsellers_run_failures_total"),
            Some(0.0)
        );
        job.status = "failed";
        let second = job.prometheus(&first, 200.0);
        assert_eq!(
            previous_sample(&second, "topsellers_last_success_timestamp_seconds"),
            Some(100.0)
        );
        assert_eq!(
            previous_sample(&second, "topsellers_last_run_timestamp_seconds"),
            Some(200.0)
        );
        assert_eq!(
            previous_sample(&second, "topsellers_run_success"),
            Some(0.0)
        );
        job.status = "refused";
        let third = job.prometheus(&second, 300.0);
        assert_eq!(
            previous_sample(&third, "topsellers_run_failures_total"),
            Some(2.0)
        );
        assert_eq!(previous_sample(&third, "topsellers_run_refused"), Some(1.0));
        assert!(JobReport {
            job: "run",
            status: "failed",
            ..JobReport::default()
        }
        .prometheus("", 1.0)
        .lines()
        .all(|l| !l.starts_with("topsellers_last_success")));
    }
}
