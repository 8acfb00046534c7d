#!/usr/bin/env python3
"""A benchmark lake written by pyarrow: the same kind of data as `topsellers gen`,
produced independently (numpy draws, pyarrow's Parquet writer), so that `compute` is
measured on files this project did not write.

    .venv/bin/python scripts/bench/pyarrow_lake.py --out DIR --purchases 100M \
        [--categories 500] [--days 180] [--layout category|category/dt] \
        [--id-type int|string] [--quantity] [--seed 42] [--sparse-fraction 0.2] \
        [--top-category-share S] [--jobs N]

The data (SPEC.md sections 1-2):
- `<out>/category=c00000/part-00000.parquet` (layout `category`: one file per category)
  or `<out>/category=c00000/dt=YYYY-MM-DD/part-00000.parquet` (layout `category/dt`).
- Columns `item_id` (INT64, or UTF8 `SKU-000000000042` with --id-type string),
  `ts` (timestamp[us, tz=UTC]) and, with --quantity, `quantity` (INT32: 1 in 85% of
  the rows, else 2..5). No nulls.
- Category sizes: Zipf(1) over the dense categories (or --top-category-share for the
  first); --sparse-fraction of the categories are sparse: 20..250 purchases spread over
  365 days. Items per dense category: purchases / 50, within 200..200,000 (400 for a
  sparse one), popularity Zipf(1.05); in the last 3 days five long-tail items take a
  fifth of the purchases (they trend).
- Times: uniform within each day, the days of a category spread evenly (remainder to the
  most recent), the last day ending at 2026-10-15T00:00:00Z; rows in time order within a
  file, as an event log appends them.

The writer: pyarrow's defaults except zstd compression, i.e. its default row group size
(1Mi rows), dictionary encoding on, its default data page size and dictionary page limit,
no page index, statistics on. A category's rows are made one day at a time and written
in default-sized row groups, so memory stays bounded by about one row group per worker
whatever the lake's size. Deterministic for a seed: every category draws from its own
numpy Generator seeded by (seed, category), whatever --jobs is. The lake is built in a
temporary sibling folder and renamed into place: a present folder is complete.
"""

from __future__ import annotations

import argparse
import calendar
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bench import parse_count  # this folder is on sys.path: the script's own

DAY_US = 86_400_000_000
END_US = calendar.timegm((2026, 10, 15, 0, 0, 0)) * 1_000_000
# pyarrow's default max_row_group_length (ParquetWriter row_group_size=None).
ROW_GROUP_ROWS = 1024 * 1024
SPARSE_DAYS = 365
TRENDING_ITEMS = 5
TRENDING_DAYS = 3
TRENDING_SHARE = 0.2


# ---------------------------------------------------------------------------
# The plan: pure functions (checked by scripts/reference/selftest.py)
# ---------------------------------------------------------------------------


def category_sizes(purchases: int, categories: int, days: int, sparse_fraction: float,
                   top_share: float | None, seed: int) -> list[tuple[int, int, bool]]:
    """(purchases, days of history, sparse) per category; the purchases sum to `purchases`."""
    n = max(categories, 1)
    sparse = min(round(n * sparse_fraction), n - 1)
    dense = n - sparse
    rng = np.random.default_rng([seed, 0x5EED])
    sparse_sizes = [int(s) for s in rng.integers(20, 250, size=sparse)]
    sparse_total = min(sum(sparse_sizes), purchases // 2)
    dense_total = purchases - sparse_total
    shares = 1.0 / np.arange(1, dense + 1, dtype=np.float64)
    if top_share is not None:
        if dense > 1:
            shares[1:] *= (1.0 - top_share) / shares[1:].sum()
            shares[0] = top_share
        else:
            shares[0] = 1.0
    sizes = [int(s) for s in np.floor(shares / shares.sum() * dense_total)]
    sizes[0] += dense_total - sum(sizes)
    out = [(s, max(days, 1), False) for s in sizes]
    left = sparse_total
    for s in sparse_sizes:
        take = min(s, left)
        left -= take
        out.append((take, SPARSE_DAYS, True))
    return out


def day_counts(purchases: int, days: int) -> list[int]:
    """Purchases per day, oldest first: an even spread, the remainder on the most recent days."""
    base, extra = divmod(purchases, days)
    return [base + (1 if days - 1 - d < extra else 0) for d in range(days)]


def items_in(purchases: int, sparse: bool) -> int:
    return 400 if sparse else min(max(purchases // 50, 200), 200_000)


def category_name(index: int) -> str:
    return f"c{index:05d}"


def day_name(day_start_us: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(day_start_us // 1_000_000))


# ---------------------------------------------------------------------------
# One category
# ---------------------------------------------------------------------------


class Category:
    """The catalogue and the random stream of one category."""

    def __init__(self, args, index: int, purchases: int, days: int, sparse: bool):
        self.index, self.purchases, self.days, self.sparse = index, purchases, days, sparse
        self.rng = np.random.default_rng([args.seed, index])
        items = items_in(purchases, sparse)
        self.ids = self.rng.choice(10**12, size=items, replace=False).astype(np.int64)
        self.names = (pa.array([f"SKU-{i:012d}" for i in self.ids.tolist()], pa.string())
                      if args.id_type == "string" else None)
        weights = 1.0 / np.arange(1, items + 1, dtype=np.float64) ** 1.05
        self.cdf = np.cumsum(weights / weights.sum())
        self.cdf[-1] = 1.0
        tail = items // 10
        self.trending = tail + self.rng.integers(0, items - tail, size=TRENDING_ITEMS)
        self.quantity = args.quantity

    def day(self, day: int, n: int) -> pa.Table | None:
        if n == 0:
            return None
        rng = self.rng
        start = END_US - (self.days - day) * DAY_US
        ts = np.sort(rng.integers(0, DAY_US, size=n, dtype=np.int64)) + start
        # Inverse-CDF sampling of the Zipf popularity: one binary search per row.
        idx = np.searchsorted(self.cdf, rng.random(n), side="right")
        np.minimum(idx, len(self.cdf) - 1, out=idx)
        if not self.sparse and day + TRENDING_DAYS >= self.days:
            hot = rng.random(n) < TRENDING_SHARE
            idx[hot] = self.trending[rng.integers(0, TRENDING_ITEMS, size=int(hot.sum()))]
        items = self.names.take(pa.array(idx)) if self.names is not None else pa.array(self.ids[idx])
        cols = {"item_id": items, "ts": pa.array(ts, pa.timestamp("us", tz="UTC"))}
        if self.quantity:
            q = np.where(rng.random(n) < 0.85, 1, rng.integers(2, 6, size=n)).astype(np.int32)
            cols["quantity"] = pa.array(q)
        return pa.table(cols)


def schema(args) -> pa.Schema:
    fields = [pa.field("item_id", pa.string() if args.id_type == "string" else pa.int64(), nullable=False),
              pa.field("ts", pa.timestamp("us", tz="UTC"), nullable=False)]
    if args.quantity:
        fields.append(pa.field("quantity", pa.int32(), nullable=False))
    return pa.schema(fields)


def write_category(job) -> tuple[int, int, int]:
    """Writes one category's file(s); returns (rows, files, bytes)."""
    args, root, index, purchases, days, sparse = job
    cat = Category(args, index, purchases, days, sparse)
    target = schema(args)
    folder = os.path.join(root, f"category={category_name(index)}")
    os.makedirs(folder, exist_ok=True)
    rows = files = size = 0

    if args.layout == "category":
        path = os.path.join(folder, "part-00000.parquet")
        writer, pending, pending_rows = pq.ParquetWriter(path, target, compression="zstd"), [], 0
        for d, n in enumerate(day_counts(purchases, days)):
            t = cat.day(d, n)
            if t is None:
                continue
            pending.append(t.cast(target))
            pending_rows += n
            # Whole default-sized row groups as soon as there are enough rows.
            if pending_rows >= ROW_GROUP_ROWS:
                table = pa.concat_tables(pending)
                full = (pending_rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
                writer.write_table(table.slice(0, full))
                pending, pending_rows = [table.slice(full)], pending_rows - full
            rows += n
        if pending_rows:
            writer.write_table(pa.concat_tables(pending))
        writer.close()
        files, size = 1, os.path.getsize(path)
    else:
        for d, n in enumerate(day_counts(purchases, days)):
            t = cat.day(d, n)
            if t is None:
                continue
            path = os.path.join(folder, f"dt={day_name(END_US - (days - d) * DAY_US)}", "part-00000.parquet")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            pq.write_table(t.cast(target), path, compression="zstd")
            rows += n
            files += 1
            size += os.path.getsize(path)
    return rows, files, size


def generate(args) -> tuple[int, int, int]:
    out = os.path.abspath(args.out)
    if os.path.exists(out):
        raise SystemExit(f"pyarrow_lake: error: {out} already exists; remove it or pick another folder")
    parent = os.path.dirname(out)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".pyarrow-lake-", dir=parent)
    plans = category_sizes(args.purchases, args.categories, args.days, args.sparse_fraction,
                           args.top_category_share, args.seed)
    # Largest first, so the biggest category does not start last.
    jobs = sorted(((args, tmp, i, p, d, s) for i, (p, d, s) in enumerate(plans)), key=lambda j: -j[3])
    try:
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as pool:
                done = list(pool.map(write_category, jobs, chunksize=1))
        else:
            done = [write_category(j) for j in jobs]
        os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tuple(sum(x[k] for x in done) for k in range(3))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument("--out", required=True)
    p.add_argument("--purchases", type=parse_count, default=parse_count("1M"))
    p.add_argument("--categories", type=int, default=100)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--layout", choices=["category", "category/dt"], default="category")
    p.add_argument("--id-type", choices=["int", "string"], default="int")
    p.add_argument("--quantity", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sparse-fraction", type=float, default=0.2)
    p.add_argument("--top-category-share", type=float, default=None)
    p.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = p.parse_args(argv)
    if args.categories < 1 or args.days < 1 or args.purchases < 0:
        p.error("--categories and --days must be at least 1")
    if not 0.0 <= args.sparse_fraction < 1.0:
        p.error("--sparse-fraction must be in [0, 1)")
    t0 = time.monotonic()
    rows, files, size = generate(args)
    print(f"pyarrow_lake: {rows} purchases, {files} files, {size / 2**20:.1f} MiB in "
          f"{time.monotonic() - t0:.1f}s -> {os.path.abspath(args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
