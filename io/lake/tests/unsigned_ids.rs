//! Unsigned item ids (Parquet `UINT_64`) are read exactly up to `i64::MAX`;
//! a larger one stops the run with an error naming the file, the column and
//! the value, on the full scan and on the incremental reader alike. Clamping
//! it would merge distinct items (2^63 and 2^64 − 1 would both become
//! `i64::MAX`) and report wrong scores without a word.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch, TimestampMillisecondArray, UInt64Array};
use parquet::arrow::ArrowWriter;
use topsellers_engine::{ItemId, ScoringPlan, Variant};
use topsellers_lake::incremental::{advance, save, visit_rows, CycleOptions};
use topsellers_lake::{scan_lake, ColumnNames, ScanOptions};

const DAY_MS: i64 = 86_400_000;
/// 2026-01-10T00:00:00Z.
const AS_OF_MS: i64 = 1_768_003_200_000;
const TOO_LARGE: u64 = i64::MAX as u64 + 1;

/// Writes one file of `category` with the given ids (and optional
/// quantities), bought over the last hours before `as_of`.
fn write_file(
    lake: &Path,
    category: &str,
    name: &str,
    ids: &[u64],
    qty: Option<&[u64]>,
) -> PathBuf {
    let dir = lake.join(format!("category={category}"));
    std::fs::create_dir_all(&dir).unwrap();
    let ts = (0..ids.len() as i64).map(|i| AS_OF_MS - 3_600_000 * (i + 1));
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("item_id", Arc::new(UInt64Array::from(ids.to_vec()))),
        (
            "ts",
            Arc::new(TimestampMillisecondArray::from_iter_values(ts).with_timezone("UTC")),
        ),
    ];
    if let Some(q) = qty {
        columns.push(("quantity", Arc::new(UInt64Array::from(q.to_vec()))));
    }
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    let path = dir.join(name);
    let mut w =
        ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    path
}

fn plan(as_of_ms: i64) -> ScoringPlan {
    ScoringPlan::new(
        as_of_ms * 1_000_000,
        vec![Variant::from_half_life("default", 7.0 * 86_400.0).unwrap()],
        30 * DAY_MS * 1_000_000,
        365 * DAY_MS * 1_000_000,
        None,
        10,
    )
    .unwrap()
}

/// The error must name the file, the column and the value.
fn assert_names(message: &str, file: &Path, column: &str, value: u64) {
    for part in [
        file.display().to_string(),
        format!("{column:?}"),
        value.to_string(),
    ] {
        assert!(message.contains(&part), "{part} missing from: {message}");
    }
}

#[test]
fn ids_up_to_i64_max_are_read_exactly() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "c", "a.parquet", &[i64::MAX as u64, 7, 7], None);
    let out = scan_lake(
        dir.path(),
        &ScanOptions::default(),
        &plan(AS_OF_MS),
        &|_| {},
    )
    .unwrap();
    let top = &out.outcomes[0].scored.as_ref().unwrap().top[0];
    let ids: Vec<&ItemId> = top.iter().map(|r| &r.item).collect();
    assert_eq!(ids, [&ItemId::Int(7), &ItemId::Int(i64::MAX)]);
}

#[test]
fn scan_refuses_an_id_above_i64_max() {
    let dir = tempfile::tempdir().unwrap();
    // Two distinct items that clamping would merge into one.
    let file = write_file(
        dir.path(),
        "c",
        "a.parquet",
        &[1, TOO_LARGE, u64::MAX],
        None,
    );
    let err = scan_lake(
        dir.path(),
        &ScanOptions::default(),
        &plan(AS_OF_MS),
        &|_| {},
    )
    .expect_err("an id above i64::MAX must not be merged into i64::MAX");
    assert_names(&err.to_string(), &file, "item_id", TOO_LARGE);
}

#[test]
fn scan_refuses_a_quantity_above_i64_max() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "c", "a.parquet", &[1, 2], Some(&[1, u64::MAX]));
    let err = scan_lake(
        dir.path(),
        &ScanOptions::default(),
        &plan(AS_OF_MS),
        &|_| {},
    )
    .expect_err("a quantity above i64::MAX must not be clamped");
    assert_names(&err.to_string(), &file, "quantity", u64::MAX);
}

#[test]
fn incremental_reader_refuses_an_id_above_i64_max() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_file(dir.path(), "c", "a.parquet", &[TOO_LARGE, u64::MAX], None);
    let err = visit_rows(
        &file,
        &ColumnNames::default(),
        i64::MIN,
        i64::MAX,
        &mut |_, _, _| {},
    )
    .expect_err("the incremental reader must not merge ids either");
    assert_names(&err.to_string(), &file, "item_id", TOO_LARGE);
}

#[test]
fn incremental_cycle_refuses_a_new_file_with_an_id_above_i64_max() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    write_file(&lake, "c", "a.parquet", &[1, 2, 3], None);
    let opts = CycleOptions {
        lake: lake.clone(),
        state_path: dir.path().join("state.bin"),
        scan: ScanOptions::default(),
    };
    let first = advance(&opts, &plan(AS_OF_MS)).unwrap();
    save(&opts.state_path, &first.state).unwrap();
    let file = write_file(&lake, "c", "b.parquet", &[4, u64::MAX], None);
    let err = match advance(&opts, &plan(AS_OF_MS + 3_600_000)) {
        Ok(out) => panic!("the cycle merged the id: {:?}", out.outcomes),
        Err(e) => e,
    };
    assert_names(&err.to_string(), &file, "item_id", u64::MAX);
}
