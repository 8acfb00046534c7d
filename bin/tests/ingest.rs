//! `topsellers ingest` end to end: JSON events (plain, gzip, stdin) into a
//! lake that `compute` then scores exactly as the events imply; bad lines
//! quarantined with their numbers; runs that only add files; a failed run
//! that leaves the lake as it was; one item id type per lake.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use common::{read_csv, topsellers};
use predicates::str::contains;

const AS_OF: &str = "2026-10-15T00:00:00Z";
const AS_OF_S: i64 = 1_792_022_400;
const HALF_LIFE_S: f64 = 7.0 * 86_400.0;

/// One purchase: category, item, seconds before `AS_OF`, quantity.
type Purchase = (&'static str, i64, i64, Option<i32>);

/// The purchases of the main test, with every time form ingest reads.
fn purchases() -> Vec<Purchase> {
    let mut p = Vec::new();
    for (i, cat) in ["toys+games & more", "books", "17"].into_iter().enumerate() {
        for item in 1..=6i64 {
            for k in 0..item {
                let age = 3_600 * (k + 1) + 86_400 * (i as i64) + 977 * item;
                p.push((
                    cat,
                    100 + item,
                    age,
                    (k % 3 == 0).then_some((k % 4 + 1) as i32),
                ));
            }
        }
    }
    p
}

/// The JSON line of a purchase; the time form and field names vary with `n`.
fn line(n: usize, (cat, item, age, q): &Purchase) -> String {
    let t = AS_OF_S - age;
    let ts = match n % 4 {
        0 => format!("\"ts\":{t}"),
        1 => format!("\"purchased_at\":{}", t * 1_000 + 250),
        2 => {
            let d = chrono::DateTime::from_timestamp(t + 7_200, 0).unwrap();
            format!("\"ts\":\"{}+02:00\"", d.format("%Y-%m-%dT%H:%M:%S"))
        }
        _ => {
            let d = chrono::DateTime::from_timestamp(t, 0).unwrap();
            format!("\"ts\":\"{}.5Z\"", d.format("%Y-%m-%dT%H:%M:%S"))
        }
    };
    let cat = match cat.parse::<i64>() {
        Ok(c) => format!("\"category_id\":{c}"),
        Err(_) => format!("\"category\":{}", serde_json::Value::from(*cat)),
    };
    let q = q.map_or(String::new(), |q| format!(",\"quantity\":{q}"));
    format!("{{\"order\":{{\"id\":{n}}},\"item_id\":{item},{cat},{ts}{q}}}")
}

/// Seconds a purchase's line really says (the time forms round differently).
fn line_age(n: usize, age: i64) -> f64 {
    match n % 4 {
        1 => age as f64 - 0.25,
        3 => age as f64 - 0.5,
        _ => age as f64,
    }
}

/// Scores per (category, item) as the contract defines them.
fn expected(p: &[Purchase]) -> BTreeMap<(String, String), f64> {
    let lambda = std::f64::consts::LN_2 / HALF_LIFE_S;
    let mut m = BTreeMap::new();
    for (n, (cat, item, age, q)) in p.iter().enumerate() {
        let w = f64::from(q.unwrap_or(1)) * (-lambda * line_age(n, *age)).exp();
        *m.entry((cat.to_string(), item.to_string())).or_insert(0.0) += w;
    }
    m
}

fn ingest(lake: &Path, extra: &[&str], inputs: &[&Path]) -> assert_cmd::assert::Assert {
    topsellers()
        .arg("ingest")
        .arg("--lake")
        .arg(lake)
        .args(extra)
        .args(inputs)
        .assert()
}

fn compute(lake: &Path, out: &Path) -> BTreeMap<(String, String), f64> {
    topsellers()
        .args(["compute", "--as-of", AS_OF, "--half-life", "7d", "--lake"])
        .arg(lake)
        .arg("--out")
        .arg(out)
        .assert()
        .success();
    read_csv(out)
        .into_iter()
        .flat_map(|((_, cat), (_, _, rows))| {
            rows.into_iter()
                .map(move |r| ((cat.clone(), r.item), r.score))
        })
        .collect()
}

fn assert_scores(got: &BTreeMap<(String, String), f64>, want: &BTreeMap<(String, String), f64>) {
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>()
    );
    for (k, w) in want {
        let g = got[k];
        assert!((g - w).abs() <= 1e-9 * w.abs(), "{k:?}: {g} vs {w}");
    }
}

/// Data files of a lake (relative path → bytes), hidden and `_` folders excluded.
fn data_files(lake: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().to_string();
            if name.starts_with('_') {
                continue;
            }
            if e.file_type().unwrap().is_dir() {
                walk(root, &e.path(), out);
            } else {
                let rel = e.path().strip_prefix(root).unwrap().to_path_buf();
                out.insert(rel, std::fs::read(e.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(lake, lake, &mut out);
    out
}

/// Hidden files (a run's staged files) anywhere in the lake.
fn hidden_files(lake: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![lake.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().unwrap().to_string_lossy().starts_with('.') {
                out.push(path);
            }
        }
    }
    out
}

fn quarantine(path: &Path) -> Vec<(String, u64, String, String)> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["source"].as_str().unwrap().to_string(),
                v["line"].as_u64().unwrap(),
                v["reason"].as_str().unwrap().to_string(),
                v["raw"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_lake_computes_what_the_events_imply_and_bad_lines_are_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let p = purchases();
    let lines: Vec<String> = p.iter().enumerate().map(|(n, e)| line(n, e)).collect();
    let third = lines.len() / 3;
    // Part one, plain, with bad lines at known places.
    let mut plain: Vec<String> = lines[..third].to_vec();
    plain.insert(2, "{\"item_id\":1,\"category\":\"x\"".into()); // line 3
    plain.insert(4, String::new()); // line 5, blank
    plain.insert(
        6,
        r#"{"item_id":1,"category":"x","ts":"2026-10-14"}"#.into(),
    ); // line 7
    plain.insert(7, r#"{"item_id":"A1","category":"x","ts":1}"#.into()); // line 8
    plain.push(r#"{"item_id":1,"category":"","ts":1}"#.into());
    let plain_path = tmp.path().join("a.ndjson");
    std::fs::write(&plain_path, plain.join("\r\n")).unwrap();
    // Part two, gzip; part three on stdin.
    let gz_path = tmp.path().join("b.json.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(lines[third..2 * third].join("\n").as_bytes())
        .unwrap();
    std::fs::write(&gz_path, gz.finish().unwrap()).unwrap();
    let stdin = lines[2 * third..].join("\n") + "\n";

    let lake = tmp.path().join("lake");
    let q = tmp.path().join("bad.jsonl");
    let report = tmp.path().join("report.json");
    topsellers()
        .arg("ingest")
        .arg("--lake")
        .arg(&lake)
        .arg("--quarantine")
        .arg(&q)
        .arg("--report")
        .arg(&report)
        .args(["--max-bad-fraction", "0.1"])
        .arg(&plain_path)
        .arg(&gz_path)
        .arg("-")
        .write_stdin(stdin)
        .assert()
        .success();

    let bad = quarantine(&q);
    let src = plain_path.display().to_string();
    let got: Vec<(&str, u64, &str)> = bad
        .iter()
        .map(|(s, l, r, _)| (s.as_str(), *l, r.as_str()))
        .collect();
    let last = plain.len() as u64;
    assert_eq!(
        got,
        [
            (src.as_str(), 3, "invalid_json"),
            (src.as_str(), 7, "bad_ts"),
            (src.as_str(), 8, "id_type"),
            (src.as_str(), last, "bad_category"),
        ]
    );
    assert_eq!(
        bad[1].3, plain[6],
        "raw line kept as read, line end stripped"
    );

    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["status"], "ok");
    assert_eq!(r["events_written"], p.len() as u64);
    assert_eq!(r["bad_lines"], 4);
    assert_eq!(r["blank_lines"], 1);
    assert_eq!(r["bad"]["bad_ts"], 1);
    assert_eq!(r["id_type"], "int");
    assert_eq!(r["inputs"][2]["source"], "-");
    assert!(lake.join("category=toys%2Bgames%20%26%20more").is_dir());
    assert!(hidden_files(&lake).is_empty());

    assert_scores(&compute(&lake, &tmp.path().join("out.csv")), &expected(&p));
}

#[test]
fn a_second_run_only_adds_files() {
    let tmp = tempfile::tempdir().unwrap();
    let p = purchases();
    let (first, second) = p.split_at(p.len() / 2);
    let write = |name: &str, part: &[Purchase], offset: usize| {
        let path = tmp.path().join(name);
        let text: Vec<String> = part
            .iter()
            .enumerate()
            .map(|(n, e)| line(n + offset, e))
            .collect();
        std::fs::write(&path, text.join("\n")).unwrap();
        path
    };
    let a = write("a.json", first, 0);
    let b = write("b.json", second, first.len());
    let lake = tmp.path().join("lake");
    ingest(&lake, &[], &[&a]).success();
    let before = data_files(&lake);
    ingest(&lake, &[], &[&b]).success();
    let after = data_files(&lake);
    for (path, bytes) in &before {
        assert_eq!(after.get(path), Some(bytes), "{} unchanged", path.display());
    }
    assert!(after.len() > before.len());
    assert_scores(&compute(&lake, &tmp.path().join("out.csv")), &expected(&p));
}

#[test]
fn too_many_bad_lines_fail_the_run_and_leave_the_lake_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let p = purchases();
    let good = tmp.path().join("good.json");
    let lines: Vec<String> = p.iter().enumerate().map(|(n, e)| line(n, e)).collect();
    std::fs::write(&good, lines.join("\n")).unwrap();
    let lake = tmp.path().join("lake");
    ingest(&lake, &[], &[&good]).success();
    let before = data_files(&lake);

    let mixed = tmp.path().join("mixed.json");
    let fresh = line(0, &("fresh", 1, 60, None));
    std::fs::write(
        &mixed,
        format!("{}\n{fresh}\nnot json\n", lines[..50].join("\n")),
    )
    .unwrap();
    let report = tmp.path().join("r.json");
    ingest(&lake, &["--report", report.to_str().unwrap()], &[&mixed])
        .code(1)
        .stderr(contains("1 of 52 non-blank lines were bad"))
        .stderr(contains("nothing was added"));
    assert_eq!(data_files(&lake), before);
    assert!(
        !lake.join("category=fresh").exists(),
        "folders the run made are gone"
    );
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["status"], "failed");
    assert_eq!(r["events_written"], 0);
    let q = PathBuf::from(r["quarantine"].as_str().unwrap());
    assert_eq!(quarantine(&q)[0].1, 52);
    assert!(hidden_files(&lake).is_empty());
    // The same lines pass with a looser threshold.
    ingest(&lake, &["--max-bad-fraction", "0.05"], &[&mixed]).success();
    assert!(data_files(&lake).len() > before.len());
}

#[test]
fn a_lake_keeps_one_item_id_type() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let ints = tmp.path().join("ints.json");
    std::fs::write(&ints, r#"{"item_id":1,"category":"a","ts":1792022400}"#).unwrap();
    let strings = tmp.path().join("strings.json");
    std::fs::write(
        &strings,
        "{\"item_id\":\"A\",\"category\":\"a\",\"ts\":1792022400}\n{\"item_id\":2,\"category\":\"a\",\"ts\":1792022400}\n",
    )
    .unwrap();
    ingest(&lake, &[], &[&ints]).success();
    // String ids are refused by an integer lake, line by line.
    let q = tmp.path().join("q.jsonl");
    ingest(
        &lake,
        &[
            "--max-bad-fraction",
            "1",
            "--quarantine",
            q.to_str().unwrap(),
        ],
        &[&strings],
    )
    .success();
    let bad = quarantine(&q);
    assert_eq!(bad.len(), 1);
    assert_eq!((bad[0].1, bad[0].2.as_str()), (1, "id_type"));
    // Forcing the other type is refused before reading anything.
    ingest(&lake, &["--id-type", "string"], &[&strings])
        .code(1)
        .stderr(contains("item ids are int but --id-type is string"));
    // In a new lake the first valid event decides.
    let fresh = tmp.path().join("fresh");
    ingest(&fresh, &["--max-bad-fraction", "1"], &[&strings]).success();
    let files = data_files(&fresh);
    assert_eq!(files.len(), 1);
}

#[test]
fn usage_and_input_errors_name_the_culprit() {
    let tmp = tempfile::tempdir().unwrap();
    let lake = tmp.path().join("lake");
    let missing = tmp.path().join("missing.json");
    ingest(&lake, &["--max-bad-fraction", "2"], &[&missing])
        .code(2)
        .stderr(contains("--max-bad-fraction"));
    ingest(&lake, &[], &[Path::new("-"), Path::new("-")])
        .code(2)
        .stderr(contains("only once"));
    ingest(&lake, &[], &[&missing])
        .code(1)
        .stderr(contains("missing.json"));
    let truncated = tmp.path().join("t.json.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(line(0, &purchases()[0]).repeat(1000).as_bytes())
        .unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    ingest(&lake, &[], &[&truncated])
        .code(1)
        .stderr(contains("t.json.gz: line"));
    assert!(data_files(&lake).is_empty());
}
