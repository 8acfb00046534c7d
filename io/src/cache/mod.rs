//! Redis, the cache in front of DynamoDB (SPEC section 5): one key per
//! (variant, category) holding exactly the read API's JSON body, with a
//! jittered TTL, written in pipelines right after DynamoDB accepted a run,
//! never over the body of a newer run ([`guarded`]).

mod body;
pub(crate) mod guarded;

use std::time::{Duration, Instant};

use rand::Rng;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;

pub use body::{api_body, cache_key};

use crate::error::IoError;
use crate::output::ResultSet;

/// Keys per pipeline.
const PIPELINE: usize = 1000;

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
    /// Pipelines sent.
    pub pipelines: u64,
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
pub async fn connect(url: &str) -> Result<ConnectionManager, IoError> {
    let fail = |e: redis::RedisError| IoError::Redis {
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

/// Writes `entries` (key, body), the bodies of run `generation`, each
/// with a jittered TTL, in pipelines; a key holding a newer run's body is
/// left alone ([`guarded`]).
pub async fn warm(
    opts: &WarmOptions,
    generation: i64,
    entries: &[(String, String)],
) -> Result<WarmReport, IoError> {
    let started = Instant::now();
    let fail = |message: String| IoError::Redis {
        url: redacted(&opts.url),
        message,
    };
    let mut con = connect(&opts.url).await?;
    guarded::script()
        .load_async(&mut con)
        .await
        .map_err(|e| fail(format!("SCRIPT LOAD: {e}")))?;
    let ttl_s = opts.ttl.as_secs().max(1);
    let jitter = opts.jitter;
    let mut rng = rand::rng();
    let mut report = WarmReport {
        server: redacted(&opts.url),
        ttl_s,
        ..WarmReport::default()
    };
    for chunk in entries.chunks(PIPELINE) {
        let mut pipe = redis::pipe();
        for (key, body) in chunk {
            let ttl = jittered_ttl(ttl_s, jitter, &mut rng);
            pipe.add_command(guarded::evalsha(key, body.as_bytes(), generation, ttl));
        }
        let written: Vec<i64> = pipe.query_async(&mut con).await.map_err(|e| {
            fail(format!(
                "pipelined write after {} keys: {e}",
                report.keys + report.newer_kept
            ))
        })?;
        let kept = written.iter().filter(|&&w| w == 0).count() as u64;
        report.keys += chunk.len() as u64 - kept;
        report.newer_kept += kept;
        report.pipelines += 1;
    }
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
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
