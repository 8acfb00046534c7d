//! The real binary, end to end: outputs, determinism, and every kind of bad
//! input (exit status 2 for usage errors, 1 for failures, with a message that
//! names what is wrong, and the last good output left untouched).

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{read_csv, root, topsellers};
use predicates::str::contains;

fn golden_lake() -> PathBuf {
    root().join("io/lake/tests/golden/pyarrow/lake")
}

fn gen_lake(dir: &Path, extra: &[&str]) -> PathBuf {
    let lake = dir.join("lake");
    topsellers()
        .args([
            "gen",
            "--purchases",
            "60k",
            "--categories",
            "12",
            "--days",
            "40",
            "--seed",
            "7",
            "--out",
        ])
        .arg(&lake)
        .args(extra)
        .assert()
        .success();
    lake
}

fn compute(lake: &Path, out: &Path, extra: &[&str]) -> assert_cmd::assert::Assert {
    topsellers()
        .args(["compute", "--as-of", "2026-10-15T00:00:00Z", "--lake"])
        .arg(lake)
        .arg("--out")
        .arg(out)
        .args(extra)
        .assert()
}

#[test]
fn results_do_not_depend_on_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = gen_lake(
        tmp.path(),
        &[
            "--layout",
            "category/dt",
            "--id-type",
            "string",
            "--quantity",
        ],
    );
    let mut outputs = Vec::new();
    for threads in ["1", "2", "7"] {
        let out = tmp.path().join(format!("t{threads}.csv"));
        compute(
            &lake,
            &out,
            &[
                "--threads",
                threads,
                "--variant",
                "a=7d",
                "--variant",
                "b=1d",
            ],
        )
        .success();
        outputs.push(std::fs::read(&out).unwrap());
    }
    assert!(outputs[0].len() > 1000);
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn gen_is_deterministic_and_refuses_to_overwrite() {
    let tmp = tempfile::tempdir().unwrap();
    let a = gen_lake(&tmp.path().join("a"), &[]);
    let b = gen_lake(&tmp.path().join("b"), &[]);
    let (ra, rb) = (tmp.path().join("a.csv"), tmp.path().join("b.csv"));
    compute(&a, &ra, &[]).success();
    compute(&b, &rb, &[]).success();
    assert_eq!(std::fs::read(&ra).unwrap(), std::fs::read(&rb).unwrap());
    topsellers()
        .args(["gen", "--purchases", "1k", "--out"])
        .arg(&a)
        .assert()
        .code(1)
        .stderr(contains("already exists"));
}

#[test]
fn sparse_categories_grow_their_window_and_all_formats_agree() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = gen_lake(tmp.path(), &[]);
    let csv = tmp.path().join("r.csv");
    let json = tmp.path().join("r.json");
    let parquet = tmp.path().join("r.parquet");
    let report = tmp.path().join("report.json");
    let metrics = tmp.path().join("m.prom");
    compute(
        &lake,
        &csv,
        &[
            "--report",
            report.to_str().unwrap(),
            "--metrics-file",
            metrics.to_str().unwrap(),
        ],
    )
    .success();
    compute(&lake, &json, &[]).success();
    compute(&lake, &parquet, &[]).success();
    let groups = read_csv(&csv);
    let windows: std::collections::BTreeSet<&str> = groups.values().map(|g| g.0.as_str()).collect();
    assert!(
        windows.contains("2592000"),
        "dense categories keep 30d: {windows:?}"
    );
    assert!(
        windows.iter().any(|w| *w != "2592000"),
        "sparse categories grow: {windows:?}"
    );

    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["as_of"], "2026-10-15T00:00:00Z");
    assert_eq!(doc["generation"], 1_792_022_400_000i64);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), groups.len());
    let first = &results[0];
    let key = (
        first["variant"].as_str().unwrap().to_string(),
        first["category"].as_str().unwrap().to_string(),
    );
    let g = &groups[&key];
    assert_eq!(first["items"][0]["score"].as_f64().unwrap(), g.2[0].score);
    assert_eq!(
        first["items"][0]["item_id"].as_i64().unwrap().to_string(),
        g.2[0].item
    );

    let file = std::fs::File::open(&parquet).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows, groups.values().map(|g| g.2.len()).sum::<usize>());

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["rows"]["scanned"], 60_000);
    assert!(report["peak_rss_bytes"].as_u64().unwrap() > 0);
    assert_eq!(report["categories"].as_array().unwrap().len(), 12);
    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(prom.contains("topsellers_rows_scanned 60000"), "{prom}");
    assert!(
        prom.contains("topsellers_stage_seconds{stage=\"scan\"}"),
        "{prom}"
    );
}

#[test]
fn skipped_rows_and_omitted_categories_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.csv");
    let report = tmp.path().join("report.json");
    let args =
        std::fs::read_to_string(root().join("io/lake/tests/golden/pyarrow/args.txt")).unwrap();
    let args: Vec<&str> = args.lines().collect();
    let mut extra = args.clone();
    extra.extend(["--report", report.to_str().unwrap()]);
    topsellers()
        .arg("compute")
        .arg("--lake")
        .arg(golden_lake())
        .args(&extra)
        .arg("--out")
        .arg(&out)
        .assert()
        .success();
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let skipped = &r["rows"]["skipped"];
    let total = skipped["null_item_id"].as_u64().unwrap()
        + skipped["null_ts"].as_u64().unwrap()
        + skipped["quantity_not_positive"].as_u64().unwrap();
    assert!(total > 0, "{skipped}");
    assert!(!r["categories_omitted"].as_array().unwrap().is_empty());
}

#[test]
fn usage_errors_exit_2_and_name_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.csv");
    let lake = golden_lake();
    for (args, needle) in [
        (vec!["--top", "0"], "--top"),
        (vec!["--window", "soon"], "soon"),
        (vec!["--half-life=-3d"], "-3d"),
        (vec!["--as-of", "yesterday"], "yesterday"),
        (vec!["--variant", "fast"], "NAME=HALF_LIFE"),
        (vec!["--variant", "a=1d", "--variant", "a=2d"], "\"a\""),
        (vec!["--half-life", "1d", "--lambda", "0.1"], "--lambda"),
        (vec!["--threads", "0"], "--threads"),
    ] {
        topsellers()
            .args(["compute", "--lake"])
            .arg(&lake)
            .arg("--out")
            .arg(&out)
            .args(&args)
            .assert()
            .code(2)
            .stderr(contains(needle));
    }
    compute(&lake, &tmp.path().join("r.txt"), &[])
        .code(2)
        .stderr(contains("r.txt"));
    assert!(!out.exists());
}

#[test]
fn bad_lakes_exit_1_name_the_culprit_and_keep_the_last_good_output() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("r.csv");
    std::fs::write(&out, "last good results\n").unwrap();
    let keeps_output = |a: assert_cmd::assert::Assert, needle: &str| {
        a.code(1).stderr(contains(needle));
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "last good results\n"
        );
    };

    // Missing and empty lakes.
    keeps_output(compute(&tmp.path().join("nope"), &out, &[]), "nope");
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    keeps_output(compute(&empty, &out, &[]), "no Parquet data files");

    // A non-Parquet file and a truncated one.
    let good = gen_lake(&tmp.path().join("g"), &[]);
    let a_file = std::fs::read_dir(good.join("category=c00000"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&a_file).unwrap();
    let junk = tmp.path().join("junk");
    std::fs::create_dir_all(junk.join("category=x")).unwrap();
    std::fs::write(junk.join("category=x/data.parquet"), b"item_id,ts\n1,2\n").unwrap();
    keeps_output(compute(&junk, &out, &[]), "data.parquet");
    let cut = tmp.path().join("cut");
    std::fs::create_dir_all(cut.join("category=x")).unwrap();
    std::fs::write(
        cut.join("category=x/part.parquet"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    keeps_output(compute(&cut, &out, &[]), "part.parquet");
    // Corrupt column data: footer intact, pages garbled.
    let mut garbled = bytes.clone();
    for b in &mut garbled[8..bytes.len() / 3] {
        *b = b.wrapping_mul(31).wrapping_add(7);
    }
    let bad = tmp.path().join("bad");
    std::fs::create_dir_all(bad.join("category=x")).unwrap();
    std::fs::write(bad.join("category=x/part.parquet"), &garbled).unwrap();
    keeps_output(compute(&bad, &out, &[]), "row group 0");

    // Missing columns and wrong types.
    keeps_output(
        compute(&good, &out, &["--item-column", "sku"]),
        "no column named \"sku\"",
    );
    let strings = root().join("io/lake/tests/golden/spark_micros/lake");
    keeps_output(
        compute(&strings, &out, &["--ts-column", "item_id"]),
        "has type Utf8, expected TIMESTAMP",
    );
    keeps_output(
        compute(&good, &out, &["--item-column", "ts"]),
        "expected INT64 or UTF8",
    );
}

#[cfg(unix)]
#[test]
fn unreadable_entries_are_named() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = gen_lake(tmp.path(), &[]);
    // A dangling link cannot be read whoever runs the test (root included).
    std::os::unix::fs::symlink(
        tmp.path().join("gone"),
        lake.join("category=c00001/part-9.parquet"),
    )
    .unwrap();
    let out = tmp.path().join("r.csv");
    compute(&lake, &out, &[])
        .code(1)
        .stderr(contains("part-9.parquet"));
    assert!(!out.exists());
}

#[test]
fn demo_runs_without_services() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    topsellers()
        .args(["demo", "--purchases", "50k", "--dir"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(contains("window 365d"))
        .stdout(contains("window 30d"))
        .stdout(contains("Full results:"));
    assert!(read_csv(&dir.join("results.csv")).len() > 10);
    assert!(dir.join("report.json").exists());
}

/// The exact text of each error a user can trigger with a bad path or a
/// bad value: the thing at fault named once, and what to do when that is
/// not obvious.
#[test]
fn errors_name_the_thing_at_fault_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let args = ["--as-of", "2026-10-15T00:00:00Z", "--half-life", "7d"];
    let error_of = |cmd: &mut assert_cmd::Command| -> String {
        let out = cmd.current_dir(dir).output().unwrap();
        assert!(!out.status.success());
        let text = String::from_utf8(out.stderr).unwrap();
        text.lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("no error line in {text:?}"))
            .to_string()
    };
    let compute_lake = |lake: &str| {
        error_of(
            topsellers()
                .args(["compute", "--lake", lake, "--out", "o.csv"])
                .args(args),
        )
    };

    assert_eq!(
        compute_lake("no-such-lake"),
        "error: cannot compute the lake no-such-lake: No such file or directory (os error 2)"
    );

    std::fs::write(dir.join("a-file"), "x").unwrap();
    assert_eq!(
        compute_lake("a-file"),
        "error: cannot compute the lake a-file: not a folder: give the lake's root folder, \
         the one that holds the category=<value> folders"
    );

    let cat = dir.join("csv-lake/category=a");
    std::fs::create_dir_all(&cat).unwrap();
    std::fs::write(cat.join("x.parquet"), "item_id,ts\n1,2\n".repeat(500)).unwrap();
    assert_eq!(
        compute_lake("csv-lake"),
        "error: cannot compute the lake csv-lake: csv-lake/category=a/x.parquet: not a Parquet \
         file: it does not end with Parquet's footer marker PAR1 (another format, or a file cut short)"
    );

    for bad in ["7dd", "7days", "7D"] {
        assert_eq!(
            error_of(
                topsellers()
                    .args(["compute", "--lake", "x", "--out", "o.csv", "--window", bad])
                    .args(args)
            ),
            format!(
                "error: invalid value '{bad}' for '--window <WINDOW>': \"{bad}\" is not a duration: \
                 write a number and a unit, like 90d, 12h, 30m, 45s or 250ms"
            )
        );
    }

    assert_eq!(
        error_of(topsellers().args(["publish", "--results", "no.csv", "--table", "tbl"])),
        "error: cannot read the results no.csv: No such file or directory (os error 2)"
    );
    std::fs::write(
        dir.join("empty.csv"),
        "variant,category,rank,item_id,score,window_s,as_of\n",
    )
    .unwrap();
    assert_eq!(
        error_of(topsellers().args(["publish", "--results", "empty.csv", "--table", "tbl"])),
        "error: cannot read the results empty.csv: whole file: holds no result rows, so no as_of \
         either: nothing to publish"
    );

    // `run`'s settings: the file, then the environment. These fail before
    // any service is reached.
    let run_with = |file: &str, env: &[(&str, &str)]| {
        std::fs::write(dir.join("c.toml"), file).unwrap();
        let mut cmd = topsellers();
        cmd.args(["run", "--config", "c.toml"]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        error_of(&mut cmd)
    };
    let good = "lake = \"lake\"\nout = \"r.csv\"\ntable = \"tbl\"\n";
    for (file, env, message) in [
        (
            "top = \"100\"\n",
            vec![],
            "error: c.toml: top = \"100\": expected a whole number, found a string",
        ),
        ("top = 0\n", vec![], "error: top = 0: use 1 to 1000000"),
        (
            "tpo = 5\n",
            vec![],
            "error: c.toml: unknown setting \"tpo\" (known: lake, cache_dir, as_of, variants, window, \
             max_window, min_items, top, item_column, ts_column, quantity_column, threads, out, \
             report, metrics_file, lock_file, log_format, table, store, mysql_url, mysql_standby_url, mysql_password_file, mysql_ca_file, create_table, concurrency, redis, \
             cache_ttl, cache_ttl_jitter, max_category_drop, max_counted_drop, diff_top, \
             sync_concurrency, follow_symlinks, incremental, verify, state_file, republish_after, incremental_sync_days, \
             lease_ttl, host_id)",
        ),
        (
            "window = \"7days\"\n",
            vec![],
            "error: window: \"7days\" is not a duration: write a number and a unit, like 90d, 12h, \
             30m, 45s or 250ms",
        ),
        (
            "",
            vec![("TOPSELLERS_TOP", "many")],
            "error: TOPSELLERS_TOP=\"many\": not an integer",
        ),
        (
            "",
            vec![],
            "error: cannot compute the lake lake: No such file or directory (os error 2)",
        ),
    ] {
        let file = format!("{good}{file}");
        assert_eq!(run_with(&file, &env), message, "{file} {env:?}");
    }

    // `serve`'s settings.
    assert_eq!(
        error_of(topsellers().args(["serve", "--redis", "redis://127.0.0.1:1"])),
        "error: --table is required (or TOPSELLERS_TABLE, or table in the [serve] table of --config)"
    );
    for flag in ["--cache-ttl-jitter", "--ttl-jitter"] {
        assert_eq!(
            error_of(topsellers().args([
                "serve",
                "--table",
                "tbl",
                "--redis",
                "redis://r:1",
                flag,
                "2"
            ])),
            "error: --cache-ttl-jitter \"2\": use a number from 0 to 0.9"
        );
    }
    assert_eq!(
        error_of(topsellers().args(["ingest", "--lake", "l2", "no-input.json"])),
        "error: cannot ingest into l2: no-input.json: No such file or directory (os error 2)"
    );
}

/// Every command's `--help`, compared with its snapshot in
/// `bin/tests/help/`, so that a change of the help a user reads is
/// reviewed. `TOPSELLERS_UPDATE_HELP=1 cargo test -p topsellers --test cli
/// help_texts` rewrites the snapshots after an intended change.
#[test]
fn help_texts_match_their_snapshots() {
    let dir = root().join("bin/tests/help");
    let update = std::env::var_os("TOPSELLERS_UPDATE_HELP").is_some();
    let commands = [
        "", "gen", "ingest", "compute", "demo", "sync", "publish", "run", "serve", "explain",
        "backtest",
    ];
    let mut stale = Vec::new();
    for command in commands {
        let mut cmd = topsellers();
        if !command.is_empty() {
            cmd.arg(command);
        }
        // Help text must not depend on the environment it runs in.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("TOPSELLERS_") {
                cmd.env_remove(key);
            }
        }
        let out = cmd.arg("--help").env("COLUMNS", "100").output().unwrap();
        assert!(out.status.success(), "{command} --help failed");
        let text = String::from_utf8(out.stdout).unwrap();
        let name = if command.is_empty() {
            "topsellers"
        } else {
            command
        };
        let path = dir.join(format!("{name}.txt"));
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "--help differs from bin/tests/help/ for {stale:?}: review the change, then rerun with \
         TOPSELLERS_UPDATE_HELP=1 to accept it"
    );
}
