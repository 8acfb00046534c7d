//! A run's results as owned groups, one per (variant, category): what
//! `publish` sends to DynamoDB and Redis, whether it comes from a compute
//! that just finished or from a results file read back.

use topsellers_engine::{ItemId, Ranked};

use super::RunResults;
use crate::timefmt::rfc3339;

/// The ranked items of one (variant, category).
#[derive(Debug, Clone, PartialEq)]
pub struct ResultGroup {
    /// Variant name.
    pub variant: String,
    /// Category.
    pub category: String,
    /// The category's window in whole seconds.
    pub window_s: i64,
    /// Purchases counted under that window; `None` when the source does
    /// not carry it (CSV and Parquet results).
    pub counted: Option<u64>,
    /// The items, best first (rank = index + 1).
    pub items: Vec<Ranked>,
}

/// A whole run's results.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultSet {
    /// The run's reference time, ns since the epoch.
    pub as_of_ns: i64,
    /// When the results were computed, ns since the epoch.
    pub computed_at_ns: i64,
    /// Variant names, in output order.
    pub variants: Vec<String>,
    /// The groups, by variant (in `variants` order) then category.
    pub groups: Vec<ResultGroup>,
}

/// Totals of one variant of a run: what a manifest records and what
/// validation compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct VariantTotals {
    /// Categories with results.
    pub categories: u64,
    /// Ranked items over all categories.
    pub items: u64,
    /// Purchases counted over all categories, when known.
    pub counted: Option<u64>,
}

impl ResultSet {
    /// The run's generation: `as_of` in epoch milliseconds.
    pub fn generation(&self) -> i64 {
        self.as_of_ns.div_euclid(1_000_000)
    }

    /// `as_of` in RFC 3339.
    pub fn as_of(&self) -> String {
        rfc3339(self.as_of_ns)
    }

    /// `computed_at` in RFC 3339.
    pub fn computed_at(&self) -> String {
        rfc3339(self.computed_at_ns)
    }

    /// The results of a compute that just finished.
    pub fn from_run(results: &RunResults<'_>, computed_at_ns: i64) -> Self {
        let mut groups = Vec::new();
        for (v, variant) in results.plan.variants.iter().enumerate() {
            for o in results.outcomes {
                let Some(s) = &o.scored else { continue };
                groups.push(ResultGroup {
                    variant: variant.name.clone(),
                    category: o.category.clone(),
                    window_s: s.window_ns / 1_000_000_000,
                    counted: Some(s.counted),
                    items: s.top[v].clone(),
                });
            }
        }
        Self {
            as_of_ns: results.plan.as_of_ns,
            computed_at_ns,
            variants: results
                .plan
                .variants
                .iter()
                .map(|v| v.name.clone())
                .collect(),
            groups,
        }
    }

    /// The groups of one variant.
    pub fn groups_of<'a>(&'a self, variant: &'a str) -> impl Iterator<Item = &'a ResultGroup> {
        self.groups.iter().filter(move |g| g.variant == variant)
    }

    /// The totals of one variant.
    pub fn totals(&self, variant: &str) -> VariantTotals {
        let mut t = VariantTotals {
            counted: Some(0),
            ..VariantTotals::default()
        };
        for g in self.groups_of(variant) {
            t.categories += 1;
            t.items += g.items.len() as u64;
            t.counted = t.counted.zip(g.counted).map(|(a, b)| a + b);
        }
        t
    }

    /// Number of ranked items over all groups.
    pub fn item_count(&self) -> u64 {
        self.groups.iter().map(|g| g.items.len() as u64).sum()
    }
}

/// Whether every id is an integer (used to type CSV ids, see [`read_results`](super::read_results)).
pub(crate) fn all_int(ids: &[&str]) -> bool {
    !ids.is_empty() && ids.iter().all(|s| s.parse::<i64>().is_ok())
}

/// An id as read from text: an integer where `ints`, else a string.
pub(crate) fn text_id(text: &str, ints: bool) -> ItemId {
    match text.parse::<i64>() {
        Ok(v) if ints => ItemId::Int(v),
        _ => ItemId::Str(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(variant: &str, category: &str, counted: Option<u64>, n: usize) -> ResultGroup {
        ResultGroup {
            variant: variant.into(),
            category: category.into(),
            window_s: 86_400,
            counted,
            items: (0..n)
                .map(|i| Ranked {
                    item: ItemId::Int(i as i64),
                    score: 1.0 / (i + 1) as f64,
                })
                .collect(),
        }
    }

    #[test]
    fn totals_per_variant() {
        let set = ResultSet {
            as_of_ns: 1_700_000_000_123_456_789,
            computed_at_ns: 0,
            variants: vec!["a".into(), "b".into()],
            groups: vec![
                group("a", "x", Some(5), 3),
                group("a", "y", Some(7), 2),
                group("b", "x", None, 3),
            ],
        };
        assert_eq!(set.generation(), 1_700_000_000_123);
        assert_eq!(
            set.totals("a"),
            VariantTotals {
                categories: 2,
                items: 5,
                counted: Some(12)
            }
        );
        assert_eq!(set.totals("b").counted, None);
        assert_eq!(set.totals("c").categories, 0);
        assert_eq!(set.item_count(), 8);
    }

    #[test]
    fn csv_id_rule() {
        assert!(all_int(&["1", "-2", "30"]));
        assert!(!all_int(&["1", "x"]));
        assert!(!all_int(&[]));
        assert_eq!(text_id("007", false), ItemId::Str("007".into()));
        assert_eq!(text_id("7", true), ItemId::Int(7));
    }
}
