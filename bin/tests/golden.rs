//! Compatibility: lakes written by pyarrow, DuckDB and Spark (checked in under
//! `io/lake/tests/golden/`) read, and `compute` gives the results an independent
//! SQL implementation (DuckDB) computed for them.

#![allow(clippy::unwrap_used)]

mod common;

use common::{assert_same_results, read_csv, root, topsellers};

fn check(writer: &str) {
    let dir = root().join("io/lake/tests/golden").join(writer);
    let args: Vec<String> = std::fs::read_to_string(dir.join("args.txt"))
        .expect("args.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(String::from)
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("got.csv");
    topsellers()
        .arg("compute")
        .arg("--lake")
        .arg(dir.join("lake"))
        .args(&args)
        .arg("--out")
        .arg(&out)
        .arg("--threads")
        .arg("2")
        .assert()
        .success();
    let want = read_csv(&dir.join("expected.csv"));
    assert!(!want.is_empty());
    assert_same_results(&read_csv(&out), &want, 1e-9);
}

#[test]
fn pyarrow_lake() {
    check("pyarrow");
}

#[test]
fn duckdb_lake() {
    check("duckdb");
}

#[test]
fn spark_lake_with_int96_timestamps() {
    check("spark");
}

#[test]
fn spark_lake_with_micros_timestamps() {
    check("spark_micros");
}
