#!/usr/bin/env python3
"""Benchmark driver behind scripts/bench/compare.sh (see scripts/bench/README.md).

Generates (or reuses) a lake with `topsellers gen` (or, with --writer pyarrow, with
scripts/bench/pyarrow_lake.py), reads it once untimed so that every
engine starts from a warm page cache, runs every engine as its own process, round-robin,
--repeat times, measuring whole-process wall time and peak memory, checks every result CSV
against topsellers' with scripts/reference/compare_results.py, and prints and saves the
figures (JSON + PNG) under --out-dir.

Modes:
  compare  one lake, every engine (default topsellers,duckdb,polars,datafusion,spark), plus the
           decompression floor (topsellers-floor) as a row; --adaptive adds compute's
           adaptive query as a row
  floor    topsellers and the floor only, back to back: compute / floor
  scaling  several lake sizes (--sizes), time per purchase (default: topsellers only)
  threads  1, 2, 4, ..., nproc threads (default: topsellers,duckdb,polars)
  skew     threads mode on a lake whose largest category holds --top-category-share (0.5)
  sparse   a mostly-sparse lake (--sparse-fraction 0.8): topsellers with a fixed window
           (--max-window = --window) vs adaptive windows (--max-window 365d)
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import math
import os
import platform
import re
import shlex
import statistics
import subprocess
import sys
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
PEERS = os.path.join(HERE, "peers.py")
COMPARE = os.path.join(REPO, "scripts", "reference", "compare_results.py")
REFERENCE = os.path.join(REPO, "scripts", "reference", "duckdb_topsellers.py")
PYARROW_LAKE = os.path.join(HERE, "pyarrow_lake.py")
AS_OF = "2026-10-15T00:00:00Z"
ALL_ENGINES = ["topsellers", "duckdb", "polars", "datafusion", "spark"]
# Half-lives for --variants K: the first K, scored in ascending half-life order; the 7d one
# is named "default" so that it is the same group as a one-variant run.
VARIANT_LADDER = [("default", "7d"), ("h1d", "1d"), ("h3d", "3d"), ("h14d", "14d"),
                  ("h30d", "30d"), ("h12h", "12h"), ("h2d", "2d"), ("h60d", "60d")]
_UNIT_S = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
PAGE = os.sysconf("SC_PAGE_SIZE")


def ncpu() -> int:
    """Cores this process may run on (what nproc prints)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def say(msg: str = "") -> None:
    print(msg, flush=True)


def parse_count(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmMgGbB]?)", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad count {text!r} (e.g. 2M, 500k, 100000)")
    mult = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}[m.group(2).lower()]
    return int(round(float(m.group(1)) * mult))


def human_count(n: int) -> str:
    for div, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if n >= div:
            return f"{n / div:g}{suffix}"
    return str(n)


def duration_s(text: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([wdhms])", text.strip())
    if not m:
        raise argparse.ArgumentTypeError(f"bad duration {text!r}")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


# ---------------------------------------------------------------------------
# Machine description
# ---------------------------------------------------------------------------


def machine() -> dict:
    info = {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()}
    try:
        with open("/proc/cpuinfo") as f:
            models = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
        info["cpu_model"] = models[0] if models else "unknown"
        info["cpu_model_count"] = len(models)
    except OSError:
        info["cpu_model"] = "unknown"
    try:
        with open("/proc/meminfo") as f:
            mem = {ln.split(":")[0]: int(ln.split()[1]) * 1024 for ln in f if ln.split()}
        info["mem_total_bytes"] = mem.get("MemTotal")
        info["mem_available_bytes"] = mem.get("MemAvailable")
    except OSError:
        pass
    try:
        info["affinity_cpus"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    return info


def versions(binary: str, engines: list[str]) -> dict:
    out = {}

    def capture(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            return (r.stdout + r.stderr).strip().splitlines()[0]
        except (OSError, subprocess.SubprocessError, IndexError):
            return None

    out["topsellers"] = capture([binary, "--version"])
    code = ("import importlib.metadata as m, sys\n"
            "for p in sys.argv[1:]:\n"
            "    try: print(p, m.version(p))\n"
            "    except Exception: print(p, None)\n")
    r = subprocess.run([sys.executable, "-c", code, "duckdb", "polars", "datafusion", "pyspark", "pyarrow"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        name, ver = line.split(" ", 1)
        out[name] = None if ver == "None" else ver
    if "spark" in engines:
        out["java"] = capture(["java", "-version"])
    return out


# ---------------------------------------------------------------------------
# Lakes: generated once per parameter set, cached
# ---------------------------------------------------------------------------


def lake_params(args, purchases: int, **override) -> dict:
    p = {"purchases": purchases, "categories": args.categories, "days": args.days, "layout": args.layout,
         "id_type": args.id_type, "quantity": args.quantity, "seed": args.seed, "writer": args.writer,
         "sparse_fraction": args.sparse_fraction, "top_category_share": args.top_category_share}
    p.update(override)
    return p


def lake_key(p: dict) -> str:
    key = (f"p{p['purchases']}-c{p['categories']}-d{p['days']}-{p['layout'].replace('/', '_')}"
           f"-{p['id_type']}{'-q' if p['quantity'] else ''}-s{p['seed']}")
    if p.get("sparse_fraction") is not None:
        key += f"-sf{p['sparse_fraction']:g}"
    if p.get("top_category_share") is not None:
        key += f"-tcs{p['top_category_share']:g}"
    if p.get("writer", "gen") != "gen":  # gen lakes keep the keys they had before --writer
        key += f"-{p['writer']}"
    return key


def lake_files(root: str) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(("_", "."))]
        found += [os.path.join(dirpath, f) for f in filenames if not f.startswith(("_", "."))]
    return sorted(found)


def ensure_lake(args, p: dict) -> dict:
    path = os.path.join(os.path.abspath(args.cache_dir), "lake-" + lake_key(p))
    if os.path.isdir(path):
        say(f"lake: reusing {path}")
        gen_s = None
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        gen = [args.bin, "gen"] if p.get("writer", "gen") == "gen" else [sys.executable, PYARROW_LAKE]
        cmd = [*gen, "--out", path, "--purchases", str(p["purchases"]),
               "--categories", str(p["categories"]), "--days", str(p["days"]), "--layout", p["layout"],
               "--id-type", p["id_type"], "--seed", str(p["seed"])]
        if p["quantity"]:
            cmd.append("--quantity")
        if p.get("sparse_fraction") is not None:
            cmd += ["--sparse-fraction", str(p["sparse_fraction"])]
        if p.get("top_category_share") is not None:
            cmd += ["--top-category-share", str(p["top_category_share"])]
        say(f"lake: generating {path} ({p.get('writer', 'gen')} writer)\n  $ {shlex.join(cmd)}")
        t0 = time.monotonic()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        gen_s = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"bench: error: {shlex.join(gen)} failed (exit {r.returncode}):\n{r.stderr[-3000:]}")
    files = lake_files(path)
    return {"path": path, "key": lake_key(p), "params": p, "files": len(files),
            "bytes": sum(os.path.getsize(f) for f in files), "gen_s": gen_s, "_files": files}


def warm(lake: dict) -> dict:
    """One untimed read of every file: all engines then start from the same warm page cache."""
    t0 = time.monotonic()
    buf = bytearray(1 << 20)
    for path in lake["_files"]:
        with open(path, "rb", buffering=0) as f:
            while f.readinto(buf):
                pass
    s = time.monotonic() - t0
    mem = machine().get("mem_total_bytes") or 0
    note = None
    if mem and lake["bytes"] > 0.5 * mem:
        note = (f"lake is {lake['bytes'] / 2**30:.1f} GiB, over half of the {mem / 2**30:.1f} GiB of RAM: "
                f"it may not stay in the page cache, later runs may read from disk")
        say(f"WARNING: {note}")
    say(f"warm-up: read {lake['files']} files, {lake['bytes'] / 2**20:.1f} MiB in {s:.2f}s (untimed)")
    return {"read_s": s, "note": note}


# ---------------------------------------------------------------------------
# Measuring one process
# ---------------------------------------------------------------------------


def _session_rss(sid: int) -> tuple[int, int]:
    """Summed RSS (bytes) and count of the processes in session `sid`."""
    total, count = 0, 0
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[3]) != sid:  # field 6 of stat: session id
                continue
            with open(f"/proc/{name}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE
            count += 1
        except (OSError, ValueError, IndexError):
            continue
    return total, count


def measure(cmd: list[str], env: dict, log_path: str, tree: bool) -> dict:
    """Runs `cmd` as its own process (own session) and measures it from the outside.

    wall_s: from spawn to exit, what a user waits for (interpreter / JVM start included).
    ru_maxrss: the kernel's high-water mark of the largest process among the command and the
    descendants it waited for (what `/usr/bin/time -f %M` reports). With tree=True (Spark:
    its JVM is a child the Python driver never waits for, so the kernel figure misses it) the
    summed RSS of every process of the session is also sampled every 0.1 s; peak_rss_bytes is
    the larger of the two.
    """
    with open(log_path, "wb") as log:
        log.write(("$ " + shlex.join(cmd) + "\n").encode())
        log.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        peak = {"rss": 0, "procs": 0}
        done = threading.Event()

        def sample():
            while not done.is_set():
                rss, n = _session_rss(proc.pid)
                if rss > peak["rss"]:
                    peak["rss"] = rss
                peak["procs"] = max(peak["procs"], n)
                done.wait(0.1)

        sampler = threading.Thread(target=sample, daemon=True) if tree else None
        if sampler:
            sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        # Processes the command left behind (Spark's JVM shutting down) must be gone before
        # the next run starts; how long that took is recorded, not counted as wall time.
        t1 = time.perf_counter()
        stragglers = 0
        while True:
            _, n = _session_rss(proc.pid)
            if n == 0:
                break
            stragglers = n
            if time.perf_counter() - t1 > 60:
                os.killpg(proc.pid, 9)
            time.sleep(0.05)
        tail = time.perf_counter() - t1
        done.set()
        if sampler:
            sampler.join()
    return {"rc": proc.returncode, "wall_s": wall, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
            "ru_maxrss_bytes": ru.ru_maxrss * 1024,
            "tree_peak_rss_bytes": peak["rss"] if tree else None,
            "tree_max_procs": peak["procs"] if tree else None,
            "peak_rss_bytes": max(ru.ru_maxrss * 1024, peak["rss"]),
            "stragglers": stragglers, "straggler_wait_s": tail if stragglers else 0.0}


# ---------------------------------------------------------------------------
# Engines
# ---------------------------------------------------------------------------


class Job:
    """One engine configuration run on one lake at one thread count."""

    def __init__(self, label, engine, threads, variants, window="30d", max_window="30d",
                 ref_variant_filter=None, unchecked=False):
        self.label, self.engine, self.threads = label, engine, threads
        self.unchecked = unchecked  # not comparable with the reference (checked elsewhere)
        self.variants, self.window, self.max_window = variants, window, max_window
        self.ref_variant_filter = ref_variant_filter  # compare only these variants of the reference

    def command(self, args, lake, out_csv, report):
        env = dict(os.environ)
        if self.engine == "floor":
            # The decompression floor: no results, figures in its report.
            cmd = [args.floor_bin, "--lake", lake["path"], "--as-of", AS_OF, "--window", self.window,
                   "--max-window", self.max_window, "--threads", str(self.threads), "--report", report]
            return cmd, env, False
        if self.engine == "topsellers":
            cmd = [args.bin, "compute", "--lake", lake["path"], "--as-of", AS_OF,
                   "--window", self.window, "--max-window", self.max_window, "--top", str(args.top),
                   "--out", out_csv, "--report", report, "--threads", str(self.threads)]
            if len(self.variants) == 1 and self.variants[0][0] == "default":
                cmd += ["--half-life", self.variants[0][1]]
            else:
                for name, h in self.variants:
                    cmd += ["--variant", f"{name}={h}"]
            return cmd, env, False
        assert self.window == self.max_window, "peers compute a fixed window only"
        cmd = [sys.executable, PEERS, self.engine, "--lake", lake["path"], "--out", out_csv,
               "--as-of", AS_OF, "--window", self.window, "--top", str(args.top),
               "--threads", str(self.threads)]
        for name, h in self.variants:
            cmd += ["--variant", f"{name}={h}"]
        if self.engine == "spark":
            cmd += ["--spark-driver-memory", args.spark_driver_memory]
            for c in args.spark_conf:
                cmd += ["--spark-conf", c]
        else:
            cmd += ["--report", report]
        if self.engine == "polars":
            env["POLARS_MAX_THREADS"] = str(self.threads)
        return cmd, env, self.engine == "spark"


def in_process_figures(job: Job, report: str, log_path: str) -> dict:
    """What the engine itself says about its phases (not used for the headline figures)."""
    out = {}
    try:
        if job.engine == "topsellers":
            with open(report) as f:
                r = json.load(f)
            out = {"rows_scanned": r["rows"]["scanned"], "rows_counted": r["rows"].get("counted"),
                   "stages_s": dict(r["stages_s"]), "self_peak_rss_bytes": r.get("peak_rss_bytes"),
                   "files_read": r.get("scan", {}).get("files_read"),
                   "bytes_read": r.get("scan", {}).get("bytes_read")}
        elif job.engine in ("duckdb", "polars", "datafusion"):
            with open(report) as f:
                out = json.load(f)
        elif job.engine == "floor":
            with open(report) as f:
                r = json.load(f)
            out = {"in_process_s": r["wall_s"], **r["floor"]}
        elif job.engine == "spark":
            with open(log_path, errors="replace") as f:
                text = f.read()
            m = re.search(r"session started in ([\d.]+)s", text)
            n = re.search(r"compute ([\d.]+)s:", text)
            if m:
                out["session_s"] = float(m.group(1))
            if n:
                out["query_s"] = float(n.group(1))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return out


def filter_variants(src: str, dst: str, keep: set[str]) -> None:
    with open(src, newline="") as f, open(dst, "w", newline="") as g:
        r, w = csv.reader(f), csv.writer(g, lineterminator="\n")
        w.writerow(next(r))
        for row in r:
            if row and row[0] in keep:
                w.writerow(row)


def verify(reference_csv: str, csv_path: str, top: int) -> tuple[str, str]:
    r = subprocess.run([sys.executable, COMPARE, reference_csv, csv_path, "--rel", "1e-9", "--top", str(top)],
                       capture_output=True, text=True)
    text = (r.stdout + r.stderr).strip()
    last = text.splitlines()[-1] if text else ""
    return ("PASS" if r.returncode == 0 else "FAIL"), (last if r.returncode == 0 else text[-4000:])


def run_cell(args, lake, jobs: list[Job], cell: str, work: str, runs: list) -> list[dict]:
    """Runs `jobs` round-robin --repeat times on `lake`, then verifies every output against the
    first job's (topsellers, where present) first output. Appends raw runs to `runs`."""
    cell_runs = []
    for rep in range(args.repeat):
        for job in jobs:
            stem = os.path.join(work, f"{cell}-{job.label}-t{job.threads}-r{rep + 1}")
            out_csv, report, log_path = stem + ".csv", stem + ".report.json", stem + ".log"
            for p in (out_csv, report):
                if os.path.exists(p):
                    os.unlink(p)
            cmd, env, tree = job.command(args, lake, out_csv, report)
            print(f"  [{cell}] {job.label:<20} threads={job.threads:<3} run {rep + 1}/{args.repeat} ...", end="", flush=True)
            m = measure(cmd, env, log_path, tree)
            ok = m["rc"] == 0 and (os.path.exists(out_csv) or job.engine == "floor")
            rss = m["peak_rss_bytes"] / 2**20
            say(f" {'wall %.3fs' % m['wall_s'] if ok else 'FAILED (exit %d), see %s' % (m['rc'], log_path)}"
                f", peak RSS {rss:.0f} MB")
            rec = {"cell": cell, "label": job.label, "engine": job.engine, "threads": job.threads,
                   "variants": [f"{n}={h}" for n, h in job.variants], "window": job.window,
                   "max_window": job.max_window, "lake": lake["key"], "purchases": lake["params"]["purchases"],
                   "repeat": rep + 1, "command": shlex.join(cmd), "csv": out_csv, "log": log_path, **m,
                   "engine_figures": in_process_figures(job, report, log_path) if ok else {},
                   "verify": None, "verify_detail": None}
            if not ok:
                rec["verify"], rec["verify_detail"] = "FAIL", f"engine failed with exit {m['rc']}; see {log_path}"
                try:
                    with open(log_path, errors="replace") as f:
                        rec["log_tail"] = f.read()[-3000:]
                except OSError:
                    pass
            cell_runs.append(rec)

    # Verification: against the first job's first successful output.
    ref_job = jobs[0]
    ref = next((r for r in cell_runs if r["label"] == ref_job.label and r["rc"] == 0), None)
    for rec in cell_runs:
        if rec["verify"] == "FAIL":
            continue
        if ref is None:
            rec["verify"], rec["verify_detail"] = "FAIL", f"no reference output ({ref_job.label} failed)"
            continue
        if rec is ref:
            rec["verify"], rec["verify_detail"] = "REF", "reference"
            continue
        job = next(j for j in jobs if j.label == rec["label"])
        if job.unchecked:
            rec["verify"], rec["verify_detail"] = "-", "not comparable with the reference"
            continue
        ref_csv = ref["csv"]
        if job.ref_variant_filter:
            ref_csv = os.path.join(work, f"{cell}-ref-{'_'.join(sorted(job.ref_variant_filter))}.csv")
            filter_variants(ref["csv"], ref_csv, job.ref_variant_filter)
        if rec["engine"] == "topsellers" and ref["engine"] == "topsellers" and ref_csv == ref["csv"]:
            with open(ref_csv, "rb") as a, open(rec["csv"], "rb") as b:
                if a.read() == b.read():
                    rec["verify"], rec["verify_detail"] = "PASS", "byte-identical to the reference"
                    continue
        rec["verify"], rec["verify_detail"] = verify(ref_csv, rec["csv"], args.top)
    for rec in cell_runs:
        if rec["verify"] == "FAIL":
            say(f"  !!! FAIL {rec['label']} threads={rec['threads']} run {rec['repeat']}: {rec['verify_detail']}")
    runs.extend(cell_runs)
    return cell_runs


def summarize(cell_runs: list[dict], purchases: int, baseline_label: str | None) -> list[dict]:
    rows = []
    labels = list(dict.fromkeys(r["label"] for r in cell_runs))
    for label in labels:
        rs = [r for r in cell_runs if r["label"] == label]
        good = [r for r in rs if r["rc"] == 0]
        walls = [r["wall_s"] for r in good]
        # CPU seconds (user + sys) of the process and its waited-for children: less disturbed
        # than wall time by other work on a shared machine. Not for Spark: its JVM is a child
        # the driver never waits for, so its CPU time is not in the figure.
        cpus = [r["user_s"] + r["sys_s"] for r in good if not r.get("tree_peak_rss_bytes")]
        checks = {r["verify"] for r in rs}
        verdict = ("FAIL" if "FAIL" in checks else "REF" if "REF" in checks
                   else "-" if checks == {"-"} else "PASS")
        row = {"label": label, "engine": rs[0]["engine"], "threads": rs[0]["threads"], "runs": len(rs),
               "ok_runs": len(good), "median_s": statistics.median(walls) if walls else None,
               "min_s": min(walls) if walls else None, "max_s": max(walls) if walls else None,
               "cpu_median_s": statistics.median(cpus) if cpus else None,
               "peak_rss_bytes": max((r["peak_rss_bytes"] for r in good), default=None),
               "purchases": purchases, "verify": verdict}
        row["purchases_per_s"] = purchases / row["median_s"] if row["median_s"] else None
        row["ns_per_purchase"] = row["median_s"] * 1e9 / purchases if row["median_s"] else None
        rows.append(row)
    base = next((r for r in rows if r["label"] == baseline_label), None)
    for row in rows:
        row["ratio"] = (row["median_s"] / base["median_s"]
                        if base and base["median_s"] and row["median_s"] else None)
    return rows


def fmt(v, spec, dash="-"):
    return dash if v is None else format(v, spec)


def print_table(rows: list[dict], extra_cols=()) -> str:
    head = ["engine", "threads", *[c[0] for c in extra_cols], "runs", "median s", "min s", "CPU s", "peak RSS MB",
            "Mpurch/s", "ratio", "check"]
    lines = []
    for r in rows:
        lines.append([r["label"], str(r["threads"]), *[c[1](r) for c in extra_cols], f"{r['ok_runs']}/{r['runs']}",
                      fmt(r["median_s"], ".3f"), fmt(r["min_s"], ".3f"), fmt(r.get("cpu_median_s"), ".2f"),
                      fmt(r["peak_rss_bytes"] and r["peak_rss_bytes"] / 2**20, ".0f"),
                      fmt(r["purchases_per_s"] and r["purchases_per_s"] / 1e6, ".2f"),
                      fmt(r["ratio"], ".2f") + ("x" if r["ratio"] is not None else ""),
                      "*** FAIL ***" if r["verify"] == "FAIL" else r["verify"]])
    widths = [max(len(h), *(len(ln[i]) for ln in lines)) for i, h in enumerate(head)]
    out = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(head, widths)))]
    out.append("  ".join("-" * w for w in widths))
    for ln in lines:
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(ln, widths))))
    text = "\n".join(out)
    say(text)
    return text


# ---------------------------------------------------------------------------
# Charts
# ---------------------------------------------------------------------------

COLORS = {"topsellers": "#d62728", "duckdb": "#e6a700", "polars": "#1f77b4", "datafusion": "#9467bd",
          "spark": "#7f7f7f", "floor": "#bcbd22"}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def chart_bars(path: str, rows: list[dict], title: str, subtitle: str) -> None:
    plt = _plt()
    rows = [r for r in rows if r["median_s"]]
    fig, ax = plt.subplots(figsize=(max(7, 1.6 * len(rows) + 2), 5.5))
    xs = range(len(rows))
    med = [r["median_s"] for r in rows]
    err = [[r["median_s"] - r["min_s"] for r in rows], [r["max_s"] - r["median_s"] for r in rows]]
    ax.bar(xs, med, yerr=err, capsize=4,
           color=[COLORS.get(r["engine"], "#2ca02c") if r["verify"] != "FAIL" else "#000000" for r in rows])
    for x, r in zip(xs, rows):
        label = f"{r['median_s']:.2f}s"
        if r["ratio"] is not None:
            label += f"\n{r['ratio']:.1f}x"
        if r["verify"] == "FAIL":
            label += "\nFAIL"
        ax.annotate(label, (x, r["median_s"]), ha="center", va="bottom", fontsize=8,
                    xytext=(0, 3), textcoords="offset points")
    ax.set_xticks(list(xs), [r["label"] for r in rows], rotation=15)
    lo, hi = min(r["min_s"] for r in rows), max(r["max_s"] for r in rows)
    if hi / lo > 10:  # log scale where the engines are orders of magnitude apart
        from matplotlib.ticker import FuncFormatter
        ax.set_yscale("log")
        ax.set_ylim(10 ** math.floor(math.log10(lo / 2)), hi * 4)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_ylabel("median whole-process wall time (s, log scale)")
    else:
        ax.set_ylim(0, hi * 1.25)
        ax.set_ylabel("median whole-process wall time (s)")
    ax.set_title(textwrap.fill(title, 90) + "\n" + textwrap.fill(subtitle, 90), fontsize=8)
    ax.grid(axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def chart_scaling(path: str, summary: list[dict], title: str) -> None:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for label in dict.fromkeys(r["label"] for r in summary):
        rs = sorted((r for r in summary if r["label"] == label and r["median_s"]), key=lambda r: r["purchases"])
        xs = [r["purchases"] for r in rs]
        c = COLORS.get(rs[0]["engine"]) if rs else None
        a1.plot(xs, [r["ns_per_purchase"] for r in rs], "o-", label=label, color=c)
        a2.plot(xs, [r["median_s"] for r in rs], "o-", label=label, color=c)
    from matplotlib.ticker import FuncFormatter, NullFormatter
    a1.set_xscale("log")
    a1.set_ylabel("ns per purchase in the lake (median wall / purchases)")
    a1.set_ylim(bottom=0)
    a2.set_xscale("log")
    a2.set_yscale("log")
    a2.set_ylabel("median whole-process wall time (s)")
    sizes = sorted({r["purchases"] for r in summary})
    a2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a2.yaxis.set_minor_formatter(NullFormatter())
    for a in (a1, a2):
        a.set_xlabel("purchases in the lake")
        a.set_xticks(sizes, [human_count(n) for n in sizes])
        a.xaxis.set_minor_formatter(NullFormatter())
        a.grid(which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("\n".join(textwrap.fill(t, 120) for t in title.split("\n")), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def chart_threads(path: str, summary: list[dict], title: str) -> None:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
    tmax = max(r["threads"] for r in summary)
    a1.plot([1, tmax], [1, tmax], "k--", lw=0.8, label="ideal")
    for label in dict.fromkeys(r["label"] for r in summary):
        rs = sorted((r for r in summary if r["label"] == label and r["median_s"]), key=lambda r: r["threads"])
        if not rs:
            continue
        c = COLORS.get(rs[0]["engine"])
        a1.plot([r["threads"] for r in rs], [r.get("speedup") or 0 for r in rs], "o-", label=label, color=c)
        a2.plot([r["threads"] for r in rs], [r["median_s"] for r in rs], "o-", label=label, color=c)
    a1.set_ylabel("speedup vs 1 thread (same engine)")
    a2.set_ylabel("median whole-process wall time (s)")
    a2.set_yscale("log")
    from matplotlib.ticker import FuncFormatter, NullFormatter
    a2.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    a2.yaxis.set_minor_formatter(NullFormatter())
    counts = sorted({r["threads"] for r in summary})
    for a in (a1, a2):
        a.set_xlabel("threads")
        a.set_xscale("log", base=2)
        a.set_xticks(counts, [str(t) for t in counts])
        a.xaxis.set_minor_formatter(NullFormatter())
        a.grid(which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle("\n".join(textwrap.fill(t, 120) for t in title.split("\n")), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---------------------------------------------------------------------------
# Modes
# ---------------------------------------------------------------------------


def variant_set(k: int) -> list[tuple[str, str]]:
    if not 1 <= k <= len(VARIANT_LADDER):
        sys.exit(f"bench: --variants must be 1..{len(VARIANT_LADDER)}")
    return sorted(VARIANT_LADDER[:k], key=lambda v: duration_s(v[1]))


def lake_line(lake) -> str:
    p = lake["params"]
    extra = "".join(f", {k}={p[k]}" for k in ("sparse_fraction", "top_category_share") if p.get(k) is not None)
    return (f"{human_count(p['purchases'])} purchases, {p['categories']} categories, {p['days']} days, "
            f"layout {p['layout']}, {p['id_type']} ids{', quantity' if p['quantity'] else ''}{extra}, "
            f"written by {'topsellers gen' if p.get('writer', 'gen') == 'gen' else p['writer']}; "
            f"{lake['files']} files, {lake['bytes'] / 2**20:.0f} MiB")


def mode_compare(args, work, runs, result):
    lake = ensure_lake(args, lake_params(args, args.purchases))
    result["lakes"].append(lake)
    lake["warmup"] = warm(lake)
    variants = variant_set(args.variants)
    jobs = []
    for e in args.engines:
        label = e if args.variants == 1 else f"{e}[{args.variants}v]"
        jobs.append(Job(label, e, args.threads, variants, args.window, args.window))
    if args.variants > 1 and "topsellers" in args.engines:
        jobs.append(Job("topsellers[1v]", "topsellers", args.threads, [("default", "7d")],
                        args.window, args.window, ref_variant_filter={"default"}))
    if args.adaptive and "topsellers" in args.engines:
        # compute's own query (the window grows up to --max-window where a category is sparse):
        # not comparable with the fixed-window peers, its figures stand beside them.
        jobs.append(Job("topsellers-adaptive", "topsellers", args.threads, variants, args.window,
                        args.max_window, unchecked=True))
    if args.floor:
        jobs.append(Job("floor", "floor", args.threads, variants, args.window, args.window, unchecked=True))
    # topsellers first: it is the reference for the checks and the ratio baseline
    jobs.sort(key=lambda j: j.engine != "topsellers")
    cell_runs = run_cell(args, lake, jobs, "compare", work, runs)
    base = jobs[0].label if jobs[0].engine == "topsellers" else None
    summary = summarize(cell_runs, lake["params"]["purchases"], base)
    result["summary"] = summary
    say("")
    say(f"lake: {lake_line(lake)}")
    say(f"query: half-life(s) {', '.join(h for _, h in variants)}, fixed window {args.window}, top {args.top}, "
        f"as_of {AS_OF}, {args.threads} threads, {args.repeat} run(s) per engine, warm page cache")
    result["table"] = print_table(summary)
    say("ratio = engine median / topsellers median (above 1: slower than topsellers); "
        "CPU s = median user + sys seconds (not for spark: its JVM is not counted)")
    floor = next((r for r in summary if r["engine"] == "floor" and r["median_s"]), None)
    tops = next((r for r in summary if r["label"] == "topsellers" and r["median_s"]), None)
    if floor and tops:
        result["compute_over_floor"] = tops["median_s"] / floor["median_s"]
        if tops["cpu_median_s"] and floor["cpu_median_s"]:
            result["compute_over_floor_cpu"] = tops["cpu_median_s"] / floor["cpu_median_s"]
        say(f"compute / floor = {result['compute_over_floor']:.2f} in wall time, "
            f"{fmt(result.get('compute_over_floor_cpu'), '.2f')} in CPU time (floor: the pages compute decodes, "
            f"read and decompressed on {args.threads} threads, not decoded; whole-process medians)")
    chart_bars(result["png"], summary, f"top sellers, {lake_line(lake)}",
               f"{machine_line()}; {args.threads} threads; window {args.window}; "
               f"{args.variants} variant(s); median of {args.repeat}, bars min..max")


def mode_scaling(args, work, runs, result):
    summary = []
    for size in args.sizes:
        lake = ensure_lake(args, lake_params(args, size))
        result["lakes"].append(lake)
        lake["warmup"] = warm(lake)
        jobs = [Job(e, e, args.threads, variant_set(args.variants), args.window, args.window)
                for e in args.engines]
        jobs.sort(key=lambda j: j.engine != "topsellers")
        cell_runs = run_cell(args, lake, jobs, f"scaling-{human_count(size)}", work, runs)
        base = jobs[0].label if jobs[0].engine == "topsellers" else None
        rows = summarize(cell_runs, size, base)
        for r in rows:
            r["lake"] = lake["key"]
            r["lake_bytes"] = lake["bytes"]
        summary += rows
        # the lake of one size need not stay in the page cache while the next one runs
    result["summary"] = summary
    say("")
    say(f"query: fixed window {args.window}, top {args.top}, {args.threads} threads, warm page cache; "
        f"ns/purchase = median wall / purchases in the lake")
    result["table"] = print_table(summary, extra_cols=[
        ("purchases", lambda r: human_count(r["purchases"])),
        ("ns/purch", lambda r: fmt(r["ns_per_purchase"], ".1f"))])
    chart_scaling(result["png"], summary,
                  f"row-count scaling ({args.categories} categories, {args.days} days, layout {args.layout}); "
                  f"{machine_line()}; {args.threads} threads; median of {args.repeat}")


def thread_counts(limit: int) -> list[int]:
    ts, t = [], 1
    while t < limit:
        ts.append(t)
        t *= 2
    ts.append(limit)
    return ts


def mode_threads(args, work, runs, result, skew=False):
    override = {}
    if skew:
        override["top_category_share"] = args.top_category_share if args.top_category_share is not None else 0.5
    lake = ensure_lake(args, lake_params(args, args.purchases, **override))
    result["lakes"].append(lake)
    lake["warmup"] = warm(lake)
    counts = args.thread_list or thread_counts(ncpu())
    summary, variants = [], variant_set(args.variants)
    tops_csvs = []
    for t in counts:
        jobs = [Job(e, e, t, variants, args.window, args.window) for e in args.engines]
        jobs.sort(key=lambda j: j.engine != "topsellers")
        cell_runs = run_cell(args, lake, jobs, f"threads{t}", work, runs)
        base = jobs[0].label if jobs[0].engine == "topsellers" else None
        summary += summarize(cell_runs, lake["params"]["purchases"], base)
        tops_csvs += [r["csv"] for r in cell_runs if r["engine"] == "topsellers" and r["rc"] == 0]
    for r in summary:
        one = next((s for s in summary if s["label"] == r["label"] and s["threads"] == min(counts)), None)
        r["speedup"] = one["median_s"] / r["median_s"] if one and one["median_s"] and r["median_s"] else None
        r["efficiency"] = r["speedup"] / (r["threads"] / min(counts)) if r["speedup"] else None
    # The engine promises bit-identical results for any thread count.
    if tops_csvs:
        blobs = set()
        for p in tops_csvs:
            with open(p, "rb") as f:
                blobs.add(f.read())
        result["topsellers_identical_across_threads"] = len(blobs) == 1
    result["summary"] = sorted(summary, key=lambda r: (r["engine"] != "topsellers", r["label"], r["threads"]))
    say("")
    say(f"lake: {lake_line(lake)}")
    result["table"] = print_table(result["summary"], extra_cols=[
        ("speedup", lambda r: fmt(r.get("speedup"), ".2f")),
        ("effic.", lambda r: fmt(r.get("efficiency"), ".0%"))])
    say("speedup = same engine's median at the fewest threads / median here; "
        "ratio = engine / topsellers at the same thread count")
    if "topsellers_identical_across_threads" in result:
        same = result["topsellers_identical_across_threads"]
        say(f"topsellers results byte-identical across thread counts {counts}: {'yes' if same else 'NO (FAIL)'}")
    chart_threads(result["png"], result["summary"],
                  f"thread scaling{' (skewed lake)' if skew else ''}: {lake_line(lake)}\n{machine_line()}; "
                  f"median of {args.repeat}")


def mode_sparse(args, work, runs, result):
    sf = args.sparse_fraction if args.sparse_fraction is not None else 0.8
    lake = ensure_lake(args, lake_params(args, args.purchases, sparse_fraction=sf))
    result["lakes"].append(lake)
    lake["warmup"] = warm(lake)
    variants = variant_set(args.variants)
    # The adaptive run gives other windows than the fixed one, so it is not compared with it;
    # on lakes up to --reference-limit it is checked against the plain-SQL reference instead.
    jobs = [Job("topsellers-fixed", "topsellers", args.threads, variants, args.window, args.window),
            Job("topsellers-adaptive", "topsellers", args.threads, variants, args.window, args.max_window,
                unchecked=True)]
    jobs += [Job(e, e, args.threads, variants, args.window, args.window) for e in args.engines if e != "topsellers"]
    cell_runs = run_cell(args, lake, jobs, "sparse", work, runs)
    adaptive_runs = [r for r in cell_runs if r["label"] == "topsellers-adaptive"]
    if args.purchases <= args.reference_limit:
        ref_csv = os.path.join(work, "sparse-adaptive-sqlreference.csv")
        cmd = [sys.executable, REFERENCE, "--lake", lake["path"], "--as-of", AS_OF, "--window", args.window,
               "--max-window", args.max_window, "--top", str(args.top), "--out", ref_csv]
        for name, h in variants:
            cmd += ["--variant", f"{name}={h}"]
        say("  checking the adaptive run against scripts/reference/duckdb_topsellers.py (untimed)")
        r = subprocess.run(cmd, capture_output=True, text=True)
        first = next((x for x in adaptive_runs if x["rc"] == 0), None)
        if r.returncode != 0 or first is None:
            verdict, detail = "FAIL", (r.stderr or "adaptive run failed")[-2000:]
        else:
            verdict, detail = verify(ref_csv, first["csv"], args.top)
        for x in adaptive_runs:
            if x["verify"] != "FAIL":
                x["verify"], x["verify_detail"] = verdict, f"vs SQL reference: {detail}"
        if verdict == "FAIL":
            say(f"  !!! FAIL topsellers-adaptive vs SQL reference: {detail}")
    summary = summarize(cell_runs, lake["params"]["purchases"], "topsellers-fixed")
    first = next((x for x in adaptive_runs if x["rc"] == 0), None)
    if first:
        try:
            with open(first["csv"].replace(".csv", ".report.json")) as f:
                rep = json.load(f)
            wins = [c.get("window_s") for c in rep.get("categories", []) if isinstance(c, dict)]
            grown = sum(1 for w in wins if w and w > duration_s(args.window))
            result["adaptive_windows"] = {"categories": len(wins), "grown": grown}
        except (OSError, ValueError, AttributeError):
            pass
    result["summary"] = summary
    say("")
    say(f"lake: {lake_line(lake)}")
    if "adaptive_windows" in result:
        aw = result["adaptive_windows"]
        say(f"adaptive run: {aw['grown']} of {aw['categories']} categories grew their window beyond {args.window}")
    result["table"] = print_table(summary)
    say(f"fixed: --window {args.window} --max-window {args.window}; adaptive: --window {args.window} "
        f"--max-window {args.max_window}; ratio = / topsellers-fixed")
    chart_bars(result["png"], summary, f"adaptive vs fixed window: {lake_line(lake)}",
               f"{machine_line()}; {args.threads} threads; median of {args.repeat}")


_MACHINE = None


def machine_line() -> str:
    m = _MACHINE or machine()
    return (f"{m.get('cpu_model', '?')}, {m.get('nproc')} cores, "
            f"{(m.get('mem_total_bytes') or 0) / 2**30:.0f} GiB")


def main(argv=None) -> int:
    global _MACHINE
    p = argparse.ArgumentParser(prog="scripts/bench/compare.sh", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--mode", choices=["compare", "floor", "scaling", "threads", "skew", "sparse"], default="compare")
    p.add_argument("--purchases", type=parse_count, default=parse_count("100M"))
    p.add_argument("--sizes", default="10M,30M,100M,300M", help="scaling mode: lake sizes")
    p.add_argument("--categories", type=int, default=500)
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--layout", choices=["category", "category/dt"], default="category/dt")
    p.add_argument("--id-type", choices=["int", "string"], default="int")
    p.add_argument("--writer", choices=["gen", "pyarrow"], default="gen",
                   help="who writes the lake: topsellers gen, or scripts/bench/pyarrow_lake.py")
    p.add_argument("--quantity", action="store_true", help="lake with a quantity column")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--sparse-fraction", type=float, default=None)
    p.add_argument("--top-category-share", type=float, default=None)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--engines", default=None,
                   help="comma list of topsellers,duckdb,polars,spark (default per mode)")
    p.add_argument("--variants", type=int, default=1, help="decay variants scored by every engine (1..8)")
    p.add_argument("--window", default="30d", help="the fixed window (default 30d)")
    p.add_argument("--max-window", default="365d",
                   help="sparse mode and --adaptive: the adaptive run's largest window")
    p.add_argument("--adaptive", action="store_true",
                   help="compare mode: add topsellers with its adaptive query (--window up to --max-window)")
    p.add_argument("--no-floor", dest="floor", action="store_false",
                   help="compare mode: leave out the decompression floor row")
    p.add_argument("--floor-bin", default=os.path.join(REPO, "target", "release", "topsellers-floor"))
    p.add_argument("--top", type=int, default=100)
    p.add_argument("--threads", type=int, default=ncpu(), help="threads for every engine (default: the usable cores)")
    p.add_argument("--thread-list", default=None, help="threads/skew mode: e.g. 1,2,4 (default 1,2,4,..,nproc)")
    p.add_argument("--cache-dir", default=".cache/bench")
    p.add_argument("--out-dir", default="bench-results")
    p.add_argument("--bin", default=os.path.join(REPO, "target", "release", "topsellers"))
    p.add_argument("--spark-driver-memory", default="8g")
    p.add_argument("--spark-conf", action="append", default=None, metavar="KEY=VALUE")
    p.add_argument("--reference-limit", type=parse_count, default=parse_count("10M"),
                   help="sparse mode: check the adaptive run against the SQL reference up to this size")
    p.add_argument("--command-line", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    default_engines = {"compare": ALL_ENGINES, "floor": ["topsellers"], "scaling": ["topsellers"],
                       "threads": ["topsellers", "duckdb", "polars"],
                       "skew": ["topsellers", "duckdb", "polars"], "sparse": ["topsellers"]}[args.mode]
    args.engines = args.engines.split(",") if args.engines else list(default_engines)
    for e in args.engines:
        if e not in ALL_ENGINES:
            p.error(f"--engines: unknown engine {e!r} (known: {', '.join(ALL_ENGINES)})")
    args.sizes = [parse_count(s) for s in args.sizes.split(",")]
    args.thread_list = [int(t) for t in args.thread_list.split(",")] if args.thread_list else None
    if args.spark_conf is None:
        args.spark_conf = ["spark.ui.enabled=false"]
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    if not os.access(args.bin, os.X_OK):
        p.error(f"{args.bin}: no topsellers binary (cargo build --release)")
    args.bin = os.path.abspath(args.bin)
    if args.mode == "floor":
        if args.engines != ["topsellers"]:
            p.error("--mode floor runs topsellers and the floor only")
        args.floor = True
    elif args.mode != "compare":
        args.floor = False
    args.floor_bin = os.path.abspath(args.floor_bin)
    if args.floor and not os.access(args.floor_bin, os.X_OK):
        if args.mode == "floor":
            p.error(f"{args.floor_bin}: no topsellers-floor binary (cargo build --release -p topsellers-benches)")
        say(f"WARNING: {args.floor_bin}: no topsellers-floor binary, the floor row is left out")
        args.floor = False
    if args.threads > ncpu():
        say(f"WARNING: --threads {args.threads} is more than the {ncpu()} usable cores")

    _MACHINE = machine()
    stamp = datetime.datetime.now().strftime("%Y%m%dT%H%M%S")
    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(os.path.abspath(args.out_dir), f"{args.mode}-{stamp}")
    # Result CSVs, reports and logs of every run: large, so under the cache, not the results.
    work = os.path.join(os.path.abspath(args.cache_dir), "runs", f"{args.mode}-{stamp}")
    os.makedirs(work, exist_ok=True)
    result = {
        "mode": args.mode, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": args.command_line or shlex.join([sys.argv[0], *(argv or sys.argv[1:])]),
        "cwd": os.getcwd(), "machine": _MACHINE, "versions": versions(args.bin, args.engines),
        "query": {"as_of": AS_OF, "window": args.window, "top": args.top,
                  "variants": [f"{n}={h}" for n, h in variant_set(args.variants)],
                  "score": "sum(quantity * exp(-ln2/half_life * age_s)) over as_of - window < ts <= as_of; "
                           "rank by score desc, item id asc"},
        "measurement": ("whole-process wall time from spawn to exit (perf_counter), peak RSS = max(kernel ru_maxrss "
                        "of the process and its waited-for children, summed RSS of the process session sampled "
                        "every 0.1 s for spark); one untimed read of the lake before the runs (warm page cache, "
                        "page cache not dropped); engines run round-robin"),
        "threads": args.threads, "repeat": args.repeat, "engines": args.engines,
        "lakes": [], "runs": [], "summary": [],
        "json": base + ".json", "png": base + ".png", "runs_dir": work,
    }
    say(f"bench: mode {args.mode}, engines {','.join(args.engines)}, repeat {args.repeat}, "
        f"threads {args.threads}; {machine_line()}")
    runs = result["runs"]
    started = time.monotonic()
    try:
        if args.mode in ("compare", "floor"):
            mode_compare(args, work, runs, result)
        elif args.mode == "scaling":
            mode_scaling(args, work, runs, result)
        elif args.mode in ("threads", "skew"):
            mode_threads(args, work, runs, result, skew=args.mode == "skew")
        else:
            mode_sparse(args, work, runs, result)
    finally:
        result["elapsed_s"] = time.monotonic() - started
        for lake in result["lakes"]:
            lake.pop("_files", None)
        with open(result["json"], "w") as f:
            json.dump(result, f, indent=1)
    failed = [r for r in result["summary"] if r["verify"] == "FAIL"]
    if result.get("topsellers_identical_across_threads") is False:
        failed.append({"label": "topsellers (results differ across thread counts)"})
    say("")
    say(f"saved {result['json']}")
    if os.path.exists(result["png"]):
        say(f"saved {result['png']}")
    say(f"run outputs and logs: {work}")
    if failed:
        say("")
        say("*" * 72)
        say(f"*** FAIL: {', '.join(r['label'] for r in failed)}: results differ from topsellers or the run failed")
        say("*** (see the check column, the JSON's runs[].verify_detail and the logs)")
        say("*" * 72)
        return 1
    say("all checks PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
