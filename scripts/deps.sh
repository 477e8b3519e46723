#!/bin/sh
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Installs what oxmigrate needs to build, test and demo on Debian 12 (bookworm).
# Runs apt-get only for packages that are missing; uses sudo when not root.
set -eu

# docs/openapi.yaml's linter (t/93-openapi.t), pinned, installed with npm
# once into a cache outside the tree: `make clean` keeps it, reruns work
# offline.  `scripts/deps.sh --redocly-path` prints its directory.
REDOCLY_VERSION=2.77.0
REDOCLY_DIR="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/oxmigrate/redocly-cli-$REDOCLY_VERSION"
[ "${1:-}" = "--redocly-path" ] && { echo "$REDOCLY_DIR"; exit 0; }

PKGS="build-essential nginx nginx-dev libmariadb-dev libhiredis-dev libyajl-dev
      libcurl4-openssl-dev dpkg-dev debhelper fakeroot
      mariadb-server mariadb-client redis-server curl wrk apache2-utils perl
      clang libclang-rt-14-dev gdb prometheus lintian gettext-base
      libyaml-libyaml-perl libdbi-perl libdbd-mysql-perl"

[ "${1:-}" = "--extra" ] && PKGS="$PKGS linux-perf"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done

# npm (for the Redocly CLI below) may come with a nodejs of another origin
command -v npm >/dev/null 2>&1 || missing="$missing npm"

redocly() {
    [ -x "$REDOCLY_DIR/node_modules/.bin/redocly" ] && return 0
    echo "deps: installing @redocly/cli@$REDOCLY_VERSION into $REDOCLY_DIR"
    npm install --prefix "$REDOCLY_DIR" --no-audit --no-fund --silent \
        "@redocly/cli@$REDOCLY_VERSION" >/dev/null
}

[ -z "$missing" ] && { redocly; exit 0; }

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
redocly
