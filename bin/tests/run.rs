//! `topsellers run` against real services: a full run publishes every
//! category and reruns idempotently; an older `as_of` is refused; a lake
//! missing half its categories is refused (a dry run shows it, `--force`
//! overrides and deletes the categories that left); two concurrent runs never both publish; a lake in S3 is
//! synced first.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::services::{dynamo_env, s3_env, upload_dir, DynamoLocal, Moto, Redis};
use common::store::{assert_cache_matches, assert_table_matches, n, table_items};
use common::{read_csv, topsellers, walk};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

fn gen(dir: &Path, name: &str, categories: &str, purchases: &str) -> PathBuf {
    let lake = dir.join(name);
    topsellers()
        .args([
            "gen",
            "--purchases",
            purchases,
            "--categories",
            categories,
            "--days",
            "40",
            "--seed",
            "5",
        ])
        .args(["--layout", "category/dt", "--out"])
        .arg(&lake)
        .assert()
        .success();
    lake
}

/// A config file for `run` in `dir`, with the services' addresses.
fn config(dir: &Path, lake: &str, redis: &Redis) -> PathBuf {
    let state = dir.join("state");
    let path = dir.join("topsellers.toml");
    std::fs::write(
        &path,
        format!(
            r#"lake = "{lake}"
cache_dir = "{cache}"
as_of = "2026-10-15T00:00:00Z"
variants = ["default=7d", "fast=1d"]
out = "{state}/results.csv"
report = "{state}/report.json"
metrics_file = "{state}/topsellers.prom"
lock_file = "{state}/run.lock"
table = "topsellers"
create_table = true
redis = "{redis}"
"#,
            cache = dir.join("cache").display(),
            state = state.display(),
            redis = redis.url(),
        ),
    )
    .unwrap();
    path
}

fn run(db: &DynamoLocal, config: &Path, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = topsellers();
    cmd.envs(dynamo_env(&db.url()))
        .env_remove("TOPSELLERS_LOG_FORMAT")
        .args(["run", "--config"])
        .arg(config)
        .args(extra);
    cmd
}

fn metric(dir: &Path, name: &str) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("state/topsellers.prom")).unwrap();
    topsellers_lake::previous_sample(&text, name)
}

fn manifest_generation(db: &DynamoLocal) -> String {
    n(&table_items(&db.url(), "topsellers")["#manifest#default"]["generation"]).to_string()
}

#[test]
fn a_run_publishes_everything_reruns_idempotently_and_refuses_an_older_as_of() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = gen(tmp.path(), "lake", "20", "60k");
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    let cfg = config(tmp.path(), lake.to_str().unwrap(), &redis);
    run(&db, &cfg, &[])
        .assert()
        .success()
        .stdout(contains("published"));
    let want = read_csv(&tmp.path().join("state/results.csv"));
    assert_eq!(want.len(), 40, "20 categories × 2 variants");
    let stored = table_items(&db.url(), "topsellers");
    assert_table_matches(&stored, &want);
    assert_cache_matches(&redis, &want);
    let first_success = metric(tmp.path(), "topsellers_last_success_timestamp_seconds").unwrap();
    assert_eq!(metric(tmp.path(), "topsellers_run_success"), Some(1.0));
    let mode = std::fs::metadata(tmp.path().join("state/topsellers.prom"))
        .unwrap()
        .permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o644,
        "node_exporter must read it"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("state/report.json")).unwrap())
            .unwrap();
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["compute", "lease", "validate", "publish", "cache"]);
    assert!(report["compute"]["rows"]["scanned"].as_u64().unwrap() > 0);
    assert_eq!(
        report["stages"][0]["rows"],
        report["compute"]["rows"]["scanned"]
    );
    assert_eq!(report["publish"]["variants"][0]["new"], 20);

    // Rerun: the same as_of, nothing written.
    run(&db, &cfg, &[])
        .assert()
        .success()
        .stdout(contains("no-op"));
    assert_eq!(table_items(&db.url(), "topsellers"), stored);
    assert!(
        metric(tmp.path(), "topsellers_last_success_timestamp_seconds").unwrap() >= first_success
    );

    // An older as_of: refused, nothing changes, the last success time stays.
    let success = metric(tmp.path(), "topsellers_last_success_timestamp_seconds");
    run(&db, &cfg, &["--as-of", "2026-10-14T00:00:00Z"])
        .assert()
        .failure()
        .stderr(contains("older than the live run").and(contains("nothing was published")));
    assert_eq!(table_items(&db.url(), "topsellers"), stored);
    assert_eq!(
        metric(tmp.path(), "topsellers_last_success_timestamp_seconds"),
        success
    );
    assert_eq!(metric(tmp.path(), "topsellers_run_success"), Some(0.0));
    assert_eq!(metric(tmp.path(), "topsellers_run_refused"), Some(1.0));
    assert_eq!(
        metric(tmp.path(), "topsellers_run_failures_total"),
        Some(1.0)
    );
    // --force cannot make an older run win either: the writes are conditional.
    run(&db, &cfg, &["--as-of", "2026-10-14T00:00:00Z", "--force"])
        .assert()
        .success()
        .stdout(contains("stale"));
    assert_eq!(table_items(&db.url(), "topsellers"), stored);
}

#[test]
fn a_lake_missing_half_its_categories_is_refused_and_a_dry_run_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = gen(tmp.path(), "lake", "12", "40k");
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    let cfg = config(tmp.path(), lake.to_str().unwrap(), &redis);
    run(&db, &cfg, &[]).assert().success();
    let live = table_items(&db.url(), "topsellers");
    let generation = manifest_generation(&db);

    // Half the category folders disappear.
    let mut folders: Vec<PathBuf> = std::fs::read_dir(&lake)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    folders.sort();
    let gone: Vec<String> = folders[..6]
        .iter()
        .map(|p| {
            p.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .trim_start_matches("category=")
                .to_string()
        })
        .collect();
    for f in &folders[..6] {
        std::fs::remove_dir_all(f).unwrap();
    }
    let later = ["--as-of", "2026-10-15T06:00:00Z"];
    let dry = run(&db, &cfg, &[later[0], later[1], "--dry-run"])
        .assert()
        .success();
    let out = String::from_utf8_lossy(&dry.get_output().stdout).to_string();
    assert!(out.contains("0 added, 6 removed"), "{out}");
    assert!(
        out.contains(&format!("removed: {}", gone.join(", "))),
        "{out}"
    );
    assert!(
        out.contains("a run would refuse") && out.contains("categories_dropped"),
        "{out}"
    );
    assert!(
        out.contains("reordered") || out.contains("rescored"),
        "{out}"
    );
    assert_eq!(
        table_items(&db.url(), "topsellers"),
        live,
        "a dry run publishes nothing"
    );

    run(&db, &cfg, &later)
        .assert()
        .failure()
        .stderr(contains("validation refused").and(contains("6 categories against 12 live")));
    assert_eq!(
        table_items(&db.url(), "topsellers"),
        live,
        "the live results are untouched"
    );
    assert_eq!(manifest_generation(&db), generation);

    run(&db, &cfg, &[later[0], later[1], "--force"])
        .assert()
        .success()
        .stdout(contains("published").and(contains("6 categories left the results: 6 deleted")));
    assert_ne!(manifest_generation(&db), generation);
    // The six leavers are gone from both variants; the other keys stay.
    let after = table_items(&db.url(), "topsellers");
    for variant in ["default", "fast"] {
        for c in &gone {
            assert!(
                !after.contains_key(&format!("{variant}#{c}")),
                "{variant}#{c}"
            );
        }
    }
    let leavers = live
        .keys()
        .filter(|k| {
            k.split_once('#')
                .is_some_and(|(_, c)| gone.contains(&c.to_string()))
        })
        .count();
    assert!(leavers >= 6);
    assert_eq!(after.len(), live.len() - leavers);
}

#[test]
fn two_concurrent_runs_never_both_publish() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = gen(tmp.path(), "lake", "120", "120k");
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    let cfg = config(tmp.path(), lake.to_str().unwrap(), &redis);
    let lock = tmp.path().join("state/run.lock");
    let bin = assert_cmd::cargo::cargo_bin("topsellers");
    let first = std::process::Command::new(&bin)
        .envs(dynamo_env(&db.url()))
        .args(["run", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&lock).is_ok_and(|t| t.contains(&format!("pid {}", first.id())))
    {
        assert!(
            Instant::now() < deadline,
            "the first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    run(&db, &cfg, &[]).assert().failure().stderr(
        contains("another run holds the lock").and(contains(format!("pid {}", first.id()))),
    );
    let out = first.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_table_matches(
        &table_items(&db.url(), "topsellers"),
        &read_csv(&tmp.path().join("state/results.csv")),
    );
    // The lock is free again.
    run(&db, &cfg, &[])
        .assert()
        .success()
        .stdout(contains("no-op"));
}

#[test]
fn a_lake_in_s3_is_synced_then_published() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = gen(tmp.path(), "lake", "8", "20k");
    let (db, redis, moto) = (DynamoLocal::start(), Redis::start(), Moto::start());
    upload_dir(&moto.url(), &lake, "shop", "purchases");
    let cfg = config(tmp.path(), "s3://shop/purchases/", &redis);
    let mut cmd = run(&db, &cfg, &[]);
    for (k, v) in s3_env(&moto.url()) {
        cmd.env(k, v);
    }
    cmd.env("AWS_ENDPOINT_URL_DYNAMODB", db.url());
    cmd.assert().success().stdout(contains("published"));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("state/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["stages"][0]["name"], "sync");
    assert!(report["stages"][0]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        report["sync"]["new"].as_array().unwrap().len(),
        walk(&lake).len()
    );
    assert_table_matches(
        &table_items(&db.url(), "topsellers"),
        &read_csv(&tmp.path().join("state/results.csv")),
    );
}
