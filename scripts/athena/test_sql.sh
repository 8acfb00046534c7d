#!/usr/bin/env bash
# The plain-SQL version of the computation gives the same results as `topsellers compute`.
#
# For each lake and parameter set: `topsellers compute` and top_sellers_duckdb.sql (through
# run_duckdb.py) on the same lake with the same flags; the result CSVs must agree rank for rank
# with scores within 1e-9 relative (scripts/reference/compare_results.py). Lakes:
#   * written by `topsellers ingest` from NDJSON events (make_events.py: int ids plain, string
#     ids gzipped) when this binary has `ingest`: the proof that the lake ingest writes is a
#     plain Hive/Parquet lake that any SQL engine reads, not a private format;
#     otherwise (ingest not built yet) the same events written by pyarrow (make_events.py
#     --lake), with %XX-escaped category folders, and a `topsellers gen` lake with int ids;
#   * always a `topsellers gen --layout category/dt` lake with string ids and quantities.
# Sparse categories make the windows grow; exact ties, quantities <= 0, events after as_of,
# categories with nothing inside W_max are in the data.
# Also:
#   * pruning: copies of an in-window data file planted in a dt= partition outside the window
#     and in '_'/'.' paths must not be counted (same results);
#   * the Athena query itself, rendered with the same parameters, is parsed as Trino SQL and run
#     on DuckDB against an Athena-like view (emulate_athena.py) and compared too, within 1e-8
#     (Athena's millisecond timestamps: lambda * 1 ms = 8.0e-9 for a one-day half-life); this
#     needs the PyPI package sqlglot importable by the venv's python (or by $SQLGLOT_PYTHON,
#     which also needs duckdb) and is skipped otherwise.
#
# Usage: scripts/athena/test_sql.sh [path/to/topsellers]      (default target/debug/topsellers)
# Exit status 0 when every check passes, 1 otherwise.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/scripts/athena"
bin="${1:-$root/target/debug/topsellers}"
py="$root/.venv/bin/python"
[[ -x "$bin" ]] || { echo "test_sql: $bin is not built" >&2; exit 1; }
[[ -x "$py" ]] || { echo "test_sql: $py missing; run scripts/setup-python.sh" >&2; exit 1; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

glot_py="${SQLGLOT_PYTHON:-$py}"
if "$glot_py" -c 'import sqlglot, duckdb' 2>/dev/null; then athena_check=1; else athena_check=0; fi

passed=0
failed=0
windows_seen=""

fail() { echo "FAIL: $*" >&2; failed=$((failed + 1)); }

# check NAME LAKE COMPUTE_ARGS...
check() {
    local name="$1" lake="$2"; shift 2
    local out="$work/out/$name"
    mkdir -p "$out"
    printf '%-44s ' "$name"
    if ! "$bin" compute --lake "$lake" "$@" --out "$out/engine.csv" --threads 2 2>"$out/engine.log"; then
        echo; cat "$out/engine.log" >&2; fail "$name: topsellers compute failed"; return
    fi
    if ! "$py" "$here/run_duckdb.py" --lake "$lake" "$@" --out "$out/sql.csv" \
            --athena-sql "$out/athena.sql" --sql-out "$out/duckdb.sql" 2>"$out/sql.log"; then
        echo; cat "$out/sql.log" >&2; fail "$name: run_duckdb.py failed"; return
    fi
    if [[ $(wc -l < "$out/engine.csv") -le 1 ]]; then
        echo; fail "$name: empty result (the test data is wrong)"; return
    fi
    if "$py" "$root/scripts/reference/compare_results.py" "$out/engine.csv" "$out/sql.csv" --rel 1e-9 \
            >"$out/compare.log" 2>&1; then
        printf 'duckdb sql: %s' "$(tail -n 1 "$out/compare.log")"
        passed=$((passed + 1))
    else
        echo; cat "$out/compare.log" >&2; fail "$name: DuckDB SQL differs from topsellers compute"; return
    fi
    windows_seen+=" $(cut -d, -f6 "$out/engine.csv" | tail -n +2 | sort -u | tr '\n' ' ')"
    if [[ $athena_check == 1 ]]; then
        if "$glot_py" "$here/emulate_athena.py" --lake "$lake" --athena-sql "$out/athena.sql" \
                --out "$out/athena.csv" 2>"$out/athena.log" \
            && "$py" "$root/scripts/reference/compare_results.py" "$out/engine.csv" "$out/athena.csv" \
                --rel 1e-8 >"$out/compare-athena.log" 2>&1; then
            printf '; athena sql: %s' "$(tail -n 1 "$out/compare-athena.log" | sed 's/^OK: .*max relative/OK, max rel/')"
            passed=$((passed + 1))
        else
            echo; cat "$out/athena.log" "$out/compare-athena.log" >&2 2>/dev/null || true
            fail "$name: the Athena query (emulated) differs from topsellers compute"; return
        fi
    fi
    echo
}

# pruning_check NAME LAKE COMPUTE_ARGS...: copies a data file from inside the window into a dt=
# partition far outside it (a mislabeled partition) and into '_' and '.' paths. Their rows lie
# inside the window, so if the query read any of them, scores would change: the results must
# stay the same, proving that the dt= predicate prunes partitions and hidden files are skipped.
pruning_check() {
    local name="$1" lake="$2"; shift 2
    local out="$work/out/$name" day part cat src
    [[ $1 == --as-of ]] || { fail "$name: pruning_check needs --as-of first"; return; }
    day="$(date -u -d "${2%%T*} -1 day" +%F)"   # the day before as_of: inside every window
    part="$(ls -d "$lake"/category=*/dt="$day" | LC_ALL=C sort | head -n 1)"
    src="$(ls "$part"/*.parquet | head -n 1)"
    cat="$(dirname "$part")"
    mkdir -p "$cat/dt=2001-01-01" "$part/_temporary"
    cp "$src" "$cat/dt=2001-01-01/copy-outside-window.parquet"
    cp "$src" "$part/_temporary/copy-in-temp-folder.parquet"
    cp "$src" "$part/.copy-hidden.parquet"
    printf '%-44s ' "$name"
    # (Same results within 1e-12, not byte for byte: DuckDB's parallel sums have no fixed order.)
    if "$py" "$here/run_duckdb.py" --lake "$lake" "$@" --out "$out/sql-pruned.csv" 2>"$out/sql-pruned.log" \
            && "$py" "$root/scripts/reference/compare_results.py" "$out/sql.csv" "$out/sql-pruned.csv" \
                --rel 1e-12 >>"$out/sql-pruned.log" 2>&1; then
        echo "OK: a copy in an old dt= partition and in _/. paths was not counted"
        passed=$((passed + 1))
    else
        echo; cat "$out/sql-pruned.log" >&2; fail "$name: rows outside the dt= range or in hidden paths were counted"
    fi
}

# Parameter sets. P1: two variants, windows 7d..120d, top 10 (min-items 10): sparse categories
# grow their window. P2: one variant, small base window and a coverage threshold above top N,
# so even dense categories step up the ladder.
p1=(--as-of 2026-10-12T12:00:00Z --variant fast=1d --variant slow=14d --window 7d --max-window 120d --top 10)
p2=(--as-of 2026-10-05T06:00:00Z --half-life 3d --window 2d --max-window 90d --top 25 --min-items 40)
# Purchases exactly on the window edges of both runs (make_events.py --edges).
edges=(--edges "${p1[1]}" --edges "${p2[1]}")

# The two SQL files must stay parallel: the same CTEs in the same order.
ctes() { grep -oE '^[a-z_]+ AS \(' "$1" | cut -d' ' -f1 | tr '\n' ' '; }
printf '%-44s ' "athena/duckdb SQL structure"
if [[ "$(ctes "$here/top_sellers_athena.sql")" == "$(ctes "$here/top_sellers_duckdb.sql")" ]]; then
    echo "OK: the same CTEs: $(ctes "$here/top_sellers_duckdb.sql")"
    passed=$((passed + 1))
else
    echo; fail "the CTEs of top_sellers_athena.sql and top_sellers_duckdb.sql differ"
fi

lakes=()
if "$bin" ingest --help >/dev/null 2>&1; then
    echo "test_sql: lakes written by topsellers ingest"
    "$py" "$here/make_events.py" --out "$work/events-int.ndjson" --seed 7 "${edges[@]}"
    "$py" "$here/make_events.py" --out "$work/events-str.ndjson.gz" --seed 8 --string-ids --gzip "${edges[@]}"
    for kind in int str; do
        src="$work/events-$kind.ndjson"; [[ $kind == str ]] && src+=".gz"
        if ! "$bin" ingest --lake "$work/ingest-$kind" --quarantine "$work/quarantine-$kind.ndjson" "$src" \
                >"$work/ingest-$kind.log" 2>&1; then
            cat "$work/ingest-$kind.log" >&2
            echo "FAIL: topsellers ingest failed on $src" >&2
            exit 1
        fi
        lakes+=("ingest-$kind:$work/ingest-$kind")
    done
else
    echo "test_sql: '$bin ingest' is not available: events written by pyarrow (make_events.py --lake) and a gen lake instead"
    "$py" "$here/make_events.py" --out "$work/events-int.ndjson" --seed 7 "${edges[@]}" --lake "$work/pyarrow-events"
    "$bin" gen --out "$work/gen-int" --purchases 20k --categories 10 --days 60 --layout category/dt \
        --id-type int --quantity --sparse-fraction 0.4 --seed 21 --end 2026-10-15T00:00:00Z 2>/dev/null
    lakes+=("pyarrow-events:$work/pyarrow-events" "gen-int:$work/gen-int")
fi
"$bin" gen --out "$work/gen-str" --purchases 20k --categories 10 --days 60 --layout category/dt \
    --id-type string --quantity --sparse-fraction 0.4 --seed 22 --end 2026-10-15T00:00:00Z 2>/dev/null
lakes+=("gen-str:$work/gen-str")

if [[ $athena_check != 1 ]]; then
    echo "test_sql: sqlglot is not importable by $glot_py (scripts/setup-python.sh installs it): cannot check the Athena query" >&2
    exit 1
fi

for entry in "${lakes[@]}"; do
    name="${entry%%:*}" lake="${entry#*:}"
    check "$name p1" "$lake" "${p1[@]}"
    check "$name p2" "$lake" "${p2[@]}"
done
# Pruning, on the first lake (its "p1" outputs are the reference bytes).
first="${lakes[0]}"
pruning_check "${first%%:*} p1" "${first#*:}" "${p1[@]}"

# The data must have made some windows grow, or the adaptive part was not tested.
distinct_windows=$(echo "$windows_seen" | tr ' ' '\n' | grep . | sort -u | wc -l)
if [[ $distinct_windows -lt 3 ]]; then
    fail "only $distinct_windows distinct windows in the results: the adaptive lookback was not exercised"
fi

echo "test_sql: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
