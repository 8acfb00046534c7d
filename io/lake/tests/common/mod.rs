//! Lake files for the incremental tests.

#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use parquet::arrow::ArrowWriter;
use parquet::file::properties::WriterProperties;

/// Writes `rows` (item, ts µs, quantity) as the Parquet file `path`, its
/// folders created, 16 rows a row group. Items are INT64, or the UTF8
/// `i<item>` with `strings`.
pub fn write_parquet(path: &Path, rows: &[(u16, i64, i32)], strings: bool) {
    write_parquet_groups(path, rows, strings, 16);
}

/// [`write_parquet`] with `group_rows` rows a row group.
pub fn write_parquet_groups(
    path: &Path,
    rows: &[(u16, i64, i32)],
    strings: bool,
    group_rows: usize,
) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    let items: ArrayRef = if strings {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| format!("i{:03}", r.0)),
        ))
    } else {
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| i64::from(r.0)),
        ))
    };
    let batch = RecordBatch::try_from_iter([
        ("item_id", items),
        (
            "ts",
            Arc::new(
                TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| r.1))
                    .with_timezone("UTC"),
            ) as ArrayRef,
        ),
        (
            "quantity",
            Arc::new(Int32Array::from_iter_values(rows.iter().map(|r| r.2))) as ArrayRef,
        ),
    ])
    .unwrap();
    let file = std::fs::File::create(path).unwrap();
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(group_rows))
        .build();
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}
