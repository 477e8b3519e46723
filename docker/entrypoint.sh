#!/bin/sh
# Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE.
# Entry point of the oxmigrate runtime image: renders the nginx
# configuration from templates and the environment, then runs CMD
# (nginx in the foreground).  Logs go to stdout/stderr.
#
#   OXM_ROLE          primary | secondary                  (required)
#   OXM_SERVERS       server names this balancer serves    (required)
#   OXM_BACKENDS      OX nodes, "host:port host:port"       (required)
#   OXM_REDIRECT_URL  primary only: the secondary balancer (required there)
#   OXM_DB_HOST, OXM_DB_USER                               (required)
#   OXM_DB_PASSWORD (none)
#   OXM_DB_PORT (3306), OXM_DB_NAME (configdb)
#   OXM_REDIS_HOST, OXM_REDIS_PORT (6379)                  (optional)
#   OXM_LISTEN (80)
#   OXM_ADMIN_LISTEN  e.g. 127.0.0.1:8080: serve the admin API there
#   OXM_ADMIN_HTPASSWD  "user:bcrypt-hash" line(s), or mount
#                     /etc/nginx/oxmigrate.htpasswd
#   OXM_UPDATE_TASKS (/usr/share/oxmigrate/sql/updatetasks)
#   OXM_EXCLUDED_NAMESPACES  e.g. groupware.utf8mb4
#   OXM_THREADS (16)  the admin API's thread pool
set -eu

die() { echo "oxmigrate-entrypoint: $*" >&2; exit 64; }

need() {
    eval "v=\${$1:-}"
    [ -n "$v" ] || die "$1 is not set"
}

if [ "${1:-}" = "nginx" ]; then
    need OXM_ROLE; need OXM_SERVERS; need OXM_BACKENDS
    need OXM_DB_HOST; need OXM_DB_USER

    export OXM_DB_PORT="${OXM_DB_PORT:-3306}"
    export OXM_DB_NAME="${OXM_DB_NAME:-configdb}"
    export OXM_LISTEN="${OXM_LISTEN:-80}"
    export OXM_UPDATE_TASKS="${OXM_UPDATE_TASKS:-/usr/share/oxmigrate/sql/updatetasks}"

    case "$OXM_ROLE" in
    primary)
        need OXM_REDIRECT_URL
        export OXM_REDIRECT_DIRECTIVE="oxmigrate_redirect_url $OXM_REDIRECT_URL;"
        ;;
    secondary)
        export OXM_REDIRECT_DIRECTIVE="# secondary: no oxmigrate_redirect_url"
        ;;
    *)
        die "OXM_ROLE must be primary or secondary, not '$OXM_ROLE'"
        ;;
    esac

    if [ -n "${OXM_REDIS_HOST:-}" ]; then
        export OXM_REDIS_DIRECTIVE="oxmigrate_redis host=$OXM_REDIS_HOST port=${OXM_REDIS_PORT:-6379} timeout=200ms ttl=300s;"
    else
        export OXM_REDIS_DIRECTIVE="# no Redis (OXM_REDIS_HOST): cache entries live their ttl"
    fi

    servers=""
    for b in $OXM_BACKENDS; do
        servers="$servers server $b;"
    done
    export OXM_BACKEND_SERVERS="$servers"

    # one quoted nginx parameter: "password=..." with \ and " escaped
    if [ -n "${OXM_DB_PASSWORD:-}" ]; then
        esc=$(printf '%s' "$OXM_DB_PASSWORD" | sed 's/[\\"]/\\&/g')
        export OXM_DB_PASSWORD_PARAM="\"password=$esc\""
    else
        export OXM_DB_PASSWORD_PARAM=""
    fi

    if [ -n "${OXM_EXCLUDED_NAMESPACES:-}" ]; then
        export OXM_EXCLUDED_NAMESPACES_DIRECTIVE="oxmigrate_excluded_namespaces $OXM_EXCLUDED_NAMESPACES;"
    else
        export OXM_EXCLUDED_NAMESPACES_DIRECTIVE=""
    fi

    vars='${OXM_ROLE} ${OXM_DB_HOST} ${OXM_DB_PORT} ${OXM_DB_USER} ${OXM_DB_PASSWORD_PARAM} ${OXM_DB_NAME} ${OXM_REDIS_DIRECTIVE} ${OXM_BACKEND_SERVERS} ${OXM_LISTEN} ${OXM_SERVERS} ${OXM_REDIRECT_DIRECTIVE} ${OXM_ADMIN_LISTEN} ${OXM_UPDATE_TASKS} ${OXM_EXCLUDED_NAMESPACES_DIRECTIVE}'

    rm -f /etc/nginx/sites-enabled/default
    envsubst "$vars" </etc/oxmigrate/templates/balancer.conf.template \
        >/etc/nginx/conf.d/oxmigrate-balancer.conf

    rm -f /etc/nginx/conf.d/oxmigrate-admin.conf /etc/nginx/modules-enabled/90-oxmigrate-threads.conf
    if [ -n "${OXM_ADMIN_LISTEN:-}" ]; then
        if [ -n "${OXM_ADMIN_HTPASSWD:-}" ]; then
            printf '%s\n' "$OXM_ADMIN_HTPASSWD" >/etc/nginx/oxmigrate.htpasswd
            chmod 640 /etc/nginx/oxmigrate.htpasswd
            chgrp www-data /etc/nginx/oxmigrate.htpasswd
        fi
        [ -s /etc/nginx/oxmigrate.htpasswd ] \
            || die "OXM_ADMIN_LISTEN needs OXM_ADMIN_HTPASSWD or /etc/nginx/oxmigrate.htpasswd"
        # a main-context directive: Debian's nginx.conf includes
        # modules-enabled/*.conf at the top
        echo "thread_pool oxmigrate threads=${OXM_THREADS:-16};" \
            >/etc/nginx/modules-enabled/90-oxmigrate-threads.conf
        envsubst "$vars" </etc/oxmigrate/templates/admin.conf.template \
            >/etc/nginx/conf.d/oxmigrate-admin.conf
    fi

    nginx -t -q
fi

exec "$@"
