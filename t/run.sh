#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Runs the prove suite against one build of the module.
#
#   t/run.sh MODULE_SO [PROVE_ARGS_OR_TEST_FILES...]
#
# Starts ONE private MariaDB for the whole suite (a fresh datadir in a
# temporary directory, root without password, loopback only), exports
#   OXM_MODULE        absolute path of the module .so
#   OXM_MYSQL_PORT    its TCP port on 127.0.0.1
#   OXM_MYSQL_SOCKET  its unix socket
#   OXM_ROOT          the repository root
# and runs `prove -r t/` (or the given test files) from the repository root.
# Every test file makes its own databases, nginx, Redis and backends on free
# ports in its own temporary directory (t/lib/OxTest.pm).  MariaDB is
# stopped on exit, whatever happens; the exit status is prove's.
#
# Environment:
#   OXM_JOBS=N   run N test files in parallel (default 1; make test: 4;
#                t/admin-80 runs first, alone: it counts MariaDB's
#                connections; the files of OXM_SEQ one after the other)
#   OXM_SKIP="t/a.t t/b.t"  without file arguments: all files but these
#   OXM_ASAN=1   the module is an ASan/UBSan build (see docs/testing.md)
#   OXM_KEEP=1   keep the temporary directories (also kept on failure)
#   OXM_VERBOSE=1  prove -v
# Works as root (CI, Docker) and as a normal user.
set -u
# mariadbd and nginx live in /usr/sbin, not on a normal user's PATH
PATH="$PATH:/usr/sbin:/sbin"

root=$(cd "$(dirname "$0")/.." && pwd)

# test files that assert a latency bound (plain requests < 100 ms while
# logins hang, a change seen within 1 or 2 s, old workers gone within 3 s)
# or race a real timer: they run one after the other, never two of them at
# once (a prove of their own), beside the other files
OXM_SEQ=${OXM_SEQ:-"t/{20-redis,21-freshness,22-cache,23-changes,24-metrics,\
26-redis-restart,27-changes-order,30-mariadb,31-nonblocking,40-reload}.t"}
OXM_SLOW=${OXM_SLOW:-"t/admin-58-oxtools.t t/16-leak.t t/14-hostile.t \
t/50-cli.t t/admin-84-ox-versions.t t/admin-73-window.t t/25-replica.t \
t/admin-75-checks.t t/admin-70-steer.t t/admin-62-ox-via.t \
t/admin-81-db-restart.t t/admin-71-steer-crash.t t/15-config.t"}

if [ $# -lt 1 ] || [ ! -f "$1" ]; then
    echo "usage: t/run.sh MODULE_SO [TEST_FILES...]  (no such file: ${1:-})" >&2
    exit 2
fi
module=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
shift

for bin in mariadb-install-db mariadbd mariadb redis-server redis-cli prove; do
    command -v "$bin" >/dev/null 2>&1 || {
        echo "t/run.sh: $bin not found (run scripts/deps.sh)" >&2; exit 2; }
done
[ -x /usr/sbin/nginx ] || { echo "t/run.sh: /usr/sbin/nginx not found" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oxm-suite.XXXXXX")
# mariadbd refuses to run as root unless told so; a normal user runs it as
# himself (the datadir is his).
user_opt=()
[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)

free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Listen => 1, ReuseAddr => 1) or die $!;
        print $s->sockport, "\n";'
}

db_pid=""
cleanup() {
    if [ -n "$db_pid" ] && kill -0 "$db_pid" 2>/dev/null; then
        kill -TERM "$db_pid" 2>/dev/null
        for _ in $(seq 1 100); do
            kill -0 "$db_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$db_pid" 2>/dev/null
        wait "$db_pid" 2>/dev/null
    fi
    if [ "${OXM_KEEP:-0}" = 1 ]; then
        echo "t/run.sh: kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

port=$(free_port)
sock=$tmp/mysqld.sock

# own tmpdir: temporary tables of other MariaDB servers live in /tmp
mkdir "$tmp/tmp"
# One initialised data directory for the whole run: the suite's server
# runs on a copy, and every private MariaDB of a test file
# (OxTest::mariadb_private) starts on another copy ($OXM_MYSQL_TEMPLATE)
# instead of running mariadb-install-db (seconds of fsyncs) itself.
mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$tmp/template" \
    --tmpdir="$tmp/tmp" --innodb-log-file-size=8M \
    --auth-root-authentication-method=normal --skip-test-db \
    >"$tmp/install-db.log" 2>&1 \
    || { echo "t/run.sh: mariadb-install-db failed:" >&2;
         tail -20 "$tmp/install-db.log" >&2; exit 2; }
cp -a "$tmp/template" "$tmp/data" || exit 2

# Small buffers: the suite's databases are tiny, CI machines are not.
start_db() {
    rm -f "$tmp/mysqld.err"
    mariadbd --no-defaults "${user_opt[@]}" --datadir="$tmp/data" \
        --tmpdir="$tmp/tmp" \
        --socket="$sock" --port="$port" --bind-address=127.0.0.1 \
        --skip-name-resolve --pid-file="$tmp/mysqld.pid" \
        --log-error="$tmp/mysqld.err" \
        --innodb-buffer-pool-size=32M --innodb-log-file-size=16M \
        --innodb-log-buffer-size=1M --innodb-flush-log-at-trx-commit=2 \
        --max-connections=500 --skip-log-bin --performance-schema=OFF \
        --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        >/dev/null 2>&1 &
    db_pid=$!
    for _ in $(seq 1 300); do
        if mariadb --no-defaults -uroot --socket="$sock" -e 'SELECT 1' \
            >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$db_pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

ready=0
for try in 1 2 3; do
    if start_db; then
        ready=1; break
    fi
    # another process took the free port meanwhile: take another one
    if [ $try -lt 3 ] && ! kill -0 "$db_pid" 2>/dev/null \
        && grep -q "Address already in use\|Can't start server: Bind" \
                "$tmp/mysqld.err" 2>/dev/null; then
        port=$(free_port)
        continue
    fi
    break
done
if [ $ready != 1 ]; then
    echo "t/run.sh: MariaDB did not start:" >&2
    tail -20 "$tmp/mysqld.err" >&2
    exit 2
fi

# With --skip-name-resolve a TCP client from 127.0.0.1 does not match
# root@localhost: give root the same rights over TCP (no password).
mariadb --no-defaults -uroot --socket="$sock" -e "
    CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
    GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" \
    || exit 2

export OXM_MODULE=$module
export OXM_MYSQL_PORT=$port
export OXM_MYSQL_SOCKET=$sock
export OXM_ROOT=$root
export OXM_SUITE_TMP=$tmp
export OXM_MYSQL_TEMPLATE=$tmp/template

echo "t/run.sh: module $module, MariaDB $(mariadbd --version | awk '{print $3}')" \
     "on 127.0.0.1:$port${OXM_ASAN:+, ASan/UBSan}"

prove_args=(-r --timer -I "$root/t/lib" -j "${OXM_JOBS:-1}")
[ "${OXM_VERBOSE:-0}" = 1 ] && prove_args+=(-v)
cd "$root"
if [ $# -gt 0 ]; then
    prove "${prove_args[@]}" "$@"
    status=$?
else
    # the files that need the suite's MariaDB to themselves first, alone
    # (t/admin-80 counts the server's connections), then the rest: the
    # ones that assert a latency or a timer's bound (OXM_SEQ) one after
    # the other in a prove of their own, beside it every other file
    # (OXM_JOBS at once).  Two proves, not prove's "seq" rule: its
    # scheduler starts a seq group only after every parallel file, so
    # the group ran alone at the end (3.5 of 10 minutes).
    alone=(t/admin-80-job-conns.t)
    eval "seq=($OXM_SEQ)"
    # the longest files first, so that none of them starts last and ends
    # the pass alone (measured in a clean-clone run, docs/testing.md)
    par=()
    for f in $OXM_SLOW t/*.t; do
        [[ " ${par[*]} " == *" $f "* ]] && continue
        [[ " ${alone[*]} ${seq[*]} ${OXM_SKIP:-} " == *" $f "* ]] || par+=("$f")
    done
    prove "${prove_args[@]}" "${alone[@]}"
    status=$?
    seq_args=(-r --timer -I "$root/t/lib" -j 1)
    [ "${OXM_VERBOSE:-0}" = 1 ] && seq_args+=(-v)
    prove "${seq_args[@]}" "${seq[@]}" >"$tmp/seq.log" 2>&1 &
    seq_pid=$!
    prove "${prove_args[@]}" "${par[@]}" || status=$?
    wait "$seq_pid" || status=$?
    echo "t/run.sh: the sequential files (OXM_SEQ), beside the others:"
    cat "$tmp/seq.log"
fi
exit $status
