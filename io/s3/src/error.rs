//! The S3 crate's error type: every variant names the location or object
//! at fault.

use std::path::PathBuf;

use thiserror::Error;
use topsellers_lake::LakeError;

/// Errors syncing a lake from S3 or uploading to it.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum S3Error {
    /// A file or folder could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path at fault.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
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
    #[error("{object}: upload failed: {}; {cleanup}", cause_text(.object, .cause))]
    Upload {
        /// The object whose upload failed (`s3://bucket/key`).
        object: String,
        /// Why.
        cause: Box<S3Error>,
        /// What the cleanup did.
        cleanup: String,
    },
    /// Reading or writing the local side (lake layout, manifest file).
    #[error(transparent)]
    Lake(#[from] LakeError),
}

impl S3Error {
    /// An [`S3Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// `cause` as text, without the leading `object: ` it usually starts with
/// (for [`S3Error::Upload`]'s message, which names the object once).
pub(crate) fn cause_text(object: &str, cause: &S3Error) -> String {
    let text = cause.to_string();
    match text.strip_prefix(object).and_then(|t| t.strip_prefix(": ")) {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_name_the_object_once() {
        let cause = S3Error::S3 {
            location: "s3://b/k".into(),
            message: "UploadPart 2: timeout".into(),
        };
        assert_eq!(cause_text("s3://b/k", &cause), "UploadPart 2: timeout");
        assert_eq!(
            cause_text("s3://b/x", &cause),
            "s3://b/k: UploadPart 2: timeout"
        );
    }
}
