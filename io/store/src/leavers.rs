//! Leavers: categories a variant had published that its newest run no
//! longer has. Once the run's manifest is written, their items are deleted,
//! each only while its stored generation is older than the run's (README,
//! *Guarantees: Leavers*). What is shared by every store lives here: which
//! variants may delete, which stored keys leave, and the tally; each store
//! lists its keys and deletes them its own way (`dynamo::leavers`, the
//! MySQL crate's `leavers`).
//!
//! # Design
//!
//! Leavers are found from what the store holds (every key of the variant),
//! never from a memory of the previous run: a publish that died between
//! its manifest and its deletes leaves them to the next publish of the same
//! variant, which finds them again. Only the whole run's categories decide
//! (an incremental cycle writes a few groups but hands over the whole run),
//! so a category the cycle did not rewrite is never taken for a leaver.

use std::collections::HashSet;

use topsellers_lake::ResultSet;

use crate::model::{PublishReport, VariantPublish};

/// One stored key of a variant that the run does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leaver {
    /// The variant.
    pub variant: String,
    /// The category.
    pub category: String,
    /// The generation stored when the key was listed.
    pub generation: i64,
}

/// Whether the leavers of `v` may be deleted: the variant was published
/// (or was already live) at the run's generation, and its manifest is the
/// run's. A stale variant, or one whose manifest a newer run holds, deletes
/// nothing.
pub fn may_delete(v: &VariantPublish) -> bool {
    v.outcome != "stale" && v.manifest != "newer"
}

/// The variants of `report` whose leavers may be deleted.
pub fn deleting_variants(report: &PublishReport) -> Vec<String> {
    report
        .variants
        .iter()
        .filter(|v| may_delete(v))
        .map(|v| v.variant.clone())
        .collect()
}

/// Of `stored` (category, generation) keys of `variant`, those `set` does
/// not have, sorted by category. The ones at the run's generation or newer
/// are counted in `kept` and left out: a condition would refuse them anyway.
pub fn leavers_of(
    set: &ResultSet,
    variant: &str,
    stored: impl IntoIterator<Item = (String, i64)>,
    kept: &mut u64,
) -> Vec<Leaver> {
    let ours: HashSet<&str> = set
        .groups_of(variant)
        .map(|g| g.category.as_str())
        .collect();
    let generation = set.generation();
    let mut out: Vec<Leaver> = stored
        .into_iter()
        .filter(|(c, _)| !ours.contains(c.as_str()))
        .filter_map(|(category, g)| {
            if g >= generation {
                *kept += 1;
                None
            } else {
                Some(Leaver {
                    variant: variant.to_string(),
                    category,
                    generation: g,
                })
            }
        })
        .collect();
    out.sort_by(|a, b| a.category.cmp(&b.category));
    out
}

/// Adds what the deletes of one variant did to `report`: `deleted` are the
/// keys now gone, `kept` the leavers a newer run holds.
pub fn record(report: &mut PublishReport, variant: &str, deleted: Vec<Leaver>, kept: u64) {
    if let Some(v) = report.variants.iter_mut().find(|v| v.variant == variant) {
        v.leavers_deleted += deleted.len() as u64;
        v.leavers_kept += kept;
    }
    report
        .left
        .extend(deleted.into_iter().map(|l| (l.variant, l.category)));
}

#[cfg(test)]
mod tests {
    use topsellers_engine::{ItemId, Ranked};
    use topsellers_lake::ResultGroup;

    use super::*;

    fn set(categories: &[&str]) -> ResultSet {
        ResultSet {
            as_of_ns: 20 * 1_000_000,
            computed_at_ns: 0,
            variants: vec!["default".into(), "fast".into()],
            groups: categories
                .iter()
                .map(|c| ResultGroup {
                    variant: "default".into(),
                    category: (*c).into(),
                    window_s: 1,
                    counted: None,
                    items: vec![Ranked {
                        item: ItemId::Int(1),
                        score: 1.0,
                    }],
                })
                .collect(),
        }
    }

    #[test]
    fn only_older_keys_the_run_lacks_leave() {
        let s = set(&["a", "b"]);
        let stored = [
            ("a", 10),
            ("c", 10),
            ("b", 20),
            ("e", 30),
            ("d", 19),
            ("f", 20),
        ]
        .map(|(c, g)| (c.to_string(), g));
        let mut kept = 0;
        let leavers = leavers_of(&s, "default", stored, &mut kept);
        let names: Vec<(&str, i64)> = leavers
            .iter()
            .map(|l| (l.category.as_str(), l.generation))
            .collect();
        assert_eq!(names, [("c", 10), ("d", 19)]);
        assert_eq!(kept, 2, "e (newer) and f (the run's own generation) stay");
        // Another variant of the run with no groups: every older key leaves.
        let mut kept = 0;
        let all = leavers_of(&s, "fast", [("a".to_string(), 1)], &mut kept);
        assert_eq!(all.len(), 1);
    }

    #[test]
    fn stale_variants_and_newer_manifests_delete_nothing() {
        let mut v = VariantPublish {
            outcome: "published",
            manifest: "written",
            ..VariantPublish::default()
        };
        assert!(may_delete(&v));
        v.manifest = "unchanged";
        v.outcome = "unchanged";
        assert!(
            may_delete(&v),
            "a rerun finishes the deletes of a run that died"
        );
        v.manifest = "newer";
        assert!(!may_delete(&v));
        v.outcome = "stale";
        assert!(!may_delete(&v));
    }
}
