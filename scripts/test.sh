#!/usr/bin/env bash
# The full test run, from a fresh machine: installs what is missing, then runs
# every check. Fails loudly (never skips) when something cannot be set up.
#
#   scripts/test.sh
#
# Steps: system packages (Java 17 for Spark) -> project virtualenv (.venv:
# duckdb, pyarrow, pyspark, polars) -> cargo fmt / clippy -> cargo test (unit,
# property, golden and CLI tests) -> cross-check against the DuckDB SQL
# reference -> PySpark job vs compute.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
step() { printf '\n==> %s\n' "$*"; }

step "system packages"
"$root/scripts/install-deps.sh"

step "python virtualenv (.venv)"
"$root/scripts/setup-python.sh"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test"
cargo test --workspace --quiet

step "cross-check against the DuckDB SQL reference"
cargo build --quiet -p topsellers
"$root/scripts/check/crosscheck.sh" "$root/target/debug/topsellers"

if [[ -x "$root/scripts/spark/test_spark.sh" ]]; then
    step "PySpark job vs compute"
    "$root/scripts/spark/test_spark.sh" "$root/target/debug/topsellers"
fi

step "all tests passed"
