#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Builds build/ngx_http_oxmigrate_module.so against Debian's nginx-dev tree,
# with exactly the configure flags Debian's /usr/sbin/nginx was built with,
# so the module loads into the distribution's nginx.
#
#   scripts/build.sh [BUILD_DIR]          normal build
#   SANITIZE=1 scripts/build.sh DIR       ASan + UBSan build
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build}
src=/usr/share/nginx/src
mkdir -p "$build"
build=$(cd "$build" && pwd)

# shellcheck disable=SC1091
. "$src/conf_flags"

cc_opt="-g -O2 -Wall -Wextra -Wno-unused-parameter -Werror -fPIC"
ld_opt=""
if [ "${SANITIZE:-0}" = 1 ]; then
    cc_opt="-g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined -fPIC -Wall -Werror -Wno-unused-parameter"
    ld_opt="-fsanitize=address,undefined"
fi

stamp="$build/.configured"
want="$cc_opt|$ld_opt|$(cat "$root/config"; ls -R "$root"/src "$root"/admin-api)"
# config writes debian/changelog's version into the build: a new one
# configures again
want="$want|$(head -1 "$root/debian/changelog")"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    rm -rf "$build/nginx"
    cp -a "$src" "$build/nginx"
    (cd "$build/nginx" && ./configure "${NGX_CONF_FLAGS[@]}" \
        --with-cc-opt="$cc_opt" --with-ld-opt="$ld_opt" \
        --add-dynamic-module="$root" >"$build/configure.log" 2>&1) \
        || { tail -30 "$build/configure.log"; exit 1; }
    printf '%s' "$want" >"$stamp"
fi

make -s -j "$(nproc)" -C "$build/nginx" -f objs/Makefile modules
# a new file renamed over the old one: an nginx that has the old one
# loaded keeps its inode (cp would rewrite the mapped file under it)
cp "$build/nginx/objs/ngx_http_oxmigrate_module.so" \
   "$build/.ngx_http_oxmigrate_module.so.new"
mv -f "$build/.ngx_http_oxmigrate_module.so.new" \
      "$build/ngx_http_oxmigrate_module.so"
echo "built $build/ngx_http_oxmigrate_module.so"
