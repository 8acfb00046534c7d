#!/usr/bin/env python3
"""Backtest cost (issue 13): `backtest` of 8 variants over daily replay times
against one `compute` of the same 8 variants, timed back to back on one lake.

    scripts/bench/backtest.py LAKE [--from T] [--to T] [--repeat 3] [--bin target/release/topsellers]

Runs compute, then backtest, `--repeat` times (alternating, so load drifts
hit both alike), and prints each wall time, the medians, their ratio and the
load average before and after. The goal is a ratio of at most 5.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time

VARIANTS = ["h6=6h", "h12=12h", "d1=1d", "d2=2d", "d3=3d", "d7=7d", "d14=14d", "d30=30d"]


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("lake")
    ap.add_argument("--from", dest="start", default="2026-09-15T00:00:00Z")
    ap.add_argument("--to", default="2026-10-14T00:00:00Z")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--bin", default="target/release/topsellers")
    a = ap.parse_args()
    variants = [x for v in VARIANTS for x in ("--variant", v)]
    with tempfile.TemporaryDirectory() as out:
        compute = [a.bin, "compute", "--lake", a.lake, "--as-of", a.to, *variants,
                   "--out", os.path.join(out, "top.csv")]
        backtest = [a.bin, "backtest", "--lake", a.lake, "--from", a.start, "--to", a.to,
                    *variants, "--out", os.path.join(out, "backtest.csv")]
        print(f"load before: {os.getloadavg()}")
        times: dict[str, list[float]] = {"compute": [], "backtest": []}
        for i in range(a.repeat):
            times["compute"].append(timed(compute))
            times["backtest"].append(timed(backtest))
            print(f"run {i + 1}: compute {times['compute'][-1]:.2f} s, "
                  f"backtest {times['backtest'][-1]:.2f} s")
        c, b = statistics.median(times["compute"]), statistics.median(times["backtest"])
        print(f"median: compute {c:.2f} s, backtest {b:.2f} s, ratio {b / c:.2f} (goal <= 5)")
        print(f"load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
