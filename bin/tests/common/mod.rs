//! Helpers shared by the integration tests.

#![allow(dead_code, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub mod http;
pub mod mariadb;
pub mod services;
pub mod store;

/// The `topsellers` binary under test.
pub fn topsellers() -> Command {
    let mut cmd = Command::cargo_bin("topsellers").expect("the binary is built");
    cmd.env_remove("RUST_LOG");
    cmd
}

/// `topsellers gen` of a lake into `out` with `args`, which must succeed.
pub fn gen_lake(out: &Path, args: &[&str]) {
    topsellers()
        .arg("gen")
        .args(args)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
}

/// Runs `cmd`, which must exit 0 (else its stderr is shown), for its stdout.
pub fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Every file under `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// One parsed results row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub item: String,
    pub score: f64,
}

/// Results grouped by (variant, category) → (window_s, as_of, rows by rank).
pub type Groups = BTreeMap<(String, String), (String, String, Vec<Row>)>;

/// Reads a results CSV, checking the header.
pub fn read_csv(path: &Path) -> Groups {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        ["variant", "category", "rank", "item_id", "score", "window_s", "as_of"]
    );
    let mut groups = Groups::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let g = groups
            .entry((rec[0].to_string(), rec[1].to_string()))
            .or_insert_with(|| (rec[5].to_string(), rec[6].to_string(), Vec::new()));
        assert_eq!(
            rec[2].parse::<usize>().unwrap(),
            g.2.len() + 1,
            "ranks are 1, 2, …"
        );
        g.2.push(Row {
            item: rec[3].to_string(),
            score: rec[4].parse().unwrap(),
        });
    }
    groups
}

/// Asserts that two result sets agree per the accuracy contract: same groups,
/// windows and lengths; scores within `rel`; the same items rank by rank,
/// except that items whose scores tie within `rel` may swap.
pub fn assert_same_results(got: &Groups, want: &Groups, rel: f64) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "same (variant, category) groups"
    );
    let close = |a: f64, b: f64| (a - b).abs() <= rel * a.abs().max(b.abs());
    for (key, (gw, ga, grows)) in got {
        let (ww, wa, wrows) = &want[key];
        assert_eq!((gw, ga), (ww, wa), "{key:?}: window and as_of");
        assert_eq!(grows.len(), wrows.len(), "{key:?}: row count");
        for (rank, (g, w)) in grows.iter().zip(wrows).enumerate() {
            assert!(
                close(g.score, w.score),
                "{key:?} rank {}: score {} vs {}",
                rank + 1,
                g.score,
                w.score
            );
            if g.item != w.item {
                let tied_w: Vec<&str> = wrows
                    .iter()
                    .filter(|r| close(r.score, w.score))
                    .map(|r| r.item.as_str())
                    .collect();
                let tied_g: Vec<&str> = grows
                    .iter()
                    .filter(|r| close(r.score, w.score))
                    .map(|r| r.item.as_str())
                    .collect();
                let at_cut = close(wrows[wrows.len() - 1].score, w.score);
                assert!(
                    tied_w.contains(&g.item.as_str()) || at_cut,
                    "{key:?} rank {}: item {} vs {} (ties {tied_g:?} / {tied_w:?})",
                    rank + 1,
                    g.item,
                    w.item
                );
            }
        }
    }
}

/// The workspace root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bin/ is inside the workspace")
}
