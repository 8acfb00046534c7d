//! The ingest crate's error type: every variant names the input, line or
//! file at fault.

use std::path::PathBuf;

use thiserror::Error;
use topsellers_lake::LakeError;
use topsellers_s3::S3Error;

/// Errors ingesting purchase events into a lake.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IngestError {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Writing an output file failed.
    #[error("{path}: cannot write output: {message}")]
    Output {
        /// The output path.
        path: PathBuf,
        /// What went wrong.
        message: String,
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
        report: Box<crate::IngestReport>,
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
    /// Reading the lake's existing files.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// Uploading to (or reading from) a lake in S3.
    #[error(transparent)]
    S3(#[from] S3Error),
}

impl IngestError {
    /// An [`IngestError::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
