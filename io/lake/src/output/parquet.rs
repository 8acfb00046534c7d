//! Parquet results: the CSV's columns with their natural types (`item_id` as
//! INT64 or UTF8, like the lake).

use std::io::Write;
use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use topsellers_engine::ItemId;

use super::{OrOutput, RunResults};

pub(super) fn write(w: &mut (dyn Write + Send), results: &RunResults<'_>) -> Result<(), String> {
    let rows: Vec<_> = results.rows().collect();
    let ints = rows.iter().all(|r| matches!(r.item, ItemId::Int(_)));
    let item: ArrayRef = if ints && !rows.is_empty() {
        Arc::new(Int64Array::from_iter_values(rows.iter().map(
            |r| match r.item {
                ItemId::Int(v) => *v,
                ItemId::Str(_) => 0,
            },
        )))
    } else {
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.item.to_string()),
        ))
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("variant", DataType::Utf8, false),
        Field::new("category", DataType::Utf8, false),
        Field::new("rank", DataType::Int32, false),
        Field::new("item_id", item.data_type().clone(), false),
        Field::new("score", DataType::Float64, false),
        Field::new("window_s", DataType::Int64, false),
        Field::new("as_of", DataType::Utf8, false),
    ]));
    let as_of = results.as_of();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.variant),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|r| r.category),
        )),
        Arc::new(Int32Array::from_iter_values(
            rows.iter().map(|r| r.rank as i32),
        )),
        item,
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.score))),
        Arc::new(Int64Array::from_iter_values(
            rows.iter().map(|r| r.window_s),
        )),
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|_| as_of.as_str()),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns).or_output()?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut writer = ArrowWriter::try_new(w, schema, Some(props)).or_output()?;
    writer.write(&batch).or_output()?;
    writer.close().or_output()?;
    Ok(())
}
