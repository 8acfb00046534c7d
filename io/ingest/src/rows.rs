//! Column buffers of parsed purchases, and their Arrow form in the lake's
//! schema: the same columns `topsellers gen` writes.

use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{ArrowError, DataType, Field, Schema, TimeUnit};

use topsellers_lake::ItemKind;

/// The quantity buffer's marker for "this event had none" (stored as a null).
/// `i32::MIN` itself is refused as a quantity, so the marker is unambiguous.
pub(crate) const NO_QUANTITY: i32 = i32::MIN;

/// A borrowed item id of one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ItemRef<'a> {
    /// An integer id.
    Int(i64),
    /// A string id.
    Str(&'a str),
}

impl ItemRef<'_> {
    /// The id's type.
    pub(crate) fn kind(self) -> ItemKind {
        match self {
            ItemRef::Int(_) => ItemKind::Int,
            ItemRef::Str(_) => ItemKind::Str,
        }
    }
}

/// Item ids, in the representation Arrow wants.
#[derive(Debug, Clone)]
enum Ids {
    Int(Vec<i64>),
    /// UTF-8 bytes back to back, and `len + 1` offsets starting at 0.
    Str {
        offsets: Vec<i32>,
        bytes: Vec<u8>,
    },
}

/// Purchases of one partition (or one chunk's part of it), column by column.
#[derive(Debug, Clone)]
pub(crate) struct Rows {
    ids: Ids,
    ts_us: Vec<i64>,
    quantity: Vec<i32>,
}

impl Rows {
    /// Empty buffers for ids of `kind`.
    pub(crate) fn new(kind: ItemKind) -> Self {
        let ids = match kind {
            ItemKind::Int => Ids::Int(Vec::new()),
            ItemKind::Str => Ids::Str {
                offsets: vec![0],
                bytes: Vec::new(),
            },
        };
        Self {
            ids,
            ts_us: Vec::new(),
            quantity: Vec::new(),
        }
    }

    /// Rows held.
    pub(crate) fn len(&self) -> usize {
        self.ts_us.len()
    }

    /// Bytes of string ids held (they bound a file: Arrow offsets are i32).
    pub(crate) fn id_bytes(&self) -> usize {
        match &self.ids {
            Ids::Int(_) => 0,
            Ids::Str { bytes, .. } => bytes.len(),
        }
    }

    /// Appends one purchase. Returns false, adding nothing, when the id is not
    /// of this buffer's type.
    pub(crate) fn push(&mut self, item: ItemRef<'_>, ts_us: i64, quantity: Option<i32>) -> bool {
        match (&mut self.ids, item) {
            (Ids::Int(v), ItemRef::Int(id)) => v.push(id),
            (Ids::Str { offsets, bytes }, ItemRef::Str(id)) => {
                bytes.extend_from_slice(id.as_bytes());
                // Ids are at most a few KiB and a partition is flushed long
                // before 2 GiB of them (see `partition`), so this fits.
                offsets.push(bytes.len() as i32);
            }
            _ => return false,
        }
        self.ts_us.push(ts_us);
        self.quantity.push(quantity.unwrap_or(NO_QUANTITY));
        true
    }

    /// Moves `other`'s rows to the end of these. Returns false, moving
    /// nothing, when the id types differ.
    pub(crate) fn append(&mut self, other: &Rows) -> bool {
        match (&mut self.ids, &other.ids) {
            (Ids::Int(a), Ids::Int(b)) => a.extend_from_slice(b),
            (
                Ids::Str { offsets, bytes },
                Ids::Str {
                    offsets: o2,
                    bytes: b2,
                },
            ) => {
                let base = bytes.len() as i32;
                bytes.extend_from_slice(b2);
                offsets.extend(o2[1..].iter().map(|o| o + base));
            }
            _ => return false,
        }
        self.ts_us.extend_from_slice(&other.ts_us);
        self.quantity.extend_from_slice(&other.quantity);
        true
    }

    /// The rows as a record batch: `item_id` (Int64 or Utf8), `ts`
    /// (Timestamp µs, UTC) and `quantity` (Int32, null where an event had
    /// none). The quantity column is always there, even all null, so every
    /// file of a lake has the same schema: readers that glob a lake (DuckDB,
    /// Spark without schema merging) refuse files whose columns differ.
    pub(crate) fn into_batch(self) -> Result<RecordBatch, ArrowError> {
        let (id_type, ids): (DataType, ArrayRef) = match self.ids {
            Ids::Int(v) => (DataType::Int64, Arc::new(Int64Array::from(v))),
            Ids::Str { offsets, bytes } => (
                DataType::Utf8,
                Arc::new(StringArray::try_new(
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    Buffer::from_vec(bytes),
                    None,
                )?),
            ),
        };
        let mut fields = vec![
            Field::new("item_id", id_type, false),
            Field::new(
                "ts",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                false,
            ),
        ];
        let mut columns: Vec<ArrayRef> = vec![
            ids,
            Arc::new(TimestampMicrosecondArray::from(self.ts_us).with_timezone("UTC")),
        ];
        let nulls = self
            .quantity
            .contains(&NO_QUANTITY)
            .then(|| NullBuffer::from_iter(self.quantity.iter().map(|&q| q != NO_QUANTITY)));
        fields.push(Field::new("quantity", DataType::Int32, true));
        columns.push(Arc::new(Int32Array::new(
            ScalarBuffer::from(self.quantity),
            nulls,
        )));
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::Array;

    #[test]
    fn builds_the_gen_schema() {
        let mut a = Rows::new(ItemKind::Str);
        assert!(a.push(ItemRef::Str("x"), 5, None));
        let mut b = Rows::new(ItemKind::Str);
        assert!(b.push(ItemRef::Str("yz"), 6, Some(3)));
        assert!(!b.push(ItemRef::Int(1), 7, None));
        assert!(a.append(&b));
        assert_eq!((a.len(), a.id_bytes()), (2, 3));
        let batch = a.into_batch().unwrap();
        let schema = batch.schema();
        assert_eq!(schema.field(0).data_type(), &DataType::Utf8);
        assert!(matches!(
            schema.field(1).data_type(),
            DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if &**tz == "UTC"
        ));
        let ids = batch
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!((ids.value(0), ids.value(1)), ("x", "yz"));
        let q = batch.column(2);
        assert_eq!((q.null_count(), q.is_null(0)), (1, true));
        assert!(schema.field(2).is_nullable());
    }

    #[test]
    fn keeps_the_quantity_column_when_no_row_has_one() {
        let mut r = Rows::new(ItemKind::Int);
        assert!(r.push(ItemRef::Int(7), 1, None));
        assert!(!r.append(&Rows::new(ItemKind::Str)));
        let batch = r.into_batch().unwrap();
        assert_eq!(batch.schema().field(0).data_type(), &DataType::Int64);
        assert_eq!(batch.column(2).null_count(), 1);
    }
}
