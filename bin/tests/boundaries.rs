//! The lake's boundaries: symbolic links that leave a local lake are not
//! followed unless `--follow-symlinks` says so; category values that could
//! name another folder are refused by `ingest`; a lake of integer and
//! string item ids is refused, naming a file of each kind.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{read_csv, root, topsellers};
use predicates::str::contains;

/// A pyarrow-written category of the golden lake, copied to `to`.
fn copy_category(name: &str, to: &Path) {
    let from = root()
        .join("io/lake/tests/golden/pyarrow/lake")
        .join(format!("category={name}"));
    for day in std::fs::read_dir(&from).unwrap() {
        let day = day.unwrap().path();
        let into = to.join(day.file_name().unwrap());
        std::fs::create_dir_all(&into).unwrap();
        for f in std::fs::read_dir(&day).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, into.join(f.file_name().unwrap())).unwrap();
        }
    }
}

/// `compute` of the golden pyarrow settings; returns the categories scored
/// and the report.
fn compute(lake: &Path, extra: &[&str]) -> (Vec<String>, serde_json::Value) {
    let out = lake.with_file_name("top.csv");
    let report = lake.with_file_name("report.json");
    topsellers()
        .args([
            "compute",
            "--as-of",
            "2026-10-15T00:00:00Z",
            "--half-life",
            "7d",
        ])
        .args(["--window", "7d", "--max-window", "60d", "--lake"])
        .arg(lake)
        .arg("--out")
        .arg(&out)
        .arg("--report")
        .arg(&report)
        .args(extra)
        .assert()
        .success();
    let mut cats: Vec<String> = read_csv(&out).into_keys().map(|(_, c)| c).collect();
    cats.dedup();
    let r = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    (cats, r)
}

#[test]
fn links_that_leave_the_lake_are_skipped_unless_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    copy_category("books", &lake.join("category=books"));
    let outside = tmp.path().join("other-disk/category=electronics");
    copy_category("electronics", &outside);
    std::os::unix::fs::symlink(&outside, lake.join("category=electronics")).unwrap();
    // A second name for books' folder, inside the lake: never followed.
    std::os::unix::fs::symlink(lake.join("category=books"), lake.join("category=again")).unwrap();

    let (cats, report) = compute(&lake, &[]);
    assert_eq!(cats, ["books"]);
    assert_eq!(report["scan"]["symlinks_skipped"], 2);

    let (cats, report) = compute(&lake, &["--follow-symlinks"]);
    assert_eq!(cats, ["books", "electronics"]);
    assert_eq!(report["scan"]["symlinks_skipped"], 1);
}

#[test]
fn ingest_refuses_categories_that_could_name_another_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("events.json");
    let line = |cat: &str| {
        let cat = serde_json::Value::from(cat);
        format!(r#"{{"item_id":1,"category":{cat},"ts":1792022400}}"#)
    };
    let refused = [".", "..", "../../etc", "a/b", "/", "a\u{0}b"];
    let mut lines: Vec<String> = refused.iter().map(|c| line(c)).collect();
    lines.push(line("ok..fine"));
    std::fs::write(&input, lines.join("\n")).unwrap();
    let lake = tmp.path().join("lake");
    let quarantine = tmp.path().join("q.jsonl");
    topsellers()
        .arg("ingest")
        .arg("--lake")
        .arg(&lake)
        .arg("--quarantine")
        .arg(&quarantine)
        .args(["--max-bad-fraction", "1"])
        .arg(&input)
        .assert()
        .success();
    let reasons: Vec<(u64, String)> = std::fs::read_to_string(&quarantine)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["line"].as_u64().unwrap(),
                v["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String)> = (1..=6).map(|n| (n, "bad_category".to_string())).collect();
    assert_eq!(reasons, want);
    let folders: Vec<PathBuf> = std::fs::read_dir(&lake)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with("_quarantine"))
        .collect();
    assert_eq!(folders, [lake.join("category=ok..fine")]);
    let mut beside: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    beside.sort();
    assert_eq!(beside, ["events.json", "lake", "q.jsonl"]);
}

#[test]
fn a_lake_of_integer_and_string_ids_is_refused_naming_a_file_of_each() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    copy_category("books", &lake.join("category=books"));
    let strings = lake.join("category=vintage/part-0.parquet");
    std::fs::create_dir_all(strings.parent().unwrap()).unwrap();
    let spark = root().join("io/lake/tests/golden/spark_micros/lake/category=books");
    let file = std::fs::read_dir(&spark)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    std::fs::copy(file, &strings).unwrap();
    let first_int = lake.join("category=books/dt=2026-09-24/ns-0.parquet");
    topsellers()
        .args(["compute", "--as-of", "2026-10-15T00:00:00Z", "--lake"])
        .arg(&lake)
        .arg("--out")
        .arg(tmp.path().join("top.csv"))
        .assert()
        .code(1)
        .stderr(contains(strings.display().to_string()))
        .stderr(contains(first_int.display().to_string()))
        .stderr(contains("item ids are strings here but integers in"));
    assert!(!tmp.path().join("top.csv").exists());
}
