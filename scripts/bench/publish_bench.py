"""Helpers of scripts/bench/publish.sh (the publish benchmark).

    publish_bench.py results CATEGORIES ITEMS AS_OF OUT.parquet
        a synthetic results file shaped like `compute`'s (one variant)
    publish_bench.py baseline ENDPOINT RESULTS.parquet OUT.json [THREADS]
        boto3 peers on the same items: a plain PutItem loop, sequential
        BatchWriteItem calls, and BatchWriteItem / conditional PutItem from
        THREADS threads (where DynamoDB Local's own ceiling shows)
    publish_bench.py report WORK_DIR OUT.md
        the Markdown summary
"""

import json
import os
import platform
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pyarrow as pa
import pyarrow.parquet as pq


def results(categories, items, as_of, out):
    rng = random.Random(42)
    cols = {k: [] for k in ("variant", "category", "rank", "item_id", "score", "window_s", "as_of")}
    for c in range(categories):
        scores = sorted((rng.random() * 1000 for _ in range(items)), reverse=True)
        for r, s in enumerate(scores):
            cols["variant"].append("default")
            cols["category"].append(f"c{c:06d}")
            cols["rank"].append(r + 1)
            cols["item_id"].append(rng.randrange(10**12))
            cols["score"].append(s)
            cols["window_s"].append(2_592_000)
            cols["as_of"].append(as_of)
    table = pa.table(
        {
            **cols,
            "rank": pa.array(cols["rank"], pa.int32()),
            "item_id": pa.array(cols["item_id"], pa.int64()),
            "window_s": pa.array(cols["window_s"], pa.int64()),
        }
    )
    pq.write_table(table, out)


def items_of(path):
    """The DynamoDB items (low-level format) of a results file, as publish writes them."""
    t = pq.read_table(path).to_pydict()
    groups = {}
    for i in range(len(t["rank"])):
        g = groups.setdefault((t["variant"][i], t["category"][i]), [t["window_s"][i], t["as_of"][i], [], []])
        g[2].append({"N": str(t["item_id"][i])})
        g[3].append({"N": repr(t["score"][i])})
    out = []
    for (v, c), (w, as_of, ids, scores) in groups.items():
        gen = 1792022400000
        out.append(
            {
                "pk": {"S": f"{v}#{c}"},
                "variant": {"S": v},
                "category": {"S": c},
                "items": {"L": ids},
                "scores": {"L": scores},
                "generation": {"N": str(gen)},
                "as_of": {"S": as_of},
                "window_s": {"N": str(w)},
                "computed_at": {"S": as_of},
            }
        )
    return out


def client(endpoint):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(max_pool_connections=64, retries={"max_attempts": 10, "mode": "standard"}),
    )


def create(db, name):
    db.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )


def batch_write(db, table, chunk):
    pending = {table: [{"PutRequest": {"Item": it}} for it in chunk]}
    while pending:
        out = db.batch_write_item(RequestItems=pending)
        pending = out.get("UnprocessedItems") or {}


SERVER_PID = None


def server_cpu():
    """DynamoDB Local's CPU seconds so far (user + system)."""
    if SERVER_PID is None:
        return 0.0
    with open(f"/proc/{SERVER_PID}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu():
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(label, items, fn):
    cpu, mine = server_cpu(), own_cpu()
    start = time.perf_counter()
    fn()
    s = time.perf_counter() - start
    cpu, mine = server_cpu() - cpu, own_cpu() - mine
    print(f"{label}: {len(items)} items in {s:.2f} s = {len(items) / s:.0f} items/s", flush=True)
    return {"seconds": s, "items": len(items), "items_per_s": len(items) / s, "server_cpu_s": cpu, "client_cpu_s": mine}


def baseline(endpoint, path, out, threads=8):
    db = client(endpoint)
    items = items_of(path)
    chunks = [items[i : i + 25] for i in range(0, len(items), 25)]
    figures = {}
    suffix = str(int(time.time()))

    warm = f"warm_{suffix}"
    create(db, warm)
    for it in items[:300]:
        db.put_item(TableName=warm, Item=it)

    t = f"putitem_{suffix}"
    create(db, t)
    figures["putitem_loop"] = timed("boto3 PutItem loop", items, lambda: [db.put_item(TableName=t, Item=it) for it in items])

    t2 = f"batch_{suffix}"
    create(db, t2)
    figures["batchwrite_sequential"] = timed(
        "boto3 BatchWriteItem, sequential", items, lambda: [batch_write(db, t2, c) for c in chunks]
    )

    t3 = f"batch_threads_{suffix}"
    create(db, t3)

    def parallel_batches():
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda c: batch_write(db, t3, c), chunks))

    figures["batchwrite_threads"] = timed(f"boto3 BatchWriteItem, {threads} threads", items, parallel_batches)
    figures["batchwrite_threads"]["threads"] = threads

    t4 = f"put_threads_{suffix}"
    create(db, t4)

    def conditional(it):
        db.put_item(
            TableName=t4,
            Item=it,
            ConditionExpression="attribute_not_exists(pk) OR generation <= :g",
            ExpressionAttributeValues={":g": it["generation"]},
        )

    def parallel_puts():
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(conditional, items))

    figures["conditional_put_threads"] = timed(f"boto3 conditional PutItem, {threads} threads", items, parallel_puts)
    figures["conditional_put_threads"]["threads"] = threads
    with open(out, "w") as f:
        json.dump(figures, f, indent=2)


def report(work, out):
    base = json.load(open(os.path.join(work, "baseline.json")))
    runs = {}
    for name in ("new", "replace", "noop"):
        runs[name] = json.load(open(os.path.join(work, f"{name}.json")))
    meta = json.load(open(os.path.join(work, "meta.json")))
    loop = base["putitem_loop"]["items_per_s"]

    def ours(name):
        p = runs[name]["publish"]
        stage = {s["name"]: s for s in runs[name]["stages"]}
        n = sum(v["new"] + v["replaced"] + v["unchanged"] for v in p["variants"])
        return n, stage["publish"]["seconds"], stage.get("cache", {}).get("seconds")

    lines = [
        "# Publish benchmark",
        "",
        f"`scripts/bench/publish.sh`, {meta['date']}, on {meta['machine']}",
        f"(load average {meta.get('load', '?')} at the end: the machine was shared with other builds;",
        f"every process of the benchmark, peers included, ran at niceness {meta.get('nice', '0')}).",
        f"{meta['categories']:,} categories × {meta['items']} items (one DynamoDB item and one Redis key per category),",
        f"DynamoDB Local {meta['dynamodb_local']} (in memory, Java 17) and redis-server {meta['redis']} on loopback,",
        f"`topsellers publish --concurrency {meta['concurrency']}` ({meta['build']} build) against boto3 {meta['boto3']} peers on the same items.",
        "",
        "| what | items | seconds | items/s | × PutItem loop | client CPU s | DynamoDB Local CPU s | DynamoDB Local cores busy | its ceiling on all cores, items/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    cores = meta.get("cores", 2)

    def row(label, n, s, client_cpu, cpu):
        ceiling = f"{n / (cpu / cores):,.0f}" if cpu else "?"
        client = f"{client_cpu:.1f}" if client_cpu is not None else "–"
        lines.append(
            f"| {label} | {n:,} | {s:.2f} | {n / s:,.0f} | {n / s / loop:.1f}× | {client} | {cpu:.1f} | {cpu / s:.2f} | {ceiling} |"
        )

    def peer(key, label):
        b = base[key]
        row(label.format(**b), b["items"], b["seconds"], b.get("client_cpu_s", 0.0), b.get("server_cpu_s", 0.0))

    peer("putitem_loop", "boto3 PutItem loop, one at a time (the reference)")
    peer("batchwrite_sequential", "boto3 BatchWriteItem, sequential calls")
    peer("batchwrite_threads", "boto3 BatchWriteItem, {threads} threads")
    peer("conditional_put_threads", "boto3 conditional PutItem, {threads} threads")
    for name, label in (
        ("new", "**topsellers publish**, empty table (conditional PutItem)"),
        ("replace", "**topsellers publish**, newer run over it (conditional PutItem)"),
        ("noop", "**topsellers publish**, the same run again (no-op: reads only)"),
    ):
        n, s, _ = ours(name)
        cpu = float(open(os.path.join(work, f"{name}.cpu")).read())
        client = sum(float(x) for x in open(os.path.join(work, f"{name}.time")).read().split()[-2:])
        row(label, n, s, client, cpu)
    par = json.load(open(os.path.join(work, "parallel.json")))
    row("two **topsellers publish** at once, into two tables", par["items"], par["seconds"], None, par["server_cpu_s"])
    lines += ["", "Where topsellers' publish time goes (reading the stored generations, then writing):", ""]
    for name in ("new", "replace", "noop"):
        v = runs[name]["publish"]["variants"][0]
        lines.append(f"- {name}: read {v['read_s']:.2f} s, write {v['write_s']:.2f} s")
    lines += ["", "Redis warm-up (pipelined `SET … EX`, 1,000 keys a pipeline):", ""]
    for name in ("new", "replace", "noop"):
        n, _, cache = ours(name)
        if cache is not None:
            lines.append(f"- {name}: {n:,} keys in {cache:.3f} s")
    lines += [
        "",
        "Seconds are the publish stage alone (table check, reads of the stored generations,",
        "writes, manifest), from the run report; the Redis warm-up is listed apart.",
        "*DynamoDB Local CPU s* is the server's own CPU time (user + system, from /proc) during",
        "each row, *cores busy* that time over the wall time. DynamoDB Local is warmed first",
        "(its JIT makes a cold first publish cost more than twice the CPU of a warm one).",
        "",
    ]
    n, s, _ = ours("new")
    cpu = float(open(os.path.join(work, "new.cpu")).read())
    ceiling = n / (cpu / cores)
    busy = par["server_cpu_s"] / par["seconds"]
    lines += [
        f"**Where the ceiling is.** DynamoDB Local needs {cpu / n * 1000:.2f} CPU-seconds per 1,000 of these",
        f"items (conditional PutItem), so even with all {cores} cores to itself and a client that costs",
        f"nothing it could take at most about {ceiling:,.0f} items/s ({ceiling / loop:.1f}× the PutItem loop):",
        "*its ceiling* column, items ÷ (CPU-seconds ÷ cores). It never got there: with two",
        f"publishes into two tables at once it kept {busy:.2f} of the {cores} cores busy, and",
        f"{cpu / s:.2f} during topsellers' publish into an empty table, which reached {n / s:,.0f} items/s",
        f"({n / s / loop:.1f}× the loop; the 5× goal is {5 * loop:,.0f} items/s). The peers are slower",
        "because they are client-bound (Python spends more CPU than the server: *client CPU s*).",
        "topsellers is not client-bound (its client CPU includes reading and encoding the results",
        "file and warming Redis). Against DynamoDB itself, which spreads writes over partitions,",
        "the same requests run `--concurrency` at a time.",
        "",
        "Every item write of topsellers is a conditional PutItem (new keys included, since",
        "issue 15), which costs DynamoDB Local more CPU per item than BatchWriteItem (compare",
        "the boto3 rows); the no-op rerun only reads.",
        "",
    ]
    with open(out, "w") as f:
        f.write("\n".join(lines))
    raw = {"meta": meta, "boto3": base, "parallel": par, "topsellers": {}}
    for name in ("new", "replace", "noop"):
        n, s, cache = ours(name)
        raw["topsellers"][name] = {
            "items": n,
            "seconds": s,
            "cache_seconds": cache,
            "server_cpu_s": float(open(os.path.join(work, f"{name}.cpu")).read()),
            "client_cpu_s": sum(float(x) for x in open(os.path.join(work, f"{name}.time")).read().split()[-2:]),
            "publish": {k: v for k, v in runs[name]["publish"].items() if k != "variants"},
        }
    with open(os.path.splitext(out)[0] + ".json", "w") as f:
        json.dump(raw, f, indent=2)
    print("\n".join(lines))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "results":
        results(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif cmd == "baseline":
        if len(sys.argv) > 6:
            SERVER_PID = int(sys.argv[6])
        baseline(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 8)
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
