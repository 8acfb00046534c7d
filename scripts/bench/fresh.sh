#!/usr/bin/env bash
# The freshness benchmark (issue: incremental runs). One lake of PURCHASES
# purchases over 365 days in category=/dt= partitions sits in a local S3
# (moto_server). Then, CYCLES times: one hour of new purchases (with late
# events and a trend) lands in S3 through `topsellers ingest --lake s3://`,
# and the same as_of is computed twice, back to back:
#   - incremental: `run --incremental` (sync of recent partitions, state
#     update, publish of the categories whose top changed) into one table;
#   - full: `run` (full sync listing, full compute, publish of everything)
#     into another table.
# A last incremental cycle runs with --verify. Every `run` publishes to
# DynamoDB Local and warms Redis. Writes docs/fresh-bench.md (and .json).
#
#   scripts/bench/fresh.sh [TOPSELLERS_BINARY]
#
# Environment: PURCHASES (300M), CATEGORIES (100), CYCLES (3), EVENTS per
# hour (PURCHASES / 8760), KEEP_LAKE=1 keeps the generated lake in
# .cache/bench for the next run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/target/release/topsellers}"
purchases="${PURCHASES:-300M}"
categories="${CATEGORIES:-100}"
cycles="${CYCLES:-3}"
py="$root/.venv/bin/python"
aws="$root/.venv/bin/aws"
[[ -x "$bin" ]] || { echo "no binary at $bin: cargo build --release -p topsellers (or pass one)" >&2; exit 1; }
"$root/scripts/install-deps.sh" >/dev/null
"$root/scripts/setup-python.sh"
[[ -x "$aws" ]] || "$root/.venv/bin/pip" install --quiet awscli

work="$(mktemp -d "${TMPDIR:-/tmp}/topsellers-fresh.XXXXXX")"
# shellcheck source=services.sh
source "$root/scripts/bench/services.sh"

echo "==> services: moto_server, DynamoDB Local, redis-server"
start_moto
start_dynamodb
start_redis
wait_port "$s3_port"
wait_port "$ddb_port"
wait_port "$redis_port"
export AWS_ENDPOINT_URL_S3="http://127.0.0.1:$s3_port" AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port" \
    AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
    AWS_EC2_METADATA_DISABLED=true TOPSELLERS_LOG_FORMAT=json

lake="$root/.cache/bench/fresh-lake-$purchases-$categories"
if [[ ! -d "$lake" ]]; then
    echo "==> gen: $purchases purchases, $categories categories, 365 days"
    "$bin" gen --out "$lake" --purchases "$purchases" --categories "$categories" --days 365 \
        --layout category/dt --seed 7 2>/dev/null
fi
files=$(find "$lake" -type f -name '*.parquet' | wc -l)
mb=$(du -sm "$lake" | cut -f1)
echo "==> uploading the lake to moto_server: $files files, $mb MB"
start=$(date +%s.%N)
"$aws" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 mb s3://shop >/dev/null
"$aws" --endpoint-url "$AWS_ENDPOINT_URL_S3" s3 sync --only-show-errors "$lake" s3://shop/purchases
upload_s=$(echo "$(date +%s.%N) - $start" | bc)

config() { # name table incremental
    cat >"$work/$1.toml" <<TOML
lake = "s3://shop/purchases/"
cache_dir = "$work/cache"
variants = ["default=7d"]
out = "$work/$1/results.csv"
report = "$work/$1/report.json"
lock_file = "$work/$1/run.lock"
table = "$2"
create_table = true
redis = "redis://127.0.0.1:$redis_port"
incremental = $3
state_file = "$work/$1/state.bin"
TOML
}
config inc fresh_incremental true
config full fresh_full false
run() { # name as_of label [flags...]
    local name=$1 as_of=$2 label=$3
    shift 3
    local start end
    start=$(date +%s.%N)
    "$bin" run --config "$work/$name.toml" --as-of "$as_of" "$@" >"$work/$label.out" 2>"$work/$label.log" \
        || { tail -n 20 "$work/$label.log" >&2; exit 1; }
    end=$(date +%s.%N)
    cp "$work/$name/report.json" "$work/$label.report.json"
    echo "$(echo "$end - $start" | bc)" >"$work/$label.wall"
    printf '    %-14s %6.2f s\n' "$label" "$(cat "$work/$label.wall")"
}

t0="2026-10-15T00:00:00Z"
echo "==> first runs at $t0 (the full run downloads the lake; the incremental one builds its state)"
run full "$t0" initial-full
run inc "$t0" initial-rebuild
for k in $(seq 1 "$cycles"); do
    as_of=$(date -u -d "$t0 + $k hour" +%FT%TZ)
    hour=$(date -u -d "$t0 + $((k - 1)) hour" +%FT%TZ)
    events_n="${EVENTS:-$("$py" -c "import re; s='$purchases'; m={'k':1e3,'M':1e6,'G':1e9}; print(int(float(re.sub('[kMG]','',s))*m.get(s[-1],1)/8760))")}"
    "$py" "$root/scripts/bench/fresh_events.py" "$lake" "$work/hour$k.ndjson" --start "$hour" \
        --events "$events_n" --seed "$k" >"$work/hour$k.trend"
    echo "==> hour $k: $events_n events (+ a trend: $(cat "$work/hour$k.trend")) → ingest --lake s3://; as_of $as_of"
    start=$(date +%s.%N)
    "$bin" ingest --lake s3://shop/purchases/ "$work/hour$k.ndjson" --report "$work/ingest$k.json" >/dev/null 2>"$work/ingest$k.log" \
        || { tail -n 20 "$work/ingest$k.log" >&2; exit 1; }
    echo "$(echo "$(date +%s.%N) - $start" | bc)" >"$work/ingest$k.wall"
    run inc "$as_of" "incremental-$k"
    run full "$as_of" "full-$k"
done
as_of=$(date -u -d "$t0 + $cycles hour + 30 min" +%FT%TZ)
echo "==> a last incremental cycle with --verify at $as_of"
run inc "$as_of" verify --verify

cat >"$work/meta.json" <<JSON
{"date": "$(date -u +%Y-%m-%d)", "machine": "$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB",
 "load": "$(cut -d' ' -f1-3 /proc/loadavg)", "cores": $(nproc), "purchases": "$purchases", "categories": $categories,
 "files": $files, "lake_mb": $mb, "upload_s": $upload_s, "cycles": $cycles,
 "state_bytes": $(stat -c %s "$work/inc/state.bin")}
JSON
mkdir -p "$root/docs/bench"
"$py" "$root/scripts/bench/fresh_report.py" "$work" "$root/docs/fresh-bench.md" "$root/docs/bench/fresh.json"
echo "==> wrote docs/fresh-bench.md"
[[ "${KEEP_LAKE:-1}" == 1 ]] || rm -rf "$lake"
