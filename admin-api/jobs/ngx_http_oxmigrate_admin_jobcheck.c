/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the checks before a job enables a schema (thread
 * pool, in the schema's step, after its changeserver and update, before
 * its enable).
 *
 *   tasks        (check_tasks) no task of the schema's updateTask failed,
 *                and none is pending for the new version: listUpdateTasks
 *                on the new cluster with the OX tools, the configured
 *                tasks without (so the new nodes will not answer CTX-0013)
 *   replica      (max_replica_lag) the database of the schema's
 *                read_db_pool_id, when it is not the write pool, is a
 *                replica whose Seconds_Behind_Master is known and below
 *                the limit (a stopped replication thread fails)
 *   health       (health_url) GET of an http:// URL answers 200 within 5 s;
 *                only a URL of the location's oxmigrate_health_url (the
 *                site says where a check may connect, a request only
 *                picks one of them)
 *
 * Every result goes into the job's row of the schema (checks, JSON) and an
 * audit row (action "checkschema"); the step leaves a schema whose check
 * failed disabled on the new server.
 */


#include "ngx_http_oxmigrate_admin_job.h"

#include <netdb.h>


typedef struct {
    yajl_gen      g;
    ngx_uint_t    failed;
    char          first[512];   /* the first failure */
} ngx_http_oxmigrate_checks_t;


static void
ngx_http_oxmigrate_admin_check_add(ngx_http_oxmigrate_checks_t *c,
    const char *name, ngx_uint_t ok, const char *detail)
{
    yajl_gen_map_open(c->g);
    ngx_http_oxmigrate_admin_json_str(c->g, "check");
    ngx_http_oxmigrate_admin_json_str(c->g, name);
    ngx_http_oxmigrate_admin_json_str(c->g, "ok");
    ngx_http_oxmigrate_admin_json_bool(c->g, ok);
    ngx_http_oxmigrate_admin_json_str(c->g, "detail");
    ngx_http_oxmigrate_admin_json_str(c->g, detail);
    yajl_gen_map_close(c->g);

    if (!ok && c->failed++ == 0) {
        ngx_snprintf((u_char *) c->first, sizeof(c->first) - 1, "%s: %s%Z",
                     name, detail);
    }
}


/* tasks: none failed, none pending */

static void
ngx_http_oxmigrate_admin_check_tasks(ngx_http_oxmigrate_job_t *job,
    ngx_pool_t *pool, MYSQL *sm, const char *schema,
    ngx_http_oxmigrate_checks_t *c)
{
    u_char                             *p, *end;
    char                                buf[512], err[256];
    ngx_uint_t                          i, nf, np;
    ngx_array_t                        *pending;
    ngx_http_oxmigrate_task_t          *t;
    ngx_http_oxmigrate_executed_t      *e;
    ngx_http_oxmigrate_schema_state_t   st;

    ngx_memzero(&st, sizeof(ngx_http_oxmigrate_schema_state_t));

    if (sm == NULL
        || ngx_http_oxmigrate_admin_schema_state(job->alcf, sm, pool, schema,
                                                 &st)
           != NGX_OK)
    {
        ngx_http_oxmigrate_admin_check_add(c, "tasks", 0,
                                 "the schema's updateTask cannot be read");
        return;
    }

    p = (u_char *) buf;
    end = (u_char *) buf + sizeof(buf) - 64;
    nf = 0;
    np = 0;

    e = st.executed ? st.executed->elts : NULL;

    for (i = 0; e && i < st.executed->nelts; i++) {
        if (!e[i].successful) {
            if (p < end) {
                p = ngx_slprintf(p, end, "%s%s failed", nf + np ? ", " : "",
                                 e[i].name);
            }

            nf++;
        }
    }

    if (job->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        /* listUpdateTasks -g, the exclusions left out */
        pending = ngx_array_create(pool, 4, sizeof(char *));

        if (pending == NULL
            || ngx_http_oxmigrate_admin_ox_pending(job->alcf, pool, job->log,
                                                   schema, pending, NULL,
                                                   err, sizeof(err))
               != NGX_OK)
        {
            ngx_http_oxmigrate_admin_check_add(c, "tasks", 0,
                                     pending ? err : "listUpdateTasks failed");
            return;
        }

        for (i = 0; i < pending->nelts; i++) {
            if (p < end) {
                p = ngx_slprintf(p, end, "%s%s pending", nf + np ? ", " : "",
                                 ((char **) pending->elts)[i]);
            }

            np++;
        }

    } else {
        t = job->alcf->tasks ? job->alcf->tasks->elts : NULL;

        for (i = 0; t && i < job->alcf->tasks->nelts; i++) {
            if (ngx_http_oxmigrate_admin_executed(&st, &t[i].name) == NULL
                && ngx_http_oxmigrate_admin_excluded(job->alcf, &t[i], pool)
                   == NULL)
            {
                if (p < end) {
                    p = ngx_slprintf(p, end, "%s%V pending",
                                     nf + np ? ", " : "", &t[i].name);
                }

                np++;
            }
        }
    }

    *p = '\0';

    if (nf + np == 0) {
        ngx_http_oxmigrate_admin_check_add(c, "tasks", 1,
                                           "none failed, none pending");

    } else {
        ngx_http_oxmigrate_admin_check_add(c, "tasks", 0, buf);
    }
}


/* replica: Seconds_Behind_Master of the read pool's database */

static void
ngx_http_oxmigrate_admin_check_replica(ngx_http_oxmigrate_job_t *job,
    ngx_pool_t *pool, MYSQL *m, const char *schema,
    ngx_http_oxmigrate_checks_t *c)
{
    char                         *pname, err[256], buf[256];
    MYSQL                        *rm;
    uint64_t                      rpool, wpool;
    ngx_int_t                     lag;
    ngx_http_oxmigrate_dbhost_t   h;

    if (ngx_http_oxmigrate_admin_store_step_pools(m, pool, schema, &rpool,
                                                  &wpool)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_check_add(c, "replica", 0,
                                           "the schema's pools are unknown");
        return;
    }

    if (rpool == wpool) {
        ngx_http_oxmigrate_admin_check_add(c, "replica", 1,
                            "read_db_pool_id is the write pool: no replica");
        return;
    }

    if (ngx_http_oxmigrate_admin_pool_host(pool, m, rpool, &h, &pname)
        != NGX_OK)
    {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1,
                     "db_pool %uL is unknown%Z", rpool);
        ngx_http_oxmigrate_admin_check_add(c, "replica", 0, buf);
        return;
    }

    rm = ngx_http_oxmigrate_admin_connect(&h, NULL, 0, err, sizeof(err));
    if (rm == NULL) {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1,
                     "db_pool %uL: %s%Z", rpool, err);
        ngx_http_oxmigrate_admin_check_add(c, "replica", 0, buf);
        return;
    }

    if (ngx_http_oxmigrate_admin_store_replica_lag(rm, pool, &lag)
        != NGX_OK)
    {
        lag = -2;
    }

    mysql_close(rm);

    if (lag == -2) {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "db_pool %uL (%s:%ud)"
                     " is not a replica%Z", rpool, h.host, h.port);
        ngx_http_oxmigrate_admin_check_add(c, "replica", 0, buf);

    } else if (lag < 0) {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "db_pool %uL (%s:%ud):"
                     " replication stopped (Seconds_Behind_Master NULL)%Z",
                     rpool, h.host, h.port);
        ngx_http_oxmigrate_admin_check_add(c, "replica", 0, buf);

    } else {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "db_pool %uL lags %i s"
                     " (max_replica_lag %i s)%Z", rpool, lag,
                     job->max_replica_lag);
        ngx_http_oxmigrate_admin_check_add(c, "replica",
                                           lag < job->max_replica_lag, buf);
    }
}


/*
 * oxmigrate_health_url http://host[:port][/path]: one URL jobs may check.
 * The host is a name or an IPv4 address, the path printable ASCII without
 * spaces: nothing a request line or a header could be made of.
 */

char *
ngx_http_oxmigrate_admin_health_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf = conf;

    char       **u;
    u_char      *p, *last, *host;
    ngx_int_t    port;
    ngx_str_t   *value;

    value = cf->args->elts;
    p = value[1].data;
    last = p + value[1].len;

    if (value[1].len < 8 || ngx_strncmp(p, "http://", 7) != 0) {
        return "must be an http:// URL";
    }

    for (p += 7, host = p; p < last && (isalnum(*p) || *p == '.'
                                        || *p == '-'); p++)
    {
        /* void */
    }

    if (p == host) {
        return "has no host";
    }

    if (p < last && *p == ':') {
        host = ++p;

        while (p < last && *p >= '0' && *p <= '9') {
            p++;
        }

        port = ngx_atoi(host, p - host);
        if (port < 1 || port > 65535) {
            return "has an invalid port";
        }
    }

    if (p < last && *p != '/') {
        return "must be http://host[:port][/path]";
    }

    for ( /* void */ ; p < last; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            return "must be printable ASCII without spaces";
        }
    }

    if (alcf->health_urls == NGX_CONF_UNSET_PTR) {
        alcf->health_urls = ngx_array_create(cf->pool, 2, sizeof(char *));
        if (alcf->health_urls == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    u = ngx_array_push(alcf->health_urls);
    if (u == NULL) {
        return NGX_CONF_ERROR;
    }

    *u = (char *) value[1].data;     /* NUL-terminated by the parser */

    return NGX_CONF_OK;
}


/* NULL when a request (or a stored job) may check url; else why not */

const char *
ngx_http_oxmigrate_admin_health_allowed(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, const char *url)
{
    char        **u;
    ngx_uint_t    i;
    const char   *p;

    for (p = url; *p; p++) {
        if ((u_char) *p < 0x20 || *p == 0x7f) {
            return "field \"health_url\" must not contain control bytes";
        }
    }

    if (alcf->health_urls == NULL) {
        return "field \"health_url\": this location allows none (see "
               "oxmigrate_health_url)";
    }

    u = alcf->health_urls->elts;

    for (i = 0; i < alcf->health_urls->nelts; i++) {
        if (ngx_strcmp(u[i], url) == 0) {
            return NULL;
        }
    }

    return "field \"health_url\" must be one of this location's "
           "oxmigrate_health_url";
}


/* health: GET url, 200 within 5 s (a blocking socket: thread pool) */

static void
ngx_http_oxmigrate_admin_check_health(ngx_http_oxmigrate_job_t *job,
    ngx_http_oxmigrate_checks_t *c)
{
    int               fd, status;
    char              host[256], port[8], req[1200], buf[256], *u, *p, *q;
    size_t            n;
    ssize_t           got;
    struct timeval    tv;
    struct addrinfo   hints, *ai;

    u = job->health_url;
    fd = -1;
    ai = NULL;
    status = 0;

    /* a job resumed after the configuration changed: asked again */

    if (ngx_http_oxmigrate_admin_health_allowed(job->alcf, u) != NULL) {
        ngx_http_oxmigrate_admin_check_add(c, "health", 0,
                                           "not a URL of this location's "
                                           "oxmigrate_health_url: not "
                                           "checked");
        return;
    }

    p = u + 7;
    q = p + strcspn(p, ":/");
    n = ngx_min((size_t) (q - p), sizeof(host) - 1);
    ngx_memcpy(host, p, n);
    host[n] = '\0';

    ngx_cpystrn((u_char *) port, (u_char *) "80", sizeof(port));

    if (*q == ':') {
        q++;
        n = strcspn(q, "/");
        n = ngx_min(n, sizeof(port) - 1);
        ngx_memcpy(port, q, n);
        port[n] = '\0';
        q += strcspn(q, "/");
    }

    ngx_snprintf((u_char *) req, sizeof(req) - 1,
                 "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: oxmigrate\r\n"
                 "\r\n%Z", *q ? q : "/", host);

    ngx_memzero(&hints, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;

    if (getaddrinfo(host, port, &hints, &ai) != 0 || ai == NULL) {
        goto done;
    }

    fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (fd < 0) {
        goto done;
    }

    tv.tv_sec = 5;
    tv.tv_usec = 0;
    (void) setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0
        || send(fd, req, ngx_strlen(req), MSG_NOSIGNAL) < 0)
    {
        goto done;
    }

    n = 0;
    while (n < sizeof(buf) - 1) {
        got = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
        if (got <= 0) {
            break;
        }

        n += got;
        if (memchr(buf, '\n', n)) {
            break;
        }
    }

    buf[n] = '\0';

    if (n > 12 && ngx_strncmp(buf, "HTTP/1.", 7) == 0) {
        status = ngx_atoi((u_char *) buf + 9, 3);
    }

done:

    if (fd >= 0) {
        close(fd);
    }

    if (ai) {
        freeaddrinfo(ai);
    }

    if (status > 0) {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "%s answered %d%Z",
                     u, status);

    } else {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "%s: no HTTP answer"
                     " within 5 s%Z", u);
    }

    ngx_http_oxmigrate_admin_check_add(c, "health", status == 200, buf);
}


/*
 * The checks the job asks for, before a schema is enabled.  NGX_OK: all
 * passed (or none asked); NGX_DECLINED: one failed, *why says which.
 * Recorded in the job's row of the schema and the audit either way.
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_checks(ngx_http_oxmigrate_job_t *job,
    ngx_pool_t *pool, MYSQL *m, MYSQL *sm, const char *schema, uint64_t seq,
    char **why)
{
    size_t                        len;
    ngx_str_t                     js;
    const unsigned char          *buf;
    ngx_http_oxmigrate_checks_t   c;

    if (!job->check_tasks && job->max_replica_lag < 0
        && job->health_url == NULL)
    {
        return NGX_OK;
    }

    ngx_memzero(&c, sizeof(ngx_http_oxmigrate_checks_t));

    c.g = yajl_gen_alloc(NULL);
    if (c.g == NULL) {
        return NGX_OK;
    }

    yajl_gen_array_open(c.g);

    if (job->check_tasks) {
        ngx_http_oxmigrate_admin_check_tasks(job, pool, sm, schema, &c);
    }

    if (job->max_replica_lag >= 0) {
        ngx_http_oxmigrate_admin_check_replica(job, pool, m, schema, &c);
    }

    if (job->health_url) {
        ngx_http_oxmigrate_admin_check_health(job, &c);
    }

    yajl_gen_array_close(c.g);
    yajl_gen_get_buf(c.g, &buf, &len);
    js.data = (u_char *) buf;
    js.len = len;

    /* on the schema's row, and audited */
    (void) ngx_http_oxmigrate_admin_store_step_checks(m, pool, job->id, seq,
               &js, schema, c.failed ? 409 : 200,
               ngx_http_oxmigrate_admin_now_ms());

    if (c.failed) {
        *why = ngx_pnalloc(pool, ngx_strlen(c.first) + 1);
        if (*why) {
            ngx_cpystrn((u_char *) *why, (u_char *) c.first,
                        ngx_strlen(c.first) + 1);
        }
    }

    yajl_gen_free(c.g);

    return c.failed ? NGX_DECLINED : NGX_OK;
}


void
ngx_http_oxmigrate_admin_job_check_opts(ngx_http_oxmigrate_job_t *job,
    yajl_val opts)
{
    char        *url;
    yajl_val     v;
    const char  *ptasks[] = { "check_tasks", NULL };
    const char  *plag[] = { "max_replica_lag", NULL };
    const char  *purl[] = { "health_url", NULL };

    if (opts == NULL || !YAJL_IS_OBJECT(opts)) {
        return;
    }

    v = yajl_tree_get(opts, ptasks, yajl_t_true);
    job->check_tasks = (v != NULL);

    v = yajl_tree_get(opts, plag, yajl_t_number);
    if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) >= 0) {
        job->max_replica_lag = (ngx_int_t) YAJL_GET_INTEGER(v);
    }

    v = yajl_tree_get(opts, purl, yajl_t_string);
    url = v ? YAJL_GET_STRING(v) : NULL;

    if (url && url[0]) {
        job->health_url = ngx_http_oxmigrate_admin_strndup(job->pool, url,
                                                           ngx_strlen(url));
    }
}
