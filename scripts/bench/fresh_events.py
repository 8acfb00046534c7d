#!/usr/bin/env python3
"""One hour of new purchase events for the freshness benchmark, as NDJSON.

Samples EVENTS purchases (item, category, quantity) from the lake's last day
of partitions, so the new hour has the lake's own category sizes and item
popularity, and gives them times inside [START, START + 1h). A fraction
(--late, default 5%) arrives late, with times up to 6 hours before START.
One mid-sized category gets a trend: --trend purchases of an item the lake
has never seen. The same arguments give the same bytes.

    fresh_events.py LAKE OUT.ndjson --start 2026-10-15T00:00:00Z [--events 34000]
                    [--late 0.05] [--trend 2000] [--seed 1]
"""

import argparse
import datetime as dt
import glob
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lake")
    ap.add_argument("out")
    ap.add_argument("--start", required=True)
    ap.add_argument("--events", type=int, default=34_000)
    ap.add_argument("--late", type=float, default=0.05)
    ap.add_argument("--trend", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()

    start = dt.datetime.fromisoformat(a.start.replace("Z", "+00:00"))
    day = (start - dt.timedelta(days=1)).strftime("%Y-%m-%d")
    files = sorted(glob.glob(os.path.join(a.lake, "category=*", f"dt={day}", "*.parquet")))
    if not files:
        raise SystemExit(f"{a.lake}: no partition dt={day} to sample from")
    parts = []
    for f in files:
        cat = os.path.basename(os.path.dirname(os.path.dirname(f))).split("=", 1)[1]
        t = pq.read_table(f, columns=["item_id"])
        parts.append(t.append_column("category", pa.array([cat] * t.num_rows)))
    rows = pa.concat_tables(parts)
    rng = np.random.default_rng(a.seed)
    pick = rng.integers(0, rows.num_rows, size=a.events)
    items = rows.column("item_id").to_numpy()[pick]
    cats = np.asarray(rows.column("category").to_pylist(), dtype=object)[pick]
    start_ms = int(start.timestamp() * 1000)
    ts = start_ms + rng.integers(0, 3_600_000, size=a.events)
    late = rng.random(a.events) < a.late
    ts[late] = start_ms - rng.integers(1, 6 * 3_600_000, size=int(late.sum()))
    # The trend: a new item in the category at the middle of the size order.
    sizes = {}
    for c in cats:
        sizes[c] = sizes.get(c, 0) + 1
    trend_cat = sorted(sizes, key=lambda c: (sizes[c], c))[len(sizes) // 2]
    trend_item = 9_000_000_000 + a.seed
    trend_ts = start_ms + rng.integers(0, 3_600_000, size=a.trend)

    def stamp(ms: int) -> str:
        return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    with open(a.out, "w", encoding="ascii", newline="\n") as f:
        for i, c, t in zip(items, cats, ts):
            f.write(f'{{"item_id":{int(i)},"category":"{c}","ts":"{stamp(int(t))}"}}\n')
        for t in trend_ts:
            f.write(f'{{"item_id":{trend_item},"category":"{trend_cat}","ts":"{stamp(int(t))}"}}\n')
    print(f"{trend_cat} {trend_item}")


if __name__ == "__main__":
    main()
