//! The page decoder: a row group's three columns read straight from their
//! Parquet pages, the item column as dictionary codes.
//!
//! # Background
//!
//! Through the Arrow reader, every row's item id is materialised and then
//! hashed into the accumulator's interner: a probe (and, on 100k-item row
//! groups, a cache miss) per row. But writers dictionary-encode the item
//! column almost always, so a row group holds each distinct id once, in its
//! dictionary page, and every row as a small integer code. Aggregating on
//! the codes costs one interner probe per dictionary entry, and string ids
//! are no longer hashed per row at all.
//!
//! # Design
//!
//! [`decode_unit`] reads the pages of the item, time and quantity columns
//! through the parquet crate's page reader (which finds, decompresses and
//! skips pages), decodes definition levels, dictionary indices, PLAIN and
//! DELTA_BINARY_PACKED values itself ([`encoding`]), gathers the selected
//! rows in batches and hands them to
//! [`CategoryAccumulator::add_coded`](topsellers_engine::CategoryAccumulator::add_coded)
//! with the dictionary: the same rows, in the same order, as the Arrow path
//! would, so the sums are bit-identical.
//!
//! It reads only what it fully understands. Anything else (an item page that
//! is not dictionary-encoded, a second dictionary, INT96 times, an encoding it
//! does not know, a value that the Arrow path would refuse or convert, a page
//! it cannot parse) makes it answer [`Unsupported`] and the caller decodes the
//! unit again through the Arrow path, from an emptied accumulator.

pub(crate) mod column;
mod encoding;
pub(crate) mod inflate;

use std::ops::Range;
use std::sync::Arc;

use arrow_schema::DataType;
use bytes::Bytes;
use parquet::arrow::arrow_reader::RowSelection;
use parquet::basic::{Encoding, Type as PhysicalType};
use parquet::file::serialized_reader::SerializedPageReader;
use topsellers_engine::{
    Batch, BytesInterner, CategoryAccumulator, IntInterner, Interner, KeyColumn, RowCounts,
    ScoringPlan, Validity, NO_SLOT,
};

use crate::chunks::UnitBytes;
use crate::decode::DecodeKeys;
use crate::plan::FilePlan;
use column::{Bits, Column, ColumnBuffers, PageDecode};
use encoding::{delta_binary_packed, dict_indices, plain_byte_arrays, plain_ints, IntPhysical};

/// Why the page decoder handed a unit back: a case it does not read itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unsupported(pub &'static str);

/// How the Arrow reader turns a column's raw integers into the `i64` the
/// engine gets, for the integer columns the page decoder reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Widen {
    /// The raw value (INT64 as Int64, INT32 as Int32).
    Exact,
    /// INT32 read as UInt32: the raw bits, unsigned.
    U32,
    /// INT64 read as UInt64: exact below 2^63 (above, the Arrow path reports
    /// the value, so the unit goes there).
    U64,
    /// INT32 read as a narrower type: exact inside its range (outside, the
    /// Arrow reader's cast would not keep the value).
    Range(i64, i64, bool),
}

impl Widen {
    /// The conversion for a column of `physical` type that the Arrow reader
    /// decodes as `arrow`.
    fn of(physical: PhysicalType, arrow: &DataType) -> Result<(IntPhysical, Self), Unsupported> {
        Ok(match (physical, arrow) {
            (PhysicalType::INT64, DataType::Int64) => (IntPhysical::Int64, Widen::Exact),
            (PhysicalType::INT64, DataType::UInt64) => (IntPhysical::Int64, Widen::U64),
            (PhysicalType::INT32, DataType::Int32) => (IntPhysical::Int32, Widen::Exact),
            (PhysicalType::INT32, DataType::UInt32) => (IntPhysical::Int32, Widen::U32),
            (PhysicalType::INT32, DataType::Int16) => {
                (IntPhysical::Int32, Widen::Range(-32_768, 32_767, false))
            }
            (PhysicalType::INT32, DataType::Int8) => {
                (IntPhysical::Int32, Widen::Range(-128, 127, false))
            }
            (PhysicalType::INT32, DataType::UInt16) => {
                (IntPhysical::Int32, Widen::Range(0, 65_535, true))
            }
            (PhysicalType::INT32, DataType::UInt8) => {
                (IntPhysical::Int32, Widen::Range(0, 255, true))
            }
            _ => return Err(Unsupported("integer column type")),
        })
    }

    /// Converts raw values in place.
    fn apply(self, values: &mut [i64]) -> Result<(), Unsupported> {
        match self {
            Widen::Exact => Ok(()),
            Widen::U32 => {
                for v in values.iter_mut() {
                    *v = i64::from(*v as u32);
                }
                Ok(())
            }
            Widen::U64 => {
                if values.iter().any(|&v| v < 0) {
                    return Err(Unsupported("unsigned value above i64::MAX"));
                }
                Ok(())
            }
            Widen::Range(min, max, unsigned) => {
                if unsigned {
                    for v in values.iter_mut() {
                        *v = i64::from(*v as u32);
                    }
                }
                if values.iter().any(|&v| v < min || v > max) {
                    return Err(Unsupported("value outside its logical type's range"));
                }
                Ok(())
            }
        }
    }
}

/// Integer values of the time or quantity column, in any page encoding.
struct Ints {
    physical: IntPhysical,
    widen: Widen,
    /// The dictionary, converted (when values need a conversion).
    dictionary: Vec<i64>,
    /// The dictionary page itself, when its values are read as they are
    /// (INT64 as Int64): a time dictionary is up to 1 MiB a row group, and
    /// copying it was 2.5% of `compute`'s samples on the 100M lake.
    raw: Option<Bytes>,
    indices: Vec<u32>,
}

impl Ints {
    fn new((physical, widen): (IntPhysical, Widen), (dictionary, indices): IntsBuffers) -> Self {
        Self {
            physical,
            widen,
            dictionary,
            raw: None,
            indices,
        }
    }

    fn into_buffers(self) -> IntsBuffers {
        (self.dictionary, self.indices)
    }
}

/// The dictionary and index buffers of an [`Ints`] decoder.
type IntsBuffers = (Vec<i64>, Vec<u32>);

impl PageDecode for Ints {
    type Out = i64;

    fn dictionary(&mut self, page: &Bytes, n: usize) -> Result<(), Unsupported> {
        self.dictionary.clear();
        self.raw = None;
        if (self.physical, self.widen) == (IntPhysical::Int64, Widen::Exact) {
            if page.len() < n * 8 {
                return Err(Unsupported("PLAIN values past the page's end"));
            }
            self.raw = Some(page.slice(..n * 8));
            return Ok(());
        }
        plain_ints(page, self.physical, n, &mut self.dictionary)?;
        self.widen.apply(&mut self.dictionary)
    }

    fn values(
        &mut self,
        encoding: Encoding,
        data: &Bytes,
        n: usize,
        out: &mut Vec<i64>,
    ) -> Result<(), Unsupported> {
        let start = out.len();
        match encoding {
            Encoding::PLAIN => plain_ints(data, self.physical, n, out)?,
            Encoding::DELTA_BINARY_PACKED => delta_binary_packed(data, self.physical, n, out)?,
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => {
                self.indices.clear();
                match &self.raw {
                    Some(raw) => {
                        dict_indices(data, n, raw.len() / 8, &mut self.indices)?;
                        out.extend(self.indices.iter().map(|&i| {
                            let at = i as usize * 8;
                            let b = &raw[at..at + 8];
                            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                        }));
                    }
                    None => {
                        let dict = &self.dictionary;
                        dict_indices(data, n, dict.len(), &mut self.indices)?;
                        out.extend(self.indices.iter().map(|&i| dict[i as usize]));
                    }
                }
                // Dictionary entries were converted when loaded.
                return Ok(());
            }
            _ => return Err(Unsupported("value encoding")),
        }
        self.widen.apply(&mut out[start..])
    }
}

/// A row group's item dictionary, as keys of the interner `I`.
///
/// A writer whose dictionary grows too large goes on with PLAIN (or, for
/// integers in v2 files, DELTA_BINARY_PACKED) pages for the rest of the
/// column chunk. Their values are appended as entries of their own, one per
/// row, so those rows still go through the code → slot table: interned on
/// first use, in row order, like every other row.
pub(crate) trait Dictionary<I: Interner>: KeyColumn<I> + Default {
    /// Loads a PLAIN dictionary page of `n` entries of the item column.
    fn load(&mut self, page: &Bytes, n: usize, item: ItemLayout) -> Result<(), Unsupported>;
    /// Drops references to page memory (kept: the allocations).
    fn release(&mut self);
    /// Appends the `n` values of a data page that is not dictionary-encoded.
    fn append(
        &mut self,
        encoding: Encoding,
        data: &Bytes,
        n: usize,
        item: ItemLayout,
    ) -> Result<(), Unsupported>;
}

/// Most entries a unit's dictionary may reach with appended values: beyond,
/// the unit goes to the Arrow path, whose memory is bounded by its batch.
const MAX_ENTRIES: usize = 1 << 22;

/// Interners whose keys the page decoder can read from a dictionary.
pub(crate) trait PageKeys: DecodeKeys {
    /// The dictionary type.
    type Dict: Dictionary<Self>;
    /// The worker's dictionary buffers of this type.
    fn dictionary(scratch: &mut PageScratch) -> &mut Self::Dict;
}

/// The item column's physical layout.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ItemLayout {
    /// Integers and their conversion.
    Int(IntPhysical, Widen),
    /// UTF8 byte arrays.
    Str,
}

/// Integer ids, converted as the Arrow path converts them.
#[derive(Default)]
pub(crate) struct IntDict(Vec<i64>);

impl KeyColumn<IntInterner> for IntDict {
    fn len(&self) -> usize {
        self.0.len()
    }
    #[inline]
    fn key(&self, i: usize) -> i64 {
        self.0[i]
    }
}

impl Dictionary<IntInterner> for IntDict {
    fn release(&mut self) {}

    fn load(&mut self, page: &Bytes, n: usize, item: ItemLayout) -> Result<(), Unsupported> {
        let ItemLayout::Int(physical, widen) = item else {
            return Err(Unsupported("string dictionary for integer ids"));
        };
        self.0.clear();
        plain_ints(page, physical, n, &mut self.0)?;
        widen.apply(&mut self.0)
    }

    fn append(
        &mut self,
        encoding: Encoding,
        data: &Bytes,
        n: usize,
        item: ItemLayout,
    ) -> Result<(), Unsupported> {
        let ItemLayout::Int(physical, widen) = item else {
            return Err(Unsupported("string values for integer ids"));
        };
        let start = self.0.len();
        match encoding {
            Encoding::PLAIN => plain_ints(data, physical, n, &mut self.0)?,
            Encoding::DELTA_BINARY_PACKED => delta_binary_packed(data, physical, n, &mut self.0)?,
            _ => return Err(Unsupported("item page encoding")),
        }
        widen.apply(&mut self.0[start..])
    }
}

/// String ids: the pages that hold them, and where each entry lies.
#[derive(Default)]
pub(crate) struct StrDict {
    pages: Vec<Bytes>,
    /// Per entry, its page and byte range there.
    bounds: Vec<(usize, usize, usize)>,
    scratch: Vec<(usize, usize)>,
}

impl StrDict {
    /// Adds the `n` PLAIN byte arrays of `page` as entries.
    fn push_plain(&mut self, page: &Bytes, n: usize) -> Result<(), Unsupported> {
        self.scratch.clear();
        plain_byte_arrays(page, n, &mut self.scratch)?;
        // The Arrow path refuses invalid UTF-8; let it say so.
        for &(start, end) in &self.scratch {
            if std::str::from_utf8(&page[start..end]).is_err() {
                return Err(Unsupported("invalid UTF-8 in the item column"));
            }
        }
        let p = self.pages.len();
        self.pages.push(page.clone());
        self.bounds
            .extend(self.scratch.iter().map(|&(start, end)| (p, start, end)));
        Ok(())
    }
}

impl KeyColumn<BytesInterner> for StrDict {
    fn len(&self) -> usize {
        self.bounds.len()
    }
    #[inline]
    fn key(&self, i: usize) -> &[u8] {
        let (page, start, end) = self.bounds[i];
        &self.pages[page][start..end]
    }
}

impl Dictionary<BytesInterner> for StrDict {
    fn release(&mut self) {
        // The pages are the decompressed pages of the unit just read.
        self.pages.clear();
        self.bounds.clear();
    }

    fn load(&mut self, page: &Bytes, n: usize, item: ItemLayout) -> Result<(), Unsupported> {
        if !matches!(item, ItemLayout::Str) {
            return Err(Unsupported("integer dictionary for string ids"));
        }
        self.pages.clear();
        self.bounds.clear();
        self.push_plain(page, n)
    }

    fn append(
        &mut self,
        encoding: Encoding,
        data: &Bytes,
        n: usize,
        item: ItemLayout,
    ) -> Result<(), Unsupported> {
        if !matches!(item, ItemLayout::Str) {
            return Err(Unsupported("integer values for string ids"));
        }
        match encoding {
            Encoding::PLAIN => self.push_plain(data, n),
            _ => Err(Unsupported("item page encoding")),
        }
    }
}

impl PageKeys for IntInterner {
    type Dict = IntDict;
    fn dictionary(scratch: &mut PageScratch) -> &mut IntDict {
        &mut scratch.int_dictionary
    }
}

impl PageKeys for BytesInterner {
    type Dict = StrDict;
    fn dictionary(scratch: &mut PageScratch) -> &mut StrDict {
        &mut scratch.str_dictionary
    }
}

/// The item column as dictionary codes.
struct Codes<I: PageKeys> {
    item: ItemLayout,
    dictionary: I::Dict,
    /// Whether a page was read (a dictionary page must come first).
    started: bool,
}

impl<I: PageKeys> PageDecode for Codes<I> {
    type Out = u32;

    fn dictionary(&mut self, page: &Bytes, n: usize) -> Result<(), Unsupported> {
        // The codes of a unit index one dictionary, which comes first; a
        // later one would stale the code → slot table.
        if self.started {
            return Err(Unsupported("dictionary page after the first page"));
        }
        self.started = true;
        self.dictionary.load(page, n, self.item)
    }

    fn values(
        &mut self,
        encoding: Encoding,
        data: &Bytes,
        n: usize,
        out: &mut Vec<u32>,
    ) -> Result<(), Unsupported> {
        self.started = true;
        match encoding {
            Encoding::RLE_DICTIONARY | Encoding::PLAIN_DICTIONARY => {
                dict_indices(data, n, self.dictionary.len(), out)
            }
            // A page of nulls only has no values to encode.
            _ if n == 0 => Ok(()),
            _ => {
                let base = self.dictionary.len();
                if base + n > MAX_ENTRIES {
                    return Err(Unsupported("too many values outside the dictionary"));
                }
                self.dictionary.append(encoding, data, n, self.item)?;
                out.extend(base as u32..(base + n) as u32);
                Ok(())
            }
        }
    }
}

/// Where the three columns are and how to read them.
struct Layout {
    item: (usize, ItemLayout),
    ts: (usize, (IntPhysical, Widen)),
    quantity: Option<(usize, (IntPhysical, Widen))>,
}

impl Layout {
    fn of(file: &FilePlan, names: &crate::columns::ColumnNames) -> Result<Self, Unsupported> {
        let descr = file.meta.parquet_schema();
        let schema = file.meta.schema();
        let leaf = |name: &str| -> Result<Option<(usize, PhysicalType, DataType)>, Unsupported> {
            let Some(i) = descr
                .columns()
                .iter()
                .position(|c| c.path().parts() == [name])
            else {
                return Ok(None);
            };
            let c = descr.column(i);
            if c.max_rep_level() != 0 || c.max_def_level() > 1 {
                return Err(Unsupported("nested column"));
            }
            let arrow = schema
                .field_with_name(name)
                .map_err(|_| Unsupported("column not at the root"))?
                .data_type()
                .clone();
            Ok(Some((i, c.physical_type(), arrow)))
        };
        let (item_leaf, item_physical, item_arrow) =
            leaf(&names.item)?.ok_or(Unsupported("no item column"))?;
        let item = match (item_physical, &item_arrow) {
            (
                PhysicalType::BYTE_ARRAY,
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
            ) => ItemLayout::Str,
            (p, t) => {
                let (physical, widen) = Widen::of(p, t)?;
                ItemLayout::Int(physical, widen)
            }
        };
        let (ts_leaf, ts_physical, ts_arrow) =
            leaf(&names.ts)?.ok_or(Unsupported("no time column"))?;
        // INT64 times reach the engine raw, in the unit the Arrow schema
        // gives (`ResolvedColumns::ts_unit_ns`); INT96 and anything else go
        // to the Arrow path.
        if ts_physical != PhysicalType::INT64
            || !matches!(ts_arrow, DataType::Int64 | DataType::Timestamp(_, _))
        {
            return Err(Unsupported("time column type"));
        }
        let quantity = match leaf(&names.quantity)? {
            Some((i, p, t)) => Some((i, Widen::of(p, &t)?)),
            None => None,
        };
        let leaves = [Some(item_leaf), Some(ts_leaf), quantity.map(|q| q.0)];
        for (a, x) in leaves.iter().enumerate() {
            for y in &leaves[a + 1..] {
                if x.is_some() && x == y {
                    return Err(Unsupported("one column in two roles"));
                }
            }
        }
        Ok(Self {
            item: (item_leaf, item),
            ts: (ts_leaf, (IntPhysical::Int64, Widen::Exact)),
            quantity,
        })
    }
}

/// The selected rows of a row group of `rows` rows, as ascending ranges.
pub(crate) fn ranges(selection: Option<&RowSelection>, rows: u64) -> Vec<Range<u64>> {
    let Some(selection) = selection else {
        return std::iter::once(0..rows).collect();
    };
    let mut out = Vec::new();
    let mut at = 0u64;
    for s in selection.iter() {
        let end = at + s.row_count as u64;
        if !s.skip && end > at {
            out.push(at..end);
        }
        at = end;
    }
    out
}

/// One column chunk of a row group.
struct Chunk<'a> {
    file: &'a FilePlan,
    reader: &'a Arc<UnitBytes>,
    row_group: usize,
    leaf: usize,
    rows: u64,
}

impl Chunk<'_> {
    /// A cursor over the chunk's rows, skipping pages by the offset index
    /// where the file has one.
    fn column<D: PageDecode>(
        &self,
        decoder: D,
        buffers: ColumnBuffers<D::Out>,
    ) -> Result<Column<D>, Unsupported> {
        let md = self.file.meta.metadata();
        let index = md.page_index_for_row_group(self.row_group);
        let locations = index
            .offset_index(self.leaf)
            .map(|o| o.page_locations().clone());
        let starts = locations
            .as_ref()
            .map(|l| l.iter().map(|p| p.first_row_index.max(0) as u64).collect());
        let chunk = md.row_group(self.row_group).column(self.leaf);
        // zstd pages come raw and are decompressed with this thread's
        // context (see `inflate`).
        let raw = inflate::raw_zstd(chunk);
        let pages = SerializedPageReader::new(
            Arc::clone(self.reader),
            raw.as_ref().unwrap_or(chunk),
            self.rows as usize,
            locations,
        )
        .map_err(|_| Unsupported("page reader"))?;
        let nullable = self
            .file
            .meta
            .parquet_schema()
            .column(self.leaf)
            .max_def_level()
            == 1;
        Ok(Column::new(
            pages,
            raw.is_some(),
            starts,
            self.rows,
            nullable,
            decoder,
            buffers,
        ))
    }
}

/// The rows that the time column alone rules out, found before the other
/// columns are read.
///
/// Event logs are written in time order, so most of a row group older than
/// the largest window sits in whole pages. Reading the time column first,
/// the unit passes those rows' item and quantity pages over undecompressed
/// and hands the accumulator only the rows it may count, with the others
/// tallied exactly as its filter would tally them. That holds only when
/// neither the item nor the quantity column can decide a row's fate first
/// (the filter checks a null item and a quantity ≤ 0 before the time): their
/// chunk statistics must show no null item and no quantity below 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TimeFilter {
    /// The raw times the accumulator may count: `lo..=hi`.
    lo: i64,
    hi: i64,
}

/// Most runs of kept rows a batch may split into before the time filter
/// reads it whole instead (rows out of time order: skipping cannot pay).
const MAX_RUNS: usize = 8;

impl TimeFilter {
    /// The filter for `row_group`, when the chunk statistics allow it.
    fn of(file: &FilePlan, row_group: usize, layout: &Layout, plan: &ScoringPlan) -> Option<Self> {
        use parquet::file::statistics::Statistics;
        let rg = file.meta.metadata().row_group(row_group);
        let descr = file.meta.parquet_schema();
        let item = layout.item.0;
        let no_null_item = descr.column(item).max_def_level() == 0
            || rg
                .column(item)
                .statistics()
                .and_then(|s| s.null_count_opt())
                == Some(0);
        let quantity_positive = match layout.quantity {
            None => true,
            // Raw unsigned values do not compare as signed statistics.
            Some((_, (_, Widen::U32 | Widen::U64 | Widen::Range(_, _, true)))) => false,
            Some((leaf, _)) => match rg.column(leaf).statistics() {
                Some(Statistics::Int32(s)) => s.min_opt().is_some_and(|&m| m >= 1),
                Some(Statistics::Int64(s)) => s.min_opt().is_some_and(|&m| m >= 1),
                _ => false,
            },
        };
        if !(no_null_item && quantity_positive) {
            return None;
        }
        Self::bounds(plan.as_of_ns, plan.windows.max_ns(), file.cols.ts_unit_ns)
    }

    /// The raw times `ts` whose `t = ts · unit_ns` (saturating, as the
    /// accumulator computes it) satisfies `t <= as_of` and
    /// `as_of - t < max_ns`: `as_of - max_ns < ts · unit_ns <= as_of`, so
    /// `lo = ⌊(as_of - max_ns) / unit_ns⌋ + 1` and `hi = ⌊as_of / unit_ns⌋`.
    /// `None` where a saturated product could still count (a window that
    /// reaches below `i64::MIN`), or for a unit that is not positive.
    fn bounds(as_of: i64, max_ns: i64, unit_ns: i64) -> Option<Self> {
        let (as_of, max_ns, unit) = (i128::from(as_of), i128::from(max_ns), i128::from(unit_ns));
        if unit <= 0 || max_ns <= 0 || as_of - max_ns <= i128::from(i64::MIN) {
            return None;
        }
        let lo = (as_of - max_ns).div_euclid(unit) + 1;
        let hi = as_of.div_euclid(unit);
        if lo > hi {
            // No raw time counts; rare enough to leave to the accumulator.
            return None;
        }
        Some(Self {
            lo: i64::try_from(lo).ok()?,
            hi: i64::try_from(hi).ok()?,
        })
    }

    /// Whether a valid raw time may count.
    #[inline(always)]
    fn keeps(&self, ts: i64) -> bool {
        (ts.wrapping_sub(self.lo) as u64) <= (self.hi.wrapping_sub(self.lo) as u64)
    }

    /// Whether every one of `values` (all valid) may count: one branch-free
    /// pass.
    fn keeps_all(&self, values: &[i64]) -> bool {
        values.iter().fold(true, |all, &v| all & self.keeps(v))
    }

    /// Tallies a row the filter rules out, as the accumulator would.
    #[inline]
    fn tally(&self, ts: i64, valid: bool, counts: &mut RowCounts) {
        counts.scanned += 1;
        if !valid {
            counts.null_ts += 1;
        } else if ts > self.hi {
            counts.after_as_of += 1;
        } else {
            counts.before_max_window += 1;
        }
    }
}

/// Up to [`MAX_RUNS`] runs of rows, as offsets into a batch step.
#[derive(Default)]
struct Runs {
    runs: [(usize, usize); MAX_RUNS],
    len: usize,
}

impl Runs {
    fn as_slice(&self) -> &[(usize, usize)] {
        &self.runs[..self.len]
    }
}

/// Applies `filter` to the time values appended to `buf.ts` from `from`
/// (validity in `buf.probe_valid`). When the rows it keeps form at most
/// [`MAX_RUNS`] runs and some rows are ruled out, drops the others from
/// `buf.ts`, tallies them into `uncounted`, records the kept rows as valid
/// and returns the runs (offsets from `from`), for the other columns to read
/// only those. `None` when every row is kept or the kept rows are too
/// scattered: then every row stays, and nothing was tallied.
fn kept_runs(
    filter: &TimeFilter,
    buf: &mut BatchBuffers,
    from: usize,
    uncounted: &mut RowCounts,
) -> Option<Runs> {
    let values = &buf.ts[from..];
    let found = match buf.probe_valid.bitmap() {
        None => {
            // Most batches lie wholly inside the window.
            if filter.keeps_all(values) {
                return None;
            }
            find_runs(filter, values, |_| true)
        }
        Some(bits) => find_runs(filter, values, |i| bits[i >> 3] & (1 << (i & 7)) != 0),
    };
    let (runs, counts) = found?;
    if counts.scanned == 0 {
        return None;
    }
    // Keep only the runs' values, in order.
    let mut to = from;
    for &(start, end) in runs.as_slice() {
        buf.ts.copy_within(from + start..from + end, to);
        to += end - start;
    }
    buf.ts.truncate(to);
    buf.ts_valid.push_valid(to - from);
    *uncounted += counts;
    Some(runs)
}

/// The runs of rows of `values` (valid where `valid` says) that `filter`
/// keeps, and the tally of the others; `None` past [`MAX_RUNS`] runs.
#[inline(always)]
fn find_runs(
    filter: &TimeFilter,
    values: &[i64],
    valid: impl Fn(usize) -> bool,
) -> Option<(Runs, RowCounts)> {
    let k = values.len();
    let kept = |i: usize| valid(i) && filter.keeps(values[i]);
    let mut runs = Runs::default();
    let mut counts = RowCounts::default();
    let mut i = 0;
    while i < k {
        while i < k && !kept(i) {
            filter.tally(values[i], valid(i), &mut counts);
            i += 1;
        }
        let start = i;
        while i < k && kept(i) {
            i += 1;
        }
        if i > start {
            if runs.len == MAX_RUNS {
                return None;
            }
            runs.runs[runs.len] = (start, i);
            runs.len += 1;
        }
    }
    Some((runs, counts))
}

/// One batch of rows for the accumulator, wherever they lie.
#[derive(Default)]
struct Rows<'a> {
    codes: &'a [u32],
    codes_valid: Option<Validity<'a>>,
    ts: &'a [i64],
    ts_valid: Option<Validity<'a>>,
    quantity: Option<&'a [i64]>,
    quantity_valid: Option<Validity<'a>>,
}

/// Hands the rows gathered in `buf` to `add`, and empties it.
fn flush<D>(
    buf: &mut BatchBuffers,
    dictionary: &D,
    add: &mut impl FnMut(&D, Rows<'_>) -> Result<(), Unsupported>,
) -> Result<(), Unsupported> {
    if buf.ts.is_empty() {
        return Ok(());
    }
    let rows = Rows {
        codes: &buf.codes,
        codes_valid: validity(&buf.codes_valid),
        ts: &buf.ts,
        ts_valid: validity(&buf.ts_valid),
        quantity: Some(&buf.quantity),
        quantity_valid: validity(&buf.quantity_valid),
    };
    add(dictionary, rows)?;
    buf.clear();
    Ok(())
}

/// How many rows from `row` (at most `left`) every column holds in its
/// current page without a null, so that they can be read in place rather
/// than copied into a batch; `None` when that is not the case (a page with
/// nulls, or rows the time filter would split).
fn in_place<A: PageDecode>(
    item: &mut Column<A>,
    ts: &mut Column<Ints>,
    quantity: Option<&mut Column<Ints>>,
    row: u64,
    left: usize,
    filter: Option<TimeFilter>,
) -> Result<Option<usize>, Unsupported> {
    let (Some(a), Some(b)) = (item.ready(row)?, ts.ready(row)?) else {
        return Ok(None);
    };
    let c = match quantity {
        Some(q) => match q.ready(row)? {
            Some(c) => c,
            None => return Ok(None),
        },
        None => left,
    };
    let k = left.min(a).min(b).min(c);
    if k == 0 {
        return Ok(None);
    }
    if filter.is_some_and(|f| !f.keeps_all(ts.peek(k))) {
        return Ok(None);
    }
    Ok(Some(k))
}

/// How a unit's rows reach their cells.
#[derive(Clone, Copy)]
enum Cells {
    /// No row yet.
    Unstarted,
    /// Cells indexed by code, for a dictionary of this many entries
    /// ([`CategoryAccumulator::begin_codes`]).
    ByCode(usize),
    /// Through the code → slot table ([`CategoryAccumulator::add_coded`]),
    /// once values were appended to the dictionary.
    BySlot,
}

/// Why a unit whose dictionary holds a key twice goes to the Arrow path:
/// cells indexed by code would sum that key's rows in two parts.
const REPEATED_KEY: &str = "a key twice in the item dictionary";

/// Reusable output buffers of one batch.
#[derive(Default)]
struct BatchBuffers {
    codes: Vec<u32>,
    codes_valid: Bits,
    ts: Vec<i64>,
    ts_valid: Bits,
    quantity: Vec<i64>,
    quantity_valid: Bits,
    /// Validity of the time values just read, before the time filter.
    probe_valid: Bits,
}

impl BatchBuffers {
    fn clear(&mut self) {
        self.codes.clear();
        self.codes_valid.clear();
        self.ts.clear();
        self.ts_valid.clear();
        self.quantity.clear();
        self.quantity_valid.clear();
    }
}

fn validity(bits: &Bits) -> Option<Validity<'_>> {
    bits.bitmap().map(|bits| Validity { bits, offset: 0 })
}

/// The page decoder's buffers, kept per worker thread between units: made
/// per unit, their pages were faulted in again for every row group.
#[derive(Default)]
pub(crate) struct PageScratch {
    batch: BatchBuffers,
    slots: Vec<u32>,
    codes: ColumnBuffers<u32>,
    ts: (ColumnBuffers<i64>, IntsBuffers),
    quantity: (ColumnBuffers<i64>, IntsBuffers),
    int_dictionary: IntDict,
    str_dictionary: StrDict,
}

/// Decodes the rows of `row_group` that `selection` keeps (all without one)
/// from `bytes`, the unit's column chunks, into `acc` through dictionary codes.
///
/// On [`Unsupported`], `acc` may hold part of the unit: the caller empties
/// it before decoding the unit another way.
#[allow(clippy::too_many_arguments)]
pub(crate) fn decode_unit<I: PageKeys>(
    bytes: &Arc<UnitBytes>,
    file: &FilePlan,
    row_group: usize,
    selection: Option<&RowSelection>,
    names: &crate::columns::ColumnNames,
    batch_size: usize,
    plan: &ScoringPlan,
    acc: &mut CategoryAccumulator<I>,
    scratch: &mut PageScratch,
) -> Result<(), Unsupported> {
    let layout = Layout::of(file, names)?;
    let md = file.meta.metadata();
    let rows = md.row_group(row_group).num_rows().max(0) as u64;
    let reader = Arc::clone(bytes);
    let open = |leaf| Chunk {
        file,
        reader: &reader,
        row_group,
        leaf,
        rows,
    };
    use std::mem::take;
    let codes = Codes::<I> {
        item: layout.item.1,
        dictionary: take(I::dictionary(scratch)),
        started: false,
    };
    let mut item = open(layout.item.0).column(codes, take(&mut scratch.codes))?;
    let (buffers, ints) = take(&mut scratch.ts);
    let mut ts = open(layout.ts.0).column(Ints::new(layout.ts.1, ints), buffers)?;
    let mut quantity = match layout.quantity {
        Some((leaf, widen)) => {
            let (buffers, ints) = take(&mut scratch.quantity);
            Some(open(leaf).column(Ints::new(widen, ints), buffers)?)
        }
        None => None,
    };
    let mut slots = take(&mut scratch.slots);
    slots.clear();
    let mut buf = take(&mut scratch.batch);
    buf.clear();
    let batch_size = batch_size.max(1);
    let ts_unit_ns = file.cols.ts_unit_ns;
    let quantity_present = quantity.is_some();
    let mut cells = Cells::Unstarted;
    let mut add = |dictionary: &I::Dict, rows: Rows<'_>| {
        match cells {
            Cells::Unstarted => {
                acc.begin_codes(dictionary.len());
                cells = Cells::ByCode(dictionary.len());
            }
            Cells::ByCode(entries) if dictionary.len() > entries => {
                // Values appended past the dictionary repeat its keys: from
                // here on, rows find their slot through the code → slot
                // table, which the cells so far seed.
                slots.resize(dictionary.len(), NO_SLOT);
                acc.end_codes(dictionary, Some(&mut slots))
                    .map_err(|_| Unsupported(REPEATED_KEY))?;
                cells = Cells::BySlot;
            }
            _ => {}
        }
        let mut batch = Batch::new(rows.codes, rows.ts, ts_unit_ns);
        batch.items_valid = rows.codes_valid;
        batch.ts_valid = rows.ts_valid;
        if quantity_present {
            batch.quantity = rows.quantity;
            batch.quantity_valid = rows.quantity_valid;
        }
        if matches!(cells, Cells::ByCode(_)) {
            acc.add_codes(plan, &batch);
        } else {
            // The dictionary grows only (by appended values): the slots
            // found so far stay valid.
            slots.resize(dictionary.len(), NO_SLOT);
            acc.add_coded(plan, &batch, dictionary, &mut slots);
        }
        Ok(())
    };
    let filter = TimeFilter::of(file, row_group, &layout, plan);
    let mut uncounted = RowCounts::default();
    let mut read = || -> Result<(), Unsupported> {
        for range in ranges(selection, rows) {
            let mut at = range.start;
            while at < range.end {
                let left = (range.end - at) as usize;
                // Rows that lie in one page of every column, none null, go
                // to the accumulator straight from the pages.
                if let Some(k) = in_place(&mut item, &mut ts, quantity.as_mut(), at, left, filter)?
                {
                    flush(&mut buf, &item.decoder.dictionary, &mut add)?;
                    let rows = Rows {
                        codes: item.peek(k),
                        ts: ts.peek(k),
                        quantity: quantity.as_ref().map(|q| q.peek(k)),
                        ..Rows::default()
                    };
                    add(&item.decoder.dictionary, rows)?;
                    item.advance(k);
                    ts.advance(k);
                    if let Some(q) = quantity.as_mut() {
                        q.advance(k);
                    }
                    at += k as u64;
                    continue;
                }
                let k = left.min(batch_size - buf.ts.len());
                let runs = match filter {
                    None => None,
                    Some(filter) => {
                        let from = buf.ts.len();
                        buf.probe_valid.clear();
                        ts.read(at, k, &mut buf.ts, &mut buf.probe_valid)?;
                        let runs = kept_runs(&filter, &mut buf, from, &mut uncounted);
                        if runs.is_none() {
                            buf.ts_valid.append(&buf.probe_valid);
                        }
                        runs
                    }
                };
                match runs {
                    Some(runs) => {
                        for &(start, end) in runs.as_slice() {
                            let (row, n) = (at + start as u64, end - start);
                            item.read(row, n, &mut buf.codes, &mut buf.codes_valid)?;
                            if let Some(q) = quantity.as_mut() {
                                q.read(row, n, &mut buf.quantity, &mut buf.quantity_valid)?;
                            }
                        }
                    }
                    None => {
                        item.read(at, k, &mut buf.codes, &mut buf.codes_valid)?;
                        if filter.is_none() {
                            ts.read(at, k, &mut buf.ts, &mut buf.ts_valid)?;
                        }
                        if let Some(q) = quantity.as_mut() {
                            q.read(at, k, &mut buf.quantity, &mut buf.quantity_valid)?;
                        }
                    }
                }
                at += k as u64;
                if buf.ts.len() == batch_size {
                    flush(&mut buf, &item.decoder.dictionary, &mut add)?;
                }
            }
        }
        flush(&mut buf, &item.decoder.dictionary, &mut add)
    };
    let mut result = read();
    if result.is_ok() && matches!(cells, Cells::ByCode(_)) {
        result = acc
            .end_codes(&item.decoder.dictionary, None)
            .map_err(|_| Unsupported(REPEATED_KEY));
    }
    acc.count_uncounted(uncounted);
    // The buffers go back for the next unit, whatever the outcome.
    let (codes, buffers) = item.into_parts();
    *I::dictionary(scratch) = codes.dictionary;
    I::dictionary(scratch).release();
    scratch.codes = buffers;
    let (ints, buffers) = ts.into_parts();
    scratch.ts = (buffers, ints.into_buffers());
    if let Some(q) = quantity {
        let (ints, buffers) = q.into_parts();
        scratch.quantity = (buffers, ints.into_buffers());
    }
    scratch.slots = slots;
    scratch.batch = buf;
    result
}
