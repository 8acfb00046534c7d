//! Counters of the read path, kept in atomics so that counting costs no
//! lock on the hot path. `serve` prints them in the Prometheus format.

use std::sync::atomic::{AtomicU64, Ordering};

/// The read path's counters (all monotonic).
#[derive(Debug, Default)]
pub struct ReadMetrics {
    /// Answered from the in-process cache (entries and absences).
    pub local_hits: AtomicU64,
    /// Not in the in-process cache.
    pub local_misses: AtomicU64,
    /// Answered from Redis.
    pub redis_hits: AtomicU64,
    /// Asked Redis, which did not have the key.
    pub redis_misses: AtomicU64,
    /// Redis calls that failed or timed out (or returned a body that is not
    /// the key's), and calls skipped while Redis is backed off.
    pub redis_errors: AtomicU64,
    /// Calls not sent to Redis because it failed moments ago.
    pub redis_skipped: AtomicU64,
    /// Redis keys written back after a DynamoDB read.
    pub redis_writes: AtomicU64,
    /// Write-backs not made because Redis held a newer run's body (a
    /// publish warmed the key while the read was under way).
    pub redis_fills_refused: AtomicU64,
    /// DynamoDB GetItem calls made.
    pub dynamo_reads: AtomicU64,
    /// GetItem calls that found the item.
    pub dynamo_hits: AtomicU64,
    /// GetItem calls that found nothing.
    pub dynamo_misses: AtomicU64,
    /// GetItem calls that failed or timed out.
    pub dynamo_errors: AtomicU64,
    /// Requests that waited on another request's DynamoDB read of the same
    /// key instead of making their own.
    pub coalesced_waits: AtomicU64,
}

impl ReadMetrics {
    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Every counter with its Prometheus name and help text.
    pub fn counters(&self) -> [(&'static str, &'static str, u64); 13] {
        let v = |c: &AtomicU64| c.load(Ordering::Relaxed);
        [
            (
                "topsellers_serve_cache_hits_total{layer=\"local\"}",
                "Lookups answered by a cache layer.",
                v(&self.local_hits),
            ),
            (
                "topsellers_serve_cache_hits_total{layer=\"redis\"}",
                "",
                v(&self.redis_hits),
            ),
            (
                "topsellers_serve_cache_hits_total{layer=\"dynamodb\"}",
                "",
                v(&self.dynamo_hits),
            ),
            (
                "topsellers_serve_cache_misses_total{layer=\"local\"}",
                "Lookups a cache layer could not answer.",
                v(&self.local_misses),
            ),
            (
                "topsellers_serve_cache_misses_total{layer=\"redis\"}",
                "",
                v(&self.redis_misses),
            ),
            (
                "topsellers_serve_cache_misses_total{layer=\"dynamodb\"}",
                "",
                v(&self.dynamo_misses),
            ),
            (
                "topsellers_serve_dynamodb_reads_total",
                "DynamoDB GetItem calls.",
                v(&self.dynamo_reads),
            ),
            (
                "topsellers_serve_dynamodb_errors_total",
                "DynamoDB GetItem calls that failed or timed out.",
                v(&self.dynamo_errors),
            ),
            (
                "topsellers_serve_coalesced_waits_total",
                "Requests that waited on another request's DynamoDB read of the same key.",
                v(&self.coalesced_waits),
            ),
            (
                "topsellers_serve_redis_errors_total",
                "Redis calls that failed or timed out.",
                v(&self.redis_errors),
            ),
            (
                "topsellers_serve_redis_skipped_total",
                "Redis calls skipped during the back-off after a failure.",
                v(&self.redis_skipped),
            ),
            (
                "topsellers_serve_redis_writes_total",
                "Redis keys repopulated after a DynamoDB read.",
                v(&self.redis_writes),
            ),
            (
                "topsellers_serve_redis_fills_refused_total",
                "Redis write-backs not made because Redis held a newer run.",
                v(&self.redis_fills_refused),
            ),
        ]
    }
}
