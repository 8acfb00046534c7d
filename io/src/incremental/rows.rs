//! Reading the purchases of one lake file that fall in a time range, row by
//! row: what an incremental cycle adds (new files, purchases that came of
//! age) and takes back (purchases that slid out of the window).
//!
//! These are small volumes (an hour of purchases, a day of expiry), so
//! clarity wins over the staged hot loop of the full scan; row groups whose
//! `ts` statistics lie outside the range are still never decoded.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef};
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::statistics::Statistics;
use topsellers_engine::ItemId;

use crate::columns::{resolve, ColumnNames, ItemKind};
use crate::error::IoError;
use crate::mmap::map_file;

/// The earliest and latest purchase time of a file (ns), from its row-group
/// statistics where they exist, else from the rows themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeSpan {
    /// Earliest `ts`.
    pub min_ns: i64,
    /// Latest `ts`.
    pub max_ns: i64,
}

impl TimeSpan {
    const EMPTY: Self = Self {
        min_ns: i64::MAX,
        max_ns: i64::MIN,
    };

    fn widen(&mut self, min: i64, max: i64) {
        self.min_ns = self.min_ns.min(min);
        self.max_ns = self.max_ns.max(max);
    }

    /// Whether the file can hold a purchase with `lo < ts <= hi`.
    pub fn meets(&self, lo: i64, hi: i64) -> bool {
        self.max_ns > lo && self.min_ns <= hi
    }
}

/// One purchase as read: item, time (ns), quantity (≥ 1).
pub type Visit<'a> = dyn FnMut(ItemId, i64, i64) + 'a;

/// What reading a file found.
#[derive(Debug, Clone, Copy)]
pub struct FileRead {
    /// The file's item id type.
    pub kind: ItemKind,
    /// The file's purchase times.
    pub span: TimeSpan,
    /// Rows decoded.
    pub rows_decoded: u64,
}

fn decode_err(path: &Path, row_group: usize, e: impl std::fmt::Display) -> IoError {
    IoError::Decode {
        path: path.to_path_buf(),
        row_group,
        message: e.to_string(),
    }
}

/// Calls `visit` for every valid purchase of `path` with `lo < ts <= hi`
/// (rows with a null id or time, or a quantity ≤ 0, are skipped as the full
/// scan skips them). `hi < lo` reads nothing but the time span.
pub fn visit_rows(
    path: &Path,
    names: &ColumnNames,
    lo: i64,
    hi: i64,
    visit: &mut Visit<'_>,
) -> Result<FileRead, IoError> {
    // SAFETY: lake files are immutable while a run reads them (see `map_file`).
    let bytes = unsafe { map_file(path) }?;
    let meta = ArrowReaderMetadata::load(
        &bytes,
        ArrowReaderOptions::new().with_skip_arrow_metadata(true),
    )
    .map_err(|source| IoError::NotParquet {
        path: path.to_path_buf(),
        source,
    })?;
    let cols = resolve(path, names, meta.schema(), meta.parquet_schema())?;
    let md = meta.metadata();
    let mut span = TimeSpan::EMPTY;
    let mut wanted = Vec::new();
    let mut unknown = Vec::new();
    for rg in 0..md.num_row_groups() {
        let stats = match (
            cols.ts_stats_unit_ns,
            md.row_group(rg).column(cols.ts_leaf).statistics(),
        ) {
            (Some(unit), Some(Statistics::Int64(s))) => s
                .min_opt()
                .zip(s.max_opt())
                .map(|(&a, &b)| (a.saturating_mul(unit), b.saturating_mul(unit))),
            _ => None,
        };
        match stats {
            Some((min, max)) => {
                if md.row_group(rg).num_rows() > 0 {
                    span.widen(min, max);
                }
                if max > lo && min <= hi {
                    wanted.push(rg);
                }
            }
            None => unknown.push(rg),
        }
    }
    // Row groups without statistics are read whole, for their span too.
    wanted.extend(&unknown);
    wanted.sort_unstable();
    let mut rows_decoded = 0;
    for &rg in &wanted {
        let mask = ProjectionMask::roots(meta.parquet_schema(), cols.roots.iter().copied());
        let reader =
            ParquetRecordBatchReaderBuilder::new_with_metadata(bytes.clone(), meta.clone())
                .with_projection(mask)
                .with_row_groups(vec![rg])
                .build()
                .map_err(|e| decode_err(path, rg, e))?;
        let spans_unknown = unknown.contains(&rg);
        for batch in reader {
            let batch = batch.map_err(|e| decode_err(path, rg, e))?;
            rows_decoded += batch.num_rows() as u64;
            let column = |name: &str| batch.column_by_name(name).cloned();
            let (Some(items), Some(ts)) = (column(&names.item), column(&names.ts)) else {
                return Err(decode_err(path, rg, "projected columns missing"));
            };
            let quantity = column(&names.quantity);
            let rows = Rows::new(&items, &ts, quantity.as_ref(), cols.ts_unit_ns)
                .map_err(|e| decode_err(path, rg, e))?;
            for i in 0..batch.num_rows() {
                let Some(t) = rows.ts(i) else { continue };
                if spans_unknown {
                    span.widen(t, t);
                }
                if t <= lo || t > hi {
                    continue;
                }
                let q = rows.quantity(i);
                if q <= 0 {
                    continue;
                }
                if let Some(item) = rows.item(i) {
                    visit(item, t, q);
                }
            }
        }
    }
    Ok(FileRead {
        kind: cols.item_kind,
        span,
        rows_decoded,
    })
}

/// The columns of one decoded batch, widened to what a visit needs.
struct Rows<'a> {
    items: &'a dyn Array,
    ints: Option<Vec<i64>>,
    ts: Vec<Option<i64>>,
    quantity: Option<Vec<Option<i64>>>,
}

fn widen(a: &ArrayRef) -> Result<Vec<Option<i64>>, String> {
    let cast = arrow_cast_i64(a)?;
    Ok((0..cast.len())
        .map(|i| cast.is_valid(i).then(|| cast.value(i)))
        .collect())
}

/// Any integer or timestamp array as `Int64`, in its own unit.
fn arrow_cast_i64(a: &ArrayRef) -> Result<arrow_array::Int64Array, String> {
    use arrow_array::types::*;
    macro_rules! conv {
        ($t:ty) => {
            a.as_primitive::<$t>()
                .iter()
                .map(|v| v.map(|x| i64::try_from(x).unwrap_or(i64::MAX)))
                .collect()
        };
    }
    use arrow_schema::TimeUnit;
    Ok(match a.data_type() {
        DataType::Int64 => a.as_primitive::<Int64Type>().clone(),
        DataType::Int32 => conv!(Int32Type),
        DataType::Int16 => conv!(Int16Type),
        DataType::Int8 => conv!(Int8Type),
        DataType::UInt64 => conv!(UInt64Type),
        DataType::UInt32 => conv!(UInt32Type),
        DataType::UInt16 => conv!(UInt16Type),
        DataType::UInt8 => conv!(UInt8Type),
        DataType::Timestamp(TimeUnit::Second, _) => conv!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => conv!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => conv!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => conv!(TimestampNanosecondType),
        t => return Err(format!("unexpected column type {t}")),
    })
}

impl<'a> Rows<'a> {
    fn new(
        items: &'a ArrayRef,
        ts: &ArrayRef,
        quantity: Option<&ArrayRef>,
        ts_unit_ns: i64,
    ) -> Result<Self, String> {
        let ints = if items.data_type().is_integer() {
            Some(arrow_cast_i64(items)?.values().to_vec())
        } else {
            None
        };
        let ts = widen(ts)?
            .into_iter()
            .map(|t| t.map(|v| v.saturating_mul(ts_unit_ns)))
            .collect();
        Ok(Self {
            items: items.as_ref(),
            ints,
            ts,
            quantity: quantity.map(widen).transpose()?,
        })
    }

    fn ts(&self, i: usize) -> Option<i64> {
        self.ts[i]
    }

    fn quantity(&self, i: usize) -> i64 {
        self.quantity.as_ref().and_then(|q| q[i]).unwrap_or(1)
    }

    fn item(&self, i: usize) -> Option<ItemId> {
        if !self.items.is_valid(i) {
            return None;
        }
        if let Some(ints) = &self.ints {
            return Some(ItemId::Int(ints[i]));
        }
        let s = match self.items.data_type() {
            DataType::Utf8 => self.items.as_string::<i32>().value(i),
            DataType::LargeUtf8 => self.items.as_string::<i64>().value(i),
            DataType::Utf8View => self.items.as_string_view().value(i),
            _ => return None,
        };
        Some(ItemId::Str(s.to_string()))
    }
}
