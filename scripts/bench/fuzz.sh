#!/usr/bin/env bash
# The longer fuzz run (README, "Fuzzing"): each target for SECONDS seconds
# from SEED, optimised build, findings into FINDINGS (default
# /tmp/topsellers-fuzz-findings). Prints inputs, inputs per second and
# findings per target; exits non-zero when any target found something.
#
#   scripts/bench/fuzz.sh [SECONDS per target, default 300] [SEED, default 1]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-300}
seed=${2:-1}
findings=${FINDINGS:-/tmp/topsellers-fuzz-findings}
cargo build --release --quiet -p topsellers-fuzz
bin=target/release/topsellers-fuzz
status=0
for target in ndjson parquet; do
  "$bin" --target "$target" --findings "$findings/$target" run \
    --corpus "fuzz/corpus/$target" --seed "$seed" --execs 1000000000 \
    --seconds "$seconds" || status=$?
done
echo "uptime: $(uptime)"
exit "$status"
