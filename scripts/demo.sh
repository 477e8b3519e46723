#!/bin/bash
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# shellcheck disable=SC2016  # $API, $AUTH, $j: printed or evaluated later
# The zero-downtime upgrade of OX schemas, on loopback, with curl: login
# routing in both balancers and the admin REST API that drives the upgrade.
#
#   scripts/demo.sh start     (make demo)       start everything, walk through
#   scripts/demo.sh walk                        walk through again (fresh data)
#   scripts/demo.sh stop      (make demo-stop)  stop everything, remove demo-run/
#
# Starts in ./demo-run/: a private MariaDB holding the configdb
# (sql/configdb.sql, sql/oxmigrate.sql, sql/demo.sql) and the two user
# schemas' own databases oxdatabase_5 and oxdatabase_6
# (scripts/demo/schema.sql), a Redis, two stand-in OX clusters (one nginx
# answering "old cluster" and "new cluster"), and the primary and the
# secondary balancer: Debian's nginx with the module, configured by the
# shipped conf.d/primary.conf and conf.d/secondary.conf, the primary also
# serving conf.d/admin.conf (the admin API on 127.0.0.1 behind auth_basic,
# an htpasswd made with `htpasswd -B`, user oxadminmaster, demo password
# "secret"), the site's addresses and paths replaced by loopback ones and
# demo-run/ ones.
#
# Then the seed's procedure ("Upgrading from 7.10.0 without downtimes") is
# walked with curl, as an operator would: registerserver, disableschema,
# changeserver, runupdate and enableschema of one schema through the admin
# API, users logging in through both balancers in between, and
# upgradeschemata (POST /upgrade) for the rest.  Every request and every
# answer is printed.  The admin API runs with the OX connector on
# (oxmigrate_ox_tools, docs/admin-api.md): each step calls the OX
# command-line tool of a node of the old or the new cluster, here the
# stand-ins of the tests (t/oxtools/oxtool in demo-run/ox/, reached through
# a fake "ssh" as a site would), and the walk prints every tool call
# (demo-run/ox/calls.log, password masked).  The API bumps the Redis epoch after each routing
# change itself (the freshness contract): the steps of the walk write
# neither the configdb nor Redis (only its reset loads fresh data before
# them).  Everything stays up afterwards to play with; the
# ports are in demo-run/env.
#
# Environment: OXM_MODULE (default: the module in $BUILD, else build/).
set -euo pipefail

# mariadbd lives in /usr/sbin, which is not on a normal user's PATH in Debian
PATH=$PATH:/usr/sbin:/sbin

root=$(cd "$(dirname "$0")/.." && pwd)
run=$root/demo-run
# `make demo BUILD=dir` builds into dir and passes BUILD on
build_dir=${BUILD:-build}
case $build_dir in /*) ;; *) build_dir=$root/$build_dir ;; esac
module=${OXM_MODULE:-$build_dir/ngx_http_oxmigrate_module.so}

# the admin API's demo credentials (conf.d/admin.conf: htpasswd -B)
ADMIN_USER=oxadminmaster
ADMIN_PASS=secret

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

# SQL on stdin into the configdb
sql() {
    mariadb --no-defaults -uroot --socket="$run/mysqld.sock" \
        --default-character-set=utf8mb4 configdb
}

rcli() {
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"
}


# ---------------------------------------------------------------- stop

# is process $1 one of this demo's?  A pid file left behind by a crash
# may name a process that has nothing to do with us by now.  nginx and
# mariadbd carry demo-run/ on their command line, Redis runs in it.
ours() {
    local cmd cwd
    cmd=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null || true)
    cwd=$(readlink "/proc/$1/cwd" 2>/dev/null || true)
    case "$cmd $cwd/" in *"$run/"*) return 0 ;; esac
    return 1
}

stop_pidfile() {
    local f=$1 sig=${2:-TERM} pid kids
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    ours "$pid" || return 0
    kids=$(pgrep -P "$pid" 2>/dev/null || true)
    kill "-$sig" "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    # an nginx master killed hard leaves its workers: end them too
    # shellcheck disable=SC2086
    kill -KILL "$pid" $kids 2>/dev/null || true
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

# Fresh data: the configdb with oxmigrate's tables and the demo site, and
# the user schemas' own databases, where the update tasks run (db_pool 3's
# JDBC URL points at this MariaDB).
load_configdb() {
    local s
    [ -f "$root/sql/oxmigrate.sql" ] || die "sql/oxmigrate.sql missing"
    mariadb --no-defaults -uroot --socket="$run/mysqld.sock" -e "
        DROP DATABASE IF EXISTS configdb;
        CREATE DATABASE configdb CHARACTER SET utf8mb4
            COLLATE utf8mb4_unicode_ci;"
    sql <"$root/sql/configdb.sql"
    sql <"$root/sql/oxmigrate.sql"
    { echo "SET @oxm_db_url = 'jdbc:mysql://127.0.0.1:$DB_PORT/';"
      cat "$root/sql/demo.sql"; } | sql
    for s in oxdatabase_5 oxdatabase_6; do
        mariadb --no-defaults -uroot --socket="$run/mysqld.sock" -e "
            DROP DATABASE IF EXISTS $s;
            CREATE DATABASE $s CHARACTER SET utf8 COLLATE utf8_unicode_ci;"
        mariadb --no-defaults -uroot --socket="$run/mysqld.sock" "$s" \
            <"$root/scripts/demo/schema.sql"
    done
}

start_redis() {
    mkdir -p "$run/redis"
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' \
        --appendonly no --dir "$run/redis" --daemonize yes \
        --pidfile "$run/redis/redis.pid" --logfile "$run/redis/redis.log"
    wait_port "$REDIS_PORT"
}

# main part of an nginx.conf; $1 = instance directory, $2 = 1 to load the
# module, $3 = more main-context lines
nginx_main() {
    local dir=$1 load=$2 more=${3:-}
    [ "$load" = 1 ] && echo "load_module $module;"
    [ "$(id -u)" -eq 0 ] && echo "user root root;"
    [ -n "$more" ] && printf '%s\n' "$more"
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

# conf.d/<file>.conf with the site's addresses and paths replaced by ours;
# $1 = balancer (primary, secondary), $2 = its port, $3 = file (default:
# the balancer's own)
site_conf() {
    local name=$1 port=$2 file=${3:-$1} out
    out=$(sed -e "s#host=10\.20\.0\.5 port=3306 user=oxmigrate_router \"password=db secret\"#host=127.0.0.1 port=$DB_PORT user=root password=#" \
              -e "s#host=10\.20\.0\.5 port=3306 user=oxmigrate_admin#host=127.0.0.1 port=$DB_PORT user=root password=#" \
              -e "s#\"password=admin db secret\" ##" \
              -e "s#host=10\.20\.0\.6 port=6379#host=127.0.0.1 port=$REDIS_PORT#" \
              -e "s#server 10\.20\.1\.11:8009;#server 127.0.0.1:$OLD_PORT;#" \
              -e "/server 10\.20\.1\.12:8009;/d" \
              -e "s#server 10\.20\.2\.21:8009;#server 127.0.0.1:$NEW_PORT;#" \
              -e "s#listen 80;#listen 127.0.0.1:$port;#" \
              -e "s#listen 127\.0\.0\.1:8080;#listen 127.0.0.1:$ADMIN_PORT;#" \
              -e "s#/var/log/nginx/#$run/$name/#" \
              -e "s#/etc/nginx/oxmigrate\.htpasswd#$run/$name/oxmigrate.htpasswd#" \
              -e "s#/etc/nginx/oxmigrate/updatetasks#$root/sql/updatetasks#" \
              -e "s%^\( *\)# *\(oxmigrate_thread_pool oxmigrate;\)%\1\2%" \
              -e "s#https://upgrade\.example\.com/#http://127.0.0.1:$SECONDARY_PORT/#" \
              -e "s#https://upgrade\.example\.com;#http://127.0.0.1:$SECONDARY_PORT;#" \
              -e "s#127\.0\.0\.1:8421#127.0.0.1:$MIS_PORT#g" \
              -e "s#127\.0\.0\.1:9145;#127.0.0.1:$PRIMARY_METRICS;#" \
              -e "s#127\.0\.0\.1:9146;#127.0.0.1:$SECONDARY_METRICS;#" \
              "$root/conf.d/$file.conf")
    if grep -v '^ *#' <<<"$out" \
            | grep -q '10\.20\.\|listen 80;\|:8080;\|:914[56];\|/var/log/nginx\|/etc/nginx'; then
        die "conf.d/$file.conf has site values this script does not know"
    fi
    printf '%s\n' "$out"
}

# The OX command-line tools of a node of each cluster: the stand-ins of
# the tests (t/oxtools/oxtool, named like each tool), acting on the demo's
# configdb; their update tasks are sql/updatetasks/ (OX's real ones are
# Java code in the upgraded node).  The balancer reaches them through
# demo-run/ox/ssh, which drops ssh's options and host and runs the rest
# (a real site: ssh -o BatchMode=yes oxadmin@ox-old-1 ...).
start_oxtools() {
    local c t ox=$run/ox
    mkdir -p "$ox/old" "$ox/new"
    for c in old new; do
        for t in registerserver listdatabaseschema disableschema enableschema \
                 changeserver runupdate forceupdatetask listUpdateTasks \
                 listUpdateTaskNamespaces checkdatabase unblockdatabase; do
            ln -sf "$root/t/oxtools/oxtool" "$ox/$c/$t"
        done
        # the old cluster runs 7.10.0, the upgraded node 7.10.6 (ox-facts 7)
        OX_VERSION=7.10.0; [ "$c" = new ] && OX_VERSION=7.10.6
        OX_CLUSTER=$c OX_VERSION=$OX_VERSION OX_SOCK="$run/mysqld.sock" \
        OX_LOG="$ox/calls.log" \
        OX_USER=$ADMIN_USER OX_PASS=$ADMIN_PASS perl -MJSON::PP -e '
            print JSON::PP->new->canonical->encode({
                cluster => $ENV{OX_CLUSTER}, version => $ENV{OX_VERSION},
                socket => $ENV{OX_SOCK},
                configdb => "configdb", log => $ENV{OX_LOG},
                user => $ENV{OX_USER}, pass => $ENV{OX_PASS},
                refresh_ms => 20000, idle_ms => 60000,
                excluded_ns => ["groupware.utf8mb4"] })' >"$ox/$c/oxtool.json"
    done
    perl -MJSON::PP -e '
        my @t;
        for my $f (sort glob("$ARGV[0]/*.sql")) {
            open my $fh, "<", $f or die "$f: $!";
            local $/; my $sql = <$fh>;
            my ($name) = $sql =~ /^-- task: *(\S+)/m;
            my ($ns) = $sql =~ /^-- namespace: *(\S+)/m;
            push @t, { name => $name, sql => $sql, ($ns ? (namespace => $ns) : ()) };
        }
        print JSON::PP->new->canonical->encode(\@t)' \
        "$root/sql/updatetasks" >"$ox/new/tasks.json"
    printf '%s:%s\n' "$ADMIN_USER" "$ADMIN_PASS" >"$ox/credentials"
    chmod 600 "$ox/credentials"
    printf '%s\n' '#!/bin/sh' \
        '# demo stand-in for "ssh -o OPT ... user@host COMMAND ARGS"' \
        'while [ $# -gt 0 ]; do' \
        '    case $1 in -o|-i|-p|-l) shift 2 ;; -*) shift ;; *) shift; break ;; esac' \
        'done' \
        'exec "$@"' >"$ox/ssh"
    chmod 755 "$ox/ssh"
    {
        echo "        oxmigrate_ox_tools old $ox/old \"via=$ox/ssh -o BatchMode=yes oxadmin@ox-old-1\""
        echo "                           version=7.10.0 password_wrapper=$root/contrib/oxmigrate-ox-password;"
        echo "        oxmigrate_ox_tools new $ox/new \"via=$ox/ssh -o BatchMode=yes oxadmin@ox-xyz-1\""
        echo "                           version=7.10.6 password_wrapper=$root/contrib/oxmigrate-ox-password;"
        echo "        oxmigrate_ox_credentials $ox/credentials;"
        echo "        oxmigrate_ox_tools_timeout 10m quick=1m;"
    } >"$ox/directives"
}

# the OX tools called since the last time (demo-run/ox/calls.log)
oxcalls() {
    local log=$run/ox/calls.log seen=${OX_SEEN:-0}
    [ -f "$log" ] || return 0
    perl -MJSON::PP -ne '
        next if $. <= '"$seen"';
        my $c = decode_json($_); my @a = @{ $c->{argv} };
        for my $i (0 .. $#a - 1) { $a[$i + 1] = "********" if $a[$i] eq "-P" }
        printf "    OX %s cluster: %s %s -> exit %d (%d ms)\n", $c->{cluster},
               $c->{tool}, join(" ", @a), $c->{exit}, $c->{end} - $c->{start}' \
        "$log"
    OX_SEEN=$(wc -l <"$log")
}

# the primary also serves the admin API (conf.d/admin.conf), with its
# thread pool and an htpasswd of bcrypt hashes
start_balancer() {
    local name=$1 port=$2 dir=$run/$1 main=""
    mkdir -p "$dir"
    if [ "$name" = primary ]; then
        main="thread_pool oxmigrate threads=4;"
        htpasswd -B -b -c "$dir/oxmigrate.htpasswd" "$ADMIN_USER" "$ADMIN_PASS" \
            >/dev/null 2>&1 || die "htpasswd failed"
    fi
    {
        nginx_main "$dir" 1 "$main"
        echo "http {"
        nginx_http_common "$dir"
        echo "    # conf.d/$name.conf, site values replaced:"
        site_conf "$name" "$port" | sed 's/^/    /'
        if [ "$name" = primary ]; then
            hold_server
            echo "    # conf.d/admin.conf, site values replaced, the OX connector"
            echo "    # on (stand-in tools of t/oxtools, reached by a fake ssh):"
            site_conf "$name" "$port" admin | sed 's/^/    /' \
                | sed "/^ *oxmigrate_update_lock_idle /r $run/ox/directives"
        fi
        echo "}"
    } >"$dir/nginx.conf"
    if [ "$name" = primary ]; then
        grep -q '^ *oxmigrate_thread_pool oxmigrate;' "$dir/nginx.conf" \
            || die "conf.d/admin.conf: no oxmigrate_thread_pool line to enable"
        grep -q '^ *oxmigrate_ox_tools old' "$dir/nginx.conf" \
            || die "conf.d/admin.conf: no oxmigrate_update_lock_idle line"
    fi
    start_nginx "$dir"
    wait_port "$port"
    [ "$name" = primary ] && wait_port "$ADMIN_PORT"
    return 0
}

# The demo's own server on the primary: logins held while their schema is
# in maintenance (oxmigrate_hold), on a port of their own so that the walk
# shows today's CTX-0007 on the site's port as well
hold_server() {
    cat <<EOF
    # the demo's: the primary's login location with oxmigrate_hold
    server {
        listen 127.0.0.1:$HOLD_PORT;
        oxmigrate_server oxserver-old;
        oxmigrate_redirect_url http://127.0.0.1:$SECONDARY_PORT/appsuite/;
        location /appsuite/api/ {
            oxmigrate on;
            oxmigrate_hold 60s;
            add_header X-Held \$oxmigrate_held always;
            proxy_pass http://ox_old/ajax/;
        }
    }
EOF
}

start() {
    [ -f "$module" ] || die "no module at $module (run make first)"
    module=$(cd "$(dirname "$module")" && pwd)/$(basename "$module")
    for bin in mariadb-install-db mariadbd mariadb redis-server redis-cli \
               curl perl htpasswd; do
        command -v "$bin" >/dev/null || die "$bin missing (run scripts/deps.sh)"
    done
    [ -d "$run" ] && stop >/dev/null
    mkdir -p "$run"

    DB_PORT=$(free_port); REDIS_PORT=$(free_port)
    OLD_PORT=$(free_port); NEW_PORT=$(free_port)
    PRIMARY_PORT=$(free_port); SECONDARY_PORT=$(free_port)
    ADMIN_PORT=$(free_port); MIS_PORT=$(free_port)
    PRIMARY_METRICS=$(free_port); SECONDARY_METRICS=$(free_port)
    HOLD_PORT=$(free_port)
    cat >"$run/env" <<EOF
DB_PORT=$DB_PORT
REDIS_PORT=$REDIS_PORT
OLD_PORT=$OLD_PORT
NEW_PORT=$NEW_PORT
PRIMARY_PORT=$PRIMARY_PORT
SECONDARY_PORT=$SECONDARY_PORT
ADMIN_PORT=$ADMIN_PORT
MIS_PORT=$MIS_PORT
PRIMARY_METRICS=$PRIMARY_METRICS
SECONDARY_METRICS=$SECONDARY_METRICS
HOLD_PORT=$HOLD_PORT
API=http://127.0.0.1:$ADMIN_PORT/oxmigrate/v1
AUTH="-u $ADMIN_USER:$ADMIN_PASS"
EOF

    say "Starting on loopback, in demo-run/"
    start_mariadb;  note "MariaDB (configdb)       127.0.0.1:$DB_PORT"
    load_configdb;  note "configdb: sql/configdb.sql + sql/oxmigrate.sql + sql/demo.sql"
                    note "schema databases oxdatabase_5, oxdatabase_6 (scripts/demo/schema.sql)"
    start_redis;    note "Redis                    127.0.0.1:$REDIS_PORT"
    start_oxtools;  note "OX tools of a node per cluster (stand-ins): demo-run/ox/{old,new}"
    start_clusters; note "old OX cluster (stand-in) 127.0.0.1:$OLD_PORT"
                    note "new OX cluster (stand-in) 127.0.0.1:$NEW_PORT"
    start_balancer secondary "$SECONDARY_PORT"
                    note "secondary balancer       127.0.0.1:$SECONDARY_PORT  (conf.d/secondary.conf)"
    start_balancer primary "$PRIMARY_PORT"
                    note "primary balancer         127.0.0.1:$PRIMARY_PORT  (conf.d/primary.conf)"
                    note "admin API                127.0.0.1:$ADMIN_PORT  (conf.d/admin.conf, in the primary)"
    walk
}


# ---------------------------------------------------------------- curl

# strip what changes on every run from a printed HTTP answer
http_show() {
    tr -d '\r' \
        | grep -iv '^\(date\|server\|connection\|content-length\|keep-alive\):' \
        | sed 's/^/    /'
}

# dav BALANCER USER: a CalDAV PROPFIND with HTTP Basic, printed with the
# answer (the stand-in clusters say which one answered)
dav() {
    local port url
    port=$([ "$1" = primary ] && echo "$PRIMARY_PORT" || echo "$SECONDARY_PORT")
    url="http://127.0.0.1:$port/servlet/dav/caldav/"
    printf '\n    %s$ curl -si -X PROPFIND -u %s %s%s\n' "$bold" "'$2:secret'" \
        "$url" "$off"
    { curl -si --max-time 10 -X PROPFIND -u "$2:secret" "$url" \
        || echo "(curl failed)"; } | http_show
}

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
    { curl -si --max-time 10 "$url" --data-urlencode "$field=$user" \
           --data password=secret || echo "(curl failed)"; } | http_show
}

# api METHOD PATH [JSON]: one admin API call, printed as an operator types
# it, then the HTTP status and the JSON answer.  The answer stays in
# $ANSWER, its status in $STATUS.  NOAUTH=1: without credentials.
api() {
    local method=$1 path=$2 body=${3:-} shown="curl -s" url out
    local args=(-s --max-time 60 -w '\n%{http_code}')
    [ "${NOAUTH:-0}" = 1 ] || { shown+=' $AUTH'; args+=(-u "$ADMIN_USER:$ADMIN_PASS"); }
    if [ "$method" != GET ]; then
        shown+=" -X $method"; args+=(-X "$method")
    fi
    url='$API/'$path
    case $path in *'?'*|*'&'*) url="\"$url\"" ;; esac
    shown+=" $url"
    if [ -n "$body" ]; then
        shown+=" -d '$body'"
        args+=(-H 'Content-Type: application/json' -d "$body")
    fi
    printf '\n    %s$ %s%s\n' "$bold" "$shown" "$off"
    out=$(curl "${args[@]}" "$API/$path") || out=$'(curl failed)\n000'
    STATUS=${out##*$'\n'}
    ANSWER=${out%$'\n'*}
    printf '    %sHTTP %s%s\n' "$dim" "$STATUS" "$off"
    printf '%s' "$ANSWER" | perl "$root/scripts/demo/jsonfmt.pl" | sed 's/^/    /'
}

# a field of $ANSWER: $1 is a perl expression on the decoded JSON, $j
field() {
    printf '%s' "$ANSWER" | OXM_EXPR=$1 perl -MJSON::PP -e '
        my $j = eval { decode_json(join "", <STDIN>) } // {};
        my $v = eval $ENV{OXM_EXPR};
        print $v // ""'
}

# after a routing change: the API bumped the Redis epoch itself; every
# balancer worker polls it twice a second
follow() {
    note "(the API bumped the Redis epoch: both balancers follow within a second)"
    sleep 1.1
}


# ---------------------------------------------------------------- the walk

# fresh data for a walk: the configdb and the schema databases reloaded;
# after a previous walk the balancers still cache its decisions, so drop
# them as the freshness contract says for changes made behind the API's back
reset_data() {
    load_configdb
    rm -f "$run/ox/calls.log" "$run/ox/old/cache.json" "$run/ox/new/cache.json"
    OX_SEEN=0
    local f
    # each walk shows its own balancer logs
    for f in "$run"/primary/*.log "$run"/secondary/*.log; do
        [ -f "$f" ] && : >"$f"
    done
    rcli INCR oxmigrate:epoch >/dev/null
    sleep 1.1
}

# metrics_save BALANCER: its oxmigrate_metrics now, for metrics_changed
metrics_save() {
    local port
    port=$([ "$1" = primary ] && echo "$PRIMARY_METRICS" || echo "$SECONDARY_METRICS")
    curl -s --max-time 5 "http://127.0.0.1:$port/metrics" >"$run/metrics-$1" \
        || : >"$run/metrics-$1"
}

# metrics_changed BALANCER: the samples that moved since metrics_save
# (histogram buckets left out: their _count and _sum say it)
metrics_changed() {
    local port
    port=$([ "$1" = primary ] && echo "$PRIMARY_METRICS" || echo "$SECONDARY_METRICS")
    printf '\n    %s$ curl -s http://127.0.0.1:%s/metrics%s   (%s, what changed)\n' \
        "$bold" "$port" "$off" "$1"
    curl -s --max-time 5 "http://127.0.0.1:$port/metrics" \
        | perl -e 'my %old;
                   open my $f, "<", $ARGV[0] or die;
                   while (<$f>) { $old{$1} = $2 if /^([^#\s]+) (\S+)$/ }
                   while (<STDIN>) {
                       next unless /^([^#\s]+) (\S+)$/;
                       my ($k, $v) = ($1, $2);
                       next if $k =~ /_bucket\{/ || $k =~ /^oxmigrate_build_info/;
                       next if defined $old{$k} && $old{$k} eq $v;
                       printf "    %-72s %s -> %s\n", $k, $old{$k} // "-", $v;
                   }' "$run/metrics-$1"
}

walk() {
    # shellcheck disable=SC1091
    . "$run/env"
    reset_data
    metrics_save primary
    metrics_save secondary

    say "The site: configdb with two schemas, all contexts on oxserver-old"
    note "(fresh data: sql/demo.sql, schema databases from scripts/demo/schema.sql)"
    note "alice@ctx1.example.com lives in context 1, schema oxdatabase_5;"
    note "bob@ctx4.example.com in context 4, schema oxdatabase_6."
    note "The admin API (conf.d/admin.conf) listens on 127.0.0.1 only, behind"
    note "auth_basic (htpasswd -B; demo user oxadminmaster, password secret):"
    printf '\n    %sAPI=%s\n    AUTH="%s"%s\n' "$bold" "$API" "$AUTH" "$off"
    NOAUTH=1 api GET schemas
    note "-> without credentials: 401"

    say "listdatabaseschema: GET /schemas"
    api GET schemas
    note "-> both schemas on server 2 (oxserver-old), update tasks pending"

    say "Before the upgrade: alice logs in through the primary balancer"
    login primary login alice@ctx1.example.com
    note "-> passed to the old cluster"

    say "Step 3, registerserver -n oxserver-xyz: POST /servers"
    api POST servers '{"name":"oxserver-xyz"}'
    oxcalls
    local xyz
    xyz=$(field '$j->{id}')
    if [ "$STATUS" = 409 ]; then
        note "-> sql/demo.sql registered the upgraded node already (step 3 is done"
        note "   once per site): 409, with its id $xyz, which changeserver needs"
    else
        note "-> registered with id $xyz, which changeserver needs"
    fi
    [ -n "$xyz" ] || die "POST /servers gave no server id"

    say "Step 4, disableschema -m oxdatabase_5"
    api POST schemas/oxdatabase_5/disable
    oxcalls
    note "-> OX's own disableschema ran on a node of the OLD cluster: its nodes"
    note "   dropped the contexts from their caches and closed their sessions"
    follow
    say "alice during the upgrade of her schema, on both balancers"
    login primary login alice@ctx1.example.com
    login secondary login alice@ctx1.example.com
    note "-> CTX-0007 'down for maintenance' with Retry-After, on both"
    local held_url="http://127.0.0.1:$HOLD_PORT/appsuite/api/login?action=login"
    printf '\n    %s$ curl -si %s \\\n          --data-urlencode %s --data password=secret &%s\n' \
        "$bold" "'$held_url'" "'name=alice@ctx1.example.com'" "$off"
    curl -si --max-time 90 "$held_url" \
         --data-urlencode 'name=alice@ctx1.example.com' --data password=secret \
         >"$run/held.out" 2>&1 &
    local held_pid=$!
    note "-> the same login on a location with 'oxmigrate_hold 60s': no answer"
    note "   yet, it is held until her schema comes back (answered below)"

    say "Step 5, changeserver -s $xyz -m oxdatabase_5"
    api POST schemas/oxdatabase_5/changeserver "{\"server_id\":$xyz}"
    oxcalls
    follow
    login primary login alice@ctx1.example.com
    login secondary login alice@ctx1.example.com
    note "-> still maintenance: the schema stays disabled until its update ran"

    say "Step 6, runupdate -n oxdatabase_5 on a node of the NEW cluster"
    note "(OX runs its update tasks under its LOCKED row; the stand-in's tasks"
    note " are sql/updatetasks/)"
    api POST schemas/oxdatabase_5/update
    oxcalls
    api GET 'schemas/oxdatabase_5/updatetasks?state=all'
    oxcalls
    note "-> two tasks executed; the utf8mb4 one is excluded by its namespace"

    say "Step 7, enableschema -m oxdatabase_5"
    api POST schemas/oxdatabase_5/enable
    oxcalls
    follow
    say "alice's login held since step 4 is answered now"
    wait "$held_pid" || true
    http_show <"$run/held.out"
    note "-> the held login: LGI-0016 to the new cluster, decided again as soon"
    note "   as the balancer saw her context enabled (here the Redis epoch the"
    note "   admin API bumped; with sql/changelog.sql the change log);"
    note "   X-Held: how long it waited"

    say "alice after enableschema: the primary sends her over"
    login primary login alice@ctx1.example.com
    note "-> LGI-0016 with the secondary's URL: the App Suite UI goes there"
    local next
    next=$(curl -s "http://127.0.0.1:$PRIMARY_PORT/appsuite/api/login?action=login" \
               --data-urlencode 'name=alice@ctx1.example.com' \
           | perl -MJSON::PP -e 'print eval { decode_json(join "", <STDIN>)
                                              ->{error_params}[0] } // ""')
    if [ -n "$next" ]; then
        printf '\n    %s$ curl -si %s%s   (error_params[0], as the UI does)\n' \
            "$bold" "'$next'" "$off"
        { curl -si --max-time 10 "$next" || echo "(curl failed)"; } | http_show
        note "-> the UI now comes from the new cluster"
    fi
    login primary formlogin alice@ctx1.example.com
    note "-> a login form gets a plain 302 to the same URL"
    say "... and the secondary lets her in"
    login secondary login alice@ctx1.example.com
    note "-> passed to the new cluster"

    say "alice's calendar app (CalDAV: HTTP Basic on every request, never LGI-0016)"
    dav primary alice@ctx1.example.com
    note "-> the primary routed it to the NEW cluster itself (map \$oxmigrate_decision"
    note "   + proxy_pass): DAV and ActiveSync clients follow no redirect"
    dav primary bob@ctx4.example.com
    note "-> bob's calendar stays on the old cluster"
    dav secondary bob@ctx4.example.com
    note "-> the secondary answers 421 for a context that is not its own"

    say "A share link of alice's context (the context is inside the token)"
    local token
    token=$(printf '%08x%s%07x%s' $((1 ^ 0x1a2b3c4)) deadbeef $((0x1a2b3c4)) \
                   0000000000000000000000000)
    printf '\n    %s$ curl -si %s%s\n' "$bold" \
        "'http://127.0.0.1:$PRIMARY_PORT/appsuite/api/share/$token/doc.pdf'" "$off"
    { curl -si --max-time 10 \
        "http://127.0.0.1:$PRIMARY_PORT/appsuite/api/share/$token/doc.pdf" \
        || echo "(curl failed)"; } | http_show
    note "-> 302 to the secondary balancer + the share path, as OX's share servlet does"

    say "bob's schema (oxdatabase_6) has not moved yet"
    login primary login bob@ctx4.example.com
    note "-> the primary passes him to the old cluster"
    login secondary login bob@ctx4.example.com
    note "-> the secondary answers CTX-0012 [cid, server id], never a redirect"

    say "upgradeschemata -n oxserver-xyz: POST /upgrade does the rest"
    api POST upgrade '{"server":"oxserver-xyz"}'
    note "-> the tool's warning: the server is registered already"
    api POST upgrade '{"server":"oxserver-xyz","continue":true}'
    local job state="" last="" t0
    job=$(field '$j->{job}')
    [ -n "$job" ] || die "POST /upgrade started no job"
    note "-> job $job: for each schema not on oxserver-xyz yet: disable,"
    note "   changeserver, runupdate, enable (OX's order); polling GET /jobs/$job until it is done:"
    t0=$(date +%s%N)
    for _ in $(seq 1 300); do
        ANSWER=$(curl -s --max-time 10 -u "$ADMIN_USER:$ADMIN_PASS" \
                      "$API/jobs/$job" || true)
        state=$(field '"$j->{state}, $j->{processed}/$j->{total} processed"
                       . ($j->{current} ? ", current $j->{current}" : "")')
        if [ "$state" != "$last" ]; then
            note "   $(( ($(date +%s%N) - t0) / 1000000 )) ms: $state"
            last=$state
        fi
        case $state in running*|"") sleep 0.2 ;; *) break ;; esac
    done
    api GET "jobs/$job"
    note "-> downtime_ms: how long bob's schema was disabled"
    note "   The OX tools the job ran, in order:"
    oxcalls
    follow

    say "bob after the job"
    login primary login bob@ctx4.example.com
    note "-> the primary now sends him to the secondary too"
    login secondary login bob@ctx4.example.com
    note "-> passed to the new cluster"

    say "Why was bob sent there? GET /lookup (changes no cache entry)"
    api GET 'lookup?login=bob%40ctx4.example.com&primary=oxserver-old&secondary=oxserver-xyz'
    note "-> configdb's row, what each balancer decides, and each cache tier's entry"

    say "checkdatabase: GET /databases/check, and GET /schemas"
    api GET databases/check
    oxcalls
    api GET schemas
    note "-> every schema on oxserver-xyz, enabled, updated"

    say "Who did what: GET /audit?limit=5 (every mutating call is audited)"
    api GET 'audit?limit=5'

    say "What the balancers logged (\$oxmigrate_* variables, conf.d log format)"
    sed 's/^/    primary:   /' "$run/primary/oxmigrate-primary.log"
    sed 's/^/    secondary: /' "$run/secondary/oxmigrate-secondary.log"

    say "What the balancers counted during the walk (oxmigrate_metrics)"
    note "Each balancer's metrics listener (conf.d, loopback): the decisions,"
    note "the cache tiers that answered, the admin calls, the job's schemas and"
    note "their downtime, the update-lock scan (README, \"Monitoring\")."
    metrics_changed primary
    metrics_changed secondary

    say "Every step above went through the admin API: no SQL UPDATE, no redis-cli"
    note "INCR. The API ran OX's tools (which changed the configdb and OX's caches)"
    note "and bumped the Redis epoch itself after every disable, changeserver and"
    note "enable (also inside the job). Every tool call: demo-run/ox/calls.log"

    say "Still running; try it yourself:"
    note "API=$API  AUTH=\"$AUTH\""
    note "curl -s \$AUTH \$API/schemas"
    note "curl -s \$AUTH \"\$API/schemas/oxdatabase_6/updatetasks?state=all\""
    note "curl -si 'http://127.0.0.1:$PRIMARY_PORT/appsuite/api/login?action=login' --data-urlencode 'name=bob@ctx4.example.com'"
    note "mariadb --no-defaults -uroot --socket=$run/mysqld.sock configdb"
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
