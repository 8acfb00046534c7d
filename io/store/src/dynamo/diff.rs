//! What publishing a run would change (`run --dry-run`): categories added and
//! removed, categories whose ranking changed with the items that moved, and
//! categories whose scores alone changed. An incremental run reads the same
//! stored groups ([`stored_groups`]) to publish only what the store lacks.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use futures::{StreamExt, TryStreamExt};

use super::batch::{batch_get, get_item, scan_keys, GET_BATCH};
use super::item::{decode_group, decode_manifest, manifest_key};
use crate::error::StoreError;
use crate::model::{group_key, CategoryChange, Move, Stored, StoredGroup, VariantDiff};
use topsellers_lake::{ResultGroup, ResultSet};

/// The moves among the first `top` positions between a live ranking and a
/// new one; empty when the order of those positions is the same.
pub fn moves(live: &StoredGroup, new: &ResultGroup, top: usize) -> Vec<Move> {
    let old: Vec<_> = live.items.iter().take(top).map(|r| &r.item).collect();
    let new: Vec<_> = new.items.iter().take(top).map(|r| &r.item).collect();
    let old_rank: HashMap<_, _> = old.iter().enumerate().map(|(i, it)| (*it, i + 1)).collect();
    let new_rank: HashMap<_, _> = new.iter().enumerate().map(|(i, it)| (*it, i + 1)).collect();
    let mut moved: Vec<Move> = new
        .iter()
        .enumerate()
        .filter(|(i, it)| old_rank.get(*it) != Some(&(i + 1)))
        .map(|(i, it)| Move {
            item: it.to_string(),
            from: old_rank.get(*it).copied(),
            to: Some(i + 1),
        })
        .collect();
    moved.extend(
        old.iter()
            .enumerate()
            .filter(|(_, it)| !new_rank.contains_key(*it))
            .map(|(i, it)| Move {
                item: it.to_string(),
                from: Some(i + 1),
                to: None,
            }),
    );
    moved
}

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
        let mut d = VariantDiff {
            variant: variant.clone(),
            ..VariantDiff::default()
        };
        if let Some(m) = get_item(client, table, &manifest_key(variant)).await? {
            let m = decode_manifest(&m).map_err(|message| StoreError::Dynamo {
                table: table.to_string(),
                message: format!("manifest of {variant:?}: {message}"),
            })?;
            d.live_generation = Some(m.generation);
            d.live_as_of = Some(m.as_of);
        }
        let groups: Vec<&ResultGroup> = set.groups_of(variant).collect();
        let keys: Vec<String> = groups
            .iter()
            .map(|g| group_key(variant, &g.category))
            .collect();
        let stored = read_groups(client, table, &keys, concurrency).await?;
        for (g, key) in groups.iter().zip(&keys) {
            match stored.get(key) {
                None => d.added.push(g.category.clone()),
                Some(Err(_)) => d.reordered.push(CategoryChange {
                    category: g.category.clone(),
                    moved: Vec::new(),
                }),
                Some(Ok(live)) => {
                    if super::item::same_content(live, g) {
                        d.unchanged += 1;
                        continue;
                    }
                    let moved = moves(live, g, top);
                    if moved.is_empty() {
                        d.rescored += 1;
                    } else {
                        d.reordered.push(CategoryChange {
                            category: g.category.clone(),
                            moved,
                        });
                    }
                }
            }
        }
        let ours: HashSet<&str> = groups.iter().map(|g| g.category.as_str()).collect();
        let prefix = format!("{variant}#");
        let mut removed: Vec<String> = scan_keys(client, table, &prefix)
            .await?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(String::from))
            .filter(|c| !ours.contains(c.as_str()))
            .collect();
        removed.sort();
        d.removed = removed;
        diffs.push(d);
    }
    Ok(diffs)
}

#[cfg(test)]
mod tests {
    use topsellers_engine::{ItemId, Ranked};

    use super::*;

    fn ranked(ids: &[i64]) -> Vec<Ranked> {
        ids.iter()
            .map(|&i| Ranked {
                item: ItemId::Int(i),
                score: 1.0,
            })
            .collect()
    }

    #[test]
    fn moves_within_the_top() {
        let live = StoredGroup {
            generation: 1,
            as_of: String::new(),
            window_s: 1,
            items: ranked(&[1, 2, 3, 4]),
        };
        let new = ResultGroup {
            variant: "v".into(),
            category: "c".into(),
            window_s: 1,
            counted: None,
            items: ranked(&[2, 1, 3, 5]),
        };
        let m = moves(&live, &new, 4);
        let show: Vec<_> = m.iter().map(|m| (m.item.as_str(), m.from, m.to)).collect();
        assert_eq!(
            show,
            [
                ("2", Some(2), Some(1)),
                ("1", Some(1), Some(2)),
                ("5", None, Some(4)),
                ("4", Some(4), None)
            ]
        );
        assert!(moves(&live, &new, 0).is_empty());
        let same = ResultGroup {
            items: ranked(&[1, 2, 3, 4]),
            ..new
        };
        assert!(moves(&live, &same, 4).is_empty());
    }
}
