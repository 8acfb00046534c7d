#!/usr/bin/env bash
# Shows that the PySpark job and `topsellers compute` give identical results
# (same ranks, scores within 1e-9) on a generated lake with sparse categories,
# day partitions, quantities and two variants, and on a string-id lake.
# Usage: scripts/spark/test_spark.sh [path/to/topsellers]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/target/debug/topsellers}"
py="$root/.venv/bin/python"
[[ -x "$bin" ]] || { echo "test_spark: $bin is not built" >&2; exit 1; }
"$py" -c 'import pyspark' || { echo "test_spark: pyspark missing; run scripts/setup-python.sh" >&2; exit 1; }
java -version >/dev/null 2>&1 || { echo "test_spark: Java 17 is needed (scripts/install-deps.sh)" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run() { # name lake args...
    local name="$1" lake="$2"; shift 2
    "$bin" compute --lake "$lake" "$@" --out "$work/engine.csv" 2>"$work/engine.log" \
        || { cat "$work/engine.log" >&2; exit 1; }
    "$py" "$root/scripts/spark/top_sellers.py" --lake "$lake" "$@" --out "$work/spark.csv" \
        --master 'local[2]' 2>"$work/spark.log" || { tail -n 40 "$work/spark.log" >&2; exit 1; }
    printf '%-36s ' "$name"
    "$py" "$root/scripts/reference/compare_results.py" "$work/spark.csv" "$work/engine.csv" --rel 1e-9 | tail -n 1
}

"$bin" gen --out "$work/lake" --purchases 200k --categories 40 --days 45 --layout category/dt \
    --quantity --sparse-fraction 0.3 --seed 5 2>/dev/null
run "spark vs compute: sparse, dt, qty" "$work/lake" --as-of 2026-10-15T00:00:00Z \
    --variant week=7d --variant day=1d --top 50
"$bin" gen --out "$work/strings" --purchases 100k --categories 20 --id-type string --seed 6 2>/dev/null
run "spark vs compute: string ids" "$work/strings" --as-of 2026-10-10T06:00:00Z --half-life 3d --top 30
echo "test_spark: the PySpark job agrees with compute"
