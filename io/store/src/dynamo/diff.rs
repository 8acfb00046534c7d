//! What publishing a run would change (`run --dry-run`), from what the
//! table holds (the comparison itself is [`crate::compare`]). An incremental run reads the same
//! stored groups ([`stored_groups`]) to publish only what the store lacks.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

use super::batch::{batch_get, get_item, scan_keys, GET_BATCH};
use super::item::{decode_group, decode_manifest, manifest_key, same_content};
use crate::compare::{variant_diff, LiveVariant};
use crate::error::StoreError;
use crate::model::{group_key, Stored, VariantDiff};
use topsellers_lake::ResultSet;

/// What `table` holds under `keys` (strongly consistent reads, [`GET_BATCH`]
/// keys a call, `concurrency` calls at once), by key; a key absent from the
/// map is not stored.
async fn read_groups(
    client: &Client,
    table: &str,
    keys: &[String],
    concurrency: usize,
) -> Result<HashMap<String, Stored>, StoreError> {
    // Chunks by start index: a closure over `&[String]` chunks would make
    // the future not provably `Send` (a higher-ranked lifetime limit of rustc).
    let reads: Vec<_> = futures::stream::iter((0..keys.len()).step_by(GET_BATCH))
        .map(|at| {
            batch_get(
                client,
                table,
                &keys[at..keys.len().min(at + GET_BATCH)],
                false,
            )
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let mut stored = HashMap::new();
    for item in reads.into_iter().flat_map(|(items, _)| items) {
        if let Some(AttributeValue::S(k)) = item.get("pk") {
            stored.insert(k.clone(), decode_group(&item));
        }
    }
    Ok(stored)
}

/// What `table` holds for every group of `set`, by key (see
/// [`group_key`]); a missing table holds nothing. What an incremental run
/// compares its results with, rather than a memory of what it published,
/// which a crash after the writes or another run's publish would leave
/// wrong.
pub async fn stored_groups(
    client: &Client,
    table: &str,
    set: &ResultSet,
    concurrency: usize,
) -> Result<HashMap<String, Stored>, StoreError> {
    match super::table::ensure_table(client, table, false).await {
        Ok(_) => {}
        Err(StoreError::MissingTable { .. }) => return Ok(HashMap::new()),
        Err(e) => return Err(e),
    }
    let keys: Vec<String> = set
        .groups
        .iter()
        .map(|g| group_key(&g.variant, &g.category))
        .collect();
    read_groups(client, table, &keys, concurrency).await
}

/// Compares `set` with what `table` holds, over the first `top` positions of
/// each category. A missing table counts as empty.
pub async fn diff(
    client: &Client,
    table: &str,
    set: &ResultSet,
    concurrency: usize,
    top: usize,
) -> Result<Vec<VariantDiff>, StoreError> {
    match super::table::ensure_table(client, table, false).await {
        Ok(_) => {}
        Err(StoreError::MissingTable { .. }) => {
            return Ok(set
                .variants
                .iter()
                .map(|v| VariantDiff {
                    variant: v.clone(),
                    added: set.groups_of(v).map(|g| g.category.clone()).collect(),
                    ..VariantDiff::default()
                })
                .collect())
        }
        Err(e) => return Err(e),
    }
    let mut diffs = Vec::new();
    for variant in &set.variants {
        let manifest = match get_item(client, table, &manifest_key(variant)).await? {
            Some(m) => Some(decode_manifest(&m).map_err(|message| StoreError::Dynamo {
                table: table.to_string(),
                message: format!("manifest of {variant:?}: {message}"),
            })?),
            None => None,
        };
        let keys: Vec<String> = set
            .groups_of(variant)
            .map(|g| group_key(variant, &g.category))
            .collect();
        let stored = read_groups(client, table, &keys, concurrency).await?;
        let prefix = format!("{variant}#");
        let categories = scan_keys(client, table, &prefix)
            .await?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(String::from))
            .collect();
        let live = LiveVariant {
            manifest,
            stored: &stored,
            categories,
        };
        diffs.push(variant_diff(set, variant, live, top, same_content));
    }
    Ok(diffs)
}
