//! `run`'s settings: a TOML file, overridden by `TOPSELLERS_*` environment
//! variables, overridden by command-line flags, then validated into one
//! [`RunOptions`](super::RunOptions).
//!
//! Every key of the file has the environment variable `TOPSELLERS_<KEY>`
//! (upper case); list values in the environment are comma-separated
//! (`TOPSELLERS_VARIANTS=default=7d,fast=1d`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::{Table, Value};

use super::super::UsageError;
use crate::cli::RunArgs;

/// The type of a setting, for reading it from the environment.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Int,
    Float,
    Bool,
    List,
}

/// Every setting of the file, with its type.
pub(crate) const KEYS: [(&str, Kind); 40] = [
    ("lake", Kind::Str),
    ("cache_dir", Kind::Str),
    ("as_of", Kind::Str),
    ("variants", Kind::List),
    ("window", Kind::Str),
    ("max_window", Kind::Str),
    ("min_items", Kind::Int),
    ("top", Kind::Int),
    ("item_column", Kind::Str),
    ("ts_column", Kind::Str),
    ("quantity_column", Kind::Str),
    ("threads", Kind::Int),
    ("out", Kind::Str),
    ("report", Kind::Str),
    ("metrics_file", Kind::Str),
    ("lock_file", Kind::Str),
    ("log_format", Kind::Str),
    ("table", Kind::Str),
    ("store", Kind::Str),
    ("mysql_url", Kind::Str),
    ("mysql_standby_url", Kind::Str),
    ("mysql_password_file", Kind::Str),
    ("mysql_ca_file", Kind::Str),
    ("create_table", Kind::Bool),
    ("concurrency", Kind::Int),
    ("redis", Kind::Str),
    ("cache_ttl", Kind::Str),
    ("cache_ttl_jitter", Kind::Float),
    ("max_category_drop", Kind::Float),
    ("max_counted_drop", Kind::Float),
    ("diff_top", Kind::Int),
    ("sync_concurrency", Kind::Int),
    ("follow_symlinks", Kind::Bool),
    ("incremental", Kind::Bool),
    ("verify", Kind::Bool),
    ("state_file", Kind::Str),
    ("republish_after", Kind::Str),
    ("incremental_sync_days", Kind::Int),
    ("lease_ttl", Kind::Str),
    ("host_id", Kind::Str),
];

/// The merged settings, before validation. Every key is optional here;
/// [`super::RunOptions::from_config`] applies defaults and checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    pub lake: Option<String>,
    pub cache_dir: Option<PathBuf>,
    pub as_of: Option<String>,
    pub variants: Option<Vec<String>>,
    pub window: Option<String>,
    pub max_window: Option<String>,
    pub min_items: Option<u64>,
    pub top: Option<u64>,
    pub item_column: Option<String>,
    pub ts_column: Option<String>,
    pub quantity_column: Option<String>,
    pub threads: Option<usize>,
    pub out: Option<PathBuf>,
    pub report: Option<PathBuf>,
    pub metrics_file: Option<PathBuf>,
    pub lock_file: Option<PathBuf>,
    pub log_format: Option<String>,
    pub table: Option<String>,
    pub store: Option<String>,
    pub mysql_url: Option<String>,
    pub mysql_standby_url: Option<String>,
    pub mysql_password_file: Option<PathBuf>,
    pub mysql_ca_file: Option<PathBuf>,
    pub create_table: Option<bool>,
    pub concurrency: Option<usize>,
    pub redis: Option<String>,
    pub cache_ttl: Option<String>,
    pub cache_ttl_jitter: Option<f64>,
    pub max_category_drop: Option<f64>,
    pub max_counted_drop: Option<f64>,
    pub diff_top: Option<usize>,
    pub sync_concurrency: Option<usize>,
    pub incremental: Option<bool>,
    pub verify: Option<bool>,
    pub state_file: Option<PathBuf>,
    pub republish_after: Option<String>,
    pub incremental_sync_days: Option<u64>,
    pub follow_symlinks: Option<bool>,
    pub lease_ttl: Option<String>,
    pub host_id: Option<String>,
}

/// The environment variable of a key.
pub fn env_name(key: &str) -> String {
    format!("TOPSELLERS_{}", key.to_ascii_uppercase())
}

fn env_value(key: &str, kind: Kind, text: &str) -> Result<Value, UsageError> {
    let bad = |what: &str| UsageError(format!("{}={text:?}: {what}", env_name(key)));
    Ok(match kind {
        Kind::Str => Value::String(text.to_string()),
        Kind::Int => Value::Integer(text.trim().parse().map_err(|_| bad("not an integer"))?),
        Kind::Float => Value::Float(text.trim().parse().map_err(|_| bad("not a number"))?),
        Kind::Bool => Value::Boolean(match text.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" | "" => false,
            _ => return Err(bad("not true or false")),
        }),
        Kind::List => Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_string()))
                .collect(),
        ),
    })
}

/// Checks every key against [`KEYS`], naming the first unknown or mistyped one.
fn check_types(table: &mut Table) -> Result<(), String> {
    for (key, value) in table.iter_mut() {
        let Some((_, kind)) = KEYS.iter().find(|(k, _)| k == key) else {
            let known: Vec<&str> = KEYS.iter().map(|(k, _)| *k).collect();
            return Err(format!(
                "unknown setting {key:?} (known: {})",
                known.join(", ")
            ));
        };
        let (ok, want) = match kind {
            Kind::Str => (value.is_str(), "a string"),
            Kind::Int if value.is_integer() => (
                value.as_integer().is_some_and(|i| i >= 0),
                "a whole number, not negative",
            ),
            Kind::Int => (false, "a whole number"),
            Kind::Float => (value.is_float() || value.is_integer(), "a number"),
            Kind::Bool => (value.is_bool(), "true or false"),
            Kind::List => (
                value
                    .as_array()
                    .is_some_and(|a| a.iter().all(Value::is_str)),
                "a list of strings",
            ),
        };
        if !ok {
            return Err(format!(
                "{key} = {}: expected {want}, found {} {}",
                as_written(value),
                if value.type_str().starts_with(['a', 'i']) {
                    "an"
                } else {
                    "a"
                },
                value.type_str()
            ));
        }
        if let (Kind::Float, Some(i)) = (kind, value.as_integer()) {
            *value = Value::Float(i as f64);
        }
    }
    Ok(())
}

/// A scalar value as TOML writes it (`"100"`, `-1`, `true`); `…` for a
/// table or a list.
fn as_written(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Boolean(b) => b.to_string(),
        Value::Datetime(d) => d.to_string(),
        Value::Array(_) | Value::Table(_) => "…".to_string(),
    }
}

/// Reads the file (when given) into a table.
fn read_file(path: &Path) -> Result<Table, UsageError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("{}: cannot read the config: {e}", path.display())))?;
    text.parse::<Table>()
        .map_err(|e| UsageError(format!("{}: not valid TOML: {e}", path.display())))
}

/// The flags given on the command line, as table values.
fn flags(a: &RunArgs) -> Vec<(&'static str, Value)> {
    let s = |v: &Option<String>| v.clone().map(Value::String);
    let p = |v: &Option<PathBuf>| v.as_ref().map(|p| Value::String(p.display().to_string()));
    [
        ("lake", s(&a.lake)),
        ("as_of", s(&a.as_of)),
        ("out", p(&a.out)),
        ("report", p(&a.report)),
        ("metrics_file", p(&a.metrics_file)),
        ("lock_file", p(&a.lock_file)),
        ("table", s(&a.table)),
        ("store", s(&a.store)),
        ("mysql_url", s(&a.mysql_url)),
        ("mysql_standby_url", s(&a.mysql_standby_url)),
        ("mysql_password_file", p(&a.mysql_password_file)),
        ("mysql_ca_file", p(&a.mysql_ca_file)),
        ("redis", s(&a.redis)),
        ("threads", a.threads.map(|t| Value::Integer(t as i64))),
        (
            "create_table",
            a.create_table.then_some(Value::Boolean(true)),
        ),
        ("incremental", a.incremental.then_some(Value::Boolean(true))),
        ("verify", a.verify.then_some(Value::Boolean(true))),
        ("state_file", p(&a.state_file)),
        (
            "follow_symlinks",
            a.follow_symlinks.then_some(Value::Boolean(true)),
        ),
        ("lease_ttl", s(&a.lease_ttl)),
        ("host_id", s(&a.host_id)),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k, v)))
    .collect()
}

/// Merges file < environment < flags, with `env` looking variables up.
pub fn merge(a: &RunArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<RunConfig, UsageError> {
    let mut table = match &a.config {
        Some(path) => read_file(path)?,
        None => Table::new(),
    };
    // One file may configure both the job and the read API: the `[serve]`
    // table belongs to `topsellers serve`.
    if table.get("serve").is_some_and(Value::is_table) {
        table.remove("serve");
    }
    for (key, kind) in KEYS {
        if let Some(text) = env(&env_name(key)) {
            table.insert(key.to_string(), env_value(key, kind, &text)?);
        }
    }
    for (key, value) in flags(a) {
        table.insert(key.to_string(), value);
    }
    let origin = a
        .config
        .as_ref()
        .map_or_else(|| "the settings".to_string(), |p| p.display().to_string());
    check_types(&mut table).map_err(|e| UsageError(format!("{origin}: {e}")))?;
    Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| UsageError(format!("{origin}: {}", e.message())))
}

/// The log format the settings ask for (file or environment), read before
/// logging starts; `None` when unset or unreadable (errors surface later).
pub fn log_format(a: &RunArgs) -> Option<String> {
    merge(a, &|k| std::env::var(k).ok()).ok()?.log_format
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(argv: &[&str]) -> RunArgs {
        let mut full = vec!["topsellers", "run"];
        full.extend(argv);
        match Cli::parse_from(full).command {
            Command::Run(a) => a,
            _ => unreachable!("a run command"),
        }
    }

    #[test]
    fn flags_beat_environment_beats_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "lake = \"/file/lake\"\ntable = \"file_table\"\ntop = 10\nvariants = [\"default=7d\"]\nredis = \"redis://file:1\"\n",
        )
        .unwrap();
        let env: HashMap<String, String> = [
            ("TOPSELLERS_TABLE", "env_table"),
            ("TOPSELLERS_TOP", "20"),
            ("TOPSELLERS_VARIANTS", "a=1d, b=2d"),
            ("TOPSELLERS_REDIS", "redis://env:2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let a = args(&[
            "--config",
            file.to_str().unwrap(),
            "--redis",
            "redis://flag:3",
        ]);
        let c = merge(&a, &|k| env.get(k).cloned()).unwrap();
        assert_eq!(c.lake.as_deref(), Some("/file/lake"));
        assert_eq!(c.table.as_deref(), Some("env_table"));
        assert_eq!(c.top, Some(20));
        assert_eq!(c.variants, Some(vec!["a=1d".into(), "b=2d".into()]));
        assert_eq!(c.redis.as_deref(), Some("redis://flag:3"));
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(&file, "tabel = \"x\"\n").unwrap();
        let a = args(&["--config", file.to_str().unwrap()]);
        let err = merge(&a, &|_| None).unwrap_err().0;
        assert!(err.contains("tabel"), "{err}");
        let bad_env = |k: &str| (k == "TOPSELLERS_TOP").then(|| "many".to_string());
        let err = merge(&args(&[]), &bad_env).unwrap_err().0;
        assert!(err.contains("TOPSELLERS_TOP"), "{err}");
        std::fs::write(&file, "top = \"ten\"\n").unwrap();
        let err = merge(&args(&["--config", file.to_str().unwrap()]), &|_| None)
            .unwrap_err()
            .0;
        assert!(err.contains("top"), "{err}");
    }

    #[test]
    fn a_value_of_the_wrong_type_is_shown_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        let path = file.to_str().unwrap();
        for (line, message) in [
            (
                "top = \"100\"\n",
                "top = \"100\": expected a whole number, found a string",
            ),
            (
                "top = -1\n",
                "top = -1: expected a whole number, not negative, found an integer",
            ),
            (
                "create_table = 1\n",
                "create_table = 1: expected true or false, found an integer",
            ),
        ] {
            std::fs::write(&file, line).unwrap();
            let err = merge(&args(&["--config", path]), &|_| None).unwrap_err().0;
            assert_eq!(err, format!("{path}: {message}"));
        }
    }

    #[test]
    fn a_serve_table_is_left_to_serve() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.toml");
        std::fs::write(
            &file,
            "lake = \"/lake\"\n[serve]\ntable = \"shop\"\nmax_limit = 50\n",
        )
        .unwrap();
        let c = merge(&args(&["--config", file.to_str().unwrap()]), &|_| None).unwrap();
        assert_eq!(c.lake.as_deref(), Some("/lake"));
        std::fs::write(&file, "serve = \"yes\"\n").unwrap();
        let err = merge(&args(&["--config", file.to_str().unwrap()]), &|_| None)
            .unwrap_err()
            .0;
        assert!(err.contains("serve"), "{err}");
    }

    #[test]
    fn every_key_is_a_field() {
        let mut table = Table::new();
        for (key, kind) in KEYS {
            let text = match kind {
                Kind::List => "a=1d",
                Kind::Int => "1",
                Kind::Float => "0.5",
                Kind::Bool => "true",
                Kind::Str => "x",
            };
            table.insert(key.to_string(), env_value(key, kind, text).unwrap());
        }
        let _: RunConfig = Value::Table(table).try_into().unwrap();
    }
}
