//! The read path of `topsellers serve` (SPEC section 6): a (variant,
//! category) is looked up in a small in-process cache, then Redis, then
//! the results store (DynamoDB or MySQL, any `ResultStore`), whose answer is
//! written back to Redis, with concurrent misses of one key coalesced into
//! one store read per process.
//!
//! - [`ReadPath`]: the lookups, single flight and readiness probes;
//! - [`Entry`]: a published body as served, with `limit` applied;
//! - [`ReadMetrics`]: hits and misses per layer, reads, coalesced waits,
//!   Redis errors, all atomics.
//!
//! Failure behaviour: Redis down (or slow past its timeout) → answers come
//! from DynamoDB, and Redis is skipped for a back-off after each failure;
//! DynamoDB down → what Redis or the local cache hold is still served; both
//! down → [`ReadPath::lookup`] fails. Request text reaches Redis and
//! DynamoDB only as a key value.
//!
//! ```no_run
//! # async fn f() -> Result<(), topsellers_store::StoreError> {
//! use topsellers_serve::{Cached, ReadPath, ReadPathOptions};
//!
//! let store = std::sync::Arc::new(
//!     topsellers_store::DynamoStore::for_reads("topsellers", std::time::Duration::from_secs(1)).await,
//! );
//! let reads = ReadPath::over(store, &ReadPathOptions::new("redis://127.0.0.1:6379"))?;
//! if let Cached::Found(entry) = reads.lookup("default", "toys").await? {
//!     println!("{}", String::from_utf8_lossy(&entry.body_with(Some(10))));
//! }
//! # Ok(()) }
//! ```

mod entry;
mod expiring;
mod flight;
mod local;
mod metrics;
mod readpath;
mod redis_cache;

use std::time::Duration;

pub use entry::Entry;
pub use local::Cached;
pub use metrics::ReadMetrics;
pub use readpath::{ReadPath, Readiness};

/// How the read path uses its caches and how long it waits on Redis (the
/// results store comes built, with its own timeouts: [`ReadPath::over`]).
#[derive(Debug, Clone)]
pub struct ReadPathOptions {
    /// `redis://HOST:PORT`.
    pub redis_url: String,
    /// Longest wait for one Redis call.
    pub redis_timeout: Duration,
    /// How long Redis is skipped after a failed call.
    pub redis_backoff: Duration,
    /// Longest TTL of the keys written back to Redis.
    pub redis_ttl: Duration,
    /// Written-back TTLs are drawn from `[ttl·(1 − jitter), ttl]`.
    pub redis_ttl_jitter: f64,
    /// TTL of the in-process cache (zero disables it).
    pub local_ttl: Duration,
    /// How long an unknown key is remembered in-process (zero: not at all).
    pub negative_ttl: Duration,
    /// Entries the in-process cache holds at most, and apart from them,
    /// unknown keys at most (a full cache drops its oldest keys).
    pub local_capacity: usize,
}

impl ReadPathOptions {
    /// The defaults for the Redis at `redis_url`.
    pub fn new(redis_url: &str) -> Self {
        Self {
            redis_url: redis_url.to_string(),
            redis_timeout: Duration::from_millis(250),
            redis_backoff: Duration::from_secs(1),
            redis_ttl: Duration::from_secs(24 * 3600),
            redis_ttl_jitter: 0.1,
            local_ttl: Duration::from_secs(2),
            negative_ttl: Duration::from_secs(1),
            local_capacity: 100_000,
        }
    }
}
