#!/usr/bin/env python3
"""Writes the golden lakes under io/lake/tests/golden/ with the real tools, and their expected results.

For each writer a tiny Hive-style lake is written *by that tool*, so the Rust reader is tested
against the bytes other systems really produce:

    pyarrow       pyarrow.parquet.write_to_dataset (category/dt and category-only layouts,
                  timestamp[ms] naive, timestamp[ns, UTC], timestamp[us, UTC]; INT64 ids;
                  quantity int32 / int64 / absent)
    duckdb        DuckDB COPY ... (FORMAT parquet, PARTITION_BY (category)), default compression;
                  VARCHAR ids; TIMESTAMP for some categories and TIMESTAMPTZ for others;
                  non-default column names sku / event_time / qty (INTEGER)
    spark         PySpark df.write.partitionBy("category").parquet(...), local[1], defaults
                  (INT96 timestamps, snappy); BIGINT ids; INT quantity
    spark_micros  the same with spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS;
                  STRING ids; no quantity column

Next to each lake: args.txt (the compute arguments, one per line, without --lake / --out)
and expected.csv, computed from the lake by the DuckDB reference
(scripts/reference/duckdb_topsellers.py). README.md in io/lake/tests/golden/ is regenerated too,
with the tool versions and the Parquet types each tool chose.

The logical data is fixed by the seed below, so re-running reproduces the same rows (Spark's
file names carry a random UUID and so change; nothing else should).

Usage (from the repository root, after scripts/setup-python.sh):

    .venv/bin/python scripts/golden/make_golden.py [--writers pyarrow,duckdb,spark,spark_micros]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "io", "tests", "golden")
sys.path.insert(0, os.path.join(ROOT, "scripts", "reference"))

import duckdb  # noqa: E402
import duckdb_topsellers  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

SEED = 20261015
US = 1_000_000          # microseconds per second
DAY_US = 86_400 * US
WRITERS = ["pyarrow", "duckdb", "spark", "spark_micros"]

# Compute arguments per writer: every lake gets a different combination of options.
ARGS = {
    "pyarrow": ["--as-of", "2026-10-15T00:00:00Z", "--variant", "fast=1d", "--variant", "slow=14d",
                "--window", "7d", "--max-window", "60d", "--top", "5"],
    "duckdb": ["--as-of", "2026-10-15T00:00:00Z", "--half-life", "3d", "--window", "7d",
               "--max-window", "60d", "--top", "5", "--item-column", "sku", "--ts-column", "event_time",
               "--quantity-column", "qty"],
    "spark": ["--as-of", "2026-10-15T00:00:00Z", "--lambda", "0.1", "--window", "7d",
              "--max-window", "60d", "--top", "5", "--min-items", "3"],
    "spark_micros": ["--as-of", "2026-10-15T12:30:00Z", "--variant", "fast=12h", "--variant", "slow=7d",
                     "--window", "7d", "--max-window", "60d", "--top", "4"],
}


# ---------------------------------------------------------------------------
# The logical data, shared by all writers
# ---------------------------------------------------------------------------

def as_of_us(writer: str) -> int:
    return duckdb_topsellers.parse_as_of(ARGS[writer][1]) // 1000


def make_events(writer: str, categories: list[str], string_ids: bool, with_qty: bool):
    """Rows (category, item, ts_us, quantity) for a small lake: with W = 7d, W_max = 60d and
    M around 5, the first category is dense (W_c = 7d), `rare-finds` needs 28d or 56d and
    `vintage` has nothing within W_max (left out). Sub-second microseconds on purpose."""
    rng = random.Random(f"{SEED}-{writer}")
    now = as_of_us(writer)

    def item(n):
        return f"SKU-{n:03d}" if string_ids else 100 + n

    def at(age_days, jitter=True):
        return now - int(age_days * DAY_US) - (rng.randrange(0, US) if jitter else 0)

    def qty():
        return rng.choice([1, 1, 1, 2, 3, None]) if with_qty else None

    rows = []
    dense, medium, special = categories[:3]
    for _ in range(40):  # dense: 10 items, mostly within 7 days, some older
        rows.append((dense, item(rng.randrange(10)), at(rng.uniform(0, 12)), qty()))
    for _ in range(20):  # medium: 6 items over 3 weeks
        rows.append((medium, item(20 + rng.randrange(6)), at(rng.uniform(0, 21)), qty()))
    for _ in range(15):  # special-name category: 7 items within 10 days
        rows.append((special, item(40 + rng.randrange(7)), at(rng.uniform(0, 10)), qty()))
    # sparse: one item per age (days); 7d covers 1 item, 14d 2, 28d 4, 56d 6.
    for n, age in enumerate([3, 10, 20, 25, 40, 50, 59.5, 70]):
        rows.append(("rare-finds", item(60 + n), at(age), qty()))
    rows.append(("rare-finds", item(60), at(45), qty()))          # older purchase of a covered item
    # exact bounds: at as_of (counted), exactly 7d before (not counted in a 7d window), after as_of
    rows.append((dense, item(0), now, 1 if with_qty else None))
    rows.append((dense, item(9), now - 7 * DAY_US, 2 if with_qty else None))
    rows.append((dense, item(8), now + US + 1, 5 if with_qty else None))  # survives ms truncation
    # nothing within W_max = 60d
    for n in range(5):
        rows.append(("vintage", item(80 + n), at(61 + 10 * n), qty()))
    # rows to skip: null item, null ts, quantity 0 / negative
    rows.append((dense, None, at(1), qty()))
    rows.append((medium, item(20), None, qty()))
    if with_qty:
        rows.append((dense, item(1), at(1), 0))
        rows.append((special, item(41), at(2), -2))
    return rows


def utc_day(ts_us):
    return time.strftime("%Y-%m-%d", time.gmtime(ts_us // US))


# ---------------------------------------------------------------------------
# Writers
# ---------------------------------------------------------------------------

def write_pyarrow(lake: str) -> None:
    """pyarrow.parquet.write_to_dataset, three groups of categories with different ts types."""
    rows = make_events("pyarrow", ["electronics", "books", "home & garden"], string_ids=False, with_qty=True)
    groups = [
        # (categories, ts type, quantity type or None, partition columns, file name template)
        ({"electronics", "vintage"}, pa.timestamp("ms"), pa.int32(), ["category", "dt"], "ms-{i}.parquet"),
        ({"books", "rare-finds"}, pa.timestamp("ns", "UTC"), pa.int64(), ["category", "dt"], "ns-{i}.parquet"),
        ({"home & garden"}, pa.timestamp("us", "UTC"), None, ["category"], "us-{i}.parquet"),
    ]
    for categories, ts_type, qty_type, partition_cols, template in groups:
        sel = [r for r in rows if r[0] in categories]
        unit_div = {"ms": 1000, "us": 1, "ns": 1}[ts_type.unit]
        unit_mul = 1000 if ts_type.unit == "ns" else 1
        ts = [None if r[2] is None else r[2] // unit_div * unit_mul for r in sel]
        if ts_type.unit == "ns":  # nanosecond files get a sub-microsecond part too
            ts = [None if t is None else t + 789 for t in ts]
        columns = {
            "category": pa.array([r[0] for r in sel], pa.string()),
            # rows with a null ts go to the as_of day's partition (dt must never contradict ts)
            "dt": pa.array([utc_day(r[2] if r[2] is not None else as_of_us("pyarrow")) for r in sel]),
            "item_id": pa.array([r[1] for r in sel], pa.int64()),
            "ts": pa.array(ts, pa.int64()).cast(ts_type),
        }
        table = pa.table(columns)
        if qty_type is not None:
            table = table.append_column("quantity", pa.array([r[3] for r in sel], qty_type))
        else:
            # No quantity column in this group: a row with quantity <= 0 cannot be expressed, so
            # drop it (the other quantities simply become the default 1).
            table = table.take([i for i, r in enumerate(sel) if r[3] is None or r[3] > 0])
        if "dt" not in partition_cols:
            table = table.drop_columns(["dt"])
        pq.write_to_dataset(table, lake, partition_cols=partition_cols, basename_template=template,
                            use_threads=False, existing_data_behavior="overwrite_or_ignore")


def write_duckdb(lake: str) -> None:
    """DuckDB COPY ... PARTITION_BY (category): TIMESTAMP in one COPY, TIMESTAMPTZ in another."""
    rows = make_events("duckdb", ["toys", "café", "home & garden"], string_ids=True, with_qty=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE TABLE ev (category VARCHAR, sku VARCHAR, ts_us BIGINT, qty INTEGER)")
    con.executemany("INSERT INTO ev VALUES (?, ?, ?, ?)", rows)
    os.makedirs(lake, exist_ok=True)
    naive = "('toys', 'rare-finds')"
    con.execute(
        f"COPY (SELECT category, sku, make_timestamp(ts_us) AS event_time, qty FROM ev "
        f"WHERE category IN {naive} ORDER BY ts_us) "
        f"TO '{lake}' (FORMAT parquet, PARTITION_BY (category), OVERWRITE_OR_IGNORE true)"
    )
    con.execute(
        f"COPY (SELECT category, sku, CAST(make_timestamp(ts_us) AS TIMESTAMPTZ) AS event_time, qty FROM ev "
        f"WHERE category NOT IN {naive} ORDER BY ts_us) "
        f"TO '{lake}' (FORMAT parquet, PARTITION_BY (category), OVERWRITE_OR_IGNORE true)"
    )


def write_spark(lake: str, micros: bool) -> None:
    """PySpark local[1], df.write.partitionBy("category").parquet(lake)."""
    from pyspark.sql import SparkSession, functions as F, types as T

    writer = "spark_micros" if micros else "spark"
    rows = make_events(writer, ["sports", "books", "toys/games"], string_ids=micros, with_qty=not micros)
    builder = (
        SparkSession.builder.master("local[1]").appName(f"golden-{writer}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.memory", "512m")
    )
    if micros:
        builder = builder.config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
    spark = builder.getOrCreate()
    try:
        schema = T.StructType([
            T.StructField("category", T.StringType()),
            T.StructField("item_id", T.StringType() if micros else T.LongType()),
            T.StructField("ts_us", T.LongType()),
            T.StructField("quantity", T.IntegerType()),
        ])
        df = spark.createDataFrame(rows, schema)
        df = df.withColumn("ts", F.timestamp_micros("ts_us")).drop("ts_us")
        df = df.select("item_id", "ts", "quantity", "category")
        if micros:
            df = df.drop("quantity")
        df.coalesce(1).write.mode("overwrite").partitionBy("category").parquet(lake)
    finally:
        spark.stop()


# ---------------------------------------------------------------------------
# Expected results, inspection and README
# ---------------------------------------------------------------------------

def lake_files(lake):
    return [p for p, _ in duckdb_topsellers.list_lake_files(lake)]


def describe_lake(lake: str) -> list[str]:
    """One line per distinct (column, physical type, logical type, compression, encodings)."""
    files = lake_files(lake)
    con = duckdb.connect()
    lst = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    schema = con.execute(
        f"SELECT name, type, coalesce(converted_type, ''), coalesce(logical_type, ''), count(DISTINCT file_name) "
        f"FROM parquet_schema({lst}) WHERE num_children IS NULL GROUP BY ALL ORDER BY 1, 2, 3, 4"
    ).fetchall()
    chunks = con.execute(
        f"SELECT path_in_schema, compression, encodings FROM parquet_metadata({lst}) GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    created_by = con.execute(
        f"SELECT DISTINCT created_by FROM parquet_file_metadata({lst})"
    ).fetchall()
    lines = [f"`{n}`: {t}" + (f", converted {c}" if c else "") + (f", logical {lt}" if lt else "") + f" ({k} files)"
             for n, t, c, lt, k in schema]
    lines += [f"`{p}` chunks: {c}, encodings {e}" for p, c, e in chunks]
    lines += [f"created_by: {c[0]}" for c in created_by]
    return lines


def tree(lake: str) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(lake):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.relpath(os.path.join(dirpath, name), lake)
            out.append(f"{path} ({os.path.getsize(os.path.join(dirpath, name))} B)")
    return out


def compute_expected(writer: str) -> None:
    folder = os.path.join(GOLDEN, writer)
    with open(os.path.join(folder, "args.txt"), "w") as f:
        f.write("\n".join(ARGS[writer]) + "\n")
    rc = duckdb_topsellers.main(ARGS[writer] + ["--lake", os.path.join(folder, "lake"),
                                                "--out", os.path.join(folder, "expected.csv")])
    if rc != 0:
        raise SystemExit(f"reference failed on {writer}")


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "pyarrow": pa.__version__, "duckdb": duckdb.__version__}
    try:
        import pyspark
        out["pyspark"] = pyspark.__version__
    except ImportError:
        pass
    return out


README_HEAD = """# Golden lakes for the Parquet compatibility tests

Each folder holds a tiny Hive-style lake written **by another tool**, the compute arguments used
on it and the results the DuckDB reference implementation computed from it:

    <writer>/lake/...        the lake (read it as --lake <writer>/lake)
    <writer>/args.txt        compute arguments, one per line (no --lake / --out)
    <writer>/expected.csv    scripts/reference/duckdb_topsellers.py <args> --lake ... --out ...

A compatibility test runs the engine on each lake with the arguments from args.txt and
compares its CSV with expected.csv as scripts/reference/compare_results.py does (same groups,
windows and item ids; scores within relative 1e-9; tied items in either order).

Every lake has a dense category (W_c = base window), a category whose name needs escaping,
`rare-finds` (a sparse category that needs a larger window), `vintage` (nothing within W_max,
so absent from expected.csv), purchases exactly at as_of, exactly one base window before it and
after it, rows with a null item id or ts, and (where a quantity column exists) quantities
null, 0 and negative.

Regenerate with (the logical data is fixed by a seed; Spark's file names change each time):

    scripts/setup-python.sh
    .venv/bin/python scripts/golden/make_golden.py

This README is written by that script.
"""

DESCRIPTIONS = {
    "pyarrow": "`pyarrow.parquet.write_to_dataset`, three calls: `electronics`, `vintage` with "
               "partition_cols category/dt, ts `timestamp[ms]` (naive), quantity int32; `books`, "
               "`rare-finds` with category/dt, ts `timestamp[ns, tz=UTC]` (sub-microsecond digits), "
               "quantity int64; `home & garden` with category only, ts `timestamp[us, tz=UTC]`, no "
               "quantity column. INT64 item ids.",
    "duckdb": "DuckDB `COPY (...) TO lake (FORMAT parquet, PARTITION_BY (category), OVERWRITE_OR_IGNORE)`, "
              "default compression, twice: `toys`, `rare-finds` with `event_time TIMESTAMP`, the others "
              "with `event_time TIMESTAMPTZ`. VARCHAR ids in column `sku`, INTEGER quantity in `qty` "
              "(so args.txt sets --item-column/--ts-column/--quantity-column).",
    "spark": "PySpark `df.coalesce(1).write.partitionBy(\"category\").parquet(lake)` on `local[1]` with "
             "session time zone UTC and default settings: INT96 timestamps, snappy. LongType item ids, "
             "IntegerType quantity. Spark's `_SUCCESS` and `.crc` files are kept on purpose.",
    "spark_micros": "As `spark`, with `spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS`; StringType "
                    "item ids, no quantity column; as_of 12:30 UTC rather than midnight.",
}


def write_readme(done: list[str]) -> None:
    parts = [README_HEAD, "## Tool versions\n"]
    parts += [f"- {k} {v}" for k, v in versions().items()] + [""]
    for writer in WRITERS:
        lake = os.path.join(GOLDEN, writer, "lake")
        if not os.path.isdir(lake):
            continue
        parts.append(f"## {writer}\n\n{DESCRIPTIONS[writer]}\n\nargs: `{' '.join(ARGS[writer])}`\n")
        parts.append("Parquet as written (from the file footers):\n")
        parts += [f"- {line}" for line in describe_lake(lake)] + [""]
        parts.append("Files:\n\n```")
        parts += tree(lake)
        parts.append("```\n")
    with open(os.path.join(GOLDEN, "README.md"), "w") as f:
        f.write("\n".join(parts))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Write the golden lakes and expected results.")
    p.add_argument("--writers", default=",".join(WRITERS),
                   help=f"comma-separated subset of {','.join(WRITERS)} (default: all)")
    args = p.parse_args(argv)
    chosen = [w.strip() for w in args.writers.split(",") if w.strip()]
    for w in chosen:
        if w not in WRITERS:
            p.error(f"unknown writer {w!r}")
    for writer in chosen:
        folder = os.path.join(GOLDEN, writer)
        lake = os.path.join(folder, "lake")
        if os.path.exists(folder):
            shutil.rmtree(folder)
        os.makedirs(folder)
        print(f"writing {writer} lake ...", file=sys.stderr)
        if writer == "pyarrow":
            write_pyarrow(lake)
        elif writer == "duckdb":
            write_duckdb(lake)
        else:
            write_spark(lake, micros=(writer == "spark_micros"))
        compute_expected(writer)
    write_readme(chosen)
    return 0


if __name__ == "__main__":
    sys.exit(main())
