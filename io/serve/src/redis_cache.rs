//! Redis as the read path sees it: GET and a guarded fill (never over a
//! newer run's body) with a short timeout per call, through a [`ConnectionManager`] that reconnects by itself, and a
//! back-off: after a failure Redis is skipped for a moment, so that a dead
//! Redis costs requests nothing rather than a timeout each.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::metrics::ReadMetrics;
use topsellers_store::cache::{guarded, jittered_ttl, redacted};
use topsellers_store::StoreError;

/// Redis behind timeouts and a back-off.
pub struct RedisCache {
    con: ConnectionManager,
    url: String,
    timeout: Duration,
    backoff: Duration,
    ttl: Duration,
    jitter: f64,
    epoch: Instant,
    /// Milliseconds after `epoch` before which Redis is not asked.
    skip_until_ms: AtomicU64,
}

/// What a GET found.
pub enum Got {
    /// The key's value.
    Value(Vec<u8>),
    /// No such key.
    Missing,
    /// Redis failed, timed out or is backed off.
    Unavailable,
}

impl RedisCache {
    /// A lazily connected Redis at `url`: nothing is dialled until the first
    /// call, so `serve` starts (and answers from DynamoDB) with Redis down.
    /// Every call gives up after `timeout`; after a failure Redis is skipped
    /// for `backoff`. Keys written back live `ttl`, less up to `jitter` of it.
    pub fn new(
        url: &str,
        timeout: Duration,
        backoff: Duration,
        ttl: Duration,
        jitter: f64,
    ) -> Result<Self, StoreError> {
        let fail = |e: redis::RedisError| StoreError::Redis {
            url: redacted(url),
            message: e.to_string(),
        };
        let client = redis::Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_max_delay(backoff);
        let con = ConnectionManager::new_lazy_with_config(client, config).map_err(fail)?;
        Ok(Self {
            con,
            url: redacted(url),
            timeout,
            backoff,
            ttl,
            jitter,
            epoch: Instant::now(),
            skip_until_ms: AtomicU64::new(0),
        })
    }

    /// The server, credentials removed.
    pub fn url(&self) -> &str {
        &self.url
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn backed_off(&self, metrics: &ReadMetrics) -> bool {
        let skip = self.now_ms() < self.skip_until_ms.load(Ordering::Relaxed);
        if skip {
            ReadMetrics::inc(&metrics.redis_skipped);
        }
        skip
    }

    fn failed(&self, metrics: &ReadMetrics, what: &str, error: &str) {
        ReadMetrics::inc(&metrics.redis_errors);
        let until = self.now_ms() + self.backoff.as_millis() as u64;
        let before = self.skip_until_ms.swap(until, Ordering::Relaxed);
        if before <= self.now_ms() {
            tracing::warn!(server = %self.url, error, backoff_ms = self.backoff.as_millis() as u64, "Redis {what} failed; reading DynamoDB during the back-off");
        }
    }

    async fn call<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, String> {
        let mut con = self.con.clone();
        match tokio::time::timeout(self.timeout, cmd.query_async::<T>(&mut con)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        }
    }

    /// GET `key`. The key is sent as one argument of the command: request
    /// text never becomes a command.
    pub async fn get(&self, key: &str, metrics: &ReadMetrics) -> Got {
        if self.backed_off(metrics) {
            return Got::Unavailable;
        }
        match self
            .call::<Option<Vec<u8>>>(redis::cmd("GET").arg(key))
            .await
        {
            Ok(Some(v)) => Got::Value(v),
            Ok(None) => Got::Missing,
            Err(e) => {
                self.failed(metrics, "GET", &e);
                Got::Unavailable
            }
        }
    }

    /// Fills `key` with `body`, of run `generation`, for a jittered TTL,
    /// unless Redis holds a newer run's body for it: a publish may have
    /// warmed the key since DynamoDB answered this read.
    pub async fn fill(&self, key: &str, body: &[u8], generation: i64, metrics: &ReadMetrics) {
        if self.backed_off(metrics) {
            return;
        }
        let ttl = jittered_ttl(self.ttl.as_secs(), self.jitter, &mut rand::rng());
        let mut fill = guarded::script().prepare_invoke();
        fill.key(key).arg(body).arg(generation).arg(ttl);
        let mut con = self.con.clone();
        // invoke_async loads the script when Redis lacks it (a restart).
        match tokio::time::timeout(self.timeout, fill.invoke_async::<i64>(&mut con)).await {
            Ok(Ok(0)) => ReadMetrics::inc(&metrics.redis_fills_refused),
            Ok(Ok(_)) => ReadMetrics::inc(&metrics.redis_writes),
            Ok(Err(e)) => self.failed(metrics, "fill", &e.to_string()),
            Err(_) => self.failed(
                metrics,
                "fill",
                &format!("no answer within {} ms", self.timeout.as_millis()),
            ),
        }
    }

    /// PING, for readiness (ignores the back-off: it is the probe that
    /// tells whether Redis is back).
    pub async fn ping(&self) -> Result<(), String> {
        self.call::<String>(&redis::cmd("PING")).await.map(|_| ())
    }
}
