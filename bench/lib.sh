#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# What the benchmarks share (sourced by bench.sh, bench-admin.sh and
# bench-upgrade.sh): a scratch directory removed on exit with every process
# that left a pid file in it, free ports, and MariaDB and Redis of their own.
#
#   . "$(dirname "$0")/lib.sh"; bench_init NAME MODULE_SO
#   bench_mariadb [BIND] [mariadbd options...]; bench_redis

# mariadbd lives in /usr/sbin, not on a normal user's PATH
PATH="$PATH:/usr/sbin:/sbin"

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr =>
        "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'
}

bench_cleanup() {
    local f
    for f in "$tmp"/*.pid; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null
    done
    sleep 1
    rm -rf "$tmp"
}

# sets root, module, tmp and user_opt; BENCH_KEEP=1 keeps everything
bench_init() {
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    module=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    tmp=$(mktemp -d "/tmp/oxm-$1.XXXXXX")
    user_opt=()
    [ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
    trap bench_cleanup EXIT
    [ "${BENCH_KEEP:-0}" = 1 ] && trap - EXIT
    db_port=$(free_port)
    redis_port=$(free_port)
}

sql() { mariadb --no-defaults -S "$tmp/db.sock" -uroot "$@"; }

# a fresh MariaDB on db_port and $tmp/db.sock, listening on BIND
# (default 127.0.0.1, "a,b" for several), with root allowed from each
bench_mariadb() {
    local bind=${1:-127.0.0.1} h
    shift || true
    mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$tmp/data" \
        --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
    mariadbd --no-defaults "${user_opt[@]}" --datadir="$tmp/data" \
        --socket="$tmp/db.sock" --port="$db_port" --bind-address="$bind" \
        --skip-name-resolve --pid-file="$tmp/db.pid" --skip-log-bin \
        "$@" >"$tmp/db.log" 2>&1 &
    for _ in $(seq 1 100); do
        sql -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.1
    done
    for h in ${bind//,/ }; do
        sql -e "CREATE USER IF NOT EXISTS 'root'@'$h' IDENTIFIED BY '';
                GRANT ALL ON *.* TO 'root'@'$h' WITH GRANT OPTION;"
    done
}

bench_redis() {
    redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
        --appendonly no --daemonize yes --pidfile "$tmp/redis.pid" \
        --logfile "$tmp/redis.log"
}
