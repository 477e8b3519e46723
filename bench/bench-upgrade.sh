#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# make bench-upgrade: logins during an upgrade job (issue 9, point 2).
#
# One nginx (2 workers) is a primary balancer and serves the admin API;
# configdb has 200 schemas of 5 contexts (1000 contexts, all on the old
# server).  wrk logs in round robin over the 1000 contexts while POST
# /upgrade moves every schema (empty update tasks: the job is all disable,
# changeserver, enable).  Twice:
#
#   epoch       no change log: the API INCRs the Redis epoch after every
#               routing step, every balancer drops every entry
#   changelog   sql/changelog.sql installed: the API does not INCR, the
#               balancers drop only the entries of the contexts that moved
#
# Prints per run: the job's time, logins, the share answered from shared
# memory (all logins, and the logins of contexts whose schema the job was
# not touching at that moment: done before, or still to come), and
# configdb SELECTs per second during the job.
#
#   bench/bench-upgrade.sh MODULE_SO      (BENCH_SCHEMAS=200 BENCH_CTX=5)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init bench-upgrade "$1"
nschemas=${BENCH_SCHEMAS:-200}
nctx=${BENCH_CTX:-5}
total=$((nschemas * nctx))

p_lb=$(free_port); p_api=$(free_port); p_be=$(free_port)

echo "bench-upgrade: MariaDB, Redis and nginx in $tmp"
bench_mariadb 127.0.0.1 \
    --innodb-buffer-pool-size=64M --innodb-flush-log-at-trx-commit=2 \
    --max-connections=500
bench_redis

# configdb and the schema databases, fresh for each run
setup() {
    sql -e 'DROP DATABASE IF EXISTS configdb; CREATE DATABASE configdb
            CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci'
    sql configdb <"$root/sql/configdb.sql"
    sql configdb <"$root/sql/oxmigrate.sql"
    {
        echo "INSERT INTO server (server_id, name, uuid) VALUES
              (2, 'oxserver-old', UNHEX(REPLACE(UUID(), '-', ''))),
              (8, 'oxserver-xyz', UNHEX(REPLACE(UUID(), '-', '')));"
        echo "INSERT INTO db_pool (db_pool_id, url, driver, login, password,
              hardlimit, max, initial, name) VALUES (3,
              'jdbc:mysql://127.0.0.1:$db_port/', 'x', 'root', '', 0, 100, 0,
              'oxdb');"
        echo "INSERT INTO context (cid, name, enabled)
              SELECT seq, CONCAT('c', seq), 1 FROM seq_1_to_$total;"
        echo "INSERT INTO login2context (cid, login_info)
              SELECT seq, CONCAT('ctx', seq, '.example.com')
              FROM seq_1_to_$total;"
        echo "INSERT INTO context_server2db_pool (server_id, cid,
              read_db_pool_id, write_db_pool_id, db_schema)
              SELECT 2, seq, 3, 3, CONCAT('bu_', (seq - 1) DIV $nctx + 1)
              FROM seq_1_to_$total;"
        echo "INSERT INTO contexts_per_dbschema (db_pool_id, schemaname,
              count, creating_date)
              SELECT 3, CONCAT('bu_', seq), $nctx, 0
              FROM seq_1_to_$nschemas;"
    } | sql configdb
    for i in $(seq 1 "$nschemas"); do
        echo "DROP DATABASE IF EXISTS bu_$i; CREATE DATABASE bu_$i;"
    done | sql
    redis-cli -p "$redis_port" FLUSHALL >/dev/null
}

mkdir -p "$tmp/tasks" "$tmp/logs"
htpasswd -B -b -c "$tmp/htpasswd" oxadminmaster secret 2>/dev/null

# workers read the htpasswd and write logs in $tmp (mode 0700)
run_as=""
[ "$(id -u)" -eq 0 ] && run_as="user root root;"

cat >"$tmp/nginx.conf" <<EOF
load_module $module;
$run_as
worker_processes 2;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log warn;
thread_pool oxmigrate threads=8;
events { worker_connections 4096; }
http {
    client_body_temp_path $tmp/body;
    oxmigrate_db host=127.0.0.1 port=$db_port user=root password=
                 database=configdb pool=8;
    oxmigrate_redis host=127.0.0.1 port=$redis_port;
    oxmigrate_cache zone=oxm:8m ttl=60s negative_ttl=60s;
    log_format oxm '\$msec \$oxmigrate_cache \$oxmigrate_schema';

    server {
        listen 127.0.0.1:$p_be;
        access_log off;
        location / { return 204; }
    }
    server {
        listen 127.0.0.1:$p_lb;
        access_log $tmp/logs/logins.log oxm;
        location /appsuite/api/login {
            oxmigrate on;
            oxmigrate_server oxserver-old;
            oxmigrate_redirect_url https://xyz.example.com/;
            oxmigrate_redirect_json off;
            proxy_pass http://127.0.0.1:$p_be;
        }
    }
    server {
        listen 127.0.0.1:$p_api;
        access_log off;
        location /oxmigrate/v1/ {
            auth_basic oxmigrate;
            auth_basic_user_file $tmp/htpasswd;
            oxmigrate_admin on;
            oxmigrate_thread_pool oxmigrate;
            oxmigrate_update_tasks $tmp/tasks;
        }
    }
}
EOF

cat >"$tmp/login.lua" <<EOF
local n = 0
request = function()
    n = n % $total + 1
    return wrk.format("POST", nil,
        { ["Content-Type"] = "application/x-www-form-urlencoded" },
        "name=u%40ctx" .. n .. ".example.com&password=x")
end
EOF

selects() {
    sql -N -e "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ print $2 }'
}

api() {
    curl -s -u oxadminmaster:secret "http://127.0.0.1:$p_api/oxmigrate/v1/$1" \
        "${@:2}"
}

declare -A OUT

one_run() {
    local name=$1 job t0 t1 s0 s1 state
    setup
    [ "$name" = changelog ] && sql configdb <"$root/sql/changelog.sql"
    /usr/sbin/nginx -p "$tmp" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log"
    sleep 1
    # warm the caches: every context once per worker, and more
    wrk -t1 -c16 -d3s -s "$tmp/login.lua" \
        "http://127.0.0.1:$p_lb/appsuite/api/login?action=login" >/dev/null
    : >"$tmp/logs/logins.log"
    kill -USR1 "$(cat "$tmp/nginx.pid")"; sleep 0.3

    wrk -t1 -c16 -d600s -s "$tmp/login.lua" \
        "http://127.0.0.1:$p_lb/appsuite/api/login?action=login" \
        >"$tmp/wrk.out" 2>&1 &
    local wrk_pid=$!
    sleep 1
    s0=$(selects); t0=$(date +%s.%N)
    job=$(api upgrade -X POST -H 'Content-Type: application/json' \
              -d '{"server":"oxserver-xyz","continue":true}' \
          | perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{job}')
    state=running
    while [ "$state" = running ]; do
        sleep 0.5
        state=$(api "jobs/$job" | perl -MJSON::PP -e \
                    'print decode_json(join "", <STDIN>)->{state}')
    done
    t1=$(date +%s.%N); s1=$(selects)
    kill "$wrk_pid" 2>/dev/null; wait "$wrk_pid" 2>/dev/null || true

    # the schemas' enable times, to tell which logins the job touched
    sql -N configdb -e "SELECT name, COALESCE(disabled_at, 0),
                        COALESCE(enabled_at, 0) FROM oxmigrate_job_schema
                        WHERE job_id = $job" >"$tmp/schemas.txt"
    read -r all shm quiet quiet_shm < <(perl -e '
        my ($t0, $t1, $file, $sched) = @ARGV;
        my %win;
        open my $s, "<", $sched or die;
        while (<$s>) { my ($n, $d, $e) = split; $win{$n} = [$d / 1000, $e / 1000] }
        my ($all, $shm, $q, $qs) = (0, 0, 0, 0);
        open my $f, "<", $file or die;
        while (<$f>) {
            my ($t, $c, $schema) = split;
            next if $t < $t0 || $t > $t1 || !$schema;
            $all++; $shm++ if $c eq "shm";
            my $w = $win{$schema} or next;
            # 1 s around its own disable..enable counts as touched
            next if $t > $w->[0] - 1 && $t < $w->[1] + 1;
            $q++; $qs++ if $c eq "shm";
        }
        print "$all $shm $q $qs\n";' "$t0" "$t1" "$tmp/logs/logins.log" \
        "$tmp/schemas.txt")
    OUT[$name]=$(awk -v n="$name" -v t0="$t0" -v t1="$t1" -v s0="$s0" \
        -v s1="$s1" -v a="$all" -v s="$shm" -v q="$quiet" -v qs="$quiet_shm" \
        'BEGIN { d = t1 - t0;
                 printf "%-10s %7.1f s %9d %7.1f %% %9d %7.1f %% %9.0f",
                        n, d, a, a ? 100 * s / a : 0, q, q ? 100 * qs / q : 0,
                        (s1 - s0) / d }')
    kill "$(cat "$tmp/nginx.pid")"; sleep 1
}

one_run epoch
one_run changelog

echo
echo "logins during POST /upgrade of $nschemas schemas x $nctx contexts (2 workers, wrk -c16, $(nproc) cores)"
printf '%-10s %9s %9s %9s %9s %9s %9s\n' run job logins "shm all" untouched "shm them" "SELECT/s"
echo "${OUT[epoch]}"
echo "${OUT[changelog]}"
echo "(untouched: logins of contexts whose schema was not between its disable and"
echo " enable, +-1 s; target with the change log: >= 95 % from shared memory)"
