//! Page-level pruning end to end: a file cut into small pages, one of which
//! straddles the base-window edge, gives the reference's results whether the
//! category needs the second pass or not, and no page is read twice.

#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, Int32Array, Int64Array, RecordBatch, TimestampMillisecondArray};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;
use topsellers_engine::reference::{check_outcome, score_category, Purchase};
use topsellers_engine::{ItemId, RowCounts, ScoringPlan, Variant};
use topsellers_lake::{scan_lake, ScanOptions};

const DAY_MS: i64 = 86_400_000;
/// 2026-01-10T00:00:00Z.
const AS_OF_MS: i64 = 1_768_003_200_000;
const PAGE: usize = 10;

/// Page by page, the ages (days before `as_of`, oldest first) the rows
/// spread over.
const PAGES: [(f64, f64); 7] = [
    (30.0, 21.0), // before the largest window: pruned
    (19.0, 10.0), // second pass
    (9.0, 2.5),   // second pass
    (2.4, 1.2),   // straddles the 2-day base window's edge: first pass
    (1.1, 0.0),   // first pass
    (0.0, 0.0),   // first pass, exactly at as_of
    (-0.5, -1.0), // after as_of: pruned
];

/// (item, ts ms, quantity) of every row, in file order.
fn rows() -> Vec<(i64, i64, i32)> {
    let mut rows = Vec::new();
    for (p, &(old, new)) in PAGES.iter().enumerate() {
        for i in 0..PAGE {
            let age = old + (new - old) * i as f64 / (PAGE - 1) as f64;
            let n = (p * PAGE + i) as i64;
            // Ids repeat within and across pages, so sums span passes.
            rows.push((
                n * 7 % 47,
                AS_OF_MS - (age * DAY_MS as f64) as i64,
                1 + (n % 3) as i32,
            ));
        }
    }
    rows
}

fn write_lake(lake: &Path) {
    let rows = rows();
    let dir = lake.join("category=c");
    std::fs::create_dir_all(&dir).unwrap();
    let batch = RecordBatch::try_from_iter([
        (
            "item_id",
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.0))) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(
                TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| r.1))
                    .with_timezone("UTC"),
            ),
        ),
        (
            "quantity",
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.2))),
        ),
    ])
    .unwrap();
    let props = WriterProperties::builder()
        .set_data_page_row_count_limit(PAGE)
        .set_write_batch_size(PAGE)
        .set_dictionary_enabled(false)
        .build();
    let file = std::fs::File::create(dir.join("a.parquet")).unwrap();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

fn plan(min_items: usize) -> ScoringPlan {
    ScoringPlan::new(
        AS_OF_MS * 1_000_000,
        vec![
            Variant::from_half_life("fast", 86_400.0).unwrap(),
            Variant::from_half_life("slow", 7.0 * 86_400.0).unwrap(),
        ],
        2 * DAY_MS * 1_000_000,
        20 * DAY_MS * 1_000_000,
        Some(min_items),
        20,
    )
    .unwrap()
}

/// Scans the lake and checks the scores against the reference; returns the
/// scan's row counters and stats.
fn scan_and_check(min_items: usize) -> (RowCounts, RowCounts, topsellers_lake::ScanStats) {
    let dir = tempfile::tempdir().unwrap();
    write_lake(dir.path());
    let plan = plan(min_items);
    let out = scan_lake(dir.path(), &ScanOptions::default(), &plan, &|_| {}).unwrap();
    let purchases: Vec<Purchase> = rows()
        .iter()
        .map(|&(item, ts_ms, q)| Purchase {
            item: Some(ItemId::Int(item)),
            ts_ns: Some(ts_ms * 1_000_000),
            quantity: Some(i64::from(q)),
        })
        .collect();
    let want = score_category(&plan, "c", &purchases);
    let mut got = out.outcomes.into_iter().next().unwrap();
    let counts = got.counts;
    // Pruned pages are not counted by the scan; the scores are compared.
    got.counts = want.counts;
    check_outcome(&got, &want, 1e-9).unwrap();
    (counts, want.counts, out.stats)
}

#[test]
fn a_sparse_category_reads_every_page_of_its_window_once() {
    // 47 distinct ids in all, 30 in the base window: the window grows.
    let (got, want, stats) = scan_and_check(40);
    assert_eq!(stats.categories_second_pass, 1);
    assert_eq!(got.in_max_window, want.in_max_window, "{got:?}");
    // The straddling page's older rows are read once, by the first pass.
    assert_eq!(got.scanned, 5 * PAGE as u64);
    assert_eq!(stats.rows_pruned_by_page, 2 * PAGE as u64);
}

#[test]
fn a_dense_category_never_reads_the_second_pass_pages() {
    let (got, _, stats) = scan_and_check(1);
    assert_eq!(stats.categories_second_pass, 0);
    assert_eq!(stats.rows_not_needed, 2 * PAGE as u64);
    // The first pass: the straddling page, its successor and the page at as_of.
    assert_eq!(got.scanned, 3 * PAGE as u64);
}
