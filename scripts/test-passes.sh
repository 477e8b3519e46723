#!/bin/bash
# make test's two passes side by side: the prove suite against the plain
# build and, at the same time, the ASan/UBSan build is made and the suite
# run against it (each pass has its own MariaDB, ports and directories:
# t/run.sh).  Lines are prefixed "plain|" and "asan |"; each pass's whole
# output is also kept in its build directory (test.log).  Exits non-zero
# when either pass failed.
#
#   scripts/test-passes.sh BUILD ASAN_BUILD
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
asan=${2:-build-asan}
cd "$root"
mkdir -p "$build" "$asan"
t0=$(date +%s)

( set -o pipefail; (
    SANITIZE=1 scripts/build.sh "$asan" >"$asan/build.log" 2>&1 || {
        echo "ASan build failed:"; tail -30 "$asan/build.log"; exit 2; }
    OXM_ASAN=1 t/run.sh "$asan/ngx_http_oxmigrate_module.so"
) 2>&1 | tee "$asan/test.log" | sed -u 's/^/asan | /' ) &
asan_pid=$!

t/run.sh "$build/ngx_http_oxmigrate_module.so" 2>&1 | tee "$build/test.log" \
    | sed -u 's/^/plain| /'
plain=${PIPESTATUS[0]}
t1=$(date +%s)
wait $asan_pid
asan_status=$?
t2=$(date +%s)
echo
echo "plain pass: $((t1 - t0)) s, status $plain"
grep '^Files=' "$build/test.log" | sed 's/^/  plain: /'
echo "asan pass:  $((t2 - t0)) s (with its build), status $asan_status"
grep '^Files=' "$asan/test.log" | sed 's/^/  asan:  /'
[ "$plain" = 0 ] && [ "$asan_status" = 0 ]
