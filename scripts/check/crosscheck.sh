#!/usr/bin/env bash
# Cross-checks `topsellers compute` against an independent SQL implementation
# of the contract (DuckDB, scripts/reference/duckdb_topsellers.py) on lakes the
# engine has never seen:
#   - lakes made by `topsellers gen` (sparse categories, day partitions,
#     string ids, quantities);
#   - random lakes written by pyarrow (nulls, quantity <= 0, future events,
#     exact ties, %XX escapes, every timestamp unit and codec, epoch millis).
# Ranks must be identical (up to ties) and scores within 1e-9 relative.
# Usage: scripts/check/crosscheck.sh [path/to/topsellers]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/target/debug/topsellers}"
py="$root/.venv/bin/python"
[[ -x "$bin" ]] || { echo "crosscheck: $bin is not built" >&2; exit 1; }
[[ -x "$py" ]] || { echo "crosscheck: $py missing; run scripts/setup-python.sh" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

check() { # name lake args...
    local name="$1" lake="$2"; shift 2
    "$bin" compute --lake "$lake" "$@" --out "$work/engine.csv" --threads 2 2>"$work/engine.log" \
        || { cat "$work/engine.log" >&2; echo "crosscheck $name: compute failed" >&2; exit 1; }
    "$py" "$root/scripts/reference/duckdb_topsellers.py" --lake "$lake" "$@" --out "$work/ref.csv" 2>"$work/ref.log" \
        || { cat "$work/ref.log" >&2; echo "crosscheck $name: reference failed" >&2; exit 1; }
    [[ $(wc -l < "$work/ref.csv") -gt 1 ]] || { echo "crosscheck $name: empty reference result" >&2; exit 1; }
    printf '%-40s ' "$name"
    "$py" "$root/scripts/reference/compare_results.py" "$work/engine.csv" "$work/ref.csv" --rel 1e-9 | tail -n 1
}

as_of=(--as-of 2026-10-15T00:00:00Z)
"$bin" gen --out "$work/gen-str" --purchases 300k --categories 40 --days 60 --layout category/dt \
    --id-type string --quantity --seed 11 2>/dev/null
check "gen: day partitions, string ids, qty" "$work/gen-str" "${as_of[@]}" --variant week=7d --variant day=1d
"$bin" gen --out "$work/gen-int" --purchases 300k --categories 30 --days 90 --sparse-fraction 0.5 --seed 12 2>/dev/null
check "gen: half sparse, int ids" "$work/gen-int" "${as_of[@]}" --half-life 3d --top 50 --max-window 200d
check "gen: past as_of, lambda" "$work/gen-int" --as-of 2026-09-01T12:00:00Z --lambda 0.2 --window 7d --top 20

for seed in 1 2 3; do
    for flavour in "" --string-ids --ts-int-millis; do
        lake="$work/random-$seed$flavour"
        "$py" "$root/scripts/reference/make_random_lake.py" --out "$lake" --seed "$seed" $flavour >/dev/null
        check "pyarrow random seed $seed ${flavour:-int-ids}" "$lake" "${as_of[@]}" --window 30d --max-window 365d \
            --top 10 --variant a=7d --variant b=12h
    done
done
echo "crosscheck: all lakes agree with the SQL reference"
