//! Incremental runs: a persistent engine state next to the local lake, moved
//! forward from its `as_of` to the next by reading only what changed.
//!
//! # Background
//!
//! A full run reads every purchase inside every category's window. With
//! exponential decay the score at `T2` follows from the score at `T1` (see
//! `topsellers_engine::CategoryState`), so a cycle only needs:
//!
//! - the lake files that are new since the state (late events included);
//! - the purchases that slid out of each category's window, re-read from the
//!   files (with `dt=` partitions, the day or two that expired);
//! - purchases of known files that were in the future at `T1` and now count.
//!
//! # Design
//!
//! ```text
//!  load state ──(missing, damaged, other parameters, lake or as_of)──▶ full rebuild
//!      │
//!  discover lake ──(a folded-in file changed or vanished)──────────────▶ full rebuild
//!      │          (size, modification time or Parquet footer)
//!      │
//!  per category, in parallel: expire → came of age → new files
//!      │
//!  window rule: a category whose window must grow or shrink is recomputed
//!  in full (the fast scan chooses its window, then its state is rebuilt)
//!      │
//!  tops of every category; the state is saved by the caller after publish
//! ```
//!
//! A rebuild is a normal full scan (whose results are exact by definition)
//! plus one read of each category's in-window rows to build its state.

mod cycle;
mod identity;
mod persist;
mod rows;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use topsellers_engine::{CategoryState, ScoringPlan};

pub use cycle::{advance, advance_from, prepare, CycleOptions, CycleOutput, Prior};
pub use persist::{decode, encode, load, save};
pub use rows::{visit_rows, FileRead, TimeSpan};

use crate::columns::{ColumnNames, ItemKind};

/// A lake file folded into the state.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEntry {
    /// Its category.
    pub category: String,
    /// Size in bytes when folded in.
    pub size: u64,
    /// Modification time (ns) when folded in.
    pub mtime_ns: i64,
    /// CRC-32 of its Parquet footer when folded in: what changes with the
    /// content when size and time do not.
    pub footer_crc: u32,
    /// Its purchase times.
    pub span: TimeSpan,
}

/// The whole persistent state.
#[derive(Debug, Clone, Default)]
pub struct State {
    /// What the scores depend on (see [`fingerprint`]).
    pub fingerprint: String,
    /// The lake folder.
    pub lake: PathBuf,
    /// The state's reference time.
    pub as_of_ns: i64,
    /// The lake's id type.
    pub item_kind: Option<ItemKind>,
    /// Variants scored.
    pub variants: usize,
    /// Files folded in, by path relative to the lake.
    pub files: BTreeMap<PathBuf, FileEntry>,
    /// Category states, with at least one item each. What is published is
    /// not remembered here: the publish compares with what DynamoDB holds.
    pub categories: BTreeMap<String, CategoryState>,
}

/// What the scores of a state depend on, besides the data: the variants
/// (names and exact decay rates), the window ladder, the coverage threshold,
/// N and the column names. Any difference forces a rebuild.
pub fn fingerprint(plan: &ScoringPlan, columns: &ColumnNames) -> String {
    let variants: Vec<String> = plan
        .variants
        .iter()
        .map(|v| format!("{}:{:016x}", v.name, v.lambda_per_sec.to_bits()))
        .collect();
    format!(
        "v1;variants={};windows={:?};min_items={};top={};columns={},{},{}",
        variants.join(","),
        plan.windows.windows_ns(),
        plan.min_items,
        plan.top,
        columns.item,
        columns.ts,
        columns.quantity
    )
}

/// What a cycle did, for the run report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CycleReport {
    /// `incremental` or `rebuild`.
    pub mode: &'static str,
    /// Why the state was rebuilt, when it was.
    pub rebuild_reason: Option<String>,
    /// The state's `as_of` before the cycle (RFC 3339).
    pub from_as_of: Option<String>,
    /// Files in the lake within the horizon.
    pub files_found: u64,
    /// Files new since the state.
    pub files_new: u64,
    /// Known files re-read for expired or matured purchases.
    pub files_reread: u64,
    /// Files of the categories recomputed in full (each read by the full
    /// scan, then once more into the category's state).
    pub files_recomputed: u64,
    /// Reads of lake files, all counted (a file re-read for both expired and
    /// matured purchases counts twice, a recomputed file twice).
    pub file_reads: u64,
    /// Rows decoded.
    pub rows_decoded: u64,
    /// Purchases added (new files and purchases that came of age).
    pub purchases_added: u64,
    /// Purchases taken back (slid out of the window).
    pub purchases_expired: u64,
    /// Categories recomputed in full, and why.
    pub recomputed: BTreeMap<String, String>,
    /// Categories in the state after the cycle.
    pub categories: u64,
    /// Items in the state after the cycle.
    pub items: u64,
    /// Seconds loading the state.
    pub load_s: f64,
    /// Seconds discovering the lake (and checking the known files' footers).
    pub discover_s: f64,
    /// Seconds updating the state.
    pub update_s: f64,
    /// Seconds recomputing categories in full.
    pub recompute_s: f64,
    /// Seconds of the full recompute that verified the cycle (`--verify`).
    pub verify_s: Option<f64>,
}
