//! The read path of one (variant, category): the in-process cache, then
//! Redis, then DynamoDB, with concurrent misses of one key coalesced into a
//! single DynamoDB read (single flight, [`super::flight`]) whose result
//! repopulates Redis.
//!
//! # Design
//!
//! A read's answer goes into the local cache before its flight ends, and a
//! found item stays in flight until Redis has it; a request that missed
//! Redis while the read was landing finds the answer in one place or the
//! other instead of reading again (with the local cache off, such a late
//! request may still read once more).

use std::sync::Arc;
use std::time::Duration;

use super::entry::Entry;
use super::flight::{Flights, Joined, Landing};
use super::local::{Cached, LocalCache};
use super::metrics::ReadMetrics;
use super::redis_cache::{Got, RedisCache};
use super::ReadPathOptions;
use topsellers_store::cache::cache_key;
use topsellers_store::dynamo::{decode_group, get_item, group_key, read_client, read_deadline};
use topsellers_store::StoreError;

/// Whether each backing service answered a readiness probe.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// Redis PING.
    pub redis: Result<(), String>,
    /// DynamoDB DescribeTable.
    pub dynamodb: Result<(), String>,
}

/// Redis → DynamoDB reads with a local cache and single flight.
pub struct ReadPath {
    table: String,
    dynamo: aws_sdk_dynamodb::Client,
    /// The bound of one DynamoDB call, its retry included.
    dynamo_deadline: Duration,
    redis: RedisCache,
    local: LocalCache,
    inflight: Arc<Flights<Cached>>,
    /// What the read path did, for `/metrics`.
    pub metrics: ReadMetrics,
}

impl ReadPath {
    /// The read path of `opts`. Connects to nothing yet: both services are
    /// dialled on first use, so it starts with either of them down.
    pub async fn new(opts: &ReadPathOptions) -> Result<Arc<Self>, StoreError> {
        Ok(Arc::new(Self {
            table: opts.table.clone(),
            dynamo: read_client(opts.dynamo_timeout).await,
            dynamo_deadline: read_deadline(opts.dynamo_timeout),
            redis: RedisCache::new(
                &opts.redis_url,
                opts.redis_timeout,
                opts.redis_backoff,
                opts.redis_ttl,
                opts.redis_ttl_jitter,
            )?,
            local: LocalCache::new(opts.local_ttl, opts.negative_ttl, opts.local_capacity),
            inflight: Flights::new(),
            metrics: ReadMetrics::default(),
        }))
    }

    /// The published top sellers of (`variant`, `category`), or
    /// [`Cached::Missing`] when nothing is published for it. An error means
    /// no cache had it and DynamoDB could not be read.
    pub async fn lookup(
        self: &Arc<Self>,
        variant: &str,
        category: &str,
    ) -> Result<Cached, StoreError> {
        let m = &self.metrics;
        let key = cache_key(variant, category);
        if let Some(cached) = self.local.get(&key) {
            ReadMetrics::inc(&m.local_hits);
            return Ok(cached);
        }
        ReadMetrics::inc(&m.local_misses);
        match self.redis.get(&key, m).await {
            Got::Value(body) => match Entry::from_body(variant, category, body) {
                Ok(entry) => {
                    ReadMetrics::inc(&m.redis_hits);
                    let cached = Cached::Found(Arc::new(entry));
                    self.local.put(&key, cached.clone());
                    return Ok(cached);
                }
                Err(error) => {
                    ReadMetrics::inc(&m.redis_errors);
                    tracing::warn!(key, error, "unreadable Redis value; reading DynamoDB");
                }
            },
            Got::Missing => ReadMetrics::inc(&m.redis_misses),
            Got::Unavailable => {}
        }
        self.read_through(key, variant, category).await
    }

    /// Joins the DynamoDB read of `key` in flight, or starts it.
    async fn read_through(
        self: &Arc<Self>,
        key: String,
        variant: &str,
        category: &str,
    ) -> Result<Cached, StoreError> {
        let read = (
            self.clone(),
            key.clone(),
            variant.to_string(),
            category.to_string(),
        );
        let joined = self.inflight.join(
            &key,
            // A read that landed while this request waited on Redis left
            // its answer here (before its flight ended).
            || self.local.get(&key),
            |landing| {
                let (this, key, variant, category) = read;
                this.fetch(key, variant, category, landing)
            },
        );
        let flight = match joined {
            Joined::Started(flight) => flight,
            Joined::Waiting(flight) => {
                ReadMetrics::inc(&self.metrics.coalesced_waits);
                flight
            }
            Joined::Landed(cached) => {
                ReadMetrics::inc(&self.metrics.coalesced_waits);
                return Ok(cached);
            }
        };
        flight.await.map_err(|message| StoreError::Dynamo {
            table: self.table.clone(),
            message,
        })
    }

    /// One GetItem of `key`, its result cached locally and written back to
    /// Redis; `landing` ends the flight once both caches have it.
    async fn fetch(
        self: Arc<Self>,
        key: String,
        variant: String,
        category: String,
        landing: Landing<Cached>,
    ) -> Result<Cached, String> {
        let m = &self.metrics;
        ReadMetrics::inc(&m.dynamo_reads);
        let pk = group_key(&variant, &category);
        let got = tokio::time::timeout(
            self.dynamo_deadline,
            get_item(&self.dynamo, &self.table, &pk),
        )
        .await;
        let result = match got {
            Err(_) => Err(format!(
                "GetItem {pk:?}: no answer within {} ms",
                self.dynamo_deadline.as_millis()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(None)) => Ok(Cached::Missing),
            Ok(Ok(Some(item))) => decode_group(&item)
                .map(|g| Cached::Found(Arc::new(Entry::from_stored(&variant, &category, g))))
                .map_err(|e| format!("item {pk:?}: {e}")),
        };
        match &result {
            Ok(Cached::Found(entry)) => {
                ReadMetrics::inc(&m.dynamo_hits);
                self.local.put(&key, Cached::Found(entry.clone()));
                let (this, entry) = (self.clone(), entry.clone());
                tokio::spawn(async move {
                    let m = &this.metrics;
                    this.redis
                        .fill(&key, &entry.body, entry.generation, m)
                        .await;
                    landing.land();
                });
            }
            Ok(Cached::Missing) => {
                ReadMetrics::inc(&m.dynamo_misses);
                self.local.put(&key, Cached::Missing);
                landing.land();
            }
            Err(error) => {
                ReadMetrics::inc(&m.dynamo_errors);
                tracing::warn!(error, "DynamoDB read failed");
                landing.land();
            }
        }
        result
    }

    /// Forgets the in-process cache (the next reads go to Redis).
    pub fn clear_local(&self) {
        self.local.clear();
    }

    /// Probes Redis (PING) and DynamoDB (DescribeTable), each within its timeout.
    pub async fn readiness(&self) -> Readiness {
        let dynamo = async {
            let call = self.dynamo.describe_table().table_name(&self.table).send();
            match tokio::time::timeout(self.dynamo_deadline, call).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => {
                    Err(
                        topsellers_store::dynamo::failed(&self.table, "DescribeTable", e)
                            .to_string(),
                    )
                }
                Err(_) => Err(format!(
                    "DescribeTable: no answer within {} ms",
                    self.dynamo_deadline.as_millis()
                )),
            }
        };
        let (redis, dynamodb) = tokio::join!(self.redis.ping(), dynamo);
        Readiness {
            redis: redis.map_err(|e| format!("Redis {}: {e}", self.redis.url())),
            dynamodb,
        }
    }
}
