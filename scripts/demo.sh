#!/bin/bash
# The zero-downtime upgrade of one schema, on loopback, with curl.
#
#   scripts/demo.sh start     (make demo)       start everything, walk through
#   scripts/demo.sh walk                        walk through again (fresh data)
#   scripts/demo.sh stop      (make demo-stop)  stop everything, remove demo-run/
#
# Starts in ./demo-run/: a private MariaDB holding the configdb (sql/configdb.sql
# + sql/demo.sql), a Redis, two stand-in OX clusters (one nginx answering
# "old cluster" and "new cluster"), and the primary and the secondary
# balancer: Debian's nginx with the module, configured by the shipped
# conf.d/primary.conf and conf.d/secondary.conf (the site's addresses
# replaced by loopback ones).  Then one user is walked through the upgrade of
# the schema of his context, printing every request and every answer.
# Everything stays up afterwards to play with; the ports are in
# demo-run/env.
#
# The configdb steps (disableschema, changeserver, enableschema) are shell
# functions doing what the OX tools do (ox-facts.md section 5), followed by
# the documented invalidation (INCR oxmigrate:epoch in Redis).
#
# Environment: OXM_MODULE (default build/ngx_http_oxmigrate_module.so).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
run=$root/demo-run
module=${OXM_MODULE:-$root/build/ngx_http_oxmigrate_module.so}

bold=""; dim=""; off=""
if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; off=$'\e[0m'; fi

say()  { printf '\n%s==> %s%s\n' "$bold" "$*" "$off"; }
note() { printf '%s    %s%s\n' "$dim" "$*" "$off"; }
die()  { echo "demo: $*" >&2; exit 1; }

free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Listen => 1, ReuseAddr => 1) or die $!;
        print $s->sockport, "\n";'
}

wait_port() {
    for _ in $(seq 1 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on port $1"
}

sql() {
    mariadb --no-defaults -uroot --socket="$run/mysqld.sock" \
        --default-character-set=utf8mb4 configdb "$@"
}

rcli() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}


# ---------------------------------------------------------------- stop

stop_pidfile() {
    local f=$1 sig=${2:-TERM} pid
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

stop() {
    [ -d "$run" ] || { echo "demo: not running"; return 0; }
    for n in primary secondary clusters; do
        stop_pidfile "$run/$n/nginx.pid" QUIT
    done
    stop_pidfile "$run/redis/redis.pid" TERM
    stop_pidfile "$run/mysqld.pid" TERM
    rm -rf "$run"
    echo "demo: stopped"
}


# ---------------------------------------------------------------- start

start_mariadb() {
    local user_opt=()
    [ "$(id -u)" -eq 0 ] && user_opt=(--user=root)
    mkdir -p "$run/tmp"
    mariadb-install-db --no-defaults "${user_opt[@]}" --datadir="$run/mysql" \
        --tmpdir="$run/tmp" \
        --auth-root-authentication-method=normal --skip-test-db \
        >"$run/install-db.log" 2>&1 \
        || { tail "$run/install-db.log"; die "mariadb-install-db failed"; }
    mariadbd --no-defaults "${user_opt[@]}" --datadir="$run/mysql" \
        --tmpdir="$run/tmp" \
        --socket="$run/mysqld.sock" --port="$DB_PORT" \
        --bind-address=127.0.0.1 --skip-name-resolve \
        --pid-file="$run/mysqld.pid" --log-error="$run/mysqld.err" \
        --innodb-buffer-pool-size=32M --skip-log-bin \
        --character-set-server=utf8mb4 \
        --collation-server=utf8mb4_unicode_ci >/dev/null 2>&1 &
    for _ in $(seq 1 300); do
        mariadb --no-defaults -uroot --socket="$run/mysqld.sock" \
            -e 'SELECT 1' >/dev/null 2>&1 && break
        sleep 0.1
    done
    mariadb --no-defaults -uroot --socket="$run/mysqld.sock" -e "
        CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
        GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" \
        || { tail "$run/mysqld.err"; die "MariaDB did not start"; }
}

load_configdb() {
    mariadb --no-defaults -uroot --socket="$run/mysqld.sock" -e "
        DROP DATABASE IF EXISTS configdb;
        CREATE DATABASE configdb CHARACTER SET utf8mb4
            COLLATE utf8mb4_unicode_ci;
        CREATE DATABASE IF NOT EXISTS oxdatabase_5;
        CREATE DATABASE IF NOT EXISTS oxdatabase_6;"
    sql <"$root/sql/configdb.sql"
    [ -f "$root/sql/oxmigrate.sql" ] && sql <"$root/sql/oxmigrate.sql"
    { echo "SET @oxm_db_url = 'jdbc:mysql://127.0.0.1:$DB_PORT/';"
      cat "$root/sql/demo.sql"; } | sql
}

start_redis() {
    mkdir -p "$run/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$run/redis" --daemonize yes \
        --pidfile "$run/redis/redis.pid" --logfile "$run/redis/redis.log"
    wait_port "$REDIS_PORT"
}

# main part of an nginx.conf; $1 = instance directory, $2 = 1 to load the
# module
nginx_main() {
    local dir=$1 load=$2
    [ "$load" = 1 ] && echo "load_module $module;"
    [ "$(id -u)" -eq 0 ] && echo "user root root;"
    cat <<EOF
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/error.log info;
events { worker_connections 1024; }
EOF
}

nginx_http_common() {
    local dir=$1
    cat <<EOF
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;
    default_type text/plain;
    access_log $dir/access.log;
EOF
}

start_nginx() {
    local dir=$1
    /usr/sbin/nginx -p "$dir/" -e "$dir/error.log" -c "$dir/nginx.conf" \
        || { tail "$dir/error.log"; die "nginx in $dir did not start"; }
}

start_clusters() {
    local dir=$run/clusters
    mkdir -p "$dir"
    {
        nginx_main "$dir" 0
        echo "http {"
        nginx_http_common "$dir"
        cat <<EOF
    # stand-ins for the OX middleware clusters
    server {
        listen 127.0.0.1:$OLD_PORT;
        location / {
            return 200 "old cluster (oxserver-old): \$request_method \$request_uri\n";
        }
    }
    server {
        listen 127.0.0.1:$NEW_PORT;
        location / {
            return 200 "new cluster (oxserver-xyz): \$request_method \$request_uri\n";
        }
    }
}
EOF
    } >"$dir/nginx.conf"
    start_nginx "$dir"
    wait_port "$OLD_PORT"
    wait_port "$NEW_PORT"
}

# conf.d/<name>.conf with the site's addresses replaced by ours
site_conf() {
    local name=$1 port=$2 out
    out=$(sed -e "s#host=10\.20\.0\.5 port=3306 user=oxmigrate \"password=db secret\"#host=127.0.0.1 port=$DB_PORT user=root password=#" \
              -e "s#database=configdb#database=configdb#" \
              -e "s#host=10\.20\.0\.6 port=6379#host=127.0.0.1 port=$REDIS_PORT#" \
              -e "s#server 10\.20\.1\.11:8009;#server 127.0.0.1:$OLD_PORT;#" \
              -e "/server 10\.20\.1\.12:8009;/d" \
              -e "s#server 10\.20\.2\.21:8009;#server 127.0.0.1:$NEW_PORT;#" \
              -e "s#listen 80;#listen 127.0.0.1:$port;#" \
              -e "s#/var/log/nginx/#$run/$name/#" \
              -e "s#https://upgrade\.example\.com/#http://127.0.0.1:$SECONDARY_PORT/#" \
              "$root/conf.d/$name.conf")
    if grep -q '10\.20\.\|listen 80;\|/var/log/nginx' <<<"$out"; then
        die "conf.d/$name.conf has site values this script does not know"
    fi
    printf '%s\n' "$out"
}

start_balancer() {
    local name=$1 port=$2 dir=$run/$1
    mkdir -p "$dir"
    {
        nginx_main "$dir" 1
        echo "http {"
        nginx_http_common "$dir"
        echo "    # conf.d/$name.conf, site values replaced:"
        site_conf "$name" "$port" | sed 's/^/    /'
        echo "}"
    } >"$dir/nginx.conf"
    start_nginx "$dir"
    wait_port "$port"
}

start() {
    [ -f "$module" ] || die "no module at $module (run make first)"
    module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
    for bin in mariadb-install-db mariadbd mariadb redis-server redis-cli \
               curl perl; do
        command -v "$bin" >/dev/null || die "$bin missing (run scripts/deps.sh)"
    done
    [ -d "$run" ] && stop >/dev/null
    mkdir -p "$run"

    DB_PORT=$(free_port); REDIS_PORT=$(free_port)
    OLD_PORT=$(free_port); NEW_PORT=$(free_port)
    PRIMARY_PORT=$(free_port); SECONDARY_PORT=$(free_port)
    cat >"$run/env" <<EOF
DB_PORT=$DB_PORT
REDIS_PORT=$REDIS_PORT
OLD_PORT=$OLD_PORT
NEW_PORT=$NEW_PORT
PRIMARY_PORT=$PRIMARY_PORT
SECONDARY_PORT=$SECONDARY_PORT
EOF

    say "Starting on loopback, in demo-run/"
    start_mariadb;  note "MariaDB (configdb)       127.0.0.1:$DB_PORT"
    load_configdb;  note "configdb: sql/configdb.sql + sql/demo.sql"
    start_redis;    note "Redis                    127.0.0.1:$REDIS_PORT"
    start_clusters; note "old OX cluster (stand-in) 127.0.0.1:$OLD_PORT"
                    note "new OX cluster (stand-in) 127.0.0.1:$NEW_PORT"
    start_balancer secondary "$SECONDARY_PORT"
                    note "secondary balancer       127.0.0.1:$SECONDARY_PORT  (conf.d/secondary.conf)"
    start_balancer primary "$PRIMARY_PORT"
                    note "primary balancer         127.0.0.1:$PRIMARY_PORT  (conf.d/primary.conf)"
    walk
}


# ---------------------------------------------------------------- the OX steps

# the documented invalidation: every balancer sharing this Redis drops its
# cached decisions within a second
invalidate() {
    note "redis-cli INCR oxmigrate:epoch -> $(rcli INCR oxmigrate:epoch)"
    sleep 1.1
}

# disableschema -m SCHEMA: enabled contexts get the schema-move reason
disable_schema() {
    local s=$1
    say "disableschema -m $s   (contexts of $s: enabled = 0, reason 1431655765)"
    sql -e "UPDATE context c JOIN context_server2db_pool p USING (cid)
            SET c.enabled = 0, c.reason_id = 1431655765
            WHERE p.db_schema = '$s' AND c.enabled = 1"
    invalidate
}

# changeserver -s ID -m SCHEMA: only when no context of it is enabled
change_server() {
    local s=$1 id=$2 enabled
    say "changeserver -s $id -m $s   (context_server2db_pool.server_id = $id)"
    enabled=$(sql -N -e "SELECT GROUP_CONCAT(c.cid) FROM context c
                         JOIN context_server2db_pool p USING (cid)
                         WHERE p.db_schema = '$s' AND c.enabled = 1")
    if [ "$enabled" != "NULL" ] && [ -n "$enabled" ]; then
        die "The schema '$s' is not disabled. The following contexts are still enabled: [$enabled]"
    fi
    sql -e "UPDATE context_server2db_pool SET server_id = $id
            WHERE db_schema = '$s'"
    invalidate
}

# enableschema -m SCHEMA: only contexts disabled for the schema move
enable_schema() {
    local s=$1
    say "enableschema -m $s   (contexts with reason 1431655765: enabled = 1)"
    sql -e "UPDATE context c JOIN context_server2db_pool p USING (cid)
            SET c.enabled = 1, c.reason_id = NULL
            WHERE p.db_schema = '$s' AND c.reason_id = 1431655765"
    invalidate
}

show_schemas() {
    sql -t -e "SELECT p.db_schema AS \`schema\`, s.name AS server,
                      GROUP_CONCAT(c.cid ORDER BY c.cid) AS contexts,
                      MIN(c.enabled) AS enabled
               FROM context_server2db_pool p JOIN context c USING (cid)
               LEFT JOIN server s USING (server_id)
               GROUP BY p.db_schema, s.name ORDER BY 1" | sed 's/^/    /'
}


# ---------------------------------------------------------------- curl

# login BALANCER ACTION USER: the App Suite UI's login (action=login, field
# name) or a login form (action=formlogin, field login), printed with the
# answer
login() {
    local which=$1 action=$2 user=$3 port field=name
    [ "$which" = primary ] && port=$PRIMARY_PORT || port=$SECONDARY_PORT
    [ "$action" = formlogin ] && field=login
    local url="http://127.0.0.1:$port/appsuite/api/login?action=$action"
    printf '\n    %s$ curl -si %s \\\n          --data-urlencode %s --data password=secret%s\n' \
        "$bold" "'$url'" "'$field=$user'" "$off"
    curl -si --max-time 10 "$url" --data-urlencode "$field=$user" \
         --data password=secret \
        | tr -d '\r' \
        | grep -iv '^\(date\|server\|connection\|content-length\):' \
        | sed 's/^/    /'
}

walk() {
    # shellcheck disable=SC1091
    . "$run/env"
    load_configdb
    rcli FLUSHALL >/dev/null
    invalidate >/dev/null

    say "The configdb: two schemas on one database, all contexts on oxserver-old"
    show_schemas
    note "alice@ctx1.example.com lives in context 1, schema oxdatabase_5;"
    note "bob@ctx4.example.com in context 4, schema oxdatabase_6."
    note "oxserver-xyz (id 8) is the upgraded node, registered (registerserver)."

    say "Before the upgrade: alice logs in through the primary balancer"
    login primary login alice@ctx1.example.com
    note "-> passed to the old cluster"

    disable_schema oxdatabase_5
    say "alice during the upgrade of her schema, on both balancers"
    login primary login alice@ctx1.example.com
    login secondary login alice@ctx1.example.com
    note "-> CTX-0007 'down for maintenance' with Retry-After, on both"

    change_server oxdatabase_5 8
    say "alice after changeserver, schema still disabled"
    login primary login alice@ctx1.example.com
    note "-> still maintenance (runupdate would run now)"

    enable_schema oxdatabase_5
    show_schemas
    say "alice after enableschema: the primary sends her over"
    login primary login alice@ctx1.example.com
    note "-> LGI-0016 with the secondary's URL: the App Suite UI goes there"
    local next
    next=$(curl -s "http://127.0.0.1:$PRIMARY_PORT/appsuite/api/login?action=login" \
               --data-urlencode 'name=alice@ctx1.example.com' \
           | perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{error_params}[0]')
    printf '\n    %s$ curl -si %s%s   (error_params[0], as the UI does)\n' \
        "$bold" "'$next'" "$off"
    curl -si --max-time 10 "$next" | tr -d '\r' \
        | grep -iv '^\(date\|server\|connection\|content-length\):' \
        | sed 's/^/    /'
    note "-> the UI now comes from the new cluster"
    login primary formlogin alice@ctx1.example.com
    note "-> a login form gets a plain 302 to the same URL"
    say "... and the secondary lets her in"
    login secondary login alice@ctx1.example.com
    note "-> passed to the new cluster"

    say "bob's schema (oxdatabase_6) has not moved yet"
    login primary login bob@ctx4.example.com
    note "-> the primary passes him to the old cluster"
    login secondary login bob@ctx4.example.com
    note "-> the secondary answers CTX-0012 [cid, server id], never a redirect"

    say "What the balancers logged (\$oxmigrate_* variables, conf.d log format)"
    sed 's/^/    primary:   /' "$run/primary/oxmigrate-primary.log"
    sed 's/^/    secondary: /' "$run/secondary/oxmigrate-secondary.log"

    say "Still running; try it yourself:"
    note "curl -si 'http://127.0.0.1:$PRIMARY_PORT/appsuite/api/login?action=login' --data-urlencode 'name=bob@ctx4.example.com'"
    note "mariadb --no-defaults -uroot --socket=$run/mysqld.sock configdb"
    note "redis-cli -p $REDIS_PORT INCR oxmigrate:epoch"
    note "scripts/demo.sh walk    (again, from fresh data)"
    note "make demo-stop"
}


case "${1:-}" in
    start) start ;;
    walk)  [ -f "$run/env" ] || die "not running (scripts/demo.sh start)"
           # shellcheck disable=SC1091
           . "$run/env"; walk ;;
    stop)  stop ;;
    *)     echo "usage: scripts/demo.sh start|walk|stop" >&2; exit 2 ;;
esac
