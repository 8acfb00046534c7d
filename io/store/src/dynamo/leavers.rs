//! The leavers step of a DynamoDB publish ([`crate::leavers`]): after the
//! manifests, the stored categories a variant's run no longer has are
//! deleted, each by a DeleteItem conditional on its generation being older
//! than the run's, `concurrency` at once.
//!
//! # Cost
//!
//! The table's key is `pk` alone, so a variant's stored keys cannot be
//! queried: they are listed by one strongly consistent Scan of the whole
//! table per publish, projected to `pk` and `generation` (the keys of every
//! variant of the run come from the same Scan). DynamoDB bills a Scan by the
//! bytes of the items it reads, not of the projection: one read unit per
//! 4 KB of table, about one unit per item for items of a hundred ranked ids.
//! A Scan of 3,000 items is then about 3,000 read units per publish; the
//! deletes are one write unit each, and only for leavers.

use std::collections::{BTreeSet, HashMap};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use futures::StreamExt;

use super::batch::scan_items;
use super::failed;
use super::item::{generation_of, PK};
use crate::error::StoreError;
use crate::leavers::{deleting_variants, leavers_of, record, Leaver};
use crate::model::{group_key, PublishReport};
use topsellers_lake::ResultSet;

/// The condition of a leaver's delete: gone already, or older than the run.
pub const OLDER: &str = "attribute_not_exists(pk) OR #g < :g";

/// What deleting leavers did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The leavers now gone (deleted, or found gone already).
    pub gone: Vec<Leaver>,
    /// Leavers whose item a newer run wrote between the listing and the
    /// delete: left as they are.
    pub kept: u64,
    /// DeleteItem calls.
    pub calls: u64,
    /// The first failed delete, if any (the others were still sent, and
    /// what they did is counted above).
    pub error: Option<String>,
}

/// Deletes the leavers of every variant of `set` that `report` says may
/// delete, into `report`. A failure does not undo the publish (the
/// manifests are written): it is recorded in
/// [`PublishReport::leavers_error`], and the next publish deletes what is left.
pub(crate) async fn delete_leavers(
    client: &Client,
    table: &str,
    set: &ResultSet,
    concurrency: usize,
    report: &mut PublishReport,
) {
    let variants = deleting_variants(report);
    if variants.is_empty() {
        return;
    }
    let started = std::time::Instant::now();
    let result = async {
        let mut stored = list(client, table, &variants).await?;
        for variant in &variants {
            let mut kept = 0;
            let keys = stored.remove(variant).unwrap_or_default();
            let leavers = leavers_of(set, variant, keys, &mut kept);
            let done = delete(client, table, &leavers, set.generation(), concurrency).await;
            report.delete_calls += done.calls;
            record(report, variant, done.gone, kept + done.kept);
            if let Some(message) = done.error {
                return Err(StoreError::Dynamo {
                    table: table.to_string(),
                    message,
                });
            }
        }
        Ok::<_, StoreError>(())
    }
    .await;
    report.leavers_s = started.elapsed().as_secs_f64();
    if let Err(e) = result {
        tracing::warn!(table, error = %e, "deleting the categories that left the results failed; the next publish deletes them");
        report.leavers_error = Some(e.to_string());
    }
}

/// The stored (category, generation) of every group of `variants`, by
/// variant: one Scan of the table (strongly consistent, `pk` and
/// `generation` only). Manifests and other keys are skipped.
pub async fn list(
    client: &Client,
    table: &str,
    variants: &[String],
) -> Result<HashMap<String, Vec<(String, i64)>>, StoreError> {
    let wanted: BTreeSet<&str> = variants.iter().map(String::as_str).collect();
    let scan = client
        .scan()
        .consistent_read(true)
        .projection_expression(format!("{PK}, #g"))
        .expression_attribute_names("#g", "generation");
    let items = scan_items(table, scan).await?;
    let mut out: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    for item in items {
        let Some(AttributeValue::S(pk)) = item.get(PK) else {
            continue;
        };
        // Variant names hold no '#', so the first one ends the variant
        // (manifests, `#manifest#…`, have an empty one).
        let Some((variant, category)) = pk.split_once('#') else {
            continue;
        };
        if !wanted.contains(variant) {
            continue;
        }
        let generation = generation_of(&item).map_err(|message| StoreError::Dynamo {
            table: table.to_string(),
            message: format!("the stored item {pk:?} is not one publish wrote: {message}"),
        })?;
        out.entry(variant.to_string())
            .or_default()
            .push((category.to_string(), generation));
    }
    Ok(out)
}

/// Deletes `leavers` where their stored generation is older than
/// `generation` ([`OLDER`]), `concurrency` DeleteItem calls at once. A
/// delete refused by its condition means a run at least as new wrote the
/// key since it was listed: the key is kept and counted. A failed call
/// does not stop the others, so that what was deleted is known.
pub async fn delete(
    client: &Client,
    table: &str,
    leavers: &[Leaver],
    generation: i64,
    concurrency: usize,
) -> Deleted {
    let outcomes: Vec<Result<(usize, bool), StoreError>> = futures::stream::iter(0..leavers.len())
        .map(|i| async move {
            let l = &leavers[i];
            let result = client
                .delete_item()
                .table_name(table)
                .key(PK, AttributeValue::S(group_key(&l.variant, &l.category)))
                .condition_expression(OLDER)
                .expression_attribute_names("#g", "generation")
                .expression_attribute_values(":g", AttributeValue::N(generation.to_string()))
                .send()
                .await;
            match result {
                Ok(_) => Ok((i, true)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
                {
                    Ok((i, false))
                }
                Err(e) => Err(failed(table, "DeleteItem", e)),
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut done = Deleted {
        calls: leavers.len() as u64,
        ..Deleted::default()
    };
    let mut gone: Vec<usize> = Vec::new();
    for outcome in outcomes {
        match outcome {
            Ok((i, true)) => gone.push(i),
            Ok((_, false)) => done.kept += 1,
            Err(e) => {
                done.error.get_or_insert_with(|| e.to_string());
            }
        }
    }
    gone.sort_unstable();
    done.gone = gone.into_iter().map(|i| leavers[i].clone()).collect();
    done
}
