#!/usr/bin/env bash
# The cost of the leavers step of a DynamoDB publish (README, Guarantees:
# Leavers): one Scan of the table's keys per publish, then a conditional
# DeleteItem per leaver. Against DynamoDB Local and redis-server on free
# loopback ports:
#
#   1. publishes a run of N categories x 2 variants (the table is created);
#   2. publishes newer runs, alternately with all N categories (the step is
#      the Scan alone: no leaver) and with N - L (L leavers per variant,
#      deleted), then N again (the L come back), ROUNDS times;
#   3. prints the median of the report's `leavers_s` (Scan and deletes) and
#      `seconds` (the whole publish) of each kind.
#
#   scripts/bench/leavers.sh [BIN_DIR] [N] [L] [ROUNDS]   # default target/release 5000 1000 3
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/target/release}"
n="${2:-5000}"
l="${3:-1000}"
rounds="${4:-3}"
work="$(mktemp -d /dev/shm/ts-leavers.XXXXXX)"
source "$root/scripts/bench/services.sh"
start_dynamodb
start_redis
wait_port "$ddb_port"
wait_port "$redis_port"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port" AWS_ACCESS_KEY_ID=test \
    AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

# results DAY CATEGORIES: a results CSV of day DAY (2026-10-DAY) with
# categories c00000... (10 ranked items each), variants default and fast.
results() {
    python3 - "$work/day$1-$2.csv" "$1" "$2" <<'PY'
import sys
path, day, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    f.write("variant,category,rank,item_id,score,window_s,as_of\n")
    for v in ("default", "fast"):
        for c in range(n):
            for r in range(10):
                f.write(f"{v},c{c:05},{r + 1},{c * 100 + r},{100.0 / (r + 1) + day},86400,2026-10-{day:02}T00:00:00Z\n")
PY
    echo "$work/day$1-$2.csv"
}

publish() {
    "$bin/topsellers" publish --table leavers --create-table --concurrency 16 \
        --redis "redis://127.0.0.1:$redis_port" --results "$1" --report "$work/report.json" >/dev/null 2>&1
    python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["publish"]; d=sum(v["leavers_deleted"] for v in r["variants"]); print("%.3f %.3f %d" % (r["leavers_s"], r["seconds"], d))' "$work/report.json"
}

publish "$(results 1 "$n")" >/dev/null
day=2
: >"$work/none" ; : >"$work/some"
for _ in $(seq 1 "$rounds"); do
    publish "$(results "$day" "$n")" >>"$work/none"; day=$((day + 1))
    publish "$(results "$day" $((n - l)))" >>"$work/some"; day=$((day + 1))
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
for kind in none some; do
    echo "$kind: leavers_s $(cut -d' ' -f1 "$work/$kind" | median) publish_s $(cut -d' ' -f2 "$work/$kind" | median) deleted $(cut -d' ' -f3 "$work/$kind" | head -1)"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
