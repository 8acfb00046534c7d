//! The purchases of one category of a lake, read into memory: what an
//! explanation looks at (a single category, within the largest window).

use std::path::Path;

use rayon::prelude::*;
use topsellers_engine::ItemId;
use topsellers_lake::incremental::visit_rows;
use topsellers_lake::{discover, dt_range_ns, ColumnNames, LakeFile};

use crate::error::ExperimentError;

/// One counted purchase: valid item and time, quantity ≥ 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purchase {
    /// The item.
    pub item: ItemId,
    /// Purchase time, ns since the epoch.
    pub ts_ns: i64,
    /// Quantity (1 when the column is absent or null).
    pub quantity: i64,
}

/// Whether a file can hold a purchase with `lo < ts <= hi`, by its `dt=`.
pub(crate) fn dt_meets(f: &LakeFile, lo: i64, hi: i64) -> bool {
    f.dt.is_none_or(|dt| {
        let (start, end) = dt_range_ns(dt);
        end - 1 > lo && start <= hi
    })
}

/// Every valid purchase of `category` with `lo < ts <= hi`, sorted by
/// (time, item). An unknown category is an error naming a few known ones.
pub fn read_category(
    lake: &Path,
    columns: &ColumnNames,
    category: &str,
    lo: i64,
    hi: i64,
) -> Result<Vec<Purchase>, ExperimentError> {
    let files = discover(lake)?;
    let mine: Vec<&LakeFile> = files.iter().filter(|f| f.category == category).collect();
    if mine.is_empty() {
        let mut names: Vec<&str> = files.iter().map(|f| f.category.as_str()).collect();
        names.dedup();
        let examples = if names.is_empty() {
            String::new()
        } else {
            let shown: Vec<String> = names.iter().take(5).map(|n| format!("{n:?}")).collect();
            format!(
                ", e.g. {}{}",
                shown.join(", "),
                if names.len() > 5 { ", …" } else { "" }
            )
        };
        return Err(ExperimentError::UnknownCategory {
            category: category.to_string(),
            lake: lake.display().to_string(),
            known: names.len(),
            examples,
        });
    }
    let parts: Vec<Vec<Purchase>> = mine
        .par_iter()
        .filter(|f| dt_meets(f, lo, hi))
        .map(|f| {
            let mut rows = Vec::new();
            visit_rows(&f.path, columns, lo, hi, &mut |item, ts_ns, quantity| {
                rows.push(Purchase {
                    item: item.to_id(),
                    ts_ns,
                    quantity,
                });
            })?;
            Ok(rows)
        })
        .collect::<Result<_, ExperimentError>>()?;
    let mut all: Vec<Purchase> = parts.into_iter().flatten().collect();
    all.sort_unstable_by(|a, b| (a.ts_ns, &a.item).cmp(&(b.ts_ns, &b.item)));
    Ok(all)
}
