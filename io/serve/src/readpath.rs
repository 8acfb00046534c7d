//! The read path of one (variant, category): the in-process cache, then
//! Redis, then the results store (DynamoDB or MySQL), with concurrent misses of one
//! key coalesced into a single store read (single flight, [`super::flight`]) whose result
//! repopulates Redis.
//!
//! # Design
//!
//! A read's answer goes into the local cache before its flight ends, and a
//! found item stays in flight until Redis has it; a request that missed
//! Redis while the read was landing finds the answer in one place or the
//! other instead of reading again (with the local cache off, such a late
//! request may still read once more).
//!
//! A Redis value that is a tombstone ([`topsellers_store::cache::leavers`])
//! is a category that left the results: it is answered as missing, and the
//! store is not read.

use std::sync::Arc;
use std::time::Duration;

use super::entry::Entry;
use super::flight::{Flights, Joined, Landing};
use super::local::{Cached, LocalCache};
use super::metrics::ReadMetrics;
use super::redis_cache::{Got, RedisCache};
use super::ReadPathOptions;
use topsellers_store::cache::{cache_key, is_tombstone};
use topsellers_store::{Catalog, Manifest, ResultStore, StoreError};

/// Whether each backing service answered a readiness probe.
#[derive(Debug, Clone)]
pub struct Readiness {
    /// Redis PING.
    pub redis: Result<(), String>,
    /// The results store ([`ResultStore::ready`]): the server reads use.
    pub store: Result<String, String>,
    /// The kind of store ([`ResultStore::kind`]).
    pub store_kind: &'static str,
}

/// Redis → results store reads with a local cache and single flight.
pub struct ReadPath {
    store: Arc<dyn ResultStore>,
    /// The bound of one store read, its retry included.
    store_deadline: Duration,
    redis: RedisCache,
    local: LocalCache,
    inflight: Arc<Flights<Cached>>,
    /// What the read path did, for `/metrics`.
    pub metrics: ReadMetrics,
}

impl ReadPath {
    /// The read path of `opts` over `store` (DynamoDB, MySQL, …: the
    /// caller chooses and builds it, with its own timeouts). Connects to
    /// nothing yet: Redis and the store are dialled on first use, so it
    /// starts with either of them down.
    pub fn over(
        store: Arc<dyn ResultStore>,
        opts: &ReadPathOptions,
    ) -> Result<Arc<Self>, StoreError> {
        Ok(Arc::new(Self {
            store_deadline: store.read_deadline(),
            store,
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
            // A category that left the results (its item is deleted from
            // the store): missing, without reading the store.
            Got::Value(body) if is_tombstone(&body) => {
                ReadMetrics::inc(&m.redis_hits);
                self.local.put(&key, Cached::Missing);
                return Ok(Cached::Missing);
            }
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
        flight.await.map_err(|message| StoreError::Read {
            store: self.store.name(),
            message,
        })
    }

    /// One store read of `key`, its result cached locally and written back to
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
        let got = tokio::time::timeout(
            self.store_deadline,
            self.store.get_group(&variant, &category),
        )
        .await;
        let result = match got {
            Err(_) => Err(format!(
                "reading {key:?}: no answer within {} ms",
                self.store_deadline.as_millis()
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(None)) => Ok(Cached::Missing),
            Ok(Ok(Some(g))) => Ok(Cached::Found(Arc::new(Entry::from_stored(
                &variant, &category, g,
            )))),
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

    /// The live manifests of `variants` (those published), within the
    /// store's read deadline.
    pub async fn manifests(&self, variants: &[String]) -> Result<Vec<Manifest>, StoreError> {
        self.bounded(self.store.live_manifests(variants)).await
    }

    /// Every published variant and category (a Scan of the whole store:
    /// for the comparison page, not the read API).
    pub async fn catalog(&self) -> Result<Catalog, StoreError> {
        self.bounded(self.store.catalog()).await
    }

    /// `call`, failed when it takes longer than a few store reads (a Scan
    /// is several pages).
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let limit = self.store_deadline * 4;
        tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
            Err(StoreError::Read {
                store: self.store.name(),
                message: format!("no answer within {} ms", limit.as_millis()),
            })
        })
    }

    /// Forgets the in-process cache (the next reads go to Redis).
    pub fn clear_local(&self) {
        self.local.clear();
    }

    /// Probes Redis (PING) and the store, each within its timeout.
    pub async fn readiness(&self) -> Readiness {
        let dynamo = async {
            match tokio::time::timeout(self.store_deadline, self.store.ready()).await {
                Ok(Ok(using)) => Ok(using),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!(
                    "{}: no answer within {} ms",
                    self.store.name(),
                    self.store_deadline.as_millis()
                )),
            }
        };
        let (redis, store) = tokio::join!(self.redis.ping(), dynamo);
        Readiness {
            redis: redis.map_err(|e| format!("Redis {}: {e}", self.redis.url())),
            store,
            store_kind: self.store.kind(),
        }
    }
}
