//! Which columns of a file hold the item id, the time and the quantity, and
//! how to read each of them.

use std::path::Path;

use arrow_schema::{DataType, Schema, TimeUnit};
use parquet::basic::{LogicalType, TimeUnit as PqTimeUnit, Type as PhysicalType};
use parquet::schema::types::SchemaDescriptor;

use crate::error::LakeError;

/// The configured column names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnNames {
    /// Item id column (INT64 or UTF8).
    pub item: String,
    /// Purchase time column (TIMESTAMP of any unit, or INT64 epoch millis).
    pub ts: String,
    /// Optional quantity column (any integer type).
    pub quantity: String,
}

impl Default for ColumnNames {
    fn default() -> Self {
        Self {
            item: "item_id".into(),
            ts: "ts".into(),
            quantity: "quantity".into(),
        }
    }
}

/// The item id representation of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// Integer ids.
    Int,
    /// UTF8 string ids.
    Str,
}

impl ItemKind {
    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Int => "integers",
            ItemKind::Str => "strings",
        }
    }
}

/// Where the needed columns are in one file, and how to read them.
#[derive(Debug, Clone)]
pub struct ResolvedColumns {
    /// Root indices to project, ascending.
    pub roots: Vec<usize>,
    /// The item id type.
    pub item_kind: ItemKind,
    /// Nanoseconds per unit of the decoded time column.
    pub ts_unit_ns: i64,
    /// Leaf index of the time column, for row-group statistics.
    pub ts_leaf: usize,
    /// Nanoseconds per unit of the time column's raw statistics, when they can be trusted.
    pub ts_stats_unit_ns: Option<i64>,
    /// Leaf indices of the projected columns (for their sizes).
    pub leaves: Vec<usize>,
}

fn unit_ns(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1_000_000_000,
        TimeUnit::Millisecond => 1_000_000,
        TimeUnit::Microsecond => 1_000,
        TimeUnit::Nanosecond => 1,
    }
}

fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

/// Resolves `names` in a file's Arrow schema (as the reader decodes it) and
/// Parquet schema.
pub fn resolve(
    path: &Path,
    names: &ColumnNames,
    schema: &Schema,
    descr: &SchemaDescriptor,
) -> Result<ResolvedColumns, LakeError> {
    let find = |name: &str| schema.index_of(name).ok();
    let missing = |column: &str| LakeError::MissingColumn {
        path: path.to_path_buf(),
        column: column.to_string(),
        available: schema
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect::<Vec<_>>()
            .join(", "),
    };
    let wrong = |column: &str, found: &DataType, expected: &'static str| LakeError::ColumnType {
        path: path.to_path_buf(),
        column: column.to_string(),
        found: found.to_string(),
        expected,
    };
    let item = find(&names.item).ok_or_else(|| missing(&names.item))?;
    let item_type = schema.field(item).data_type();
    let item_kind = match item_type {
        t if is_integer(t) => ItemKind::Int,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => ItemKind::Str,
        t => return Err(wrong(&names.item, t, "INT64 or UTF8 string")),
    };
    let ts = find(&names.ts).ok_or_else(|| missing(&names.ts))?;
    let ts_unit_ns = match schema.field(ts).data_type() {
        DataType::Timestamp(unit, _) => unit_ns(*unit),
        DataType::Int64 => 1_000_000,
        t => return Err(wrong(&names.ts, t, "TIMESTAMP or INT64 epoch milliseconds")),
    };
    let quantity = find(&names.quantity);
    if let Some(q) = quantity {
        let t = schema.field(q).data_type();
        if !is_integer(t) {
            return Err(wrong(&names.quantity, t, "an integer type"));
        }
    }
    let leaf_of = |name: &str| {
        descr
            .columns()
            .iter()
            .position(|c| c.path().parts() == [name])
    };
    let ts_leaf = leaf_of(&names.ts).ok_or_else(|| missing(&names.ts))?;
    let mut leaves: Vec<usize> = [&names.item, &names.ts, &names.quantity]
        .iter()
        .filter_map(|n| leaf_of(n))
        .collect();
    leaves.dedup();
    let leaf = descr.column(ts_leaf);
    let ts_stats_unit_ns = match (leaf.physical_type(), leaf.logical_type_ref()) {
        (PhysicalType::INT64, Some(LogicalType::Timestamp(t))) => Some(match t.unit {
            PqTimeUnit::MILLIS => 1_000_000,
            PqTimeUnit::MICROS => 1_000,
            PqTimeUnit::NANOS => 1,
        }),
        (PhysicalType::INT64, None) => Some(1_000_000),
        // INT96 statistics have no defined order; never prune on them.
        _ => None,
    };
    let mut roots = vec![item, ts];
    roots.extend(quantity);
    roots.sort_unstable();
    Ok(ResolvedColumns {
        roots,
        item_kind,
        ts_unit_ns,
        ts_leaf,
        ts_stats_unit_ns,
        leaves,
    })
}
