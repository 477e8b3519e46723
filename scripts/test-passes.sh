#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# make test's passes side by side, after `make build unit`:
#   - the Debian packages are built (scripts/deb.sh, into BUILD/deb);
#   - the prove suite runs against the plain build;
#   - at the same time the ASan/UBSan build is made and the suite runs
#     against it;
# t/51-deb.t, which tests the packages, runs in each pass once they are
# built.  Each pass has its own MariaDB, ports and directories (t/run.sh).
# Lines are prefixed "plain|", "asan |" and "deb  |"; each pass's whole
# output is also kept in its build directory (test.log).  Exits non-zero
# when either pass (or the packages) failed.
#
#   scripts/test-passes.sh BUILD ASAN_BUILD
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
asan=${2:-build-asan}
cd "$root"
mkdir -p "$build" "$asan"
build=$(cd "$build" && pwd)
asan=$(cd "$asan" && pwd)
deb_test=t/51-deb.t
export OXM_SKIP=$deb_test
rm -f "$build/deb.status"
t0=$(date +%s)

# the packages; deb.status holds scripts/deb.sh's exit status when done
( scripts/deb.sh "$build/deb" >"$build/deb.log" 2>&1; echo $? >"$build/deb.status"
  tail -3 "$build/deb.log" | sed 's/^/deb  | /' ) &

# t/51-deb.t against this pass's module, once the packages are there
deb_pass() {
    while [ ! -s "$build/deb.status" ]; do sleep 1; done
    [ "$(cat "$build/deb.status")" = 0 ] || {
        echo "scripts/deb.sh failed: $build/deb.log"; return 2; }
    OXM_DEBS=$build/deb t/run.sh "$1" "$deb_test"
}

( set -o pipefail; (
    SANITIZE=1 scripts/build.sh "$asan" >"$asan/build.log" 2>&1 || {
        echo "ASan build failed:"; tail -30 "$asan/build.log"; exit 2; }
    status=0
    OXM_ASAN=1 t/run.sh "$asan/ngx_http_oxmigrate_module.so" || status=$?
    OXM_ASAN=1 deb_pass "$asan/ngx_http_oxmigrate_module.so" || status=$?
    exit $status
) 2>&1 | tee "$asan/test.log" | sed -u 's/^/asan | /' ) &
asan_pid=$!

( status=0
  t/run.sh "$build/ngx_http_oxmigrate_module.so" || status=$?
  deb_pass "$build/ngx_http_oxmigrate_module.so" || status=$?
  exit $status ) 2>&1 | tee "$build/test.log" | sed -u 's/^/plain| /'
plain=${PIPESTATUS[0]}
t1=$(date +%s)
wait $asan_pid
asan_status=$?
wait

# files and tests of a pass, summed over its prove runs
sum_tests() {
    awk -v p="$2" '/^Files=/ { split($1, f, "="); split($2, t, "=");
                               nf += f[2]; nt += t[2] + 0 }
                   END { printf "  %s in all: %d files, %d tests\n", p, nf, nt }' "$1"
}
t2=$(date +%s)
echo
echo "plain pass: $((t1 - t0)) s, status $plain"
grep '^Files=' "$build/test.log" | sed 's/^/  plain: /'
sum_tests "$build/test.log" plain
echo "asan pass:  $((t2 - t0)) s (with its build), status $asan_status"
grep '^Files=' "$asan/test.log" | sed 's/^/  asan:  /'
sum_tests "$asan/test.log" asan
[ "$plain" = 0 ] && [ "$asan_status" = 0 ]
