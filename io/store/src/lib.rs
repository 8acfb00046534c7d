//! `topsellers-store`: where published results live and how they are read.
//!
//! - [`ResultStore`]: what the jobs and the read API need from a results
//!   store (live manifests, stored groups, publish under the generation
//!   rule, the read API's get), whatever holds them;
//! - [`validate`]: the audit of a run against the live manifests;
//! - [`compare`]: a run against what a store holds (dry-run diffs, moves);
//! - [`dynamo`]: DynamoDB, the first [`ResultStore`] ([`DynamoStore`]):
//!   conditional, batched publishing, the audit of a run against the live
//!   manifests, dry-run diffs;
//! - [`leavers`]: the categories that leave a variant's results, deleted
//!   after the manifest under the generation rule;
//! - [`lease`]: the run lease that lets one host at a time publish, with
//!   the fencing token the commit point checks;
//! - [`cache`]: the read API's bodies, warmed into Redis after a publish
//!   and written back by the read path, never over a newer generation.

pub mod cache;
pub mod compare;
pub mod dynamo;
mod error;
pub mod lease;
pub mod leavers;
mod model;
mod store;
mod validate;

pub use dynamo::DynamoStore;
pub use error::StoreError;
pub use lease::{Lease, LeaseView};
pub use model::{
    group_key, Catalog, CatalogCategory, CategoryChange, Manifest, Move, PublishReport, Stored,
    StoredGroup, VariantDiff, VariantPublish,
};
pub use store::ResultStore;
pub use validate::{validate, Refusal, Thresholds};
