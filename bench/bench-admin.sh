#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# make bench-admin: a whole POST /upgrade job against the floor.
#
# configdb with 100 schemas of 1000 contexts (100k contexts) on one
# database host, the three example update tasks of sql/updatetasks (a
# column, an index, a utf8mb4 conversion) and a few hundred rows in each
# schema's tables.  Two identical sets of schemas are built:
#
#   floor   the same SQL statements the job runs for each schema (disable,
#           the three tasks, changeserver, enable), in one script straight
#           through the mariadb client: no locks, no bookkeeping
#   api     POST /oxmigrate/v1/upgrade on nginx with the module, Redis for
#           the cache invalidation, until the job is done
#
#   ox      the same job with the OX connector (oxmigrate_ox_tools) and the
#           stand-in tools of the tests (t/oxtools/oxtool: Perl, a mariadb
#           client per statement), 4 processes per schema
#
# Prints the times, the ratio api / floor (target: at most 1.5), the
# connector's cost per schema (ox - api), the per-schema downtime
# (disable to enable) of the job (median, p99), the nginx worker's CPU per
# schema and the longest event-loop stall (the slowest answer of a
# "location = /ping" polled every 20 ms on a keep-alive connection while
# the job runs).
#
#   bench/bench-admin.sh MODULE_SO     (BENCH_SCHEMAS=100 BENCH_CONTEXTS=1000
#                                       BENCH_ROWS=300 BENCH_PARALLEL=1
#                                       BENCH_HOSTS=1 BENCH_OX=1
#                                       BENCH_TASKS=sql/updatetasks)
#
# BENCH_SQLLOG=1 writes MariaDB's general log of each job (FILE and
# TABLE: mysql.general_log has microseconds; BENCH_KEEP=1 keeps it) and
# prints the job's round trips per schema; the log slows the run, so its
# times do not count.
#
# Then the scale case (BENCH_SCALE=0 skips it): 5000 schemas of 2
# contexts on 4 database hosts (4 db_pools on 127.0.0.1-4 of one MariaDB),
# parallel 4, no update task rows, no floor and no ox run, i.e.
#   BENCH_SCHEMAS=5000 BENCH_CONTEXTS=2 BENCH_ROWS=0 BENCH_PARALLEL=4
#   BENCH_HOSTS=4 BENCH_OX=0 BENCH_FLOOR=0 bench/bench-admin.sh MODULE_SO
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_init bench-admin "$1"
nschemas=${BENCH_SCHEMAS:-100}
nctx=${BENCH_CONTEXTS:-1000}
nrows=${BENCH_ROWS:-300}
parallel=${BENCH_PARALLEL:-1}
nhosts=${BENCH_HOSTS:-1}
run_ox=${BENCH_OX:-1}
run_floor=${BENCH_FLOOR:-1}
tasks_dir=${BENCH_TASKS:-$root/sql/updatetasks}

api_port=$(free_port)
ox_port=$(free_port)
binds=$(seq -s, -f '127.0.0.%g' 1 "$nhosts")

echo "bench-admin: MariaDB, Redis, nginx in $tmp"
bench_mariadb "$binds" \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 \
    --max-connections=500 --table-open-cache=20000 \
    --table-definition-cache=20000
bench_redis

# one configdb per set; schemas <set>_1 .. <set>_N, each with the OX
# tables the example tasks change and OX's updateTask (every OX schema has
# it; the API would create it on first use)
make_set() {
    local set=$1
    sql -e "CREATE DATABASE cdb_$set"
    sql "cdb_$set" <"$root/sql/configdb.sql"
    sql "cdb_$set" <"$root/sql/oxmigrate.sql"
    sql "cdb_$set" <<EOF
INSERT INTO server (server_id, name, uuid) VALUES
    (2, 'oxserver-old', UNHEX(REPLACE(UUID(), '-', ''))),
    (8, 'oxserver-xyz', UNHEX(REPLACE(UUID(), '-', '')));
INSERT INTO db_pool SELECT 2 + seq,
    CONCAT('jdbc:mysql://127.0.0.', seq, ':$db_port/'),
    'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, CONCAT('oxdb', seq)
    FROM seq_1_to_$nhosts;
INSERT INTO context (cid, name, enabled)
    SELECT seq, CONCAT('ctx', seq), 1 FROM seq_1_to_$((nschemas * nctx));
INSERT INTO context_server2db_pool
    (server_id, cid, read_db_pool_id, write_db_pool_id, db_schema)
    SELECT 2, seq, 3 + ((seq - 1) DIV $nctx) MOD $nhosts,
    3 + ((seq - 1) DIV $nctx) MOD $nhosts,
    CONCAT('${set}_', (seq - 1) DIV $nctx + 1)
    FROM seq_1_to_$((nschemas * nctx));
INSERT INTO contexts_per_dbschema
    SELECT 3 + (seq - 1) MOD $nhosts, CONCAT('${set}_', seq), $nctx, 0
    FROM seq_1_to_$nschemas;
EOF
    for i in $(seq 1 "$nschemas"); do
        cat <<EOF
CREATE DATABASE ${set}_$i CHARACTER SET utf8 COLLATE utf8_unicode_ci;
USE ${set}_$i;
CREATE TABLE calendar_attendee (cid INT UNSIGNED NOT NULL,
    account INT UNSIGNED NOT NULL, id INT UNSIGNED NOT NULL,
    event INT UNSIGNED NOT NULL, entity INT NOT NULL,
    uri VARCHAR(512) NOT NULL, PRIMARY KEY (cid, account, id))
    ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE prg_contacts (cid INT UNSIGNED NOT NULL,
    intfield01 INT UNSIGNED NOT NULL, fid INT UNSIGNED NOT NULL,
    field01 VARCHAR(320), field65 VARCHAR(256),
    PRIMARY KEY (cid, intfield01)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE resource (cid INT UNSIGNED NOT NULL, id INT UNSIGNED NOT NULL,
    identifier VARCHAR(128) NOT NULL, displayName VARCHAR(128) NOT NULL,
    PRIMARY KEY (cid, id)) ENGINE=InnoDB DEFAULT CHARSET=utf8;
CREATE TABLE del_resource LIKE resource;
CREATE TABLE updateTask (cid INT UNSIGNED NOT NULL,
    taskName VARCHAR(1024) NOT NULL, successful BOOLEAN NOT NULL,
    lastModified BIGINT NOT NULL, uuid BINARY(16) NOT NULL,
    PRIMARY KEY (cid, uuid), INDEX full (cid, taskName(191)))
    ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
EOF
        [ "$nrows" -gt 0 ] && cat <<EOF
INSERT INTO calendar_attendee SELECT 1, seq, seq, seq, seq,
    CONCAT('mailto:u', seq, '@example.com') FROM seq_1_to_$nrows;
INSERT INTO prg_contacts SELECT 1, seq, 6, CONCAT('User ', seq),
    CONCAT('u', seq, '@example.com') FROM seq_1_to_$nrows;
INSERT INTO resource SELECT 1, seq, CONCAT('room', seq),
    CONCAT('Room ', seq) FROM seq_1_to_$nrows;
EOF
        true
    done | sql
}

sets="api"
[ "$run_floor" = 1 ] && sets="floor $sets"
[ "$run_ox" = 1 ] && sets="$sets ox"
[ "$run_ox" = 1 ] && [ "${BENCH_CHECKS:-1}" = 1 ] && sets="$sets oxc"
echo "bench-admin: building $nschemas schemas of $nctx contexts for: $sets"
for set in $sets; do make_set "$set"; done

# ---------------------------------------------------------------- floor

floor_ms=0
if [ "$run_floor" = 1 ]; then
{
    for i in $(seq 1 "$nschemas"); do
        s=floor_$i
        cat <<EOF
UPDATE cdb_floor.context c JOIN cdb_floor.context_server2db_pool p
    ON p.cid = c.cid SET c.enabled = 0, c.reason_id = 1431655765
    WHERE p.db_schema = '$s' AND c.enabled = 1;
USE $s;
EOF
        for t in "$tasks_dir"/*.sql; do
            cat "$t"
            echo
        done
        cat <<EOF
UPDATE cdb_floor.context_server2db_pool SET server_id = 8
    WHERE db_schema = '$s';
UPDATE cdb_floor.context c JOIN cdb_floor.context_server2db_pool p
    ON p.cid = c.cid SET c.enabled = 1, c.reason_id = NULL
    WHERE p.db_schema = '$s' AND c.enabled = 0
    AND c.reason_id = 1431655765;
EOF
    done
} >"$tmp/floor.sql"

echo "bench-admin: floor (mariadb client, one script)"
t0=$(date +%s%N)
sql <"$tmp/floor.sql" >/dev/null
t1=$(date +%s%N)
floor_ms=$(( (t1 - t0) / 1000000 ))
fi

# ---------------------------------------------------------------- api

htpasswd -bBc -C 5 "$tmp/htpasswd" bench bench >/dev/null 2>&1
mkdir -p "$tmp/logs"

# nginx_conf NAME PORT DATABASE EXTRA: one nginx per run (oxmigrate_db is
# per http block); /ping is answered by the event loop itself
nginx_conf() {
    cat <<EOF
load_module $module;
$( [ "$(id -u)" -eq 0 ] && echo 'user root root;' )
worker_processes 1;
pid $tmp/$1.pid;
error_log $tmp/logs/$1-error.log ${BENCH_LOG:-notice};
thread_pool oxmigrate threads=8;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/logs/body-$1;
    oxmigrate_db host=127.0.0.1 port=$db_port user=root password=
                 database=$3;
    oxmigrate_redis host=127.0.0.1 port=$redis_port;
    server {
        listen 127.0.0.1:$2;
        location = /ping { return 200 "pong\n"; }
        location = /metrics { oxmigrate_metrics; }
        location /oxmigrate/v1/ {
            auth_basic "oxmigrate";
            auth_basic_user_file $tmp/htpasswd;
            oxmigrate_admin on;
            oxmigrate_thread_pool oxmigrate;
            oxmigrate_update_tasks $tasks_dir;
            $4
        }
    }
}
EOF
}

# CPU seconds (user + system) of a process, from /proc
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' \
        "/proc/$1/stat"
}

# run_job NAME PORT: POST /upgrade until done; writes $tmp/NAME.out:
# "wall_ms cpu_s stall_ms" and $tmp/NAME-job.json
run_job() {
    local name=$1 port=$2 api job state t0 t1 worker cpu0 cpu1 poller
    api="http://127.0.0.1:$port/oxmigrate/v1"
    worker=$(pgrep -P "$(cat "$tmp/$name.pid")" | head -1)
    perl -MIO::Socket::INET -MTime::HiRes=time,sleep -e '
        my ($port, $out) = @ARGV;
        my ($s, $n) = (undef, 0);
        my $max = 0; my $stop = 0;
        $SIG{TERM} = sub { $stop = 1 };
        $SIG{PIPE} = "IGNORE";
        while (!$stop) {
            # a new connection before nginx closes it (keepalive_requests),
            # outside the measured time
            if (!$s || ++$n % 500 == 0) {
                $s = IO::Socket::INET->new("127.0.0.1:$port") or die;
            }
            my $t = time;
            print $s "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n";
            my $buf = "";
            while ($buf !~ /pong\n/) {
                sysread($s, $buf, 4096, length $buf) or do { undef $s; last };
            }
            next unless $s;
            my $d = time - $t; $max = $d if $d > $max;
            open my $fh, ">", $out; printf $fh "%.1f\n", $max * 1000; close $fh;
            sleep 0.02;
        }' "$port" "$tmp/$name.stall" &
    poller=$!
    cpu0=$(cpu_of "$worker")
    # BENCH_SQLLOG=1: MariaDB's general log of this run
    [ "${BENCH_SQLLOG:-0}" = 1 ] && sql -e "SET GLOBAL log_output = 'FILE,TABLE', general_log_file =
        '$tmp/logs/sql-$name.log', GLOBAL general_log = 1"
    echo "bench-admin: POST /upgrade ($name, parallel $parallel)"
    t0=$(date +%s%N)
    job=$(curl -sf -u bench:bench -X POST "$api/upgrade" \
          -d "{\"server\":\"oxserver-xyz\",\"continue\":true,\"parallel\":$parallel${JOB_EXTRA:-}}" \
          | perl -MJSON::PP -e 'print decode_json(join "", <>)->{job}')
    state=running
    while [ "$state" = running ]; do
        sleep 0.05
        state=$(curl -sf -u bench:bench "$api/jobs/$job" \
                | perl -MJSON::PP -e 'print decode_json(join "", <>)->{state}')
    done
    t1=$(date +%s%N)
    if [ "${BENCH_SQLLOG:-0}" = 1 ]; then
        sql -e "SET GLOBAL general_log = 0"
        # round trips (Query, Init DB) of the job's connections: not those
        # of POST /upgrade (GET_LOCK) and GET /jobs (its SELECT)
        perl -e '
            my (%q, %api, $cur);
            while (<STDIN>) {
                next unless /^(?:\d{6}\s+[\d:]+\s+)?\s+(\d+)\s+(Query|Init DB|Connect|Quit)\t?(.*)/;
                my ($id, $cmd, $arg) = ($1, $2, $3);
                $q{$id}++ if $cmd ne "Connect" && $cmd ne "Quit";
                $api{$id} = 1 if $arg =~ /^SELECT (?:j\.id, j\.kind|GET_LOCK)/;
            }
            my $n = 0;
            $n += $q{$_} for grep { !$api{$_} } keys %q;
            printf "%s: %d round trips of the job to MariaDB, %.1f per schema\n",
                   $ARGV[0], $n, $n / $ARGV[1];' "$name" "$nschemas" \
            <"$tmp/logs/sql-$name.log" >"$tmp/$name.trips"
    fi
    cpu1=$(cpu_of "$worker")
    kill "$poller" 2>/dev/null || true
    wait "$poller" 2>/dev/null || true
    curl -sf -u bench:bench "$api/jobs/$job" >"$tmp/$name-job.json"
    # the admin API's own pieces of event-loop work (issue 18: <= 1 ms)
    curl -sf "http://127.0.0.1:$port/metrics" | awk -v name="$name" '
        /^oxmigrate_admin_event_loop_seconds_bucket\{le="0.001"\}/ { le1 = $2 }
        /^oxmigrate_admin_event_loop_seconds_count/ { n = $2 }
        /^oxmigrate_admin_event_loop_max_seconds/ { max = $2 }
        END { printf "%s: admin event-loop pieces %d, over 1 ms %d, longest %.3f ms\n",
                     name, n, n - le1, max * 1000 }' >"$tmp/$name.loop"
    echo "$(( (t1 - t0) / 1000000 )) $(echo "$cpu1 - $cpu0" | bc) $(cat "$tmp/$name.stall")" \
        >"$tmp/$name.out"
}

nginx_conf nginx "$api_port" cdb_api "" >"$tmp/nginx.conf"
/usr/sbin/nginx -p "$tmp/" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log"
sleep 0.5
run_job nginx "$api_port"

# ---------------------------------------------------------------- ox

# ox_tools DIR CONFIGDB: the stand-in OX tools of both clusters on
# CONFIGDB, the new cluster's update tasks those of tasks_dir
ox_tools() {
    local dir=$1 cdb=$2 c t v
    for c in old new; do
        mkdir -p "$dir/$c"
        for t in registerserver disableschema enableschema changeserver \
                 runupdate listUpdateTasks listUpdateTaskNamespaces \
                 checkdatabase; do
            ln -s "$root/t/oxtools/oxtool" "$dir/$c/$t"
        done
        # a 7.10.0 cluster and an upgraded 7.10.6 node (ox-facts 7)
        v=7.10.0; [ "$c" = new ] && v=7.10.6
        printf '{"cluster":"%s","version":"%s","socket":"%s","configdb":"%s","log":"%s","user":"bench","pass":"bench"}' \
            "$c" "$v" "$tmp/db.sock" "$cdb" "$dir/calls.log" >"$dir/$c/oxtool.json"
    done
    perl -MJSON::PP -e '
        my @t;
        for my $f (sort glob("$ARGV[0]/*.sql")) {
            open my $fh, "<", $f or die; local $/; my $sql = <$fh>;
            my ($n) = $sql =~ /^-- task: *(\S+)/m;
            push @t, { name => $n // $f, sql => $sql };
        }
        print encode_json(\@t)' "$tasks_dir" >"$dir/new/tasks.json"
    echo "bench:bench" >"$dir/cred"
    chmod 600 "$dir/cred"
}

# ox_nginx NAME PORT: the tools of $tmp/NAME on configdb cdb_NAME, and an
# nginx that runs them (nginx-NAME)
ox_nginx() {
    local name=$1 port=$2 dir=$tmp/$1
    ox_tools "$dir" "cdb_$name"
    local pw="password_wrapper=$root/contrib/oxmigrate-ox-password"
    nginx_conf "nginx-$name" "$port" "cdb_$name" "oxmigrate_ox_tools old $dir/old version=7.10.0 $pw;
            oxmigrate_ox_tools new $dir/new version=7.10.6 $pw;
            oxmigrate_ox_credentials $dir/cred;
            oxmigrate_health_url http://127.0.0.1:$port/ping;" >"$tmp/nginx-$name.conf"
    /usr/sbin/nginx -p "$tmp/" -c "$tmp/nginx-$name.conf" \
        -e "$tmp/logs/nginx-$name-error.log"
    sleep 0.5
}

if [ "$run_ox" = 1 ]; then
    ox_nginx ox "$ox_port"
    run_job nginx-ox "$ox_port"
else
    echo "0 0 0" >"$tmp/nginx-ox.out"
    echo '{}' >"$tmp/nginx-ox-job.json"
fi

# the same with issue 12's checks before each enable: listUpdateTasks on
# the new cluster (check_tasks), the replica lag, a health URL (/ping)
echo '{}' >"$tmp/nginx-oxc-job.json"
: >"$tmp/oxc-tools.txt"
if [ "$run_ox" = 1 ] && [ "${BENCH_CHECKS:-1}" = 1 ]; then
    oxc_port=$(free_port)
    ox_nginx oxc "$oxc_port"
    JOB_EXTRA=",\"check_tasks\":true,\"max_replica_lag\":60,\"health_url\":\"http://127.0.0.1:$oxc_port/ping\"" \
        run_job nginx-oxc "$oxc_port"
    # the tool's own time, as a process (start-up included): the first
    # listUpdateTasks call of the job, run again 5 times, wall clock in ms
    perl -MJSON::PP -MTime::HiRes=time -e '
        my ($log, $dir) = @ARGV;
        open my $fh, "<", $log or die;
        my $c;
        while (<$fh>) {
            $c = eval { decode_json($_) };
            last if $c && $c->{tool} eq "listUpdateTasks";
            undef $c;
        }
        exit unless $c;
        my @argv = @{ $c->{argv} };
        for (1 .. 5) {
            my $t = time;
            my $pid = fork // die;
            if (!$pid) {
                open STDOUT, ">", "/dev/null";
                exec "$dir/listUpdateTasks", @argv or die;
            }
            waitpid($pid, 0) == $pid && $? == 0 or die "listUpdateTasks: $?";
            printf "%d\n", (time - $t) * 1000;
        }' "$tmp/oxc/calls.log" "$tmp/oxc/new" >"$tmp/oxc-tools.txt" 2>/dev/null \
        || : >"$tmp/oxc-tools.txt"
fi

perl -MJSON::PP -e '
    my ($floor, $apif, $oxf, $file, $oxfile, $n, $c, $par, $hosts, $oxcfile,
        $toolf, $oxlog) = @ARGV;
    my ($api, $cpu, $stall) = split " ", do { open my $f, "<", $apif; <$f> };
    my ($ox, $oxcpu, $oxstall) = split " ", do { open my $f, "<", $oxf; <$f> };
    my $j = decode_json(do { open my $fh, "<", $file or die; local $/; <$fh> });
    my @d = sort { $a <=> $b } map { $_->{downtime_ms} // () }
            @{ $j->{schemas} };
    my $pct = sub { @d ? $d[int(($#d) * $_[0] + 0.5)] : 0 };
    my $jobms = $j->{finished} - $j->{started};
    printf "\n%-48s %10s\n", "$n schemas x $c contexts, $hosts host(s), parallel $par", "seconds";
    printf "%-48s %10.2f\n", "floor: the same SQL through mariadb", $floor / 1000
        if $floor;
    printf "%-48s %10.2f\n", "SQL steps: POST /upgrade until $j->{state}", $api / 1000;
    printf "%-48s %10.2f\n", "  the job itself (started to finished)", $jobms / 1000;
    printf "%-48s %10.2f  (target <= 1.50)\n", "ratio api / floor", $api / $floor
        if $floor;
    printf "per-schema downtime: median %d ms, p99 %d ms, max %d ms (%d schemas)\n",
           $pct->(0.5), $pct->(0.99), $d[-1] // 0, scalar @d;
    printf "nginx worker CPU: %.2f s, %.3f ms per schema; longest /ping: %.1f ms\n",
           $cpu, $cpu * 1000 / $n, $stall;
    if ($ox) {
        my $oj = decode_json(do { open my $fh, "<", $oxfile or die; local $/; <$fh> });
        printf "%-48s %10.2f  (%s)\n", "OX tools (stand-ins): POST /upgrade until done",
               $ox / 1000, $oj->{state};
        printf "connector cost: %.1f ms per schema more than the SQL steps"
               . " (4 tool processes)\n", ($ox - $api) / $n;
        printf "nginx worker CPU with the tools: %.3f ms per schema; longest /ping: %.1f ms\n",
               $oxcpu * 1000 / $n, $oxstall;
        # oxmigrate'"'"'s own time per schema: its downtime (after the disable
        # to after the enable) less the tool calls it made for the schema
        # in that time (changeserver, runupdate, the verification, enable)
        my %tools;
        if (open my $fh, "<", $oxlog) {
            while (<$fh>) {
                my $c = eval { decode_json($_) } or next;
                next if $c->{tool} eq "disableschema";
                my ($s) = join(" ", @{ $c->{argv} }) =~ /-[mn] (\S+)/;
                # the whole process: from its fork, interpreter included
                $tools{$s} += $c->{end} - ($c->{spawned} // $c->{start})
                    if defined $s;
            }
        }
        my @own = sort { $a <=> $b } map { defined $_->{downtime_ms}
                   ? $_->{downtime_ms} - ($tools{ $_->{name} } // 0) : () }
                   @{ $oj->{schemas} };
        printf "oxmigrate per schema on top of the tools (verification included):"
               . " median %d ms, p99 %d ms  (target < 20 ms)\n",
               @own ? ($own[int($#own / 2)], $own[int($#own * 0.99 + 0.5)]) : (0, 0);
    }
    my $cj = decode_json(do { open my $fh, "<", $oxcfile or die; local $/; <$fh> });
    if ($cj->{schemas}) {
        my $med = sub { my @v = sort { $a <=> $b } @_; @v ? $v[int($#v / 2)] : 0 };
        my $oj = decode_json(do { open my $fh, "<", $oxfile or die; local $/; <$fh> });
        my @tool = do { open my $fh, "<", $toolf; map { chomp; $_ } <$fh> };
        my $with = $med->(map { $_->{downtime_ms} // () } @{ $cj->{schemas} });
        my $without = $med->(map { $_->{downtime_ms} // () } @{ $oj->{schemas} });
        my $t = $med->(@tool);
        printf "checks before enable (check_tasks, max_replica_lag, health_url), medians per schema:\n"
               . "  downtime %d ms with, %d ms without; listUpdateTasks as a process %d ms (%d runs)\n"
               . "  the checks on top of the tool: %d ms  (target < 20 ms; %s)\n",
               $with, $without, $t, scalar @tool, $with - $without - $t, $cj->{state};
    }
' "$floor_ms" "$tmp/nginx.out" "$tmp/nginx-ox.out" "$tmp/nginx-job.json" \
  "$tmp/nginx-ox-job.json" "$nschemas" "$nctx" "$parallel" "$nhosts" \
  "$tmp/nginx-oxc-job.json" "$tmp/oxc-tools.txt" "$tmp/ox/calls.log"

cat "$tmp"/*.loop 2>/dev/null
cat "$tmp"/*.trips 2>/dev/null

grep -E '\[(alert|emerg|crit)\]' "$tmp"/logs/*error.log && exit 1

# then the scale case (BENCH_SCALE=0 skips it): 5000 schemas of 2
# contexts on 4 database hosts, parallel 4, no task work
if [ "${BENCH_SCALE:-1}" = 1 ]; then
    bench_cleanup
    trap - EXIT
    mkdir -p "$tmp.notasks"
    echo
    echo "bench-admin: the scale case"
    BENCH_SCALE=0 BENCH_SCHEMAS=5000 BENCH_CONTEXTS=2 BENCH_ROWS=0 \
    BENCH_PARALLEL=4 BENCH_HOSTS=4 BENCH_OX=0 BENCH_FLOOR=0 \
    BENCH_TASKS="$tmp.notasks" "$0" "$module"
    rc=$?
    rmdir "$tmp.notasks"
    exit $rc
fi
exit 0
