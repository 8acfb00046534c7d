-- Top sellers per category (SPEC section 1), in plain SQL for DuckDB, straight over the lake.
--
-- The twin of top_sellers_athena.sql: same CTEs, same names, same order, same arithmetic. Where
-- the dialects differ, the line says "Athena:". scripts/athena/test_sql.sh runs this file (via
-- run_duckdb.py) and `topsellers compute` on the same lake and requires the same results.
--
-- PARAMETERS, filled in by plain textual substitution (run_duckdb.py does it; any ${NAME} left
-- over is an error there):
--   ${LAKE}             lake root folder (inside a '...' literal: a ' in it written as '')
--   ${AS_OF}            reference time, UTC, 'YYYY-MM-DD HH:MM:SS[.fffffffff]'
--   ${BASE_WINDOW_S}    base window W in seconds
--   ${MAX_WINDOW_S}     largest window W_max in seconds
--   ${MIN_ITEMS}        distinct items a window needs
--   ${TOP_N}            items kept per (variant, category)
--   ${VARIANTS}         rows (output order, name, half-life in seconds),
--                       e.g. (1, 'default', 604800.0), (2, 'fast', 86400.0)
--   ${ITEM_COLUMN}      item id expression, normally "item_id"
--   ${TS_COLUMN}        timestamp expression, normally "ts" (epoch_ms("ts") for INT64 millis)
--   ${QUANTITY_COLUMN}  quantity expression, normally "quantity" (NULL for a lake without it)
-- Run the rendered query with SET TimeZone = 'UTC' (run_duckdb.py does).
--
-- The lake is read as Athena reads it: Hive partitions category=<c>/dt=<d> (values kept as
-- strings; DuckDB decodes %XX escapes in them, '+' stays '+'); columns matched by name, a column
-- a file lacks reading as NULL (union_by_name: ingest writes `quantity` only into files where
-- some event has one); files and folders whose names start with '_' or '.' ignored (Athena/Hive
-- do that natively; here a filter on the file name). Files must end in .parquet (an
-- extensionless file, which `topsellers compute` reads, is not globbed here). union_by_name
-- makes DuckDB read the footer of every file of the lake to build the schema; the rows of the
-- partitions outside the window are still never read.
--
-- PRECISION: ages are exact integer nanoseconds here (Athena: milliseconds), converted to DOUBLE
-- seconds once, like the engine. DuckDB's sum of DOUBLE has no fixed order either; scores agree
-- with `topsellers compute` to ~1e-15 relative, which is why the test compares within 1e-9 and
-- accepts either order inside near-ties.

WITH
-- Parameters, bound once.
params AS (
    SELECT
        CAST('${AS_OF}' AS TIMESTAMP_NS) AS as_of,  -- Athena: TIMESTAMP '...' (milliseconds)
        CAST(${BASE_WINDOW_S} AS BIGINT) AS base_window_s,
        CAST(${MAX_WINDOW_S} AS BIGINT) AS max_window_s,
        CAST(${MIN_ITEMS} AS BIGINT) AS min_items,
        CAST(${TOP_N} AS BIGINT) AS top_n
),
variants AS (
    SELECT * FROM (VALUES ${VARIANTS}) AS v (variant_ord, variant, half_life_s)
),
variant_rates AS (
    SELECT variant_ord, variant, ln(2) / CAST(half_life_s AS DOUBLE) AS lambda_per_s
    FROM variants
),
-- Candidate windows W * 2^k while below W_max, then W_max (no recursive CTE, as in Athena).
doubling AS (
    SELECT p.base_window_s * CAST(power(2, t.k) AS BIGINT) AS window_s
    FROM params p
    CROSS JOIN unnest(generate_series(0, CAST(greatest(0e0, ceil(log2(CAST(p.max_window_s AS DOUBLE) / p.base_window_s))) AS BIGINT) + 1)) AS t (k)
                   -- Athena: UNNEST(sequence(0, ...))
),
candidate_windows AS (
    SELECT d.window_s FROM doubling d CROSS JOIN params p WHERE d.window_s < p.max_window_s
    UNION
    SELECT max_window_s FROM params
),
-- The candidate windows as buckets: bucket w holds the purchases with lower_s <= age < w, where
-- lower_s is the next smaller candidate (0 for the first), so each counted purchase falls in
-- exactly one bucket: the smallest candidate window that holds it.
ladder AS (
    SELECT window_s, coalesce(lag(window_s) OVER (ORDER BY window_s), 0) AS lower_s
    FROM candidate_windows
),
-- The scan, with the same literal pruning predicates as the Athena query: DuckDB skips the rows
-- of the dt= folders outside day(as_of - W_max - 1 day) .. day(as_of + 1 day), and row groups by
-- their ts statistics. (Athena: FROM ${TABLE}, the category filter of the
-- injected projection, date_format/date_add.)
scan AS (
    SELECT category,
           ${ITEM_COLUMN}      AS item_id,
           ${TS_COLUMN}        AS ts,
           ${QUANTITY_COLUMN}  AS quantity
    FROM read_parquet('${LAKE}/**/*.parquet',
                      hive_partitioning = true,
                      hive_types = {'category': VARCHAR, 'dt': VARCHAR},
                      union_by_name = true,
                      filename = true)
    WHERE dt BETWEEN strftime(CAST('${AS_OF}' AS TIMESTAMP) - to_seconds(CAST(${MAX_WINDOW_S} + 86400 AS BIGINT)), '%Y-%m-%d')
                 AND strftime(CAST('${AS_OF}' AS TIMESTAMP) + INTERVAL 1 DAY, '%Y-%m-%d')
      AND ${TS_COLUMN} >  CAST('${AS_OF}' AS TIMESTAMP) - to_seconds(CAST(${MAX_WINDOW_S} + 1 AS BIGINT))
      AND ${TS_COLUMN} <= CAST('${AS_OF}' AS TIMESTAMP) + INTERVAL 1 SECOND
      -- names starting with '_' or '.' below the lake root are not data (Spark's _temporary/,
      -- writers' .tmp files): Athena skips them natively.
      AND NOT regexp_matches(substr(filename, length('${LAKE}') + 1), '/[._]')
),
-- Rows that can count: item and ts present, quantity (default 1) positive, and
-- 0 <= age < W_max, i.e. as_of - W_max < ts <= as_of. Age in exact integer nanoseconds.
valid AS (
    SELECT s.category,
           s.item_id,
           epoch_ns(p.as_of) - epoch_ns(s.ts) AS age_ns,           -- Athena: date_diff('millisecond', ...)
           CAST(COALESCE(s.quantity, 1) AS DOUBLE) AS quantity
    FROM scan s
    CROSS JOIN params p
    WHERE s.item_id IS NOT NULL
      AND s.ts IS NOT NULL
      AND COALESCE(s.quantity, 1) > 0
      AND epoch_ns(p.as_of) - epoch_ns(s.ts) >= 0
      AND epoch_ns(p.as_of) - epoch_ns(s.ts) < p.max_window_s * 1000000000
),
-- One pass over the purchases (the table is scanned once: every CTE from `scan` down is used
-- exactly once, so Trino, which inlines CTEs, reads each file once). Per (category, item,
-- variant) the decayed weights are summed per bucket; age in seconds as DOUBLE from the exact
-- integer age.
bucketed AS (
    SELECT e.category,
           e.item_id,
           v.variant_ord,
           v.variant,
           l.window_s AS bucket_s,
           sum(e.quantity * exp(-(v.lambda_per_s * (CAST(e.age_ns AS DOUBLE) / 1e9)))) AS partial_score
    FROM valid e
    JOIN ladder l ON e.age_ns >= l.lower_s * 1000000000 AND e.age_ns < l.window_s * 1000000000
    CROSS JOIN variant_rates v
    GROUP BY e.category, e.item_id, v.variant_ord, v.variant, l.window_s
),
-- Every item under every candidate window that holds one of its purchases, with its score under
-- that window: the sum of its buckets up to it. (An item is present under window w iff its
-- newest purchase lies within w.)
per_window AS (
    SELECT b.category, b.item_id, b.variant_ord, b.variant, l.window_s, sum(b.partial_score) AS score
    FROM bucketed b
    JOIN ladder l ON b.bucket_s <= l.window_s
    GROUP BY b.category, b.item_id, b.variant_ord, b.variant, l.window_s
),
-- Distinct items of the category under each window (the same for every variant). Categories
-- with no counted purchase within W_max have no rows at all, which leaves them out.
coverage AS (
    SELECT w.*,
           count(*) OVER (PARTITION BY w.category, w.variant_ord, w.window_s) AS distinct_items
    FROM per_window w
),
-- W_c: the smallest candidate covering at least MIN_ITEMS items, else W_max.
chosen_window AS (
    SELECT c.*,
           coalesce(min(CASE WHEN c.distinct_items >= p.min_items THEN c.window_s END)
                        OVER (PARTITION BY c.category, c.variant_ord),
                    p.max_window_s) AS chosen_window_s
    FROM coverage c
    CROSS JOIN params p
),
-- The scores under W_c, one per (variant, category, item with a purchase within W_c).
scored AS (
    SELECT variant_ord, variant, category, item_id, window_s, score
    FROM chosen_window
    WHERE window_s = chosen_window_s
),
ranked AS (
    SELECT s.*,
           row_number() OVER (PARTITION BY s.variant_ord, s.category
                              ORDER BY s.score DESC, s.item_id ASC) AS item_rank
    FROM scored s
)
SELECT r.variant,
       r.category                                   AS category,  -- Athena: url_decode(...)
       r.item_rank                                  AS "rank",
       r.item_id,
       r.score,
       r.window_s,
       strftime(p.as_of, '%Y-%m-%dT%H:%M:%S.%nZ')   AS as_of      -- Athena: to_iso8601(as_of) || 'Z'
FROM ranked r
CROSS JOIN params p
WHERE r.item_rank <= p.top_n
ORDER BY r.variant_ord, 2, r.item_rank
