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
#   OXM_METRICS_LISTEN (9145)  the Prometheus metrics; "off": none
#   OXM_DAV (on)      CalDAV/CardDAV, WebDAV, Drive, ActiveSync locations
#   OXM_SHARES (on)   share-link locations
#   OXM_NEW_BACKENDS  primary with OXM_DAV=on: the upgraded nodes,
#                     "host:port ...", that moved users' DAV requests go to
#   OXM_SHARE_REDIRECT_URL  primary: where moved share links go (default
#                     the origin of OXM_REDIRECT_URL)
#   OXM_MISDIRECTED_LISTEN (127.0.0.1:8421)  secondary: the local 421 server
#
#   oxmigrate-entrypoint render    renders the configuration and exits (no
#                     nginx -t; t/53-image-conf.t): into $OXM_NGINX_ETC
#                     (/etc/nginx) from $OXM_TEMPLATES (/etc/oxmigrate/templates)
set -eu

etc="${OXM_NGINX_ETC:-/etc/nginx}"
tpl="${OXM_TEMPLATES:-/etc/oxmigrate/templates}"

die() { echo "oxmigrate-entrypoint: $*" >&2; exit 64; }

need() {
    eval "v=\${$1:-}"
    [ -n "$v" ] || die "$1 is not set"
}

# "on" or "off", else stop
onoff() {
    eval "v=\${$1:-$2}"
    case "$v" in
    on|off) echo "$v" ;;
    *) die "$1 must be on or off, not '$v'" ;;
    esac
}

# "server a; server b;" of an upstream, from "a b"
servers() {
    out=""
    for b in $1; do
        out="$out server $b;"
    done
    echo "$out"
}

if [ "${1:-}" = "nginx" ] || [ "${1:-}" = "render" ]; then
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

    export OXM_BACKEND_SERVERS="$(servers "$OXM_BACKENDS")"

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

    vars='${OXM_ROLE} ${OXM_DB_HOST} ${OXM_DB_PORT} ${OXM_DB_USER} ${OXM_DB_PASSWORD_PARAM} ${OXM_DB_NAME} ${OXM_REDIS_DIRECTIVE} ${OXM_BACKEND_SERVERS} ${OXM_LISTEN} ${OXM_SERVERS} ${OXM_REDIRECT_DIRECTIVE} ${OXM_ADMIN_LISTEN} ${OXM_UPDATE_TASKS} ${OXM_EXCLUDED_NAMESPACES_DIRECTIVE} ${OXM_HTTP_EXTRA} ${OXM_LOCATIONS} ${OXM_METRICS_SERVER} ${OXM_METRICS_LISTEN} ${OXM_NEW_BACKEND_SERVERS} ${OXM_SHARE_REDIRECT_DIRECTIVE} ${OXM_MISDIRECTED_LISTEN}'

    # the optional parts, rendered into the balancer's template
    dav=$(onoff OXM_DAV on)
    shares=$(onoff OXM_SHARES on)
    export OXM_METRICS_LISTEN="${OXM_METRICS_LISTEN:-9145}"
    export OXM_MISDIRECTED_LISTEN="${OXM_MISDIRECTED_LISTEN:-127.0.0.1:8421}"
    export OXM_HTTP_EXTRA="" OXM_LOCATIONS="" OXM_METRICS_SERVER=""
    export OXM_SHARE_REDIRECT_DIRECTIVE="" OXM_NEW_BACKEND_SERVERS=""
    if [ "$OXM_ROLE" = primary ]; then
        if [ "$dav" = on ]; then
            [ -n "${OXM_NEW_BACKENDS:-}" ] || die "OXM_NEW_BACKENDS is not set" \
                "(a primary's DAV and ActiveSync requests of moved users go" \
                "to the upgraded nodes; or OXM_DAV=off)"
        fi
        # the origin of OXM_REDIRECT_URL: scheme://host[:port]
        share_url="${OXM_SHARE_REDIRECT_URL:-$(printf '%s' "$OXM_REDIRECT_URL" \
                   | sed -E 's#^([A-Za-z][A-Za-z0-9+.-]*://[^/]+).*#\1#')}"
        OXM_SHARE_REDIRECT_DIRECTIVE="oxmigrate_redirect_url $share_url;"
        # without OXM_NEW_BACKENDS (OXM_DAV=off) moved contexts' shares
        # are redirected by the module and never reach ox_new
        OXM_NEW_BACKEND_SERVERS="$(servers "${OXM_NEW_BACKENDS:-$OXM_BACKENDS}")"
    fi
    if [ "$dav" = on ] || [ "$shares" = on ]; then
        OXM_HTTP_EXTRA=$(envsubst "$vars" <"$tpl/$OXM_ROLE.http.template")
    fi
    [ "$dav" = off ] \
        || OXM_LOCATIONS=$(envsubst "$vars" <"$tpl/dav.locations.template")
    [ "$shares" = off ] || OXM_LOCATIONS="$OXM_LOCATIONS
$(envsubst "$vars" <"$tpl/shares.locations.template")"
    [ "$OXM_METRICS_LISTEN" = off ] \
        || OXM_METRICS_SERVER=$(envsubst "$vars" <"$tpl/metrics.conf.template")

    rm -f "$etc/sites-enabled/default"
    envsubst "$vars" <"$tpl/balancer.conf.template" \
        >"$etc/conf.d/oxmigrate-balancer.conf"

    rm -f "$etc/conf.d/oxmigrate-admin.conf" "$etc/modules-enabled/90-oxmigrate-threads.conf"
    if [ -n "${OXM_ADMIN_LISTEN:-}" ]; then
        if [ -n "${OXM_ADMIN_HTPASSWD:-}" ]; then
            printf '%s\n' "$OXM_ADMIN_HTPASSWD" >"$etc/oxmigrate.htpasswd"
            chmod 640 "$etc/oxmigrate.htpasswd"
            chgrp www-data "$etc/oxmigrate.htpasswd"
        fi
        [ -s "$etc/oxmigrate.htpasswd" ] \
            || die "OXM_ADMIN_LISTEN needs OXM_ADMIN_HTPASSWD or /etc/nginx/oxmigrate.htpasswd"
        # a main-context directive: Debian's nginx.conf includes
        # modules-enabled/*.conf at the top
        echo "thread_pool oxmigrate threads=${OXM_THREADS:-16};" \
            >"$etc/modules-enabled/90-oxmigrate-threads.conf"
        envsubst "$vars" <"$tpl/admin.conf.template" \
            >"$etc/conf.d/oxmigrate-admin.conf"
    fi

    [ "$1" = render ] && exit 0
    nginx -t -q
fi

exec "$@"
