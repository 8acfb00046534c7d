#!/usr/bin/env python3
"""Turns the freshness benchmark's run reports into docs/fresh-bench.md.

    fresh_report.py WORK_DIR OUT.md OUT.json
"""

import json
import statistics
import sys
from pathlib import Path


def stages(report: dict) -> dict:
    out = {}
    for s in report["stages"]:
        out[s["name"]] = out.get(s["name"], 0.0) + s["seconds"]
    return out


def main() -> None:
    work, out_md, out_json = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    meta = json.loads((work / "meta.json").read_text())
    wall = lambda label: float((work / f"{label}.wall").read_text())
    rep = lambda label: json.loads((work / f"{label}.report.json").read_text())
    rows = []
    for k in range(1, meta["cycles"] + 1):
        inc, full = rep(f"incremental-{k}"), rep(f"full-{k}")
        ingest = json.loads((work / f"ingest{k}.json").read_text())
        rows.append(
            {
                "hour": k,
                "events": ingest.get("events", ingest.get("lines_ok")),
                "ingest_s": float((work / f"ingest{k}.wall").read_text()),
                "incremental_s": wall(f"incremental-{k}"),
                "full_s": wall(f"full-{k}"),
                "incremental_stages": stages(inc),
                "full_stages": stages(full),
                "cycle": inc["incremental"],
                "incremental_written": inc["publish"]["items_written"],
                "full_written": full["publish"]["items_written"],
                "incremental_listed": inc["sync"]["listed"],
                "full_listed": full["sync"]["listed"],
                "full_rows_scanned": full["compute"]["rows"]["scanned"],
            }
        )
    verify = rep("verify")
    initial = {
        "full_s": wall("initial-full"),
        "rebuild_s": wall("initial-rebuild"),
        "rebuild_stages": stages(rep("initial-rebuild")),
        "rebuild_cycle": rep("initial-rebuild")["incremental"],
    }
    med = lambda key: statistics.median(r[key] for r in rows)
    med_stage = lambda side, name: statistics.median(r[side].get(name, 0.0) for r in rows)
    inc_s, full_s = med("incremental_s"), med("full_s")
    result = {
        "meta": meta,
        "cycles": rows,
        "initial": initial,
        "verify": {"wall_s": wall("verify"), "cycle": verify["incremental"]},
        "median": {"incremental_s": inc_s, "full_s": full_s, "ratio": full_s / inc_s},
    }
    out_json.write_text(json.dumps(result, indent=1) + "\n")

    c = [r["cycle"] for r in rows]
    med_c = lambda key: statistics.median(x[key] for x in c)
    # Extrapolation: what grows with the history is the new rows per hour
    # (∝ purchases per year), the expired rows (same), and at worst the state
    # (∝ purchases inside the windows); the sync listing, the discovery and the
    # publish grow with categories and files, not purchases.
    n = float(meta["purchases"].rstrip("MGk")) * {"k": 1e3, "M": 1e6, "G": 1e9}[meta["purchases"][-1]]
    scale = 1e9 / n
    state_s = med_stage("incremental_stages", "state") + med_c("load_s")
    update_s = med_c("update_s") + med_c("recompute_s")
    fixed_s = inc_s - state_s - update_s
    inc_1b = fixed_s + state_s * scale + update_s * scale
    inc_1b_32 = fixed_s + state_s * scale + update_s * scale / 16
    compute_s = med_stage("full_stages", "compute")
    full_fixed = full_s - compute_s
    full_1b = full_fixed + compute_s * scale
    full_1b_32 = full_fixed + compute_s * scale / 16

    lines = [
        "# Freshness benchmark: one incremental cycle vs a full run",
        "",
        f"Measured {meta['date']} on {meta['machine']} (load average at the end: {meta['load']}), "
        f"by `scripts/bench/fresh.sh`. Services on the same machine: moto_server (S3), "
        f"DynamoDB Local, redis-server.",
        "",
        f"- Lake: {meta['purchases']} purchases, {meta['categories']} categories, 365 days, "
        f"`category=/dt=` partitions: {meta['files']} files, {meta['lake_mb']} MB, uploaded to moto_server in "
        f"{meta['upload_s']:.0f} s.",
        f"- Each hour: {rows[0]['events'] - 2000} new events (the lake's own category and item mix, 5% arriving "
        f"up to 6 h late) plus a 2,000-purchase trend on a new item, landed with `ingest --lake s3://`.",
        "- Same `as_of`, back to back: `run --incremental` (table `fresh_incremental`) then `run` "
        "(table `fresh_full`); both sync from S3, publish to DynamoDB Local and warm Redis.",
        f"- Incremental state: {meta['state_bytes'] / 1e6:.0f} MB on disk.",
        "",
        "| hour | incremental (s) | full run (s) | full / incremental | items published (inc / full) | S3 objects listed (inc / full) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['hour']} | {r['incremental_s']:.2f} | {r['full_s']:.2f} | {r['full_s'] / r['incremental_s']:.1f}× "
            f"| {r['incremental_written']} / {r['full_written']} | {r['incremental_listed']} / {r['full_listed']} |"
        )
    lines += [
        f"| **median** | **{inc_s:.2f}** | **{full_s:.2f}** | **{full_s / inc_s:.1f}×** | | |",
        "",
        "Median seconds per stage (wall times above include process start):",
        "",
        "| stage | incremental | full run |",
        "|---|---:|---:|",
    ]
    names = []
    for r in rows:
        for side in ("incremental_stages", "full_stages"):
            for name in r[side]:
                if name not in names:
                    names.append(name)
    for name in names:
        lines.append(
            f"| {name} | {med_stage('incremental_stages', name):.3f} | {med_stage('full_stages', name):.3f} |"
        )
    lines += [
        "",
        "Inside the incremental cycle (medians): "
        f"state load {med_c('load_s'):.3f} s, lake discovery {med_c('discover_s'):.3f} s "
        f"({c[0]['files_found']} files), update {med_c('update_s'):.3f} s "
        f"({statistics.median(x['files_new'] for x in c):.0f} new files, "
        f"{statistics.median(x['files_reread'] for x in c):.0f} re-read for expiry, "
        f"{statistics.median(x['rows_decoded'] for x in c):.0f} rows decoded, "
        f"{statistics.median(x['purchases_added'] for x in c):.0f} purchases added, "
        f"{statistics.median(x['purchases_expired'] for x in c):.0f} expired), "
        f"categories recomputed in full {statistics.median(len(x['recomputed']) for x in c):.0f} "
        f"({med_c('recompute_s'):.3f} s).",
        "",
        f"The first incremental run had no state: it rebuilt it from the whole lake in {initial['rebuild_s']:.1f} s "
        f"(the first full run, which downloaded the lake, took {initial['full_s']:.1f} s). "
        f"The `--verify` cycle (incremental, then a full recompute compared category by category, "
        f"ranks equal and scores within 1e-9) passed in {wall('verify'):.1f} s.",
        "",
        "## Extrapolation",
        "",
        f"From the medians above, split into what grows with purchases and what does not (scale = 1B / {meta['purchases']} = {scale:.2f}):",
        "",
        f"- incremental, per-purchase parts: state load + save {state_s:.3f} s (at worst ∝ purchases in the windows) "
        f"and update + recompute {update_s:.3f} s (∝ new and expired purchases per hour); "
        f"fixed parts (process, sync listing of recent partitions, discovery, validation, publish of changed "
        f"categories, Redis) {fixed_s:.3f} s;",
        f"- 1B purchases, 2 cores: {fixed_s:.3f} + {state_s:.3f}·{scale:.2f} + {update_s:.3f}·{scale:.2f} = **{inc_1b:.1f} s** per cycle;",
        f"- 1B purchases, 32 cores (update and recompute are parallel per category and file; state I/O "
        f"and the fixed parts assumed not to scale): {fixed_s:.3f} + {state_s:.3f}·{scale:.2f} + "
        f"{update_s:.3f}·{scale:.2f}/16 = **{inc_1b_32:.1f} s**;",
        f"- the full run, by the same rule: compute {compute_s:.3f} s scales with purchases, the rest "
        f"({full_fixed:.3f} s: full listing, publish of every category) does not: 1B on 2 cores "
        f"{full_1b:.1f} s, on 32 cores {full_1b_32:.1f} s (compute assumed linear in cores; no many-core "
        f"machine was available to measure it).",
        "",
        "The fixed parts here are dominated by the local services (moto_server lists and serves objects "
        "from one Python process; DynamoDB Local writes about 2,000–2,900 items/s on this machine), so on "
        "AWS the cycle's fixed cost is lower, and the state I/O, at worst linear in purchases, is what to "
        "watch as the history grows.",
    ]
    out_md.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
