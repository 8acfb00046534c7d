//! Reading the purchases of one lake file that fall in a time range, row by
//! row: what an incremental cycle adds (new files, purchases that came of
//! age) and takes back (purchases that slid out of the window).
//!
//! These are small volumes (an hour of purchases, a day of expiry), so
//! clarity wins over the staged hot loop of the full scan; row groups whose
//! `ts` statistics lie outside the range are still never decoded.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_schema::DataType;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::ProjectionMask;
use parquet::file::statistics::Statistics;
use topsellers_engine::ItemKey;

use super::identity::footer_crc_of;
use crate::columns::{resolve, ColumnNames, ItemKind};
use crate::decode::{as_i64, ts_values, BatchColumns};
use crate::error::LakeError;
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

/// One purchase as read: item (borrowed from the decoded rows), time (ns),
/// quantity (≥ 1).
pub type Visit<'a> = dyn FnMut(ItemKey<'_>, i64, i64) + 'a;

/// What reading a file found.
#[derive(Debug, Clone, Copy)]
pub struct FileRead {
    /// The file's item id type.
    pub kind: ItemKind,
    /// The file's purchase times.
    pub span: TimeSpan,
    /// Rows decoded.
    pub rows_decoded: u64,
    /// The CRC-32 of its footer (see `identity`).
    pub footer_crc: u32,
}

fn decode_err(path: &Path, row_group: usize, e: impl std::fmt::Display) -> LakeError {
    LakeError::Decode {
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
) -> Result<FileRead, LakeError> {
    // SAFETY: lake files are immutable while a run reads them (see `map_file`).
    let bytes = unsafe { map_file(path) }?;
    let meta = ArrowReaderMetadata::load(
        &bytes,
        ArrowReaderOptions::new().with_skip_arrow_metadata(true),
    )
    .map_err(|error| LakeError::NotParquet {
        path: path.to_path_buf(),
        error,
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
    let mut scratch = Scratch::default();
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
            let cols = BatchColumns::locate(&batch, names, cols.ts_unit_ns)
                .ok_or_else(|| decode_err(path, rg, "projected columns missing"))?;
            let rows = Rows::new(&cols, &mut scratch, path, rg)?;
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
        // The footer was just decoded, so it is there.
        footer_crc: footer_crc_of(&bytes).unwrap_or_default(),
    })
}

/// Reused buffers for widening narrow integer columns.
#[derive(Default)]
struct Scratch {
    items: Vec<i64>,
    quantity: Vec<i64>,
}

/// The columns of one decoded batch, as values and validity.
struct Rows<'a> {
    cols: &'a BatchColumns<'a>,
    ints: Option<&'a [i64]>,
    ts: &'a [i64],
    quantity: Option<&'a [i64]>,
}

impl<'a> Rows<'a> {
    fn new(
        cols: &'a BatchColumns<'a>,
        scratch: &'a mut Scratch,
        path: &Path,
        row_group: usize,
    ) -> Result<Self, LakeError> {
        let names = cols.names;
        let ints = if cols.items.data_type().is_integer() {
            Some(
                as_i64(cols.items, &mut scratch.items)
                    .map_err(|e| e.at(path, row_group, &names.item, cols.items))?,
            )
        } else {
            None
        };
        let quantity = match cols.quantity {
            Some(q) => Some(
                as_i64(q, &mut scratch.quantity)
                    .map_err(|e| e.at(path, row_group, &names.quantity, q))?,
            ),
            None => None,
        };
        let ts = ts_values(cols.ts).ok_or_else(|| {
            decode_err(
                path,
                row_group,
                format_args!(
                    "time column decoded as unexpected type {}",
                    cols.ts.data_type()
                ),
            )
        })?;
        Ok(Self {
            cols,
            ints,
            ts,
            quantity,
        })
    }

    /// The time in ns, `None` when null.
    fn ts(&self, i: usize) -> Option<i64> {
        self.cols
            .ts
            .is_valid(i)
            .then(|| self.ts[i].saturating_mul(self.cols.ts_unit_ns))
    }

    /// The quantity, 1 when absent or null.
    fn quantity(&self, i: usize) -> i64 {
        match (self.quantity, self.cols.quantity) {
            (Some(q), Some(a)) if a.is_valid(i) => q[i],
            _ => 1,
        }
    }

    fn item(&self, i: usize) -> Option<ItemKey<'a>> {
        let items = self.cols.items;
        if !items.is_valid(i) {
            return None;
        }
        if let Some(ints) = self.ints {
            return Some(ItemKey::Int(ints[i]));
        }
        let s = match items.data_type() {
            DataType::Utf8 => items.as_string::<i32>().value(i),
            DataType::LargeUtf8 => items.as_string::<i64>().value(i),
            DataType::Utf8View => items.as_string_view().value(i),
            _ => return None,
        };
        Some(ItemKey::Str(s))
    }
}
