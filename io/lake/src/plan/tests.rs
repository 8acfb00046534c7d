//! Tests of the scan plan: time classes, row selectors, and the split of a
//! row group's pages between the two passes (by the page index).

#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

use super::*;

const DAY_MS: i64 = 86_400_000;
const AS_OF_MS: i64 = 100 * DAY_MS;
const PAGE: usize = 10;

/// Base window 2 days, largest window 20 days.
fn horizon() -> Horizon {
    Horizon {
        as_of: AS_OF_MS * 1_000_000,
        inner_cutoff: (AS_OF_MS - 2 * DAY_MS) * 1_000_000,
        cutoff: (AS_OF_MS - 20 * DAY_MS) * 1_000_000,
    }
}

/// One row group of pages of `PAGE` rows; each page's times (ms, `None`
/// = null) spread evenly from `ages[p].0` to `ages[p].1` days before
/// `as_of` (negative: after it).
fn file(ages: &[Option<(f64, f64)>]) -> (ArrowReaderMetadata, ResolvedColumns, Bytes) {
    file_with(ages, true)
}

/// [`file`], read with its page index or without (its page headers carry
/// the same statistics).
fn file_with(
    ages: &[Option<(f64, f64)>],
    page_index: bool,
) -> (ArrowReaderMetadata, ResolvedColumns, Bytes) {
    let ts: Vec<Option<i64>> = ages
        .iter()
        .flat_map(|page| {
            (0..PAGE).map(move |i| {
                page.map(|(old, new)| {
                    let age = old + (new - old) * i as f64 / (PAGE - 1) as f64;
                    AS_OF_MS - (age * DAY_MS as f64) as i64
                })
            })
        })
        .collect();
    let n = ts.len() as i64;
    let batch = RecordBatch::try_from_iter([
        (
            "item_id",
            Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef,
        ),
        (
            "ts",
            Arc::new(TimestampMillisecondArray::from(ts).with_timezone("UTC")),
        ),
    ])
    .unwrap();
    let props = WriterProperties::builder()
        .set_data_page_row_count_limit(PAGE)
        .set_write_batch_size(PAGE)
        .set_dictionary_enabled(false)
        .set_write_page_header_statistics(true)
        .build();
    let mut buf = Vec::new();
    let mut w = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
    // Without the page index, as a reader of a file that has none sees it.
    let policy = if page_index {
        PageIndexPolicy::Optional
    } else {
        PageIndexPolicy::Skip
    };
    let options = ArrowReaderOptions::new()
        .with_skip_arrow_metadata(true)
        .with_page_index_policy(policy);
    let bytes = Bytes::from(buf);
    let meta = ArrowReaderMetadata::load(&bytes, options).unwrap();
    let cols = resolve(
        Path::new("mem.parquet"),
        &ColumnNames::default(),
        meta.schema(),
        meta.parquet_schema(),
    )
    .unwrap();
    let index = meta.metadata().page_index_for_row_group(0);
    if !page_index {
        assert!(index.offset_index(cols.ts_leaf).is_none());
        return (meta, cols, bytes);
    }
    let starts: Vec<i64> = index
        .offset_index(cols.ts_leaf)
        .unwrap()
        .page_locations()
        .iter()
        .map(|l| l.first_row_index)
        .collect();
    let want: Vec<i64> = (0..ages.len() as i64).map(|p| p * PAGE as i64).collect();
    assert_eq!(starts, want, "the writer must cut one page per {PAGE} rows");
    (meta, cols, bytes)
}

fn selectors(part: &Part) -> Vec<RowSelector> {
    match part {
        Part::Pages(s) => s.iter().copied().collect(),
        other => panic!("expected some pages, got {other:?}"),
    }
}

#[test]
fn split_pages_sends_each_page_to_one_pass() {
    let (meta, cols, bytes) = file(&[
        Some((30.0, 21.0)), // wholly before the largest window: never read
        Some((19.0, 10.0)), // inside W_max only: second pass
        Some((25.0, 15.0)), // straddles the W_max edge: second pass
        Some((3.0, 1.0)),   // straddles the base-window edge: first pass only
        Some((1.0, 0.0)),   // inside the base window: first pass
        Some((-1.0, -2.0)), // after as_of: never read
        None,               // all null: first pass (its rows count as skipped)
    ]);
    let rows = 7 * PAGE as u64;
    let (first, second) = split_pages(&meta, &bytes, &cols, 0, rows, horizon()).unwrap();
    assert_eq!(
        selectors(&first),
        [
            RowSelector::skip(3 * PAGE),
            RowSelector::select(2 * PAGE),
            RowSelector::skip(PAGE),
            RowSelector::select(PAGE),
        ]
    );
    assert_eq!(
        selectors(&second),
        [
            RowSelector::skip(PAGE),
            RowSelector::select(2 * PAGE),
            RowSelector::skip(4 * PAGE),
        ]
    );
    // No page is read twice.
    assert_eq!(first.rows(rows) + second.rows(rows), 5 * PAGE as u64);
}

/// Without a page index, the time column's page headers split the pages
/// exactly as the index would; a page without statistics (here a page of
/// nulls only, for which a writer writes none) turns the split off.
#[test]
fn page_headers_split_pages_as_the_page_index_does() {
    let pages = [
        Some((30.0, 21.0)),
        Some((19.0, 10.0)),
        Some((25.0, 15.0)),
        Some((3.0, 1.0)),
        Some((1.0, 0.0)),
        Some((-1.0, -2.0)),
    ];
    let rows = pages.len() as u64 * PAGE as u64;
    let split = |page_index| {
        let (meta, cols, bytes) = file_with(&pages, page_index);
        let (first, second) = split_pages(&meta, &bytes, &cols, 0, rows, horizon()).unwrap();
        (selectors(&first), selectors(&second))
    };
    assert_eq!(split(false), split(true));
    let mut with_null = pages.to_vec();
    with_null.push(None);
    let (meta, cols, bytes) = file_with(&with_null, false);
    let rows = with_null.len() as u64 * PAGE as u64;
    assert!(split_pages(&meta, &bytes, &cols, 0, rows, horizon()).is_none());
}

#[test]
fn split_pages_reads_a_row_group_whole_when_one_pass_takes_it_all() {
    let (meta, cols, bytes) = file(&[Some((1.9, 1.0)), Some((3.0, 1.5))]);
    let (first, second) = split_pages(&meta, &bytes, &cols, 0, 2 * PAGE as u64, horizon()).unwrap();
    assert!(matches!((first, second), (Part::All, Part::Nothing)));
}

#[test]
fn classifies_blocks_by_time() {
    let h = Horizon {
        as_of: 100,
        inner_cutoff: 70,
        cutoff: 0,
    };
    assert_eq!(h.classify(101, 200), Pass::Skip);
    assert_eq!(h.classify(-50, 0), Pass::Skip);
    assert_eq!(h.classify(90, 100), Pass::First);
    assert_eq!(h.classify(60, 71), Pass::First);
    assert_eq!(h.classify(1, 70), Pass::Second);
    assert_eq!(h.classify(0, 1), Pass::Second);
}

#[test]
fn selectors_merge_runs() {
    let mut s = Selectors::default();
    for (n, select) in [
        (10, false),
        (5, true),
        (5, true),
        (3, false),
        (4, false),
        (2, true),
    ] {
        s.push(n, select);
    }
    let want = [
        RowSelector::skip(10),
        RowSelector::select(10),
        RowSelector::skip(7),
        RowSelector::select(2),
    ];
    assert_eq!(s.list, want);
    assert_eq!((s.selected, s.total), (12, 29));
    match s.finish() {
        Part::Pages(sel) => assert_eq!(sel.iter().copied().collect::<Vec<_>>(), want),
        other => panic!("{other:?}"),
    }
}

#[test]
fn selectors_finish_as_nothing_or_all() {
    let mut none = Selectors::default();
    none.push(4, false);
    none.push(6, false);
    assert!(matches!(none.finish(), Part::Nothing));
    let mut all = Selectors::default();
    all.push(4, true);
    all.push(6, true);
    assert!(matches!(all.finish(), Part::All));
}
