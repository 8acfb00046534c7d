//! The synthetic lake generator (`topsellers gen`): purchases that behave like
//! a retail site's, and the benchmarks' data source.
//!
//! # Shape
//!
//! - Category sizes follow a Zipf law (a few huge categories, many small
//!   ones); a fraction of categories is *sparse*: a few dozen purchases spread
//!   thinly over a whole year, so their adaptive window has to grow.
//! - Within a category, item popularity is Zipf too (sampled in O(1) with an
//!   alias table), and a handful of otherwise unpopular items *trend*: they
//!   take a fifth of the purchases of the last three days.
//! - Times are spread over the last `days` days before `end`, sorted within
//!   each day, so `ts` row-group statistics prune well, as in a real lake fed
//!   in time order.
//!
//! Every (category, day) has its own seeded random stream, so the lake is the
//! same for a given seed whatever the thread count.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::Distribution;
use rayon::prelude::*;

use crate::error::LakeError;

const DAY_US: i64 = 86_400_000_000;

/// How files are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `category=<c>/part-00000.parquet`: one file per category.
    Category,
    /// `category=<c>/dt=<day>/part-00000.parquet`: one file per category and day.
    CategoryDay,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenOptions {
    /// Total purchases.
    pub purchases: u64,
    /// Number of categories.
    pub categories: usize,
    /// Days of history for dense categories.
    pub days: u32,
    /// File layout.
    pub layout: Layout,
    /// String item ids (`SKU-…`) instead of INT64.
    pub string_ids: bool,
    /// Write a quantity column.
    pub quantity: bool,
    /// Random seed.
    pub seed: u64,
    /// Generated purchases lie before this instant (µs since the epoch).
    pub end_us: i64,
    /// Fraction of categories that are sparse.
    pub sparse_fraction: f64,
    /// Share of all purchases that go to the largest category (`None`: Zipf decides).
    pub top_category_share: Option<f64>,
    /// Rows per row group.
    pub row_group_rows: usize,
    /// zstd level.
    pub zstd_level: i32,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            purchases: 1_000_000,
            categories: 100,
            days: 90,
            layout: Layout::Category,
            string_ids: false,
            quantity: false,
            seed: 42,
            end_us: 1_792_022_400_000_000, // 2026-10-15T00:00:00Z
            sparse_fraction: 0.2,
            top_category_share: None,
            row_group_rows: 1 << 20,
            zstd_level: 1,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Rows written.
    pub rows: u64,
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// One category's plan.
struct CategoryPlan {
    name: String,
    index: usize,
    purchases: u64,
    items: usize,
    /// Days of history its purchases spread over.
    days: u32,
    sparse: bool,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn plan_categories(opts: &GenOptions) -> Vec<CategoryPlan> {
    let n = opts.categories.max(1);
    let sparse = ((n as f64 * opts.sparse_fraction).round() as usize).min(n.saturating_sub(1));
    let dense = n - sparse;
    let mut rng = SmallRng::seed_from_u64(splitmix(opts.seed));
    let sparse_sizes: Vec<u64> = (0..sparse).map(|_| rng.random_range(20..250)).collect();
    let sparse_total: u64 = sparse_sizes.iter().sum::<u64>().min(opts.purchases / 2);
    let dense_total = opts.purchases - sparse_total;
    // Zipf(1) shares over the dense categories, or a fixed share for the first.
    let mut shares: Vec<f64> = (1..=dense).map(|r| 1.0 / r as f64).collect();
    if let Some(top) = opts.top_category_share {
        let rest: f64 = shares[1..].iter().sum();
        for s in &mut shares[1..] {
            *s *= (1.0 - top) / rest.max(f64::MIN_POSITIVE);
        }
        shares[0] = if dense > 1 { top } else { 1.0 };
    }
    let sum: f64 = shares.iter().sum();
    let mut sizes: Vec<u64> = shares
        .iter()
        .map(|s| (s / sum * dense_total as f64) as u64)
        .collect();
    let assigned: u64 = sizes.iter().sum();
    if let Some(first) = sizes.first_mut() {
        *first += dense_total - assigned;
    }
    let mut plans = Vec::with_capacity(n);
    let mut sparse_left = sparse_total;
    for index in 0..n {
        let is_sparse = index >= dense;
        let purchases = if is_sparse {
            let s = sparse_sizes[index - dense].min(sparse_left);
            sparse_left -= s;
            s
        } else {
            sizes[index]
        };
        plans.push(CategoryPlan {
            name: format!("c{index:05}"),
            index,
            purchases,
            items: if is_sparse {
                400
            } else {
                (purchases / 50).clamp(200, 200_000) as usize
            },
            days: if is_sparse { 365 } else { opts.days.max(1) },
            sparse: is_sparse,
        });
    }
    plans
}

/// Item ids and popularity of a category.
struct Catalog {
    ids: Vec<i64>,
    names: Vec<String>,
    popularity: WeightedAliasIndex<f64>,
    trending: Vec<usize>,
}

impl Catalog {
    fn new(opts: &GenOptions, c: &CategoryPlan) -> Self {
        let ids: Vec<i64> = (0..c.items)
            .map(|i| {
                (splitmix(opts.seed ^ ((c.index as u64) << 32) ^ i as u64) % 1_000_000_000_000)
                    as i64
            })
            .collect();
        let names = if opts.string_ids {
            ids.iter().map(|id| format!("SKU-{id:012}")).collect()
        } else {
            Vec::new()
        };
        let weights: Vec<f64> = (1..=c.items).map(|r| 1.0 / (r as f64).powf(1.05)).collect();
        let popularity =
            WeightedAliasIndex::new(weights).expect("Zipf weights are positive and finite");
        // Trending items come from the long tail (ranks beyond the first tenth).
        let tail = c.items / 10;
        let trending = (0..5)
            .map(|k| tail + (splitmix(opts.seed ^ c.index as u64 ^ k) as usize) % (c.items - tail))
            .collect();
        Self {
            ids,
            names,
            popularity,
            trending,
        }
    }
}

/// Rows of one (category, day).
struct DayRows {
    items: Vec<usize>,
    ts: Vec<i64>,
    quantity: Vec<i32>,
}

fn day_rows(opts: &GenOptions, c: &CategoryPlan, catalog: &Catalog, day: u32) -> DayRows {
    // Spread purchases evenly over the days, remainder to the most recent ones.
    let base = c.purchases / u64::from(c.days);
    let extra = u64::from(u64::from(c.days - 1 - day) < c.purchases % u64::from(c.days));
    let n = (base + extra) as usize;
    let mut rng = SmallRng::seed_from_u64(splitmix(
        opts.seed ^ splitmix(((c.index as u64) << 20) | u64::from(day)),
    ));
    let day_start = opts.end_us - i64::from(c.days - day) * DAY_US;
    let trending_day = !c.sparse && day + 3 >= c.days;
    let mut ts: Vec<i64> = (0..n)
        .map(|_| day_start + rng.random_range(0..DAY_US))
        .collect();
    ts.sort_unstable();
    let items = (0..n)
        .map(|_| {
            if trending_day && rng.random_bool(0.2) {
                catalog.trending[rng.random_range(0..catalog.trending.len())]
            } else {
                catalog.popularity.sample(&mut rng)
            }
        })
        .collect();
    let quantity = if opts.quantity {
        (0..n)
            .map(|_| {
                if rng.random_bool(0.85) {
                    1
                } else {
                    rng.random_range(2..6)
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    DayRows {
        items,
        ts,
        quantity,
    }
}

fn schema(opts: &GenOptions) -> Arc<Schema> {
    let mut fields = vec![
        Field::new(
            "item_id",
            if opts.string_ids {
                DataType::Utf8
            } else {
                DataType::Int64
            },
            false,
        ),
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ];
    if opts.quantity {
        fields.push(Field::new("quantity", DataType::Int32, false));
    }
    Arc::new(Schema::new(fields))
}

fn batch(
    opts: &GenOptions,
    schema: &Arc<Schema>,
    catalog: &Catalog,
    rows: DayRows,
) -> Result<RecordBatch, String> {
    let items: ArrayRef = if opts.string_ids {
        Arc::new(StringArray::from_iter_values(
            rows.items.iter().map(|&i| catalog.names[i].as_str()),
        ))
    } else {
        Arc::new(Int64Array::from_iter_values(
            rows.items.iter().map(|&i| catalog.ids[i]),
        ))
    };
    let mut columns = vec![
        items,
        Arc::new(TimestampMicrosecondArray::from(rows.ts).with_timezone("UTC")) as ArrayRef,
    ];
    if opts.quantity {
        columns.push(Arc::new(Int32Array::from(rows.quantity)));
    }
    RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.to_string())
}

/// Writes one Parquet file from the days in `days`; returns (rows, bytes).
fn write_file(
    path: &Path,
    opts: &GenOptions,
    c: &CategoryPlan,
    catalog: &Catalog,
    days: impl Iterator<Item = u32>,
) -> Result<(u64, u64), LakeError> {
    let fail = |message: String| LakeError::Output {
        path: path.to_path_buf(),
        message,
    };
    std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
        .map_err(|e| LakeError::io(path, e))?;
    let file = std::fs::File::create(path).map_err(|e| LakeError::io(path, e))?;
    let level = ZstdLevel::try_new(opts.zstd_level).map_err(|e| fail(e.to_string()))?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(level))
        .set_max_row_group_row_count(Some(opts.row_group_rows))
        .build();
    let schema = schema(opts);
    let mut writer =
        ArrowWriter::try_new(std::io::BufWriter::new(file), schema.clone(), Some(props))
            .map_err(|e| fail(e.to_string()))?;
    let mut rows = 0;
    for day in days {
        let r = day_rows(opts, c, catalog, day);
        if r.ts.is_empty() {
            continue;
        }
        rows += r.ts.len() as u64;
        let b = batch(opts, &schema, catalog, r).map_err(fail)?;
        writer.write(&b).map_err(|e| fail(e.to_string()))?;
    }
    writer.close().map_err(|e| fail(e.to_string()))?;
    let bytes = std::fs::metadata(path)
        .map_err(|e| LakeError::io(path, e))?
        .len();
    Ok((rows, bytes))
}

fn day_name(opts: &GenOptions, c: &CategoryPlan, day: u32) -> String {
    let start_us = opts.end_us - i64::from(c.days - day) * DAY_US;
    chrono::DateTime::from_timestamp_micros(start_us)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| "1970-01-01".into())
}

/// Generates a lake into `out`, which must not exist yet. The lake is built in
/// a temporary sibling folder and renamed into place, so a failed run leaves
/// nothing behind. `progress` receives rows as they are written.
pub fn generate(
    out: &Path,
    opts: &GenOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<GenSummary, LakeError> {
    if out.exists() {
        return Err(LakeError::Output {
            path: out.to_path_buf(),
            message: "already exists; remove it or pick another folder".into(),
        });
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| LakeError::io(&parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".topsellers-gen-")
        .tempdir_in(&parent)
        .map_err(|e| LakeError::io(&parent, e))?;
    let plans = plan_categories(opts);
    let jobs: Vec<(usize, Option<u32>)> = plans
        .iter()
        .flat_map(|c| match opts.layout {
            Layout::Category => vec![(c.index, None)],
            Layout::CategoryDay => (0..c.days)
                .filter(|&d| c.sparse_has_day(d))
                .map(|d| (c.index, Some(d)))
                .collect(),
        })
        .collect();
    let catalogs: Vec<Catalog> = plans.par_iter().map(|c| Catalog::new(opts, c)).collect();
    let written = jobs
        .par_iter()
        .map(|&(ci, day)| {
            let c = &plans[ci];
            let dir = tmp.path().join(format!("category={}", c.name));
            let (path, days): (PathBuf, Box<dyn Iterator<Item = u32>>) = match day {
                None => (dir.join("part-00000.parquet"), Box::new(0..c.days)),
                Some(d) => (
                    dir.join(format!("dt={}", day_name(opts, c, d)))
                        .join("part-00000.parquet"),
                    Box::new(d..d + 1),
                ),
            };
            let (rows, bytes) = write_file(&path, opts, c, &catalogs[ci], days)?;
            progress(rows);
            Ok((rows, bytes))
        })
        .collect::<Result<Vec<_>, LakeError>>()?;
    let tmp_path = tmp.keep();
    std::fs::rename(&tmp_path, out).map_err(|e| LakeError::io(out, e))?;
    Ok(GenSummary {
        rows: written.iter().map(|w| w.0).sum(),
        files: written.len() as u64,
        bytes: written.iter().map(|w| w.1).sum(),
    })
}

impl CategoryPlan {
    /// Whether a day of this category gets a file in the day layout: every day
    /// of a dense category; for a sparse one, only days with purchases.
    fn sparse_has_day(&self, day: u32) -> bool {
        let base = self.purchases / u64::from(self.days);
        let extra = u64::from(self.days - 1 - day) < self.purchases % u64::from(self.days);
        !self.sparse || base > 0 || extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_add_up_and_are_skewed() {
        let opts = GenOptions {
            purchases: 1_000_000,
            categories: 50,
            ..GenOptions::default()
        };
        let plans = plan_categories(&opts);
        assert_eq!(plans.iter().map(|c| c.purchases).sum::<u64>(), 1_000_000);
        assert_eq!(plans.iter().filter(|c| c.sparse).count(), 10);
        assert!(plans[0].purchases > 10 * plans[30].purchases);
        let skewed = GenOptions {
            top_category_share: Some(0.5),
            ..opts
        };
        let plans = plan_categories(&skewed);
        let share = plans[0].purchases as f64 / 1e6;
        assert!((share - 0.5).abs() < 0.01, "{share}");
    }

    #[test]
    fn days_partition_the_purchases() {
        let opts = GenOptions {
            purchases: 10_007,
            categories: 3,
            sparse_fraction: 0.0,
            days: 7,
            ..GenOptions::default()
        };
        let plans = plan_categories(&opts);
        let catalog = Catalog::new(&opts, &plans[1]);
        let total: usize = (0..7)
            .map(|d| day_rows(&opts, &plans[1], &catalog, d).ts.len())
            .sum();
        assert_eq!(total as u64, plans[1].purchases);
        let r = day_rows(&opts, &plans[1], &catalog, 6);
        assert!(r.ts.windows(2).all(|w| w[0] <= w[1]));
        assert!(r
            .ts
            .iter()
            .all(|&t| t < opts.end_us && t >= opts.end_us - DAY_US));
    }
}
