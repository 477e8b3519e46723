/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * Directive parsers both modules share.  The http-level directives
 * oxmigrate_db, oxmigrate_redis and oxmigrate_cache each take "name=value"
 * parameters, described by a table and parsed by one loop.  A value with
 * spaces is quoted whole, as nginx quotes any argument: "password=db secret".
 */


#include "ngx_http_oxmigrate.h"


static char *ngx_http_oxmigrate_conf_db_parse(ngx_conf_t *cf,
    ngx_http_oxmigrate_db_conf_t **slot);


typedef enum {
    NGX_HTTP_OXMIGRATE_PARAM_CSTR = 0,   /* NUL-terminated copy */
    NGX_HTTP_OXMIGRATE_PARAM_STR,        /* points into the configuration */
    NGX_HTTP_OXMIGRATE_PARAM_HOST,       /* resolved now, numeric copy */
    NGX_HTTP_OXMIGRATE_PARAM_PORT,
    NGX_HTTP_OXMIGRATE_PARAM_NUMBER,
    NGX_HTTP_OXMIGRATE_PARAM_MSEC,       /* > 0 */
    NGX_HTTP_OXMIGRATE_PARAM_SEC,        /* > 0 */
    NGX_HTTP_OXMIGRATE_PARAM_ZONE,       /* NAME:SIZE */
    NGX_HTTP_OXMIGRATE_PARAM_SERVER      /* HOST[:PORT] | unix:PATH, repeats */
} ngx_http_oxmigrate_param_type_e;


typedef struct {
    ngx_str_t                         name;
    ngx_http_oxmigrate_param_type_e   type;
    size_t                            offset;
    ngx_uint_t                        min;   /* NUMBER: bounds */
    ngx_uint_t                        max;
} ngx_http_oxmigrate_param_t;


typedef struct {
    ngx_str_t                         name;
    ssize_t                           size;
} ngx_http_oxmigrate_zone_param_t;


typedef struct {
    ngx_msec_t                        ttl;
    ngx_msec_t                        negative_ttl;
    ngx_msec_t                        stale;
    ngx_http_oxmigrate_zone_param_t   zone;
} ngx_http_oxmigrate_cache_params_t;


#define ngx_http_oxmigrate_db_param(name, type, field, max)                   \
    { ngx_string(name), type,                                                 \
      offsetof(ngx_http_oxmigrate_db_conf_t, field), 1, max }

static ngx_http_oxmigrate_param_t  ngx_http_oxmigrate_db_params[] = {
    ngx_http_oxmigrate_db_param("host", NGX_HTTP_OXMIGRATE_PARAM_HOST,
                                host, 0),
    ngx_http_oxmigrate_db_param("port", NGX_HTTP_OXMIGRATE_PARAM_PORT,
                                port, 0),
    ngx_http_oxmigrate_db_param("user", NGX_HTTP_OXMIGRATE_PARAM_CSTR,
                                user, 0),
    ngx_http_oxmigrate_db_param("password", NGX_HTTP_OXMIGRATE_PARAM_CSTR,
                                password, 0),
    ngx_http_oxmigrate_db_param("database", NGX_HTTP_OXMIGRATE_PARAM_CSTR,
                                database, 0),
    ngx_http_oxmigrate_db_param("socket", NGX_HTTP_OXMIGRATE_PARAM_CSTR,
                                socket, 0),
    ngx_http_oxmigrate_db_param("connect_timeout",
                                NGX_HTTP_OXMIGRATE_PARAM_MSEC,
                                connect_timeout, 0),
    ngx_http_oxmigrate_db_param("timeout", NGX_HTTP_OXMIGRATE_PARAM_MSEC,
                                timeout, 0),
    ngx_http_oxmigrate_db_param("pool", NGX_HTTP_OXMIGRATE_PARAM_NUMBER,
                                pool, 1024),
    ngx_http_oxmigrate_db_param("server", NGX_HTTP_OXMIGRATE_PARAM_SERVER,
                                servers, 0),
    { ngx_null_string, 0, 0, 0, 0 }
};


#define ngx_http_oxmigrate_redis_param(name, type, field, max)                \
    { ngx_string(name), type,                                                 \
      offsetof(ngx_http_oxmigrate_redis_conf_t, field), 0, max }

static ngx_http_oxmigrate_param_t  ngx_http_oxmigrate_redis_params[] = {
    ngx_http_oxmigrate_redis_param("host", NGX_HTTP_OXMIGRATE_PARAM_HOST,
                                   host, 0),
    ngx_http_oxmigrate_redis_param("port", NGX_HTTP_OXMIGRATE_PARAM_PORT,
                                   port, 0),
    ngx_http_oxmigrate_redis_param("password", NGX_HTTP_OXMIGRATE_PARAM_CSTR,
                                   password, 0),
    ngx_http_oxmigrate_redis_param("db", NGX_HTTP_OXMIGRATE_PARAM_NUMBER,
                                   db, 1000000),
    ngx_http_oxmigrate_redis_param("timeout", NGX_HTTP_OXMIGRATE_PARAM_MSEC,
                                   timeout, 0),
    ngx_http_oxmigrate_redis_param("ttl", NGX_HTTP_OXMIGRATE_PARAM_SEC,
                                   ttl, 0),
    ngx_http_oxmigrate_redis_param("prefix", NGX_HTTP_OXMIGRATE_PARAM_STR,
                                   prefix, 0),
    { ngx_null_string, 0, 0, 0, 0 }
};


#define ngx_http_oxmigrate_cache_param(name, type, field)                     \
    { ngx_string(name), type,                                                 \
      offsetof(ngx_http_oxmigrate_cache_params_t, field), 0, 0 }

static ngx_http_oxmigrate_param_t  ngx_http_oxmigrate_cache_params[] = {
    ngx_http_oxmigrate_cache_param("zone", NGX_HTTP_OXMIGRATE_PARAM_ZONE,
                                   zone),
    ngx_http_oxmigrate_cache_param("ttl", NGX_HTTP_OXMIGRATE_PARAM_MSEC, ttl),
    ngx_http_oxmigrate_cache_param("negative_ttl",
                                   NGX_HTTP_OXMIGRATE_PARAM_MSEC,
                                   negative_ttl),
    ngx_http_oxmigrate_cache_param("stale", NGX_HTTP_OXMIGRATE_PARAM_MSEC,
                                   stale),
    { ngx_null_string, 0, 0, 0, 0 }
};


/* libmariadb and hiredis want NUL-terminated strings */

static ngx_int_t
ngx_http_oxmigrate_cstr(ngx_conf_t *cf, ngx_str_t *dst, ngx_str_t *src)
{
    dst->data = ngx_pnalloc(cf->pool, src->len + 1);
    if (dst->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(dst->data, src->data, src->len);
    dst->data[src->len] = '\0';
    dst->len = src->len;

    return NGX_OK;
}


/*
 * Host names are resolved here, once: both client libraries would call a
 * blocking getaddrinfo() on every connect otherwise.
 */

static ngx_int_t
ngx_http_oxmigrate_resolve_host(ngx_conf_t *cf, ngx_str_t *host,
    ngx_str_t *addr)
{
    u_char     text[NGX_SOCKADDR_STRLEN];
    ngx_str_t  s;
    ngx_url_t  u;

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = *host;
    u.default_port = 1;

    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "cannot resolve host \"%V\"%s%s",
                           host, u.err ? ": " : "", u.err ? u.err : "");
        return NGX_ERROR;
    }

    s.data = text;
    s.len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, text,
                          NGX_SOCKADDR_STRLEN, 0);

    return ngx_http_oxmigrate_cstr(cf, addr, &s);
}


/* server=HOST[:PORT] or server=unix:PATH: one more configdb server */

static ngx_int_t
ngx_http_oxmigrate_parse_server(ngx_conf_t *cf, ngx_str_t *v,
    ngx_array_t **servers)
{
    u_char                          *colon;
    ngx_int_t                        port;
    ngx_str_t                        host, path;
    ngx_http_oxmigrate_db_server_t  *s;

    if (*servers == NULL) {
        *servers = ngx_array_create(cf->pool, 2,
                                    sizeof(ngx_http_oxmigrate_db_server_t));
        if (*servers == NULL) {
            return NGX_ERROR;
        }
    }

    s = ngx_array_push(*servers);
    if (s == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(s, sizeof(ngx_http_oxmigrate_db_server_t));
    s->port = 3306;

    if (v->len > 5 && ngx_strncmp(v->data, "unix:", 5) == 0) {
        path.data = v->data + 5;
        path.len = v->len - 5;
        return ngx_http_oxmigrate_cstr(cf, &s->socket, &path);
    }

    host = *v;
    colon = NULL;

    if (host.len && host.data[0] != '[') {
        colon = ngx_strlchr(host.data, host.data + host.len, ':');
    }

    if (colon) {
        port = ngx_atoi(colon + 1, host.data + host.len - colon - 1);
        if (port < 1 || port > 65535) {
            return NGX_ERROR;
        }

        s->port = port;
        host.len = colon - host.data;
    }

    if (host.len == 0) {
        return NGX_ERROR;
    }

    return ngx_http_oxmigrate_resolve_host(cf, &host, &s->host);
}


static ngx_int_t
ngx_http_oxmigrate_parse_value(ngx_conf_t *cf, ngx_http_oxmigrate_param_t *p,
    ngx_str_t *v, char *conf)
{
    u_char                           *colon;
    ngx_int_t                         n;
    ngx_str_t                         size;
    ngx_http_oxmigrate_zone_param_t  *zone;

    switch (p->type) {

    case NGX_HTTP_OXMIGRATE_PARAM_CSTR:
        return ngx_http_oxmigrate_cstr(cf, (ngx_str_t *) (conf + p->offset),
                                       v);

    case NGX_HTTP_OXMIGRATE_PARAM_STR:
        *(ngx_str_t *) (conf + p->offset) = *v;
        return NGX_OK;

    case NGX_HTTP_OXMIGRATE_PARAM_HOST:
        return ngx_http_oxmigrate_resolve_host(cf, v,
                                          (ngx_str_t *) (conf + p->offset));

    case NGX_HTTP_OXMIGRATE_PARAM_PORT:
        n = ngx_atoi(v->data, v->len);
        if (n < 1 || n > 65535) {
            return NGX_ERROR;
        }

        *(ngx_uint_t *) (conf + p->offset) = n;
        return NGX_OK;

    case NGX_HTTP_OXMIGRATE_PARAM_NUMBER:
        n = ngx_atoi(v->data, v->len);
        if (n == NGX_ERROR || (ngx_uint_t) n < p->min
            || (ngx_uint_t) n > p->max)
        {
            return NGX_ERROR;
        }

        *(ngx_uint_t *) (conf + p->offset) = n;
        return NGX_OK;

    case NGX_HTTP_OXMIGRATE_PARAM_MSEC:
        n = ngx_parse_time(v, 0);
        if (n == NGX_ERROR || n == 0) {
            return NGX_ERROR;
        }

        *(ngx_msec_t *) (conf + p->offset) = n;
        return NGX_OK;

    case NGX_HTTP_OXMIGRATE_PARAM_SEC:
        n = ngx_parse_time(v, 1);
        if (n == NGX_ERROR || n == 0) {
            return NGX_ERROR;
        }

        *(time_t *) (conf + p->offset) = n;
        return NGX_OK;

    case NGX_HTTP_OXMIGRATE_PARAM_SERVER:
        return ngx_http_oxmigrate_parse_server(cf, v,
                                     (ngx_array_t **) (conf + p->offset));

    default: /* NGX_HTTP_OXMIGRATE_PARAM_ZONE */
        colon = ngx_strlchr(v->data, v->data + v->len, ':');
        if (colon == NULL || colon == v->data) {
            return NGX_ERROR;
        }

        zone = (ngx_http_oxmigrate_zone_param_t *) (conf + p->offset);

        zone->name.data = v->data;
        zone->name.len = colon - v->data;

        size.data = colon + 1;
        size.len = v->data + v->len - size.data;

        zone->size = ngx_parse_size(&size);

        return zone->size == NGX_ERROR ? NGX_ERROR : NGX_OK;
    }
}


/* every argument must be one of params, given at most once */

static char *
ngx_http_oxmigrate_parse_params(ngx_conf_t *cf,
    ngx_http_oxmigrate_param_t *params, void *conf)
{
    ngx_str_t                   *value, v;
    ngx_uint_t                   i, seen;
    ngx_http_oxmigrate_param_t  *p;

    value = cf->args->elts;
    seen = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        for (p = params; p->name.len; p++) {
            if (value[i].len > p->name.len
                && value[i].data[p->name.len] == '='
                && ngx_strncmp(value[i].data, p->name.data, p->name.len) == 0)
            {
                break;
            }
        }

        if (p->name.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if ((seen & (1 << (p - params)))
            && p->type != NGX_HTTP_OXMIGRATE_PARAM_SERVER)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        seen |= 1 << (p - params);

        v.data = value[i].data + p->name.len + 1;
        v.len = value[i].len - p->name.len - 1;

        if (ngx_http_oxmigrate_parse_value(cf, p, &v, conf) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * oxmigrate_db (the router's lookups and change-log polls: SELECT only)
 * and oxmigrate_admin_db (the admin API's reads and writes): one syntax.
 */

char *
ngx_http_oxmigrate_conf_db(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oxmigrate_db_conf_t  **slot;

    slot = (ngx_http_oxmigrate_db_conf_t **) ((char *) conf + cmd->offset);

    if (*slot) {
        return "is duplicate";
    }

    return ngx_http_oxmigrate_conf_db_parse(cf, slot);
}


static char *
ngx_http_oxmigrate_conf_db_parse(ngx_conf_t *cf,
    ngx_http_oxmigrate_db_conf_t **slot)
{
    char                            *rv;
    ngx_str_t                        empty = ngx_string("");
    ngx_array_t                     *extra;
    ngx_http_oxmigrate_db_conf_t    *dcf;
    ngx_http_oxmigrate_db_server_t  *s;

    dcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_db_conf_t));
    if (dcf == NULL) {
        return NGX_CONF_ERROR;
    }

    dcf->port = 3306;
    dcf->connect_timeout = 1000;
    dcf->timeout = 1000;
    dcf->pool = 8;

    rv = ngx_http_oxmigrate_parse_params(cf, ngx_http_oxmigrate_db_params,
                                         dcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (dcf->user.data == NULL || dcf->database.data == NULL
        || (dcf->host.len == 0 && dcf->socket.len == 0))
    {
        return "needs user=, database= and host= or socket=";
    }

    if (dcf->password.data == NULL
        && ngx_http_oxmigrate_cstr(cf, &dcf->password, &empty) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* host= (or socket=) first, then every server= in their order */

    extra = dcf->servers;

    dcf->servers = ngx_array_create(cf->pool, 1 + (extra ? extra->nelts : 0),
                                    sizeof(ngx_http_oxmigrate_db_server_t));
    if (dcf->servers == NULL) {
        return NGX_CONF_ERROR;
    }

    s = ngx_array_push(dcf->servers);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    s->host = dcf->host;
    s->port = dcf->port;
    s->socket = dcf->socket;

    if (extra) {
        s = ngx_array_push_n(dcf->servers, extra->nelts);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(s, extra->elts,
                   extra->nelts * sizeof(ngx_http_oxmigrate_db_server_t));
    }

    *slot = dcf;

    return NGX_CONF_OK;
}


char *
ngx_http_oxmigrate_conf_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oxmigrate_main_conf_t *omcf = conf;

    char                             *rv;
    ngx_http_oxmigrate_redis_conf_t  *rcf;

    if (omcf->redis) {
        return "is duplicate";
    }

    rcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_redis_conf_t));
    if (rcf == NULL) {
        return NGX_CONF_ERROR;
    }

    rcf->port = 6379;
    rcf->timeout = 200;
    rcf->ttl = 300;
    ngx_str_set(&rcf->prefix, "oxmigrate:");
    ngx_str_set(&rcf->password, "");

    rv = ngx_http_oxmigrate_parse_params(cf, ngx_http_oxmigrate_redis_params,
                                         rcf);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (rcf->host.len == 0) {
        return "needs host=";
    }

    omcf->redis = rcf;

    return NGX_CONF_OK;
}


char *
ngx_http_oxmigrate_conf_cache(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oxmigrate_main_conf_t *omcf = conf;

    char                               *rv;
    ngx_http_oxmigrate_cache_params_t   cp;

    if (omcf->shm_zone) {
        return "is duplicate";
    }

    ngx_memzero(&cp, sizeof(ngx_http_oxmigrate_cache_params_t));

    cp.ttl = NGX_CONF_UNSET_MSEC;
    cp.negative_ttl = NGX_CONF_UNSET_MSEC;
    cp.stale = NGX_CONF_UNSET_MSEC;

    rv = ngx_http_oxmigrate_parse_params(cf, ngx_http_oxmigrate_cache_params,
                                         &cp);
    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (cp.zone.name.len == 0) {
        return "needs zone=NAME:SIZE";
    }

    omcf->cache_ttl = cp.ttl;
    omcf->negative_ttl = cp.negative_ttl;
    omcf->cache_stale = cp.stale;

    omcf->shm_zone = ngx_http_oxmigrate_shm_add(cf, &cp.zone.name,
                                                cp.zone.size);
    if (omcf->shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Like ngx_conf_set_str_array_slot(), but takes every argument of the
 * directive ("oxmigrate_server a b c;"), and repeated directives add up.
 */

char *
ngx_http_oxmigrate_conf_names_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *s;
    ngx_uint_t     i;
    ngx_array_t  **a;

    a = (ngx_array_t **) (p + cmd->offset);

    if (*a == NGX_CONF_UNSET_PTR) {
        *a = ngx_array_create(cf->pool, 4, sizeof(ngx_str_t));
        if (*a == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        s = ngx_array_push(*a);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        *s = value[i];
    }

    return NGX_CONF_OK;
}
