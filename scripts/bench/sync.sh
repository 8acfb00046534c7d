#!/usr/bin/env bash
# Sync benchmark: `topsellers sync` vs `aws s3 sync` (PyPI awscli), same
# local S3 server, same lake, back to back: a full download of a lake of many
# small files, then a no-op re-sync, --runs times; medians reported.
#
#   scripts/bench/sync.sh [--server moto|s3s|mem] [--runs 1] [--purchases 20M] [--categories 200]
#                         [--days 120] [--concurrency 32] [--cache-dir .cache/bench]
#
# --server moto: moto_server (one Python process; the server of the tests).
# --server s3s:  s3s-fs, a multi-threaded Rust S3 server over a folder
#                (crates.io, installed into .cache/s3s-fs when missing); its
#                listing walks the whole folder for every page.
# --server mem:  scripts/bench/s3-mem, the s3s protocol crate over an
#                in-memory BTreeMap (built into .cache/s3-mem, its own lock file):
#                a server that is not the bottleneck.
# After the timed runs, one more full + no-op per tool against a server that
# logs every request gives the requests each tool sent, by operation.
#
# Prints a table and writes bench-results/sync-<server>-<timestamp>.json.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
server=moto runs=1 purchases=20M categories=200 days=120 concurrency=32 cache="$root/.cache/bench"
while (($#)); do
    case "$1" in
        --server) server="$2"; shift 2 ;;
        --runs) runs="$2"; shift 2 ;;
        --purchases) purchases="$2"; shift 2 ;;
        --categories) categories="$2"; shift 2 ;;
        --days) days="$2"; shift 2 ;;
        --concurrency) concurrency="$2"; shift 2 ;;
        --cache-dir) cache="$2"; shift 2 ;;
        *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
[[ "$server" =~ ^(moto|s3s|mem)$ ]] || { echo "--server is moto, s3s or mem" >&2; exit 2; }
py="$root/.venv/bin/python"
aws="$root/.venv/bin/aws"
# s3s-fs 0.15 and later need Rust 1.96; 0.14 serves everything both tools use.
s3s="$root/.cache/s3s-fs/bin/s3s-fs"
# TOPSELLERS_BIN measures another build; by default the checked-out code, built.
bin="${TOPSELLERS_BIN:-$root/target/release/topsellers}"
[[ -n "${TOPSELLERS_BIN:-}" ]] || (cd "$root" && cargo build --release --quiet -p topsellers)
[[ -x "$aws" ]] || "$root/.venv/bin/pip" install --quiet awscli
[[ "$server" != s3s || -x "$s3s" ]] ||
    cargo install --quiet --locked s3s-fs@0.14.0 --features binary --root "$root/.cache/s3s-fs"
mem="$root/.cache/s3-mem/release/s3-mem"
[[ "$server" != mem ]] || cargo build --quiet --release --locked --manifest-path "$root/scripts/bench/s3-mem/Cargo.toml" \
    --target-dir "$root/.cache/s3-mem"
work="$(mktemp -d "${TMPDIR:-/tmp}/topsellers-sync-bench.XXXXXX")"
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server LOG [count]: starts the server on a free port (set in $port),
# logging to LOG, every request too with `count` (moto and mem always do, at
# a cost of microseconds; s3s-fs's debug log is heavier). Every s3s instance
# serves the same folder.
start_server() {
    local log="$1" count="${2:-}"
    port="$(free_port)"
    if [[ "$server" == moto ]]; then
        "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
    elif [[ "$server" == mem ]]; then
        "$mem" "$port" test test-secret --log >"$log" 2>&1 &
    else
        [[ -n "$count" ]] && export RUST_LOG=s3s::ops=debug || export RUST_LOG=off
        mkdir -p "$work/s3s-root"
        "$s3s" --host 127.0.0.1 --port "$port" --access-key test --secret-key test-secret \
            "$work/s3s-root" >"$log" 2>&1 &
    fi
    pids+=($!)
    for _ in $(seq 100); do "$py" -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done
    export AWS_ENDPOINT_URL="http://127.0.0.1:$port"
}
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test-secret \
    AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
start_server "$work/server.log"

lake="$cache/sync-lake-$purchases-$categories-$days"
[[ -d "$lake" ]] || "$bin" gen --out "$lake" --purchases "$purchases" --categories "$categories" --days "$days" \
    --layout category/dt 2>/dev/null
files=$(find "$lake" -type f -name '*.parquet' | wc -l)
mb=$(du -sm "$lake" | cut -f1)
echo "lake: $files files, $mb MB; uploading to $server..."
"$aws" s3 mb s3://bench >/dev/null
"$aws" s3 sync --only-show-errors "$lake" s3://bench/lake

timed() { # command...: prints the seconds it took
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }
    end=$(date +%s.%N)
    printf "%.3f\n" "$(echo "$end - $start" | bc)"
}
ours() { "$bin" sync --from s3://bench/lake --to "$1" --concurrency "$concurrency"; }
theirs() { "$aws" s3 sync --only-show-errors s3://bench/lake "$1"; }
ours_full=() ours_noop=() aws_full=() aws_noop=()
for run in $(seq "$runs"); do
    rm -rf "$work/ours" "$work/awscli"
    ours_full+=("$(timed ours "$work/ours")")
    ours_noop+=("$(timed ours "$work/ours")")
    aws_full+=("$(timed theirs "$work/awscli")")
    aws_noop+=("$(timed theirs "$work/awscli")")
    echo "run $run/$runs (load $(cut -d' ' -f1-3 /proc/loadavg)): topsellers ${ours_full[-1]} s, ${ours_noop[-1]} s;" \
        "aws ${aws_full[-1]} s, ${aws_noop[-1]} s"
done
diff -r --exclude='.*' "$work/ours" "$lake" >/dev/null || { echo "topsellers sync: copy differs from the source" >&2; exit 1; }

# Requests per tool and phase, by operation, from the server's own log.
if [[ "$server" == s3s ]]; then
    start_server "$work/count.log" count
    count_log="$work/count.log"
else
    count_log="$work/server.log"
fi
counted() { # name command...: runs it, prints name and its requests as JSON
    local name="$1" before
    shift
    before=$(wc -l <"$count_log")
    "$@" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }
    sleep 1 # the log lags the last response
    tail -n +"$((before + 1))" "$count_log" | "$py" -c '
import collections, json, re, sys
ops = collections.Counter()
for line in sys.stdin:
    m = re.search(r"(?:resolved route, |^)op: (\w+)", line)  # s3s-fs, mem
    if m:
        ops[m.group(1)] += 1
        continue
    m = re.search(r"\"(GET|HEAD|PUT|POST|DELETE) (\S+) HTTP", line)  # moto (werkzeug)
    if m:
        method, target = m.groups()
        listing = method == "GET" and "list-type=2" in target
        ops["ListObjectsV2" if listing else {"GET": "GetObject", "HEAD": "HeadObject"}.get(method, method)] += 1
print(json.dumps({"'"$name"'": dict(sorted(ops.items()))}))'
}
rm -rf "$work/ours" "$work/awscli"
requests=()
requests+=("$(counted topsellers_full ours "$work/ours")")
requests+=("$(counted topsellers_noop ours "$work/ours")")
requests+=("$(counted aws_full theirs "$work/awscli")")
requests+=("$(counted aws_noop theirs "$work/awscli")")

median() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
m_ours_full=$(median "${ours_full[@]}") m_ours_noop=$(median "${ours_noop[@]}")
m_aws_full=$(median "${aws_full[@]}") m_aws_noop=$(median "${aws_noop[@]}")
printf '\nserver: %s, %s run(s), medians\n%-22s %10s %10s\n' "$server" "$runs" "" "full (s)" "no-op (s)"
printf '%-22s %10.2f %10.2f\n' "topsellers sync" "$m_ours_full" "$m_ours_noop"
printf '%-22s %10.2f %10.2f\n' "aws s3 sync" "$m_aws_full" "$m_aws_noop"
printf '%-22s %9.1fx %9.1fx\n' "speedup" "$(echo "$m_aws_full / $m_ours_full" | bc -l)" "$(echo "$m_aws_noop / $m_ours_noop" | bc -l)"
printf 'requests: %s\n' "${requests[@]}"
mkdir -p "$root/bench-results"
out="$root/bench-results/sync-$server-$(date -u +%Y%m%dT%H%M%SZ).json"
list() { local IFS=,; echo "[$*]"; }
cat >"$out" <<JSON
{"date": "$(date -u +%FT%TZ)", "cpu": "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)", "cores": $(nproc),
 "server": "$server", "runs": $runs, "load_at_end": "$(cut -d' ' -f1-3 /proc/loadavg)",
 "lake": {"files": $files, "mb": $mb, "purchases": "$purchases", "categories": $categories, "days": $days},
 "concurrency": $concurrency,
 "topsellers_sync_s": {"full": $m_ours_full, "noop": $m_ours_noop, "full_runs": $(list "${ours_full[@]}"), "noop_runs": $(list "${ours_noop[@]}")},
 "aws_s3_sync_s": {"full": $m_aws_full, "noop": $m_aws_noop, "full_runs": $(list "${aws_full[@]}"), "noop_runs": $(list "${aws_noop[@]}")},
 "requests": [$(IFS=,; echo "${requests[*]}")]}
JSON
echo "saved $out"
