//! A cursor over one column chunk: pages in, rows out.
//!
//! The parquet crate's page reader finds, decompresses and (with an offset
//! index) skips pages; the cursor decodes each data page's definition
//! levels and values into one value per row, then hands out any run of
//! rows, crossing page boundaries as needed. Pages wholly before a wanted
//! row are skipped unread when the file has an offset index.

use bytes::Bytes;
use parquet::basic::Encoding;
use parquet::column::page::{Page, PageMetadata, PageReader};
use parquet::file::serialized_reader::SerializedPageReader;

use super::encoding::def_levels;
use super::Unsupported;
use crate::chunks::UnitBytes;

/// How a column's pages turn into values.
pub(super) trait PageDecode {
    /// One row's value (the default under a null).
    type Out: Copy + Default;
    /// Takes the chunk's dictionary page of `n` PLAIN entries.
    fn dictionary(&mut self, page: &Bytes, n: usize) -> Result<(), Unsupported>;
    /// Appends the `n` non-null values of a data page's value section.
    fn values(
        &mut self,
        encoding: Encoding,
        data: &Bytes,
        n: usize,
        out: &mut Vec<Self::Out>,
    ) -> Result<(), Unsupported>;
}

/// A validity bitmap built row by row, materialised only once a null shows
/// up (most batches have none).
#[derive(Default)]
pub(super) struct Bits {
    bytes: Vec<u8>,
    len: usize,
    any_null: bool,
}

impl Bits {
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.len = 0;
        self.any_null = false;
    }

    /// The Arrow-style bitmap, `None` when every row is valid.
    pub fn bitmap(&self) -> Option<&[u8]> {
        self.any_null.then_some(&self.bytes[..])
    }

    /// Appends all of `other`'s bits.
    pub fn append(&mut self, other: &Bits) {
        match other.bitmap() {
            None => self.push_valid(other.len),
            Some(bytes) => {
                for i in 0..other.len {
                    self.push(bytes[i >> 3] & (1 << (i & 7)) != 0);
                }
            }
        }
    }

    pub fn push_valid(&mut self, k: usize) {
        if self.any_null {
            for _ in 0..k {
                self.push(true);
            }
        } else {
            self.len += k;
        }
    }

    fn push(&mut self, valid: bool) {
        if !valid && !self.any_null {
            self.any_null = true;
            self.bytes.clear();
            self.bytes.resize(self.len.div_ceil(8), 0xff);
            // Bits past `len` in the last byte must start cleared.
            if !self.len.is_multiple_of(8) {
                let last = self.bytes.len() - 1;
                self.bytes[last] = (1u8 << (self.len % 8)) - 1;
            }
        }
        if self.any_null {
            if self.len.is_multiple_of(8) {
                self.bytes.push(0);
            }
            if valid {
                let last = self.bytes.len() - 1;
                self.bytes[last] |= 1 << (self.len % 8);
            }
        }
        self.len += 1;
    }
}

/// The rows of a data page by its header alone (one level per row in a
/// flat column), when it says.
pub(crate) fn header_rows(meta: &PageMetadata) -> Option<u64> {
    meta.num_rows
        .or(meta.num_levels)
        .filter(|&rows| rows > 0)
        .map(|rows| rows as u64)
}

/// A column cursor's buffers, kept per worker thread between units so
/// that their pages are not faulted in again for every row group.
pub(crate) struct ColumnBuffers<T> {
    valid: Vec<bool>,
    values: Vec<T>,
    dense: Vec<T>,
    levels: Vec<u32>,
}

impl<T> Default for ColumnBuffers<T> {
    fn default() -> Self {
        Self {
            valid: Vec::new(),
            values: Vec::new(),
            dense: Vec::new(),
            levels: Vec::new(),
        }
    }
}

/// The rows of one column chunk, in order.
pub(super) struct Column<D: PageDecode> {
    pages: SerializedPageReader<UnitBytes>,
    /// The pages come compressed with zstd, to be inflated here.
    inflate: bool,
    /// First row of every data page, from the offset index.
    starts: Option<Vec<u64>>,
    total_rows: u64,
    nullable: bool,
    pub decoder: D,
    /// Data pages read or skipped so far.
    data_pages: usize,
    /// Row of the current page's first value.
    page_first: u64,
    page_rows: usize,
    /// Next row of the current page to hand out.
    pos: usize,
    /// Per row of the current page, whether it holds a value (empty: all do).
    valid: Vec<bool>,
    /// Per row of the current page, its value.
    values: Vec<D::Out>,
    dense: Vec<D::Out>,
    levels: Vec<u32>,
}

impl<D: PageDecode> Column<D> {
    pub fn new(
        pages: SerializedPageReader<UnitBytes>,
        inflate: bool,
        starts: Option<Vec<u64>>,
        total_rows: u64,
        nullable: bool,
        decoder: D,
        buffers: ColumnBuffers<D::Out>,
    ) -> Self {
        let ColumnBuffers {
            valid,
            values,
            dense,
            levels,
        } = buffers;
        Self {
            pages,
            inflate,
            starts,
            total_rows,
            nullable,
            decoder,
            data_pages: 0,
            page_first: 0,
            page_rows: 0,
            pos: 0,
            valid,
            values,
            dense,
            levels,
        }
    }

    /// The decoder and the buffers, for the next unit.
    pub fn into_parts(self) -> (D, ColumnBuffers<D::Out>) {
        let buffers = ColumnBuffers {
            valid: self.valid,
            values: self.values,
            dense: self.dense,
            levels: self.levels,
        };
        (self.decoder, buffers)
    }

    fn next_row(&self) -> u64 {
        self.page_first + self.pos as u64
    }

    /// Appends rows `row..row + n` (`row` at or after every row handed out
    /// before) to `out` and `valid`.
    pub fn read(
        &mut self,
        row: u64,
        mut n: usize,
        out: &mut Vec<D::Out>,
        valid: &mut Bits,
    ) -> Result<(), Unsupported> {
        self.seek(row)?;
        while n > 0 {
            if self.pos == self.page_rows {
                self.next_page(None)?;
                continue;
            }
            let k = n.min(self.page_rows - self.pos);
            out.extend_from_slice(&self.values[self.pos..self.pos + k]);
            if self.valid.is_empty() {
                valid.push_valid(k);
            } else {
                for &v in &self.valid[self.pos..self.pos + k] {
                    valid.push(v);
                }
            }
            self.pos += k;
            n -= k;
        }
        Ok(())
    }

    /// Moves to `row` with its page decoded, and says how many rows from
    /// `row` that page holds, when none of its rows is null (`None` when
    /// some are: such rows go through [`read`](Self::read)).
    pub fn ready(&mut self, row: u64) -> Result<Option<usize>, Unsupported> {
        self.seek(row)?;
        if self.pos == self.page_rows {
            self.next_page(None)?;
        }
        Ok(self.valid.is_empty().then(|| self.page_rows - self.pos))
    }

    /// The values of the next `k` rows, in the current page (`k` at most
    /// what [`ready`](Self::ready) said).
    pub fn peek(&self, k: usize) -> &[D::Out] {
        &self.values[self.pos..self.pos + k]
    }

    /// Moves past `k` rows read with [`peek`](Self::peek).
    pub fn advance(&mut self, k: usize) {
        self.pos += k;
    }

    /// Moves to `row`, skipping whole pages unread where the offset index
    /// says they end before it.
    fn seek(&mut self, row: u64) -> Result<(), Unsupported> {
        if row < self.next_row() {
            return Err(Unsupported("rows asked out of order"));
        }
        while self.next_row() < row {
            if self.pos < self.page_rows {
                let k = (row - self.next_row()).min((self.page_rows - self.pos) as u64);
                self.pos += k as usize;
            } else {
                self.next_page(Some(row))?;
            }
        }
        Ok(())
    }

    /// The rows of data page `k` per the offset index.
    fn indexed_rows(&self, k: usize) -> Option<(u64, u64)> {
        let starts = self.starts.as_ref()?;
        let start = *starts.get(k)?;
        let end = starts.get(k + 1).copied().unwrap_or(self.total_rows);
        Some((start, end))
    }

    /// Reads the next data page (taking a dictionary page on the way), or
    /// skips it when it ends at or before `skip_before`.
    fn next_page(&mut self, skip_before: Option<u64>) -> Result<(), Unsupported> {
        let row = self.page_first + self.page_rows as u64;
        if let Some(target) = skip_before {
            if let Some(end) = self.next_page_end(row)? {
                if end <= target {
                    self.pages
                        .skip_next_page()
                        .map_err(|_| Unsupported("skipping a page"))?;
                    self.data_pages += 1;
                    self.page_first = end;
                    self.page_rows = 0;
                    self.pos = 0;
                    return Ok(());
                }
            }
        }
        self.read_page(row)
    }

    /// Where the next page, a data page starting at `row`, ends, when that
    /// is known without decompressing it: from the offset index, or else
    /// from its header (one level per row in a flat column). `None` for a
    /// dictionary page, or when the header does not say.
    fn next_page_end(&mut self, row: u64) -> Result<Option<u64>, Unsupported> {
        let indexed = self.indexed_rows(self.data_pages);
        if let Some((start, _)) = indexed {
            if start != row {
                return Err(Unsupported("offset index does not match the pages read"));
            }
        }
        let meta = self
            .pages
            .peek_next_page()
            .map_err(|_| Unsupported("page header"))?;
        let Some(meta) = meta.filter(|m| !m.is_dict) else {
            return Ok(None);
        };
        Ok(match indexed {
            Some((_, end)) => Some(end),
            None => header_rows(&meta).map(|rows| row + rows),
        })
    }

    /// Reads and decodes the next data page, taking a dictionary page on the
    /// way.
    fn read_page(&mut self, row: u64) -> Result<(), Unsupported> {
        loop {
            let page = self
                .pages
                .get_next_page()
                .map_err(|_| Unsupported("page read"))?
                .ok_or(Unsupported("column chunk ends before the row group"))?;
            let page = if self.inflate {
                super::inflate::inflate(page)?
            } else {
                page
            };
            let (rows, levels, values, encoding, nulls_known) = match &page {
                Page::DictionaryPage {
                    buf,
                    num_values,
                    encoding,
                    ..
                } => {
                    if !matches!(encoding, Encoding::PLAIN | Encoding::PLAIN_DICTIONARY) {
                        return Err(Unsupported("dictionary page encoding"));
                    }
                    self.decoder.dictionary(buf, *num_values as usize)?;
                    continue;
                }
                Page::DataPage {
                    buf,
                    num_values,
                    encoding,
                    def_level_encoding,
                    ..
                } => {
                    let rows = *num_values as usize;
                    if self.nullable {
                        if *def_level_encoding != Encoding::RLE {
                            return Err(Unsupported("definition levels not RLE"));
                        }
                        let len = buf
                            .get(..4)
                            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                            .ok_or(Unsupported("definition levels"))?;
                        let levels = buf
                            .get(4..4 + len)
                            .ok_or(Unsupported("definition levels"))?;
                        (rows, levels, buf.slice(4 + len..), *encoding, None)
                    } else {
                        (rows, &[][..], buf.clone(), *encoding, None)
                    }
                }
                Page::DataPageV2 {
                    buf,
                    num_values,
                    encoding,
                    num_nulls,
                    num_rows,
                    def_levels_byte_len,
                    rep_levels_byte_len,
                    ..
                } => {
                    let def = *def_levels_byte_len as usize;
                    if *rep_levels_byte_len != 0 || num_values != num_rows || buf.len() < def {
                        return Err(Unsupported("data page v2 levels"));
                    }
                    if !self.nullable && def != 0 {
                        return Err(Unsupported("levels in a required column"));
                    }
                    (
                        *num_rows as usize,
                        &buf[..def],
                        buf.slice(def..),
                        *encoding,
                        Some(*num_nulls as usize),
                    )
                }
            };
            if let Some((start, end)) = self.indexed_rows(self.data_pages) {
                if start != row || end - start != rows as u64 {
                    return Err(Unsupported("offset index does not match the pages read"));
                }
            }
            let non_null = if self.nullable {
                let n = def_levels(levels, rows, &mut self.levels, &mut self.valid)?;
                if nulls_known.is_some_and(|nulls| nulls != rows - n) {
                    return Err(Unsupported("null count does not match the levels"));
                }
                if n == rows {
                    self.valid.clear();
                }
                n
            } else {
                self.valid.clear();
                rows
            };
            self.dense.clear();
            self.decoder
                .values(encoding, &values, non_null, &mut self.dense)?;
            if self.valid.is_empty() {
                std::mem::swap(&mut self.values, &mut self.dense);
            } else {
                self.values.clear();
                let mut dense = self.dense.iter();
                for &v in &self.valid {
                    self.values.push(if v {
                        dense.next().copied().unwrap_or_default()
                    } else {
                        D::Out::default()
                    });
                }
            }
            self.data_pages += 1;
            self.page_first = row;
            self.page_rows = rows;
            self.pos = 0;
            return Ok(());
        }
    }
}
