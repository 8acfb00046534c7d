//! The page headers of a column chunk, read straight from the file's bytes.
//!
//! # Background
//!
//! Writers that skip the page index (pyarrow's default, among others) still
//! write each data page's statistics into its header. For an event log in
//! time order, the time column's page statistics tell which pages lie wholly
//! outside the windows, just as the page index would. The parquet crate reads
//! a page header only on the way to decompressing its page; this module reads
//! the headers alone, so the plan can prune those pages before anything is
//! decompressed.
//!
//! # Design
//!
//! Headers are Thrift compact-protocol structs. [`Reader`] decodes the few
//! shapes they use and skips every field it does not need (by type), so an
//! unknown field from a newer writer does not derail it. Any malformed or
//! unexpected byte makes [`int64_pages`] answer `None`: the plan then reads
//! the row group as it would without statistics.

/// What the header of one page of an INT64 column says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageStats {
    /// Rows of the page (its value count: one level per row in a flat column).
    pub rows: u64,
    /// The smallest and largest non-null values, when written.
    pub min_max: Option<(i64, i64)>,
}

/// The data pages of the column chunk held in `chunk` (its bytes from the
/// first page header to the end of the chunk), in order, dictionary pages
/// left out. `None` when a header cannot be read.
pub(crate) fn int64_pages(chunk: &[u8]) -> Option<Vec<PageStats>> {
    let mut pages = Vec::new();
    let mut at = 0;
    while at < chunk.len() {
        let mut r = Reader {
            data: chunk,
            pos: at,
        };
        let header = r.page_header()?;
        at = r.pos.checked_add(header.compressed_size)?;
        if at > chunk.len() {
            return None;
        }
        if let Some(page) = header.data {
            pages.push(page);
        }
    }
    Some(pages)
}

/// The fields of a page header the plan uses.
struct Header {
    compressed_size: usize,
    /// `None` for a dictionary or index page.
    data: Option<PageStats>,
}

// Thrift compact protocol field types.
const BOOL_TRUE: u8 = 1;
const BOOL_FALSE: u8 = 2;
const BYTE: u8 = 3;
const I16: u8 = 4;
const I32: u8 = 5;
const I64: u8 = 6;
const DOUBLE: u8 = 7;
const BINARY: u8 = 8;
const LIST: u8 = 9;
const SET: u8 = 10;
const MAP: u8 = 11;
const STRUCT: u8 = 12;

// Page types (parquet.thrift `PageType`).
const DATA_PAGE: i64 = 0;
const DATA_PAGE_V2: i64 = 3;

/// Nesting deeper than this is not a page header.
const MAX_DEPTH: u32 = 16;

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// The statistics fields of a page header.
#[derive(Default)]
struct Stats {
    min_value: Option<i64>,
    max_value: Option<i64>,
    /// The deprecated `min`/`max` fields, for writers that only fill those.
    min: Option<i64>,
    max: Option<i64>,
}

impl Stats {
    fn min_max(&self) -> Option<(i64, i64)> {
        match (self.min_value, self.max_value) {
            (Some(min), Some(max)) => Some((min, max)),
            // Signed INT64 values order the same under the old and the new
            // rules, so the deprecated fields are exact for this column.
            _ => self.min.zip(self.max),
        }
    }
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn zigzag(&mut self) -> Option<i64> {
        let v = self.varint()?;
        Some((v >> 1) as i64 ^ -((v & 1) as i64))
    }

    fn binary(&mut self) -> Option<&[u8]> {
        let len = usize::try_from(self.varint()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let bytes = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    /// A PLAIN-encoded INT64 statistic: eight little-endian bytes.
    fn int64_value(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.binary()?.try_into().ok()?))
    }

    /// The next field's (id, type), `None` at the struct's end.
    fn field(&mut self, last: &mut i16) -> Option<Option<(i16, u8)>> {
        let b = self.byte()?;
        let kind = b & 0x0f;
        if kind == 0 {
            return Some(None);
        }
        let delta = b >> 4;
        let id = if delta == 0 {
            i16::try_from(self.zigzag()?).ok()?
        } else {
            last.checked_add(i16::from(delta))?
        };
        *last = id;
        Some(Some((id, kind)))
    }

    /// Skips one value of compact type `kind`.
    fn skip(&mut self, kind: u8, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match kind {
            BOOL_TRUE | BOOL_FALSE => {}
            BYTE => {
                self.byte()?;
            }
            I16 | I32 | I64 => {
                self.varint()?;
            }
            DOUBLE => {
                let end = self.pos.checked_add(8)?;
                self.data.get(self.pos..end)?;
                self.pos = end;
            }
            BINARY => {
                self.binary()?;
            }
            LIST | SET => {
                let b = self.byte()?;
                let n = match b >> 4 {
                    15 => self.varint()?,
                    n => u64::from(n),
                };
                let elem = b & 0x0f;
                for _ in 0..n {
                    // Booleans in a collection are a byte each.
                    if matches!(elem, BOOL_TRUE | BOOL_FALSE) {
                        self.byte()?;
                    } else {
                        self.skip(elem, depth + 1)?;
                    }
                }
            }
            MAP => {
                let n = self.varint()?;
                if n > 0 {
                    let kinds = self.byte()?;
                    for _ in 0..n {
                        self.skip(kinds >> 4, depth + 1)?;
                        self.skip(kinds & 0x0f, depth + 1)?;
                    }
                }
            }
            STRUCT => {
                let mut last = 0;
                while let Some((_, k)) = self.field(&mut last)? {
                    self.skip(k, depth + 1)?;
                }
            }
            _ => return None,
        }
        Some(())
    }

    fn i32_field(&mut self, kind: u8) -> Option<i64> {
        (kind == I32).then_some(())?;
        self.zigzag()
    }

    fn page_header(&mut self) -> Option<Header> {
        let mut last = 0;
        let mut page_type = None;
        let mut compressed_size = None;
        let mut data = None;
        while let Some((id, kind)) = self.field(&mut last)? {
            match (id, kind) {
                (1, _) => page_type = Some(self.i32_field(kind)?),
                (3, _) => compressed_size = Some(self.i32_field(kind)?),
                // DataPageHeader: 1 num_values, 5 statistics.
                (5, STRUCT) => data = Some(self.data_page(1, None, 5)?),
                // DataPageHeaderV2: 3 num_rows, 8 statistics.
                (8, STRUCT) => data = Some(self.data_page(3, Some(1), 8)?),
                (_, k) => self.skip(k, 0)?,
            }
        }
        let compressed_size = usize::try_from(compressed_size?).ok()?;
        let data = match page_type? {
            DATA_PAGE | DATA_PAGE_V2 => Some(data?),
            _ => None,
        };
        Some(Header {
            compressed_size,
            data,
        })
    }

    /// A data page header whose row count is field `rows_field` (and, in
    /// v2, whose value count `values_field` must equal it: a flat column)
    /// and whose statistics are field `stats_field`.
    fn data_page(
        &mut self,
        rows_field: i16,
        values_field: Option<i16>,
        stats_field: i16,
    ) -> Option<PageStats> {
        let mut last = 0;
        let mut rows = None;
        let mut values = None;
        let mut stats = Stats::default();
        while let Some((id, kind)) = self.field(&mut last)? {
            if id == rows_field {
                rows = Some(self.i32_field(kind)?);
            } else if Some(id) == values_field {
                values = Some(self.i32_field(kind)?);
            } else if id == stats_field && kind == STRUCT {
                stats = self.statistics()?;
            } else {
                self.skip(kind, 1)?;
            }
        }
        let rows = rows?;
        if values_field.is_some() && values != Some(rows) {
            return None;
        }
        Some(PageStats {
            rows: u64::try_from(rows).ok()?,
            min_max: stats.min_max(),
        })
    }

    fn statistics(&mut self) -> Option<Stats> {
        let mut last = 0;
        let mut stats = Stats::default();
        while let Some((id, kind)) = self.field(&mut last)? {
            match (id, kind) {
                (1, BINARY) => stats.max = Some(self.int64_value()?),
                (2, BINARY) => stats.min = Some(self.int64_value()?),
                (5, BINARY) => stats.max_value = Some(self.int64_value()?),
                (6, BINARY) => stats.min_value = Some(self.int64_value()?),
                (_, k) => self.skip(k, 2)?,
            }
        }
        Some(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compact-protocol writer for the test headers.
    #[derive(Default)]
    struct W(Vec<u8>, Vec<i16>);

    impl W {
        fn varint(&mut self, mut v: u64) {
            while v >= 0x80 {
                self.0.push((v as u8) | 0x80);
                v >>= 7;
            }
            self.0.push(v as u8);
        }
        fn field(&mut self, id: i16, kind: u8) {
            let last = self.1.last().copied().expect("in a struct");
            let delta = id - last;
            if (1..=15).contains(&delta) {
                self.0.push(((delta as u8) << 4) | kind);
            } else {
                self.0.push(kind);
                self.varint(((id << 1) ^ (id >> 15)) as u16 as u64);
            }
            *self.1.last_mut().expect("in a struct") = id;
        }
        fn i32(&mut self, id: i16, v: i64) {
            self.field(id, I32);
            self.varint(((v << 1) ^ (v >> 63)) as u64);
        }
        fn bin(&mut self, id: i16, v: &[u8]) {
            self.field(id, BINARY);
            self.varint(v.len() as u64);
            self.0.extend_from_slice(v);
        }
        fn begin(&mut self, id: Option<i16>) {
            if let Some(id) = id {
                self.field(id, STRUCT);
            }
            self.1.push(0);
        }
        fn end(&mut self) {
            self.0.push(0);
            self.1.pop();
        }
    }

    /// A v1 data page header of `rows` rows and `body` bytes, with min/max.
    fn v1(w: &mut W, rows: i64, body: usize, min_max: Option<(i64, i64)>, extra: bool) {
        w.begin(None);
        w.i32(1, DATA_PAGE);
        w.i32(2, body as i64);
        w.i32(3, body as i64);
        if extra {
            // A field this reader does not know: a list of doubles at id 40.
            w.field(40, LIST);
            w.0.push((2 << 4) | DOUBLE);
            w.0.extend_from_slice(&[0; 16]);
        }
        w.begin(Some(5));
        w.i32(1, rows);
        w.i32(2, 0);
        if let Some((min, max)) = min_max {
            w.begin(Some(5));
            w.bin(5, &max.to_le_bytes());
            w.bin(6, &min.to_le_bytes());
            w.end();
        }
        w.end();
        w.end();
        w.0.extend(std::iter::repeat_n(0xAB, body));
    }

    #[test]
    fn reads_rows_and_statistics_of_every_data_page() {
        let mut w = W::default();
        // A dictionary page first: counted out.
        w.begin(None);
        w.i32(1, 2);
        w.i32(2, 3);
        w.i32(3, 3);
        w.end();
        w.0.extend([1, 2, 3]);
        v1(&mut w, 100, 7, Some((-5, 1 << 40)), false);
        v1(&mut w, 30, 0, None, true);
        let pages = int64_pages(&w.0).expect("readable");
        assert_eq!(
            pages,
            vec![
                PageStats {
                    rows: 100,
                    min_max: Some((-5, 1 << 40))
                },
                PageStats {
                    rows: 30,
                    min_max: None
                },
            ]
        );
    }

    #[test]
    fn damaged_headers_read_as_none() {
        let mut w = W::default();
        v1(&mut w, 10, 4, Some((1, 2)), false);
        let whole = w.0.clone();
        // Cut anywhere: no panic, and no half answer.
        for cut in 1..whole.len() {
            assert_eq!(int64_pages(&whole[..cut]), None, "cut at {cut}");
        }
        // A page body that runs past the chunk.
        let mut long = W::default();
        v1(&mut long, 10, 4, None, false);
        long.0.truncate(long.0.len() - 1);
        assert_eq!(int64_pages(&long.0), None);
        // A statistic that is not eight bytes.
        let mut w = W::default();
        w.begin(None);
        w.i32(1, DATA_PAGE);
        w.i32(3, 0);
        w.begin(Some(5));
        w.i32(1, 1);
        w.begin(Some(5));
        w.bin(5, &[1, 2, 3]);
        w.end();
        w.end();
        w.end();
        assert_eq!(int64_pages(&w.0), None);
    }
}
