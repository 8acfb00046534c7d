#!/usr/bin/env python3
"""Writes a small, deterministic NDJSON file of purchase events for `topsellers ingest`.

Shaped to exercise SPEC section 1 through the whole path (events -> ingest -> lake -> SQL/engine):
dense categories, sparse ones whose window has to grow, one whose purchases are all older than
any window (left out), exact score ties between ids that order differently as numbers and as
strings (9, 10, 100), events after the end (after as_of in the test), quantities absent, null,
zero and negative, times as RFC 3339 (Z, offsets, milli- and microseconds) and as epoch seconds
and milliseconds, categories that need %XX-escaping in a path, and a few bad lines for the
quarantine. Plain Python, no dependencies; the same seed gives the same bytes.

    python3 scripts/athena/make_events.py --out events.ndjson [--events 20000] [--seed 7] \\
        [--string-ids] [--gzip] [--end 2026-10-15T00:00:00Z] [--edges AS_OF ...] [--lake DIR]

--edges AS_OF adds purchases exactly on (and 1 ms either side of) the window edges of a run at
that as_of. --lake DIR also writes the valid events as a Hive lake with pyarrow (a stand-in for
ingest, escaping categories as ingest does; needs pyarrow).

Prints a one-line summary on stderr.
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import json
import random
import sys
import time

DAY_MS = 86_400_000

# (name, share of the dense events, distinct items). Names with '/', ' ' and '&' need escaping
# (or at least care) in a Hive path.
DENSE = [
    ("electronics", 0.38, 400),
    ("books", 0.25, 600),
    ("home+garden", 0.14, 150),
    ("toys & games", 0.11, 120),
    ("grocery", 0.12, 80),
]
# (name, purchases, days back they spread over, distinct items): the window has to grow.
SPARSE = [
    ("sparse-a", 40, 300, 25),
    ("sparse-b", 14, 200, 12),
    ("sparse-c", 6, 400, 6),
]


def parse_end(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) * 1000


def rfc3339(ms: int, rng: random.Random, micros_extra: int | None = None) -> str:
    """ms since epoch -> RFC 3339 text in one of several styles (same instant)."""
    seconds, millis = divmod(ms, 1000)
    style = rng.random()
    if style < 0.15:  # an offset instead of Z: +02:00 means the wall clock is two hours ahead
        t = time.gmtime(seconds + 7200)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03d+02:00" % millis
    t = time.gmtime(seconds)
    if micros_extra is not None:  # microsecond precision (the SQL on Athena sees milliseconds)
        return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03d%03dZ" % (millis, micros_extra)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + ".%03dZ" % millis


def ts_value(ms: int, rng: random.Random):
    """(JSON value for ts, the instant it denotes in microseconds)."""
    r = rng.random()
    if r < 0.10:
        return ms, ms * 1000  # epoch milliseconds
    if r < 0.15:
        return ms // 1000, ms // 1000 * 1_000_000  # epoch seconds (the ms part is dropped)
    if r < 0.20:
        extra = rng.randrange(1000)
        return rfc3339(ms, rng, micros_extra=extra), ms * 1000 + extra
    return rfc3339(ms, rng), ms * 1000


def quantity_fields(rng: random.Random) -> dict:
    r = rng.random()
    if r < 0.55:
        return {}  # absent -> 1
    if r < 0.60:
        return {"quantity": None}  # null -> 1
    if r < 0.61:
        return {"quantity": 0}  # skipped
    if r < 0.62:
        return {"quantity": -1}  # skipped
    return {"quantity": rng.choice([1, 1, 1, 2, 2, 3, 5])}


def zipf_item(rng: random.Random, n: int) -> int:
    """Item rank 1..n, Zipf-like (weight 1/k)."""
    while True:
        k = int(n ** rng.random())  # log-uniform: P(k) ~ 1/k
        if 1 <= k <= n:
            return k


def write_lake(root: str, events: list[dict], instants: dict[int, int], string_ids: bool) -> None:
    """The valid events as category=<c>/dt=<YYYY-MM-DD>/part-0.parquet (pyarrow, zstd), the
    category escaped like ingest escapes it (all but [A-Za-z0-9._-] as %XX)."""
    import os
    import urllib.parse

    import pyarrow as pa
    import pyarrow.parquet as pq

    parts: dict[tuple[str, str], list[dict]] = {}
    for e in events:
        us = instants[id(e)]
        day = time.strftime("%Y-%m-%d", time.gmtime(us // 1_000_000))
        parts.setdefault((e["category"], day), []).append({**e, "us": us})
    for (category, day), rows in sorted(parts.items()):
        folder = os.path.join(root, "category=" + urllib.parse.quote(category, safe=""), "dt=" + day)
        os.makedirs(folder, exist_ok=True)
        columns = {
            "item_id": pa.array([r["item_id"] for r in rows], pa.string() if string_ids else pa.int64()),
            "ts": pa.array([r["us"] for r in rows], pa.timestamp("us", tz="UTC")),
        }
        quantities = [r.get("quantity") for r in rows]
        if any(q is not None for q in quantities):  # like ingest: no column where no event has one
            columns["quantity"] = pa.array(quantities, pa.int32())
        table = pa.table(columns)
        pq.write_table(table, os.path.join(folder, "part-0.parquet"), compression="zstd")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output file ('-' for stdout)")
    p.add_argument("--events", type=int, default=20_000, help="dense events (default 20000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--string-ids", action="store_true", help="string item ids instead of integers")
    p.add_argument("--gzip", action="store_true", help="gzip the output")
    p.add_argument("--end", default="2026-10-15T00:00:00Z", help="latest event time (RFC 3339, Z)")
    p.add_argument("--days", type=int, default=60, help="days of history of the dense categories")
    p.add_argument("--edges", action="append", default=[], metavar="AS_OF",
                   help="add purchases exactly on (and 1 ms either side of) the window edges of a run "
                        "at this as_of: as_of itself and as_of minus 2^k days and 90, 120 days "
                        "(repeatable; RFC 3339 with Z)")
    p.add_argument("--lake", metavar="DIR",
                   help="also write the valid events as a Hive lake category=<c>/dt=<d>/ with pyarrow "
                        "(a stand-in for `topsellers ingest`, with %%XX-escaped category folders)")
    args = p.parse_args(argv)

    rng = random.Random(args.seed)
    end_ms = parse_end(args.end)

    def item_id(category: str, k: int):
        # Per-category id spaces that overlap (the same id in two categories is two items).
        base = (sum(map(ord, category)) % 7) * 1000
        n = base + k
        return f"sku-{n:06d}" if args.string_ids else n

    instants: dict[int, int] = {}  # id(event) -> instant in microseconds, for --lake

    def event(category: str, item, ms: int) -> dict:
        ts, us = ts_value(ms, rng)
        e = {"item_id": item, "category": category, "ts": ts}
        e.update(quantity_fields(rng))
        instants[id(e)] = us
        return e

    events: list[dict] = []
    names = [d[0] for d in DENSE]
    weights = [d[1] for d in DENSE]
    for _ in range(args.events):
        c = rng.choices(range(len(DENSE)), weights)[0]
        name, _, n_items = DENSE[c]
        ms = end_ms - rng.randrange(args.days * DAY_MS)
        events.append(event(name, item_id(name, zipf_item(rng, n_items)), ms))
    for name, count, days, n_items in SPARSE:
        for _ in range(count):
            ms = end_ms - rng.randrange(days * DAY_MS)
            events.append(event(name, item_id(name, rng.randint(1, n_items)), ms))
    # All purchases older than any window: the category is left out of the results.
    for _ in range(5):
        ms = end_ms - (500 + rng.randrange(100)) * DAY_MS
        events.append(event("ancient", item_id("ancient", rng.randint(1, 3)), ms))
    # Exact ties: 9, 10 and 100 bought once each at the same instant with quantity 1; numeric
    # order 9 < 10 < 100, bytewise order "10" < "100" < "9". Item 7 bought twice leads.
    tie_ms = end_ms - 5 * DAY_MS + 123
    for k in (100, 9, 10, 7, 7):
        ident = str(k) if args.string_ids else k
        e = {"item_id": ident, "category": "ties", "ts": rfc3339(tie_ms, rng), "quantity": 1}
        instants[id(e)] = tie_ms * 1000
        events.append(e)
    # Window edges: a purchase counts iff as_of - W < ts <= as_of, so at exactly as_of - W it
    # does not, 1 ms later it does; at exactly as_of it does, 1 ms later it does not.
    edge_item = 900
    for edge in args.edges:
        as_of_ms = parse_end(edge)
        for days in (0, 1, 2, 4, 7, 8, 14, 16, 28, 32, 56, 64, 90, 112, 120):
            for delta in (-1, 0, 1):
                for name in ("books", "sparse-a", "sparse-b"):
                    edge_item += 1
                    e = {"item_id": item_id(name, edge_item), "category": name,
                         "ts": rfc3339(as_of_ms - days * DAY_MS + delta, rng), "quantity": 1}
                    instants[id(e)] = (as_of_ms - days * DAY_MS + delta) * 1000
                    events.append(e)
    # Events after the end (the test's as_of is earlier still: some dense events are after it too).
    for _ in range(10):
        name = rng.choice(names)
        events.append(event(name, item_id(name, 1), end_ms + rng.randrange(1, 3 * DAY_MS)))
    rng.shuffle(events)

    lines = [json.dumps(e, separators=(",", ":"), ensure_ascii=False) for e in events]
    # Bad lines (each one is quarantined, with its line number) and a few odd-but-valid ones.
    bad = [
        '{"item_id": 5, "category": "books", "ts": ',                            # truncated JSON
        'not json at all',
        '{"category": "books", "ts": "2026-10-01T00:00:00Z"}',                   # no item id
        '{"item_id": 5, "category": "books", "ts": "yesterday"}',                # not a time
        '{"item_id": 5, "category": "books", "ts": "2026-02-30T10:00:00Z"}',     # impossible date
        '{"item_id": 5, "ts": "2026-10-01T00:00:00Z"}',                          # no category
        '{"item_id": [5], "category": "books", "ts": "2026-10-01T00:00:00Z"}',   # ill-typed id
    ]
    for text in bad:
        lines.insert(rng.randrange(len(lines) + 1), text)

    data = ("\n".join(lines) + "\n").encode("utf-8")
    if args.gzip:
        data = gzip.compress(data, mtime=0)
    if args.out == "-":
        sys.stdout.buffer.write(data)
    else:
        with open(args.out, "wb") as f:
            f.write(data)
    if args.lake:
        write_lake(args.lake, events, instants, args.string_ids)
    print(f"make_events: {len(lines)} lines ({len(bad)} bad), ids {'string' if args.string_ids else 'int'}"
          f"{', gzip' if args.gzip else ''} -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
