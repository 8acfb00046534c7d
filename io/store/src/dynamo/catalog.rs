//! The catalog of a table ([`Catalog`]): one Scan that reads only the key
//! and the window of each item, then the manifests of the variants found.
//!
//! A Scan reads the whole table, so this is for browsing (the variant
//! comparison page of `serve`), never for the read API's hot path.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodb::types::AttributeValue;

use super::{ensure_table, failed, live_manifests};
use crate::error::StoreError;
use crate::model::{Catalog, CatalogCategory};

/// The partition key prefix of manifests.
const MANIFEST_PREFIX: &str = "#manifest#";

/// Reads the catalog of `table`; a table not created yet holds nothing.
pub(crate) async fn catalog(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Catalog, StoreError> {
    match ensure_table(client, table, false).await {
        Ok(_) => {}
        Err(StoreError::MissingTable { .. }) => return Ok(Catalog::default()),
        Err(e) => return Err(e),
    }
    let mut variants = BTreeSet::new();
    let mut windows: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .projection_expression("pk, window_s")
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| failed(table, "Scan", e))?;
        for item in page.items() {
            let Some(AttributeValue::S(pk)) = item.get(super::PK) else {
                continue;
            };
            if let Some(variant) = pk.strip_prefix(MANIFEST_PREFIX) {
                variants.insert(variant.to_string());
                continue;
            }
            // Variant names hold no '#' (they are checked at compute), so
            // the first one ends the variant.
            let Some((variant, category)) = pk.split_once('#') else {
                continue;
            };
            let window = match item.get("window_s") {
                Some(AttributeValue::N(n)) => n.parse().unwrap_or(0),
                _ => 0,
            };
            windows
                .entry(category.to_string())
                .or_default()
                .insert(variant.to_string(), window);
        }
        match page.last_evaluated_key() {
            Some(key) if !key.is_empty() => start = Some(key.clone()),
            _ => break,
        }
    }
    let names: Vec<String> = variants.into_iter().collect();
    let manifests = live_manifests(client, table, &names).await?;
    // A group whose variant has no manifest is left over or half written:
    // it is not part of a published run, so it is not listed.
    let published: BTreeSet<&str> = manifests.iter().map(|m| m.variant.as_str()).collect();
    let categories = windows
        .into_iter()
        .filter_map(|(category, mut by_variant)| {
            by_variant.retain(|v, _| published.contains(v.as_str()));
            (!by_variant.is_empty()).then_some(CatalogCategory {
                category,
                windows: by_variant,
            })
        })
        .collect();
    Ok(Catalog {
        variants: manifests,
        categories,
    })
}
