//! `topsellers explain` against `compute` on small random lakes: for random
//! items, the contributions by day add up to the score compute reports
//! (1e-9), and the rank is compute's, inside the top N and beyond it (a
//! compute that keeps every item gives the rank of every item). Unknown
//! categories and items exit 1 with a message naming them.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{gen_lake, read_csv, topsellers, Groups};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const AS_OF: &str = "2026-10-15T00:00:00Z";

fn gen(dir: &Path, seed: u64, layout: &str) {
    let seed = seed.to_string();
    let args = ["--purchases", "30k", "--categories", "6", "--days", "50"];
    gen_lake(
        dir,
        &[
            &args[..],
            &["--quantity", "--layout", layout, "--seed", &seed],
        ]
        .concat(),
    );
}

/// compute's results with `extra` settings.
fn compute(lake: &Path, out: &Path, extra: &[&str]) -> Groups {
    topsellers()
        .args([
            "compute",
            "--as-of",
            AS_OF,
            "--variant",
            "fast=1d",
            "--variant",
            "slow=20d",
        ])
        .args(extra)
        .arg("--lake")
        .arg(lake)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    read_csv(out)
}

fn explain(lake: &Path, category: &str, item: &str, extra: &[&str]) -> serde_json::Value {
    let out = topsellers()
        .args([
            "explain",
            "--json",
            "--as-of",
            AS_OF,
            "--variant",
            "fast=1d",
            "--variant",
            "slow=20d",
        ])
        .args(["--category", category, "--item", item])
        .args(extra)
        .arg("--lake")
        .arg(lake)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

#[test]
fn contributions_add_up_to_compute_scores_and_ranks_match() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rng = SmallRng::seed_from_u64(13);
    for (seed, layout, window) in [
        (1, "category", "30d"),
        (2, "category/dt", "7d"),
        (3, "category", "2d"),
    ] {
        let lake = tmp.path().join(format!("lake{seed}"));
        gen(&lake, seed, layout);
        let settings = ["--window", window, "--min-items", "10"];
        let top = compute(
            &lake,
            &tmp.path().join("top.csv"),
            &[&settings[..], &["--top", "10"]].concat(),
        );
        let all = compute(
            &lake,
            &tmp.path().join("all.csv"),
            &[&settings[..], &["--top", "1000000"]].concat(),
        );
        let mut checked = (0, 0);
        for ((variant, category), (window_s, _, rows)) in &all {
            let v = if variant == "fast" { 0 } else { 1 };
            // Random ranks, and always the first and the last.
            let mut picks = vec![0, rows.len() - 1];
            picks.extend((0..3).map(|_| rng.random_range(0..rows.len())));
            for at in picks {
                let row = &rows[at];
                let e = explain(
                    &lake,
                    category,
                    &row.item,
                    &[&settings[..], &["--top", "10"]].concat(),
                );
                assert_eq!(
                    e["window"]["window_s"].to_string(),
                    *window_s,
                    "{category}: window"
                );
                let x = &e["variants"][v];
                assert_eq!(x["variant"], variant.as_str());
                let score = x["score"].as_f64().unwrap();
                let by_days: f64 = x["days"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d["weight"].as_f64().unwrap())
                    .sum();
                assert!(
                    close(score, row.score),
                    "{category} {}: {score} vs compute {}",
                    row.item,
                    row.score
                );
                assert!(
                    close(by_days, row.score),
                    "{category} {}: days sum {by_days} vs {}",
                    row.item,
                    row.score
                );
                let rank = x["rank"].as_u64().unwrap() as usize;
                let tied = rows.iter().filter(|r| close(r.score, row.score)).count() > 1;
                assert!(
                    rank == at + 1 || tied,
                    "{category} {}: rank {rank} vs {}",
                    row.item,
                    at + 1
                );
                assert_eq!(x["ranked_items"].as_u64().unwrap() as usize, rows.len());
                let in_top = x["in_top"].as_bool().unwrap();
                assert_eq!(in_top, rank <= 10);
                if in_top && !tied {
                    let listed = &top[&(variant.clone(), category.clone())].2;
                    assert_eq!(
                        listed[rank - 1].item,
                        row.item,
                        "compute's top N has it at that rank"
                    );
                    checked.0 += 1;
                } else {
                    checked.1 += 1;
                }
            }
        }
        assert!(
            checked.0 > 0 && checked.1 > 0,
            "items inside and outside the top N: {checked:?}"
        );
    }
}

#[test]
fn unknown_category_or_item_exits_1_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    gen(&lake, 7, "category");
    let run = |category: &str, item: &str| {
        topsellers()
            .args([
                "explain",
                "--as-of",
                AS_OF,
                "--category",
                category,
                "--item",
                item,
            ])
            .arg("--lake")
            .arg(&lake)
            .output()
            .unwrap()
    };
    let fails_naming = |category: &str, item: &str, words: &str| {
        let out = run(category, item);
        assert_eq!(out.status.code(), Some(1), "{category} {item}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{err}");
    };
    fails_naming("no-such", "1", "category \"no-such\" is not in the lake");
    fails_naming(
        "c00000",
        "424242",
        "item 424242 has no counted purchase in category \"c00000\"",
    );
    fails_naming(
        "c00000",
        "not-a-number",
        "item not-a-number has no counted purchase",
    );
    // Bad settings are usage errors.
    let out = topsellers()
        .args([
            "explain",
            "--as-of",
            "yesterday",
            "--category",
            "c00000",
            "--item",
            "1",
        ])
        .arg("--lake")
        .arg(&lake)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
