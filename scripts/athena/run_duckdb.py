#!/usr/bin/env python3
"""Runs top_sellers_duckdb.sql on a local lake and writes the CSV `topsellers compute` writes.

The SQL file is a template: its ${NAME} parameters are filled in here by plain textual
substitution from flags that mean what they mean for `topsellers compute`. With --athena-sql it
also renders top_sellers_athena.sql with the very same parameters, ready for the Athena console.

    .venv/bin/python scripts/athena/run_duckdb.py --lake /tmp/lake --as-of 2026-10-15T00:00:00Z \\
        --variant fast=1d --variant slow=14d --window 30d --max-window 365d --top 10 \\
        --out /tmp/sql.csv [--athena-sql /tmp/athena.sql --table topsellers.purchases]

    # Only render the Athena query (no local lake needed; python3 without duckdb is enough):
    python3 scripts/athena/run_duckdb.py --render-only --athena-sql q.sql \\
        --as-of 2026-10-15T00:00:00Z --variant default=7d --categories books,electronics

Output CSV: header `variant,category,rank,item_id,score,window_s,as_of`, rows sorted by variant
(command-line order), category (bytewise), rank; scores printed with repr() (shortest
round-trip), as_of in RFC 3339 UTC like the engine (`2026-10-15T00:00:00Z`).

Exit status: 0 success, 1 failure (unreadable lake, SQL error), 2 usage error.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import datetime
import math
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DUCKDB_SQL = os.path.join(HERE, "top_sellers_duckdb.sql")
ATHENA_SQL = os.path.join(HERE, "top_sellers_athena.sql")
NANOS = 1_000_000_000

# ---------------------------------------------------------------------------
# Flag values, parsed exactly as the topsellers CLI parses them (bin/src/units.rs)
# ---------------------------------------------------------------------------

_DURATION_UNITS = [("w", 7.0 * 86_400e9), ("d", 86_400e9), ("h", 3_600e9), ("m", 60e9), ("s", 1e9)]


def parse_duration_ns(text: str) -> int:
    """`90d`, `1.5h`, `2w`, `45s` -> nanoseconds: number * unit in f64, rounded (like the CLI)."""
    t = text.strip()
    for suffix, factor in _DURATION_UNITS:
        if t.endswith(suffix):
            number = t[: -len(suffix)].strip()
            break
    else:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: write a number and a unit, like 90d, 12h, 30m or 45s")
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", number):
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: {number!r} is not a number")
    ns = float(number) * factor
    if not (math.isfinite(ns) and ns >= 1.0):
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be positive")
    if ns > 100.0 * 365.0 * 86_400e9:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be under 100 years")
    return int(math.floor(ns + 0.5))  # Rust's f64::round: half away from zero (ns > 0)


def parse_window_s(text: str) -> int:
    ns = parse_duration_ns(text)
    if ns % NANOS:
        raise argparse.ArgumentTypeError(f"{text!r}: the SQL version takes windows in whole seconds")
    return ns // NANOS


_AS_OF_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_as_of(text: str) -> int:
    """RFC 3339 -> epoch nanoseconds, exactly."""
    m = _AS_OF_RE.match(text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"invalid --as-of {text!r}: expected RFC 3339, e.g. 2026-10-15T00:00:00Z")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid --as-of {text!r}: {err}") from None
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    offset = m.group(8)
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    return seconds * NANOS + int((m.group(7) or "").ljust(9, "0"))


def format_as_of(epoch_ns: int) -> str:
    """Like chrono's to_rfc3339_opts(SecondsFormat::AutoSi, true): fraction of 3/6/9 digits if any."""
    seconds, nanos = divmod(epoch_ns, NANOS)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        if nanos % 1_000_000 == 0:
            text += ".%03d" % (nanos // 1_000_000)
        elif nanos % 1_000 == 0:
            text += ".%06d" % (nanos // 1_000)
        else:
            text += ".%09d" % nanos
    return text + "Z"


def sql_timestamp(epoch_ns: int) -> str:
    """Epoch ns -> 'YYYY-MM-DD HH:MM:SS[.fffffffff]' (UTC), for a TIMESTAMP literal."""
    seconds, nanos = divmod(epoch_ns, NANOS)
    text = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    return text + (".%09d" % nanos if nanos else "")


def sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_double(value: float) -> str:
    """A DOUBLE literal in both dialects (an exponent makes it DOUBLE, not DECIMAL, in Trino)."""
    text = repr(float(value))
    return text if ("e" in text or "E" in text) else text + "e0"


class VariantAction(argparse.Action):
    """Collects --half-life and --variant into one list, in command-line order."""

    def __call__(self, parser, namespace, value, option_string=None):
        variants = list(getattr(namespace, "variants", None) or [])
        if option_string == "--half-life":
            name, half_life = "default", value
        else:
            name, sep, half_life = value.partition("=")
            if not sep or not name:
                parser.error(f"--variant: {value!r} is not NAME=HALF_LIFE (e.g. fast=1d)")
        try:
            ns = parse_duration_ns(half_life)
        except argparse.ArgumentTypeError as err:
            parser.error(f"{option_string}: {err}")
        # The engine takes the half-life as ns / 1e9 in f64 (bin/src/commands/compute.rs).
        variants.append((name, ns / 1e9, option_string))
        namespace.variants = variants


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def _split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of one SQL line: the comment starts at the first -- outside a '...' literal."""
    quoted = False
    for i, ch in enumerate(line):
        if ch == "'":
            quoted = not quoted
        elif not quoted and line.startswith("--", i):
            return line[:i], line[i:]
    return line, ""


def render(template_path: str, values: dict[str, str]) -> str:
    """Replaces every ${NAME} in the SQL code (comments, which document the names, stay as they
    are); a name without a value is an error, so nothing is left half-filled."""
    with open(template_path, encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    out, missing = [], set()
    for line in lines:
        code, comment = _split_comment(line)
        missing |= {m.group(1) for m in _PLACEHOLDER.finditer(code)} - values.keys()
        out.append(_PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), code) + comment)
    if missing:
        raise SystemExit(f"error: {template_path}: no value for {', '.join('${' + n + '}' for n in sorted(missing))}")
    return "".join(out)


def lake_categories(lake: str) -> list[str]:
    """The raw (still %XX-escaped) values of the lake's category= folders, as Athena needs them."""
    names = []
    for entry in sorted(os.listdir(lake)):
        if entry.startswith("category=") and os.path.isdir(os.path.join(lake, entry)):
            names.append(entry[len("category="):])
    return names


def duckdb_error():
    import duckdb

    return duckdb.Error


def column_exprs(con, glob: str, item_col: str, ts_col: str, qty_col: str) -> dict[str, str]:
    """Looks at the lake's columns (all files, by name) and picks the expressions."""
    src = (f"read_parquet({sql_string(glob)}, hive_partitioning = true, "
           f"hive_types = {{'category': VARCHAR, 'dt': VARCHAR}}, union_by_name = true)")
    try:
        schema = {name: typ for name, typ, *_ in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    except duckdb_error() as err:
        if "does not appear to be a partition" not in str(err):
            raise
        schema = {}
    if "dt" not in schema or "category" not in schema:
        raise RuntimeError("not a category=<c>/dt=<YYYY-MM-DD>/ lake: the SQL, like the Athena table, "
                           "needs both partition levels (topsellers gen --layout category/dt)")
    if item_col not in schema:
        raise RuntimeError(f"no item id column {item_col!r} in the lake (columns: {', '.join(schema)})")
    if ts_col not in schema:
        raise RuntimeError(f"no timestamp column {ts_col!r} in the lake (columns: {', '.join(schema)})")
    ts_type = schema[ts_col]
    if ts_type.startswith("TIMESTAMP"):
        ts_expr = sql_ident(ts_col)
    elif ts_type in ("BIGINT", "INTEGER", "UBIGINT", "UINTEGER", "HUGEINT"):
        ts_expr = f"epoch_ms({sql_ident(ts_col)})"  # INT64 epoch milliseconds (SPEC section 2)
    else:
        raise RuntimeError(f"timestamp column {ts_col!r} has type {ts_type}, expected TIMESTAMP or INT64 millis")
    qty_expr = sql_ident(qty_col) if qty_col in schema else "CAST(NULL AS INTEGER)"
    return {"ITEM_COLUMN": sql_ident(item_col), "TS_COLUMN": ts_expr, "QUANTITY_COLUMN": qty_expr}


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Run the plain-SQL top sellers (DuckDB) over a local lake.")
    p.add_argument("--lake", help="lake root folder (Hive layout category=<c>/dt=<d>/)")
    p.add_argument("--as-of", required=True, type=parse_as_of, help="reference time, RFC 3339")
    p.add_argument("--half-life", action=VariantAction, dest="variants", metavar="DUR",
                   help="one variant named 'default' with this half-life")
    p.add_argument("--variant", action=VariantAction, dest="variants", metavar="NAME=DUR",
                   help="a named variant (repeatable; output in the order given)")
    p.add_argument("--window", type=parse_window_s, default=parse_window_s("30d"), metavar="DUR")
    p.add_argument("--max-window", type=parse_window_s, default=parse_window_s("365d"), metavar="DUR")
    p.add_argument("--min-items", type=int, default=None, metavar="N", help="default: --top")
    p.add_argument("--top", type=int, default=100, metavar="N")
    p.add_argument("--item-column", default="item_id")
    p.add_argument("--ts-column", default="ts")
    p.add_argument("--quantity-column", default="quantity")
    p.add_argument("--out", help="results CSV")
    p.add_argument("--sql-out", metavar="FILE", help="also write the rendered DuckDB query here")
    p.add_argument("--athena-sql", metavar="FILE", help="also render top_sellers_athena.sql with these parameters")
    p.add_argument("--table", default="topsellers.purchases", help="Athena table for --athena-sql")
    p.add_argument("--categories", metavar="A,B,...",
                   help="categories for the Athena injected-projection filter, as in the S3 paths "
                        "(default: the lake's category= folders)")
    p.add_argument("--no-category-filter", action="store_true",
                   help="render the Athena query without a category filter (enum projection)")
    p.add_argument("--render-only", action="store_true",
                   help="only write --athena-sql (and --sql-out); run nothing (--lake then only "
                        "serves to list the categories)")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    variants = args.variants or [("default", 7 * 86_400.0, "default")]
    names = [v[0] for v in variants]
    if len(set(names)) != len(names):
        parser.error(f"a variant name is used twice: {names}")
    if "--half-life" in [v[2] for v in variants] and len(variants) > 1:
        parser.error("--half-life cannot be combined with --variant")
    if args.top < 1:
        parser.error("--top must be at least 1")
    min_items = args.top if args.min_items is None else args.min_items
    if min_items < 1:
        parser.error("--min-items must be at least 1")

    if args.render_only:
        if not args.athena_sql:
            parser.error("--render-only needs --athena-sql FILE")
        if not (args.lake or args.categories or args.no_category_filter):
            parser.error("--render-only needs --categories A,B,... (or --lake, or --no-category-filter)")
    elif not (args.lake and args.out):
        parser.error("--lake and --out are required (unless --render-only)")
    lake = os.path.abspath(args.lake) if args.lake else None
    if lake and not os.path.isdir(lake):
        print(f"error: {args.lake}: not a directory", file=sys.stderr)
        return 1

    values = {
        "AS_OF": sql_timestamp(args.as_of),
        "BASE_WINDOW_S": str(args.window),
        "MAX_WINDOW_S": str(args.max_window),
        "MIN_ITEMS": str(min_items),
        "TOP_N": str(args.top),
        "VARIANTS": ", ".join(
            f"({i}, {sql_string(name)}, {sql_double(h)})" for i, (name, h, _) in enumerate(variants, start=1)
        ),
    }

    if args.athena_sql:
        if args.no_category_filter:
            cat_filter = ""
        else:
            cats = args.categories.split(",") if args.categories else lake_categories(lake)
            cat_filter = "AND category IN (" + ", ".join(sql_string(c) for c in cats) + ")" if cats else ""
        athena = render(ATHENA_SQL, {**values, "TABLE": args.table, "CATEGORY_FILTER": cat_filter})
        with open(args.athena_sql, "w", encoding="utf-8") as f:
            f.write(athena)
    if args.render_only:
        return 0

    import duckdb  # only needed from here on (rendering the Athena query works without it)

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    glob = lake + "/**/*.parquet"
    started = time.monotonic()
    try:
        cols = column_exprs(con, glob, args.item_column, args.ts_column, args.quantity_column)
    except duckdb.IOException as err:
        if "No files found" not in str(err):
            print(f"error: {lake}: {err}", file=sys.stderr)
            return 1
        print(f"warning: {lake}: no Parquet files", file=sys.stderr)
        rows = []
    except (duckdb.Error, RuntimeError) as err:
        print(f"error: {lake}: {err}", file=sys.stderr)
        return 1
    else:
        sql = render(DUCKDB_SQL, {**values, **cols, "LAKE": lake.replace("'", "''")})
        if args.sql_out:
            with open(args.sql_out, "w", encoding="utf-8") as f:
                f.write(sql)
        try:
            rows = con.execute(sql).fetchall()
        except duckdb.Error as err:
            print(f"error: query failed: {err}", file=sys.stderr)
            return 1

    as_of_text = format_as_of(args.as_of)
    order = {name: i for i, name in enumerate(names)}
    out_rows = []
    for variant, category, rank, item_id, score, window_s, sql_as_of in rows:
        if parse_as_of(sql_as_of) != args.as_of:  # the SQL saw the as_of we meant
            print(f"error: the query used as_of {sql_as_of}, expected {as_of_text}", file=sys.stderr)
            return 1
        out_rows.append((order[variant], category.encode("utf-8"), rank,
                         [variant, category, rank, str(item_id), repr(float(score)), int(window_s), as_of_text]))
    out_rows.sort(key=lambda r: r[:3])

    tmp = args.out + ".tmp"
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["variant", "category", "rank", "item_id", "score", "window_s", "as_of"])
        for *_, row in out_rows:
            writer.writerow(row)
    os.replace(tmp, args.out)
    groups = len({(r[0], r[1]) for r in out_rows})
    print(f"duckdb sql: {len(out_rows)} rows, {groups} (variant, category) groups, "
          f"{time.monotonic() - started:.2f}s -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
