//! A work unit's column chunks, in memory.
//!
//! # Mapped, or read into a buffer
//!
//! A unit of a large row group maps its file, as the footer pass does. A
//! small one (the lakes laid out by category and day hold thousands of
//! files of a few KiB) reads just its column chunks with positional reads
//! into a buffer its thread keeps. Mapping and unmapping take the process's
//! memory-map lock for writing, and each unmapping flushes the other
//! cores' TLBs. On the 24k-file benchmark lake, `munmap` and the page
//! faults of the mappings were a quarter of `compute`'s samples, against a
//! copy of a few KiB per chunk. On a lake of large files the two measured
//! the same (0.845 s read, 0.835 s mapped, medians of 12 alternations),
//! and the mapping spares the copy.

use std::cell::Cell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use crate::error::LakeError;
use crate::mmap::map_file;
use crate::plan::FilePlan;

/// Units whose column chunks come to at most this many bytes are read into
/// the thread's buffer; larger ones map their file.
const READ_AT_MOST: u64 = 1 << 20;

thread_local! {
    /// The buffer this worker thread reads small units into: grown to the
    /// largest of them, its pages faulted in once.
    static BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Brings the column chunks of `file`'s projected columns in `row_group`
/// into memory (read or mapped, see the module docs) and runs `f` on them.
/// A read buffer goes back to the thread afterwards, unless something `f`
/// returned still holds part of it.
pub(crate) fn with_unit<T>(
    file: &FilePlan,
    row_group: usize,
    f: impl FnOnce(&Arc<UnitBytes>) -> T,
) -> Result<T, LakeError> {
    let md = file.meta.metadata().row_group(row_group);
    let mut wanted: Vec<(u64, u64)> = file
        .cols
        .leaves
        .iter()
        .map(|&leaf| md.column(leaf).byte_range())
        .collect();
    let total: u64 = wanted.iter().map(|&(_, len)| len).sum();
    if total > READ_AT_MOST {
        // SAFETY: lake files are immutable while a run reads them (see `map_file`).
        let bytes = unsafe { map_file(&file.path) }?;
        return Ok(f(&Arc::new(UnitBytes::whole(bytes))));
    }
    let buf = BUFFER.take();
    let bytes = Arc::new(UnitBytes::read(&file.path, file.size, &mut wanted, buf)?);
    let out = f(&bytes);
    if let Ok(bytes) = Arc::try_unwrap(bytes) {
        BUFFER.set(bytes.into_buffer());
    }
    Ok(out)
}

/// Byte ranges of one file held in memory: the column chunks one unit
/// decodes and nothing else, or the whole file mapped. Readers ask for file
/// offsets; an offset outside the ranges held is an error (a corrupt page
/// header pointing outside its chunk), never a read of the file.
#[derive(Clone)]
pub(crate) struct UnitBytes {
    file_len: u64,
    /// `(file offset, offset in data, length)`, sorted by file offset and
    /// disjoint.
    ranges: Vec<(u64, usize, usize)>,
    data: Bytes,
}

impl UnitBytes {
    /// The whole file, mapped (or otherwise held).
    pub fn whole(bytes: Bytes) -> Self {
        let len = bytes.len();
        Self {
            file_len: len as u64,
            ranges: vec![(0, 0, len)],
            data: bytes,
        }
    }

    /// Reads the byte ranges `wanted` (`(offset, length)` in the file, any
    /// order, overlaps allowed) of the file at `path`, `file_len` bytes long,
    /// into `buf` (grown when too small, never shrunk).
    pub fn read(
        path: &Path,
        file_len: u64,
        wanted: &mut [(u64, u64)],
        buf: Vec<u8>,
    ) -> Result<Self, LakeError> {
        wanted.sort_unstable();
        let mut ranges: Vec<(u64, usize, usize)> = Vec::with_capacity(wanted.len());
        let mut total = 0usize;
        for &(start, len) in wanted.iter() {
            let end = start.saturating_add(len).min(file_len);
            let start = start.min(end);
            match ranges.last_mut() {
                // Overlapping or touching the previous range: extend it.
                Some((s, _, l)) if start <= *s + *l as u64 => {
                    let new_end = end.max(*s + *l as u64);
                    total += (new_end - (*s + *l as u64)) as usize;
                    *l = (new_end - *s) as usize;
                }
                _ => {
                    ranges.push((start, total, (end - start) as usize));
                    total += (end - start) as usize;
                }
            }
        }
        let mut buf = buf;
        if buf.len() < total {
            // Grown once per thread to its largest unit; its pages are
            // faulted in once and then reused.
            buf.resize(total.next_power_of_two(), 0);
        }
        let file = File::open(path).map_err(|e| LakeError::io(path, e))?;
        for &(start, at, len) in &ranges {
            file.read_exact_at(&mut buf[at..at + len], start)
                .map_err(|e| LakeError::io(path, e))?;
        }
        Ok(Self {
            file_len,
            ranges,
            data: Bytes::from(buf),
        })
    }

    /// The buffer back, for the next unit, when no page still borrows it.
    pub fn into_buffer(self) -> Vec<u8> {
        match self.data.try_into_mut() {
            Ok(data) => Vec::from(data),
            Err(_) => Vec::new(),
        }
    }

    /// The held bytes from file offset `start` to the end of its range.
    fn tail(&self, start: u64) -> Option<Bytes> {
        let i = self.ranges.partition_point(|&(s, _, _)| s <= start);
        let &(s, at, len) = self.ranges.get(i.checked_sub(1)?)?;
        let skip = (start - s) as usize;
        (skip <= len).then(|| self.data.slice(at + skip..at + len))
    }
}

impl Length for UnitBytes {
    fn len(&self) -> u64 {
        self.file_len
    }
}

impl ChunkReader for UnitBytes {
    type T = bytes::buf::Reader<Bytes>;

    fn get_read(&self, start: u64) -> parquet::errors::Result<Self::T> {
        self.tail(start).map(Buf::reader).ok_or_else(|| {
            ParquetError::EOF(format!(
                "offset {start} lies outside the column chunks read"
            ))
        })
    }

    fn get_bytes(&self, start: u64, length: usize) -> parquet::errors::Result<Bytes> {
        match self.tail(start) {
            Some(tail) if tail.len() >= length => Ok(tail.slice(..length)),
            _ => Err(ParquetError::EOF(format!(
                "{length} bytes at offset {start} lie outside the column chunks read"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn file_of(n: usize) -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let content: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        (dir, path, content)
    }

    #[test]
    fn reads_answer_file_offsets_within_the_ranges_held() {
        let (_dir, path, content) = file_of(10_000);
        let mut wanted = [(5_000, 1_000), (100, 200), (250, 100), (9_990, 50)];
        let unit = UnitBytes::read(&path, 10_000, &mut wanted, Vec::new()).unwrap();
        // Overlapping ranges merged; the last one clipped at the file's end.
        assert_eq!(unit.ranges.len(), 3);
        assert_eq!(unit.get_bytes(120, 230).unwrap(), &content[120..350]);
        assert_eq!(unit.get_bytes(5_500, 500).unwrap(), &content[5_500..6_000]);
        assert_eq!(unit.get_bytes(9_995, 5).unwrap(), &content[9_995..]);
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut unit.get_read(5_990).unwrap(), &mut rest).unwrap();
        assert_eq!(rest, &content[5_990..6_000]);
        // Not held: before, between and across ranges.
        assert!(unit.get_bytes(50, 10).is_err());
        assert!(unit.get_bytes(400, 1).is_err());
        assert!(unit.get_bytes(5_900, 200).is_err());
        assert!(unit.get_read(7_000).is_err());
        assert_eq!(unit.len(), 10_000);
    }

    #[test]
    fn the_buffer_comes_back_for_the_next_unit_unless_a_page_holds_it() {
        let (_dir, path, content) = file_of(4_096);
        let unit = UnitBytes::read(&path, 4_096, &mut [(0, 3_000)], Vec::new()).unwrap();
        let buf = unit.into_buffer();
        assert!(buf.len() >= 3_000);
        let ptr = buf.as_ptr();
        let unit = UnitBytes::read(&path, 4_096, &mut [(1_000, 1_000)], buf).unwrap();
        assert_eq!(unit.get_bytes(1_500, 10).unwrap(), &content[1_500..1_510]);
        let buf = unit.into_buffer();
        assert_eq!(buf.as_ptr(), ptr, "the same allocation, not a copy");
        let unit = UnitBytes::read(&path, 4_096, &mut [(0, 10)], buf).unwrap();
        let page = unit.get_bytes(0, 10).unwrap();
        // A page still held: the buffer is not handed back under it.
        assert!(unit.into_buffer().is_empty());
        assert_eq!(page, &content[..10]);
    }

    #[test]
    fn a_whole_file_answers_every_offset() {
        let (_dir, path, content) = file_of(5_000);
        // SAFETY: the test's own file, unchanged while mapped.
        let unit = UnitBytes::whole(unsafe { map_file(&path) }.unwrap());
        assert_eq!(unit.len(), 5_000);
        assert_eq!(unit.get_bytes(0, 5_000).unwrap(), &content[..]);
        assert_eq!(unit.get_bytes(4_990, 10).unwrap(), &content[4_990..]);
        assert!(unit.get_bytes(4_990, 11).is_err());
        let mut rest = Vec::new();
        std::io::Read::read_to_end(&mut unit.get_read(4_000).unwrap(), &mut rest).unwrap();
        assert_eq!(rest, &content[4_000..]);
    }
}
