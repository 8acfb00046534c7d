//! Property test: the parallel fast path agrees with the plain reference on
//! random small lakes (sparse categories forcing every window step, exact
//! ties, nulls, bad quantities, future events, several variants, string and
//! integer ids), and gives bit-identical results for 1, 2 and 7 threads.
//! Large cases take units past the hot loop's 2,048-row blocks and thousands
//! of distinct items, so that the id tables grow while rows are added.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use topsellers_engine::reference::{check_outcome, score_category, Purchase};
use topsellers_engine::{
    aggregate_units, Batch, BytesInterner, CategoryOutcome, IntInterner, ItemId, KeyColumn,
    ScoringPlan, StrColumn, Validity, Variant,
};

const DAY_MS: i64 = 86_400_000;
const AS_OF_MS: i64 = 20_000 * DAY_MS;

#[derive(Debug, Clone)]
struct Row {
    item: Option<u16>,
    ts_ms: Option<i64>,
    quantity: Option<i64>,
}

/// A row of one of `items` items.
fn row(items: u16) -> impl Strategy<Value = Row> {
    // Ages on whole hours make exact ties common; some land after as_of, some
    // beyond the largest window (20 days).
    let age_h = prop_oneof![4 => 0i64..24 * 3, 3 => 0i64..24 * 22, 1 => -48i64..0];
    (
        prop::option::weighted(0.95, 0u16..items),
        prop::option::weighted(0.95, age_h),
        prop::option::weighted(0.8, -1i64..4),
    )
        .prop_map(|(item, age_h, quantity)| Row {
            item,
            ts_ms: age_h.map(|h| AS_OF_MS - h * 3_600_000),
            quantity,
        })
}

#[derive(Debug, Clone)]
struct Lake {
    categories: Vec<(Vec<Row>, Vec<usize>)>,
    has_quantity: bool,
    half_lives_h: Vec<u32>,
    min_items: usize,
    top: usize,
}

/// Small lakes: up to 120 rows of 14 items per category, up to 5 cuts.
fn lake() -> impl Strategy<Value = Lake> {
    lake_of(0..120, 14, 0..6, 1..5, 1..7)
}

/// Large lakes: 4,200 to 7,000 rows of up to 3,000 items per category, at
/// most one cut, so that a unit has more than one 2,048-row block and
/// more distinct items than a fresh id table holds; `min_items` up to 3,000
/// makes some windows grow.
fn large_lake() -> impl Strategy<Value = Lake> {
    lake_of(4_200..7_000, 3_000, 0..2, 1..3, 1..3_000)
}

fn lake_of(
    rows: std::ops::Range<usize>,
    items: u16,
    cuts: std::ops::Range<usize>,
    categories: std::ops::Range<usize>,
    min_items: std::ops::Range<usize>,
) -> impl Strategy<Value = Lake> {
    let category = prop::collection::vec(row(items), rows).prop_flat_map(move |rows| {
        let n = rows.len();
        (Just(rows), prop::collection::vec(0..=n, cuts.clone()))
    });
    (
        prop::collection::vec(category, categories),
        any::<bool>(),
        prop::collection::vec(
            prop_oneof![Just(12u32), Just(24), Just(24 * 7), 1u32..500],
            1..4,
        ),
        min_items,
        1usize..8,
    )
        .prop_map(
            |(categories, has_quantity, half_lives_h, min_items, top)| Lake {
                categories: categories
                    .into_iter()
                    .map(|(rows, mut cuts)| {
                        cuts.sort_unstable();
                        cuts.dedup();
                        (rows, cuts)
                    })
                    .collect(),
                has_quantity,
                half_lives_h,
                min_items,
                top,
            },
        )
}

fn plan(lake: &Lake) -> ScoringPlan {
    let variants = lake
        .half_lives_h
        .iter()
        .enumerate()
        .map(|(i, &h)| Variant::from_half_life(format!("v{i}"), f64::from(h) * 3600.0).unwrap())
        .collect();
    let day_ns = DAY_MS * 1_000_000;
    ScoringPlan::new(
        AS_OF_MS * 1_000_000,
        variants,
        2 * day_ns,
        20 * day_ns,
        Some(lake.min_items),
        lake.top,
    )
    .unwrap()
}

/// Builds an Arrow-style validity bitmap.
fn bitmap(valid: impl Iterator<Item = bool>) -> Vec<u8> {
    let mut bits = Vec::new();
    for (i, v) in valid.enumerate() {
        if i % 8 == 0 {
            bits.push(0);
        }
        if v {
            *bits.last_mut().unwrap() |= 1 << (i % 8);
        }
    }
    bits
}

fn string_id(item: u16) -> String {
    // One id per item (7,919 is prime to 65,521); lengths vary so that
    // bytewise order differs from numeric order.
    format!("sku-{}", u32::from(item) * 7_919 % 65_521)
}

/// Runs the fast path on one category, split into units at `cuts`.
fn fast(
    plan: &ScoringPlan,
    lake: &Lake,
    name: &str,
    rows: &[Row],
    cuts: &[usize],
    strings: bool,
) -> CategoryOutcome {
    let mut bounds = vec![0];
    bounds.extend(cuts.iter().copied());
    bounds.push(rows.len());
    bounds.dedup();
    let units: Vec<&[Row]> = bounds.windows(2).map(|w| &rows[w[0]..w[1]]).collect();
    let feed_common = |unit: &[Row]| {
        let ts: Vec<i64> = unit.iter().map(|r| r.ts_ms.unwrap_or(-1)).collect();
        let ts_valid = bitmap(unit.iter().map(|r| r.ts_ms.is_some()));
        let item_valid = bitmap(unit.iter().map(|r| r.item.is_some()));
        let qty: Vec<i64> = unit.iter().map(|r| r.quantity.unwrap_or(99)).collect();
        let qty_valid = bitmap(unit.iter().map(|r| r.quantity.is_some()));
        (ts, ts_valid, item_valid, qty, qty_valid)
    };
    macro_rules! run {
        ($interner:ty, $keys:expr) => {{
            let acc = aggregate_units::<$interner, (), _>(plan, units.len(), |u, acc| {
                let unit = units[u];
                let (ts, ts_valid, item_valid, qty, qty_valid) = feed_common(unit);
                let keys = $keys(unit);
                let mut batch = Batch::new(&keys, &ts, 1_000_000);
                batch.ts_valid = Some(Validity {
                    bits: &ts_valid,
                    offset: 0,
                });
                batch.items_valid = Some(Validity {
                    bits: &item_valid,
                    offset: 0,
                });
                if lake.has_quantity {
                    batch.quantity = Some(&qty);
                    batch.quantity_valid = Some(Validity {
                        bits: &qty_valid,
                        offset: 0,
                    });
                }
                acc.add(plan, &batch);
                Ok(())
            })
            .unwrap();
            acc.finish(plan, name.to_string())
        }};
    }
    if strings {
        run!(BytesInterner, |unit: &[Row]| StrKeys::new(unit))
    } else {
        run!(IntInterner, |unit: &[Row]| IntKeys(
            unit.iter()
                .map(|r| i64::from(r.item.unwrap_or(0)))
                .collect()
        ))
    }
}

struct IntKeys(Vec<i64>);
impl KeyColumn<IntInterner> for IntKeys {
    fn len(&self) -> usize {
        self.0.len()
    }
    fn key(&self, i: usize) -> i64 {
        self.0[i]
    }
}

struct StrKeys {
    offsets: Vec<i32>,
    data: Vec<u8>,
}
impl StrKeys {
    fn new(unit: &[Row]) -> Self {
        let mut offsets = vec![0];
        let mut data = Vec::new();
        for r in unit {
            if let Some(i) = r.item {
                data.extend_from_slice(string_id(i).as_bytes());
            }
            offsets.push(data.len() as i32);
        }
        Self { offsets, data }
    }
}
impl KeyColumn<BytesInterner> for StrKeys {
    fn len(&self) -> usize {
        self.offsets.len() - 1
    }
    fn key(&self, i: usize) -> &[u8] {
        let col = StrColumn {
            offsets: &self.offsets,
            data: &self.data,
        };
        let (start, end) = (col.offsets[i] as usize, col.offsets[i + 1] as usize);
        &self.data[start..end]
    }
}

fn reference(
    plan: &ScoringPlan,
    lake: &Lake,
    name: &str,
    rows: &[Row],
    strings: bool,
) -> CategoryOutcome {
    let purchases: Vec<Purchase> = rows
        .iter()
        .map(|r| Purchase {
            item: r.item.map(|i| {
                if strings {
                    ItemId::Str(string_id(i))
                } else {
                    ItemId::Int(i64::from(i))
                }
            }),
            ts_ns: r.ts_ms.map(|t| t * 1_000_000),
            quantity: if lake.has_quantity { r.quantity } else { None },
        })
        .collect();
    score_category(plan, name, &purchases)
}

fn run_all(lake: &Lake, strings: bool, threads: usize) -> Vec<CategoryOutcome> {
    let plan = plan(lake);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        lake.categories
            .iter()
            .enumerate()
            .map(|(c, (rows, cuts))| fast(&plan, lake, &format!("c{c}"), rows, cuts, strings))
            .collect()
    })
}

/// The fast path on 1 thread matches the reference, and 2 and 7 threads give
/// bit-identical results.
fn check_lake(lake: &Lake, strings: bool) -> Result<(), TestCaseError> {
    let plan = plan(lake);
    let one = run_all(lake, strings, 1);
    for (c, (rows, _)) in lake.categories.iter().enumerate() {
        let want = reference(&plan, lake, &format!("c{c}"), rows, strings);
        if let Err(e) = check_outcome(&one[c], &want, 1e-9) {
            prop_assert!(false, "{}", e);
        }
    }
    for threads in [2, 7] {
        prop_assert_eq!(
            &run_all(lake, strings, threads),
            &one,
            "threads = {}",
            threads
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_matches_reference(lake in lake(), strings in any::<bool>()) {
        check_lake(&lake, strings)?;
    }
}

proptest! {
    // Each case is thousands of rows: fewer cases, and shrinking stays short.
    #![proptest_config(ProptestConfig { cases: 16, max_shrink_iters: 64, ..ProptestConfig::default() })]

    #[test]
    fn fast_path_matches_reference_on_large_units(lake in large_lake(), strings in any::<bool>()) {
        let largest = lake.categories.iter().map(|(rows, cuts)| {
            let mut bounds = vec![0];
            bounds.extend(cuts);
            bounds.push(rows.len());
            bounds.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
        });
        prop_assert!(largest.min().unwrap_or(0) > 2_048, "a unit spans more than one block");
        check_lake(&lake, strings)?;
    }
}

#[test]
fn every_window_step_is_reachable() {
    // One item a day for 20 days, min_items 10: needs the 16-day step.
    let rows: Vec<Row> = (0..20)
        .map(|d| Row {
            item: Some(d as u16),
            ts_ms: Some(AS_OF_MS - d * DAY_MS - 1),
            quantity: None,
        })
        .collect();
    let lake = Lake {
        categories: vec![(rows.clone(), vec![5])],
        has_quantity: false,
        half_lives_h: vec![24],
        min_items: 10,
        top: 3,
    };
    let plan = plan(&lake);
    let out = fast(&plan, &lake, "c", &rows, &[5], false);
    let scored = out.scored.unwrap();
    assert_eq!(scored.window_ns, 16 * DAY_MS * 1_000_000);
    assert_eq!(scored.distinct_items, 16);
    assert_eq!(scored.top[0][0].item, ItemId::Int(0));
}
