#!/usr/bin/env bash
# Times a new user's first command: a fresh clone of REV, then
# `cargo run --release -- demo` from an empty target folder to the printed
# results. Crate downloads are fetched first and not timed (they depend on
# the network, not on the project). Leaves cargo's --timings report beside
# the figures.
#
#   scripts/bench/cold_build.sh [REV] [OUT_DIR]     (default HEAD, bench-results/cold-build)
#
# Run it on an otherwise idle machine: it measures CPU-bound compile time.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rev="${1:-HEAD}"
out="${2:-$root/bench-results/cold-build}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

git clone -q "$root" "$work/clone"
cd "$work/clone"
git checkout -q "$rev"
sha="$(git rev-parse --short HEAD)"
cargo fetch --quiet
start="$(date +%s.%N)"
cargo run --quiet --release --timings -- demo > "$work/demo.out"
end="$(date +%s.%N)"
seconds="$(echo "$end - $start" | bc)"
cp target/cargo-timings/cargo-timing.html "$out/cargo-timing-$sha.html"
printf '%s\t%s\t%.0f\n' "$sha" "$(date -u +%FT%TZ)" "$seconds" | tee -a "$out/cold-build.tsv"
tail -n 5 "$work/demo.out"
