#!/usr/bin/env bash
# Sync benchmark: `topsellers sync` vs `aws s3 sync` (PyPI awscli), same
# moto_server, same lake, side by side: a full download of a lake of many
# small files, then a no-op re-sync.
#
#   scripts/bench/sync.sh [--purchases 20M] [--categories 200] [--days 120] [--concurrency 32]
#
# Prints a table and writes bench-results/sync-<timestamp>.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
purchases=20M categories=200 days=120 concurrency=32
while (($#)); do
    case "$1" in
        --purchases) purchases="$2"; shift 2 ;;
        --categories) categories="$2"; shift 2 ;;
        --days) days="$2"; shift 2 ;;
        --concurrency) concurrency="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
py="$root/.venv/bin/python"
aws="$root/.venv/bin/aws"
# TOPSELLERS_BIN measures another build; by default the checked-out code, built.
bin="${TOPSELLERS_BIN:-$root/target/release/topsellers}"
[[ -n "${TOPSELLERS_BIN:-}" ]] || (cd "$root" && cargo build --release --quiet -p topsellers)
[[ -x "$aws" ]] || "$root/.venv/bin/pip" install --quiet awscli
work="$(mktemp -d "${TMPDIR:-/tmp}/topsellers-sync-bench.XXXXXX")"
port="$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; wait $moto 2>/dev/null; rm -rf "$work"' EXIT
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
for _ in $(seq 100); do "$py" -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done

lake="$root/.cache/bench/sync-lake-$purchases-$categories-$days"
[[ -d "$lake" ]] || "$bin" gen --out "$lake" --purchases "$purchases" --categories "$categories" --days "$days" \
    --layout category/dt 2>/dev/null
files=$(find "$lake" -type f -name '*.parquet' | wc -l)
mb=$(du -sm "$lake" | cut -f1)
echo "lake: $files files, $mb MB; uploading to moto_server..."
"$aws" s3 mb s3://bench >/dev/null
"$aws" s3 sync --only-show-errors "$lake" s3://bench/lake

timed() { # label command...
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }
    end=$(date +%s.%N)
    echo "$1 $(echo "$end - $start" | bc)"
}
results=()
results+=("$(timed "$bin" sync --from s3://bench/lake --to "$work/ours" --concurrency "$concurrency")")
results+=("$(timed "$bin" sync --from s3://bench/lake --to "$work/ours" --concurrency "$concurrency")")
results+=("$(timed "$aws" s3 sync --only-show-errors s3://bench/lake "$work/awscli")")
results+=("$(timed "$aws" s3 sync --only-show-errors s3://bench/lake "$work/awscli")")
diff -r --exclude='.*' "$work/ours" "$lake" >/dev/null || { echo "topsellers sync: copy differs from the source" >&2; exit 1; }
read -r _ ours_full <<<"${results[0]}"; read -r _ ours_noop <<<"${results[1]}"
read -r _ aws_full <<<"${results[2]}"; read -r _ aws_noop <<<"${results[3]}"
printf '\n%-22s %10s %10s\n' "" "full (s)" "no-op (s)"
printf '%-22s %10.2f %10.2f\n' "topsellers sync" "$ours_full" "$ours_noop"
printf '%-22s %10.2f %10.2f\n' "aws s3 sync" "$aws_full" "$aws_noop"
printf '%-22s %9.1fx %9.1fx\n' "speedup" "$(echo "$aws_full / $ours_full" | bc -l)" "$(echo "$aws_noop / $ours_noop" | bc -l)"
mkdir -p "$root/bench-results"
out="$root/bench-results/sync-$(date -u +%Y%m%dT%H%M%SZ).json"
cat >"$out" <<JSON
{"date": "$(date -u +%FT%TZ)", "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)", "cores": $(nproc),
 "lake": {"files": $files, "mb": $mb, "purchases": "$purchases", "categories": $categories, "days": $days},
 "concurrency": $concurrency,
 "topsellers_sync_s": {"full": $ours_full, "noop": $ours_noop},
 "aws_s3_sync_s": {"full": $aws_full, "noop": $aws_noop}}
JSON
echo "saved $out"
