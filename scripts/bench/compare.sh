#!/usr/bin/env bash
# One command for the benchmarks: topsellers vs DuckDB, Polars, DataFusion and Spark on one
# generated lake, with the decompression floor (topsellers-floor) beside them.
#
#   scripts/bench/compare.sh [--purchases 100M] [--categories 500] [--days 90]
#       [--layout category|category/dt] [--writer gen|pyarrow] [--window 30d] [--repeat 3]
#       [--engines topsellers,duckdb,polars,datafusion,spark] [--variants 1] [--threads N]
#       [--cache-dir .cache/bench] [--out-dir bench-results]
#   scripts/bench/compare.sh --mode floor            (compute and the floor back to back)
#   scripts/bench/compare.sh --mode scaling --sizes 10M,30M,100M,300M
#   scripts/bench/compare.sh --mode threads          (1,2,4,...,nproc threads)
#   scripts/bench/compare.sh --mode skew             (threads on a lake with one huge category)
#   scripts/bench/compare.sh --mode sparse           (adaptive vs fixed window, mostly sparse lake)
#
# Extra flags: --no-build (use the existing target/release/topsellers), --bin PATH, and
# every flag of scripts/bench/bench.py (--help lists them). See scripts/bench/README.md.
# Exit status: 0 all results agree, 1 a result differs from topsellers' or an engine failed,
# 2 usage error.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"

build=1
args=()
for a in "$@"; do
    case "$a" in
        --no-build) build=0 ;;
        -h|--help) build=0; args+=("$a") ;;
        --bin|--bin=*) build=0; args+=("$a") ;;
        *) args+=("$a") ;;
    esac
done

python="$repo/.venv/bin/python"
if [[ ! -x "$python" ]]; then
    echo "compare.sh: no virtualenv at .venv; run scripts/setup-python.sh (or scripts/test.sh) first" >&2
    exit 2
fi

# Measure the code as it is now: an incremental release build (a no-op when up to date).
if [[ $build == 1 ]]; then
    cargo build --release --quiet -p topsellers --bin topsellers -p topsellers-benches --bin topsellers-floor
fi

exec "$python" "$repo/scripts/bench/bench.py" --command-line "scripts/bench/compare.sh $*" "${args[@]}"
