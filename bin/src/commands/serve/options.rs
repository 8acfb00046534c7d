//! `serve`'s settings: the `[serve]` table of a TOML file, overridden by
//! `TOPSELLERS_*` environment variables and flags (clap reads both), then
//! checked into one [`ServeOptions`].
//!
//! The table's keys are the flags' names with `_` for `-`
//! (`redis_timeout = "250ms"`); other tables of the file are ignored, so the
//! job's settings may live beside them. The A/B experiment is the
//! sub-table `[serve.experiment]` (`name`, `salt`, `arms = { fast = 10, … }`),
//! read as the settings `experiment_name`, `experiment_salt` and
//! `experiment_arms` (`"fast=10,…"`, in the order written).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use topsellers_serve::ReadPathOptions;
use topsellers_store::cache;

use super::super::compute::named_variants;
use super::super::store::{StoreChoice, StoreSettings, PASSWORD_ENV};
use super::super::UsageError;
use super::experiment::Experiment;
use super::listener::ConnLimits;
use super::request::check_variant;
use crate::cli::ServeArgs;
use crate::units::{parse_count, parse_duration_ns, parse_duration_or_zero_ns, parse_variant};
use topsellers_engine::Variant;

/// The validated settings of `serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The results store.
    pub store: StoreChoice,
    /// Longest wait for one store read attempt (DynamoDB: `dynamodb_timeout`,
    /// MySQL: `mysql_timeout`).
    pub store_timeout: Duration,
    /// The read path's caches and Redis timeouts.
    pub reads: ReadPathOptions,
    /// Variant of requests that name none.
    pub default_variant: String,
    /// Largest `limit`.
    pub max_limit: usize,
    /// `Cache-Control: max-age`, seconds.
    pub max_age_s: u64,
    /// Longest wait for in-flight requests at shutdown.
    pub drain: Duration,
    /// Longest a top-sellers request may take (then 503).
    pub request_timeout: Duration,
    /// Top-sellers requests served at once (more get 503 at once).
    pub max_in_flight: usize,
    /// Tokio worker threads (`None`: all cores).
    pub threads: Option<usize>,
    /// The header timeout and the cap on open connections.
    pub conns: ConnLimits,
    /// Longest a request body may take after its head.
    pub body_timeout: Duration,
    /// The A/B experiment, if any (its arms are checked against the
    /// published variants when serve starts).
    pub experiment: Option<Arc<Experiment>>,
    /// The backtest report (JSON or CSV) the page shows.
    pub backtest_report: Option<PathBuf>,
    /// The backtest chart (PNG) the page shows.
    pub backtest_chart: Option<PathBuf>,
    /// What `/v1/explain` reads (`None`: no lake configured).
    pub explain: Option<ExplainSource>,
}

/// The lake and variants of `/v1/explain`.
#[derive(Debug, Clone)]
pub struct ExplainSource {
    /// The local lake folder.
    pub lake: PathBuf,
    /// The variants explained, in order.
    pub variants: Vec<Variant>,
}

/// The `lake` and `variants` settings, checked: the lake must be a folder.
fn explain_source(merged: &Merged) -> Result<Option<ExplainSource>, UsageError> {
    let Some(lake) = merged.0.get("lake") else {
        return Ok(None);
    };
    let lake = PathBuf::from(lake);
    if !lake.is_dir() {
        return Err(UsageError(format!(
            "--lake {}: not a folder (serve explains from a local lake)",
            lake.display()
        )));
    }
    let variants = merged.parse("variants", |text| {
        let given = text
            .split(',')
            .map(|v| parse_variant(v.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        let variants = named_variants(&given).map_err(|e| e.0)?;
        for v in &variants {
            check_variant(&v.name)?;
        }
        Ok(variants)
    })?;
    Ok(Some(ExplainSource { lake, variants }))
}

/// Every setting with its default (`None`: required, or no default).
pub(crate) const SETTINGS: [(&str, Option<&str>); 35] = [
    ("listen", Some("127.0.0.1:8080")),
    ("table", None),
    ("store", Some("dynamodb")),
    ("mysql_url", None),
    ("mysql_standby_url", None),
    ("mysql_password_file", None),
    ("mysql_ca_file", None),
    ("mysql_timeout", Some("1s")),
    ("redis", None),
    ("default_variant", Some("default")),
    ("max_limit", Some("100")),
    ("max_age", Some("5s")),
    ("local_ttl", Some("2s")),
    ("negative_ttl", Some("1s")),
    ("local_keys", Some("100k")),
    ("redis_timeout", Some("250ms")),
    ("redis_backoff", Some("1s")),
    ("dynamodb_timeout", Some("1s")),
    ("cache_ttl", Some("24h")),
    ("cache_ttl_jitter", Some("0.1")),
    ("drain_timeout", Some("10s")),
    ("threads", None),
    ("request_timeout", Some("5s")),
    ("max_in_flight", Some("4096")),
    ("header_timeout", Some("10s")),
    ("idle_timeout", Some("60s")),
    ("body_timeout", Some("10s")),
    ("max_connections", Some("10000")),
    ("experiment_name", None),
    ("experiment_salt", None),
    ("experiment_arms", None),
    ("backtest_report", None),
    ("backtest_chart", None),
    ("lake", None),
    ("variants", Some("default=7d")),
];

/// The keys of `[serve.experiment]`, with the setting each is.
const EXPERIMENT_KEYS: [(&str, &str); 3] = [
    ("name", "experiment_name"),
    ("salt", "experiment_salt"),
    ("arms", "experiment_arms"),
];

/// The settings given by flag or environment, by key.
fn given(a: &ServeArgs) -> [Option<&String>; 35] {
    [
        a.listen.as_ref(),
        a.table.as_ref(),
        a.store.store.as_ref(),
        a.store.mysql_url.as_ref(),
        a.store.mysql_standby_url.as_ref(),
        a.store.mysql_password_file.as_ref(),
        a.store.mysql_ca_file.as_ref(),
        a.mysql_timeout.as_ref(),
        a.redis.as_ref(),
        a.default_variant.as_ref(),
        a.max_limit.as_ref(),
        a.max_age.as_ref(),
        a.local_ttl.as_ref(),
        a.negative_ttl.as_ref(),
        a.local_keys.as_ref(),
        a.redis_timeout.as_ref(),
        a.redis_backoff.as_ref(),
        a.dynamodb_timeout.as_ref(),
        a.cache_ttl.as_ref(),
        a.cache_ttl_jitter.as_ref(),
        a.drain_timeout.as_ref(),
        a.threads.as_ref(),
        a.request_timeout.as_ref(),
        a.max_in_flight.as_ref(),
        a.header_timeout.as_ref(),
        a.idle_timeout.as_ref(),
        a.body_timeout.as_ref(),
        a.max_connections.as_ref(),
        a.experiment_name.as_ref(),
        a.experiment_salt.as_ref(),
        a.experiment_arms.as_ref(),
        a.backtest_report.as_ref(),
        a.backtest_chart.as_ref(),
        a.lake.as_ref(),
        a.variants.as_ref(),
    ]
}

/// The `[serve]` table of `path`, every value as text.
fn read_config(path: &Path) -> Result<HashMap<String, String>, UsageError> {
    let bad = |what: String| UsageError(format!("{}: {what}", path.display()));
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    let doc: toml::Table = text.parse().map_err(|e| bad(format!("not TOML: {e}")))?;
    let Some(table) = doc.get("serve") else {
        return Err(bad("no [serve] table".into()));
    };
    let table = table
        .as_table()
        .ok_or_else(|| bad("serve is not a table".into()))?;
    let mut settings = HashMap::new();
    if let Some(experiment) = table.get("experiment") {
        settings.extend(read_experiment(experiment).map_err(bad)?);
    }
    for pair in table
        .iter()
        .filter(|(key, _)| key.as_str() != "experiment")
        .map(|(key, value)| {
            let key = canonical_key(key);
            if !SETTINGS.iter().any(|(k, _)| *k == key) {
                let known: Vec<&str> = SETTINGS.iter().map(|(k, _)| *k).collect();
                return Err(bad(format!(
                    "[serve] {key}: unknown setting (known: {})",
                    known.join(", ")
                )));
            }
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                other => {
                    return Err(bad(format!(
                        "[serve] {key} is {}, expected a string or a number",
                        other.type_str()
                    )))
                }
            };
            Ok((key.to_string(), text))
        })
    {
        let (key, text) = pair?;
        settings.insert(key, text);
    }
    Ok(settings)
}

/// The `[serve.experiment]` table as settings; its arms, an inline table
/// of weights, become `"variant=weight,…"` in the order written.
fn read_experiment(value: &toml::Value) -> Result<Vec<(String, String)>, String> {
    let table = value
        .as_table()
        .ok_or("[serve] experiment must be a table: [serve.experiment]")?;
    let mut out = Vec::new();
    for (key, value) in table {
        let Some((_, setting)) = EXPERIMENT_KEYS.iter().find(|(k, _)| k == key) else {
            return Err(format!(
                "[serve.experiment] {key}: unknown setting (known: name, salt, arms)"
            ));
        };
        let text = match (key.as_str(), value) {
            ("arms", toml::Value::Table(arms)) => {
                let mut pairs = Vec::new();
                for (arm, weight) in arms {
                    let weight = match weight {
                        toml::Value::Integer(i) => i.to_string(),
                        toml::Value::Float(f) => f.to_string(),
                        other => {
                            return Err(format!(
                                "[serve.experiment] arms.{arm} is {}, expected a percentage",
                                other.type_str()
                            ))
                        }
                    };
                    pairs.push(format!("{arm}={weight}"));
                }
                pairs.join(",")
            }
            (_, toml::Value::String(s)) => s.clone(),
            (_, other) => {
                return Err(format!(
                    "[serve.experiment] {key} is {}, expected {}",
                    other.type_str(),
                    if key == "arms" {
                        "a table like { fast = 10, default = 90 }"
                    } else {
                        "a string"
                    }
                ))
            }
        };
        out.push((setting.to_string(), text));
    }
    Ok(out)
}

/// Keys of the `[serve]` table that have a newer name, with that name.
pub(crate) const OLD_KEYS: [(&str, &str); 1] = [("ttl_jitter", "cache_ttl_jitter")];

/// A key's current name (an old one still reads).
fn canonical_key(key: &str) -> &str {
    OLD_KEYS
        .iter()
        .find(|(old, _)| *old == key)
        .map_or(key, |(_, new)| new)
}

/// The merged settings: flag or environment, else file, else default.
struct Merged(HashMap<&'static str, String>);

impl Merged {
    fn text(&self, key: &str) -> Result<&str, UsageError> {
        self.0.get(key).map(String::as_str).ok_or_else(|| {
            UsageError(format!(
                "--{} is required (or {}, or {key} in the [serve] table of --config)",
                key.replace('_', "-"),
                env_of(key)
            ))
        })
    }

    fn parse<T>(&self, key: &str, f: impl Fn(&str) -> Result<T, String>) -> Result<T, UsageError> {
        let text = self.text(key)?;
        f(text).map_err(|e| UsageError(format!("--{} {text:?}: {e}", key.replace('_', "-"))))
    }

    fn duration(&self, key: &str, zero: bool) -> Result<Duration, UsageError> {
        let parse = if zero {
            parse_duration_or_zero_ns
        } else {
            parse_duration_ns
        };
        self.parse(key, parse)
            .map(|ns| Duration::from_nanos(ns.max(0) as u64))
    }
}

/// The environment variable clap reads for `key`.
pub(crate) fn env_of(key: &str) -> String {
    match key {
        "listen"
        | "table"
        | "store"
        | "mysql_url"
        | "mysql_standby_url"
        | "mysql_password_file"
        | "mysql_ca_file"
        | "redis"
        | "cache_ttl"
        | "cache_ttl_jitter"
        | "threads"
        | "lake" => {
            format!("TOPSELLERS_{}", key.to_ascii_uppercase())
        }
        _ => format!("TOPSELLERS_SERVE_{}", key.to_ascii_uppercase()),
    }
}

/// A parser of numbers within `range`.
fn number<T>(range: std::ops::RangeInclusive<T>) -> impl Fn(&str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display,
{
    move |text| match text.trim().parse::<T>() {
        Ok(v) if range.contains(&v) => Ok(v),
        _ => Err(format!(
            "use a number from {} to {}",
            range.start(),
            range.end()
        )),
    }
}

impl ServeOptions {
    /// Merges and checks `serve`'s settings.
    pub fn from_args(a: &ServeArgs) -> Result<Self, UsageError> {
        let file = a
            .config
            .as_deref()
            .map(read_config)
            .transpose()?
            .unwrap_or_default();
        let merged = Merged(
            SETTINGS
                .iter()
                .zip(given(a))
                .filter_map(|((key, default), flag)| {
                    let text = flag
                        .cloned()
                        .or_else(|| file.get(*key).cloned())
                        .or_else(|| default.map(String::from))?;
                    Some((*key, text))
                })
                .collect(),
        );
        let listen = merged.parse("listen", |t| {
            t.parse::<SocketAddr>()
                .map_err(|_| "write an address and port, like 127.0.0.1:8080".to_string())
        })?;
        if merged.0.get("store").is_none_or(|s| s == "dynamodb") {
            merged.text("table")?;
        }
        let path = |key: &str| merged.0.get(key).map(PathBuf::from);
        let store = StoreChoice::new(
            StoreSettings {
                store: merged.0.get("store").cloned(),
                table: merged.0.get("table").cloned(),
                mysql_url: merged.0.get("mysql_url").cloned(),
                mysql_standby_url: merged.0.get("mysql_standby_url").cloned(),
                mysql_password_file: path("mysql_password_file"),
                mysql_ca_file: path("mysql_ca_file"),
            },
            std::env::var(PASSWORD_ENV).ok(),
        )?;
        let store_timeout = match store {
            StoreChoice::Dynamo { .. } => merged.duration("dynamodb_timeout", false)?,
            StoreChoice::Mysql(_) => merged.duration("mysql_timeout", false)?,
        };
        let redis = merged.text("redis")?;
        if !(redis.starts_with("redis://") || redis.starts_with("rediss://")) {
            return Err(UsageError(format!(
                "{}: a Redis URL looks like redis://HOST:PORT",
                cache::redacted(redis)
            )));
        }
        let default_variant = merged.parse("default_variant", |t| {
            check_variant(t).map(|()| t.to_string())
        })?;
        let threads = match merged.0.get("threads") {
            Some(_) => Some(merged.parse("threads", number(1..=1024usize))?),
            None => None,
        };
        let experiment = experiment(&merged)?;
        Ok(Self {
            listen,
            store,
            store_timeout,
            reads: ReadPathOptions {
                redis_timeout: merged.duration("redis_timeout", false)?,
                redis_backoff: merged.duration("redis_backoff", false)?,
                redis_ttl: merged.duration("cache_ttl", false)?,
                redis_ttl_jitter: merged.parse("cache_ttl_jitter", number(0.0..=0.9f64))?,
                local_ttl: merged.duration("local_ttl", true)?,
                negative_ttl: merged.duration("negative_ttl", true)?,
                local_capacity: merged
                    .parse("local_keys", parse_count)?
                    .clamp(1, 100_000_000) as usize,
                ..ReadPathOptions::new(redis)
            },
            default_variant,
            max_limit: merged.parse("max_limit", number(1..=1_000_000usize))?,
            max_age_s: merged.duration("max_age", true)?.as_secs(),
            drain: merged.duration("drain_timeout", false)?,
            threads,
            request_timeout: merged.duration("request_timeout", false)?,
            max_in_flight: merged.parse("max_in_flight", number(1..=1_000_000usize))?,
            conns: ConnLimits {
                header_timeout: merged.duration("header_timeout", false)?,
                idle_timeout: merged.duration("idle_timeout", false)?,
                max_connections: merged.parse("max_connections", number(1..=1_000_000usize))?,
            },
            body_timeout: merged.duration("body_timeout", false)?,
            experiment,
            backtest_report: path("backtest_report"),
            backtest_chart: path("backtest_chart"),
            explain: explain_source(&merged)?,
        })
    }
}

/// The experiment of the settings: none, or all three of name, salt and
/// arms, checked.
fn experiment(merged: &Merged) -> Result<Option<Arc<Experiment>>, UsageError> {
    let parts = EXPERIMENT_KEYS.map(|(_, setting)| merged.0.get(setting));
    let [Some(name), Some(salt), Some(arms)] = parts else {
        if let Some(i) = parts.iter().position(Option::is_none) {
            if parts.iter().any(Option::is_some) {
                let setting = EXPERIMENT_KEYS[i].1;
                return Err(UsageError(format!(
                    "the experiment has no {}: give --{} (or {}, or {} in [serve.experiment])",
                    EXPERIMENT_KEYS[i].0,
                    setting.replace('_', "-"),
                    env_of(setting),
                    EXPERIMENT_KEYS[i].0
                )));
            }
        }
        return Ok(None);
    };
    Experiment::new(name, salt, arms)
        .map(|e| Some(Arc::new(e)))
        .map_err(UsageError)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn options(args: &[&str]) -> Result<ServeOptions, UsageError> {
        let cli = Cli::try_parse_from([&["topsellers", "serve"], args].concat()).unwrap();
        let Command::Serve(a) = cli.command else {
            unreachable!("parsed as serve")
        };
        ServeOptions::from_args(&a)
    }

    #[test]
    fn flags_override_the_file_which_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topsellers.toml");
        std::fs::write(
            &path,
            "lake = \"s3://x/y\"\n[serve]\ntable = \"shop\"\nredis = \"redis://cache:6379\"\nlocal_ttl = \"0\"\nmax_limit = 50\nredis_timeout = \"100ms\"\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let o = options(&["--config", config, "--max-limit", "20"]).unwrap();
        assert_eq!(o.store.target(), "shop");
        assert_eq!(o.reads.redis_url, "redis://cache:6379");
        assert_eq!(o.reads.local_ttl, Duration::ZERO);
        assert_eq!(o.reads.redis_timeout, Duration::from_millis(100));
        assert_eq!(o.max_limit, 20, "the flag wins");
        assert_eq!(o.reads.negative_ttl, Duration::from_secs(1), "default");
        assert_eq!(o.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(o.default_variant, "default");
        assert_eq!(o.threads, None);
        assert_eq!(o.request_timeout, Duration::from_secs(5));
        assert_eq!(o.max_in_flight, 4096);
        assert_eq!(o.conns.header_timeout, Duration::from_secs(10));
        assert_eq!(o.conns.max_connections, 10_000);
        assert_eq!(o.conns.idle_timeout, Duration::from_secs(60));
        assert_eq!(o.body_timeout, Duration::from_secs(10));

        // An old key still reads, as its new name.
        std::fs::write(
            &path,
            "[serve]\ntable = \"shop\"\nredis = \"redis://r:1\"\nttl_jitter = 0.3\n",
        )
        .unwrap();
        let o = options(&["--config", config]).unwrap();
        assert_eq!(o.reads.redis_ttl_jitter, 0.3);

        std::fs::write(&path, "[serve]\ntabel = \"shop\"\n").unwrap();
        let e = options(&["--config", config]).unwrap_err().0;
        assert!(e.contains("tabel: unknown setting"), "{e}");
        std::fs::write(&path, "[serve]\nmax_limit = true\n").unwrap();
        let e = options(&["--config", config]).unwrap_err().0;
        assert!(e.contains("expected a string or a number"), "{e}");
    }

    #[test]
    fn the_experiment_table_and_its_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("topsellers.toml");
        std::fs::write(
            &path,
            "[serve]\ntable = \"shop\"\nredis = \"redis://r:1\"\n[serve.experiment]\nname = \"decay\"\nsalt = \"2026-11\"\narms = { slow = 10, default = 80, fast = 10 }\n",
        )
        .unwrap();
        let config = path.to_str().unwrap();
        let o = options(&["--config", config]).unwrap();
        let e = o.experiment.unwrap();
        assert_eq!(e.name, "decay");
        let arms: Vec<(&str, u32)> = e
            .arms
            .iter()
            .map(|a| (a.variant.as_str(), a.buckets))
            .collect();
        assert_eq!(
            arms,
            [("slow", 1000), ("default", 8000), ("fast", 1000)],
            "in the order written"
        );
        let o = options(&["--config", config, "--experiment-arms", "default=100"]).unwrap();
        assert_eq!(o.experiment.unwrap().arms.len(), 1, "the flag wins");
        for (toml, why) in [
            (
                "arms = { a = 50, b = 40 }\nname = \"x\"\nsalt = \"s\"",
                "sum to 90%",
            ),
            (
                "arms = { a = 100 }\nname = \"x\"\nsalt = \"\"",
                "salt must be 1 to 256",
            ),
            (
                "arms = { a = 100 }\nname = \"x\"",
                "the experiment has no salt: give --experiment-salt",
            ),
            (
                "arms = { a = \"x\" }\nname = \"x\"\nsalt = \"s\"",
                "arms.a is string",
            ),
            (
                "arms = [1]\nname = \"x\"\nsalt = \"s\"",
                "expected a table like",
            ),
            ("weights = { a = 100 }", "weights: unknown setting"),
        ] {
            std::fs::write(
                &path,
                format!("[serve]\ntable = \"shop\"\nredis = \"redis://r:1\"\n[serve.experiment]\n{toml}\n"),
            )
            .unwrap();
            let e = options(&["--config", config]).unwrap_err().0;
            assert!(e.contains(why), "{toml}: {e}");
        }
    }

    #[test]
    fn missing_and_bad_settings_are_named() {
        let e = options(&["--redis", "redis://r:1"]).unwrap_err().0;
        assert!(
            e.contains("--table is required") && e.contains("TOPSELLERS_TABLE"),
            "{e}"
        );
        let base = ["--table", "shop", "--redis", "redis://r:1"];
        for (extra, why) in [
            (
                ["--cache-ttl-jitter", "2"],
                "--cache-ttl-jitter \"2\": use a number from 0 to 0.9",
            ),
            (
                ["--ttl-jitter", "2"],
                "--cache-ttl-jitter \"2\": use a number from 0 to 0.9",
            ),
            (["--threads", "0"], "from 1 to 1024"),
            (["--max-in-flight", "0"], "from 1 to 1000000"),
            (["--max-connections", "0"], "from 1 to 1000000"),
            (["--header-timeout", "0"], "--header-timeout \"0\""),
            (["--body-timeout", "soon"], "--body-timeout \"soon\""),
            (["--request-timeout", "0"], "--request-timeout \"0\""),
            (["--redis-timeout", "0"], "--redis-timeout \"0\""),
            (["--local-ttl", "soon"], "--local-ttl \"soon\""),
        ] {
            let e = options(&[&base[..], &extra[..]].concat()).unwrap_err().0;
            assert!(e.contains(why), "{extra:?}: {e}");
        }
        let o = options(&[&base[..], &["--local-ttl", "0", "--threads", "2"]].concat()).unwrap();
        assert_eq!((o.reads.local_ttl, o.threads), (Duration::ZERO, Some(2)));
    }
}
