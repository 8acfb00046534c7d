//! The DynamoDB calls of a publish: batched reads and conditional puts,
//! with unprocessed keys retried under jittered exponential backoff.
//!
//! The SDK already retries throttling and transient errors of each call
//! (its standard retry mode, configured in [`client`](super::client)); what
//! it does not retry is a *successful* batch call that left part of its
//! work undone (`UnprocessedKeys`), which DynamoDB returns under load.
//! Those are retried here.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use rand::Rng;

use super::item::{Item, PK};
use super::{failed, invalid};
use crate::error::StoreError;

/// Keys per BatchGetItem call (DynamoDB's limit).
pub const GET_BATCH: usize = 100;
/// Rounds of retries of unprocessed keys or items before giving up.
const MAX_ROUNDS: u32 = 12;

/// Full-jitter exponential backoff: the n-th wait is uniform in
/// `[0, min(cap, base · 2ⁿ)]`, so retrying clients spread out.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
}

impl Backoff {
    /// A backoff starting at `base`, never waiting more than `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            attempt: 0,
        }
    }

    /// The next wait.
    pub fn next_delay(&mut self) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.cap);
        self.attempt += 1;
        ceiling.mul_f64(rand::rng().random::<f64>())
    }

    /// Waits for the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

fn default_backoff() -> Backoff {
    Backoff::new(Duration::from_millis(25), Duration::from_secs(5))
}

/// Counters of batched work.
#[derive(Debug, Clone, Copy, Default)]
pub struct CallStats {
    /// Requests sent.
    pub calls: u64,
    /// Retry rounds for unprocessed keys or items.
    pub retries: u64,
}

impl CallStats {
    /// Counts the next call of a batch loop. Every call after the first is a
    /// retry of what DynamoDB left unprocessed: it waits out `backoff`
    /// first, and fails once [`MAX_ROUNDS`] retries left `left` `noun` behind.
    async fn next_round(
        &mut self,
        backoff: &mut Backoff,
        table: &str,
        what: &str,
        left: usize,
        noun: &str,
    ) -> Result<(), StoreError> {
        if self.calls > 0 {
            self.retries += 1;
            if self.retries > u64::from(MAX_ROUNDS) {
                return Err(StoreError::Dynamo {
                    table: table.to_string(),
                    message: format!(
                        "{what} left {left} {noun} unprocessed after {MAX_ROUNDS} retries"
                    ),
                });
            }
            backoff.wait().await;
        }
        self.calls += 1;
        Ok(())
    }
}

/// Reads up to [`GET_BATCH`] items by key, strongly consistent, retrying
/// unprocessed keys. Missing keys are simply absent from the result. With
/// `generation_only`, only `pk` and `generation` are returned (a fraction of
/// the bytes of a whole item).
pub async fn batch_get(
    client: &Client,
    table: &str,
    keys: &[String],
    generation_only: bool,
) -> Result<(Vec<Item>, CallStats), StoreError> {
    let mut found = Vec::with_capacity(keys.len());
    let mut stats = CallStats::default();
    let mut pending: Vec<Item> = keys
        .iter()
        .map(|k| HashMap::from([(PK.to_string(), AttributeValue::S(k.clone()))]))
        .collect();
    let mut backoff = default_backoff();
    while !pending.is_empty() {
        stats
            .next_round(&mut backoff, table, "BatchGetItem", pending.len(), "keys")
            .await?;
        let request = KeysAndAttributes::builder()
            .set_keys(Some(std::mem::take(&mut pending)))
            .consistent_read(true)
            .set_projection_expression(generation_only.then(|| format!("{PK}, #g")))
            .set_expression_attribute_names(
                generation_only
                    .then(|| HashMap::from([("#g".to_string(), "generation".to_string())])),
            )
            .build()
            .map_err(|e| invalid(table, "BatchGetItem", e))?;
        let out = client
            .batch_get_item()
            .request_items(table, request)
            .send()
            .await
            .map_err(|e| failed(table, "BatchGetItem", e))?;
        if let Some(mut r) = out.responses {
            found.extend(r.remove(table).unwrap_or_default());
        }
        if let Some(mut u) = out.unprocessed_keys {
            if let Some(k) = u.remove(table) {
                pending = k.keys;
            }
        }
    }
    Ok((found, stats))
}

/// The outcome of a conditional put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The item was written.
    Written,
    /// The stored item has a newer generation; nothing was written.
    Newer,
}

/// The condition of every group and manifest write: no item yet, or the
/// stored generation is not newer than the one written.
pub const NOT_NEWER: &str = "attribute_not_exists(pk) OR generation <= :g";

/// Puts `item` only where no item exists or the stored generation is not
/// newer than `generation`.
pub async fn conditional_put(
    client: &Client,
    table: &str,
    item: Item,
    generation: i64,
) -> Result<Put, StoreError> {
    let result = client
        .put_item()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(NOT_NEWER)
        .expression_attribute_values(":g", AttributeValue::N(generation.to_string()))
        .send()
        .await;
    match result {
        Ok(_) => Ok(Put::Written),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
        {
            Ok(Put::Newer)
        }
        Err(e) => Err(failed(table, "PutItem", e)),
    }
}

/// Reads one item by key (strongly consistent).
pub async fn get_item(client: &Client, table: &str, key: &str) -> Result<Option<Item>, StoreError> {
    let out = client
        .get_item()
        .table_name(table)
        .key(PK, AttributeValue::S(key.to_string()))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| failed(table, "GetItem", e))?;
    Ok(out.item)
}

/// The keys of every item whose key starts with `prefix` (a Scan: only for
/// dry runs and tests, never on the publish path).
pub async fn scan_keys(
    client: &Client,
    table: &str,
    prefix: &str,
) -> Result<Vec<String>, StoreError> {
    let scan = client
        .scan()
        .projection_expression(PK)
        .filter_expression("begins_with(pk, :p)")
        .expression_attribute_values(":p", AttributeValue::S(prefix.to_string()));
    let items = scan_items(table, scan).await?;
    Ok(items
        .into_iter()
        .filter_map(|i| match i.get(PK) {
            Some(AttributeValue::S(k)) => Some(k.clone()),
            _ => None,
        })
        .collect())
}

/// Every item `scan` (a Scan of `table`, projected or filtered as built)
/// returns, all pages.
pub async fn scan_items(
    table: &str,
    scan: aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder,
) -> Result<Vec<Item>, StoreError> {
    scan.table_name(table)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| failed(table, "Scan", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(100));
        let delays: Vec<Duration> = (0..30).map(|_| b.next_delay()).collect();
        assert!(delays[0] <= Duration::from_millis(10));
        assert!(delays[3] <= Duration::from_millis(80));
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(100)));
        // Jittered: not all the late (capped) delays are equal.
        assert!(delays[10..].windows(2).any(|w| w[0] != w[1]));
    }
}
