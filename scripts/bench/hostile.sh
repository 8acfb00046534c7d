#!/usr/bin/env bash
# serve under slowloris: normal clients' p50/p99 (wrk, one-request
# keep-alive connections spread over HOT categories, scripts/bench/serve.lua)
# and serve's peak resident memory (VmHWM), without and with SLOW
# slowloris connections (scripts/bench/slowloris.py: a byte a second each,
# reopened when serve closes them). Each run starts a fresh serve, so that
# VmHWM is that run's peak; the two settings alternate, RUNS pairs, and the
# medians are printed with the load average. Loopback only; everything stops
# by itself.
#
#   scripts/bench/hostile.sh [TOPSELLERS_BINARY]
#
# Environment: RUNS (3), SLOW (2000), DURATION (10s), CONNECTIONS (32: wrk),
# WRK_THREADS (1), SERVE_THREADS (1), HEADER_TIMEOUT (10s: serve's
# --header-timeout), CATEGORIES (1000), HOT (1000). Starts its own DynamoDB
# Local and redis-server on free ports (scripts/bench/services.sh) and stops
# them on exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/target/release/topsellers}"
runs="${RUNS:-3}"
slow="${SLOW:-2000}"
duration="${DURATION:-10s}"
connections="${CONNECTIONS:-32}"
wrk_threads="${WRK_THREADS:-1}"
serve_threads="${SERVE_THREADS:-1}"
header_timeout="${HEADER_TIMEOUT:-10s}"
categories="${CATEGORIES:-1000}"
export HOT="${HOT:-1000}"
[[ -x "$bin" ]] || { echo "no binary at $bin: cargo build --release -p topsellers (or pass one)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) > slow + 500 )) || { echo "the open-files limit $(ulimit -n) is too low for $slow connections" >&2; exit 1; }

work="$(mktemp -d)"
# shellcheck source=services.sh
source "$root/scripts/bench/services.sh"
start_dynamodb_and_redis
redis="redis://127.0.0.1:$redis_port"

python3 - "$categories" "$work/results.csv" <<'PY'
import sys
cats, out = int(sys.argv[1]), sys.argv[2]
with open(out, "w") as f:
    f.write("variant,category,rank,item_id,score,window_s,as_of\n")
    for c in range(cats):
        for r in range(100):
            f.write(f"default,c{c:012d},{r + 1},{c * 1000 + r},{1000.0 / (r + 1)!r},2592000,2026-10-15T00:00:00Z\n")
PY
"$bin" publish --results "$work/results.csv" --table hostile_bench --create-table --redis "$redis" >/dev/null

port="$(free_port)"
start_serve() {
    "$bin" serve --listen "127.0.0.1:$port" --table hostile_bench --redis "$redis" \
        --threads "$serve_threads" --header-timeout "$header_timeout" 2>"$work/serve.log" &
    serve_pid=$!
    pids+=("$serve_pid")
    wait_port "$port"
}
stop_serve() { kill "$serve_pid"; wait "$serve_pid" || true; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$serve_pid/status"; }
metric() { curl -fs "http://127.0.0.1:$port/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

measure() { # label
    start_serve
    wrk -t "$wrk_threads" -c "$connections" -d 2s -s "$root/scripts/bench/serve.lua" "http://127.0.0.1:$port" >/dev/null
    local slow_json='{}'
    if [[ "$1" == slowloris ]]; then
        secs="${duration%s}"
        python3 "$root/scripts/bench/slowloris.py" "$port" "$slow" "$((secs + 8))" >"$work/slow.json" &
        slow_pid=$!
        pids+=("$slow_pid")
        sleep 4 # all connections open and dripping before the clients start
    fi
    local open
    open="$(metric topsellers_serve_connections_open)"
    wrk -t "$wrk_threads" -c "$connections" -d "$duration" --latency -s "$root/scripts/bench/serve.lua" \
        "http://127.0.0.1:$port" >"$work/wrk.txt"
    local hwm timeouts
    hwm="$(hwm_kb)"
    timeouts="$(metric 'topsellers_serve_connections_closed_total{reason="header_timeout"}')"
    if [[ "$1" == slowloris ]]; then
        wait "$slow_pid"
        slow_json="$(cat "$work/slow.json")"
    fi
    stop_serve
    grep '^JSON ' "$work/wrk.txt" | sed "s/^JSON {/{\"label\": \"$1\", \"vmhwm_kb\": $hwm, \"open_at_start\": $open, \"header_timeouts\": ${timeouts:-0}, \"slowloris\": $slow_json, /" >>"$work/runs.jsonl"
    tail -n 1 "$work/runs.jsonl"
}

for i in $(seq 1 "$runs"); do
    if ((i % 2)); then measure baseline; measure slowloris; else measure slowloris; measure baseline; fi
done

python3 - "$work/runs.jsonl" <<PY
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
print("machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load $(cut -d' ' -f1-3 /proc/loadavg)")
print("serve threads $serve_threads, wrk $wrk_threads thread(s) x $connections connections, $duration per run, header timeout $header_timeout")
print("| setting | runs | req/s | p50 ms | p99 ms | errors | serve VmHWM MB |")
print("|---|---|---|---|---|---|---|")
for label in ("baseline", "slowloris"):
    rs = [r for r in runs if r["label"] == label]
    med = lambda k: statistics.median(r[k] for r in rs)
    name = label if label == "baseline" else f"{label} ($slow connections)"
    print(f"| {name} | {len(rs)} | {med('rps'):,.0f} | {med('p50_ms'):.2f} | {med('p99_ms'):.2f} | {sum(r['errors'] for r in rs)} | {med('vmhwm_kb') / 1024:.1f} |")
PY
