//! Per-(category, day) buffers, and when to turn them into files.
//!
//! # Memory bound
//!
//! A partition is flushed to a file as soon as it holds `row_group_rows`
//! rows (or 512 MiB of string ids), and whenever all partitions together
//! hold more than `max_buffered_rows`, the largest are flushed until at most
//! half that remains. So at most `max_buffered_rows` rows, plus one batch of
//! chunks, are ever buffered, whatever the input size.

use std::path::PathBuf;

use hashbrown::HashMap;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::batch::Group;
use super::rows::Rows;
use super::time::day_name;
use crate::error::IngestError;

/// Bytes escaped in a `category=` folder value: all but `[A-Za-z0-9._-]`.
/// `discover` decodes `%XX` escapes, so every category reads back exactly.
const CATEGORY_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'.').remove(b'_').remove(b'-');

/// String id bytes that make a partition flush, far below Arrow's i32
/// offset limit.
const MAX_ID_BYTES_PER_FILE: usize = 512 << 20;

/// The folder of a partition, relative to the lake:
/// `category=<escaped>/dt=<YYYY-MM-DD>`.
pub(crate) fn partition_dir(category: &str, day: i32) -> PathBuf {
    let escaped = utf8_percent_encode(category, CATEGORY_ESCAPES).to_string();
    PathBuf::from(format!("category={escaped}")).join(format!("dt={}", day_name(day)))
}

/// Rows of one partition, ready to be written as one file.
#[derive(Debug)]
pub(crate) struct FlushJob {
    /// Folder relative to the lake.
    pub(crate) dir: PathBuf,
    /// Sequence number of the file in this run (for its name).
    pub(crate) seq: u64,
    pub(crate) rows: Rows,
}

/// The buffers of every partition that holds rows.
pub(crate) struct Partitions {
    categories: HashMap<String, u32>,
    names: Vec<String>,
    open: HashMap<(u32, i32), Rows>,
    buffered: usize,
    row_group_rows: usize,
    max_buffered_rows: usize,
    next_seq: u64,
}

impl Partitions {
    /// Empty buffers with the given limits (see the module docs).
    pub(crate) fn new(row_group_rows: usize, max_buffered_rows: usize) -> Self {
        Self {
            categories: HashMap::new(),
            names: Vec::new(),
            open: HashMap::new(),
            buffered: 0,
            row_group_rows: row_group_rows.max(1),
            max_buffered_rows: max_buffered_rows.max(1),
            next_seq: 0,
        }
    }

    /// Rows buffered now.
    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    fn job(&mut self, key: (u32, i32), rows: Rows) -> FlushJob {
        self.buffered -= rows.len();
        self.next_seq += 1;
        FlushJob {
            dir: partition_dir(&self.names[key.0 as usize], key.1),
            seq: self.next_seq,
            rows,
        }
    }

    /// Adds a chunk's group; returns the partition as a job when it is full.
    /// Fails only if the group's id type differs from the partition's, which
    /// the parser rules out.
    pub(crate) fn add(&mut self, group: Group) -> Result<Option<FlushJob>, IngestError> {
        let next = self.names.len() as u32;
        let cat = *self
            .categories
            .entry_ref(group.category.as_str())
            .or_insert(next);
        if cat == next {
            self.names.push(group.category);
        }
        let key = (cat, group.day);
        let added = group.rows.len();
        let full = match self.open.entry(key) {
            hashbrown::hash_map::Entry::Vacant(v) => {
                let rows = v.insert(group.rows);
                rows.len() >= self.row_group_rows || rows.id_bytes() >= MAX_ID_BYTES_PER_FILE
            }
            hashbrown::hash_map::Entry::Occupied(o) => {
                let rows = o.into_mut();
                if !rows.append(&group.rows) {
                    return Err(IngestError::Output {
                        path: partition_dir(&self.names[cat as usize], key.1),
                        message: "internal error: item id types differ within a run".into(),
                    });
                }
                rows.len() >= self.row_group_rows || rows.id_bytes() >= MAX_ID_BYTES_PER_FILE
            }
        };
        self.buffered += added;
        if full {
            if let Some(rows) = self.open.remove(&key) {
                return Ok(Some(self.job(key, rows)));
            }
        }
        Ok(None)
    }

    /// When more than the cap is buffered, the largest partitions as jobs,
    /// until at most half the cap remains.
    pub(crate) fn relieve(&mut self) -> Vec<FlushJob> {
        if self.buffered <= self.max_buffered_rows {
            return Vec::new();
        }
        let mut sizes: Vec<((u32, i32), usize)> =
            self.open.iter().map(|(k, r)| (*k, r.len())).collect();
        sizes.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let target = self.max_buffered_rows / 2;
        let mut jobs = Vec::new();
        for (key, _) in sizes {
            if self.buffered <= target {
                break;
            }
            if let Some(rows) = self.open.remove(&key) {
                jobs.push(self.job(key, rows));
            }
        }
        jobs
    }

    /// Every partition still buffered, as jobs in (category, day) order.
    pub(crate) fn drain(&mut self) -> Vec<FlushJob> {
        let mut keys: Vec<(u32, i32)> = self.open.keys().copied().collect();
        keys.sort_unstable_by(|a, b| {
            self.names[a.0 as usize]
                .cmp(&self.names[b.0 as usize])
                .then(a.1.cmp(&b.1))
        });
        let mut jobs = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(rows) = self.open.remove(&key) {
                jobs.push(self.job(key, rows));
            }
        }
        jobs
    }
}

/// Writes `rows` as one Parquet file of a single row group, with page
/// statistics and the page index (parquet's defaults), to `path`; returns
/// its size. The caller makes it durable (see `staging`).
pub(crate) fn write_file(
    path: &std::path::Path,
    rows: Rows,
    zstd_level: i32,
) -> Result<u64, IngestError> {
    let fail = |message: String| IngestError::Output {
        path: path.to_path_buf(),
        message,
    };
    let n = rows.len();
    let batch = rows.into_batch().map_err(|e| fail(e.to_string()))?;
    let level = ZstdLevel::try_new(zstd_level).map_err(|e| fail(e.to_string()))?;
    // Item ids: dictionary and zstd. Times: delta-encoded (an export is in
    // time order) and left uncompressed; quantities: dictionary/RLE,
    // uncompressed. zstd gains little on those two (under 5% of the bytes)
    // and each zstd column costs a compression context per file, which
    // dominates for the many small files of a day-partitioned lake.
    let ts = ColumnPath::from("ts");
    let quantity = ColumnPath::from("quantity");
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(n.max(1)))
        .set_column_dictionary_enabled(ts.clone(), false)
        .set_column_encoding(ts.clone(), Encoding::DELTA_BINARY_PACKED)
        .set_column_compression(ts, Compression::UNCOMPRESSED)
        .set_column_compression(quantity, Compression::UNCOMPRESSED)
        .build();
    let file = std::fs::File::create(path).map_err(|e| IngestError::io(path, e))?;
    let mut writer =
        ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(|e| fail(e.to_string()))?;
    writer.write(&batch).map_err(|e| fail(e.to_string()))?;
    // Writes the footer and flushes the writer's buffer to the file.
    writer.finish().map_err(|e| fail(e.to_string()))?;
    let size = writer.bytes_written() as u64;
    #[cfg(not(target_os = "linux"))]
    writer
        .inner()
        .sync_all()
        .map_err(|e| IngestError::io(path, e))?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rows::ItemRef;
    use topsellers_lake::ItemKind;

    fn group(cat: &str, day: i32, n: usize) -> Group {
        let mut rows = Rows::new(ItemKind::Int);
        for i in 0..n {
            rows.push(
                ItemRef::Int(i as i64),
                i64::from(day) * 86_400_000_000,
                None,
            );
        }
        Group {
            category: cat.into(),
            day,
            rows,
        }
    }

    #[test]
    fn escapes_category_folders_so_discover_reads_them_back() {
        let dir = partition_dir("toys/games 50%é", 20_741);
        assert_eq!(
            dir,
            PathBuf::from("category=toys%2Fgames%2050%25%C3%A9/dt=2026-10-15")
        );
        assert_eq!(
            partition_dir("a.b_c-D9", 0),
            PathBuf::from("category=a.b_c-D9/dt=1970-01-01")
        );
    }

    #[test]
    fn flushes_full_partitions_and_relieves_the_largest() {
        let mut p = Partitions::new(10, 12);
        assert!(p.add(group("a", 1, 6)).unwrap().is_none());
        let full = p.add(group("a", 1, 5)).unwrap().expect("11 rows ≥ 10");
        assert_eq!((full.rows.len(), full.seq), (11, 1));
        assert_eq!(p.buffered(), 0);
        for (c, n) in [("b", 5), ("c", 3), ("d", 4), ("e", 1)] {
            assert!(p.add(group(c, 2, n)).unwrap().is_none());
        }
        assert_eq!(p.buffered(), 13);
        let jobs = p.relieve();
        let dirs: Vec<String> = jobs.iter().map(|j| j.dir.display().to_string()).collect();
        assert_eq!(
            dirs,
            ["category=b/dt=1970-01-03", "category=d/dt=1970-01-03"]
        );
        assert_eq!(p.buffered(), 4);
        assert!(p.relieve().is_empty());
        let rest: Vec<usize> = p.drain().iter().map(|j| j.rows.len()).collect();
        assert_eq!(rest, [3, 1]);
        assert_eq!(p.buffered(), 0);
    }
}
