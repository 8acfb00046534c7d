//! The io crate's error type: every variant names the file, row group,
//! column or value at fault.

use std::path::PathBuf;

use thiserror::Error;

/// Errors reading a lake or writing results.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IoError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The lake holds no data file.
    #[error("{root}: the lake holds no Parquet data files (expected <root>/category=<value>/…/<name>.parquet)")]
    EmptyLake {
        /// The lake root.
        root: PathBuf,
    },
    /// A partition folder's value cannot be decoded or parsed.
    #[error("{path}: bad partition value {value:?}: {reason}")]
    BadPartition {
        /// The folder.
        path: PathBuf,
        /// The raw value.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// A file is not readable as Parquet (truncated, corrupt, or another format).
    #[error("{path}: not a readable Parquet file: {source}")]
    NotParquet {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint.
        source: parquet::errors::ParquetError,
    },
    /// Decoding a row group failed.
    #[error("{path}: row group {row_group}: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The row group.
        row_group: usize,
        /// The decoder's complaint.
        message: String,
    },
    /// An unsigned 64-bit integer above `i64::MAX`: ids and quantities are
    /// held as `i64`, and clamping it would merge distinct items.
    #[error(
        "{path}: row group {row_group}: column {column:?} holds {value}, above i64::MAX ({max}), \
         the largest id or quantity supported; the file is refused rather than merged with other ids",
        max = i64::MAX
    )]
    IntegerTooLarge {
        /// The file.
        path: PathBuf,
        /// The row group.
        row_group: usize,
        /// The column (as configured).
        column: String,
        /// The first value out of range.
        value: u64,
    },
    /// A required column is missing.
    #[error("{path}: no column named {column:?} (columns: {available})")]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The configured column name.
        column: String,
        /// The columns the file has.
        available: String,
    },
    /// A column has a type the engine cannot use.
    #[error("{path}: column {column:?} has type {found}, expected {expected}")]
    ColumnType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The type found.
        found: String,
        /// The types accepted.
        expected: &'static str,
    },
    /// Files of one lake disagree on the item id type.
    #[error(
        "{path}: item ids are {found} here but {expected} in {first}; a lake must use one id type"
    )]
    MixedItemTypes {
        /// The file that disagrees.
        path: PathBuf,
        /// Its id type.
        found: &'static str,
        /// The first file's id type.
        expected: &'static str,
        /// The first file.
        first: PathBuf,
    },
    /// Writing an output file failed.
    #[error("{path}: cannot write output: {message}")]
    Output {
        /// The output path.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An `s3://` location is malformed.
    #[error("{location}: {reason}")]
    BadLocation {
        /// The location as given.
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// An S3 request failed.
    #[error("{location}: {message}")]
    S3 {
        /// Bucket and prefix (or object).
        location: String,
        /// The failure, with the service's context.
        message: String,
    },
    /// A conditional write was refused: the object exists, and is never
    /// overwritten.
    #[error(
        "{object}: the object already exists; it was left as it is (objects are never overwritten)"
    )]
    ObjectExists {
        /// The object (`s3://bucket/key`).
        object: String,
    },
    /// A signal (SIGINT, SIGTERM) stopped the work before this point.
    #[error("interrupted by SIGINT or SIGTERM before it was uploaded")]
    Interrupted,
    /// Uploading a run's files to S3 failed; the objects it had created were
    /// deleted (best effort, `cleanup` says what is left).
    #[error("{object}: upload failed: {}; {cleanup}", crate::s3::upload::cause_text(.object, .cause))]
    Upload {
        /// The object whose upload failed (`s3://bucket/key`).
        object: String,
        /// Why.
        cause: Box<IoError>,
        /// What the cleanup did.
        cleanup: String,
    },
    /// The output path's extension names no known format.
    #[error("{path}: unknown output format (use .csv, .json or .parquet)")]
    OutputFormat {
        /// The output path.
        path: PathBuf,
    },
    /// An ingest input cannot be read or decompressed.
    #[error("{source_name}: line {line}: {message}")]
    Input {
        /// The input (`-` for standard input).
        source_name: String,
        /// The line being read when it failed (1-based).
        line: u64,
        /// What went wrong.
        message: String,
    },
    /// An ingest run found more bad lines than allowed and added nothing.
    #[error(
        "{} of {} non-blank lines were bad ({:.3}%), over --max-bad-fraction {}; nothing was added to the lake{}",
        .report.bad_lines,
        .report.lines - .report.blank_lines,
        .report.bad_fraction * 100.0,
        .report.max_bad_fraction,
        .report.quarantine.as_ref().map(|q| format!(" (bad lines are in {q})")).unwrap_or_default()
    )]
    TooManyBad {
        /// The run's report (status `failed`).
        report: Box<crate::ingest::IngestReport>,
    },
    /// The item id type asked for differs from the lake's.
    #[error("{path}: the lake's item ids are {lake} but --id-type is {wanted}; a lake must use one id type")]
    IdTypeConflict {
        /// A lake file.
        path: PathBuf,
        /// The lake's id type.
        lake: &'static str,
        /// The id type asked for.
        wanted: &'static str,
    },
    /// A results file (read back by `publish`) is malformed.
    #[error("{path}: {location}: {message}")]
    BadResults {
        /// The results file.
        path: PathBuf,
        /// Line, row or field at fault.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A DynamoDB request failed (after its retries).
    #[error("DynamoDB table {table}: {message}")]
    Dynamo {
        /// The table.
        table: String,
        /// The failure, with the service's context.
        message: String,
    },
    /// The DynamoDB table does not exist.
    #[error("DynamoDB table {table} does not exist: create it, or pass --create-table (create_table = true) to have publish create it")]
    MissingTable {
        /// The table.
        table: String,
    },
    /// One (variant, category) would not fit in a DynamoDB item.
    #[error("variant {variant:?}, category {category:?}: its {items} items make a DynamoDB item of about {bytes} bytes, over the 400 KB limit; publish fewer items (--top)")]
    ItemTooLarge {
        /// Variant.
        variant: String,
        /// Category.
        category: String,
        /// Ranked items.
        items: usize,
        /// Estimated item size.
        bytes: usize,
    },
    /// A Redis request failed.
    #[error("Redis {url}: {message}")]
    Redis {
        /// The server (credentials removed).
        url: String,
        /// What went wrong.
        message: String,
    },
    /// Another process holds the run lock.
    #[error(
        "{path}: another run holds the lock ({holder}); only one run at a time, so this one exits"
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// What the holder wrote into it (pid, start time), if anything.
        holder: String,
    },
}

impl IoError {
    /// An [`IoError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
