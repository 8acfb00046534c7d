//! `topsellers backtest` against a plain computation: on small random lakes
//! (with and without `dt=` partitions), every replay time is computed by
//! `topsellers compute --as-of T`, its next horizon is scored by brute force
//! from the purchases the test wrote, and every CSV row and the overall
//! figures must agree to 1e-9. Also: the files' shape, incomplete horizons,
//! the chart, and bad input (exit 2).

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::Path;

use common::{read_csv, topsellers};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const END_MS: i64 = 1_792_022_400_000; // 2026-10-15T00:00:00Z
const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// One purchase the test wrote.
struct Purchase {
    category: &'static str,
    item: i64,
    ts_ms: i64,
    quantity: i64,
}

/// A random lake: a dense category, a smaller one, a sparse one spread
/// over 100 days, and one whose purchases start after the first replay
/// time. `flat` moves the files out of their `dt=` folders.
fn random_lake(dir: &Path, seed: u64, flat: bool) -> Vec<Purchase> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut all = Vec::new();
    for (category, count, items, days, start_ago) in [
        ("dense", 1_500, 40, 25, 25),
        ("small", 200, 15, 25, 25),
        ("sparse", 12, 10, 100, 100),
        ("late", 150, 12, 5, 5),
    ] {
        for _ in 0..count {
            let u: f64 = rng.random();
            all.push(Purchase {
                category,
                item: 1 + (u * u * items as f64) as i64,
                ts_ms: END_MS - start_ago * DAY_MS + rng.random_range(0..days * DAY_MS),
                quantity: rng.random_range(1..=3),
            });
        }
    }
    let events = dir.with_extension("ndjson");
    let mut f = std::fs::File::create(&events).unwrap();
    for p in &all {
        writeln!(
            f,
            "{{\"category\":\"{}\",\"item_id\":{},\"ts\":{},\"quantity\":{}}}",
            p.category, p.item, p.ts_ms, p.quantity
        )
        .unwrap();
    }
    topsellers()
        .arg("ingest")
        .arg(&events)
        .arg("--lake")
        .arg(dir)
        .assert()
        .success();
    if flat {
        for (n, file) in common::walk(dir).into_iter().enumerate() {
            let Some(dt) = file.parent() else { continue };
            if dt.file_name().unwrap().to_string_lossy().starts_with("dt=") {
                let to = dt.parent().unwrap().join(format!("part-{n}.parquet"));
                std::fs::rename(&file, to).unwrap();
            }
        }
    }
    all
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// hits, purchases, hit rate and NDCG by the definitions.
fn brute_metrics(top: &[String], gains: &HashMap<String, i64>, n: usize) -> (i64, i64, f64, f64) {
    let purchases: i64 = gains.values().sum();
    let hits: i64 = top.iter().filter_map(|i| gains.get(i)).sum();
    let dcg: f64 = top
        .iter()
        .take(n)
        .enumerate()
        .map(|(r, i)| *gains.get(i).unwrap_or(&0) as f64 / ((r + 2) as f64).log2())
        .sum();
    let mut ideal: Vec<i64> = gains.values().copied().collect();
    ideal.sort_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(n)
        .enumerate()
        .map(|(r, g)| *g as f64 / ((r + 2) as f64).log2())
        .sum();
    (purchases, hits, hits as f64 / purchases as f64, dcg / idcg)
}

const SCORING: [&str; 10] = [
    "--window",
    "3d",
    "--max-window",
    "40d",
    "--min-items",
    "8",
    "--top",
    "5",
    "--variant",
    "fast=12h",
];

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1e-300)
}

/// One backtest checked against compute + brute force.
fn check(lake: &Path, purchases: &[Purchase], every_ms: i64, horizon_ms: i64, work: &Path) {
    let (from, to) = (END_MS - 9 * DAY_MS, END_MS - DAY_MS);
    let csv = work.join("bt.csv");
    let json = work.join("bt.json");
    let every = format!("{}h", every_ms / HOUR_MS);
    let horizon = format!("{}h", horizon_ms / HOUR_MS);
    topsellers()
        .args(["backtest", "--from", &rfc3339(from), "--to", &rfc3339(to)])
        .args(["--every", &every, "--horizon", &horizon])
        .args(SCORING)
        .args(["--variant", "slow=10d"])
        .arg("--lake")
        .arg(lake)
        .arg("--out")
        .arg(&csv)
        .arg("--out")
        .arg(&json)
        .assert()
        .success();
    let newest = purchases.iter().map(|p| p.ts_ms).max().unwrap();
    // (variant, as_of, category) → (purchases, hits, hit rate, ndcg), brute force.
    let mut want = BTreeMap::new();
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut t = from;
    while t <= to {
        if t + horizon_ms <= newest {
            let out = work.join("top.csv");
            topsellers()
                .args(["compute", "--as-of", &rfc3339(t)])
                .args(SCORING)
                .args(["--variant", "slow=10d"])
                .arg("--lake")
                .arg(lake)
                .arg("--out")
                .arg(&out)
                .assert()
                .success();
            let tops = read_csv(&out);
            let mut gains: BTreeMap<&str, HashMap<String, i64>> = BTreeMap::new();
            for p in purchases
                .iter()
                .filter(|p| p.ts_ms > t && p.ts_ms <= t + horizon_ms)
            {
                *gains
                    .entry(p.category)
                    .or_default()
                    .entry(p.item.to_string())
                    .or_insert(0) += p.quantity;
            }
            for ((variant, category), (_, _, rows)) in &tops {
                let Some(g) = gains.get(category.as_str()) else {
                    continue;
                };
                let items: Vec<String> = rows.iter().map(|r| r.item.clone()).collect();
                let m = brute_metrics(&items, g, 5);
                let total = totals.entry(variant.clone()).or_default();
                total.0 += m.0;
                total.1 += m.1;
                want.insert((variant.clone(), rfc3339(t), category.clone()), m);
            }
        }
        t += every_ms;
    }
    let mut got = BTreeMap::new();
    let mut r = csv::Reader::from_path(&csv).unwrap();
    for rec in r.records() {
        let rec = rec.unwrap();
        got.insert(
            (rec[0].to_string(), rec[1].to_string(), rec[2].to_string()),
            (
                rec[3].parse::<i64>().unwrap(),
                rec[4].parse::<i64>().unwrap(),
                rec[5].parse::<f64>().unwrap(),
                rec[6].parse::<f64>().unwrap(),
            ),
        );
    }
    assert!(want.len() > 20, "enough rows to compare: {}", want.len());
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (key, w) in &want {
        let g = got[key];
        assert_eq!((g.0, g.1), (w.0, w.1), "{key:?}: purchases and hits");
        assert!(
            close(g.2, w.2) && close(g.3, w.3),
            "{key:?}: {g:?} vs {w:?}"
        );
    }
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    for v in doc["variants"].as_array().unwrap() {
        let (p, h) = totals[v["variant"].as_str().unwrap()];
        assert_eq!(v["purchases"].as_i64().unwrap(), p);
        assert!(close(v["hit_rate"].as_f64().unwrap(), h as f64 / p as f64));
    }
}

#[test]
fn metrics_agree_with_compute_and_brute_force() {
    let tmp = tempfile::tempdir().unwrap();
    for (seed, flat, every, horizon) in [(1, false, 24, 24), (2, true, 12, 36)] {
        let lake = tmp.path().join(format!("lake{seed}"));
        let purchases = random_lake(&lake, seed, flat);
        let work = tmp.path().join(format!("work{seed}"));
        std::fs::create_dir(&work).unwrap();
        check(&lake, &purchases, every * HOUR_MS, horizon * HOUR_MS, &work);
    }
}

#[test]
fn files_have_their_shape_and_incomplete_horizons_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let purchases = random_lake(&lake, 3, false);
    let newest = purchases.iter().map(|p| p.ts_ms).max().unwrap();
    let (csv, json, png) = (
        tmp.path().join("b.csv"),
        tmp.path().join("b.json"),
        tmp.path().join("b.png"),
    );
    let out = topsellers()
        .args([
            "backtest",
            "--from",
            "2026-10-10T00:00:00Z",
            "--to",
            "2026-10-15T00:00:00Z",
        ])
        .args(SCORING)
        .args(["--variant", "slow=10d", "--variant", "mid=2d"])
        .arg("--lake")
        .arg(&lake)
        .arg("--out")
        .arg(&csv)
        .arg("--out")
        .arg(&json)
        .arg("--chart")
        .arg(&png)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = String::from_utf8(out.stdout).unwrap();
    // Replay times 10-10 … 10-15, a day apart, each with a one-day horizon.
    let incomplete: Vec<String> = (0..6)
        .map(|d| END_MS - (5 - d) * DAY_MS)
        .filter(|t| t + DAY_MS > newest)
        .map(rfc3339)
        .collect();
    assert!(!incomplete.is_empty());
    let complete = 6 - incomplete.len();
    assert!(
        table.contains(&format!(
            "6 replay times, {complete} with a complete horizon"
        )),
        "{table}"
    );
    assert!(
        table.contains("incomplete (horizon past the newest purchase"),
        "{table}"
    );
    assert!(
        table.contains("wins on NDCG") || table.contains("no winner"),
        "{table}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "variant,as_of,category,purchases,hits,hit_rate,ndcg"
    );
    for t in &incomplete {
        assert!(
            !text.contains(t.as_str()),
            "no rows of an incomplete horizon"
        );
    }
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(doc["incomplete"], serde_json::json!(incomplete));
    assert_eq!(doc["newest_purchase"], rfc3339(newest));
    assert_eq!(doc["complete_replay_times"], complete);
    assert_eq!(
        doc["rows"].as_array().unwrap().len(),
        text.lines().count() - 1
    );
    let names: Vec<&str> = doc["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["variant"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fast", "slow", "mid"]);
    for v in doc["variants"].as_array().unwrap() {
        for key in [
            "hit_rate",
            "ndcg",
            "category_avg_hit_rate",
            "category_avg_ndcg",
        ] {
            let x = v[key].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&x), "{key} = {x}");
        }
        let i = &v["ndcg_interval"];
        assert!(i["low"].as_f64().unwrap() <= i["high"].as_f64().unwrap());
        let is_best = doc["best"] == v["variant"];
        assert_eq!(v["diff_interval"].is_null(), is_best);
    }
    assert_eq!(doc["times"].as_array().unwrap().len(), 6);
    assert_eq!(doc["times"][5]["complete"], false);
    assert!(doc["categories"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["category"] == "late"));
    assert_eq!(doc["parameters"]["horizon_s"], 86_400.0);
    let png = std::fs::read(&png).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[test]
fn bad_input_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    random_lake(&lake, 4, false);
    let out = tmp.path().join("b.csv");
    let (from, to) = ("2026-10-10T00:00:00Z", "2026-10-12T00:00:00Z");
    for (extra, why) in [
        (vec!["--from", to, "--to", from], "is after --to"),
        (vec!["--every", "0d"], "--every"),
        (vec!["--horizon=-1d"], "--horizon"),
        (vec!["--variant", "fast"], "NAME=HALF_LIFE"),
        (vec!["--variant", "fast=2d"], "fast"),
        (vec!["--from", "last week", "--to", to], "--from"),
        (vec!["--chart", "b.svg"], "--chart"),
    ] {
        let mut args = vec!["--variant", "fast=1d"];
        if !extra.contains(&"--from") {
            args.extend(["--from", from, "--to", to]);
        }
        args.extend(extra.iter().copied());
        let o = topsellers()
            .arg("backtest")
            .args(&args)
            .arg("--lake")
            .arg(&lake)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert_eq!(
            o.status.code(),
            Some(2),
            "{extra:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(why), "{extra:?}: {err}");
    }
    let o = topsellers()
        .args([
            "backtest",
            "--from",
            "2026-10-10T00:00:00Z",
            "--to",
            "2026-10-12T00:00:00Z",
        ])
        .args(["--variant", "fast=1d", "--out", "b.txt"])
        .arg("--lake")
        .arg(&lake)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists(), "nothing written by a refused run");
}
