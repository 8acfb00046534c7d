//! Reading the store: manifests, the stored state of a run's keys (publish,
//! incremental runs, dry runs) and the read API's one row.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt, TryStreamExt};
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Pool, Value};
use topsellers_lake::{ResultSet, VariantTotals};
use topsellers_store::compare::{variant_diff, LiveVariant};
use topsellers_store::{
    group_key, Catalog, CatalogCategory, Manifest, StoreError, Stored, StoredGroup, VariantDiff,
};

use crate::codec::{decode, same_content};
use crate::schema::{GROUPS, MANIFESTS};

/// Keys of one `IN (…)` read at most.
const READ_KEYS: usize = 1000;

/// What a key holds, as publish needs it.
pub enum Held {
    /// A newer generation: left alone.
    Newer,
    /// An older generation: replaced.
    Older,
    /// The run's own generation, decoded (or why not): replaced unless the
    /// content is the same.
    Same(Stored),
}

type ManifestRow = (String, i64, String, String, String, u64, u64, Option<u64>);

fn manifest(row: ManifestRow) -> Manifest {
    let (variant, generation, as_of, computed_at, published_at, categories, items, counted) = row;
    Manifest {
        variant,
        generation,
        as_of,
        computed_at,
        published_at,
        totals: VariantTotals {
            categories,
            items,
            counted,
        },
    }
}

/// The manifest of `variant`, if any.
pub async fn read_manifest(
    conn: &mut Conn,
    store: &str,
    variant: &str,
) -> Result<Option<Manifest>, StoreError> {
    let row: Option<ManifestRow> = conn
        .exec_first(
            format!(
                "SELECT variant, generation, as_of, computed_at, published_at, categories, items, counted \
                 FROM {MANIFESTS} WHERE variant = ?"
            ),
            (variant,),
        )
        .await
        .map_err(|e| crate::failed(store, &format!("reading the manifest of {variant:?}"), e))?;
    Ok(row.map(manifest))
}

type Row = (String, i64, String, i64, Option<String>, Option<String>);

/// Runs `SELECT category, generation, as_of, window_s, items, scores` over
/// `categories` of `variant`, [`READ_KEYS`] a statement, `concurrency`
/// statements at once; `whole_if` limits items and scores to the rows of
/// that generation (NULL elsewhere). Returns the rows and the statements.
async fn select(
    pool: &Pool,
    store: &str,
    variant: &str,
    categories: &[&str],
    whole_if: Option<i64>,
    concurrency: usize,
) -> Result<(Vec<Row>, u64), StoreError> {
    let statements = categories.len().div_ceil(READ_KEYS) as u64;
    // By start index, as in the DynamoDB store: a closure over `&[&str]`
    // chunks would make the future not provably `Send` (a higher-ranked
    // lifetime limit of rustc).
    let reads: Vec<Vec<Row>> = futures::stream::iter((0..categories.len()).step_by(READ_KEYS))
        .map(|at| async move {
            let chunk = &categories[at..categories.len().min(at + READ_KEYS)];
            let marks = vec!["?"; chunk.len()].join(", ");
            let whole = match whole_if {
                Some(g) => {
                    format!("IF(generation = {g}, items, NULL), IF(generation = {g}, scores, NULL)")
                }
                None => "items, scores".to_string(),
            };
            let mut params: Vec<Value> = vec![variant.into()];
            params.extend(chunk.iter().map(|c| Value::from(*c)));
            let mut conn = crate::connect(pool, store).await?;
            conn.exec(
                format!(
                    "SELECT category, generation, as_of, window_s, {whole} FROM {GROUPS} \
                     WHERE variant = ? AND category IN ({marks})"
                ),
                params,
            )
            .await
            .map_err(|e| crate::failed(store, "reading stored results", e))
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok((reads.into_iter().flatten().collect(), statements))
}

fn stored((_, generation, as_of, window_s, items, scores): Row) -> Stored {
    match (items, scores) {
        (Some(items), Some(scores)) => decode(generation, as_of, window_s, &items, &scores),
        _ => Err("items or scores are NULL".to_string()),
    }
}

/// What `categories` of `variant` hold against a run of `generation`, by
/// category (absent: not stored), and the statements it took.
pub async fn read_state(
    pool: &Pool,
    store: &str,
    variant: &str,
    categories: &[&str],
    generation: i64,
    concurrency: usize,
) -> Result<(HashMap<String, Held>, u64), StoreError> {
    let (rows, statements) = select(
        pool,
        store,
        variant,
        categories,
        Some(generation),
        concurrency,
    )
    .await?;
    let held = rows
        .into_iter()
        .map(|row| {
            let category = row.0.clone();
            let h = match row.1.cmp(&generation) {
                std::cmp::Ordering::Greater => Held::Newer,
                std::cmp::Ordering::Less => Held::Older,
                std::cmp::Ordering::Equal => Held::Same(stored(row)),
            };
            (category, h)
        })
        .collect();
    Ok((held, statements))
}

/// The stored groups of `set`, by [`group_key`].
pub async fn stored_groups(
    pool: &Pool,
    store: &str,
    set: &ResultSet,
    concurrency: usize,
) -> Result<HashMap<String, Stored>, StoreError> {
    let mut out = HashMap::new();
    for variant in &set.variants {
        let categories: Vec<&str> = set
            .groups_of(variant)
            .map(|g| g.category.as_str())
            .collect();
        let (rows, _) = select(pool, store, variant, &categories, None, concurrency).await?;
        for row in rows {
            out.insert(group_key(variant, &row.0), stored(row));
        }
    }
    Ok(out)
}

/// The live manifests of `variants` (those that have one).
pub async fn live_manifests(
    conn: &mut Conn,
    store: &str,
    variants: &[String],
) -> Result<Vec<Manifest>, StoreError> {
    let mut out = Vec::new();
    for v in variants {
        out.extend(read_manifest(conn, store, v).await?);
    }
    Ok(out)
}

/// What publishing `set` would change, over the first `top` positions.
pub async fn diff(
    pool: &Pool,
    store: &str,
    set: &ResultSet,
    top: usize,
    concurrency: usize,
) -> Result<Vec<VariantDiff>, StoreError> {
    let stored = stored_groups(pool, store, set, concurrency).await?;
    let mut conn = crate::connect(pool, store).await?;
    let mut diffs = Vec::new();
    for variant in &set.variants {
        let manifest = read_manifest(&mut conn, store, variant).await?;
        let categories: Vec<String> = conn
            .exec(
                format!("SELECT category FROM {GROUPS} WHERE variant = ?"),
                (variant.as_str(),),
            )
            .await
            .map_err(|e| crate::failed(store, "listing stored categories", e))?;
        let live = LiveVariant {
            manifest,
            stored: &stored,
            categories,
        };
        diffs.push(variant_diff(set, variant, live, top, same_content));
    }
    Ok(diffs)
}

/// The read API's read: the row of (`variant`, `category`).
pub async fn get_group(
    conn: &mut Conn,
    variant: &str,
    category: &str,
) -> Result<Option<Result<StoredGroup, String>>, mysql_async::Error> {
    let row: Option<(i64, String, i64, String, String)> = conn
        .exec_first(
            format!(
                "SELECT generation, as_of, window_s, items, scores FROM {GROUPS} \
                 WHERE variant = ? AND category = ?"
            ),
            (variant, category),
        )
        .await?;
    Ok(row.map(|(generation, as_of, window_s, items, scores)| {
        decode(generation, as_of, window_s, &items, &scores)
    }))
}

/// Every published variant and, per category, each variant's window: the
/// variant comparison page's catalog. Reads every key of the store (two
/// queries), so it is for browsing, never the read API's path. Rows of a
/// variant without a manifest (a publish that never finished) are left out,
/// as DynamoDB's catalog leaves them.
pub async fn catalog(conn: &mut Conn, store: &str) -> Result<Catalog, StoreError> {
    let rows: Vec<ManifestRow> = conn
        .query(format!(
            "SELECT variant, generation, as_of, computed_at, published_at, categories, items, counted \
             FROM {MANIFESTS} ORDER BY variant"
        ))
        .await
        .map_err(|e| crate::failed(store, "reading the manifests", e))?;
    let variants: Vec<Manifest> = rows.into_iter().map(manifest).collect();
    let published: BTreeSet<&str> = variants.iter().map(|m| m.variant.as_str()).collect();
    let groups: Vec<(String, String, i64)> = conn
        .query(format!(
            "SELECT category, variant, window_s FROM {GROUPS} ORDER BY category, variant"
        ))
        .await
        .map_err(|e| crate::failed(store, "listing the categories", e))?;
    let mut windows: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (category, variant, window_s) in groups {
        if published.contains(variant.as_str()) {
            windows
                .entry(category)
                .or_default()
                .insert(variant, window_s);
        }
    }
    let categories = windows
        .into_iter()
        .map(|(category, windows)| CatalogCategory { category, windows })
        .collect();
    Ok(Catalog {
        variants,
        categories,
    })
}
