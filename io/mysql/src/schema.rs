//! The tables (README, *MySQL*): the results, their manifests and the run
//! lease, created by `publish --create-table` (or `run`), and an existing
//! schema checked, never altered. The lease table came later: a schema
//! without it still serves and publishes; `run`, which takes the lease,
//! creates it on `--create-table` or names the statement to run.

use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use topsellers_store::StoreError;

/// The table of published groups: one row per (variant, category).
pub const GROUPS: &str = "topsellers_groups";
/// The table of manifests: one row per variant, written last.
pub const MANIFESTS: &str = "topsellers_manifests";

/// The table of the run lease: one row, `name = 'run'` (README, *Two hosts*).
pub const LEASE: &str = "topsellers_lease";

/// Longest host id, characters.
pub const MAX_OWNER: usize = 255;

/// Longest variant name, characters (the key column).
pub const MAX_VARIANT: usize = 64;
/// Longest category, characters (the key column).
pub const MAX_CATEGORY: usize = 512;

/// `CREATE TABLE` of both tables. Keys compare byte for byte
/// (`utf8mb4_bin`), like DynamoDB's; the primary key is the serve read's
/// index.
pub fn create_statements() -> [String; 3] {
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
        lease_statement(),
    ]
}

/// `CREATE TABLE` of the lease: `expires_at` is milliseconds since the
/// epoch by the server's clock.
pub fn lease_statement() -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {LEASE} (\n\
         \x20 name VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,\n\
         \x20 owner VARCHAR({MAX_OWNER}) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,\n\
         \x20 token BIGINT NOT NULL,\n\
         \x20 expires_at BIGINT NOT NULL,\n\
         \x20 PRIMARY KEY (name)\n\
         ) ENGINE=InnoDB"
    )
}

/// (table, column, data type, nullable, in the primary key) of the schema.
const COLUMNS: [(&str, &str, &str, bool, bool); 20] = [
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
    (LEASE, "name", "varchar", false, true),
    (LEASE, "owner", "varchar", false, false),
    (LEASE, "token", "bigint", false, false),
    (LEASE, "expires_at", "bigint", false, false),
];

/// What the server has of the schema.
pub enum Found {
    /// Neither results table.
    Missing,
    /// Every table, as publish creates them.
    Ready,
    /// The results tables as publish creates them, but no lease table (a
    /// schema created before the lease).
    NoLease,
}

/// Reads the schema from `information_schema` and compares it with
/// [`COLUMNS`]: a table missing alone, a column missing, of another type,
/// nullable or not, in the key or not is an error naming it.
pub async fn check(conn: &mut Conn, store: &str) -> Result<Found, StoreError> {
    let rows: Vec<(String, String, String, String, String)> = conn
        .exec(
            "SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, IS_NULLABLE, COLUMN_KEY \
             FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (?, ?, ?)",
            (GROUPS, MANIFESTS, LEASE),
        )
        .await
        .map_err(|e| crate::failed(store, "reading the schema", e))?;
    if !rows.iter().any(|r| r.0 != LEASE) {
        return Ok(Found::Missing);
    }
    let lease = rows.iter().any(|r| r.0 == LEASE);
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
        if table == LEASE && !lease {
            continue;
        }
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
    Ok(if lease { Found::Ready } else { Found::NoLease })
}

/// Makes sure the schema is there: creates it when `create` (returns
/// `true`: the tables are new and empty), else a missing schema is an
/// error saying how to create it.
pub async fn ensure(conn: &mut Conn, store: &str, create: bool) -> Result<bool, StoreError> {
    let found = check(conn, store).await;
    match found {
        Ok(Found::Ready) => return Ok(false),
        Ok(Found::NoLease) if !create => return Ok(false),
        Ok(Found::Missing) if !create => {
            return Err(StoreError::Schema {
                store: store.to_string(),
                message: format!(
                    "tables {GROUPS} and {MANIFESTS} do not exist: pass --create-table (create_table = true) to have publish create them, or run the statements of README, MySQL: Schema"
                ),
            })
        }
        Err(e) if !create => return Err(e),
        // Missing, or half created by another publisher right now (a
        // table missing), or without the lease table: `IF NOT EXISTS`
        // creates what is missing and leaves the rest as it is.
        _ => {}
    }
    for statement in create_statements() {
        conn.query_drop(statement)
            .await
            .map_err(|e| crate::failed(store, "creating the schema", e))?;
    }
    let created = matches!(found, Ok(Found::Missing));
    if created {
        tracing::info!(store, "created the MySQL schema");
    }
    // What is there now, whoever created it, must be publish's schema.
    check(conn, store).await?;
    Ok(created)
}

/// Makes sure the schema, the lease table included, is there (`run`
/// before it takes the lease): as [`ensure`], and a missing lease table is
/// an error saying how to create it.
pub async fn ensure_lease(conn: &mut Conn, store: &str, create: bool) -> Result<bool, StoreError> {
    let created = ensure(conn, store, create).await?;
    match check(conn, store).await? {
        Found::NoLease => Err(StoreError::Schema {
            store: store.to_string(),
            message: format!(
                "table {LEASE} does not exist (schemas created before the run lease lack it): pass --create-table (create_table = true) to have run create it, or run its statement of README, MySQL: Schema"
            ),
        }),
        _ => Ok(created),
    }
}
