//! Redis, the cache in front of DynamoDB (SPEC section 5): one key per
//! (variant, category) holding exactly the read API's JSON body, with a
//! jittered TTL, written in pipelines right after DynamoDB accepted a run,
//! never over the body of a newer run ([`guarded`]); the keys of
//! categories that left the results get a tombstone ([`leavers`]).

mod body;
pub mod guarded;
pub mod leavers;
mod warm;

use std::time::Duration;

use rand::Rng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;

pub use body::{api_body, cache_key};
pub use leavers::{is_tombstone, mark_leavers, tombstone};
pub use warm::warm;

use crate::error::StoreError;
use topsellers_lake::ResultSet;

/// How to warm the cache.
#[derive(Debug, Clone)]
pub struct WarmOptions {
    /// `redis://[:password@]host:port[/db]`.
    pub url: String,
    /// The longest TTL.
    pub ttl: Duration,
    /// Each key's TTL is drawn uniformly from `[ttl·(1 − jitter), ttl]`, so
    /// the keys of one publish do not all expire at the same moment.
    pub jitter: f64,
}

/// What warming did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WarmReport {
    /// The server (credentials removed).
    pub server: String,
    /// Keys written.
    pub keys: u64,
    /// Keys left alone because Redis held a newer run's body for them.
    pub newer_kept: u64,
    /// After a failure: keys not known to be written, deleted so that the
    /// site reads them through from DynamoDB.
    pub deleted: u64,
    /// After a failure: keys neither written nor deleted (Redis could not
    /// be reached), which may serve the previous run until their TTL.
    pub maybe_stale: u64,
    /// Pipelines sent.
    pub pipelines: u64,
    /// Keys of leavers (categories deleted from the store) given a
    /// tombstone, which `serve` answers as 404.
    pub leavers_marked: u64,
    /// Keys of leavers left alone: a newer run's body is there.
    pub leavers_newer_kept: u64,
    /// After a failure: keys of leavers not known to be marked, which may
    /// serve the old body until their TTL.
    pub leavers_unmarked: u64,
    /// The longest TTL, seconds.
    pub ttl_s: u64,
    /// Seconds taken.
    pub seconds: f64,
}

/// `url` without its password, for messages.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_string(),
    }
}

/// Connects with short timeouts and a single retry: a publish must not wait
/// long on a cache that is down.
pub async fn connect(url: &str) -> Result<ConnectionManager, StoreError> {
    let fail = |e: redis::RedisError| StoreError::Redis {
        url: redacted(url),
        message: e.to_string(),
    };
    let client = redis::Client::open(url).map_err(fail)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_number_of_retries(1);
    client
        .get_connection_manager_with_config(config)
        .await
        .map_err(fail)
}

/// A TTL drawn uniformly from `[ttl_s·(1 − jitter), ttl_s]` seconds, at
/// least 1, so that keys written together do not all expire together.
pub fn jittered_ttl(ttl_s: u64, jitter: f64, rng: &mut impl Rng) -> u64 {
    let jitter = jitter.clamp(0.0, 0.9);
    let ttl = (ttl_s.max(1) as f64) * (1.0 - jitter * rng.random::<f64>());
    (ttl.round() as u64).max(1)
}

/// The (key, body) of every group of `set` listed in `groups`.
pub fn entries(set: &ResultSet, groups: &[usize]) -> Vec<(String, String)> {
    let (as_of, generation) = (set.as_of(), set.generation());
    groups
        .iter()
        .filter_map(|&i| set.groups.get(i))
        .map(|g| {
            (
                cache_key(&g.variant, &g.category),
                api_body(&g.variant, &g.category, &as_of, generation, &g.items, None),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(
            redacted("redis://:s3cret@cache:6379/0"),
            "redis://***@cache:6379/0"
        );
        assert_eq!(redacted("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }
}
