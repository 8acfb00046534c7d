#!/usr/bin/env bash
# The kill -9 soak: bin/tests/kill9.rs with more kill points per command and
# other seeds than the test command's 20 and 15. Prints, per seed, each
# command's kills (landed while it ran / after it had ended), what the
# reruns cleaned up, and the wall time; exits 1 when a seed fails.
#
#   scripts/bench/kill9-soak.sh [POINTS] [SEED...]    (default 100 points, seeds 16 17 18)
#
# Needs what the tests need (redis-server, DynamoDB Local, moto_server in
# .venv: scripts/install-deps.sh). The debug build, like the tests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
points="${1:-100}"
shift || true
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(16 17 18)
cargo test -p topsellers --test kill9 --quiet --no-run
status=0
for seed in "${seeds[@]}"; do
    started=$(date +%s)
    log="$(mktemp)"
    if TOPSELLERS_KILL9_POINTS="$points" TOPSELLERS_KILL9_SEED="$seed" \
        cargo test -p topsellers --test kill9 --quiet -- --nocapture >"$log" 2>&1; then
        result=ok
    else
        result=FAILED
        status=1
    fi
    grep -E "Kills|removed|rolled back|panicked|test result" "$log" || true
    echo "seed $seed, $points points per command: $result in $(($(date +%s) - started)) s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
    [ "$result" = ok ] && rm -f "$log" || echo "log kept: $log"
done
exit "$status"
