//! Publishing a run to MySQL under the generation rule.
//!
//! # Design
//!
//! Per variant, like the DynamoDB store:
//!
//! 1. the manifest row is read: when a newer run is live, the variant is
//!    left alone (`stale`);
//! 2. the stored generations of the run's keys are read (whole rows only
//!    where the generation is the run's own), and every key sorted into
//!    *new*, *older*, *unchanged* (same generation and content: nothing is
//!    written) and *newer* (kept);
//! 3. the new and older keys are written by multi-row guarded upserts, in
//!    key order, [`WRITE_ROWS`] rows (at most [`WRITE_BYTES`]) a
//!    statement, one transaction a statement, `concurrency` transactions
//!    at once:
//!
//!    ```sql
//!    INSERT INTO topsellers_groups (…) VALUES (…), (…), …
//!    ON DUPLICATE KEY UPDATE
//!      items = IF(VALUES(generation) >= generation, VALUES(items), items), …,
//!      generation = IF(VALUES(generation) >= generation, VALUES(generation), generation)
//!    ```
//!
//!    `generation` is assigned last: the assignments run left to right,
//!    and each condition must see the stored generation. A row a newer run
//!    wrote meanwhile is left as it is; when the affected-rows count shows
//!    that happened, the transaction reads its rows back (it holds their
//!    locks) to tell which;
//! 4. the manifest row is written last, by the same guarded upsert, and
//!    only when every group was written: a publish that fails half way
//!    leaves the previous run's manifest, and a rerun finds the rows
//!    already written as *unchanged* and completes the rest;
//! 5. the stored categories the run no longer has are deleted where their
//!    generation is older ([`crate::leavers`]).
//!
//! Under `run`'s lease ([`crate::lease`]), step 3 starts with a check that
//! the lease is still this run's, and the manifest upsert runs in a
//! transaction that first locks the lease row and checks its owner and
//! token: a host whose lease another took stops there. The guarded upsert
//! covers new keys as well as old ones (an `INSERT` that finds the key
//! written meanwhile falls to its `ON DUPLICATE KEY UPDATE`, under the
//! generation rule): no write of any key can replace a newer one.
//!
//! A deadlock or lock wait timeout between two publishers rolls the
//! transaction back; it is retried.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool, TxOpts, Value};
use topsellers_lake::ResultSet;
use topsellers_store::compare::manifest_unchanged;
use topsellers_store::{Lease, PublishReport, StoreError, VariantPublish};

use crate::codec::{encode, same_content};
use crate::lease::retryable;
use crate::read::{read_manifest, read_state, Held};
use crate::schema::{GROUPS, MANIFESTS, MAX_CATEGORY, MAX_VARIANT};

/// Rows of one multi-row statement at most.
pub const WRITE_ROWS: usize = 500;
/// Bytes of one statement's values at most (well under MariaDB's default
/// 16 MiB `max_allowed_packet`).
pub const WRITE_BYTES: usize = 4 << 20;
/// Attempts of a transaction that a deadlock or lock wait rolled back.
const ATTEMPTS: u32 = 5;

/// The columns of a group row, as written.
const COLUMNS: &str = "variant, category, generation, as_of, window_s, computed_at, items, scores";

/// One key to write: the group's index and whether it was absent.
#[derive(Clone, Copy)]
struct ToWrite {
    index: usize,
    new: bool,
}

/// Checks that every key fits its column, before anything is written.
fn check_keys(set: &ResultSet) -> Result<(), StoreError> {
    for g in &set.groups {
        let too_long = |what: &str, max: usize| StoreError::Unstorable {
            variant: g.variant.clone(),
            category: g.category.clone(),
            message: format!(
                "the {what} is longer than the {max} characters its MySQL column holds"
            ),
        };
        if g.variant.chars().count() > MAX_VARIANT {
            return Err(too_long("variant", MAX_VARIANT));
        }
        if g.category.chars().count() > MAX_CATEGORY {
            return Err(too_long("category", MAX_CATEGORY));
        }
    }
    Ok(())
}

/// Where a publish writes.
pub struct Target<'a> {
    /// The primary.
    pub pool: &'a Pool,
    /// The store as messages name it.
    pub store: &'a str,
    /// The schema was just created, so nothing is stored yet.
    pub created: bool,
    /// Transactions at once.
    pub concurrency: usize,
    /// The lease `run` holds: checked before writing, and at the manifest.
    pub lease: Option<Lease>,
}

/// Publishes `set` to `target`.
pub async fn publish(
    target: Target<'_>,
    set: &ResultSet,
    only_groups: Option<&BTreeSet<usize>>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<PublishReport, StoreError> {
    let Target {
        pool,
        store,
        created,
        concurrency,
        lease,
    } = target;
    let started = Instant::now();
    check_keys(set)?;
    let generation = set.generation();
    let published_at =
        topsellers_lake::rfc3339(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX));
    let mut report = PublishReport {
        table: store.to_string(),
        table_created: created,
        generation,
        as_of: set.as_of(),
        ..PublishReport::default()
    };
    let mut conn = crate::connect(pool, store).await?;
    for variant in &set.variants {
        let (mut v, indexes) = VariantPublish::begin(set, variant, only_groups);
        let manifest = read_manifest(&mut conn, store, variant).await?;
        report.batch_get_calls += 1;
        if v.stale(manifest.as_ref(), generation) {
            report.variants.push(v);
            continue;
        }
        let reading = Instant::now();
        let held = if created {
            HashMap::new()
        } else {
            let categories: Vec<&str> = indexes
                .iter()
                .map(|&i| set.groups[i].category.as_str())
                .collect();
            let (held, statements) =
                read_state(pool, store, variant, &categories, generation, concurrency).await?;
            report.batch_get_calls += statements;
            held
        };
        let mut writes = Vec::new();
        for &i in &indexes {
            let g = &set.groups[i];
            match held.get(g.category.as_str()) {
                None => writes.push(ToWrite {
                    index: i,
                    new: true,
                }),
                Some(Held::Newer) => v.newer += 1,
                Some(Held::Same(stored)) if stored.as_ref().is_ok_and(|s| same_content(s, g)) => {
                    v.unchanged += 1;
                    report.live_groups.push(i);
                }
                Some(_) => writes.push(ToWrite {
                    index: i,
                    new: false,
                }),
            }
        }
        progress(v.unchanged);
        v.read_s = reading.elapsed().as_secs_f64();
        let writing = Instant::now();
        if let Some(lease) = &lease {
            crate::lease::check(&mut conn, store, lease).await?;
        }
        // Key order within and across statements: two publishers lock rows
        // in the same order.
        writes.sort_by(|a, b| {
            set.groups[a.index]
                .category
                .cmp(&set.groups[b.index].category)
        });
        let batches = batches(set, &writes);
        let mut results = futures::stream::iter(batches)
            .map(|batch| async move {
                let newer = write_batch(pool, store, set, &batch).await?;
                progress(batch.len() as u64);
                Ok::<_, StoreError>((batch, newer))
            })
            .buffer_unordered(concurrency.max(1));
        while let Some((batch, newer)) = results.try_next().await? {
            report.batch_write_calls += 1;
            for w in batch {
                if newer.contains(&w.index) {
                    v.newer += 1;
                } else {
                    if w.new {
                        v.new += 1;
                    } else {
                        v.replaced += 1;
                    }
                    report.live_groups.push(w.index);
                }
            }
        }
        v.manifest = if manifest_unchanged(manifest.as_ref(), set, variant) {
            "unchanged"
        } else {
            report.put_calls += 1;
            write_manifest(
                &mut conn,
                store,
                set,
                variant,
                &published_at,
                lease.as_ref(),
            )
            .await?
        };
        v.write_s = writing.elapsed().as_secs_f64();
        report.add(v);
    }
    // 5. The categories that left, once every manifest is written.
    crate::leavers::delete_leavers(pool, store, set, concurrency, &mut report).await;
    report.settle();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The writes cut into statements of [`WRITE_ROWS`] rows and
/// [`WRITE_BYTES`] bytes at most.
fn batches(set: &ResultSet, writes: &[ToWrite]) -> Vec<Vec<ToWrite>> {
    let mut out: Vec<Vec<ToWrite>> = Vec::new();
    let mut bytes = 0;
    for w in writes {
        let size = 64 + set.groups[w.index].category.len() + set.groups[w.index].items.len() * 32;
        match out.last_mut() {
            Some(last) if last.len() < WRITE_ROWS && bytes + size <= WRITE_BYTES => {
                last.push(*w);
                bytes += size;
            }
            _ => {
                out.push(vec![*w]);
                bytes = size;
            }
        }
    }
    out
}

/// `ON DUPLICATE KEY UPDATE` of the generation rule: every column but the
/// key takes the new value only when the new generation is at least the
/// stored one; `generation` last, so that every condition sees the stored one.
fn guarded_update(columns: &[&str]) -> String {
    let keep = |c: &str| format!("{c} = IF(VALUES(generation) >= generation, VALUES({c}), {c})");
    let mut parts: Vec<String> = columns.iter().map(|c| keep(c)).collect();
    parts.push(keep("generation"));
    format!("ON DUPLICATE KEY UPDATE {}", parts.join(", "))
}

/// Writes one batch of rows (one variant) in one transaction; returns the
/// indexes of the rows a newer run holds (left as they are).
async fn write_batch(
    pool: &Pool,
    store: &str,
    set: &ResultSet,
    batch: &[ToWrite],
) -> Result<Vec<usize>, StoreError> {
    let generation = set.generation();
    let (as_of, computed_at) = (set.as_of(), set.computed_at());
    let mut params: Vec<Value> = Vec::with_capacity(batch.len() * 8);
    for w in batch {
        let g = &set.groups[w.index];
        let (items, scores) = encode(g);
        params.extend([
            Value::from(g.variant.as_str()),
            Value::from(g.category.as_str()),
            Value::from(generation),
            Value::from(as_of.as_str()),
            Value::from(g.window_s),
            Value::from(computed_at.as_str()),
            Value::from(items),
            Value::from(scores),
        ]);
    }
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?)"; batch.len()].join(", ");
    let statement = format!(
        "INSERT INTO {GROUPS} ({COLUMNS}) VALUES {rows} {}",
        guarded_update(&["as_of", "window_s", "computed_at", "items", "scores"])
    );
    // An insert affects 1 row, an update that changes the row 2.
    let expected: u64 = batch.iter().map(|w| if w.new { 1 } else { 2 }).sum();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut conn = crate::connect(pool, store).await?;
        match try_batch(&mut conn, set, batch, &statement, params.clone(), expected).await {
            Ok(newer) => return Ok(newer),
            Err(e) if retryable(&e) && attempt < ATTEMPTS => {
                tracing::debug!(store, error = %e, attempt, "transaction rolled back; retrying");
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            Err(e) => return Err(crate::failed(store, "writing results", e)),
        }
    }
}

async fn try_batch(
    conn: &mut Conn,
    set: &ResultSet,
    batch: &[ToWrite],
    statement: &str,
    params: Vec<Value>,
    expected: u64,
) -> Result<Vec<usize>, mysql_async::Error> {
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    tx.exec_drop(statement, params).await?;
    let mut newer = Vec::new();
    if tx.affected_rows() != expected {
        // Another publisher wrote some of these keys meanwhile: read them
        // back (this transaction holds their locks).
        let variant = &set.groups[batch[0].index].variant;
        let marks = vec!["?"; batch.len()].join(", ");
        let mut params: Vec<Value> = vec![variant.as_str().into()];
        params.extend(
            batch
                .iter()
                .map(|w| set.groups[w.index].category.as_str().into()),
        );
        let held: Vec<(String, i64)> = tx
            .exec(
                format!("SELECT category, generation FROM {GROUPS} WHERE variant = ? AND category IN ({marks})"),
                params,
            )
            .await?;
        let newer_keys: std::collections::HashSet<&str> = held
            .iter()
            .filter(|(_, g)| *g > set.generation())
            .map(|(c, _)| c.as_str())
            .collect();
        newer = batch
            .iter()
            .filter(|w| newer_keys.contains(set.groups[w.index].category.as_str()))
            .map(|w| w.index)
            .collect();
    }
    tx.commit().await?;
    Ok(newer)
}

/// Writes the manifest of `variant` under the generation rule: `written`,
/// or `newer` when a newer run's manifest is there. Under `lease`, in a
/// transaction that first checks the lease ([`crate::lease::fence`]).
async fn write_manifest(
    conn: &mut Conn,
    store: &str,
    set: &ResultSet,
    variant: &str,
    published_at: &str,
    lease: Option<&Lease>,
) -> Result<&'static str, StoreError> {
    let t = set.totals(variant);
    let statement = format!(
        "INSERT INTO {MANIFESTS} (variant, generation, as_of, computed_at, published_at, categories, items, counted) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) {}",
        guarded_update(&["as_of", "computed_at", "published_at", "categories", "items", "counted"])
    );
    let params: Vec<Value> = vec![
        variant.into(),
        set.generation().into(),
        set.as_of().into(),
        set.computed_at().into(),
        published_at.into(),
        t.categories.into(),
        t.items.into(),
        t.counted.into(),
    ];
    let fail = |e| crate::failed(store, "writing the manifest", e);
    let mut attempt = 0;
    let live: Option<i64> = loop {
        attempt += 1;
        match commit_manifest(conn, store, &statement, params.clone(), variant, lease).await {
            Ok(Ok(live)) => break live,
            Ok(Err(fenced)) => return Err(fenced),
            Err(e) if retryable(&e) && attempt < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
            }
            Err(e) => return Err(fail(e)),
        }
    };
    Ok(if live.is_some_and(|g| g > set.generation()) {
        "newer"
    } else {
        "written"
    })
}

/// One transaction of [`write_manifest`]: the lease checked (when held),
/// the upsert, the live generation read back. `Ok(Err(_))`: fenced, rolled
/// back.
async fn commit_manifest(
    conn: &mut Conn,
    store: &str,
    statement: &str,
    params: Vec<Value>,
    variant: &str,
    lease: Option<&Lease>,
) -> Result<Result<Option<i64>, StoreError>, mysql_async::Error> {
    let mut tx = conn.start_transaction(TxOpts::default()).await?;
    if let Some(lease) = lease {
        if let Err(fenced) = crate::lease::fence(&mut tx, store, lease).await? {
            tx.rollback().await?;
            return Ok(Err(fenced));
        }
    }
    tx.exec_drop(statement, params).await?;
    let live: Option<i64> = tx
        .exec_first(
            format!("SELECT generation FROM {MANIFESTS} WHERE variant = ?"),
            (variant,),
        )
        .await?;
    tx.commit().await?;
    Ok(Ok(live))
}
