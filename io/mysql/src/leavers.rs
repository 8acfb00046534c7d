//! The leavers step of a MySQL publish ([`topsellers_store::leavers`]):
//! after the manifests, the stored categories a variant's run no longer has
//! are deleted in batches, each row only while its generation is older than
//! the run's:
//!
//! ```sql
//! DELETE FROM topsellers_groups
//! WHERE variant = ? AND category IN (…) AND generation < ?
//! ```
//!
//! # Cost
//!
//! A variant's keys are the first column of the primary key, so listing
//! them is one range read of that index (`SELECT category, generation …
//! WHERE variant = ?`), the variant's rows and no others. The deletes are
//! [`DELETE_KEYS`] keys a statement, one transaction each, `concurrency`
//! at once; only when a statement deleted fewer rows than it named does the
//! transaction read back which rows a newer run holds (it holds their locks).

use std::collections::HashSet;

use futures::StreamExt;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool, TxOpts, Value};
use topsellers_lake::ResultSet;
use topsellers_store::leavers::{deleting_variants, leavers_of, record, Leaver};
use topsellers_store::{PublishReport, StoreError};

use crate::schema::GROUPS;

/// Keys of one DELETE statement at most.
pub const DELETE_KEYS: usize = 500;

/// Deletes the leavers of every variant of `set` that `report` says may
/// delete, into `report`. A failure does not undo the publish (the
/// manifests are written): it is recorded in `report.leavers_error`, and the
/// next publish deletes what is left.
pub async fn delete_leavers(
    pool: &Pool,
    store: &str,
    set: &ResultSet,
    concurrency: usize,
    report: &mut PublishReport,
) {
    let started = std::time::Instant::now();
    for variant in deleting_variants(report) {
        if let Err(e) = delete_variant(pool, store, set, &variant, concurrency, report).await {
            tracing::warn!(store, error = %e, "deleting the categories that left the results failed; the next publish deletes them");
            report.leavers_error = Some(e.to_string());
            break;
        }
    }
    report.leavers_s = started.elapsed().as_secs_f64();
}

async fn delete_variant(
    pool: &Pool,
    store: &str,
    set: &ResultSet,
    variant: &str,
    concurrency: usize,
    report: &mut PublishReport,
) -> Result<(), StoreError> {
    let mut conn = crate::connect(pool, store).await?;
    let stored = list(&mut conn, store, variant).await?;
    drop(conn);
    let mut kept = 0;
    let leavers = leavers_of(set, variant, stored, &mut kept);
    let generation = set.generation();
    let results: Vec<Result<(Vec<Leaver>, u64), StoreError>> =
        futures::stream::iter((0..leavers.len()).step_by(DELETE_KEYS))
            .map(|at| {
                let chunk = &leavers[at..leavers.len().min(at + DELETE_KEYS)];
                delete_batch(pool, store, chunk, generation)
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut gone = Vec::new();
    let mut error = None;
    for r in results {
        report.delete_calls += 1;
        match r {
            Ok((deleted, newer)) => {
                gone.extend(deleted);
                kept += newer;
            }
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    gone.sort_by(|a, b| a.category.cmp(&b.category));
    record(report, variant, gone, kept);
    error.map_or(Ok(()), Err)
}

/// The stored (category, generation) of every row of `variant`.
pub async fn list(
    conn: &mut Conn,
    store: &str,
    variant: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    conn.exec(
        format!("SELECT category, generation FROM {GROUPS} WHERE variant = ?"),
        (variant,),
    )
    .await
    .map_err(|e| {
        crate::failed(
            store,
            &format!("listing the stored categories of {variant:?}"),
            e,
        )
    })
}

/// Deletes one batch of leavers (one variant) where older than
/// `generation`, in one transaction; returns those now gone and how many a
/// newer run holds.
pub async fn delete_batch(
    pool: &Pool,
    store: &str,
    batch: &[Leaver],
    generation: i64,
) -> Result<(Vec<Leaver>, u64), StoreError> {
    let Some(first) = batch.first() else {
        return Ok((Vec::new(), 0));
    };
    let marks = vec!["?"; batch.len()].join(", ");
    // The same parameters for both statements: variant, categories, generation.
    let mut params: Vec<Value> = vec![first.variant.as_str().into()];
    params.extend(batch.iter().map(|l| Value::from(l.category.as_str())));
    params.push(generation.into());
    let select = format!(
        "SELECT category FROM {GROUPS} WHERE variant = ? AND category IN ({marks}) AND generation >= ?"
    );
    let fail = |e| crate::failed(store, "deleting leavers", e);
    let mut conn = crate::connect(pool, store).await?;
    let mut tx = conn
        .start_transaction(TxOpts::default())
        .await
        .map_err(fail)?;
    tx.exec_drop(
        format!(
            "DELETE FROM {GROUPS} WHERE variant = ? AND category IN ({marks}) AND generation < ?"
        ),
        params.clone(),
    )
    .await
    .map_err(fail)?;
    let newer: HashSet<String> = if tx.affected_rows() == batch.len() as u64 {
        HashSet::new()
    } else {
        // Fewer rows than named: some are gone already, or a newer run
        // wrote them since they were listed (this transaction holds their
        // locks, so the answer is exact).
        tx.exec::<String, _, _>(select, params)
            .await
            .map_err(fail)?
            .into_iter()
            .collect()
    };
    tx.commit().await.map_err(fail)?;
    let kept = newer.len() as u64;
    let gone = batch
        .iter()
        .filter(|l| !newer.contains(&l.category))
        .cloned()
        .collect();
    Ok((gone, kept))
}
