#!/usr/bin/env bash
# The serve benchmark: a run of CATEGORIES categories × ITEMS items published
# into DynamoDB Local and Redis, then `topsellers serve` (release build) on
# loopback driven by wrk over HOT hot categories, beside redis-benchmark GETs
# of the same keys (same bodies, 64 connections) as the ceiling; then a cold
# start (Redis flushed, serve restarted) under the same load, counting the
# DynamoDB reads serve made. Writes docs/serve-bench.md.
#
#   scripts/bench/serve.sh [TOPSELLERS_BINARY]
#   STORE=mysql scripts/bench/serve.sh   # the same against a MariaDB primary
#                                        # (and its standby): docs/serve-bench-mysql.md
#
# Environment: CATEGORIES (5000), ITEMS (100), HOT (1000), DURATION (10s),
# SERVE_THREADS ("1 2": tokio worker threads tried), CONNECTIONS ("32 64 256":
# wrk connections tried), WRK_THREADS (2), LIMIT (empty: every item), NICE
# (e.g. -10: run serve, wrk, redis-benchmark, redis-server and DynamoDB
# Local at that niceness, so that other jobs of a shared machine skew the
# figures less; needs root), USERS (e.g. 100000: serve runs an A/B
# experiment, default=90,fast=10, and each warm setting is measured twice
# back to back, without and with `?user=` drawn from USERS ids on every
# request, alternating which goes first; repeat a setting, CONNECTIONS="32
# 32 32", for several pairs), REPORT (where the report goes; docs/serve-bench.md,
# or docs/serve-bench-mysql.md with STORE=mysql), STORE (dynamodb or mysql).
# Starts its own DynamoDB Local and redis-server (scripts/local-services.sh)
# unless they already run, and stops what it started.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/target/release/topsellers}"
categories="${CATEGORIES:-5000}"
items="${ITEMS:-100}"
export HOT="${HOT:-1000}" LIMIT="${LIMIT:-}"
duration="${DURATION:-10s}"
serve_threads="${SERVE_THREADS:-1 2}"
connections="${CONNECTIONS:-32 64 256}"
wrk_threads="${WRK_THREADS:-2}"
users="${USERS:-}"
experiment=()
variants="default"
if [[ -n "$users" ]]; then
    variants="default fast"
    experiment=(--experiment-name bench --experiment-salt bench --experiment-arms default=90,fast=10)
fi
store="${STORE:-dynamodb}"
[[ -x "$bin" ]] || { echo "no binary at $bin: cargo build --release -p topsellers (or pass one)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "==> installing wrk" >&2; sudo apt-get install -y wrk >/dev/null 2>&1 || apt-get install -y wrk >/dev/null; }

work="$(mktemp -d)"
started_services=""
serve_pid=""
cleanup() {
    [[ -n "$serve_pid" ]] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null
    [[ -n "$started_services" ]] && "$root/scripts/local-services.sh" stop 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

state="$root/.cache/local-services"
if [[ "$store" == mysql ]]; then
    # Its own services: MariaDB is started only by `start mysql`.
    export TOPSELLERS_SERVICES_DIR="$work/services"
    started_services=yes
    eval "$("$root/scripts/local-services.sh" start mysql)"
    state="$TOPSELLERS_SERVICES_DIR"
    store_pid="$(cat "$state/mysql-primary.pid")"
    store_args=(--store mysql --mysql-url "$MYSQL_PRIMARY_URL" --mysql-standby-url "$MYSQL_STANDBY_URL")
    report="${REPORT:-$root/docs/serve-bench-mysql.md}"
else
    if ! { [[ -f "$state/dynamodb.pid" ]] && kill -0 "$(cat "$state/dynamodb.pid")" 2>/dev/null; }; then
        started_services=yes
    fi
    eval "$("$root/scripts/local-services.sh" start)"
    store_pid="$(cat "$state/dynamodb.pid")"
    store_args=(--table serve_bench)
    report="${REPORT:-$root/docs/serve-bench.md}"
fi
redis_port="${TOPSELLERS_REDIS##*:}"
if [[ -n "${NICE:-}" ]]; then
    renice -n "$NICE" -p $$ "$(cat "$state/redis.pid")" "$store_pid" >/dev/null
fi

echo "==> results: $categories categories × $items items, published to $store and Redis"
python3 - "$categories" "$items" "$work/results.csv" $variants <<'PY'
import sys
cats, items, out, variants = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4:]
with open(out, "w") as f:
    f.write("variant,category,rank,item_id,score,window_s,as_of\n")
    for v in variants:
        for c in range(cats):
            for r in range(items):
                f.write(f"{v},c{c:012d},{r + 1},{c * 1000 + r},{1000.0 / (r + 1) + c * 1e-6!r},2592000,2026-10-15T00:00:00Z\n")
PY
"$bin" publish --results "$work/results.csv" "${store_args[@]}" --create-table --redis "$TOPSELLERS_REDIS" >/dev/null

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port="$(free_port)"
start_serve() {
    "$bin" serve --listen "127.0.0.1:$port" "${store_args[@]}" --redis "$TOPSELLERS_REDIS" --threads "$1" \
        "${experiment[@]}" 2>"$work/serve.log" &
    serve_pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "serve did not start; see its log:" >&2
    cat "$work/serve.log" >&2
    exit 1
}
stop_serve() { kill "$serve_pid"; wait "$serve_pid" || true; serve_pid=""; }
metric() { curl -fs "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
load() { # threads connections label [user ids]
    USER_IDS="${4:-}" wrk -t "$wrk_threads" -c "$2" -d "$duration" --latency -s "$root/scripts/bench/serve.lua" \
        "http://127.0.0.1:$port" >"$work/wrk.txt"
    grep '^JSON ' "$work/wrk.txt" | sed "s/^JSON {/{\"label\": \"$3\", \"serve_threads\": $1, \"connections\": $2, /" >>"$work/runs.jsonl"
    tail -n 1 "$work/runs.jsonl"
}

pair=0
for t in $serve_threads; do
    start_serve "$t"
    echo "==> warm-up (serve threads $t)"
    wrk -t "$wrk_threads" -c 64 -d 3s -s "$root/scripts/bench/serve.lua" "http://127.0.0.1:$port" >/dev/null
    for c in $connections; do
        echo "==> serve threads $t, wrk $wrk_threads threads × $c connections, $duration"
        if [[ -z "$users" ]]; then
            load "$t" "$c" warm
        elif ((pair++ % 2 == 0)); then
            load "$t" "$c" warm
            echo "==> the same, ?user= of $users ids on every request"
            load "$t" "$c" users "$users"
        else # every other pair runs with users first, so that order skews neither
            echo "==> ?user= of $users ids on every request, then the same without"
            load "$t" "$c" users "$users"
            load "$t" "$c" warm
        fi
    done
    stop_serve
done
body_bytes="$(redis-cli -p "$redis_port" STRLEN "topsellers:v1:default:c000000000000")"

echo "==> ceiling: redis-benchmark GET of the same $HOT keys ($body_bytes-byte values), 64 connections"
redis-benchmark -p "$redis_port" -c 64 -n 300000 -r "$HOT" --csv \
    GET "topsellers:v1:default:c__rand_int__" >"$work/redis-bench.csv"
cat "$work/redis-bench.csv"

# The cold start reuses the fastest warm setting whose p99 was within 10 ms.
read -r best_threads best_conns < <(python3 -c "
import json
runs = [json.loads(l) for l in open('$work/runs.jsonl') if '\"warm\"' in l]
best = max([r for r in runs if r['p99_ms'] <= 10] or runs, key=lambda r: r['rps'])
print(best['serve_threads'], best['connections'])")
echo "==> cold start: Redis flushed, serve restarted (threads $best_threads), $best_conns connections"
redis-cli -p "$redis_port" FLUSHALL >/dev/null
start_serve "$best_threads"
load "$best_threads" "$best_conns" cold
reads="$(metric topsellers_serve_dynamodb_reads_total)"
coalesced="$(metric topsellers_serve_coalesced_waits_total)"
repopulated="$(metric topsellers_serve_redis_writes_total)"
stop_serve

cat >"$work/meta.json" <<JSON
{"date": "$(date -u +%Y-%m-%d)", "machine": "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB",
 "load": "$(cut -d' ' -f1-3 /proc/loadavg)", "nice": "${NICE:-0}", "categories": $categories, "items": $items, "hot": $HOT, "duration": "$duration",
 "store": "$store", "wrk_threads": $wrk_threads, "limit": "${LIMIT:-all}", "body_bytes": $body_bytes, "users": "${users:-none}",
 "redis": "$(redis-server --version | grep -o 'v=[0-9.]*' | cut -d= -f2)", "wrk": "$(wrk -v 2>&1 | head -n1 | cut -d' ' -f2)",
 "cold_dynamodb_reads": ${reads:-0}, "cold_coalesced_waits": ${coalesced:-0}, "cold_redis_writes": ${repopulated:-0}}
JSON
mkdir -p "$(dirname "$report")"
python3 "$root/scripts/bench/serve_report.py" "$work" "$report"
echo "==> wrote $report"
