#!/usr/bin/env bash
# Two builds of `topsellers publish` back to back, alternating, each into a
# fresh empty DynamoDB Local table: 10,000 categories × 100 items, three
# rounds. Prints the publish stage's seconds of each (from its report).
#
#   scripts/bench/publish_ab.sh OLD_BINARY NEW_BINARY
#
# Issue 15 used it to separate the cost of conditional puts for new keys
# (NEW) from BatchWriteItem (OLD: a build from before) on a loaded machine.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
old="$1"
new="$2"
py="$root/.venv/bin/python"
work="$(mktemp -d)"
# shellcheck source=services.sh
source "$root/scripts/bench/services.sh"
start_dynamodb
wait_port "$ddb_port"
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port" AWS_ACCESS_KEY_ID=bench \
    AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
"$py" "$root/scripts/bench/publish_bench.py" results 10000 100 2026-10-15T00:00:00Z "$work/g1.parquet"
# Warm DynamoDB Local's JIT with both.
for bin in "$new" "$old"; do
    "$bin" publish --results "$work/g1.parquet" --table "warm$RANDOM" --create-table --concurrency 16 >/dev/null 2>&1
done
for i in 1 2 3; do
    for v in old new; do
        bin="${!v}"
        "$bin" publish --results "$work/g1.parquet" --table "$v$i" --create-table \
            --concurrency 16 --report "$work/$v$i.json" >/dev/null 2>&1
        echo "$v round $i: $("$py" -c "import json; print(json.load(open('$work/$v$i.json'))['publish']['seconds'])") s"
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
