#!/usr/bin/env python3
"""Checks the DuckDB reference against a brute-force Python recomputation.

The brute force shares nothing with duckdb_topsellers.py's data path: it reads the files with
pyarrow (not DuckDB), loops over rows in Python, sums with math.fsum and sorts in Python. It
runs on random lakes from make_random_lake.py (integer and string ids, timestamp and
epoch-millis ts), on two small lakes of scripts/bench/pyarrow_lake.py (whose layout, schema,
time order and determinism it also checks) and, if present, on the golden lakes under io/lake/tests/golden/, and requires the
two CSVs to agree (compare_results.py, relative 1e-12).

Usage (takes a few seconds):

    .venv/bin/python scripts/reference/selftest.py [--seeds 1,2]
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import subprocess
import sys
import tempfile
import urllib.parse

import pyarrow as pa
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN = os.path.join(os.path.dirname(os.path.dirname(HERE)), "io", "tests", "golden")
BENCH = os.path.join(os.path.dirname(HERE), "bench")
sys.path.insert(0, HERE)
import duckdb_topsellers as ref  # noqa: E402  (only its argument parser and as_of formatting)

NS = 1_000_000_000
UNIT_NS = {"s": NS, "ms": 1_000_000, "us": 1_000, "ns": 1}


def read_rows(lake, item_col, ts_col, qty_col):
    """(category, item, ts_ns, quantity) for every row, read with pyarrow."""
    rows = []
    for dirpath, dirnames, filenames in os.walk(lake):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        parts = os.path.relpath(dirpath, lake).split(os.sep)
        category = next((urllib.parse.unquote(p[9:]) for p in parts if p.startswith("category=")), None)
        for name in filenames:
            if name.startswith(("_", ".")) or not name.endswith(".parquet") or category is None:
                continue
            table = pq.read_table(os.path.join(dirpath, name), coerce_int96_timestamp_unit="ns")
            ts = table.column(ts_col)
            if pa.types.is_timestamp(ts.type):
                mul = UNIT_NS[ts.type.unit]
                ts_ns = [None if v is None else v * mul
                         for v in ts.cast(pa.timestamp(ts.type.unit)).cast(pa.int64()).to_pylist()]
            else:  # INT64 epoch millis
                ts_ns = [None if v is None else v * 1_000_000 for v in ts.to_pylist()]
            items = table.column(item_col).to_pylist()
            qty = table.column(qty_col).to_pylist() if qty_col in table.column_names else [None] * len(items)
            rows += [(category, i, t, 1 if q is None else q) for i, t, q in zip(items, ts_ns, qty)]
    return rows


def brute_force(args, out):
    """SPEC section 1, spelled out with loops."""
    as_of = args.as_of
    variants = args.variants or [ref.Variant("default", math.log(2) / (7 * 86_400), "")]
    m = args.top if args.min_items is None else args.min_items
    ages = [(c, i, as_of - t, q) for c, i, t, q in read_rows(args.lake, args.item_column, args.ts_column,
                                                              args.quantity_column)
            if i is not None and t is not None and q > 0 and t <= as_of]
    candidates, w = [], args.window
    while w < args.max_window:
        candidates.append(w)
        w *= 2
    candidates.append(args.max_window)
    categories = sorted({c for c, _, a, _ in ages if a < args.max_window * NS}, key=lambda c: c.encode())
    windows = {}
    for c in categories:
        windows[c] = args.max_window
        for w in candidates:
            if len({i for cc, i, a, _ in ages if cc == c and a < w * NS}) >= m:
                windows[c] = w
                break
    as_of_text = ref.format_as_of(as_of)
    with open(out, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["variant", "category", "rank", "item_id", "score", "window_s", "as_of"])
        for v in variants:
            for c in categories:
                terms = {}
                for cc, i, a, q in ages:
                    if cc == c and a < windows[c] * NS:
                        terms.setdefault(i, []).append(q * math.exp(-v.lambda_per_second * (a / NS)))
                scores = [(math.fsum(t), i) for i, t in terms.items()]
                scores.sort(key=lambda s: (-s[0], s[1].encode() if isinstance(s[1], str) else s[1]))
                for rank, (score, item) in enumerate(scores[: args.top], start=1):
                    writer.writerow([v.name, c, rank, item, repr(score), windows[c], as_of_text])


def check(name, compute_args, workdir):
    """Runs the reference and the brute force with the same arguments; True if they agree."""
    ref_csv, brute_csv = os.path.join(workdir, "ref.csv"), os.path.join(workdir, "brute.csv")
    py = sys.executable
    subprocess.run([py, os.path.join(HERE, "duckdb_topsellers.py"), *compute_args, "--out", ref_csv],
                   check=True, stderr=subprocess.DEVNULL)
    brute_force(ref.build_parser().parse_args(compute_args + ["--out", brute_csv]), brute_csv)
    result = subprocess.run([py, os.path.join(HERE, "compare_results.py"), ref_csv, brute_csv, "--rel", "1e-12"],
                            capture_output=True, text=True)
    print(f"{name}: {result.stdout.strip().splitlines()[-1]}")
    if result.returncode != 0:
        print(result.stdout)
    return result.returncode == 0


def check_pyarrow_lake(workdir) -> bool:
    """scripts/bench/pyarrow_lake.py: its plan adds up, its files are what SPEC.md describes
    (Hive layout, schema, rows in time order), a seed gives the same bytes again, and the
    reference agrees with the brute force on it."""
    sys.path.insert(0, BENCH)
    import pyarrow_lake as pl  # noqa: E402

    problems = []
    sizes = pl.category_sizes(1_000_003, 10, 30, 0.2, None, 7)
    if sum(n for n, _, _ in sizes) != 1_000_003 or sum(sp for _, _, sp in sizes) != 2:
        problems.append(f"category_sizes: {sizes}")
    if not all(d == (365 if sp else 30) for _, d, sp in sizes) or sizes[0][0] <= 5 * sizes[7][0]:
        problems.append(f"category_sizes: days or skew wrong: {sizes}")
    top = pl.category_sizes(1000, 5, 30, 0.0, 0.5, 7)
    if abs(top[0][0] - 500) > 5:  # rounding remainders go to the first
        problems.append(f"category_sizes with a top share of 0.5: {top}")
    if pl.day_counts(10, 4) != [2, 2, 3, 3]:
        problems.append(f"day_counts(10, 4) = {pl.day_counts(10, 4)}")
    for layout, id_type in (("category", "int"), ("category/dt", "string")):
        lakes = []
        for k in range(2):
            out = os.path.join(workdir, f"pyarrow-{layout.replace('/', '_')}-{k}")
            subprocess.run([sys.executable, os.path.join(BENCH, "pyarrow_lake.py"), "--out", out, "--purchases",
                            "20000", "--categories", "6", "--days", "12", "--layout", layout, "--id-type", id_type,
                            "--quantity", "--seed", "3", "--jobs", str(1 + k)],
                           check=True, stdout=subprocess.DEVNULL)
            lakes.append(out)
        files = {}
        for k, lake in enumerate(lakes):
            for dirpath, _, names in os.walk(lake):
                for n in names:
                    with open(os.path.join(dirpath, n), "rb") as f:
                        files.setdefault(os.path.relpath(os.path.join(dirpath, n), lake), []).append(f.read())
        if any(len(v) != 2 or v[0] != v[1] for v in files.values()):
            problems.append(f"{layout}: the same seed gave other files with other --jobs")
        depth = 2 if layout == "category" else 3
        rows = 0
        for rel in files:
            parts = rel.split(os.sep)
            if len(parts) != depth or not parts[0].startswith("category=c") or (
                    depth == 3 and not parts[1].startswith("dt=")):
                problems.append(f"{layout}: unexpected path {rel}")
                continue
            t = pq.read_table(os.path.join(lakes[0], rel))
            rows += t.num_rows
            want = ["item_id", "ts", "quantity"]
            if t.schema.names != want or t.schema.field("ts").type != pa.timestamp("us", tz="UTC") or (
                    t.schema.field("item_id").type != (pa.string() if id_type == "string" else pa.int64())):
                problems.append(f"{layout}: {rel}: schema {t.schema}")
            ts = t.column("ts").cast(pa.int64()).to_pylist()
            if ts != sorted(ts):
                problems.append(f"{layout}: {rel}: rows not in time order")
        if rows != 20000:
            problems.append(f"{layout}: {rows} rows, not 20000")
        compute = ["--lake", lakes[0], "--as-of", "2026-10-15T00:00:00Z", "--window", "7d", "--top", "10"]
        if not check(f"pyarrow_lake {layout} {id_type} ids", compute, workdir):
            problems.append(f"{layout}: the reference and the brute force differ")
    for p in problems:
        print(f"pyarrow_lake: {p}")
    print(f"pyarrow_lake: {'OK' if not problems else 'FAILED'}")
    return not problems


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="Check the DuckDB reference against a brute-force recomputation.")
    p.add_argument("--seeds", default="1,2", help="comma-separated seeds of the random lakes")
    args = p.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        lake = os.path.join(tmp, "lake")
        for seed in [int(s) for s in args.seeds.split(",")]:
            for flags in ([], ["--string-ids"], ["--ts-int-millis"], ["--string-ids", "--ts-int-millis"]):
                subprocess.run([sys.executable, os.path.join(HERE, "make_random_lake.py"), "--out", lake,
                                "--seed", str(seed), "--rows", "1500", *flags],
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                compute = ["--lake", lake, "--as-of", "2026-10-15T00:00:00Z", "--variant", "fast=1d",
                           "--variant", "slow=14d", "--top", "10"]
                ok &= check(f"random seed {seed} {' '.join(flags) or '(int ids)'}", compute, tmp)
        if os.path.isdir(GOLDEN):
            for writer in sorted(os.listdir(GOLDEN)):
                args_txt = os.path.join(GOLDEN, writer, "args.txt")
                if os.path.isfile(args_txt):
                    with open(args_txt) as f:
                        compute = [line for line in f.read().splitlines() if line]
                    compute += ["--lake", os.path.join(GOLDEN, writer, "lake")]
                    ok &= check(f"golden {writer}", compute, tmp)
                    # The checked-in expected.csv must still be what the reference computes.
                    expected = os.path.join(GOLDEN, writer, "expected.csv")
                    with open(expected, "rb") as f1, open(os.path.join(tmp, "ref.csv"), "rb") as f2:
                        if f1.read() != f2.read():
                            print(f"golden {writer}: {expected} is stale (differs from the reference's output)")
                            ok = False
        ok &= check_pyarrow_lake(tmp)
    print("selftest: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
