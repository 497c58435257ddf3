#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379) are running for the tests.
# Starts whichever is down, waits (bounded) until both answer, and creates the test database
# when it is missing. Prints what it did. Used by `make services` and `make test`.
set -euo pipefail

PG_HOST=127.0.0.1
PG_PORT=5432
REDIS_HOST=127.0.0.1
REDIS_PORT=6379
TEST_DB="${SERVICES_TEST_DB:-test}"
WAIT_SECONDS="${SERVICES_WAIT_SECONDS:-30}"

say() { echo "services: $*"; }
fail() {
    echo "services: $*" >&2
    exit 1
}

need() {
    command -v "$1" >/dev/null 2>&1 || fail "'$1' not found; install $2 (Debian: apt-get install $2)"
}

pg_up() { pg_isready -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }
redis_up() { [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]; }

# wait_for NAME CHECK: poll CHECK every half second for at most WAIT_SECONDS.
wait_for() {
    local name=$1 check=$2 tries=$((WAIT_SECONDS * 2))
    while ((tries > 0)); do
        if "$check"; then
            say "$name is up"
            return 0
        fi
        sleep 0.5
        tries=$((tries - 1))
    done
    fail "$name did not answer within ${WAIT_SECONDS}s"
}

start_postgres() {
    need pg_ctlcluster postgresql
    local version
    version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
    [ -n "$version" ] || fail "no PostgreSQL cluster under /etc/postgresql"
    say "starting PostgreSQL $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start
}

start_redis() {
    need redis-server redis-server
    mkdir -p /var/log/redis /var/lib/redis
    say "starting Redis on $REDIS_HOST:$REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
        --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

ensure_test_database() {
    command -v psql >/dev/null 2>&1 || return 0
    local exists
    if ! exists=$(psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atc \
        "SELECT 1 FROM pg_database WHERE datname = '$TEST_DB'" 2>/dev/null); then
        say "could not query PostgreSQL as user postgres; not checking database '$TEST_DB'"
        return 0
    fi
    if [ "$exists" = "1" ]; then
        say "database '$TEST_DB' exists"
    else
        say "creating database '$TEST_DB'"
        createdb -h "$PG_HOST" -p "$PG_PORT" -U postgres "$TEST_DB"
    fi
}

need pg_isready postgresql-client
need redis-cli redis-tools

if pg_up; then
    say "PostgreSQL is already running on $PG_HOST:$PG_PORT"
else
    start_postgres
    wait_for PostgreSQL pg_up
fi
ensure_test_database

if redis_up; then
    say "Redis is already running on $REDIS_HOST:$REDIS_PORT"
else
    start_redis
    wait_for Redis redis_up
fi
