#!/bin/sh
# Installs what oxmigrate needs to build, test and demo on Debian 12 (bookworm).
# Runs apt-get only for packages that are missing; uses sudo when not root.
set -eu

PKGS="build-essential nginx nginx-dev libmariadb-dev libhiredis-dev libyajl-dev
      libcurl4-openssl-dev dpkg-dev debhelper fakeroot
      mariadb-server mariadb-client redis-server curl wrk apache2-utils perl
      clang libclang-rt-14-dev gdb libdbi-perl libdbd-mysql-perl"

[ "${1:-}" = "--extra" ] && PKGS="$PKGS linux-perf"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done

[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"

echo "deps: installing$missing"
$SUDO apt-get update -qq
# The Debian packages try to start their system services; we run private
# instances on loopback instead, so keep the system ones from starting.
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
