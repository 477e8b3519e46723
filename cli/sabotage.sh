#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Sabotage checks of t/50-cli.t: each mutation of the sources in cli/ below
# must make the test fail (docs/cli.md, "Tests").  A mutation names a piece
# of code that stands exactly once in cli/*.c and cli/*.h.  The sources are
# restored afterwards, whatever happens.  Takes a few minutes (one run per
# mutation).
#
#   cli/sabotage.sh [MODULE_SO]      default build/ngx_http_oxmigrate_module.so
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
module=${1:-build/ngx_http_oxmigrate_module.so}
# the failing runs keep their temporary directories: keep them here
work=$(mktemp -d)
export TMPDIR=$work
orig=$work/orig
mkdir "$orig"
cp cli/*.c cli/*.h "$orig"/ 2>/dev/null
trap 'cp "$orig"/* cli/; rm -rf "$work"' EXIT
survived=0

mut() {
    local name=$1 out failed res
    shift
    cp "$orig"/* cli/
    python3 - "$@" cli/*.c cli/*.h <<'PY' || { echo "$name: PATTERN MISSING OR NOT UNIQUE"; survived=1; return; }
import os, sys
old, new = sys.argv[1:3]
files = [p for p in sys.argv[3:] if os.path.exists(p)]
hits = [p for p in files if old in open(p).read()]
if len(hits) != 1 or open(hits[0]).read().count(old) != 1:
    sys.exit(1)
s = open(hits[0]).read()
open(hits[0], 'w').write(s.replace(old, new, 1))
PY
    out=$(t/run.sh "$module" t/50-cli.t 2>&1 | tr -d '\0')
    failed=$(echo "$out" | grep -c "^#   Failed test")
    res=$(echo "$out" | grep -m1 -o "Result: [A-Z]*")
    echo "$name: $res, $failed failed; first: $(echo "$out" | grep -m1 "^#   Failed test" | sed 's/^#   Failed test //')"
    [ "$res" = "Result: FAIL" ] || survived=1
}

mut "401->107" "        return EX_CREDENTIALS;" "        return EX_REMOTE;"
mut "usage error exits 0" "    va_end(ap);
    return code;" "    va_end(ap);
    return 0;"
mut "409->107" "    case 409:
        return EX_STORAGE;" "    case 409:
        return EX_REMOTE;"
mut "unknown_*->107" 'strncmp(code, "unknown_", 8) == 0 ? EX_INVALID_DATA' 'strncmp(code, "unknown_", 8) == 0 ? EX_REMOTE'
mut "json not raw (trailing byte dropped)" "fwrite(r->body.data, 1, r->body.len, stdout);" "fwrite(r->body.data, 1, r->body.len - 1, stdout);"
mut "no JSON for unreachable" 'cli_error(EX_COMMUNICATION, "unreachable",
                      "cannot reach' 'msg("cannot reach'
mut "csv unquoted" "    fputc('\"', stdout);
    for (; *s; s++) {" "    for (; *s; s++) {"
mut "checkdatabase header" '"id name hostname scheme status"' '"id name host=hostname scheme status"'
mut "no Processed line" 'printf("Processed %lld of %lld schemas.\n",
                   jint(r.json, "processed", 0), jint(r.json, "total", 0));' ';'
mut "runupdate failed -> 0" 'return jlen(jget(json, "failed")) > 0 ? EX_FAILED : EX_OK;' 'return EX_OK;'
mut "netrc ignored" "curl_easy_setopt(g.curl, CURLOPT_NETRC_FILE, g.netrc);" ";"
mut "-P loses to netrc" "if (g.netrc && g.pass == NULL) {" "if (g.netrc) {"
mut "continue without asking" "    if (!tty) {" "    if (!tty && 0) {"
mut "lookup unsupported -> 107" 'return cli_error(EX_UNSUPPORTED, "unsupported",' 'return cli_error(EX_REMOTE, "unsupported",'
mut "-e ignored" 'body_bool(&b, "stop_on_error", o->val[O_ERROR] != NULL);' 'body_bool(&b, "stop_on_error", 0);'
mut "-k not sent" '    if (o->val[O_SKIP]) {
        body_list' '    if (0) {
        body_list'
mut "interrupted -> 111" '        rc = EX_INTERRUPTED;' '        rc = EX_FAILED;'
mut "ETA missing" 'eta = xasprintf(", ETA %s, current %s", d, cur);' 'eta = xasprintf(", current %s", cur);'
mut "lastModified raw" 'lastModified=last_modified:time' 'lastModified=last_modified'
mut "timeout ignored" "curl_easy_setopt(g.curl, CURLOPT_TIMEOUT, g.timeout);" ";"
mut "tty continue ignored" '        if (strcmp(line, "continue") == 0) {
            return 1;' '        if (strcmp(line, "continue") == 0) {
            return 0;'
mut "no retry" "#define OXM_RETRIES      60" "#define OXM_RETRIES      1"
mut "proxy for loopback" '    curl_easy_setopt(g.curl, CURLOPT_NOPROXY, getenv("no_proxy")' '    if (0) curl_easy_setopt(g.curl, CURLOPT_NOPROXY, getenv("no_proxy")'
mut "lookup unknown -> 0" 'return YAJL_IS_FALSE(jget(json, "found")) ? EX_NO_CONTEXT : EX_OK;' 'return EX_OK;'
mut "--primary not sent" 'query(&path, "&primary=", o->val[O_PRIMARY]);' 'query(&path, "&primary=", NULL);'
mut "paused -> 111" '        rc = EX_PAUSED;' '        rc = EX_FAILED;'
mut "cancelled -> 111" '        rc = EX_CANCELLED;' '        rc = EX_FAILED;'
mut "-P not overwritten" "            memset(optarg, 'x', strlen(optarg));" "            ;"

[ $survived = 0 ] && echo "every mutation was caught" || echo "SOME MUTATION SURVIVED"
exit $survived
