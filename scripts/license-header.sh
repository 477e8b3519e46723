#!/bin/sh
# The one copyright and license line every source file carries (LICENSE:
# BSD-2-Clause).  Idempotent: a file that has the line is left alone.
#
#   scripts/license-header.sh [PATH...]     add the line where it is missing
#   scripts/license-header.sh --check [PATH...]
#                                           list the files without it; exit 1
#
# PATHs are files or directories of the repository (default: all of it);
# the source files are the tracked ones (git ls-files) that match the
# patterns below: C, shell, Perl, SQL, make, nginx and Prometheus files.
# The line goes first, or after a "#!" line, in the file's comment syntax.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

TEXT="Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE."

check=0
[ "${1:-}" = "--check" ] && { check=1; shift; }

# the line for a file, by its name (or "#!" interpreter)
header_for() {
    case "$1" in
    *.c|*.h)        echo "/* $TEXT */" ;;
    *.sql)          echo "-- $TEXT" ;;
    *.sh|*.pl|*.pm|*.t|*.conf|*.template|*.yml|*.yaml|*Makefile|*/rules|\
    config|Dockerfile)
                    echo "# $TEXT" ;;
    *)
        case "$(head -c 64 "$1")" in
        '#!/bin/sh'*|'#!/bin/bash'*|'#!/usr/bin/perl'*|'#!/usr/bin/env'*)
                    echo "# $TEXT" ;;
        esac ;;
    esac
}

git ls-files -- "$@" | while IFS= read -r f; do
    [ -f "$f" ] || continue
    h=$(header_for "$f")
    [ -n "$h" ] || continue
    # there already: within the first three lines
    head -n 3 "$f" | grep -qxF -e "$h" && continue
    if [ "$check" = 1 ]; then
        echo "$f"
        continue
    fi
    tmp="$f.license-header.$$"
    if head -c 2 "$f" | grep -q '^#!'; then
        { head -n 1 "$f"; echo "$h"; tail -n +2 "$f"; } >"$tmp"
    else
        { echo "$h"; cat "$f"; } >"$tmp"
    fi
    # keep the mode (executables stay executable)
    chmod "$(stat -c %a "$f")" "$tmp"
    mv "$tmp" "$f"
    echo "license-header: $f"
done >"${TMPDIR:-/tmp}/license-header.$$"
out="${TMPDIR:-/tmp}/license-header.$$"
if [ "$check" = 1 ] && [ -s "$out" ]; then
    echo "missing the line \"$TEXT\" (scripts/license-header.sh adds it):"
    cat "$out"
    rm -f "$out"
    exit 1
fi
cat "$out"
rm -f "$out"
