#!/usr/bin/env bash
# `topsellers ingest` vs DuckDB on the same NDJSON purchase events:
#   topsellers ingest --lake L events.ndjson
#   DuckDB: COPY (SELECT …, strftime(ts, '%Y-%m-%d') AS dt FROM read_json(…))
#           TO L (FORMAT parquet, PARTITION_BY (category, dt), COMPRESSION zstd)
# Both get every core, both write a category=/dt= lake. The script then checks
# that both lakes hold the same rows per partition (DuckDB reading the
# ingested lake) and prints and saves the figures.
#
#   scripts/bench/ingest.sh            # 5M events, 200 categories x 120 days (~430 MB)
#   EVENTS=1000000 RUNS=3 scripts/bench/ingest.sh
#
# Environment: EVENTS (5000000), RUNS (1), WORK (target/bench-ingest),
# PYTHON (.venv/bin/python, needs duckdb and numpy).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
events=${EVENTS:-5000000}
runs=${RUNS:-1}
work=${WORK:-$root/target/bench-ingest}
py=${PYTHON:-$root/.venv/bin/python}
threads=$(nproc)
mkdir -p "$work"

input="$work/events-$events.ndjson"
if [[ ! -s "$input" ]]; then
    echo "generating $input" >&2
    "$py" "$root/scripts/bench/make_events.py" "$input" --events "$events"
fi
(cd "$root" && cargo build --release -p topsellers --quiet)
bin="$root/target/release/topsellers"

now() { date +%s.%N; }
results="$work/ingest-bench.jsonl"
: > "$results"
cleanup=()
trap 'rm -rf "${cleanup[@]}"' EXIT

for run in $(seq 1 "$runs"); do
    # Fresh folders every run; all are removed at the end (removing a large
    # lake right before the next run slows inode allocation on ext4).
    ts_lake="$work/lake-topsellers-$run-$$"
    duck_lake="$work/lake-duckdb-$run-$$"
    cleanup+=("$ts_lake" "$duck_lake")

    t0=$(now)
    "$bin" --log-format json ingest --lake "$ts_lake" --report "$work/ingest-report.json" \
        --threads "$threads" "$input" 2>/dev/null
    t1=$(now)
    "$py" - "$input" "$duck_lake" "$threads" <<'EOF'
import sys, duckdb
src, out, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("SET TimeZone = 'UTC'")
con.execute(f"""
COPY (
  SELECT item_id, category, ts, quantity, strftime(ts, '%Y-%m-%d') AS dt
  FROM read_json('{src}', format = 'newline_delimited',
                 columns = {{'item_id': 'BIGINT', 'category': 'VARCHAR',
                            'ts': 'TIMESTAMPTZ', 'quantity': 'INTEGER'}})
) TO '{out}' (FORMAT parquet, PARTITION_BY (category, dt), COMPRESSION zstd)
""")
EOF
    t2=$(now)
    "$py" - "$ts_lake" "$duck_lake" "$events" "$t0" "$t1" "$t2" "$run" "$threads" >> "$results" <<'EOF'
import json, sys, duckdb
ts_lake, duck_lake, events = sys.argv[1], sys.argv[2], int(sys.argv[3])
t0, t1, t2 = map(float, sys.argv[4:7])
con = duckdb.connect()
q = "SELECT category, dt::VARCHAR AS dt, count(*) AS n, sum(coalesce(quantity, 1)) AS q " \
    "FROM read_parquet('{}/*/*/*.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL"
a = con.execute(q.format(ts_lake)).fetchall()
b = con.execute(q.format(duck_lake)).fetchall()
if a != b or sum(r[2] for r in a) != events:
    sys.exit(f"the lakes differ: {len(a)} vs {len(b)} partitions, {sum(r[2] for r in a)} rows")
ts_s, duck_s = t1 - t0, t2 - t1
print(json.dumps({
    "run": int(sys.argv[7]), "threads": int(sys.argv[8]), "events": events,
    "partitions": len(a),
    "topsellers_s": round(ts_s, 3), "topsellers_events_per_s": round(events / ts_s),
    "duckdb_s": round(duck_s, 3), "duckdb_events_per_s": round(events / duck_s),
    "speedup": round(duck_s / ts_s, 2),
}))
EOF
    tail -n 1 "$results"
done

"$py" - "$results" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
med = lambda k: statistics.median(r[k] for r in rows)
print(f"\n{rows[0]['events']:,} events, {rows[0]['partitions']:,} partitions, "
      f"{rows[0]['threads']} threads, median of {len(rows)} run(s):")
print(f"  topsellers ingest  {med('topsellers_s'):7.2f} s  {med('topsellers_events_per_s'):>12,.0f} events/s")
print(f"  DuckDB             {med('duckdb_s'):7.2f} s  {med('duckdb_events_per_s'):>12,.0f} events/s")
print(f"  ratio              {med('speedup'):7.2f}x")
EOF
echo "per-run figures: $results; last ingest report: $work/ingest-report.json" >&2
