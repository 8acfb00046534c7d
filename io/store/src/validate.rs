//! The audit step of `run` (write, audit, publish): a new run is compared
//! with what is live (the manifests) before anything is published, and
//! refused when it looks broken.

use serde::Serialize;

use crate::model::Manifest;
use topsellers_lake::ResultSet;

/// How far a run may fall from the live one before it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Largest accepted drop of the category count, as a fraction (0.2 = 20%).
    pub max_category_drop: f64,
    /// Largest accepted drop of the purchases counted, as a fraction.
    pub max_counted_drop: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_category_drop: 0.2,
            max_counted_drop: 0.5,
        }
    }
}

/// Why a run was refused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    /// The variant, when the problem is one variant's.
    pub variant: Option<String>,
    /// `empty`, `stale`, `categories_dropped` or `counted_dropped`.
    pub check: &'static str,
    /// What is wrong, with the figures.
    pub message: String,
}

fn drop_fraction(live: u64, new: u64) -> f64 {
    if live == 0 || new >= live {
        0.0
    } else {
        (live - new) as f64 / live as f64
    }
}

/// Compares a run with the live manifests (one per variant, where any).
/// An empty result is always refused; the other checks need a manifest.
/// A same-generation rerun is not a problem (publishing it is a no-op).
pub fn validate(set: &ResultSet, live: &[Manifest], t: &Thresholds) -> Vec<Refusal> {
    let mut refusals = Vec::new();
    if set.groups.is_empty() {
        refusals.push(Refusal {
            variant: None,
            check: "empty",
            message: format!(
                "the results are empty: no category has a purchase within the largest window before as_of {}",
                set.as_of()
            ),
        });
        return refusals;
    }
    for variant in &set.variants {
        let new = set.totals(variant);
        let refuse = |check, message| Refusal {
            variant: Some(variant.clone()),
            check,
            message,
        };
        if new.categories == 0 {
            refusals.push(refuse(
                "empty",
                format!("variant {variant:?} has no results"),
            ));
            continue;
        }
        let Some(m) = live.iter().find(|m| m.variant == *variant) else {
            continue;
        };
        if m.generation > set.generation() {
            refusals.push(refuse(
                "stale",
                format!(
                    "variant {variant:?}: as_of {} is older than the live run's {}",
                    set.as_of(),
                    m.as_of
                ),
            ));
            continue;
        }
        let dropped = drop_fraction(m.totals.categories, new.categories);
        if dropped > t.max_category_drop {
            refusals.push(refuse(
                "categories_dropped",
                format!(
                    "variant {variant:?}: {} categories against {} live ({:.1}% fewer, more than the {:.1}% allowed)",
                    new.categories,
                    m.totals.categories,
                    dropped * 100.0,
                    t.max_category_drop * 100.0
                ),
            ));
        }
        if let (Some(live_counted), Some(counted)) = (m.totals.counted, new.counted) {
            let dropped = drop_fraction(live_counted, counted);
            if dropped > t.max_counted_drop {
                refusals.push(refuse(
                    "counted_dropped",
                    format!(
                        "variant {variant:?}: {counted} purchases counted against {live_counted} live ({:.1}% fewer, more than the {:.1}% allowed)",
                        dropped * 100.0,
                        t.max_counted_drop * 100.0
                    ),
                ));
            }
        }
    }
    refusals
}

#[cfg(test)]
mod tests {
    use topsellers_engine::{ItemId, Ranked};

    use super::*;
    use topsellers_lake::{ResultGroup, VariantTotals};

    fn set(as_of_ms: i64, categories: usize, counted: u64) -> ResultSet {
        ResultSet {
            as_of_ns: as_of_ms * 1_000_000,
            computed_at_ns: 0,
            variants: vec!["default".into()],
            groups: (0..categories)
                .map(|c| ResultGroup {
                    variant: "default".into(),
                    category: format!("c{c}"),
                    window_s: 86_400,
                    counted: Some(counted / categories as u64),
                    items: vec![Ranked {
                        item: ItemId::Int(1),
                        score: 1.0,
                    }],
                })
                .collect(),
        }
    }

    fn manifest(generation: i64, categories: u64, counted: Option<u64>) -> Manifest {
        Manifest {
            variant: "default".into(),
            generation,
            as_of: "then".into(),
            computed_at: String::new(),
            published_at: String::new(),
            totals: VariantTotals {
                categories,
                items: categories,
                counted,
            },
        }
    }

    fn checks(r: &[Refusal]) -> Vec<&'static str> {
        r.iter().map(|r| r.check).collect::<Vec<_>>()
    }

    #[test]
    fn first_run_passes_unless_empty() {
        let t = Thresholds::default();
        assert!(validate(&set(10, 5, 100), &[], &t).is_empty());
        assert_eq!(checks(&validate(&set(10, 0, 0), &[], &t)), ["empty"]);
    }

    #[test]
    fn drops_and_staleness_are_refused() {
        let t = Thresholds::default();
        let live = [manifest(10, 10, Some(1000))];
        assert!(
            validate(&set(20, 8, 1000), &live, &t).is_empty(),
            "20% is allowed"
        );
        assert!(
            validate(&set(10, 10, 1000), &live, &t).is_empty(),
            "a rerun is fine"
        );
        assert_eq!(
            checks(&validate(&set(20, 5, 1000), &live, &t)),
            ["categories_dropped"]
        );
        assert_eq!(
            checks(&validate(&set(20, 10, 400), &live, &t)),
            ["counted_dropped"]
        );
        assert_eq!(checks(&validate(&set(5, 10, 1000), &live, &t)), ["stale"]);
        let unknown = [manifest(10, 10, None)];
        assert!(validate(&set(20, 10, 1), &unknown, &t).is_empty());
        let loose = Thresholds {
            max_category_drop: 0.6,
            max_counted_drop: 0.7,
        };
        assert!(validate(&set(20, 5, 400), &live, &loose).is_empty());
    }
}
