//! `topsellers-store`: where published results live and how they are read.
//!
//! - [`dynamo`]: publishing results to DynamoDB (conditional, batched), the
//!   audit of a run against the live manifests, dry-run diffs;
//! - [`cache`]: the read API's bodies warmed into Redis.

pub mod cache;
pub mod dynamo;
mod error;

pub use error::StoreError;
