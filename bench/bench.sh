#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# make bench: the login decision against plain nginx, one run, wrk on
# loopback, one nginx worker.  Each case is measured next to the limit in
# the same nginx instance, so every ratio compares like with like:
#
#   limit    the same POST answered by `return 302` (no module work)
#   shm      decision from the shared-memory cache (a hit every time)
#   redis    decision from Redis (no shm cache): one GET per login
#   db       decision from MariaDB (no caches): one SELECT per login
#   basic    a DAV request (HTTP Basic, oxmigrate_identify basic) of a
#            cached context, proxied to a backend, against the same
#            proxy_pass without the module (issue 8: >= 0.9x)
#
# Logins go round robin to 1000 contexts, all living on another server, so
# the module answers each itself with a 302 exactly like the limit does; no
# backend is involved.  Prints a table with requests/s, the ratio to the
# limit and the latency percentiles.
#
#   bench/bench.sh MODULE_SO      (BENCH_SECONDS=10 BENCH_CONNS=32)
#
# BENCH_PERF=1 also samples the nginx worker with `perf record -e cpu-clock`
# during each module case and writes the top symbols to
# build/bench-perf/<case>.txt (where the time goes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init bench "$1"
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNS:-32}

p_limit=$(free_port); p_shm=$(free_port); p_redis=$(free_port); p_db=$(free_port)
p_be=$(free_port); p_plain=$(free_port); p_basic=$(free_port)

echo "bench: starting MariaDB, Redis and nginx in $tmp"
bench_mariadb 127.0.0.1 --innodb-buffer-pool-size=64M

sql -e 'CREATE DATABASE configdb'
sql configdb <"$root/sql/configdb.sql"
sql configdb <<'EOF'
INSERT INTO server (server_id, name, uuid) VALUES
    (2, 'oxserver-old', UNHEX(REPLACE(UUID(), '-', ''))),
    (8, 'oxserver-xyz', UNHEX(REPLACE(UUID(), '-', '')));
INSERT INTO context (cid, name, enabled)
    SELECT seq, CONCAT('bench', seq), 1 FROM seq_1_to_1000;
INSERT INTO login2context (cid, login_info)
    SELECT seq, CONCAT('ctx', seq, '.example.com') FROM seq_1_to_1000;
INSERT INTO context_server2db_pool
    (server_id, cid, read_db_pool_id, write_db_pool_id, db_schema)
    SELECT 8, seq, 3, 3, CONCAT('oxdatabase_', seq DIV 100)
    FROM seq_1_to_1000;
EOF

bench_redis

mkdir -p "$tmp/logs"
location() {
    cat <<EOF
        location /appsuite/api/login {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://xyz.example.com/appsuite/;
            oxmigrate_redirect_json off;
        }
EOF
}

cat >"$tmp/nginx.conf" <<EOF
load_module $module;
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/body;
    oxmigrate_db host=127.0.0.1 port=$db_port user=root password=
                 database=configdb pool=8;
    oxmigrate_redis host=127.0.0.1 port=$redis_port;
    oxmigrate_cache zone=oxm:8m ttl=60s;

    server {
        listen 127.0.0.1:$p_limit;
        location /appsuite/api/login {
            return 302 https://xyz.example.com/appsuite/;
        }
    }
    server {
        listen 127.0.0.1:$p_shm;
$(location)
    }

    # the basic case: a DAV request proxied to a backend, with and without
    # the module; the backend is a server of the same nginx
    upstream be { server 127.0.0.1:$p_be; keepalive 16; }
    server {
        listen 127.0.0.1:$p_be;
        location / { return 200 "dav\n"; }
    }
    server {
        listen 127.0.0.1:$p_plain;
        location /servlet/dav/ {
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://be;
        }
    }
    server {
        listen 127.0.0.1:$p_basic;
        location /servlet/dav/ {
            oxmigrate on;
            oxmigrate_identify basic;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://xyz.example.com;
            add_header X-Decision \$oxmigrate_decision;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass http://be;
        }
    }
}
EOF

# Redis-only and MariaDB-only need the caches off: separate nginx
# instances would not share one run's conditions, so the same binary is
# started three times with three http blocks, one after the other, and the
# limit is measured again next to each.
run_wrk() {
    local port=$1
    # 1000 contexts round robin: concurrent logins of one context share
    # one lookup (by design), so a single hot context would hide the cost
    # of a Redis GET or a SELECT per login.
    cat >"$tmp/post.lua" <<'EOF'
local n = 0
request = function()
    n = n % 1000 + 1
    return wrk.format("POST", nil,
        { ["Content-Type"] = "application/x-www-form-urlencoded" },
        "name=alice%40ctx" .. n .. ".example.com&password=secret" ..
        "&client=open-xchange-appsuite")
end
EOF
    wrk -t1 -c"$conns" -d"${BENCH_SECONDS:-$secs}s" --latency -s "$tmp/post.lua" \
        "http://127.0.0.1:$port/appsuite/api/login?action=login" 2>&1
}

# DAV PROPFINDs with Basic credentials, 1000 contexts round robin (the
# base64 of each is made by the shell: wrk's Lua has no encoder)
run_wrk_basic() {
    local port=$1 i
    if [ ! -f "$tmp/basic.lua" ]; then
        {
            echo 'local b64 = {'
            for i in $(seq 1 1000); do
                printf '"Basic %s",\n' \
                    "$(printf 'alice@ctx%s.example.com:secret' "$i" | base64 -w0)"
            done
            cat <<'LUA'
}
local n = 0
request = function()
    n = n % 1000 + 1
    return wrk.format("PROPFIND", "/servlet/dav/caldav/",
        { ["Authorization"] = b64[n], ["Depth"] = "1" })
end
LUA
        } >"$tmp/basic.lua"
    fi
    wrk -t1 -c"$conns" -d"${BENCH_SECONDS:-$secs}s" --latency -s "$tmp/basic.lua" \
        "http://127.0.0.1:$port/servlet/dav/caldav/" 2>&1
}

rps()  { awk '/^Requests\/sec/ { print $2 }'; }
pct()  { awk -v p="$1" '$1 == p { print $2 }'; }

start_nginx() {
    /usr/sbin/nginx -p "$tmp" -c "$tmp/$1" -e "$tmp/logs/error.log"
    sleep 0.5
}
stop_nginx() {
    kill "$(cat "$tmp/nginx.pid")"
    sleep 1
}

declare -A RPS P50 P99 REQS

redis_gets() {
    redis-cli -p "$redis_port" info commandstats \
        | awk -F'[=,:]' '/^cmdstat_get:/ { print $3 }'
}
db_selects() {
    sql -N -e \
        "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }'
}

perf_dir=$root/build/bench-perf

measure() {
    local name=$1 port=$2 out perf_pid="" run=run_wrk
    case $name in plain|basic) run=run_wrk_basic ;; esac
    # warm up: fills the caches, opens the pools
    BENCH_SECONDS=1 $run "$port" >/dev/null
    if [ "${BENCH_PERF:-0}" = 1 ] && [ "${name#limit}" = "$name" ]; then
        mkdir -p "$perf_dir"
        perf record -q -e cpu-clock -g -o "$tmp/perf-$name.data" \
            -p "$(pgrep -P "$(cat "$tmp/nginx.pid")" | head -1)" \
            -- sleep $((secs - 1)) >/dev/null 2>&1 &
        perf_pid=$!
    fi
    out=$($run "$port")
    if [ -n "$perf_pid" ]; then
        wait "$perf_pid" || true
        perf report -q -i "$tmp/perf-$name.data" --stdio --no-children \
            --sort dso,symbol -g none 2>/dev/null | head -40 \
            >"$perf_dir/$name.txt" || true
    fi
    REQS[$name]=$(echo "$out" | awk '/requests in/ { print $1 }')
    RPS[$name]=$(echo "$out" | rps)
    P50[$name]=$(echo "$out" | pct 50%)
    P99[$name]=$(echo "$out" | pct 99%)
    if echo "$out" | grep -q 'Non-2xx or 3xx'; then
        echo "bench: $name answered errors:"; echo "$out"
    fi
}

conf_variant() {
    # $1 file, $2 "redis" | "db": the same config without the other layers
    sed -e "/oxmigrate_cache/d" \
        $( [ "$2" = db ] && echo "-e /oxmigrate_redis/d" ) \
        "$tmp/nginx.conf" >"$tmp/$1"
}

cp "$tmp/nginx.conf" "$tmp/shm.conf"
conf_variant redis.conf redis
conf_variant db.conf db
# the same as shm.conf with oxmigrate_metrics on a location: every decision
# and lookup also adds to the shared counters
p_metrics=$(free_port)
sed -e '$d' "$tmp/nginx.conf" >"$tmp/metrics.conf"
cat >>"$tmp/metrics.conf" <<EOF
    server {
        listen 127.0.0.1:$p_metrics;
        location = /metrics { oxmigrate_metrics; }
    }
}
EOF

start_nginx shm.conf
measure limit "$p_limit"
measure shm "$p_shm"
measure plain "$p_plain"
measure basic "$p_basic"
# proof of work: the module decided these (the contexts live elsewhere)
basic_decision=$(curl -s -o /dev/null -D - -X PROPFIND \
    -u 'alice@ctx7.example.com:secret' "http://127.0.0.1:$p_basic/servlet/dav/" \
    | awk -F': ' 'tolower($1) == "x-decision" { sub(/\r$/, "", $2); print $2 }')
stop_nginx

start_nginx metrics.conf
measure limit_m "$p_limit"
measure shm_m "$p_shm"
# a scrape: the mean of 200 (curl's time_total, loopback)
scrape_ms=$(for _ in $(seq 1 200); do
        curl -s -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$p_metrics/metrics"
    done | awk '{ s += $1 } END { printf "%.2f", s / NR * 1000 }')
decided=$(curl -s "http://127.0.0.1:$p_metrics/metrics" \
    | awk '/^oxmigrate_login_decisions_total\{decision="redirect"\}/ { print $2 }')
stop_nginx

start_nginx redis.conf
measure limit_r "$p_limit"
gets=$(redis_gets)
measure redis "$p_shm"
gets=$(( $(redis_gets) - gets ))
stop_nginx

start_nginx db.conf
measure limit_d "$p_limit"
selects=$(db_selects)
measure db "$p_shm"
selects=$(( $(db_selects) - selects ))
stop_nginx


# A/B in rounds: the small differences (metrics on/off, Basic vs plain
# proxy_pass) drown in this machine's noise when each side is measured
# once.  Each round measures both sides back to back (their order
# alternating, so a drift favours neither) and keeps B/A; the median of
# the rounds is the ratio, with its spread.
rounds=${BENCH_ROUNDS:-5}
ab_secs=${BENCH_AB_SECONDS:-3}
median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2fx (rounds: %.2f..%.2f)", v[int((NR + 1) / 2)], v[1], v[NR] }'; }
# prints "req/s cpu_us_per_request": wrk's rate, and the nginx worker's CPU
# (user + system, /proc) per request answered: the cost, less at the mercy
# of the scheduler than the rate when wrk and nginx share two cores
ab_rps() {   # $1 run function, $2 port
    local worker out t0 t1
    BENCH_SECONDS=1 "$1" "$2" >/dev/null
    worker=$(pgrep -P "$(cat "$tmp/nginx.pid")" | head -1)
    t0=$(awk '{ print $14 + $15 }' "/proc/$worker/stat")
    out=$(BENCH_SECONDS=$ab_secs "$1" "$2")
    t1=$(awk '{ print $14 + $15 }' "/proc/$worker/stat")
    awk -v rps="$(echo "$out" | rps)" \
        -v n="$(echo "$out" | awk '/requests in/ { print $1 }')" \
        -v ticks=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "%s %.3f\n", rps, ticks / hz * 1e6 / n }'
}
metrics_rounds=""
basic_rounds=""
metrics_cpu=""
basic_cpu=""
for r in $(seq 1 "$rounds"); do
    for side in $( [ $((r % 2)) = 1 ] && echo "off on" || echo "on off" ); do
        start_nginx "$( [ "$side" = on ] && echo metrics.conf || echo shm.conf )"
        eval "m_$side=\$(ab_rps run_wrk \"\$p_shm\")"
        if [ "$side" = off ]; then
            if [ $((r % 2)) = 1 ]; then
                b_plain=$(ab_rps run_wrk_basic "$p_plain"); b_basic=$(ab_rps run_wrk_basic "$p_basic")
            else
                b_basic=$(ab_rps run_wrk_basic "$p_basic"); b_plain=$(ab_rps run_wrk_basic "$p_plain")
            fi
        fi
        stop_nginx
    done
    # rates: B / A; CPU per request: A / B (so that above 1 is cheaper)
    metrics_rounds+="$(echo "$m_on $m_off" | awk '{ printf "%.4f", $1 / $3 }') "
    metrics_cpu+="$(echo "$m_on $m_off" | awk '{ printf "%.4f", $4 / $2 }') "
    basic_rounds+="$(echo "$b_basic $b_plain" | awk '{ printf "%.4f", $1 / $3 }') "
    basic_cpu+="$(echo "$b_basic $b_plain" | awk '{ printf "%.4f", $4 / $2 }') "
    echo "bench: A/B round $r: metrics on $m_on, off $m_off; basic $b_basic, plain $b_plain (req/s, worker CPU us per request)"
done
metrics_ab=$(tr ' ' '\n' <<<"$metrics_rounds" | grep . | median)
basic_ab=$(tr ' ' '\n' <<<"$basic_rounds" | grep . | median)
metrics_ab_cpu=$(tr ' ' '\n' <<<"$metrics_cpu" | grep . | median)
basic_ab_cpu=$(tr ' ' '\n' <<<"$basic_cpu" | grep . | median)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }

echo
echo "oxmigrate login decision vs. 'return 302' (wrk -t1 -c$conns -d${secs}s, 1 worker, $(nproc) cores)"
printf '%-28s %12s %8s %10s %10s\n' "case" "req/s" "ratio" "p50" "p99"
printf '%-28s %12s %8s %10s %10s\n' "limit: return 302" "${RPS[limit]}" "1.00x" "${P50[limit]}" "${P99[limit]}"
printf '%-28s %12s %8s %10s %10s\n' "shm hit" "${RPS[shm]}" "$(ratio "${RPS[shm]}" "${RPS[limit]}")" "${P50[shm]}" "${P99[shm]}"
printf '%-28s %12s %8s %10s %10s\n' "redis hit (shm off)" "${RPS[redis]}" "$(ratio "${RPS[redis]}" "${RPS[limit_r]}")" "${P50[redis]}" "${P99[redis]}"
printf '%-28s %12s %8s %10s %10s\n' "mariadb every time" "${RPS[db]}" "$(ratio "${RPS[db]}" "${RPS[limit_d]}")" "${P50[db]}" "${P99[db]}"
printf '%-28s %12s %8s %10s %10s\n' "shm hit, metrics on" "${RPS[shm_m]}" "$(ratio "${RPS[shm_m]}" "${RPS[limit_m]}")" "${P50[shm_m]}" "${P99[shm_m]}"
printf '%-28s %12s %8s %10s %10s\n' "plain proxy_pass (DAV)" "${RPS[plain]}" "1.00x" "${P50[plain]}" "${P99[plain]}"
printf '%-28s %12s %8s %10s %10s\n' "basic: shm hit + proxy_pass" "${RPS[basic]}" "$(ratio "${RPS[basic]}" "${RPS[plain]}")" "${P50[basic]}" "${P99[basic]}"
echo "(each ratio is against the limit measured in the same nginx run: ${RPS[limit]}, ${RPS[limit_r]}, ${RPS[limit_d]} req/s)"
echo "proof of work: $gets Redis GETs for ${REQS[redis]} + warm-up logins (redis case), $selects SELECTs for ${REQS[db]} + warm-up logins (db case)"
echo "metrics: shm hit with metrics on / off = $(ratio "$(ratio "${RPS[shm_m]}" "${RPS[limit_m]}" | tr -d x)" "$(ratio "${RPS[shm]}" "${RPS[limit]}" | tr -d x)") (each against its own limit); a scrape takes $scrape_ms ms (mean of 200); the counters saw $decided redirects"
echo "basic case: a PROPFIND of ctx7 was decided \"$basic_decision\" (moved, routed by the site's map)"
echo "A/B, median of $rounds rounds of ${ab_secs}s per side (the two sides back to back, order alternating):"
echo "  shm hit, metrics on / off:            $metrics_ab   (target >= 0.95x)"
echo "    the same as worker CPU per request, off / on:  $metrics_ab_cpu"
echo "  basic (module + proxy_pass) / plain:  $basic_ab   (target >= 0.90x)"
echo "    the same as worker CPU per request, plain / basic:  $basic_ab_cpu"
echo "targets: shm >= 0.85x, redis >= 0.45x, basic >= 0.90x of plain proxy_pass, metrics on >= 0.95x of off (OpenResty: 0.72x shared dict, 0.33x Redis GET)"
