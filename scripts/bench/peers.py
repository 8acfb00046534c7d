#!/usr/bin/env python3
"""The benchmark query in the peer engines: DuckDB, Polars, DataFusion and Spark.

    .venv/bin/python scripts/bench/peers.py duckdb --lake DIR --out r.csv [--threads N]
    .venv/bin/python scripts/bench/peers.py polars --lake DIR --out r.csv [--threads N]
    .venv/bin/python scripts/bench/peers.py datafusion --lake DIR --out r.csv [--threads N]
    .venv/bin/python scripts/bench/peers.py spark  --lake DIR --out r.csv [--threads N]

The query (the same for every engine, and what `scripts/bench/compare.sh` runs
`topsellers compute --window 30d --max-window 30d` with): for every category, over the
purchases with `as_of - W < ts <= as_of` (a FIXED window W, no adaptive growth),

    score(item) = sum(quantity * exp(-lambda * age_s)),   age_s = (as_of - ts) in ns / 1e9

(quantity 1 when the column is absent or null; rows with a null item id or quantity <= 0
skipped), ranked by score descending then item id ascending, first --top kept.

The result is the CSV `topsellers compute` writes: `variant,category,rank,item_id,score,
window_s,as_of`, sorted by variant (command-line order), category (bytewise), rank;
scores printed with repr() (shortest round-trip form).

Each engine is written the way a competent user would write the query in it:
- duckdb: one SQL statement over read_parquet(hive_partitioning), partition columns as
  VARCHAR, the time filter as a literal of the column's type (row-group statistics prune),
  a dt= filter when the lake has day folders (whole files pruned), QUALIFY row_number().
- polars: a lazy scan_parquet(hive_partitioning) query, collected with the streaming engine.
- datafusion: one SQL statement over the lake registered as a listing table (register_parquet
  with the partition columns as strings), the time filter as literals of the column's type
  (arrow_cast: row-group statistics prune), a dt= filter when the lake has day folders,
  the SQL DuckDB runs (without MATERIALIZED, which DataFusion lacks).
- spark: scripts/spark/top_sellers.py (exec'd in this process, so the measured process is
  the Spark job itself), with --master local[N] and --no-merge-schema (every file of a
  generated lake has the same schema; DuckDB and Polars also take the first file's schema).

Threads: DuckDB `SET threads`, POLARS_MAX_THREADS (set before polars is imported),
DataFusion target_partitions, Spark local[N]. Timings of the phases go to stderr (`peers: ...`) and, with --report, to
a JSON file.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import json
import math
import os
import re
import sys
import time

T0 = time.monotonic()
NS = 1_000_000_000
HEADER = ["variant", "category", "rank", "item_id", "score", "window_s", "as_of"]
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SPARK_JOB = os.path.join(REPO, "scripts", "spark", "top_sellers.py")

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)([wdhms])$")
_UNIT_S = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    m = _DURATION_RE.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r} (e.g. 7d, 12h)")
    seconds = float(m.group(1)) * _UNIT_S[m.group(2)]
    if seconds <= 0 or seconds != int(seconds):
        raise argparse.ArgumentTypeError(f"bad duration {text!r}: must be a positive whole number of seconds")
    return int(seconds)


_AS_OF_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$")


def parse_as_of(text: str) -> int:
    m = _AS_OF_RE.match(text)
    if not m:
        raise argparse.ArgumentTypeError(f"bad --as-of {text!r}: expected YYYY-MM-DDTHH:MM:SSZ")
    return calendar.timegm(tuple(int(g) for g in m.groups()) + (0, 0, 0)) * NS


def log(msg: str) -> None:
    print(f"peers: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The lake: layout and schema (from the folder names and one file's footer)
# ---------------------------------------------------------------------------


class Lake:
    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        first = None
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
            files = sorted(f for f in filenames if f.endswith(".parquet") and not f.startswith(("_", ".")))
            if files:
                first = os.path.join(dirpath, files[0])
                break
        if first is None:
            raise SystemExit(f"peers: error: no .parquet file under {self.root}")
        self.first_file = first
        levels = os.path.relpath(os.path.dirname(first), self.root).split(os.sep)
        self.partition_keys = [lv.split("=", 1)[0] for lv in levels]
        if not self.partition_keys or self.partition_keys[0] != "category":
            raise SystemExit(f"peers: error: {first}: expected <lake>/category=<c>/[dt=<d>/]*.parquet")
        self.has_dt = "dt" in self.partition_keys
        # The files sit at one depth in a generated lake: a fixed-depth glob lists them.
        self.glob = os.path.join(self.root, *(["*"] * len(levels)), "*.parquet")


def window_days(as_of_ns: int, window_s: int) -> tuple[str, str]:
    """The dt= values a day-partitioned lake can hold counted purchases in."""
    lo = time.strftime("%Y-%m-%d", time.gmtime((as_of_ns - window_s * NS) // NS))
    hi = time.strftime("%Y-%m-%d", time.gmtime(math.ceil(as_of_ns / NS) - 1))
    return lo, hi


# ---------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------


def query_sql(args, lake: Lake, variants, src: str, where: list[str], ts_ns: str, has_quantity: bool,
              materialize: bool) -> str:
    """The query in SQL (DuckDB's and DataFusion's dialects share it): `where` holds the time
    filter, `ts_ns` the time in ns since the epoch, `src` the table."""
    item, qty = args.item_column, args.quantity_column
    where = [*where, f'"{item}" IS NOT NULL']
    if lake.has_dt:
        d_lo, d_hi = window_days(args.as_of, args.window)
        where.append(f"dt BETWEEN '{d_lo}' AND '{d_hi}'")
    q = f'coalesce("{qty}", 1)' if has_quantity else "1"
    if has_quantity:
        where.append(f"{q} > 0")
    age = f"(({args.as_of} - {ts_ns})::DOUBLE / 1e9)"
    sums = ",\n           ".join(
        f"sum({q} * exp({-lam!r} * {age})) AS s{i}" for i, (_, lam) in enumerate(variants))
    ranked = "\n    UNION ALL\n".join(
        f"    SELECT {i} AS v, category, item, s{i} AS score FROM scored\n"
        f"    QUALIFY row_number() OVER (PARTITION BY category ORDER BY s{i} DESC, item ASC) <= {args.top}"
        for i in range(len(variants)))
    return (f"WITH scored AS {'MATERIALIZED ' if materialize else ''}(\n"
            f"    SELECT category, \"{item}\" AS item,\n           {sums}\n"
            f"    FROM {src}\n    WHERE {' AND '.join(where)}\n    GROUP BY category, \"{item}\"\n)\n"
            f"{ranked}")


def run_duckdb(args, lake: Lake, variants):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {int(args.threads)}")
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET TimeZone = 'UTC'")
    src = (f"read_parquet('{lake.glob}', hive_partitioning = true, hive_types_autocast = false)")
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    item, ts, qty = args.item_column, args.ts_column, args.quantity_column
    for col in (item, ts):
        if col not in types:
            raise SystemExit(f"peers: error: no column {col!r} in {lake.root} ({', '.join(types)})")
    ts_type = types[ts]
    lo_ns, hi_ns = args.as_of - args.window * NS, args.as_of
    if ts_type.startswith("TIMESTAMP"):
        # Literals of the column's own type, so the scan prunes row groups by statistics.
        def lit(ns):
            text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // NS))
            return f"'{text}{'+00' if 'TIME ZONE' in ts_type or 'TZ' in ts_type else ''}'::{ts_type}"
        where = [f'"{ts}" > {lit(lo_ns)}', f'"{ts}" <= {lit(hi_ns)}']
        ts_ns = f'epoch_ns("{ts}")'
    else:  # INT64 epoch milliseconds
        where = [f'"{ts}" > {lo_ns // 1_000_000}', f'"{ts}" <= {hi_ns // 1_000_000}']
        ts_ns = f'("{ts}" * 1000000)'
    sql = query_sql(args, lake, variants, src, where, ts_ns, qty in types, materialize=len(variants) > 1)
    if args.verbose:
        log("SQL:\n" + sql)
    t_query = time.monotonic()
    rows = con.execute(sql).fetchall()
    t_done = time.monotonic()
    return ([(v, c, it, s) for v, c, it, s in rows],
            {"startup_s": t_query - T0, "query_s": t_done - t_query})


def run_polars(args, lake: Lake, variants):
    import polars as pl

    hive_schema = {k: pl.String for k in lake.partition_keys}
    lf = pl.scan_parquet(lake.glob, hive_partitioning=True, hive_schema=hive_schema,
                         try_parse_hive_dates=False)
    schema = lf.collect_schema()
    item, ts, qty = args.item_column, args.ts_column, args.quantity_column
    for col in (item, ts):
        if col not in schema:
            raise SystemExit(f"peers: error: no column {col!r} in {lake.root} ({', '.join(schema)})")
    ts_type = schema[ts]
    lo_ns, hi_ns = args.as_of - args.window * NS, args.as_of
    if isinstance(ts_type, pl.Datetime):
        # Literals of the column's type (predicate pushed into the scan, statistics prune).
        def lit(ns):
            return pl.lit(ns, dtype=pl.Int64).cast(pl.Datetime("ns", "UTC")).cast(ts_type)
        ts_ns = pl.col(ts).dt.epoch("ns")
    else:  # INT64 epoch milliseconds
        def lit(ns):
            return pl.lit(ns // 1_000_000, dtype=pl.Int64)
        ts_ns = pl.col(ts).cast(pl.Int64) * 1_000_000
    pred = (pl.col(ts) > lit(lo_ns)) & (pl.col(ts) <= lit(hi_ns)) & pl.col(item).is_not_null()
    if lake.has_dt:
        d_lo, d_hi = window_days(args.as_of, args.window)
        pred = pred & (pl.col("dt") >= d_lo) & (pl.col("dt") <= d_hi)
    if qty in schema:
        q = pl.col(qty).cast(pl.Float64).fill_null(1.0)
        pred = pred & (pl.col(qty).fill_null(1) > 0)
    else:
        q = pl.lit(1.0)
    age = (pl.lit(args.as_of, dtype=pl.Int64) - ts_ns).cast(pl.Float64) / 1e9
    scored = (lf.filter(pred)
              .group_by("category", pl.col(item).alias("item"))
              .agg([(q * (age * -lam).exp()).sum().alias(f"s{i}") for i, (_, lam) in enumerate(variants)]))
    parts = []
    for i in range(len(variants)):
        # Per category the `top` largest by (score desc, item asc): a partial selection,
        # not a sort of every (category, item); write_csv orders the rows.
        parts.append(scored.group_by("category")
                     .agg(pl.col("item", f"s{i}").top_k_by([f"s{i}", "item"], k=args.top, reverse=[False, True]))
                     .explode("item", f"s{i}")
                     .select(pl.lit(i, dtype=pl.Int32).alias("v"), "category", "item", pl.col(f"s{i}").alias("score")))
    plan = pl.concat(parts) if len(parts) > 1 else parts[0]
    engine = "streaming"
    t_query = time.monotonic()
    try:
        df = plan.collect(engine=engine)
    except TypeError:  # an old polars without the engine argument
        engine = "default"
        df = plan.collect()
    t_done = time.monotonic()
    rows = list(zip(df["v"].to_list(), df["category"].to_list(), df["item"].to_list(), df["score"].to_list()))
    return rows, {"startup_s": t_query - T0, "query_s": t_done - t_query, "polars_engine": engine}


def run_datafusion(args, lake: Lake, variants):
    import pyarrow as pa
    from datafusion import SessionConfig, SessionContext

    ctx = SessionContext(SessionConfig().with_target_partitions(int(args.threads)))
    # The partition columns as strings (category names, dt=YYYY-MM-DD), pruned by value.
    ctx.register_parquet("lake", lake.root, table_partition_cols=[(k, "string") for k in lake.partition_keys],
                         file_extension=".parquet")
    schema = ctx.table("lake").schema()
    names = set(schema.names)
    item, ts, qty = args.item_column, args.ts_column, args.quantity_column
    for col in (item, ts):
        if col not in names:
            raise SystemExit(f"peers: error: no column {col!r} in {lake.root} ({', '.join(schema.names)})")
    ts_type = schema.field(ts).type
    lo_ns, hi_ns = args.as_of - args.window * NS, args.as_of
    if pa.types.is_timestamp(ts_type):
        per_ns = {"s": NS, "ms": 1_000_000, "us": 1_000, "ns": 1}[ts_type.unit]
        unit = {"s": "Second", "ms": "Millisecond", "us": "Microsecond", "ns": "Nanosecond"}[ts_type.unit]
        tz = f'Some("{ts_type.tz}")' if ts_type.tz else "None"

        # Literals of the column's own type, so the scan prunes row groups by statistics.
        def lit(ns):
            return f"arrow_cast({ns // per_ns}, 'Timestamp({unit}, {tz})')"
        ts_ns = f'(arrow_cast("{ts}", \'Int64\') * {per_ns})'
    else:  # INT64 epoch milliseconds
        def lit(ns):
            return str(ns // 1_000_000)
        ts_ns = f'("{ts}" * 1000000)'
    where = [f'"{ts}" > {lit(lo_ns)}', f'"{ts}" <= {lit(hi_ns)}']
    # DataFusion has no MATERIALIZED: the scored CTE is computed once per variant.
    sql = query_sql(args, lake, variants, "lake", where, ts_ns, qty in names, materialize=False)
    if args.verbose:
        log("SQL:\n" + sql)
    t_query = time.monotonic()
    table = ctx.sql(sql).to_arrow_table()
    t_done = time.monotonic()
    rows = list(zip(table["v"].to_pylist(), table["category"].to_pylist(), table["item"].to_pylist(),
                    table["score"].to_pylist()))
    return rows, {"startup_s": t_query - T0, "query_s": t_done - t_query}


def write_csv(path: str, rows, variants, window_s: int, as_of_ns: int, top: int) -> int:
    as_of = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(as_of_ns // NS))
    rows = sorted(rows, key=lambda r: (r[0], r[1].encode("utf-8", "surrogatepass"), -r[3], r[2]))
    tmp = f"{path}.tmp-{os.getpid()}"
    n, last, rank = 0, None, 0
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for v, cat, item, score in rows:
            rank = rank + 1 if (v, cat) == last else 1
            last = (v, cat)
            if rank > top:
                continue
            w.writerow([variants[v][0], cat, rank, str(item), repr(float(score)), window_s, as_of])
            n += 1
    os.replace(tmp, path)
    return n


def exec_spark(args, variants):
    """Replaces this process with the PySpark job (so the measured process is the job)."""
    cmd = [sys.executable, SPARK_JOB, "--lake", args.lake, "--as-of", args.as_of_text,
           "--window", f"{args.window}s", "--max-window", f"{args.window}s", "--top", str(args.top),
           "--out", args.out, "--master", f"local[{args.threads}]",
           "--driver-memory", args.spark_driver_memory, "--no-merge-schema",
           "--item-column", args.item_column, "--ts-column", args.ts_column,
           "--quantity-column", args.quantity_column]
    for name, spec in zip([v[0] for v in variants], args.variant_specs):
        cmd += ["--variant", f"{name}={spec}"]
    for c in args.spark_conf:
        cmd += ["--conf", c]
    log("exec " + " ".join(cmd))
    sys.stderr.flush()
    os.execv(sys.executable, cmd)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("engine", choices=["duckdb", "polars", "datafusion", "spark"])
    p.add_argument("--lake", required=True)
    p.add_argument("--out", required=True, help="result CSV")
    p.add_argument("--as-of", default="2026-10-15T00:00:00Z")
    p.add_argument("--half-life", default=None, help="one variant 'default' (default 7d)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=H",
                   help="a named variant (repeatable; replaces --half-life)")
    p.add_argument("--window", default="30d", help="the fixed window W (default 30d)")
    p.add_argument("--top", type=int, default=100)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--item-column", default="item_id")
    p.add_argument("--ts-column", default="ts")
    p.add_argument("--quantity-column", default="quantity")
    p.add_argument("--spark-driver-memory", default="4g")
    p.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--report", help="write phase timings (JSON) here")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args(argv)
    try:
        args.as_of_text = args.as_of
        args.as_of = parse_as_of(args.as_of)
        args.window = parse_duration(args.window)
        if args.variant and args.half_life:
            p.error("--half-life and --variant exclude each other")
        specs = args.variant or [f"default={args.half_life or '7d'}"]
        variants, args.variant_specs = [], []
        for s in specs:
            name, sep, h = s.partition("=")
            if not sep or not name:
                p.error(f"--variant {s!r}: expected NAME=HALF_LIFE")
            variants.append((name, math.log(2) / parse_duration(h)))
            args.variant_specs.append(h)
    except argparse.ArgumentTypeError as err:
        p.error(str(err))

    if args.engine == "spark":
        exec_spark(args, variants)  # does not return
    if args.engine == "polars":
        os.environ["POLARS_MAX_THREADS"] = str(args.threads)  # must precede the import

    lake = Lake(args.lake)
    run = {"duckdb": run_duckdb, "polars": run_polars, "datafusion": run_datafusion}[args.engine]
    rows, info = run(args, lake, variants)
    t_write = time.monotonic()
    n = write_csv(args.out, rows, variants, args.window, args.as_of, args.top)
    t_end = time.monotonic()
    info.update({"engine": args.engine, "threads": args.threads, "rows_out": n,
                 "write_s": t_end - t_write, "total_s": t_end - T0})
    log(f"{args.engine}: query {info['query_s']:.3f}s, write {info['write_s']:.3f}s, "
        f"total in-process {info['total_s']:.3f}s, {n} rows -> {args.out}")
    if args.report:
        with open(args.report, "w") as f:
            json.dump(info, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
