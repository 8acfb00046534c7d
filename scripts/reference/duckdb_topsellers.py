#!/usr/bin/env python3
"""Plain-SQL reference implementation of the top-sellers computation (SPEC sections 1-3).

This script is deliberately independent of the Rust engine: it lists the Hive-style lake
in Python, loads every Parquet file through DuckDB's own Parquet reader into one table of
normalised events, and then does the adaptive window choice, the decayed scoring and the
ranking in one SQL statement. It is slow and simple on purpose; its only job is to be
obviously correct, so that `topsellers compute` can be checked against it
(see compare_results.py) and so that the golden files under io/lake/tests/golden/ can be
computed without the Rust code.

Example:

    .venv/bin/python scripts/reference/duckdb_topsellers.py \\
        --lake /tmp/lake --as-of 2026-10-15T00:00:00Z \\
        --variant fast=1d --variant slow=14d --window 30d --top 10 --out /tmp/ref.csv

Exit status: 0 success, 1 failure (bad lake or data), 2 usage error.
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
import urllib.parse
from dataclasses import dataclass

import duckdb

NANOS_PER_SECOND = 1_000_000_000

# ---------------------------------------------------------------------------
# Command-line values: durations, as_of, variants
# ---------------------------------------------------------------------------

_DURATION_RE = re.compile(r"^(\d+)([dhms])$")
_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}


def parse_duration(text: str) -> int:
    """`90d`, `12h`, `30m`, `45s` -> whole seconds (strictly positive)."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text!r}: expected an integer followed by d, h, m or s (e.g. 30d)"
        )
    seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"invalid duration {text!r}: must be greater than zero")
    return seconds


_AS_OF_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)


def parse_as_of(text: str) -> int:
    """RFC 3339 timestamp -> epoch nanoseconds (exact, no float on the way)."""
    match = _AS_OF_RE.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(
            f"invalid --as-of {text!r}: expected RFC 3339, e.g. 2026-10-15T00:00:00Z"
        )
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, offset = match.group(7), match.group(8)
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        # timegm happily normalises 2026-02-31; reject such dates explicitly.
        datetime.datetime(year, month, day, hour, minute, second)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"invalid --as-of {text!r}: {err}") from None
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        seconds -= sign * (int(offset[1:3]) * 3600 + int(offset[4:6]) * 60)
    nanos = int((fraction or "").ljust(9, "0"))
    return seconds * NANOS_PER_SECOND + nanos


def format_as_of(epoch_ns: int) -> str:
    """Epoch nanoseconds -> `YYYY-MM-DDTHH:MM:SSZ`, with a fraction only when it is non-zero.

    The fraction is printed with 3, 6 or 9 digits (whichever is the shortest exact one),
    like chrono's `SecondsFormat::AutoSi`.
    """
    seconds, nanos = divmod(epoch_ns, NANOS_PER_SECOND)
    t = time.gmtime(seconds)
    text = "%04d-%02d-%02dT%02d:%02d:%02d" % (t.tm_year, t.tm_mon, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec)
    if nanos:
        if nanos % 1_000_000 == 0:
            text += ".%03d" % (nanos // 1_000_000)
        elif nanos % 1_000 == 0:
            text += ".%06d" % (nanos // 1_000)
        else:
            text += ".%09d" % nanos
    return text + "Z"


@dataclass(frozen=True)
class Variant:
    name: str
    lambda_per_second: float
    spec: str  # what the user wrote, for messages


class VariantAction(argparse.Action):
    """Collects --half-life, --lambda and --variant into one list, in command-line order."""

    def __call__(self, parser, namespace, value, option_string=None):
        variants = list(getattr(namespace, "variants", None) or [])
        if option_string == "--half-life":
            seconds = _duration_or_error(parser, option_string, value)
            variants.append(Variant("default", math.log(2) / seconds, f"--half-life {value}"))
        elif option_string == "--lambda":
            try:
                per_day = float(value)
            except ValueError:
                parser.error(f"--lambda: {value!r} is not a number")
            if not math.isfinite(per_day) or per_day < 0:
                parser.error(f"--lambda: {value!r} must be a finite number >= 0 (per day)")
            variants.append(Variant("default", per_day / 86_400, f"--lambda {value}"))
        else:  # --variant NAME=HALF_LIFE
            name, sep, half_life = value.partition("=")
            if not sep or not name:
                parser.error(f"--variant: {value!r} is not NAME=HALF_LIFE (e.g. fast=1d)")
            seconds = _duration_or_error(parser, option_string, half_life)
            variants.append(Variant(name, math.log(2) / seconds, f"--variant {value}"))
        namespace.variants = variants


def _duration_or_error(parser, option, text):
    try:
        return parse_duration(text)
    except argparse.ArgumentTypeError as err:
        parser.error(f"{option}: {err}")


# ---------------------------------------------------------------------------
# The lake: listing files and loading them into one events table
# ---------------------------------------------------------------------------


class LakeError(Exception):
    """A problem with the lake's files or data; the message names the file at fault."""


def list_lake_files(root: str) -> list[tuple[str, str]]:
    """All `(path, category)` pairs of data files under a Hive-style lake root.

    Names (files or folders) starting with `_` or `.` are skipped, as are files not ending in
    `.parquet`. The category is the %XX-decoded value of the `category=` level (kept as a
    string: no type inference, `+` is not a space); other `key=value` levels are ignored.
    """
    if not os.path.isdir(root):
        raise LakeError(f"{root}: not a directory")
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(("_", ".")))
        rel_dirs = os.path.relpath(dirpath, root).split(os.sep)
        category = None
        for part in rel_dirs:
            if part.startswith("category="):
                try:
                    category = urllib.parse.unquote(part[len("category="):], errors="strict")
                except UnicodeDecodeError:
                    raise LakeError(f"{dirpath}: category value is not UTF-8 after %XX decoding") from None
                break
        for name in sorted(filenames):
            if name.startswith(("_", ".")) or not name.endswith(".parquet"):
                continue
            path = os.path.join(dirpath, name)
            if category is None:
                print(f"warning: {path}: not under a category=<value> folder, ignored", file=sys.stderr)
                continue
            found.append((path, category))
    return found


_INTEGER_TYPES = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
}
# DuckDB's names for Parquet TIMESTAMP logical types (millis/micros/nanos, UTC-adjusted or not)
# and for INT96. epoch_ns() gives the UTC instant for all of them.
_TIMESTAMP_TYPES = {
    "TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ_NS",
}


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load_events(con, files, item_col, ts_col, qty_col) -> str:
    """Loads every file into the table `events(category, item, ts_ns, qty)`.

    Each file is read on its own so that its own column types decide how `ts` is converted
    (files of one lake may mix timestamp units and epoch-millis is told apart from TIMESTAMP
    by type). Returns the item id kind: 'int' or 'string'.
    """
    id_kind = None
    for path, category in files:
        src = f"read_parquet({_sql_string(path)}, hive_partitioning = false)"
        try:
            schema = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
        except duckdb.Error as err:
            raise LakeError(f"{path}: cannot read Parquet file: {err}") from None

        # item id: any integer type (kept exact as HUGEINT) or UTF-8 string.
        item_type = schema.get(item_col)
        if item_type is None:
            raise LakeError(f"{path}: no item id column {item_col!r} (columns: {', '.join(schema)})")
        if item_type in _INTEGER_TYPES:
            kind, item_expr = "int", f"CAST({_sql_ident(item_col)} AS HUGEINT)"
        elif item_type == "VARCHAR":
            kind, item_expr = "string", _sql_ident(item_col)
        else:
            raise LakeError(f"{path}: item id column {item_col!r} has type {item_type}, expected INT64 or UTF8")
        if id_kind is None:
            id_kind = kind
            sql_type = "HUGEINT" if kind == "int" else "VARCHAR"
            con.execute(
                f"CREATE TEMP TABLE events (category VARCHAR, item {sql_type}, ts_ns HUGEINT, qty HUGEINT)"
            )
        elif kind != id_kind:
            raise LakeError(
                f"{path}: item id column {item_col!r} is {item_type} but earlier files had "
                f"{'integer' if id_kind == 'int' else 'string'} ids; one lake must use one id type"
            )

        # ts: a TIMESTAMP of any unit (naive ones are taken as UTC) or INT64 epoch millis.
        ts_type = schema.get(ts_col)
        if ts_type is None:
            raise LakeError(f"{path}: no timestamp column {ts_col!r} (columns: {', '.join(schema)})")
        if ts_type in _TIMESTAMP_TYPES:
            ts_expr = f"CAST(epoch_ns({_sql_ident(ts_col)}) AS HUGEINT)"
        elif ts_type in _INTEGER_TYPES:
            ts_expr = f"CAST({_sql_ident(ts_col)} AS HUGEINT) * 1000000"
        else:
            raise LakeError(f"{path}: timestamp column {ts_col!r} has type {ts_type}, expected TIMESTAMP or INT64 millis")

        # quantity: optional, any integer type; absent -> NULL here -> 1 in the computation.
        qty_type = schema.get(qty_col)
        if qty_type is None:
            qty_expr = "CAST(NULL AS HUGEINT)"
        elif qty_type in _INTEGER_TYPES:
            qty_expr = f"CAST({_sql_ident(qty_col)} AS HUGEINT)"
        else:
            raise LakeError(f"{path}: quantity column {qty_col!r} has type {qty_type}, expected an integer type")

        try:
            con.execute(
                f"INSERT INTO events SELECT {_sql_string(category)}, {item_expr}, {ts_expr}, {qty_expr} FROM {src}"
            )
        except duckdb.Error as err:
            raise LakeError(f"{path}: cannot load rows: {err}") from None
    return id_kind or "int"


# ---------------------------------------------------------------------------
# The computation, in SQL
# ---------------------------------------------------------------------------

# Parameters come from the one-row table `params`, variants from `variants(ord, name, lam)`.
# All times are exact integer nanoseconds until the decay itself, which is f64.
COMPUTE_SQL = """
WITH RECURSIVE
-- Candidate windows W, 2W, 4W, ... while strictly below W_max, then W_max itself.
doubling(w_ns) AS (
    SELECT base_w_ns FROM params WHERE base_w_ns < max_w_ns
    UNION ALL
    SELECT d.w_ns * 2 FROM doubling d, params p WHERE d.w_ns * 2 < p.max_w_ns
),
candidates(w_ns) AS (
    SELECT w_ns FROM doubling
    UNION
    SELECT max_w_ns FROM params
),
-- Valid rows: item and ts present, quantity (default 1) positive. age_ns = as_of - ts.
valid AS (
    SELECT e.category, e.item, p.as_of_ns - e.ts_ns AS age_ns, COALESCE(e.qty, 1) AS qty
    FROM events e, params p
    WHERE e.item IS NOT NULL AND e.ts_ns IS NOT NULL AND COALESCE(e.qty, 1) > 0
),
-- Each item's most recent purchase not after as_of: the item is covered by a candidate
-- window w iff as_of - w < ts, i.e. min_age < w.
item_recency AS (
    SELECT category, item, MIN(age_ns) AS min_age
    FROM valid
    WHERE age_ns >= 0
    GROUP BY category, item
),
-- Categories with at least one counted purchase within W_max (the others are left out).
live_categories AS (
    SELECT DISTINCT r.category
    FROM item_recency r, params p
    WHERE r.min_age < p.max_w_ns
),
coverage AS (
    SELECT c.category, w.w_ns, COUNT(r.item) AS distinct_items
    FROM live_categories c
    CROSS JOIN candidates w
    LEFT JOIN item_recency r ON r.category = c.category AND r.min_age < w.w_ns
    GROUP BY c.category, w.w_ns
),
-- W_c: the smallest candidate that covers at least M items, W_max if none does.
windows AS (
    SELECT c.category,
           COALESCE(MIN(c.w_ns) FILTER (WHERE c.distinct_items >= p.min_items), p.max_w_ns) AS w_ns
    FROM coverage c, params p
    GROUP BY c.category, p.max_w_ns
),
-- Decayed scores. The ordered aggregate makes the f64 sum deterministic (equal purchase
-- histories give bit-identical scores), kahan_sum keeps it close to the exact sum.
scored AS (
    SELECT v.ord, v.name AS variant, e.category, e.item, w.w_ns,
           kahan_sum(
               CAST(e.qty AS DOUBLE) * exp(-(v.lam * (CAST(e.age_ns AS DOUBLE) / 1e9)))
               ORDER BY e.age_ns, e.qty
           ) AS score
    FROM valid e
    JOIN windows w ON w.category = e.category
    CROSS JOIN variants v
    WHERE e.age_ns >= 0 AND e.age_ns < w.w_ns
    GROUP BY v.ord, v.name, e.category, e.item, w.w_ns
),
ranked AS (
    SELECT *,
           row_number() OVER (PARTITION BY ord, category ORDER BY score DESC, {item_order} ASC) AS rank
    FROM scored
)
SELECT variant, category, rank, item, score, w_ns
FROM ranked, params p
WHERE rank <= p.top_n
ORDER BY ord, encode(category), rank
"""


def compute(con, variants, as_of_ns, base_w_s, max_w_s, min_items, top_n, id_kind):
    con.execute(
        "CREATE TEMP TABLE params AS SELECT CAST(? AS HUGEINT) AS as_of_ns, CAST(? AS HUGEINT) AS base_w_ns, "
        "CAST(? AS HUGEINT) AS max_w_ns, CAST(? AS BIGINT) AS min_items, CAST(? AS BIGINT) AS top_n",
        [as_of_ns, base_w_s * NANOS_PER_SECOND, max_w_s * NANOS_PER_SECOND, min_items, top_n],
    )
    con.execute("CREATE TEMP TABLE variants (ord INTEGER, name VARCHAR, lam DOUBLE)")
    con.executemany("INSERT INTO variants VALUES (?, ?, ?)", [(i, v.name, v.lambda_per_second) for i, v in enumerate(variants)])
    # Integer ids order numerically; string ids bytewise (BLOB comparison is memcmp).
    item_order = "item" if id_kind == "int" else "encode(item)"
    return con.execute(COMPUTE_SQL.format(item_order=item_order)).fetchall()


def skip_counts(con, as_of_ns):
    """Rows scanned and skipped by reason, for the summary on stderr (cross-check of the run report)."""
    return con.execute(
        """
        SELECT count(*) AS rows_scanned,
               count(*) FILTER (WHERE item IS NULL) AS null_item,
               count(*) FILTER (WHERE item IS NOT NULL AND ts_ns IS NULL) AS null_ts,
               count(*) FILTER (WHERE item IS NOT NULL AND ts_ns IS NOT NULL AND COALESCE(qty, 1) <= 0) AS bad_quantity,
               count(*) FILTER (WHERE item IS NOT NULL AND ts_ns > ? AND COALESCE(qty, 1) > 0) AS after_as_of
        FROM events
        """,
        [as_of_ns],
    ).fetchone()


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Reference (DuckDB, plain SQL) implementation of the top-sellers computation.",
    )
    p.add_argument("--lake", required=True, help="root folder of the Hive-partitioned Parquet lake")
    p.add_argument("--as-of", required=True, type=parse_as_of, help="reference time, RFC 3339 (e.g. 2026-10-15T00:00:00Z)")
    p.add_argument("--half-life", action=VariantAction, dest="variants", metavar="DUR",
                   help="half-life of the variant named 'default' (e.g. 7d)")
    p.add_argument("--lambda", action=VariantAction, dest="variants", metavar="PER_DAY",
                   help="decay rate per day of the variant named 'default'")
    p.add_argument("--variant", action=VariantAction, dest="variants", metavar="NAME=DUR",
                   help="a named variant with its half-life (repeatable, output in the order given)")
    p.add_argument("--window", type=parse_duration, default=parse_duration("30d"), metavar="DUR",
                   help="base lookback window W (default 30d)")
    p.add_argument("--max-window", type=parse_duration, default=parse_duration("365d"), metavar="DUR",
                   help="maximum lookback window W_max (default 365d)")
    p.add_argument("--min-items", type=int, default=None, metavar="M",
                   help="coverage threshold of the adaptive window (default: --top)")
    p.add_argument("--top", type=int, default=100, metavar="N", help="items per (variant, category) (default 100)")
    p.add_argument("--item-column", default="item_id")
    p.add_argument("--ts-column", default="ts")
    p.add_argument("--quantity-column", default="quantity")
    p.add_argument("--out", required=True, help="output CSV file")
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    variants = args.variants or [Variant("default", math.log(2) / parse_duration("7d"), "default half-life 7d")]
    seen = {}
    for v in variants:
        if v.name in seen:
            parser.error(f"variant {v.name!r} defined twice ({seen[v.name]} and {v.spec})")
        seen[v.name] = v.spec
    if args.top < 1:
        parser.error("--top must be at least 1")
    min_items = args.top if args.min_items is None else args.min_items
    if min_items < 0:
        parser.error("--min-items must not be negative")

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # no local time anywhere, even for display
    try:
        files = list_lake_files(args.lake)
        id_kind = load_events(con, files, args.item_column, args.ts_column, args.quantity_column)
    except LakeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if not files:
        print(f"warning: {args.lake}: no Parquet files found", file=sys.stderr)
        con.execute("CREATE TEMP TABLE events (category VARCHAR, item HUGEINT, ts_ns HUGEINT, qty HUGEINT)")

    rows = compute(con, variants, args.as_of, args.window, args.max_window, min_items, args.top, id_kind)
    as_of_text = format_as_of(args.as_of)

    with open(args.out, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f, lineterminator="\n")
        out.writerow(["variant", "category", "rank", "item_id", "score", "window_s", "as_of"])
        for variant, category, rank, item, score, w_ns in rows:
            out.writerow([variant, category, rank, str(item), repr(float(score)), w_ns // NANOS_PER_SECOND, as_of_text])

    scanned, null_item, null_ts, bad_qty, after = skip_counts(con, args.as_of)
    categories = len({r[1] for r in rows})
    print(
        f"files={len(files)} rows_scanned={scanned} skipped_null_item={null_item} skipped_null_ts={null_ts} "
        f"skipped_quantity={bad_qty} after_as_of={after} categories={categories} rows_out={len(rows)} -> {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
