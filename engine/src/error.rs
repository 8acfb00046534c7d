//! The engine's error type.

use thiserror::Error;

/// Everything that can go wrong inside the engine: only invalid parameters,
/// since the engine never does I/O.
#[derive(Debug, Error, PartialEq)]
#[non_exhaustive]
pub enum EngineError {
    /// A scoring parameter is outside its domain.
    #[error("invalid parameter {name}: {reason}")]
    InvalidParameter {
        /// The parameter's name as the user knows it (e.g. `--top`).
        name: &'static str,
        /// What is wrong with the value.
        reason: String,
    },
    /// Two variants share one name.
    #[error("variant name {0:?} is used twice")]
    DuplicateVariant(String),
}
