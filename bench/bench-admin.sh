#!/bin/bash
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
# Prints both times, the ratio (target: at most 1.5) and the per-schema
# downtime (disable to enable) of the job: median and p99.
#
#   bench/bench-admin.sh MODULE_SO     (BENCH_SCHEMAS=100 BENCH_CONTEXTS=1000
#                                       BENCH_ROWS=300 BENCH_PARALLEL=1)
set -euo pipefail
# mariadbd lives in /usr/sbin, not on a normal user's PATH
PATH="$PATH:/usr/sbin:/sbin"

root=$(cd "$(dirname "$0")/.." && pwd)
module=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
nschemas=${BENCH_SCHEMAS:-100}
nctx=${BENCH_CONTEXTS:-1000}
nrows=${BENCH_ROWS:-300}
parallel=${BENCH_PARALLEL:-1}

tmp=$(mktemp -d /tmp/oxm-bench-admin.XXXXXX)
user_opt=()
[ "$(id -u)" -eq 0 ] && user_opt=(--user=root)

free_port() {
    perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(LocalAddr =>
        "127.0.0.1", LocalPort => 0, Listen => 1)->sockport'
}

cleanup() {
    [ -f "$tmp/nginx.pid" ] && kill "$(cat "$tmp/nginx.pid")" 2>/dev/null
    [ -f "$tmp/redis.pid" ] && kill "$(cat "$tmp/redis.pid")" 2>/dev/null
    [ -f "$tmp/db.pid" ] && kill "$(cat "$tmp/db.pid")" 2>/dev/null
    sleep 1
    rm -rf "$tmp"
}
trap cleanup EXIT

db_port=$(free_port)
redis_port=$(free_port)
api_port=$(free_port)
sql() { mariadb --no-defaults -S "$tmp/db.sock" -uroot "$@"; }

echo "bench-admin: MariaDB, Redis, nginx in $tmp"
mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$tmp/data" \
    --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1
mariadbd --no-defaults "${user_opt[@]}" --datadir="$tmp/data" \
    --socket="$tmp/db.sock" --port="$db_port" --bind-address=127.0.0.1 \
    --skip-name-resolve --pid-file="$tmp/db.pid" --skip-log-bin \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 \
    --max-connections=500 >"$tmp/db.log" 2>&1 &
for _ in $(seq 1 100); do
    sql -e 'SELECT 1' >/dev/null 2>&1 && break
    sleep 0.1
done
sql -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
        GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"

redis-server --port "$redis_port" --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize yes --pidfile "$tmp/redis.pid" \
    --logfile "$tmp/redis.log"

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
INSERT INTO db_pool VALUES (3, 'jdbc:mysql://127.0.0.1:$db_port/',
    'com.mysql.jdbc.Driver', 'root', '', 0, 100, 0, 'oxdb');
INSERT INTO context (cid, name, enabled)
    SELECT seq, CONCAT('ctx', seq), 1 FROM seq_1_to_$((nschemas * nctx));
INSERT INTO context_server2db_pool
    (server_id, cid, read_db_pool_id, write_db_pool_id, db_schema)
    SELECT 2, seq, 3, 3, CONCAT('${set}_', (seq - 1) DIV $nctx + 1)
    FROM seq_1_to_$((nschemas * nctx));
INSERT INTO contexts_per_dbschema
    SELECT 3, CONCAT('${set}_', seq), $nctx, 0 FROM seq_1_to_$nschemas;
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
INSERT INTO calendar_attendee SELECT 1, seq, seq, seq, seq,
    CONCAT('mailto:u', seq, '@example.com') FROM seq_1_to_$nrows;
INSERT INTO prg_contacts SELECT 1, seq, 6, CONCAT('User ', seq),
    CONCAT('u', seq, '@example.com') FROM seq_1_to_$nrows;
INSERT INTO resource SELECT 1, seq, CONCAT('room', seq),
    CONCAT('Room ', seq) FROM seq_1_to_$nrows;
EOF
    done | sql
}

echo "bench-admin: building 2 x $nschemas schemas of $nctx contexts"
make_set floor
make_set api

# ---------------------------------------------------------------- floor

{
    for i in $(seq 1 "$nschemas"); do
        s=floor_$i
        cat <<EOF
UPDATE cdb_floor.context c JOIN cdb_floor.context_server2db_pool p
    ON p.cid = c.cid SET c.enabled = 0, c.reason_id = 1431655765
    WHERE p.db_schema = '$s' AND c.enabled = 1;
USE $s;
EOF
        for t in "$root"/sql/updatetasks/*.sql; do
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

# ---------------------------------------------------------------- api

htpasswd -bBc -C 5 "$tmp/htpasswd" bench bench >/dev/null 2>&1
mkdir -p "$tmp/logs"
cat >"$tmp/nginx.conf" <<EOF
load_module $module;
$( [ "$(id -u)" -eq 0 ] && echo 'user root root;' )
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/logs/error.log notice;
thread_pool oxmigrate threads=8;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $tmp/logs/body;
    oxmigrate_db host=127.0.0.1 port=$db_port user=root password=
                 database=cdb_api;
    oxmigrate_redis host=127.0.0.1 port=$redis_port;
    server {
        listen 127.0.0.1:$api_port;
        location /oxmigrate/v1/ {
            auth_basic "oxmigrate";
            auth_basic_user_file $tmp/htpasswd;
            oxmigrate_admin on;
            oxmigrate_thread_pool oxmigrate;
            oxmigrate_update_tasks $root/sql/updatetasks;
        }
    }
}
EOF
/usr/sbin/nginx -p "$tmp/" -c "$tmp/nginx.conf" -e "$tmp/logs/error.log"
api="http://127.0.0.1:$api_port/oxmigrate/v1"

echo "bench-admin: POST /upgrade (parallel $parallel)"
t0=$(date +%s%N)
job=$(curl -sf -u bench:bench -X POST "$api/upgrade" \
      -d "{\"server\":\"oxserver-xyz\",\"continue\":true,\"parallel\":$parallel}" \
      | perl -MJSON::PP -e 'print decode_json(join "", <>)->{job}')
state=running
while [ "$state" = running ]; do
    sleep 0.05
    state=$(curl -sf -u bench:bench "$api/jobs/$job" \
            | perl -MJSON::PP -e 'print decode_json(join "", <>)->{state}')
done
t1=$(date +%s%N)
api_ms=$(( (t1 - t0) / 1000000 ))

curl -sf -u bench:bench "$api/jobs/$job" >"$tmp/job.json"

perl -MJSON::PP -e '
    my ($floor, $api, $file, $n, $c) = @ARGV;
    open my $fh, "<", $file or die;
    my $j = decode_json(join "", <$fh>);
    my @d = sort { $a <=> $b } map { $_->{downtime_ms} // () }
            @{ $j->{schemas} };
    my $pct = sub { @d ? $d[int(($#d) * $_[0] + 0.5)] : 0 };
    my $jobms = $j->{finished} - $j->{started};
    printf "\n%-44s %10s\n", "$n schemas x $c contexts, 3 update tasks", "seconds";
    printf "%-44s %10.2f\n", "floor: the same SQL through mariadb", $floor / 1000;
    printf "%-44s %10.2f\n", "POST /upgrade until GET /jobs says $j->{state}", $api / 1000;
    printf "%-44s %10.2f\n", "  the job itself (started to finished)", $jobms / 1000;
    printf "%-44s %10.2f  (target <= 1.50)\n", "ratio api / floor", $api / $floor;
    printf "per-schema downtime: median %d ms, p99 %d ms, max %d ms (%d schemas)\n",
           $pct->(0.5), $pct->(0.99), $d[-1] // 0, scalar @d;
' "$floor_ms" "$api_ms" "$tmp/job.json" "$nschemas" "$nctx"

grep -E '\[(alert|emerg|crit)\]' "$tmp/logs/error.log" && exit 1
exit 0
