//! The dictionary-code page decoder against the Arrow path: random lakes
//! written by pyarrow (`decoder_paths.py`, every writer setting the contract
//! allows drawn per file) must give bit-identical outcomes, the same
//! counters and the same errors whichever path decodes them.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::process::Command;

use topsellers_engine::{ScoringPlan, Variant};
use topsellers_lake::{scan_lake, ScanOptions, ScanOutput, ScanStats};

const NS_PER_MS: i64 = 1_000_000;
const DAY_NS: i64 = 86_400_000_000_000;

fn python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python")
}

/// Writes `lakes` random lakes under `out` and returns their `as_of` (ms).
fn write_lakes(out: &Path, seed: u64, lakes: usize) -> Vec<i64> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/decoder_paths.py");
    let run = Command::new(python())
        .arg(&script)
        .arg(out)
        .arg(seed.to_string())
        .arg(lakes.to_string())
        .output()
        .expect("the project virtualenv's python (scripts/setup-python.sh)");
    assert!(
        run.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            v["as_of_ms"].as_i64().unwrap()
        })
        .collect()
}

/// A fixed 10-day window, and an adaptive one (10 days growing to 60) that
/// sends sparse categories to the second pass.
fn plans(as_of_ms: i64) -> Vec<ScoringPlan> {
    let variants = || {
        vec![
            Variant::from_half_life("day", 86_400.0).unwrap(),
            Variant::from_half_life("week", 7.0 * 86_400.0).unwrap(),
        ]
    };
    let as_of = as_of_ms * NS_PER_MS;
    vec![
        ScoringPlan::new(as_of, variants(), 10 * DAY_NS, 10 * DAY_NS, None, 20).unwrap(),
        ScoringPlan::new(as_of, variants(), 10 * DAY_NS, 60 * DAY_NS, Some(500), 50).unwrap(),
    ]
}

/// The counters both paths must agree on (not the timings, nor which path
/// a unit took).
fn comparable(s: &ScanStats) -> ScanStats {
    ScanStats {
        discover_s: 0.0,
        plan_s: 0.0,
        scan_s: 0.0,
        units_dictionary_path: 0,
        units_arrow_path: 0,
        units: Default::default(),
        ..s.clone()
    }
}

/// Outcomes printed with every score's exact bits (`{:?}` of an f64 is its
/// shortest round-trip form, one per value).
fn fingerprint(out: &ScanOutput) -> String {
    format!("{:?}\n{:?}", out.item_kind, out.outcomes)
}

fn scan(root: &Path, plan: &ScoringPlan, page_decoder: bool) -> Result<ScanOutput, String> {
    let opts = ScanOptions {
        page_decoder,
        ..ScanOptions::default()
    };
    scan_lake(root, &opts, plan, &|_| {}).map_err(|e| e.to_string())
}

#[test]
fn page_decoder_gives_the_arrow_paths_results_on_random_lakes() {
    let dir = tempfile::tempdir().unwrap();
    let mut dictionary_units = 0;
    let mut arrow_units = 0;
    let mut lakes_checked = 0;
    for seed in [11, 12] {
        let out = dir.path().join(seed.to_string());
        for (lake, as_of_ms) in write_lakes(&out, seed, 24).into_iter().enumerate() {
            let root = out.join(lake.to_string());
            for plan in plans(as_of_ms) {
                let want = scan(&root, &plan, false);
                let got = scan(&root, &plan, true);
                let what = format!("seed {seed}, lake {}", root.display());
                match (&want, &got) {
                    (Ok(want), Ok(got)) => {
                        assert_eq!(fingerprint(got), fingerprint(want), "{what}");
                        assert_eq!(comparable(&got.stats), comparable(&want.stats), "{what}");
                        assert_eq!(want.stats.units_dictionary_path, 0, "{what}");
                        let units = want.stats.units_arrow_path;
                        assert_eq!(
                            got.stats.units_dictionary_path + got.stats.units_arrow_path,
                            units,
                            "{what}"
                        );
                        dictionary_units += got.stats.units_dictionary_path;
                        arrow_units += got.stats.units_arrow_path;
                    }
                    (Err(want), Err(got)) => assert_eq!(got, want, "{what}"),
                    _ => panic!("{what}: arrow path {want:?}\npage decoder {got:?}"),
                }
                lakes_checked += 1;
            }
        }
    }
    eprintln!("units: {dictionary_units} from pages, {arrow_units} through Arrow");
    assert_eq!(lakes_checked, 2 * 24 * 2);
    // Both paths were exercised, the new one on most units.
    assert!(
        dictionary_units > 100,
        "{dictionary_units} units decoded from pages"
    );
    assert!(
        arrow_units > 10,
        "{arrow_units} units handed to the Arrow path"
    );
}

/// One category, one file of unsigned 64-bit ids (dictionary-encoded, the
/// writer's default) with the given values.
fn unsigned_lake(root: &Path, ids: &[u64]) {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, RecordBatch, TimestampMillisecondArray, UInt64Array};
    use parquet::arrow::ArrowWriter;

    let dir = root.join("category=c");
    std::fs::create_dir_all(&dir).unwrap();
    let n = ids.len() as i64;
    let batch = RecordBatch::try_from_iter([
        (
            "item_id",
            Arc::new(UInt64Array::from(ids.to_vec())) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(TimestampMillisecondArray::from_iter_values(
                (0..n).map(|i| 1_790_000_000_000 - i * 60_000),
            )),
        ),
    ])
    .unwrap();
    let file = std::fs::File::create(dir.join("a.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn dictionary_encoded_ids_take_the_page_decoder() {
    let dir = tempfile::tempdir().unwrap();
    unsigned_lake(dir.path(), &[3, 5, 3, i64::MAX as u64, 5]);
    let plan = &plans(1_790_000_000_000)[1];
    let got = scan(dir.path(), plan, true).unwrap();
    assert_eq!(got.stats.units_dictionary_path, 1);
    assert_eq!(got.stats.units_arrow_path, 0);
    let want = scan(dir.path(), plan, false).unwrap();
    assert_eq!(fingerprint(&got), fingerprint(&want));
}

#[test]
fn an_unsigned_id_above_i64_max_fails_as_on_the_arrow_path() {
    let dir = tempfile::tempdir().unwrap();
    unsigned_lake(dir.path(), &[3, 1 << 63, 3]);
    let plan = &plans(1_790_000_000_000)[1];
    let got = scan(dir.path(), plan, true).unwrap_err();
    let want = scan(dir.path(), plan, false).unwrap_err();
    assert_eq!(got, want);
    assert!(got.contains("9223372036854775808"), "{got}");
}
