//! `topsellers-lake`: the lake on local disk, and everything computed from
//! it that is a file. No async runtime, cloud SDK or cache client is in
//! this crate's dependency tree (`scripts/check/layers.py` checks it).
//!
//! - [`discover`]: Hive-style lake layout (`category=<c>/[dt=<d>/]…`);
//! - [`scan_lake`]: partition and row-group pruning, Parquet decoding from
//!   mapped (or, for small row groups, read) files, and the parallel
//!   aggregation through `topsellers-engine`;
//! - [`write_results`]: CSV / JSON / Parquet results, written atomically;
//!   [`read_results`]: a results file read back, for `publish`;
//! - [`RunReport`]: the JSON run report and Prometheus metrics;
//! - [`gen`]: the synthetic lake generator;
//! - [`read_floor`]: the decompression floor of a scan (the benchmarks'
//!   lower bound: its pages read and decompressed, not decoded);
//! - [`incremental`]: the persistent state of incremental runs, moved
//!   forward by reading only new and expired purchases;
//! - [`RunLock`]: one `run` at a time.
//!
//! ```no_run
//! use std::path::Path;
//! use topsellers_engine::{ScoringPlan, Variant};
//! use topsellers_lake::{scan_lake, write_results, RunResults, ScanOptions};
//!
//! const DAY: i64 = 86_400_000_000_000;
//! let plan = ScoringPlan::new(
//!     20_376 * DAY,
//!     vec![Variant::from_half_life("default", 7.0 * 86_400.0)?],
//!     30 * DAY, 365 * DAY, None, 100,
//! )?;
//! let out = scan_lake(Path::new("lake"), &ScanOptions::default(), &plan, &|_rows| {})?;
//! write_results(Path::new("top.csv"), &RunResults { plan: &plan, outcomes: &out.outcomes })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chunks;
mod columns;
mod contain;
mod decode;
mod discover;
mod error;
mod floor;
pub mod gen;
pub mod incremental;
mod lock;
mod makespan;
mod mmap;
mod output;
mod pages;
mod plan;
mod report;
mod scan;
mod timefmt;

pub use columns::{ColumnNames, ItemKind};
pub use discover::{discover, dt_range_ns, LakeFile, Symlinks};
pub use error::LakeError;
pub use floor::{read_floor, FloorStats};
pub use lock::RunLock;
pub use makespan::{Prediction, UnitTimes, MODEL_THREADS};
pub use mmap::map_file;
pub use output::{
    read_results, remove_temps_of, write_atomically, write_results, Format, ResultGroup, ResultRow,
    ResultSet, RunResults, VariantTotals,
};
pub use report::{peak_rss_bytes, previous_sample, RunReport};
pub use scan::{scan_files, scan_lake, ScanOptions, ScanOutput, ScanStats};
pub use timefmt::{parse_rfc3339, rfc3339};
