//! The experiments crate's error type.

use thiserror::Error;
use topsellers_lake::LakeError;

/// Errors of a backtest or an explanation.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// Reading the lake failed.
    #[error(transparent)]
    Lake(#[from] LakeError),
    /// The category has no file in the lake.
    #[error(
        "category {category:?} is not in the lake {lake} ({known} categories there{examples})"
    )]
    UnknownCategory {
        /// The category asked for.
        category: String,
        /// The lake.
        lake: String,
        /// How many categories the lake holds.
        known: usize,
        /// A few of them, for the message.
        examples: String,
    },
    /// The item has no counted purchase in the category's window.
    #[error("item {item} has no counted purchase in category {category:?} within its {window} window before {as_of}{hint}")]
    UnknownItem {
        /// The item asked for.
        item: String,
        /// The category.
        category: String,
        /// The category's window, in words.
        window: String,
        /// The reference time (RFC 3339).
        as_of: String,
        /// What is known about the item otherwise.
        hint: String,
    },
    /// The category has no counted purchase within the largest window.
    #[error("category {category:?} has no counted purchase within {window} before {as_of}: it has no top list")]
    EmptyCategory {
        /// The category.
        category: String,
        /// The largest window, in words.
        window: String,
        /// The reference time (RFC 3339).
        as_of: String,
    },
    /// A parameter is out of range (the caller's usage error).
    #[error("{name}: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Writing an output failed.
    #[error("{path}: {message}")]
    Output {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}
