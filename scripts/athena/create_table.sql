-- The purchase lake as an Athena (engine v3 / Trino) table, with partition projection.
--
-- Lake layout (SPEC section 2), as written by `topsellers ingest` and `topsellers gen --layout category/dt`:
--
--     s3://${BUCKET}/${PREFIX}/category=<category>/dt=<YYYY-MM-DD>/<name>.parquet
--
-- Placeholders (replace them before running; nothing else needs editing):
--   ${DATABASE}  Glue database, e.g. topsellers        (create it first: CREATE DATABASE topsellers)
--   ${BUCKET}    S3 bucket of the lake, e.g. acme-data-lake
--   ${PREFIX}    key prefix of the lake root, without leading or trailing slash, e.g. lakes/purchases
-- e.g.  sed -e 's/${DATABASE}/topsellers/g' -e 's/${BUCKET}/acme-data-lake/g' \
--           -e 's#${PREFIX}#lakes/purchases#g' scripts/athena/create_table.sql
-- (sed, not envsubst: `${category}` and `${dt}` in storage.location.template are Athena's own
-- placeholders and must stay as they are.)
--
-- Item id type. One lake holds one id type (SPEC section 2). The table below is for a lake with
-- INT64 ids (`item_id BIGINT`). For a lake with UTF-8 string ids, declare `item_id STRING`
-- instead (the line is there, commented out). Everything else, including top_sellers_athena.sql,
-- is the same: the ranking tie-break `item_id ASC` is then numeric for BIGINT and bytewise
-- (UTF-8 byte order) for STRING, as SPEC section 1 asks.
--
-- Column types. Athena matches Parquet columns by name (they may come in any order; a column a
-- file lacks reads as NULL, so a lake without `quantity` still works and counts quantity 1).
--   ts        Parquet TIMESTAMP of any unit (millis, micros, nanos; UTC-adjusted or not), or INT96.
--             Athena reads it with MILLISECOND precision: finer digits are dropped. See README.md,
--             "Precision", for what that does to scores. A lake whose ts is INT64 epoch millis (also
--             allowed by SPEC section 2) needs `ts BIGINT` here and `from_unixtime(ts / 1e3)` in
--             the query's `scan` CTE.
--   quantity  Parquet INT32 (what ingest and gen write). A lake with INT64 quantities needs
--             `quantity BIGINT`: Athena refuses to read INT64 into an INT column.
--
-- Partitions (partition projection: no Glue partitions, no MSCK REPAIR, no crawler; a new
-- category or day is queryable the moment its first file lands in S3):
--   dt        `date` projection, format yyyy-MM-dd, range NOW-3YEARS..NOW (evaluated in UTC at
--             query time; widen the range if the lake keeps more than 3 years or if you query an
--             as_of further back). The query's `dt` predicate then limits the projected
--             partitions to the window actually needed (about W_max days).
--   category  `injected` projection (chosen): the category values are taken from the query's
--             WHERE clause. Nothing has to be maintained when a category appears, but EVERY
--             query must constrain category with literal equality (category = 'x' or, on current
--             Athena, category IN ('x', 'y', ...)); a query without such a condition fails with
--             CONSTRAINT_VIOLATION ("Injected projected partition column category must have only
--             (and at least one) equality conditions in the WHERE clause"). The full top-sellers
--             query must therefore list the categories to compute (top_sellers_athena.sql has the
--             ${CATEGORY_FILTER} slot for that; list them with
--             `aws s3 ls s3://${BUCKET}/${PREFIX}/`, or compute a batch of categories per query).
--             Trade-off against the alternative, an `enum` projection (commented out below): enum
--             lets a query read all categories without naming them, but the full list lives in
--             the table properties, must be updated (ALTER TABLE ... SET TBLPROPERTIES) whenever a
--             category is added (a category missing from the list is silently not read), and AWS
--             advises keeping enum lists to a few dozen values (table metadata is capped at about
--             1 MB gzip-compressed). For a shop with hundreds or thousands of categories, injected
--             is the one that scales; for a few dozen stable categories, enum is more convenient.
--             (A third option is no projection at all, with partitions registered in Glue by
--             ALTER TABLE ADD PARTITION / MSCK REPAIR TABLE after every ingest: slow to plan with
--             many partitions, and easy to forget.)
--   Category values. With projection, Athena puts the value written in the query into
--   storage.location.template verbatim. A category whose path value is %XX-escaped (a Hive-style
--   writer escapes characters such as '/': `category=toys%2Fgames`) must be written escaped in the
--   query (category IN ('toys%2Fgames')); top_sellers_athena.sql decodes it for the output.

CREATE EXTERNAL TABLE IF NOT EXISTS ${DATABASE}.purchases (
    item_id   BIGINT,        -- INT64 item ids
 -- item_id   STRING,        -- string-id lake: use this line instead of the one above
    ts        TIMESTAMP,     -- purchase time (UTC)
    quantity  INT            -- optional; NULL or absent counts as 1
)
PARTITIONED BY (
    category  STRING,
    dt        STRING         -- YYYY-MM-DD, the UTC day of ts
)
STORED AS PARQUET
LOCATION 's3://${BUCKET}/${PREFIX}/'
TBLPROPERTIES (
    'projection.enabled'          = 'true',

    'projection.category.type'    = 'injected',
 -- Alternative: an enumerated list of categories (then no category filter is needed in queries;
 -- update the list whenever a category is added). Use these two lines instead of the one above:
 -- 'projection.category.type'    = 'enum',
 -- 'projection.category.values'  = 'books,electronics,home%2Fgarden,toys',

    'projection.dt.type'          = 'date',
    'projection.dt.format'        = 'yyyy-MM-dd',
    'projection.dt.range'         = 'NOW-3YEARS,NOW',
    'projection.dt.interval'      = '1',
    'projection.dt.interval.unit' = 'DAYS',

    'storage.location.template'   = 's3://${BUCKET}/${PREFIX}/category=${category}/dt=${dt}/'
);

-- Check (one category, one day; the injected category must be given):
--   SELECT count(*), min(ts), max(ts) FROM ${DATABASE}.purchases
--   WHERE category = 'books' AND dt = '2026-10-14';
