//! Decoding one work unit (a row group) into engine batches.
//!
//! The Arrow arrays the Parquet decoder yields are handed to the engine as
//! borrowed slices and validity bitmaps: no per-row copy, except for integer
//! columns narrower than 64 bits, which are widened into a reused buffer.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Int16Type, Int32Type, Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use topsellers_engine::{
    Batch, BytesInterner, CategoryAccumulator, IntInterner, Interner, KeyColumn, ScoringPlan,
    StrColumn, Validity,
};

use crate::error::IoError;

/// Reused buffers for widening narrow integer columns.
#[derive(Default)]
pub struct Scratch {
    items: Vec<i64>,
    quantity: Vec<i64>,
}

fn validity(array: &dyn Array) -> Option<Validity<'_>> {
    let nulls = array.nulls()?;
    if nulls.null_count() == 0 {
        return None;
    }
    Some(Validity {
        bits: nulls.inner().values(),
        offset: nulls.offset(),
    })
}

/// Widens any integer array to `i64` values, borrowing when it already is.
pub(crate) fn as_i64<'a>(array: &'a dyn Array, buf: &'a mut Vec<i64>) -> Option<&'a [i64]> {
    macro_rules! widen {
        ($t:ty) => {{
            buf.clear();
            buf.extend(
                array
                    .as_primitive::<$t>()
                    .values()
                    .iter()
                    .map(|&v| i64::try_from(v).unwrap_or(i64::MAX)),
            );
            Some(&buf[..])
        }};
    }
    match array.data_type() {
        DataType::Int64 => Some(&array.as_primitive::<Int64Type>().values()[..]),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int8 => widen!(Int8Type),
        DataType::UInt64 => widen!(UInt64Type),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt8 => widen!(UInt8Type),
        _ => None,
    }
}

/// Time values as raw `i64`s in the column's own unit.
pub(crate) fn ts_values(array: &dyn Array) -> Option<&[i64]> {
    use arrow_array::types::{
        TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
        TimestampSecondType,
    };
    use arrow_schema::TimeUnit;
    Some(match array.data_type() {
        DataType::Timestamp(TimeUnit::Second, _) => {
            array.as_primitive::<TimestampSecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            array.as_primitive::<TimestampMillisecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            array.as_primitive::<TimestampMicrosecondType>().values()
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            array.as_primitive::<TimestampNanosecondType>().values()
        }
        DataType::Int64 => array.as_primitive::<Int64Type>().values(),
        _ => return None,
    })
}

/// The columns of a decoded batch, located by name.
pub struct BatchColumns<'a> {
    /// Item ids.
    pub items: &'a dyn Array,
    /// Times.
    pub ts: &'a dyn Array,
    /// Quantities, when the file has them.
    pub quantity: Option<&'a dyn Array>,
    /// Nanoseconds per unit of `ts`.
    pub ts_unit_ns: i64,
}

impl<'a> BatchColumns<'a> {
    /// Finds the columns in `batch`.
    pub fn locate(
        batch: &'a RecordBatch,
        names: &crate::columns::ColumnNames,
        ts_unit_ns: i64,
    ) -> Option<Self> {
        Some(Self {
            items: batch.column_by_name(&names.item)?.as_ref(),
            ts: batch.column_by_name(&names.ts)?.as_ref(),
            quantity: batch.column_by_name(&names.quantity).map(|c| c.as_ref()),
            ts_unit_ns,
        })
    }
}

/// An interner whose keys the io crate knows how to pull out of Arrow arrays.
pub trait DecodeKeys: Interner + Sized {
    /// Adds one decoded batch to `acc`.
    fn add_batch(
        acc: &mut CategoryAccumulator<Self>,
        plan: &ScoringPlan,
        cols: &BatchColumns<'_>,
        scratch: &mut Scratch,
        path: &Path,
        row_group: usize,
    ) -> Result<(), IoError>;
}

fn type_error(path: &Path, row_group: usize, what: &str, t: &DataType) -> IoError {
    IoError::Decode {
        path: path.to_path_buf(),
        row_group,
        message: format!("{what} decoded as unexpected type {t}"),
    }
}

fn feed<I: Interner, K: KeyColumn<I> + ?Sized>(
    acc: &mut CategoryAccumulator<I>,
    plan: &ScoringPlan,
    cols: &BatchColumns<'_>,
    keys: &K,
    quantity: Option<&[i64]>,
    path: &Path,
    row_group: usize,
) -> Result<(), IoError> {
    let ts = ts_values(cols.ts)
        .ok_or_else(|| type_error(path, row_group, "time column", cols.ts.data_type()))?;
    let mut batch = Batch::new(keys, ts, cols.ts_unit_ns);
    batch.items_valid = validity(cols.items);
    batch.ts_valid = validity(cols.ts);
    batch.quantity = quantity;
    batch.quantity_valid = cols.quantity.and_then(validity);
    acc.add(plan, &batch);
    Ok(())
}

/// The batch's quantities widened to `i64` (`None` when the file has none).
fn quantities<'a>(
    cols: &BatchColumns<'a>,
    buf: &'a mut Vec<i64>,
    path: &Path,
    row_group: usize,
) -> Result<Option<&'a [i64]>, IoError> {
    cols.quantity
        .map(|q| {
            as_i64(q, buf).ok_or_else(|| type_error(path, row_group, "quantity", q.data_type()))
        })
        .transpose()
}

impl DecodeKeys for IntInterner {
    fn add_batch(
        acc: &mut CategoryAccumulator<Self>,
        plan: &ScoringPlan,
        cols: &BatchColumns<'_>,
        scratch: &mut Scratch,
        path: &Path,
        row_group: usize,
    ) -> Result<(), IoError> {
        let Scratch { items, quantity } = scratch;
        let keys = as_i64(cols.items, items)
            .ok_or_else(|| type_error(path, row_group, "item column", cols.items.data_type()))?;
        let qty = quantities(cols, quantity, path, row_group)?;
        feed(acc, plan, cols, keys, qty, path, row_group)
    }
}

/// String ids held in a `StringViewArray`.
struct ViewKeys<'a>(&'a arrow_array::StringViewArray);

impl KeyColumn<BytesInterner> for ViewKeys<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn key(&self, i: usize) -> &[u8] {
        self.0.value(i).as_bytes()
    }
}

impl DecodeKeys for BytesInterner {
    fn add_batch(
        acc: &mut CategoryAccumulator<Self>,
        plan: &ScoringPlan,
        cols: &BatchColumns<'_>,
        scratch: &mut Scratch,
        path: &Path,
        row_group: usize,
    ) -> Result<(), IoError> {
        let qty = quantities(cols, &mut scratch.quantity, path, row_group)?;
        match cols.items.data_type() {
            DataType::Utf8 => {
                let a = cols.items.as_string::<i32>();
                let keys = StrColumn {
                    offsets: &a.offsets()[..],
                    data: a.values(),
                };
                feed(acc, plan, cols, &keys, qty, path, row_group)
            }
            DataType::LargeUtf8 => {
                let a = cols.items.as_string::<i64>();
                let keys = StrColumn {
                    offsets: &a.offsets()[..],
                    data: a.values(),
                };
                feed(acc, plan, cols, &keys, qty, path, row_group)
            }
            DataType::Utf8View => feed(
                acc,
                plan,
                cols,
                &ViewKeys(cols.items.as_string_view()),
                qty,
                path,
                row_group,
            ),
            t => Err(type_error(path, row_group, "item column", t)),
        }
    }
}
