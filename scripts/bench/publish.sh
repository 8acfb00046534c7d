#!/usr/bin/env bash
# The publish benchmark: 10,000 categories × 100 items published into
# DynamoDB Local and Redis by `topsellers publish`, side by side with boto3
# peers on the same items (a plain PutItem loop, sequential and threaded
# BatchWriteItem, threaded conditional PutItem). Writes docs/publish-bench.md.
#
#   scripts/bench/publish.sh [TOPSELLERS_BINARY]
#
# Environment: CATEGORIES (10000), ITEMS (100), CONCURRENCY (16), THREADS (8),
# NICE (e.g. -10: run every process of the benchmark, peers included, at that
# niceness, to keep other jobs of a shared machine from skewing it; needs root).
# Starts its own DynamoDB Local and redis-server on free loopback ports.
set -euo pipefail
if [[ -n "${NICE:-}" ]]; then
    renice -n "$NICE" -p $$ >/dev/null
fi
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/target/release/topsellers}"
categories="${CATEGORIES:-10000}"
items="${ITEMS:-100}"
concurrency="${CONCURRENCY:-16}"
threads="${THREADS:-8}"
py="$root/.venv/bin/python"
[[ -x "$bin" ]] || { echo "no binary at $bin: cargo build --release -p topsellers (or pass one)" >&2; exit 1; }
"$root/scripts/install-deps.sh" >/dev/null
"$root/scripts/setup-python.sh"

work="$(mktemp -d)"
# shellcheck source=services.sh
source "$root/scripts/bench/services.sh"
start_dynamodb_and_redis

echo "==> results: $categories categories × $items items"
"$py" "$root/scripts/bench/publish_bench.py" results "$categories" "$items" 2026-10-15T00:00:00Z "$work/g1.parquet"
"$py" "$root/scripts/bench/publish_bench.py" results "$categories" "$items" 2026-10-15T06:00:00Z "$work/g2.parquet"

# DynamoDB Local's CPU seconds so far (user + system), to show its ceiling.
server_cpu() { "$py" -c "import os,sys; f=open('/proc/$ddb_pid/stat').read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))"; }
publish() {
    local before
    before="$(server_cpu)"
    /usr/bin/time -f '%U %S' -o "${3%.json}.time" \
        "$bin" publish --results "$1" --table "$2" --create-table --redis "redis://127.0.0.1:$redis_port" \
        --concurrency "$concurrency" --report "$3"
    "$py" -c "print($(server_cpu) - $before)" >"${3%.json}.cpu"
}
echo "==> warming DynamoDB Local's JIT (a full publish, then a newer run over it, into a scratch table)"
publish "$work/g1.parquet" warmup "$work/warmup1.json" >/dev/null 2>&1
publish "$work/g2.parquet" warmup "$work/warmup2.json" >/dev/null 2>&1
echo "==> topsellers publish"
publish "$work/g1.parquet" topsellers "$work/new.json"
publish "$work/g2.parquet" topsellers "$work/replace.json"
publish "$work/g2.parquet" topsellers "$work/noop.json"
echo "==> two publishes at once into two tables (does DynamoDB Local use more than one core?)"
before="$(server_cpu)"
start="$(date +%s.%N)"
both=()
for t in a b; do
    "$bin" publish --results "$work/g1.parquet" --table "parallel_$t" --create-table \
        --concurrency "$concurrency" >/dev/null 2>&1 &
    both+=($!)
done
wait "${both[@]}"
"$py" -c "import json; print(json.dumps({'items': 2 * $categories, 'seconds': $(date +%s.%N) - $start, 'server_cpu_s': $(server_cpu) - $before}))" >"$work/parallel.json"

echo "==> boto3 peers"
"$py" "$root/scripts/bench/publish_bench.py" baseline "$AWS_ENDPOINT_URL_DYNAMODB" "$work/g1.parquet" "$work/baseline.json" "$threads" "$ddb_pid"

load="$(cut -d' ' -f1-3 /proc/loadavg)"
build=release
[[ "$bin" == *"/debug/"* ]] && build=debug
cat >"$work/meta.json" <<JSON
{"date": "$(date -u +%Y-%m-%d)", "machine": "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB",
 "load": "$load", "nice": "${NICE:-0}", "cores": $(nproc), "categories": $categories, "items": $items, "concurrency": $concurrency, "build": "$build",
 "dynamodb_local": "$(grep -m1 -o 'Version:.*' "$work/dynamodb.log" | cut -f2 | xargs)",
 "redis": "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)",
 "boto3": "$("$py" -c 'import boto3; print(boto3.__version__)')"}
JSON
mkdir -p "$root/docs"
"$py" "$root/scripts/bench/publish_bench.py" report "$work" "$root/docs/publish-bench.md"
echo "==> wrote docs/publish-bench.md"
