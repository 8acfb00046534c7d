//! The two tables (README, *MySQL*): created by `publish --create-table`,
//! and an existing schema checked, never altered.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use topsellers_store::StoreError;

/// The table of published groups: one row per (variant, category).
pub const GROUPS: &str = "topsellers_groups";
/// The table of manifests: one row per variant, written last.
pub const MANIFESTS: &str = "topsellers_manifests";

/// Longest variant name, characters (the key column).
pub const MAX_VARIANT: usize = 64;
/// Longest category, characters (the key column).
pub const MAX_CATEGORY: usize = 512;

/// `CREATE TABLE` of both tables. Keys compare byte for byte
/// (`utf8mb4_bin`), like DynamoDB's; the primary key is the serve read's
/// index.
pub fn create_statements() -> [String; 2] {
    [
        format!(
            "CREATE TABLE IF NOT EXISTS {GROUPS} (\n\
             \x20 variant VARCHAR({MAX_VARIANT}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n\
             \x20 category VARCHAR({MAX_CATEGORY}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n\
             \x20 generation BIGINT NOT NULL,\n\
             \x20 as_of VARCHAR(40) NOT NULL,\n\
             \x20 window_s BIGINT NOT NULL,\n\
             \x20 computed_at VARCHAR(40) NOT NULL,\n\
             \x20 items LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n\
             \x20 scores LONGTEXT CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n\
             \x20 PRIMARY KEY (variant, category)\n\
             ) ENGINE=InnoDB"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {MANIFESTS} (\n\
             \x20 variant VARCHAR({MAX_VARIANT}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n\
             \x20 generation BIGINT NOT NULL,\n\
             \x20 as_of VARCHAR(40) NOT NULL,\n\
             \x20 computed_at VARCHAR(40) NOT NULL,\n\
             \x20 published_at VARCHAR(40) NOT NULL,\n\
             \x20 categories BIGINT UNSIGNED NOT NULL,\n\
             \x20 items BIGINT UNSIGNED NOT NULL,\n\
             \x20 counted BIGINT UNSIGNED NULL,\n\
             \x20 PRIMARY KEY (variant)\n\
             ) ENGINE=InnoDB"
        ),
    ]
}

/// (table, column, data type, nullable, in the primary key) of the schema.
const COLUMNS: [(&str, &str, &str, bool, bool); 16] = [
    (GROUPS, "variant", "varchar", false, true),
    (GROUPS, "category", "varchar", false, true),
    (GROUPS, "generation", "bigint", false, false),
    (GROUPS, "as_of", "varchar", false, false),
    (GROUPS, "window_s", "bigint", false, false),
    (GROUPS, "computed_at", "varchar", false, false),
    (GROUPS, "items", "longtext", false, false),
    (GROUPS, "scores", "longtext", false, false),
    (MANIFESTS, "variant", "varchar", false, true),
    (MANIFESTS, "generation", "bigint", false, false),
    (MANIFESTS, "as_of", "varchar", false, false),
    (MANIFESTS, "computed_at", "varchar", false, false),
    (MANIFESTS, "published_at", "varchar", false, false),
    (MANIFESTS, "categories", "bigint", false, false),
    (MANIFESTS, "items", "bigint", false, false),
    (MANIFESTS, "counted", "bigint", true, false),
];

/// What the server has of the schema.
pub enum Found {
    /// Neither table.
    Missing,
    /// Both tables, as publish creates them.
    Ready,
}

/// Reads the schema from `information_schema` and compares it with
/// [`COLUMNS`]: a table missing alone, a column missing, of another type,
/// nullable or not, in the key or not is an error naming it.
pub async fn check(conn: &mut Conn, store: &str) -> Result<Found, StoreError> {
    let rows: Vec<(String, String, String, String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, COLUMN_KEY \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?)",
            (GROUPS, MANIFESTS),
        )
        .await
        .map_err(|e| crate::failed(store, "reading the schema", e))?;
    if rows.is_empty() {
        return Ok(Found::Missing);
    }
    let bad = |message: String| StoreError::Schema {
        store: store.to_string(),
        message: format!("{message}; the schema is checked, never altered (README, MySQL: Schema)"),
    };
    for table in [GROUPS, MANIFESTS] {
        if !rows.iter().any(|r| r.0 == table) {
            return Err(bad(format!("table {table} is missing")));
        }
    }
    for (table, column, data_type, nullable, key) in COLUMNS {
        let Some(r) = rows.iter().find(|r| r.0 == table && r.1 == column) else {
            return Err(bad(format!("table {table} has no column {column}")));
        };
        if !r.2.eq_ignore_ascii_case(data_type) {
            return Err(bad(format!(
                "{table}.{column} is {}, expected {data_type}",
                r.2
            )));
        }
        if (r.3 == "YES") != nullable {
            return Err(bad(format!(
                "{table}.{column} is {}, expected {}",
                if r.3 == "YES" { "NULL" } else { "NOT NULL" },
                if nullable { "NULL" } else { "NOT NULL" }
            )));
        }
        if (r.4 == "PRI") != key {
            return Err(bad(format!(
                "{table}.{column} is {} the primary key, expected {}",
                if r.4 == "PRI" { "in" } else { "not in" },
                if key { "in it" } else { "outside it" }
            )));
        }
    }
    Ok(Found::Ready)
}

/// Makes sure the schema is there: creates it when `create` (returns
/// `true`: the tables are new and empty), else a missing schema is an
/// error saying how to create it.
pub async fn ensure(conn: &mut Conn, store: &str, create: bool) -> Result<bool, StoreError> {
    match check(conn, store).await? {
        Found::Ready => Ok(false),
        Found::Missing if !create => Err(StoreError::Schema {
            store: store.to_string(),
            message: format!(
                "tables {GROUPS} and {MANIFESTS} do not exist: pass --create-table (create_table = true) to have publish create them, or run the statements of README, MySQL: Schema"
            ),
        }),
        Found::Missing => {
            for statement in create_statements() {
                conn.query_drop(statement)
                    .await
                    .map_err(|e| crate::failed(store, "creating the schema", e))?;
            }
            tracing::info!(store, "created the MySQL schema");
            // Another publisher may have created it meanwhile: check it.
            check(conn, store).await?;
            Ok(true)
        }
    }
}
