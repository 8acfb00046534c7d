//! `topsellers-io`: everything that touches files for the topsellers engine.
//!
//! - [`discover`]: Hive-style lake layout (`category=<c>/[dt=<d>/]…`);
//! - [`scan_lake`]: partition and row-group pruning, memory-mapped Parquet
//!   decoding, and the parallel aggregation through `topsellers-engine`;
//! - [`write_results`]: CSV / JSON / Parquet results, written atomically;
//! - [`RunReport`]: the JSON run report and Prometheus metrics;
//! - [`gen`]: the synthetic lake generator;
//! - [`incremental`]: the persistent state of incremental runs, moved
//!   forward by reading only new and expired purchases;
//! - [`ingest`]: newline-delimited JSON purchase events into the lake;
//! - [`s3`]: the S3 lake and its incremental `sync` to local disk;
//! - [`read_results`]: a results file read back, for `publish`;
//! - [`dynamo`]: publishing results to DynamoDB (conditional, batched), the
//!   audit of a run against the live manifests, dry-run diffs;
//! - [`cache`]: the read API's bodies warmed into Redis;
//! - [`serve`]: the read API's read path (local cache → Redis → DynamoDB,
//!   single flight);
//! - [`RunLock`]: one `run` at a time.
//!
//! ```no_run
//! use std::path::Path;
//! use topsellers_engine::{ScoringPlan, Variant};
//! use topsellers_io::{scan_lake, write_results, RunResults, ScanOptions};
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

pub mod cache;
mod columns;
mod decode;
mod discover;
pub mod dynamo;
mod error;
pub mod gen;
pub mod incremental;
pub mod ingest;
mod job_report;
mod lock;
mod mmap;
mod output;
mod plan;
mod report;
pub mod s3;
mod scan;
pub mod serve;
mod timefmt;

pub use columns::{ColumnNames, ItemKind};
pub use discover::{discover, LakeFile};
pub use error::IoError;
pub use job_report::{previous_sample, CacheOutcome, JobReport, Stage, Validation};
pub use lock::RunLock;
pub use mmap::map_file;
pub use output::{
    read_results, write_atomically, write_results, Format, ResultGroup, ResultRow, ResultSet,
    RunResults, VariantTotals,
};
pub use report::{peak_rss_bytes, RunReport};
pub use scan::{scan_files, scan_lake, ScanOptions, ScanOutput, ScanStats};
pub use timefmt::{parse_rfc3339, rfc3339};
