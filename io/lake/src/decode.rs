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
use arrow_array::{Array, RecordBatch, UInt64Array};
use arrow_schema::DataType;
use topsellers_engine::{
    Batch, BytesInterner, CategoryAccumulator, IntInterner, Interner, KeyColumn, ScoringPlan,
    StrColumn, Validity,
};

use crate::columns::ColumnNames;
use crate::error::LakeError;

/// Reused buffers for widening narrow integer columns.
pub struct Scratch {
    items: Vec<i64>,
    quantity: Vec<i64>,
}

// Written out so that tests can count the buffers made.
#[allow(clippy::derivable_impls)]
impl Default for Scratch {
    fn default() -> Self {
        #[cfg(test)]
        SCRATCH_MADE.with(|n| n.set(n.get() + 1));
        Self {
            items: Vec::new(),
            quantity: Vec::new(),
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Scratch buffers made on this thread, for tests of their reuse.
    pub(crate) static SCRATCH_MADE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
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

/// Why an integer column could not be read as `i64` values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Widen {
    /// The column is not of an integer type.
    NotInteger,
    /// An unsigned 64-bit value above `i64::MAX`, in a row that is not null.
    TooLarge(u64),
}

impl Widen {
    /// The error for `column` (named as configured) of `path`'s `row_group`.
    pub(crate) fn at(
        self,
        path: &Path,
        row_group: usize,
        column: &str,
        array: &dyn Array,
    ) -> LakeError {
        match self {
            Widen::NotInteger => LakeError::Decode {
                path: path.to_path_buf(),
                row_group,
                message: format!(
                    "column {column:?} decoded as unexpected type {}",
                    array.data_type()
                ),
            },
            Widen::TooLarge(value) => LakeError::IntegerTooLarge {
                path: path.to_path_buf(),
                row_group,
                column: column.to_string(),
                value,
            },
        }
    }
}

/// Widens any integer array to `i64` values, borrowing when it already is.
///
/// Every signed type and unsigned types up to 32 bits widen exactly. An
/// unsigned 64-bit value above `i64::MAX` has no `i64` of its own: clamping
/// it would merge distinct ids into one, so it is an error instead.
pub(crate) fn as_i64<'a>(array: &'a dyn Array, buf: &'a mut Vec<i64>) -> Result<&'a [i64], Widen> {
    macro_rules! widen {
        ($t:ty) => {{
            buf.clear();
            buf.extend(
                array
                    .as_primitive::<$t>()
                    .values()
                    .iter()
                    .map(|&v| i64::from(v)),
            );
            Ok(&buf[..])
        }};
    }
    match array.data_type() {
        DataType::Int64 => Ok(&array.as_primitive::<Int64Type>().values()[..]),
        DataType::Int32 => widen!(Int32Type),
        DataType::Int16 => widen!(Int16Type),
        DataType::Int8 => widen!(Int8Type),
        DataType::UInt64 => widen_u64(array.as_primitive::<UInt64Type>(), buf),
        DataType::UInt32 => widen!(UInt32Type),
        DataType::UInt16 => widen!(UInt16Type),
        DataType::UInt8 => widen!(UInt8Type),
        _ => Err(Widen::NotInteger),
    }
}

fn widen_u64<'a>(array: &UInt64Array, buf: &'a mut Vec<i64>) -> Result<&'a [i64], Widen> {
    buf.clear();
    // Reinterpreted, a value above i64::MAX turns negative: one vectorised
    // pass finds out whether any is there.
    buf.extend(array.values().iter().map(|&v| v as i64));
    if buf.iter().any(|&v| v < 0) {
        // The value under a null is unspecified, so only valid rows count.
        let bad = (0..array.len()).find(|&i| buf[i] < 0 && array.is_valid(i));
        if let Some(i) = bad {
            return Err(Widen::TooLarge(array.value(i)));
        }
    }
    Ok(&buf[..])
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
    /// The configured names of the columns, for error messages.
    pub names: &'a ColumnNames,
}

impl<'a> BatchColumns<'a> {
    /// Finds the columns in `batch`.
    pub fn locate(batch: &'a RecordBatch, names: &'a ColumnNames, ts_unit_ns: i64) -> Option<Self> {
        Some(Self {
            items: batch.column_by_name(&names.item)?.as_ref(),
            ts: batch.column_by_name(&names.ts)?.as_ref(),
            quantity: batch.column_by_name(&names.quantity).map(|c| c.as_ref()),
            ts_unit_ns,
            names,
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
    ) -> Result<(), LakeError>;
}

fn type_error(path: &Path, row_group: usize, what: &str, t: &DataType) -> LakeError {
    LakeError::Decode {
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
) -> Result<(), LakeError> {
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
) -> Result<Option<&'a [i64]>, LakeError> {
    cols.quantity
        .map(|q| as_i64(q, buf).map_err(|e| e.at(path, row_group, &cols.names.quantity, q)))
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
    ) -> Result<(), LakeError> {
        let Scratch {
            items, quantity, ..
        } = scratch;
        let keys = as_i64(cols.items, items)
            .map_err(|e| e.at(path, row_group, &cols.names.item, cols.items))?;
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
    ) -> Result<(), LakeError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Int32Array, UInt32Array};
    use arrow_buffer::{NullBuffer, ScalarBuffer};

    #[test]
    fn widens_every_integer_type_exactly() {
        let mut buf = Vec::new();
        let a = Int32Array::from(vec![i32::MIN, -1, i32::MAX]);
        assert_eq!(
            as_i64(&a, &mut buf),
            Ok(&[-2_147_483_648, -1, 2_147_483_647][..])
        );
        let a = UInt32Array::from(vec![0, u32::MAX]);
        assert_eq!(as_i64(&a, &mut buf), Ok(&[0, 4_294_967_295][..]));
        let a = UInt64Array::from(vec![0, i64::MAX as u64]);
        assert_eq!(as_i64(&a, &mut buf), Ok(&[0, i64::MAX][..]));
    }

    #[test]
    fn refuses_an_unsigned_value_above_i64_max_unless_under_a_null() {
        let mut buf = Vec::new();
        let a = UInt64Array::from(vec![3, 1 << 63, u64::MAX]);
        assert_eq!(as_i64(&a, &mut buf), Err(Widen::TooLarge(1 << 63)));
        // Whatever lies under a null is not a value.
        let nulls = NullBuffer::from(vec![true, false, true]);
        let a = UInt64Array::new(ScalarBuffer::from(vec![3, u64::MAX, 4]), Some(nulls));
        assert_eq!(as_i64(&a, &mut buf).map(|v| [v[0], v[2]]), Ok([3, 4]));
    }
}
