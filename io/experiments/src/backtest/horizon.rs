//! The next-horizon purchases of every replay time, read in one pass over
//! the lake: per category and replay time, the quantity bought of each item
//! in `(T, T + horizon]`, and the lake's newest purchase (a horizon past it
//! is incomplete).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use rayon::prelude::*;
use topsellers_engine::ItemId;
use topsellers_lake::incremental::visit_rows;
use topsellers_lake::{discover, ColumnNames};

use super::ReplayTimes;
use crate::error::ExperimentError;
use crate::purchases::dt_meets;

/// Per replay time (by index), the next-horizon quantity of each item.
pub type Gains = Vec<HashMap<ItemId, i64>>;

/// What the horizons hold.
#[derive(Debug, Default)]
pub struct Horizons {
    /// Per category, per replay time, the items' next-horizon quantities.
    pub by_category: BTreeMap<String, Gains>,
    /// The newest purchase time in the lake (ns), from row-group statistics
    /// where the files have them; `None` for a lake without rows.
    pub newest_ns: Option<i64>,
}

/// Reads the next-horizon purchases of every replay time of `times`.
pub fn read_horizons(
    lake: &Path,
    columns: &ColumnNames,
    times: &ReplayTimes,
) -> Result<Horizons, ExperimentError> {
    let (lo, hi) = (
        times.first_ns(),
        times.last_ns().saturating_add(times.horizon_ns),
    );
    let files = discover(lake)?;
    let n = times.len();
    let parts: Vec<(String, Option<Gains>, i64)> = files
        .par_iter()
        .map(|f| {
            let mut gains: Option<Gains> = None;
            // Only the span when the file's partition cannot hold a horizon.
            let (a, b) = if dt_meets(f, lo, hi) {
                (lo, hi)
            } else {
                (0, -1)
            };
            let read = visit_rows(&f.path, columns, a, b, &mut |item, ts, q| {
                let g = gains.get_or_insert_with(|| vec![HashMap::new(); n]);
                for k in times.horizons_holding(ts) {
                    *g[k].entry(item.to_id()).or_insert(0) += q;
                }
            })?;
            Ok((f.category.clone(), gains, read.span.max_ns))
        })
        .collect::<Result<_, ExperimentError>>()?;
    let mut out = Horizons::default();
    for (category, gains, newest) in parts {
        if newest != i64::MIN {
            out.newest_ns = Some(out.newest_ns.map_or(newest, |t| t.max(newest)));
        }
        let Some(gains) = gains else { continue };
        match out.by_category.get_mut(&category) {
            None => {
                out.by_category.insert(category, gains);
            }
            Some(have) => {
                for (into, from) in have.iter_mut().zip(gains) {
                    for (item, q) in from {
                        *into.entry(item).or_insert(0) += q;
                    }
                }
            }
        }
    }
    Ok(out)
}
