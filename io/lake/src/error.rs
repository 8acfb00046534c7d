//! The lake crate's error type: every variant names the file, row group,
//! column or value at fault.

use std::path::PathBuf;

use thiserror::Error;

/// Errors reading or writing a lake, results, reports or state.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum LakeError {
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
    #[error("{path}: {}", parquet_complaint(error))]
    NotParquet {
        /// The file.
        path: PathBuf,
        /// The decoder's complaint, said in [`parquet_complaint`]'s words
        /// (not a `source`: the message already holds it).
        error: parquet::errors::ParquetError,
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
    /// The output path's extension names no known format.
    #[error("{path}: unknown output format (use .csv, .json or .parquet)")]
    OutputFormat {
        /// The output path.
        path: PathBuf,
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

impl LakeError {
    /// An [`LakeError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// What a Parquet decoder's error means to the person who gave the file.
/// The decoder says "Parquet error: Invalid Parquet file. Corrupt footer"
/// for any file that does not end with Parquet's `PAR1` marker, which is
/// most often not Parquet at all (a CSV or JSON file named `.parquet`) or
/// a file cut short.
fn parquet_complaint(error: &parquet::errors::ParquetError) -> String {
    use parquet::errors::ParquetError;
    match error {
        ParquetError::General(m) if m.contains("Corrupt footer") => {
            "not a Parquet file: it does not end with Parquet's footer marker PAR1 \
             (another format, or a file cut short)"
                .to_string()
        }
        ParquetError::General(m) | ParquetError::EOF(m) => {
            format!("not a readable Parquet file: {m}")
        }
        other => format!("not a readable Parquet file: {other}"),
    }
}
