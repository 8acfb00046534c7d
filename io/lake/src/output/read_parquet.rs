//! Parquet results read back: the CSV's columns, typed (strings as UTF8,
//! large or view UTF8; integers as INT32 or INT64; `score` as DOUBLE).

use std::fs::File;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use topsellers_engine::ItemId;

use super::read::{bad, Grouper, Row};
use super::set::ResultSet;
use crate::error::LakeError;

/// Reads a Parquet results file.
pub(super) fn read_parquet(path: &Path) -> Result<ResultSet, LakeError> {
    let file = File::open(path).map_err(|e| LakeError::io(path, e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| LakeError::NotParquet {
            path: path.to_path_buf(),
            error: e,
        })?;
    let mut grouper = Grouper::new(path);
    let mut offset = 0usize;
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, format!("rows from {offset}"), e.to_string()))?;
        read_batch(path, &batch, offset, &mut grouper)?;
        offset += batch.num_rows();
    }
    grouper.finish()
}

/// A column of a results batch, by name, as strings or integers.
enum Col<'a> {
    Str(Box<dyn Fn(usize) -> &'a str + 'a>),
    Int(Box<dyn Fn(usize) -> i64 + 'a>),
}

fn column<'a>(path: &Path, batch: &'a RecordBatch, name: &str) -> Result<Col<'a>, LakeError> {
    let array = batch
        .column_by_name(name)
        .ok_or_else(|| LakeError::MissingColumn {
            path: path.to_path_buf(),
            column: name.to_string(),
            available: batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    if array.null_count() > 0 {
        return Err(bad(path, format!("column {name:?}"), "holds nulls"));
    }
    Ok(match array.data_type() {
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            Col::Str(Box::new(move |i| a.value(i)))
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            Col::Str(Box::new(move |i| a.value(i)))
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            Col::Str(Box::new(move |i| a.value(i)))
        }
        DataType::Int64 => {
            let a = array.as_primitive::<Int64Type>();
            Col::Int(Box::new(move |i| a.value(i)))
        }
        DataType::Int32 => {
            let a = array.as_primitive::<Int32Type>();
            Col::Int(Box::new(move |i| i64::from(a.value(i))))
        }
        other => {
            return Err(LakeError::ColumnType {
                path: path.to_path_buf(),
                column: name.to_string(),
                found: other.to_string(),
                expected: "a string or an integer",
            })
        }
    })
}

fn read_batch(
    path: &Path,
    batch: &RecordBatch,
    offset: usize,
    grouper: &mut Grouper<'_>,
) -> Result<(), LakeError> {
    let wrong = |name: &str, want: &'static str, found: &DataType| LakeError::ColumnType {
        path: path.to_path_buf(),
        column: name.to_string(),
        found: found.to_string(),
        expected: want,
    };
    let string = |name: &str| match column(path, batch, name)? {
        Col::Str(f) => Ok(f),
        Col::Int(_) => Err(wrong(name, "a string", &DataType::Int64)),
    };
    let int = |name: &str| match column(path, batch, name)? {
        Col::Int(f) => Ok(f),
        Col::Str(_) => Err(wrong(name, "an integer", &DataType::Utf8)),
    };
    let (variant, category, as_of) = (string("variant")?, string("category")?, string("as_of")?);
    let (rank, window_s) = (int("rank")?, int("window_s")?);
    let item = column(path, batch, "item_id")?;
    let score_col = batch
        .column_by_name("score")
        .ok_or_else(|| LakeError::MissingColumn {
            path: path.to_path_buf(),
            column: "score".into(),
            available: String::new(),
        })?;
    if score_col.data_type() != &DataType::Float64 {
        return Err(wrong("score", "DOUBLE", score_col.data_type()));
    }
    let score = score_col.as_primitive::<Float64Type>();
    for i in 0..batch.num_rows() {
        let at = || format!("row {}", offset + i);
        let row = Row {
            variant: variant(i),
            category: category(i),
            rank: rank(i),
            item: match &item {
                Col::Int(f) => ItemId::Int(f(i)),
                Col::Str(f) => ItemId::Str(f(i).to_string()),
            },
            score: score.value(i),
            window_s: window_s(i),
            as_of: as_of(i),
        };
        grouper.push(&at, row)?;
    }
    Ok(())
}
