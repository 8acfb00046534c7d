//! A work unit's column chunks, read into one buffer.
//!
//! # Why not the mapping
//!
//! `compute` first mapped each file again for every unit and unmapped it
//! after. Mapping and unmapping take the process's memory-map lock for
//! writing, and unmapping a populated range holds it while the page table
//! entries are torn down and the other core's TLB is flushed. On two
//! threads, 31% of the workers' sleeps were waits for that lock (perf
//! `sched:sched_switch`), and the scan kept only ~1.4 cores busy. A unit now
//! reads just its column chunks with positional reads into a buffer its
//! thread keeps: no lock shared between the threads, no page faults, and
//! one copy from the page cache (a few percent of the decompression it
//! feeds). The footer pass ([`crate::plan`]) still maps the files.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use bytes::{Buf, Bytes};
use parquet::errors::ParquetError;
use parquet::file::reader::{ChunkReader, Length};

use crate::error::LakeError;

/// Byte ranges of one file held in memory: the column chunks one unit
/// decodes, and nothing else. Readers ask for file offsets; an offset
/// outside the ranges held is an error (a corrupt page header pointing
/// outside its chunk), never a read of the file.
#[derive(Clone)]
pub(crate) struct UnitBytes {
    file_len: u64,
    /// `(file offset, offset in data, length)`, sorted by file offset and
    /// disjoint.
    ranges: Vec<(u64, usize, usize)>,
    data: Bytes,
}

impl UnitBytes {
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
}
