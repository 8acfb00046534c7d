//! `topsellers publish` against real services (DynamoDB Local, redis-server)
//! on free ports: what is stored equals the results file, in every format;
//! reruns are no-ops; an older run changes nothing; a missing table is a
//! clear error; Redis down is a warning; DynamoDB killed mid-publish leaves
//! no half-written item and a rerun completes.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::services::{dynamo_env, free_port, DynamoLocal, Redis};
use common::store::{
    assert_cache_matches, assert_item, assert_table_matches, count_items, table_items,
};
use common::{read_csv, topsellers};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;

const AS_OF: &str = "2026-10-15T00:00:00Z";

/// A small lake and its results (two variants) as CSV, JSON and Parquet.
fn results(dir: &Path, as_of: &str) -> PathBuf {
    let lake = dir.join("lake");
    if !lake.exists() {
        topsellers()
            .args([
                "gen",
                "--purchases",
                "40k",
                "--categories",
                "15",
                "--days",
                "40",
                "--seed",
                "3",
                "--out",
            ])
            .arg(&lake)
            .assert()
            .success();
    }
    let stem = dir.join(format!("results-{}", &as_of[..13]));
    for ext in ["csv", "json", "parquet"] {
        topsellers()
            .args([
                "compute",
                "--variant",
                "default=7d",
                "--variant",
                "fast=1d",
                "--as-of",
                as_of,
                "--lake",
            ])
            .arg(&lake)
            .arg("--out")
            .arg(stem.with_extension(ext))
            .assert()
            .success();
    }
    stem.with_extension("csv")
}

fn publish(db: &DynamoLocal, results: &Path, redis: &str, extra: &[&str]) -> assert_cmd::Command {
    let mut cmd = topsellers();
    cmd.envs(dynamo_env(&db.url()))
        .args([
            "publish",
            "--table",
            "topsellers",
            "--redis",
            redis,
            "--results",
        ])
        .arg(results)
        .args(extra);
    cmd
}

#[test]
fn stored_items_and_cache_equal_the_results_and_reruns_are_no_ops() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = results(tmp.path(), AS_OF);
    let want = read_csv(&csv);
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish(&db, &csv, &redis.url(), &[])
        .assert()
        .failure()
        .stderr(contains("topsellers does not exist").and(contains("--create-table")));
    publish(&db, &csv, &redis.url(), &["--create-table"])
        .assert()
        .success()
        .stdout(contains("30 new"));
    let stored = table_items(&db.url(), "topsellers");
    assert_table_matches(&stored, &want);
    assert_cache_matches(&redis, &want);

    // The same run again, from each format: nothing is written.
    for ext in ["csv", "parquet"] {
        publish(&db, &csv.with_extension(ext), &redis.url(), &[])
            .assert()
            .success()
            .stdout(contains("no-op").and(contains("30 items unchanged")));
        assert_eq!(
            table_items(&db.url(), "topsellers"),
            stored,
            "{ext}: DynamoDB unchanged"
        );
    }
    // JSON carries the purchases counted, which CSV and Parquet do not: the
    // items stay, the manifest gains its totals.
    publish(&db, &csv.with_extension("json"), &redis.url(), &[])
        .assert()
        .success()
        .stdout(contains("0 new, 0 replaced, 30 unchanged"));
    let after = table_items(&db.url(), "topsellers");
    for (k, v) in &stored {
        if !k.starts_with("#manifest#") {
            assert_eq!(&after[k], v, "{k} unchanged");
        }
    }
    assert!(after["#manifest#default"].contains_key("counted"));
    for ext in ["json", "csv"] {
        publish(&db, &csv.with_extension(ext), &redis.url(), &[])
            .assert()
            .success()
            .stdout(contains("no-op"));
    }
    assert_eq!(
        table_items(&db.url(), "topsellers"),
        after,
        "CSV keeps the counted totals"
    );
}

#[test]
fn an_older_run_changes_nothing_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let newer = results(tmp.path(), AS_OF);
    let older = results(tmp.path(), "2026-10-14T00:00:00Z");
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish(&db, &newer, &redis.url(), &["--create-table"])
        .assert()
        .success();
    let before = (table_items(&db.url(), "topsellers"), redis.dump());
    publish(&db, &older, &redis.url(), &[])
        .assert()
        .success()
        .stdout(contains("stale").and(contains("nothing changed")));
    assert_eq!(
        table_items(&db.url(), "topsellers"),
        before.0,
        "DynamoDB unchanged"
    );
    assert_eq!(redis.dump(), before.1, "Redis unchanged");
}

#[test]
fn redis_down_is_a_warning_and_a_metric() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = results(tmp.path(), AS_OF);
    let db = DynamoLocal::start();
    let (report, metrics) = (tmp.path().join("report.json"), tmp.path().join("m.prom"));
    let down = format!("redis://127.0.0.1:{}", free_port());
    publish(&db, &csv, &down, &["--create-table", "--report"])
        .arg(&report)
        .arg("--metrics-file")
        .arg(&metrics)
        .assert()
        .success()
        .stderr(contains("Redis warm-up failed"));
    assert_table_matches(&table_items(&db.url(), "topsellers"), &read_csv(&csv));
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(prom.contains("topsellers_cache_warm_success 0"), "{prom}");
    assert!(
        prom.contains("topsellers_cache_warm_failures_total 1"),
        "{prom}"
    );
    assert!(prom.contains("topsellers_publish_success 1"), "{prom}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["status"], "success");
    assert_eq!(r["cache"]["ok"], false);
    assert!(
        r["cache"]["error"].as_str().unwrap().contains("127.0.0.1"),
        "{r}"
    );
}

#[test]
fn warming_never_replaces_a_newer_body() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = results(tmp.path(), AS_OF);
    let want = read_csv(&csv);
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    // A newer run's body already in Redis for one key: that run was
    // published and warmed while this one was on its way.
    let ((variant, category), _) = want.iter().next().unwrap();
    let key = format!("topsellers:v1:{variant}:{category}");
    let newer = format!(
        r#"{{"category":"{category}","variant":"{variant}","as_of":"2026-10-16T00:00:00Z","generation":1792108800000,"items":[]}}"#
    );
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&newer)
        .query(&mut con)
        .unwrap();
    let report = tmp.path().join("report.json");
    publish(&db, &csv, &redis.url(), &["--create-table", "--report"])
        .arg(&report)
        .assert()
        .success();
    let cached = redis.dump();
    assert!(
        cached[&key] == newer,
        "the warm-up replaced a newer body: {:.100}…",
        cached[&key]
    );
    assert_eq!(cached.len(), want.len());
    for (k, body) in &cached {
        if *k != key {
            assert!(
                body.contains("\"generation\":1792022400000,"),
                "{k}: {body}"
            );
        }
    }
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["cache"]["ok"], true, "{r}");
    assert_eq!(r["cache"]["warm"]["newer_kept"], 1, "{r}");
}

#[test]
fn a_failed_warm_up_deletes_the_keys_it_could_not_write() {
    let tmp = tempfile::tempdir().unwrap();
    let older = results(tmp.path(), "2026-10-14T00:00:00Z");
    let newer = results(tmp.path(), AS_OF);
    let want = read_csv(&newer);
    let (db, redis) = (DynamoLocal::start(), Redis::start());
    publish(&db, &older, &redis.url(), &["--create-table"])
        .assert()
        .success();
    assert_eq!(redis.dump().len(), want.len());
    // Redis now refuses every write (out of memory, nothing to evict) but
    // still deletes.
    let client = redis::Client::open(redis.url()).unwrap();
    let mut con = client.get_connection().unwrap();
    let config = |con: &mut redis::Connection, k: &str, v: &str| {
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg(k)
            .arg(v)
            .query(con)
            .unwrap();
    };
    config(&mut con, "maxmemory-policy", "noeviction");
    config(&mut con, "maxmemory", "1");
    let report = tmp.path().join("report.json");
    publish(&db, &newer, &redis.url(), &["--report"])
        .arg(&report)
        .assert()
        .success()
        .stderr(contains("Redis warm-up failed"));
    config(&mut con, "maxmemory", "0");
    let older_left: Vec<String> = redis
        .dump()
        .into_iter()
        .filter(|(_, body)| body.contains("\"generation\":1791936000000,"))
        .map(|(k, _)| k)
        .collect();
    assert!(
        older_left.is_empty(),
        "{} keys still hold the previous run, e.g. {:?}",
        older_left.len(),
        older_left.first()
    );
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(r["status"], "success");
    assert_eq!(r["cache"]["ok"], false, "{r}");
    assert_eq!(r["cache"]["warm"]["deleted"], want.len(), "{r}");
    assert_eq!(r["cache"]["warm"]["maybe_stale"], 0, "{r}");
}

/// A results CSV of `categories` × `items` rows (publishing it takes a while).
fn big_results(path: &Path, categories: usize, items: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(f, "variant,category,rank,item_id,score,window_s,as_of").unwrap();
    for c in 0..categories {
        for r in 0..items {
            let score = 1000.0 / (r as f64 + 1.0) + c as f64 * 1e-6;
            writeln!(
                f,
                "default,c{c:05},{},{},{score:?},2592000,{AS_OF}",
                r + 1,
                c * 1000 + r
            )
            .unwrap();
        }
    }
}

#[test]
fn dynamodb_killed_mid_publish_leaves_no_half_item_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("big.csv");
    big_results(&csv, 3000, 40);
    let want = read_csv(&csv);
    let data = tmp.path().join("dynamodb");
    std::fs::create_dir_all(&data).unwrap();
    let mut db = DynamoLocal::start_on_disk(&data);
    let bin = assert_cmd::cargo::cargo_bin("topsellers");
    let mut child = std::process::Command::new(&bin)
        .envs(dynamo_env(&db.url()))
        .args([
            "publish",
            "--table",
            "topsellers",
            "--create-table",
            "--concurrency",
            "1",
            "--results",
        ])
        .arg(&csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill the server once some items are in, well before the end.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if count_items(&db.url(), "topsellers").is_some_and(|n| n >= 200) {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "publish ended before the kill"
        );
        assert!(Instant::now() < deadline, "no item appeared within 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    db.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "publish must fail: {stderr}");
    assert!(stderr.contains("cannot publish"), "{stderr}");

    db.restart();
    let stored = table_items(&db.url(), "topsellers");
    assert!(
        !stored.is_empty() && stored.len() < want.len(),
        "{} items survived",
        stored.len()
    );
    assert!(
        !stored.contains_key("#manifest#default"),
        "the manifest is written last"
    );
    for (key, item) in &stored {
        let (variant, category) = key.split_once('#').unwrap();
        assert_item(
            key,
            item,
            &want[&(variant.to_string(), category.to_string())],
        );
    }
    let mut rerun = topsellers();
    rerun
        .envs(dynamo_env(&db.url()))
        .args([
            "publish",
            "--table",
            "topsellers",
            "--concurrency",
            "8",
            "--results",
        ])
        .arg(&csv)
        .timeout(Duration::from_secs(300))
        .assert()
        .success()
        .stdout(contains(format!("{} unchanged", stored.len())));
    let items = table_items(&db.url(), "topsellers");
    assert_table_matches(&items, &want);
}
