//! Publishing a run to DynamoDB.
//!
//! # Design
//!
//! BatchWriteItem cannot carry a condition, yet no write may replace a
//! newer result. So a publish, per variant:
//!
//! 1. reads the variant's manifest: when a newer run is live, the whole
//!    variant is left alone (a late run changes nothing, and says so);
//! 2. reads the stored generations of the run's keys (BatchGetItem, strongly
//!    consistent, 100 keys a call, `concurrency` calls at once; whole items
//!    only where the generation is the run's own; nothing at all in a table
//!    this publish just created) and sorts
//!    every key into *new* (absent), *older* (stored generation below the
//!    run's), *unchanged* (same generation, same window, items and scores:
//!    an idempotent no-op, nothing is written) and *newer* (kept);
//! 3. checks that the run's lease (when `run` holds one) is still the
//!    current one, then writes every new, older and
//!    same-generation-but-different key with a conditional PutItem
//!    (`attribute_not_exists(pk) OR generation <= :g`), `concurrency`
//!    requests in flight; a put refused by its condition means a newer
//!    run wrote the key meanwhile, and is counted as *newer*. New keys
//!    carry the condition too: a key absent at step 2 that a newer
//!    publisher wrote before this one's put is kept;
//! 4. writes the manifest last (conditionally too), only when every item
//!    was written: a publish that fails half way leaves the manifest of the
//!    previous run, and a rerun finds the items already written as
//!    *unchanged* and completes the rest. Under a lease the manifest put is
//!    a transaction with a check of the lease item ([`super::lease`]): a
//!    host whose lease another took is refused there, before its run goes
//!    live;
//! 5. deletes the stored categories the run no longer has, conditionally
//!    on their generation being older ([`super::leavers`]).
//!
//! Every item is one PutItem, which DynamoDB applies atomically: an
//! interrupted publish never leaves a half-written item.

use std::collections::HashMap;
use std::time::Instant;

use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

use super::batch::{batch_get, conditional_put, get_item, Put, GET_BATCH};
use super::item::{
    decode_group, decode_manifest, encode_group, encode_manifest, generation_of, manifest_key,
    same_content, Item,
};
use crate::compare::manifest_unchanged;
use crate::error::StoreError;
use crate::model::{group_key, PublishReport, VariantPublish};
use topsellers_lake::ResultSet;

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// The table.
    pub table: String,
    /// Create the table when it is missing.
    pub create_table: bool,
    /// DynamoDB requests in flight at once.
    pub concurrency: usize,
    /// Write only these groups (indexes into the run's groups): the
    /// categories whose top an incremental cycle changed. The manifest still
    /// describes the whole run. `None` writes every group.
    pub only_groups: Option<std::collections::BTreeSet<usize>>,
    /// The lease `run` holds: checked before writing, and at the manifest.
    pub fence: Option<super::lease::Fence>,
}

/// Publishes `set` to DynamoDB. `progress` is called with the number of
/// items settled (written or found unchanged) as they are.
pub async fn publish(
    client: &Client,
    opts: &PublishOptions,
    set: &ResultSet,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PublishReport, StoreError> {
    let started = Instant::now();
    let table = opts.table.as_str();
    let concurrency = opts.concurrency.max(1);
    let table_created = super::table::ensure_table(client, table, opts.create_table).await?;
    // Encode everything first: an item too large fails the run before any write.
    let mut encoded = set
        .groups
        .iter()
        .map(|g| encode_group(set, g).map(Some))
        .collect::<Result<Vec<_>, _>>()?;
    let generation = set.generation();
    let published_at =
        topsellers_lake::rfc3339(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX));
    let mut report = PublishReport {
        table: table.to_string(),
        table_created,
        generation,
        as_of: set.as_of(),
        ..PublishReport::default()
    };
    for variant in &set.variants {
        let (mut v, indexes) = VariantPublish::begin(set, variant, opts.only_groups.as_ref());
        let manifest = get_item(client, table, &manifest_key(variant))
            .await?
            .map(|m| decode_manifest(&m))
            .transpose()
            .map_err(|e| corrupt(table, &manifest_key(variant), e))?;
        if v.stale(manifest.as_ref(), generation) {
            report.variants.push(v);
            continue;
        }
        // 2. Read what is stored.
        let keys: Vec<String> = indexes
            .iter()
            .map(|&i| group_key(variant, &set.groups[i].category))
            .collect();
        let reading = Instant::now();
        // A table this publish created holds nothing yet: no need to read.
        let mut stored = if table_created {
            HashMap::new()
        } else {
            read(client, table, &keys, true, concurrency, &mut report).await?
        };
        // Same generation: compare the whole items (an idempotent rerun, or
        // the same as_of computed with other settings).
        let same_generation: Vec<String> = keys
            .iter()
            .filter(|k| {
                stored
                    .get(*k)
                    .is_some_and(|i| generation_of(i).is_ok_and(|g| g == generation))
            })
            .cloned()
            .collect();
        if !same_generation.is_empty() {
            let whole = read(
                client,
                table,
                &same_generation,
                false,
                concurrency,
                &mut report,
            )
            .await?;
            stored.extend(whole);
        }
        // Sort keys into new / replace / unchanged / newer.
        let mut puts = Vec::new();
        for (&i, key) in indexes.iter().zip(&keys) {
            match stored.get(key) {
                None => puts.push((i, true, encoded[i].take().unwrap_or_default())),
                Some(item) => {
                    let current = generation_of(item).map_err(|e| corrupt(table, key, e))?;
                    if current > generation {
                        v.newer += 1;
                        continue;
                    }
                    let same = current == generation
                        && decode_group(item).is_ok_and(|s| same_content(&s, &set.groups[i]));
                    if same {
                        v.unchanged += 1;
                        report.live_groups.push(i);
                    } else {
                        puts.push((i, false, encoded[i].take().unwrap_or_default()));
                    }
                }
            }
        }
        progress(v.unchanged);
        v.read_s = reading.elapsed().as_secs_f64();
        let writing = Instant::now();
        // 3. Write: one conditional put per key, new keys included.
        if let Some(fence) = &opts.fence {
            fence.check().await?;
        }
        let mut results = futures::stream::iter(puts)
            .map(|(i, new, item)| async move {
                let put = conditional_put(client, table, item, generation).await?;
                progress(1);
                Ok::<_, StoreError>((i, new, put))
            })
            .buffer_unordered(concurrency);
        while let Some((i, new, put)) = results.try_next().await? {
            report.put_calls += 1;
            match put {
                Put::Written if new => v.new += 1,
                Put::Written => v.replaced += 1,
                Put::Newer => {
                    v.newer += 1;
                    continue;
                }
            }
            report.live_groups.push(i);
        }
        // 4. The manifest, last.
        v.manifest = if manifest_unchanged(manifest.as_ref(), set, variant) {
            "unchanged"
        } else {
            report.put_calls += 1;
            let item = encode_manifest(set, variant, &published_at);
            let put = match &opts.fence {
                Some(fence) => super::lease::put_manifest(fence, item, generation).await?,
                None => conditional_put(client, table, item, generation).await?,
            };
            match put {
                Put::Written => "written",
                Put::Newer => "newer",
            }
        };
        v.write_s = writing.elapsed().as_secs_f64();
        report.add(v);
    }
    // 5. The categories that left, once every manifest is written.
    super::leavers::delete_leavers(client, table, set, concurrency, &mut report).await;
    report.settle();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Reads the stored items of `keys`, [`GET_BATCH`] a call, `concurrency`
/// calls at once, by key.
async fn read(
    client: &Client,
    table: &str,
    keys: &[String],
    generation_only: bool,
    concurrency: usize,
    report: &mut PublishReport,
) -> Result<HashMap<String, Item>, StoreError> {
    let reads: Vec<(Vec<Item>, super::batch::CallStats)> =
        // By start index, as in `diff::read_groups` (a `Send` future).
        futures::stream::iter((0..keys.len()).step_by(GET_BATCH))
            .map(|at| {
                let chunk = &keys[at..keys.len().min(at + GET_BATCH)];
                batch_get(client, table, chunk, generation_only)
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
    let mut stored = HashMap::with_capacity(keys.len());
    for (items, stats) in reads {
        report.batch_get_calls += stats.calls;
        report.unprocessed_retries += stats.retries;
        for item in items {
            if let Some(aws_sdk_dynamodb::types::AttributeValue::S(k)) = item.get(super::item::PK) {
                stored.insert(k.clone(), item);
            }
        }
    }
    Ok(stored)
}

fn corrupt(table: &str, key: &str, message: String) -> StoreError {
    StoreError::Dynamo {
        table: table.to_string(),
        message: format!("the stored item {key:?} is not one publish wrote: {message}"),
    }
}
