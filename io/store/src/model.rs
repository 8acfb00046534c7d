//! The vocabulary of a results store, whatever holds it: the groups and
//! manifests it stores, what a publish did and what one would change.

use std::collections::BTreeSet;

use serde::Serialize;
use topsellers_engine::Ranked;
use topsellers_lake::{ResultSet, VariantTotals};

/// The key of a (variant, category) in a store: `<variant>#<category>`
/// (DynamoDB's partition key, SPEC section 4).
pub fn group_key(variant: &str, category: &str) -> String {
    format!("{variant}#{category}")
}

/// A (variant, category) item as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredGroup {
    /// The run's generation.
    pub generation: i64,
    /// The run's `as_of`.
    pub as_of: String,
    /// The category's window, seconds.
    pub window_s: i64,
    /// The items with their scores, best first.
    pub items: Vec<Ranked>,
}

/// A variant's manifest: what the last published run of it was.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Manifest {
    /// The variant.
    pub variant: String,
    /// The run's generation (`as_of` in epoch ms).
    pub generation: i64,
    /// The run's `as_of`.
    pub as_of: String,
    /// When the run was computed.
    pub computed_at: String,
    /// When it was published.
    pub published_at: String,
    /// Categories, ranked items and counted purchases of the run.
    pub totals: VariantTotals,
}

/// A stored group as read: decoded, or why it cannot be.
pub type Stored = Result<StoredGroup, String>;

/// An item whose rank changed within the compared top positions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Move {
    /// The item id.
    pub item: String,
    /// Its live rank (`None`: not in the live top positions).
    pub from: Option<usize>,
    /// Its new rank (`None`: leaves the top positions).
    pub to: Option<usize>,
}

/// A category whose ranking changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryChange {
    /// The category.
    pub category: String,
    /// Items that move within the first positions compared.
    pub moved: Vec<Move>,
}

/// The changes of one variant.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VariantDiff {
    /// The variant.
    pub variant: String,
    /// The live manifest's generation and `as_of`, if any.
    pub live_generation: Option<i64>,
    /// The live manifest's `as_of`.
    pub live_as_of: Option<String>,
    /// Categories not live yet.
    pub added: Vec<String>,
    /// Live categories this run does not have: the leavers a publish of it
    /// deletes (README, *Guarantees: Leavers*).
    pub removed: Vec<String>,
    /// Categories whose order of items changes.
    pub reordered: Vec<CategoryChange>,
    /// Categories with the same items in the same order, other scores.
    pub rescored: u64,
    /// Categories exactly as live.
    pub unchanged: u64,
}

/// What happened to one variant.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VariantPublish {
    /// The variant.
    pub variant: String,
    /// `published`, `unchanged` (this run was already live) or `stale` (a
    /// newer run is live; nothing was written).
    pub outcome: &'static str,
    /// The generation of the live manifest before this publish.
    pub live_generation: Option<i64>,
    /// Categories of the run.
    pub categories: u64,
    /// Items written that did not exist.
    pub new: u64,
    /// Items written over an older (or same-generation, different) item.
    pub replaced: u64,
    /// Items already holding exactly this run's result.
    pub unchanged: u64,
    /// Items left alone because a newer run wrote them.
    pub newer: u64,
    /// The manifest: `written`, `unchanged` or `newer` (left alone).
    pub manifest: &'static str,
    /// Leavers (stored categories the run does not have) deleted after the
    /// manifest.
    pub leavers_deleted: u64,
    /// Leavers kept because a run at least as new as this one holds them.
    pub leavers_kept: u64,
    /// Seconds reading what is stored.
    pub read_s: f64,
    /// Seconds writing items and the manifest.
    pub write_s: f64,
}

/// What a publish did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PublishReport {
    /// The table.
    pub table: String,
    /// Whether the table was created.
    pub table_created: bool,
    /// The run's generation (`as_of` in epoch ms).
    pub generation: i64,
    /// The run's `as_of`.
    pub as_of: String,
    /// `published`, `no-op` (every variant already live) or `stale`.
    pub outcome: &'static str,
    /// Per variant.
    pub variants: Vec<VariantPublish>,
    /// Items written (new + replaced), manifests excluded.
    pub items_written: u64,
    /// BatchGetItem calls (retries included).
    pub batch_get_calls: u64,
    /// BatchWriteItem calls (retries included).
    pub batch_write_calls: u64,
    /// Conditional PutItem calls (manifests included).
    pub put_calls: u64,
    /// Retry rounds for unprocessed keys and items.
    pub unprocessed_retries: u64,
    /// Deletes of leavers sent (DeleteItem calls, or DELETE statements).
    pub delete_calls: u64,
    /// Seconds listing the stored keys and deleting the leavers.
    pub leavers_s: f64,
    /// Why deleting the leavers failed, after the manifest was written: the
    /// run is live, and the next publish of its variants deletes them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leavers_error: Option<String>,
    /// Seconds taken.
    pub seconds: f64,
    /// The (variant, category) of every leaver now deleted from the store:
    /// what Redis must stop serving.
    #[serde(skip)]
    pub left: Vec<(String, String)>,
    /// Indexes (into the run's groups) of the groups DynamoDB now holds at
    /// this run's generation: what Redis may be warmed with.
    #[serde(skip)]
    pub live_groups: Vec<usize>,
}

/// What a store holds, for browsing (the variant comparison page): every
/// published variant's manifest and, per category, the window each variant
/// used there.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Catalog {
    /// The manifests, by variant name.
    pub variants: Vec<Manifest>,
    /// Every category with at least one published variant, sorted.
    pub categories: Vec<CatalogCategory>,
}

/// One category of a [`Catalog`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogCategory {
    /// The category.
    pub category: String,
    /// The window of each variant published for it, seconds, by variant.
    pub windows: std::collections::BTreeMap<String, i64>,
}

impl VariantPublish {
    /// The publish of `variant` of `set` about to start, and the indexes of
    /// the groups it writes (those of `only_groups`, when given, of the
    /// variant's; `categories` counts them all).
    pub fn begin(
        set: &ResultSet,
        variant: &str,
        only_groups: Option<&BTreeSet<usize>>,
    ) -> (Self, Vec<usize>) {
        let mut indexes: Vec<usize> = (0..set.groups.len())
            .filter(|&i| set.groups[i].variant == variant)
            .collect();
        let v = Self {
            variant: variant.to_string(),
            categories: indexes.len() as u64,
            ..Self::default()
        };
        if let Some(only) = only_groups {
            indexes.retain(|i| only.contains(i));
        }
        (v, indexes)
    }

    /// Records the live manifest's generation; when it is newer than
    /// `generation`, marks the variant `stale` (nothing is written) and
    /// returns `true`.
    pub fn stale(&mut self, live: Option<&Manifest>, generation: i64) -> bool {
        self.live_generation = live.map(|m| m.generation);
        if live.is_some_and(|m| m.generation > generation) {
            self.outcome = "stale";
            self.manifest = "newer";
            self.newer = self.categories;
            return true;
        }
        false
    }
}

impl PublishReport {
    /// Adds a variant whose writes are done: `unchanged` when nothing was
    /// written and the manifest was already the run's, else `published`.
    pub fn add(&mut self, mut v: VariantPublish) {
        v.outcome = if v.new + v.replaced == 0 && v.manifest == "unchanged" {
            "unchanged"
        } else {
            "published"
        };
        self.items_written += v.new + v.replaced;
        self.variants.push(v);
    }

    /// Sets the overall outcome from the variants' and sorts the live
    /// groups: `no-op` when every variant was already live, `stale` when
    /// every one was older than what is live, else `published`.
    pub fn settle(&mut self) {
        self.outcome = if self.variants.iter().all(|v| v.outcome == "unchanged") {
            "no-op"
        } else if self.variants.iter().all(|v| v.outcome == "stale") {
            "stale"
        } else {
            "published"
        };
        self.live_groups.sort_unstable();
    }
}
