-- Top sellers per category (SPEC section 1), in plain SQL for Amazon Athena engine v3 (Trino).
--
-- Reads the table made by create_table.sql. Same computation as `topsellers compute` and as
-- top_sellers_duckdb.sql (same CTE names, same order; the dialect differences are noted inline
-- with "DuckDB:"). scripts/athena/test_sql.sh checks the DuckDB twin against the engine, and
-- this query too, parsed as Trino SQL and run on DuckDB (emulate_athena.py), where sqlglot is
-- installed.
--
-- PARAMETERS. Every ${NAME} below is a parameter, filled in by plain textual substitution
-- (`scripts/athena/run_duckdb.py --render-only --athena-sql OUT.sql ...` renders this file from
-- the same flags as `topsellers compute`; or edit the values by hand). They are bound once, in the `params` and
-- `variants` CTEs at the top; the only other places they appear are the partition-pruning and
-- row-group-pruning predicates of the `scan` CTE, which must be literals (see there).
--   ${TABLE}            the table, e.g. topsellers.purchases
--   ${AS_OF}            reference time, UTC, as 'YYYY-MM-DD HH:MM:SS[.fff]', e.g. 2026-10-15 00:00:00
--   ${BASE_WINDOW_S}    base window W in seconds, e.g. 2592000 (30d)
--   ${MAX_WINDOW_S}     largest window W_max in seconds, e.g. 31536000 (365d)
--   ${MIN_ITEMS}        distinct items a window needs (default: TOP_N), e.g. 100
--   ${TOP_N}            items kept per (variant, category), e.g. 100
--   ${VARIANTS}         rows (output order, name, half-life in seconds), e.g.
--                           (1, 'default', 604800.0e0), (2, 'fast', 86400.0e0)
--   ${CATEGORY_FILTER}  with the `injected` category projection (create_table.sql), the list of
--                       categories to compute, as written in the S3 paths (%XX-escaped), e.g.
--                           AND category IN ('books', 'electronics', 'toys%2Fgames')
--                       Athena refuses a query on that table without it. With the `enum`
--                       projection (or Glue-registered partitions) it may be empty.
--
-- Rendered example (as_of 2026-10-15T00:00:00Z, W 30d, W_max 365d, M = N = 100, two variants):
--     params AS (SELECT TIMESTAMP '2026-10-15 00:00:00' AS as_of, CAST(2592000 AS BIGINT) AS base_window_s,
--                       CAST(31536000 AS BIGINT) AS max_window_s, CAST(100 AS BIGINT) AS min_items,
--                       CAST(100 AS BIGINT) AS top_n),
--     variants AS (SELECT * FROM (VALUES (1, 'default', 604800.0e0), (2, 'fast', 86400.0e0))
--                  AS v (variant_ord, variant, half_life_s)),
--
-- OUTPUT: variant, category, rank, item_id, score, window_s, as_of, ordered by variant (in the
-- order of ${VARIANTS}), category (bytewise), rank: the columns of `topsellers compute --out x.csv`.
--
-- SEMANTICS (SPEC section 1):
--   * a purchase counts for category c iff as_of - W_c < ts <= as_of;
--   * rows with a NULL item_id or ts, or quantity <= 0, are skipped; NULL quantity counts as 1;
--   * weight = quantity * exp(-lambda * age_seconds), lambda = ln 2 / half_life, age as DOUBLE
--     from an exact integer number of milliseconds (Athena's timestamp precision);
--   * candidate windows W, 2W, 4W, ... strictly below W_max, then W_max; W_c = the smallest one
--     under which >= MIN_ITEMS distinct items of c have a counted purchase, else W_max; W_c does
--     not depend on the variant;
--   * a category with no counted purchase within W_max is left out;
--   * rank by score DESC, item_id ASC (numeric for BIGINT ids, UTF-8 bytewise for STRING ids),
--     keep the first TOP_N.
-- PRECISION: Athena reads Parquet timestamps with millisecond precision (finer digits dropped).
-- On a lake holding sub-millisecond times (ingest and gen write microseconds) a purchase can look
-- up to 1 ms older than it is, so a score can be lower than `topsellers compute`'s by up to
-- lambda * 1 ms relative: 8.0e-9 for a 1-day half-life, 1.1e-9 for 7 days, below 1e-9 only from
-- about 8 days; and a purchase less than 1 ms inside a window edge may fall outside it. With
-- millisecond times (RFC 3339 with 3 digits, epoch millis) the ages are exact. Sums of DOUBLE in
-- Trino are done in no fixed order: scores agree with the engine to ~1e-15 relative otherwise,
-- not bit for bit, so items whose scores tie exactly in the engine may come out in either order.
--
-- COST: Athena bills the bytes it reads. The table is scanned once (every CTE from `scan` on is
-- used exactly once, so inlining the CTEs does not repeat the scan), only the dt= partitions of
-- the largest window are listed and read (partition projection + the literal dt predicate in
-- `scan`), only three columns are read (Parquet is columnar), and row groups whose ts statistics
-- lie outside the window are skipped.

WITH
-- Parameters, bound once.
params AS (
    SELECT
        TIMESTAMP '${AS_OF}' AS as_of,  -- DuckDB: CAST('...' AS TIMESTAMP_NS)
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
-- Candidate windows W * 2^k while below W_max, then W_max. No recursive CTE: k comes from a
-- sequence long enough to pass W_max (ceil(log2(W_max / W)) + 1 terms); the exact BIGINT test
-- `< max_window_s` decides which ones are candidates.
doubling AS (
    SELECT p.base_window_s * CAST(power(2, t.k) AS BIGINT) AS window_s
    FROM params p
    CROSS JOIN UNNEST(sequence(0, CAST(greatest(0e0, ceil(log2(CAST(p.max_window_s AS DOUBLE) / p.base_window_s))) AS BIGINT) + 1)) AS t (k)
                   -- DuckDB: unnest(generate_series(0, ...))
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
-- The table scan. Athena prunes partitions (and partition projection enumerates them) only from
-- predicates it can evaluate while planning, so these bounds are written with the literal
-- parameters rather than with columns of `params`:
--   * dt: only the days that can hold a counted purchase, day(as_of - W_max) .. day(as_of),
--     widened by one day on each side as a safety margin. This is what keeps the bytes
--     scanned (and the bill) proportional to W_max, not to the lake's history.
--   * ts: the same range on the timestamp, with one second of slack (the exact test is in
--     `valid`), which lets Athena skip Parquet row groups by their ts min/max statistics.
--   * category: required by the injected projection (see ${CATEGORY_FILTER} above).
scan AS (
    SELECT category, item_id, ts, quantity
    FROM ${TABLE}
    WHERE dt BETWEEN date_format(date_add('second', -(${MAX_WINDOW_S} + 86400), TIMESTAMP '${AS_OF}'), '%Y-%m-%d')
                 AND date_format(date_add('day', 1, TIMESTAMP '${AS_OF}'), '%Y-%m-%d')
      AND ts >  date_add('second', -(${MAX_WINDOW_S} + 1), TIMESTAMP '${AS_OF}')
      AND ts <= date_add('second', 1, TIMESTAMP '${AS_OF}')
      ${CATEGORY_FILTER}
),
-- Rows that can count: item and ts present, quantity (default 1) positive, and
-- 0 <= age < W_max, i.e. as_of - W_max < ts <= as_of. Age in exact integer milliseconds.
valid AS (
    SELECT s.category,
           s.item_id,
           date_diff('millisecond', s.ts, p.as_of) AS age_ms,     -- DuckDB: integer nanoseconds
           CAST(COALESCE(s.quantity, 1) AS DOUBLE) AS quantity
    FROM scan s
    CROSS JOIN params p
    WHERE s.item_id IS NOT NULL
      AND s.ts IS NOT NULL
      AND COALESCE(s.quantity, 1) > 0
      AND date_diff('millisecond', s.ts, p.as_of) >= 0
      AND date_diff('millisecond', s.ts, p.as_of) < p.max_window_s * 1000
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
           sum(e.quantity * exp(-(v.lambda_per_s * (CAST(e.age_ms AS DOUBLE) / 1e3)))) AS partial_score
    FROM valid e
    JOIN ladder l ON e.age_ms >= l.lower_s * 1000 AND e.age_ms < l.window_s * 1000
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
       -- The path value as Athena saw it in the query (%XX-escaped); decoded as SPEC section 2
       -- says, '+' staying '+' (url_decode alone would turn it into a space).
       -- DuckDB: its Hive reader has already decoded it.
       url_decode(replace(r.category, '+', '%2B'))  AS category,
       r.item_rank                                  AS "rank",
       r.item_id,
       r.score,
       r.window_s,
       to_iso8601(p.as_of) || 'Z'                   AS as_of   -- DuckDB: strftime(as_of, '...%nZ')
FROM ranked r
CROSS JOIN params p
WHERE r.item_rank <= p.top_n
ORDER BY r.variant_ord, 2, r.item_rank
