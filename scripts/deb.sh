#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Builds the Debian packages (debian/): libnginx-mod-http-oxmigrate and
# oxmigrate-tools, with `dpkg-buildpackage -us -uc -b` (offline; the build
# dependencies come from scripts/deps.sh), in a copy of the source tree, so
# nothing is written next to the repository.
#
#   scripts/deb.sh [OUT_DIR]        default build/deb; the .deb files land there
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

version=$(dpkg-parsechangelog -l "$root/debian/changelog" -S Version)
# no "." in these names: nginx's auto/make rewrites "<dir>.S..." of a
# module's source path as if it were an assembler file
work=$(mktemp -d /tmp/oxmdeb-XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/src
mkdir "$src"

# the sources without build trees and VCS data
tar -C "$root" --exclude=./.git --exclude=./build --exclude='./build-*' \
    --exclude=./demo-run --exclude=./debian/cli-build \
    --exclude='./debian/.debhelper' --exclude='./debian/tmp' \
    -cf - . | tar -C "$src" -xf -

(cd "$src" && dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1) || {
    tail -40 "$work/build.log" >&2
    echo "deb: dpkg-buildpackage failed (log above)" >&2
    exit 1
}

rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mv "$work"/*.deb "$work"/*.buildinfo "$work"/*.changes "$out"/
cp "$work/build.log" "$out/build.log"
ls -1 "$out"/*.deb
