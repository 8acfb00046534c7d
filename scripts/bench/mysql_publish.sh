#!/usr/bin/env bash
# The MySQL publish benchmark: CATEGORIES × ITEMS (10,000 × 100) published
# into a MariaDB primary (with its replica attached, as in production) by
# `topsellers publish --store mysql`, back to back with a one-row-at-a-time
# PyMySQL loop (scripts/bench/mysql_publish.py: the same rows, the same
# guarded upsert, autocommit) into fresh databases of the same server,
# ROUNDS times; then the Rust publish of the next generation over the
# previous one (the replace path: reads, then upserts). Prints a Markdown
# table of the medians, with the machine and its load.
#
#   scripts/bench/mysql_publish.sh [TOPSELLERS_BINARY]
#
# Environment: CATEGORIES (10000), ITEMS (100), ROUNDS (3), CONCURRENCY (8).
# Starts its own redis-server and MariaDB servers (scripts/local-services.sh
# start mysql) in a temporary folder, and stops them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${1:-$root/target/release/topsellers}"
categories="${CATEGORIES:-10000}"
items="${ITEMS:-100}"
rounds="${ROUNDS:-3}"
concurrency="${CONCURRENCY:-8}"
py="$root/.venv/bin/python"
[[ -x "$bin" ]] || { echo "no binary at $bin: cargo build --release -p topsellers (or pass one)" >&2; exit 1; }
"$py" -c 'import pymysql' 2>/dev/null || { echo "pymysql is missing: scripts/setup-python.sh" >&2; exit 1; }

work="$(mktemp -d)"
export TOPSELLERS_SERVICES_DIR="$work/services"
cleanup() { "$root/scripts/local-services.sh" stop 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
eval "$("$root/scripts/local-services.sh" start mysql 2>/dev/null)"
# The loop warms no cache: neither does the command measured.
unset TOPSELLERS_REDIS
port="${MYSQL_PRIMARY_URL##*:}"; port="${port%%/*}"
sql() { mariadb --socket="$MYSQL_PRIMARY_SOCKET" -uroot -N -B -e "$1"; }
sql "GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON \`bench%\`.* TO 'topsellers'@'%'"

echo "==> results: $categories categories × $items items" >&2
"$py" "$root/scripts/bench/mysql_publish.py" results "$categories" "$items" 2026-10-15T00:00:00Z "$work/g1.csv"
"$py" "$root/scripts/bench/mysql_publish.py" results "$categories" "$items" 2026-10-16T00:00:00Z "$work/g2.csv"

now() { date +%s.%N; }
since() { printf '%.3f' "$(echo "$(now) - $1" | bc)"; }
rust=() python=() replace=()
for r in $(seq 1 "$rounds"); do
    sql "DROP DATABASE IF EXISTS bench_rust; CREATE DATABASE bench_rust; DROP DATABASE IF EXISTS bench_py; CREATE DATABASE bench_py"
    t0="$(now)"
    "$bin" publish --store mysql --mysql-url "mysql://topsellers@127.0.0.1:$port/bench_rust" --create-table \
        --concurrency "$concurrency" --results "$work/g1.csv" >/dev/null
    rust+=("$(since "$t0")")
    python+=("$("$py" "$root/scripts/bench/mysql_publish.py" csv 127.0.0.1 "$port" topsellers bench_py "$work/g1.csv")")
    t0="$(now)"
    "$bin" publish --store mysql --mysql-url "mysql://topsellers@127.0.0.1:$port/bench_rust" \
        --concurrency "$concurrency" --results "$work/g2.csv" >/dev/null
    replace+=("$(since "$t0")")
    echo "round $r: rust ${rust[-1]} s, pymysql loop ${python[-1]} s, rust replace ${replace[-1]} s (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
rows="$(sql "SELECT COUNT(*) FROM bench_py.topsellers_groups")"
same="$(sql "SELECT COUNT(*) FROM bench_rust.topsellers_groups r JOIN bench_py.topsellers_groups p USING (variant, category) WHERE r.generation = 1792108800000")"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mr="$(median "${rust[@]}")"; mp="$(median "${python[@]}")"; mx="$(median "${replace[@]}")"
rate() { printf '%.0f' "$(echo "$rows / $1" | bc -l)"; }
cat <<MD
Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average at the end $(cut -d' ' -f1-3 /proc/loadavg); MariaDB $(/usr/sbin/mariadbd --version | grep -o '10\.[0-9.]*' | head -n1), primary with binary log and a replica attached. $categories categories × $items items ($rows rows); medians of $rounds rounds, each run back to back.

| publish | seconds (median) | rows/s | runs |
|---|---:|---:|---|
| \`topsellers publish --store mysql --create-table\` (concurrency $concurrency) | $mr | $(rate "$mr") | ${rust[*]} |
| PyMySQL one-row-at-a-time loop (autocommit) | $mp | $(rate "$mp") | ${python[*]} |
| \`topsellers publish\` of the next generation over it (reads, then replaces) | $mx | $(rate "$mx") | ${replace[*]} |

Speed-up of \`topsellers publish\` over the loop: $(echo "scale=1; $mp / $mr" | bc)×. Rows of the next generation after the replace: $same of $rows.
MD
