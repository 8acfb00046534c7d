//! Reading a results file back (any of the three formats `compute` writes),
//! for `publish`.
//!
//! CSV does not say whether an id is an integer or a string of digits. The
//! rule: when every `item_id` of the file parses as a 64-bit integer, the
//! ids are integers (DynamoDB numbers, JSON numbers); otherwise all of them
//! are strings. A lake whose string ids all look like numbers should publish
//! from JSON or Parquet results, which keep the type.

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;

use serde::Deserialize;
use topsellers_engine::{ItemId, Ranked};

use super::set::{all_int, text_id, ResultGroup, ResultSet};
use super::Format;
use crate::error::LakeError;
use crate::timefmt::parse_rfc3339;

/// Reads a results file written by `compute` (`.csv`, `.json` or
/// `.parquet`). `computed_at` is taken from the file's modification time
/// (the moment `compute` renamed it into place).
pub fn read_results(path: &Path) -> Result<ResultSet, LakeError> {
    let format = Format::from_path(path)?;
    let meta = std::fs::metadata(path).map_err(|e| LakeError::io(path, e))?;
    let computed_at_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos().min(i64::MAX as u128) as i64);
    let mut set = match format {
        Format::Json => read_json(path)?,
        Format::Csv => read_csv(path)?,
        Format::Parquet => super::read_parquet::read_parquet(path)?,
    };
    set.computed_at_ns = computed_at_ns;
    Ok(set)
}

pub(super) fn bad(
    path: &Path,
    location: impl Into<String>,
    message: impl Into<String>,
) -> LakeError {
    LakeError::BadResults {
        path: path.to_path_buf(),
        location: location.into(),
        message: message.into(),
    }
}

/// One row of a CSV or Parquet results file.
pub(super) struct Row<'a> {
    pub(super) variant: &'a str,
    pub(super) category: &'a str,
    pub(super) rank: i64,
    pub(super) item: ItemId,
    pub(super) score: f64,
    pub(super) window_s: i64,
    pub(super) as_of: &'a str,
}

/// Groups rows (in file order) into a [`ResultSet`], checking that ranks run
/// 1, 2, … within each group, that a group's rows are contiguous and share
/// one window, and that the whole file has one `as_of`.
pub(super) struct Grouper<'p> {
    path: &'p Path,
    as_of: Option<(String, i64)>,
    variants: Vec<String>,
    groups: Vec<ResultGroup>,
    seen: HashMap<(String, String), usize>,
}

impl<'p> Grouper<'p> {
    pub(super) fn new(path: &'p Path) -> Self {
        Self {
            path,
            as_of: None,
            variants: Vec::new(),
            groups: Vec::new(),
            seen: HashMap::new(),
        }
    }

    pub(super) fn push(&mut self, at: &dyn Fn() -> String, row: Row<'_>) -> Result<(), LakeError> {
        let path = self.path;
        match &self.as_of {
            Some((text, _)) if text == row.as_of => {}
            Some((text, _)) => {
                return Err(bad(
                    path,
                    at(),
                    format!(
                        "as_of {:?} differs from {text:?} of the first row; a results file holds one run",
                        row.as_of
                    ),
                ))
            }
            None => {
                let ns = parse_rfc3339(row.as_of).map_err(|e| bad(path, at(), e))?;
                self.as_of = Some((row.as_of.to_string(), ns));
            }
        }
        if !row.score.is_finite() {
            return Err(bad(
                path,
                at(),
                format!("score {} is not finite", row.score),
            ));
        }
        let same_group = self
            .groups
            .last()
            .is_some_and(|g| g.variant == row.variant && g.category == row.category);
        if !same_group {
            let key = (row.variant.to_string(), row.category.to_string());
            if self.seen.contains_key(&key) {
                return Err(bad(
                    path,
                    at(),
                    format!(
                        "rows of variant {:?}, category {:?} are not contiguous",
                        row.variant, row.category
                    ),
                ));
            }
            self.seen.insert(key, self.groups.len());
            if !self.variants.iter().any(|v| v == row.variant) {
                self.variants.push(row.variant.to_string());
            }
            self.groups.push(ResultGroup {
                variant: row.variant.to_string(),
                category: row.category.to_string(),
                window_s: row.window_s,
                counted: None,
                items: Vec::new(),
            });
        }
        let Some(g) = self.groups.last_mut() else {
            unreachable!("a group was just pushed");
        };
        if row.rank != g.items.len() as i64 + 1 {
            return Err(bad(
                path,
                at(),
                format!("rank {} where {} was expected", row.rank, g.items.len() + 1),
            ));
        }
        if row.window_s != g.window_s {
            return Err(bad(
                path,
                at(),
                format!(
                    "window_s {} differs from {} of rank 1",
                    row.window_s, g.window_s
                ),
            ));
        }
        g.items.push(Ranked {
            item: row.item,
            score: row.score,
        });
        Ok(())
    }

    pub(super) fn finish(self) -> Result<ResultSet, LakeError> {
        let Some((_, as_of_ns)) = self.as_of else {
            return Err(bad(
                self.path,
                "whole file",
                "holds no result rows, so no as_of either: nothing to publish",
            ));
        };
        Ok(ResultSet {
            as_of_ns,
            computed_at_ns: 0,
            variants: self.variants,
            groups: self.groups,
        })
    }
}

fn read_csv(path: &Path) -> Result<ResultSet, LakeError> {
    let mut reader =
        ::csv::Reader::from_path(path).map_err(|e| bad(path, "open", e.to_string()))?;
    let header = reader
        .headers()
        .map_err(|e| bad(path, "line 1", e.to_string()))?
        .clone();
    if header.iter().ne(super::csv::HEADER) {
        return Err(bad(
            path,
            "line 1",
            format!(
                "header is {:?}, expected {}",
                header.iter().collect::<Vec<_>>().join(","),
                super::csv::HEADER.join(",")
            ),
        ));
    }
    let mut records = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            bad(path, format!("line {line}"), e.to_string())
        })?;
        records.push(rec);
    }
    let ids: Vec<&str> = records.iter().map(|r| r.get(3).unwrap_or("")).collect();
    let ints = all_int(&ids);
    let mut grouper = Grouper::new(path);
    for (i, rec) in records.iter().enumerate() {
        let line = rec.position().map_or(i as u64 + 2, |p| p.line());
        let at = || format!("line {line}");
        let field = |n: usize| rec.get(n).unwrap_or("");
        let int = |n: usize, name: &str| {
            field(n).parse::<i64>().map_err(|_| {
                bad(
                    path,
                    at(),
                    format!("{name} {:?} is not an integer", field(n)),
                )
            })
        };
        let score = field(4)
            .parse::<f64>()
            .map_err(|_| bad(path, at(), format!("score {:?} is not a number", field(4))))?;
        grouper.push(
            &at,
            Row {
                variant: field(0),
                category: field(1),
                rank: int(2, "rank")?,
                item: text_id(field(3), ints),
                score,
                window_s: int(5, "window_s")?,
                as_of: field(6),
            },
        )?;
    }
    grouper.finish()
}

#[derive(Deserialize)]
struct JsonDoc {
    as_of: String,
    generation: Option<i64>,
    #[serde(default)]
    variants: Vec<JsonVariant>,
    results: Vec<JsonGroup>,
}

#[derive(Deserialize)]
struct JsonVariant {
    name: String,
}

#[derive(Deserialize)]
struct JsonGroup {
    variant: String,
    category: String,
    window_s: i64,
    counted: Option<u64>,
    items: Vec<JsonItem>,
}

#[derive(Deserialize)]
struct JsonItem {
    rank: i64,
    item_id: serde_json::Value,
    score: f64,
}

fn read_json(path: &Path) -> Result<ResultSet, LakeError> {
    let file = File::open(path).map_err(|e| LakeError::io(path, e))?;
    let doc: JsonDoc = serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
        bad(
            path,
            format!("line {} column {}", e.line(), e.column()),
            e.to_string(),
        )
    })?;
    let as_of_ns = parse_rfc3339(&doc.as_of).map_err(|e| bad(path, "as_of", e))?;
    if let Some(g) = doc.generation {
        if g != as_of_ns.div_euclid(1_000_000) {
            return Err(bad(
                path,
                "generation",
                format!("{g} is not as_of {} in epoch milliseconds", doc.as_of),
            ));
        }
    }
    let mut grouper = Grouper::new(path);
    grouper.as_of = Some((doc.as_of.clone(), as_of_ns));
    grouper.variants = doc.variants.into_iter().map(|v| v.name).collect();
    let mut counted = Vec::with_capacity(doc.results.len());
    for (i, g) in doc.results.iter().enumerate() {
        counted.push(g.counted);
        for (j, it) in g.items.iter().enumerate() {
            let at = || format!("results[{i}].items[{j}]");
            let item = match &it.item_id {
                serde_json::Value::Number(n) => ItemId::Int(n.as_i64().ok_or_else(|| {
                    bad(path, at(), format!("item_id {n} is not a 64-bit integer"))
                })?),
                serde_json::Value::String(s) => ItemId::Str(s.clone()),
                other => {
                    return Err(bad(
                        path,
                        at(),
                        format!("item_id {other} is neither a number nor a string"),
                    ))
                }
            };
            let row = Row {
                variant: &g.variant,
                category: &g.category,
                rank: it.rank,
                item,
                score: it.score,
                window_s: g.window_s,
                as_of: &doc.as_of,
            };
            grouper.push(&at, row)?;
        }
    }
    let mut set = grouper.finish()?;
    // A group without items has no rows; groups and `counted` line up only
    // when every group has some, which `compute` guarantees.
    if set.groups.len() == counted.len() {
        for (g, c) in set.groups.iter_mut().zip(counted) {
            g.counted = c;
        }
    }
    Ok(set)
}
