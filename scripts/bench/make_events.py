#!/usr/bin/env python3
"""Deterministic NDJSON purchase events for the ingest benchmark.

Writes EVENTS lines (default 5M) spread over CATEGORIES categories (200) and
DAYS days (120) ending at 2026-10-15, in time order, as an order system's
export would be: about 430 MB for 5M events. Category sizes are skewed
(Zipf 0.7), item popularity within a category is Zipf too, a sixth of the
events carry no quantity, and times are RFC 3339 UTC with milliseconds. The
same arguments give the same bytes.

    make_events.py OUT.ndjson [--events 5000000] [--categories 200] [--days 120] [--seed 42]
"""

import argparse
import datetime as dt

import numpy as np

END = dt.datetime(2026, 10, 15, tzinfo=dt.timezone.utc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--events", type=int, default=5_000_000)
    ap.add_argument("--categories", type=int, default=200)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()

    rng = np.random.default_rng(a.seed)
    n = a.events
    end_ms = int(END.timestamp() * 1000)
    span_ms = a.days * 86_400_000
    ts = np.sort(rng.integers(end_ms - span_ms, end_ms, size=n, dtype=np.int64))
    weights = 1.0 / np.arange(1, a.categories + 1) ** 0.7
    cats = rng.choice(a.categories, size=n, p=weights / weights.sum())
    # Item ranks: Zipf-like, folded to 20k items per category, then hashed to ids.
    ranks = np.minimum(rng.zipf(1.3, size=n), 20_000)
    items = (cats.astype(np.int64) * 1_000_003 + ranks * 7_919) % 900_000_000 + 100_000_000
    qty = rng.choice([1, 1, 1, 1, 2, 3], size=n)
    no_qty = rng.random(n) < 1 / 6
    stamps = np.datetime_as_string(ts.astype("datetime64[ms]"), unit="ms")

    block = 200_000
    with open(a.out, "w", encoding="ascii", newline="\n") as f:
        for start in range(0, n, block):
            lines = []
            for i in range(start, min(n, start + block)):
                q = "" if no_qty[i] else f',"quantity":{qty[i]}'
                lines.append(
                    f'{{"item_id":{items[i]},"category":"cat-{cats[i]:04d}",'
                    f'"ts":"{stamps[i]}Z"{q}}}\n'
                )
            f.write("".join(lines))


if __name__ == "__main__":
    main()
