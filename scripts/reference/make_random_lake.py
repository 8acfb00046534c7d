#!/usr/bin/env python3
"""Writes a small random Hive-style Parquet lake (with pyarrow) that exercises every edge of SPEC 1-2.

It is independent of the Rust generator (`topsellers gen`) on purpose, so that the engine and
the DuckDB reference (duckdb_topsellers.py) can be compared on data neither of them wrote.

The lake is designed around one as_of (default 2026-10-15T00:00:00Z), a base window W = 30d,
W_max = 365d and a coverage threshold M (default 10, i.e. `--top 10`); it prints those
arguments at the end. What it holds:

* dense categories (W_c = 30d) whose names need care: `Books` and `books` (bytewise order),
  `toys/games` and `home garden` and `100%` and `a=b` (stored %XX-escaped), `c++` (a `+` that is
  not a space), `9` and `10` (numbers that stay strings), `café` (raw UTF-8 folder name);
* sparse categories built so that each adaptive step is needed: `sparse-30d`, `sparse-60d`,
  `sparse-120d`, `sparse-240d`, `sparse-365d` (M items only within W_max) and `sparse-few`
  (fewer than M items within W_max, so W_max). Each has one item whose only purchase is exactly
  at age P (the previous candidate: not counted there, strict bound) and one exactly at age W_c
  (never counted);
* `only-old`: purchases older than W_max, exactly at W_max and after as_of only (left out);
* `ties`: items with identical purchase histories (exact score ties) around the top-N cut,
  with ids whose numeric / bytewise order differs from other orders (9 vs 10, 2^53 vs 2^53+1,
  negative ids; `sku-9` vs `sku-10`, `B` vs `a`, non-ASCII, a comma and a quote);
* nulls in item id and ts, quantity null / 0 / negative / > 1, a quantity column absent from
  some categories and of different integer types in others, events after as_of,
  purchases exactly at as_of and exactly W before it, one 1 ns inside the window (nanosecond file);
* layouts `category=c/`, `category=c/dt=YYYY-MM-DD/` (dt consistent with ts) and
  `category=c/region=xx/`; `_SUCCESS`, `.crc`, `_temporary/`, `.hidden.parquet` and a
  `manifest.json` that must all be ignored; an empty (0 row) Parquet file;
* per file: ts as timestamp[ms|us|ns], naive or tz-aware (UTC or America/New_York), or INT64 epoch
  millis for the whole lake with --ts-int-millis; snappy/zstd/gzip/lz4/none; small row groups and
  pages; dictionary or plain/delta encodings; data page v1/v2; statistics on or off; shuffled
  column order and an extra unrelated column.

Within one lake all item ids have one type: INT64 by default, UTF8 with --string-ids.

Usage:

    .venv/bin/python scripts/reference/make_random_lake.py --out /tmp/lake --seed 1 [--string-ids]
        [--ts-int-millis] [--rows 3000] [--as-of 2026-10-15T00:00:00Z] [--min-items 10]
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import shutil
import sys
import time
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duckdb_topsellers import format_as_of, parse_as_of  # noqa: E402  (same folder)

NS = 1_000_000_000
DAY = 86_400 * NS
W = 30 * DAY
W_MAX = 365 * DAY

# Folder value for each category: Hive/Spark-style %XX escapes where a character could not
# appear in a path or would be ambiguous, raw otherwise (UTF-8, `+`, space in one of them).
ESCAPED = {
    "toys/games": "toys%2Fgames",
    "home garden": "home%20garden",
    "100%": "100%25",
    "a=b": "a%3Db",
}
DENSE = ["Books", "books", "toys/games", "home garden", "100%", "a=b", "c++", "9", "10", "café"]


class Event:
    __slots__ = ("item", "ts", "qty")

    def __init__(self, item, ts, qty):
        self.item, self.ts, self.qty = item, ts, qty


class LakeBuilder:
    def __init__(self, rng: random.Random, as_of: int, string_ids: bool, m: int, tick: int):
        self.rng, self.as_of, self.string_ids, self.m = rng, as_of, string_ids, m
        self.tick = tick  # the lake's time resolution: 1 ns, or 1 ms with --ts-int-millis
        self.events: dict[str, list[Event]] = {}
        self.next_id = itertools.count(1000)

    # Ids are made as integers and mapped to strings for --string-ids, so both lakes have the
    # same shape; the `ties` category picks its ids explicitly.
    def new_item(self):
        n = next(self.next_id)
        return f"sku-{n}" if self.string_ids else n

    def add(self, category, item, ts, qty=1):
        if category in NO_QTY:
            qty = None  # those files have no quantity column at all
        self.events.setdefault(category, []).append(Event(item, ts, qty))

    def age(self, age_ns):
        return self.as_of - age_ns

    def random_qty(self):
        r = self.rng.random()
        if r < 0.05:
            return None
        if r < 0.08:
            return self.rng.choice([0, -1, -3])
        if r < 0.25:
            return self.rng.randint(2, 50)
        return 1

    def sprinkle_bad_rows(self, category, items, n):
        """Rows the engine must skip: null item, null ts, quantity <= 0."""
        for _ in range(n):
            kind = self.rng.randrange(3)
            ts = self.age(self.rng.randrange(0, W))
            if kind == 0:
                self.add(category, None, ts, self.rng.randint(1, 3))
            elif kind == 1:
                self.add(category, self.rng.choice(items), None, 1)
            else:
                self.add(category, self.rng.choice(items), ts, self.rng.choice([0, -2]))

    def dense(self, category, rows):
        rng = self.rng
        items = [self.new_item() for _ in range(rng.randint(40, 80))]
        # Guarantee at least M + 2 distinct items inside W so that W_c = W.
        for item in items[: self.m + 2]:
            self.add(category, item, self.age(rng.randrange(NS, W - NS)), 1)
        weights = [1.0 / (k + 1) for k in range(len(items))]  # Zipf-like popularity
        for _ in range(rows):
            item = rng.choices(items, weights)[0]
            r = rng.random()
            if r < 0.55:
                age = rng.randrange(0, W)                       # inside W
            elif r < 0.95:
                age = rng.randrange(W, W_MAX + 60 * DAY)        # older, some beyond W_max
            else:
                age = -rng.randrange(1, 3 * DAY)                # after as_of
            self.add(category, item, self.age(age), self.random_qty())
        self.sprinkle_bad_rows(category, items, max(3, rows // 30))
        return items

    def sparse(self, category, prev_ns, target_ns):
        """M distinct items inside target_ns but fewer than M inside prev_ns (0: none before)."""
        rng = self.rng
        items = [self.new_item() for _ in range(self.m + 4)]
        inside_prev = items[: self.m - 1] if prev_ns else []
        for item in inside_prev:
            self.add(category, item, self.age(rng.randrange(NS, prev_ns)), rng.randint(1, 3))
        # Exactly at age prev: not counted under prev (strict bound), counted under target.
        rest = items[len(inside_prev): self.m]
        if prev_ns:
            self.add(category, rest[0], self.age(prev_ns), 2)
            rest = rest[1:]
        for item in rest:
            self.add(category, item, self.age(rng.randrange(prev_ns + NS, target_ns)), 1)
        # Older purchases of the same items (only counted when they fall inside W_c).
        for item in items[: self.m]:
            if rng.random() < 0.5:
                self.add(category, item, self.age(rng.randrange(target_ns, W_MAX + 30 * DAY)), 1)
        # Exactly at age target (never counted) and beyond W_max.
        self.add(category, items[self.m], self.age(target_ns), 5)
        self.add(category, items[self.m + 1], self.age(W_MAX + rng.randrange(DAY, 30 * DAY)), 3)
        self.add(category, items[self.m + 2], self.age(-rng.randrange(1, DAY)), 4)  # after as_of
        self.sprinkle_bad_rows(category, items, 2)

    def sparse_few(self, category):
        """Fewer than M items within W_max: W_c = W_max, all of them ranked."""
        rng = self.rng
        items = [self.new_item() for _ in range(max(1, self.m // 3))]
        for item in items:
            for _ in range(rng.randint(1, 3)):
                self.add(category, item, self.age(rng.randrange(W, W_MAX)), self.random_qty())
        self.add(category, self.new_item(), self.age(W_MAX), 1)               # exactly W_max: out
        self.add(category, self.new_item(), self.age(W_MAX + DAY), 1)

    def only_old(self, category):
        """Nothing counted within W_max: the category must be left out of the results."""
        rng = self.rng
        for _ in range(12):
            self.add(category, self.new_item(), self.age(W_MAX + rng.randrange(0, 60 * DAY)), 1)
        self.add(category, self.new_item(), self.age(-DAY), 1)                # after as_of
        self.add(category, self.new_item(), self.age(rng.randrange(0, W)), 0)  # quantity 0
        self.add(category, None, self.age(DAY), 1)                            # null item

    def ties(self, category):
        """Two levels of exact ties; the top-N cut falls inside the second level."""
        if self.string_ids:
            high = ["sku-9", "sku-10", "B", "a", "\u00e9", "Z"]
            low = ['"quoted"', "a,b", "A-1", "0", "sku-09", "\u03a9", "\u00fc", "zz", "b", "sku-100"]
        else:
            high = [2**53 + 1, 2**53, 2**53 + 2, -(2**63) + 1, 2**63 - 1, 10]
            low = [9, 10_000, -7, 0, 99, 100, 11, 5, 50, 1000]
        # Whole seconds, so every timestamp unit stores them exactly. At most two terms per
        # item, so any summation order gives bit-identical scores.
        t1, t2 = self.age(2 * DAY), self.age(5 * DAY + 123 * NS)
        for i, item in enumerate(high):
            # Same total: quantity 2 once, or 1 twice at the same instant (2x == x + x in f64).
            if i % 2:
                self.add(category, item, t1, 2)
            else:
                self.add(category, item, t1, 1)
                self.add(category, item, t1, 1)
        for item in low:
            self.add(category, item, t2, 1)
        self.sprinkle_bad_rows(category, low, 3)

    def boundary_events(self, category, items):
        """Exact bounds in a dense category; these go to a nanosecond file of their own."""
        self.add(category, items[-1], self.as_of, 1)                 # age 0: counted
        self.add(category, items[-2], self.age(W), 7)               # age exactly W: not counted
        self.add(category, items[-3], self.age(W - self.tick), 1)   # 1 tick inside W: counted
        self.add(category, items[-4], self.as_of + self.tick, 9)    # 1 tick after as_of: not counted


def build(rng, as_of, string_ids, rows, m, tick):
    b = LakeBuilder(rng, as_of, string_ids, m, tick)
    per_dense = max(20, rows // len(DENSE))
    boundary_category = "home garden"
    boundary_items = None
    for category in DENSE:
        items = b.dense(category, per_dense)
        if category == boundary_category:
            boundary_items = items
    steps = [("sparse-30d", 0, W), ("sparse-60d", W, 2 * W), ("sparse-120d", 2 * W, 4 * W),
             ("sparse-240d", 4 * W, 8 * W), ("sparse-365d", 8 * W, W_MAX)]
    for category, prev, target in steps:
        b.sparse(category, prev, target)
    b.sparse_few("sparse-few")
    b.only_old("only-old")
    b.ties("ties")
    return b, boundary_category, boundary_items


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------

TS_TYPES = [("ms", None), ("us", "UTC"), ("ns", None), ("ms", "UTC"), ("us", None),
            ("ns", "UTC"), ("us", "America/New_York")]
COMPRESSIONS = ["snappy", "zstd", "gzip", "lz4", "none"]
QTY_TYPES = {"Books": pa.int32(), "books": pa.int64(), "toys/games": pa.int16(), "c++": pa.int8(),
             "9": pa.uint32(), "ties": pa.int64(), "sparse-60d": pa.int32()}
NO_QTY = {"10", "café", "sparse-few"}          # these categories' files have no quantity column
DT_LAYOUT = {"sparse-30d", "sparse-60d", "sparse-120d", "sparse-240d", "sparse-365d",
             "only-old", "100%"}
REGION_LAYOUT = {"a=b"}


class Writer:
    def __init__(self, rng, root, string_ids, ts_int_millis):
        self.rng, self.root = rng, root
        self.string_ids, self.ts_int_millis = string_ids, ts_int_millis
        self.counter = itertools.count()
        self.files = 0

    def ts_array(self, ts_ns, unit_tz):
        if self.ts_int_millis:
            return pa.array([None if t is None else t // 1_000_000 for t in ts_ns], pa.int64())
        unit, tz = unit_tz
        div = {"ms": 1_000_000, "us": 1_000, "ns": 1}[unit]
        return pa.array([None if t is None else t // div for t in ts_ns], pa.int64()).cast(pa.timestamp(unit, tz))

    def write(self, category, folder, events, force_ns=False):
        rng, k = self.rng, next(self.counter)
        os.makedirs(folder, exist_ok=True)
        unit_tz = ("ns", "UTC") if force_ns else TS_TYPES[k % len(TS_TYPES)]
        columns = {
            "item_id": pa.array([e.item for e in events], pa.string() if self.string_ids else pa.int64()),
            "ts": self.ts_array([e.ts for e in events], unit_tz),
        }
        if category not in NO_QTY:
            qty_type = QTY_TYPES.get(category, pa.int64())
            qty = [e.qty for e in events]
            if pa.types.is_unsigned_integer(qty_type):
                qty = [None if q is None else max(q, 0) for q in qty]  # 0 is skipped just like < 0
            columns["quantity"] = pa.array(qty, qty_type)
        else:
            assert all(e.qty in (None, 1) for e in events), category
        if k % 3 == 0:
            columns["price_eur"] = pa.array([round(rng.uniform(1, 99), 2) for _ in events], pa.float64())
        names = list(columns)
        rng.shuffle(names)  # column order must not matter
        table = pa.table({n: columns[n] for n in names})

        options = dict(
            compression=COMPRESSIONS[k % len(COMPRESSIONS)],
            row_group_size=rng.randint(4, 40),
            data_page_size=rng.choice([128, 1024, 1 << 20]),
            data_page_version=rng.choice(["1.0", "2.0"]),
            write_statistics=rng.random() > 0.15,
        )
        if rng.random() < 0.3:  # plain / delta encodings instead of dictionary
            options["use_dictionary"] = False
            options["column_encoding"] = {
                "item_id": "DELTA_BYTE_ARRAY" if self.string_ids else "DELTA_BINARY_PACKED",
                "ts": "DELTA_BINARY_PACKED",
            }
        pq.write_table(table, os.path.join(folder, f"part-{k:05d}.parquet"), **options)
        self.files += 1


def category_folder(root, category):
    value = ESCAPED.get(category, category)
    assert urllib.parse.unquote(value) == category
    return os.path.join(root, f"category={value}")


def write_lake(builder, boundary, root, string_ids, ts_int_millis, rng):
    w = Writer(rng, root, string_ids, ts_int_millis)
    boundary_category, boundary_items = boundary
    for category, events in builder.events.items():
        events = list(events)
        folder = category_folder(root, category)
        if category == boundary_category:
            # The exact-bound events first, alone in a nanosecond file.
            start = len(events)
            builder.boundary_events(category, boundary_items)
            special = builder.events[category][start:]
            w.write(category, folder, special, force_ns=True)
        rng.shuffle(events)
        if category in DT_LAYOUT:
            # dt = UTC date of ts; rows with a null ts go to the newest partition.
            by_day: dict[str, list[Event]] = {}
            for e in events:
                if e.ts is not None:
                    by_day.setdefault(time.strftime("%Y-%m-%d", time.gmtime(e.ts // NS)), []).append(e)
            newest = max(by_day)
            by_day[newest].extend(e for e in events if e.ts is None)
            for day, day_events in sorted(by_day.items()):
                w.write(category, os.path.join(folder, f"dt={day}"), day_events)
        elif category in REGION_LAYOUT:
            half = len(events) // 2
            w.write(category, os.path.join(folder, "region=eu"), events[:half])
            w.write(category, os.path.join(folder, "region=us"), events[half:])
        else:
            n_files = 1 + len(events) // 150
            if rng.random() < 0.5:
                events.sort(key=lambda e: (e.ts is None, e.ts or 0))  # sorted files prune well
            for i in range(n_files):
                w.write(category, folder, events[i::n_files])
    return w


def write_noise(root, string_ids):
    """Files every reader must ignore, and an empty Parquet file it must accept."""
    open(os.path.join(root, "_SUCCESS"), "w").close()
    books = category_folder(root, "books")
    open(os.path.join(books, "_SUCCESS"), "w").close()
    with open(os.path.join(books, ".part-00000.parquet.crc"), "wb") as f:
        f.write(b"crc\x00\x01garbage")
    with open(os.path.join(books, ".hidden.parquet"), "wb") as f:
        f.write(b"not parquet at all")
    with open(os.path.join(books, "manifest.json"), "w") as f:
        f.write('{"note": "not a data file"}\n')
    tmp = os.path.join(category_folder(root, "c++"), "_temporary", "0")
    os.makedirs(tmp)
    with open(os.path.join(tmp, "part-99999.parquet"), "wb") as f:
        f.write(b"PAR1 half-written PAR1")
    empty = pa.table({"item_id": pa.array([], pa.string() if string_ids else pa.int64()),
                      "ts": pa.array([], pa.timestamp("us", "UTC")),
                      "quantity": pa.array([], pa.int64())})
    pq.write_table(empty, os.path.join(category_folder(root, "9"), "part-empty.parquet"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Write a small random edge-case lake with pyarrow.")
    p.add_argument("--out", required=True, help="lake root folder (replaced if it exists)")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--string-ids", action="store_true", help="UTF8 item ids instead of INT64")
    p.add_argument("--ts-int-millis", action="store_true", help="ts as INT64 epoch millis in every file")
    p.add_argument("--rows", type=int, default=3000, help="random rows spread over the dense categories")
    p.add_argument("--as-of", default="2026-10-15T00:00:00Z", help="the as_of the lake is designed around")
    p.add_argument("--min-items", type=int, default=10,
                   help="M the sparse categories are designed for (run with --top M)")
    args = p.parse_args(argv)
    if args.min_items < 2:
        p.error("--min-items must be at least 2")
    as_of = parse_as_of(args.as_of)

    rng = random.Random(args.seed)
    builder, boundary_category, boundary_items = build(
        rng, as_of, args.string_ids, args.rows, args.min_items, 1_000_000 if args.ts_int_millis else 1)
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    os.makedirs(args.out)
    w = write_lake(builder, (boundary_category, boundary_items), args.out, args.string_ids, args.ts_int_millis, rng)
    write_noise(args.out, args.string_ids)

    n_rows = sum(len(v) for v in builder.events.values())
    print(f"wrote {n_rows} rows in {w.files + 1} Parquet files, {len(builder.events)} categories, to {args.out}",
          file=sys.stderr)
    print(f"as_of: {format_as_of(as_of)}")
    print(f"args: --as-of {format_as_of(as_of)} --window 30d --max-window 365d --top {args.min_items}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
