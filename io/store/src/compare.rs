//! Comparing a run with what a store holds, whatever the store: the moves
//! within a ranking, a variant's diff (`run --dry-run`), and whether a
//! live manifest already describes the run.

use std::collections::{HashMap, HashSet};

use topsellers_lake::{ResultGroup, ResultSet};

use crate::model::{group_key, CategoryChange, Manifest, Move, Stored, StoredGroup, VariantDiff};

/// The moves among the first `top` positions between a live ranking and a
/// new one; empty when the order of those positions is the same.
pub fn moves(live: &StoredGroup, new: &ResultGroup, top: usize) -> Vec<Move> {
    let old: Vec<_> = live.items.iter().take(top).map(|r| &r.item).collect();
    let new: Vec<_> = new.items.iter().take(top).map(|r| &r.item).collect();
    let old_rank: HashMap<_, _> = old.iter().enumerate().map(|(i, it)| (*it, i + 1)).collect();
    let new_rank: HashMap<_, _> = new.iter().enumerate().map(|(i, it)| (*it, i + 1)).collect();
    let mut moved: Vec<Move> = new
        .iter()
        .enumerate()
        .filter(|(i, it)| old_rank.get(*it) != Some(&(i + 1)))
        .map(|(i, it)| Move {
            item: it.to_string(),
            from: old_rank.get(*it).copied(),
            to: Some(i + 1),
        })
        .collect();
    moved.extend(
        old.iter()
            .enumerate()
            .filter(|(_, it)| !new_rank.contains_key(*it))
            .map(|(i, it)| Move {
                item: it.to_string(),
                from: Some(i + 1),
                to: None,
            }),
    );
    moved
}

/// What a store holds of one variant, as a diff needs it.
pub struct LiveVariant<'a> {
    /// The live manifest, if any.
    pub manifest: Option<Manifest>,
    /// The stored groups of the run's categories, by [`group_key`].
    pub stored: &'a HashMap<String, Stored>,
    /// Every category the store holds for the variant.
    pub categories: Vec<String>,
}

/// The diff of `variant` of `set` against what is live, over the first
/// `top` positions; `same` says whether a stored group holds exactly a
/// run's group (each store reads scores back its own way).
pub fn variant_diff(
    set: &ResultSet,
    variant: &str,
    live: LiveVariant<'_>,
    top: usize,
    same: impl Fn(&StoredGroup, &ResultGroup) -> bool,
) -> VariantDiff {
    let mut d = VariantDiff {
        variant: variant.to_string(),
        live_generation: live.manifest.as_ref().map(|m| m.generation),
        live_as_of: live.manifest.map(|m| m.as_of),
        ..VariantDiff::default()
    };
    let groups: Vec<&ResultGroup> = set.groups_of(variant).collect();
    for g in &groups {
        match live.stored.get(&group_key(variant, &g.category)) {
            None => d.added.push(g.category.clone()),
            Some(Err(_)) => d.reordered.push(CategoryChange {
                category: g.category.clone(),
                moved: Vec::new(),
            }),
            Some(Ok(stored)) if same(stored, g) => d.unchanged += 1,
            Some(Ok(stored)) => {
                let moved = moves(stored, g, top);
                if moved.is_empty() {
                    d.rescored += 1;
                } else {
                    d.reordered.push(CategoryChange {
                        category: g.category.clone(),
                        moved,
                    });
                }
            }
        }
    }
    let ours: HashSet<&str> = groups.iter().map(|g| g.category.as_str()).collect();
    let mut removed: Vec<String> = live
        .categories
        .into_iter()
        .filter(|c| !ours.contains(c.as_str()))
        .collect();
    removed.sort();
    d.removed = removed;
    d
}

/// Whether the live manifest `m` already describes `variant` of `set`: the
/// same generation and totals. A source without `counted` (CSV, Parquet)
/// does not erase the count a JSON or `run` publish wrote.
pub fn manifest_unchanged(m: Option<&Manifest>, set: &ResultSet, variant: &str) -> bool {
    let totals = set.totals(variant);
    m.is_some_and(|m| {
        m.generation == set.generation()
            && (m.totals.categories, m.totals.items) == (totals.categories, totals.items)
            && (totals.counted.is_none() || m.totals.counted == totals.counted)
    })
}

#[cfg(test)]
mod tests {
    use topsellers_engine::{ItemId, Ranked};

    use super::*;

    fn ranked(ids: &[i64]) -> Vec<Ranked> {
        ids.iter()
            .map(|&i| Ranked {
                item: ItemId::Int(i),
                score: 1.0,
            })
            .collect()
    }

    #[test]
    fn moves_within_the_top() {
        let live = StoredGroup {
            generation: 1,
            as_of: String::new(),
            window_s: 1,
            items: ranked(&[1, 2, 3, 4]),
        };
        let new = ResultGroup {
            variant: "v".into(),
            category: "c".into(),
            window_s: 1,
            counted: None,
            items: ranked(&[2, 1, 3, 5]),
        };
        let m = moves(&live, &new, 4);
        let show: Vec<_> = m.iter().map(|m| (m.item.as_str(), m.from, m.to)).collect();
        assert_eq!(
            show,
            [
                ("2", Some(2), Some(1)),
                ("1", Some(1), Some(2)),
                ("5", None, Some(4)),
                ("4", Some(4), None)
            ]
        );
        assert!(moves(&live, &new, 0).is_empty());
        let same = ResultGroup {
            items: ranked(&[1, 2, 3, 4]),
            ..new
        };
        assert!(moves(&live, &same, 4).is_empty());
    }
}
