/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, jobs: a job as its driver gets it: made in its own
 * pool with its driver's claim, restored from its row (a resume), its
 * database hosts resolved before it starts (thread).
 */


#include "ngx_http_oxmigrate_admin_jobmake.h"

#include <netdb.h>
#include <arpa/inet.h>


char *
ngx_http_oxmigrate_admin_owner(ngx_pool_t *pool)
{
    char  host[256], *p;

    if (gethostname(host, sizeof(host) - 1) != 0) {
        ngx_cpystrn((u_char *) host, (u_char *) "localhost", sizeof(host));
    }

    host[sizeof(host) - 1] = '\0';

    p = ngx_pnalloc(pool, ngx_strlen(host) + NGX_INT64_LEN + 2);
    if (p) {
        ngx_sprintf((u_char *) p, "%s:%P%Z", host, ngx_pid);
    }

    return p;
}


/*
 * Every driver of a job (the worker that created it, each one that resumed
 * it) has its own claim, written with the job.  A driver whose steps were
 * stuck (a thread pool busy with long calls) can see its heartbeat go
 * stale and the job resumed elsewhere: its next step finds another claim
 * and stops instead of driving the job a second time.
 */

uint64_t
ngx_http_oxmigrate_admin_job_claim(void)
{
    return ((uint64_t) ngx_http_oxmigrate_admin_now_ms() << 16)
           ^ (uint64_t) (ngx_random() & 0xffff);
}


ngx_http_oxmigrate_job_t *
ngx_http_oxmigrate_admin_job_make(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_uint_t kind, uint64_t id)
{
    ngx_pool_t                *pool;
    ngx_http_oxmigrate_job_t  *job;

    /* the job outlives the request: its own pool, freed when it ends */
    pool = ngx_create_pool(4096, c->log);
    if (pool == NULL) {
        return NULL;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_oxmigrate_job_t));
    if (job == NULL
        || ngx_array_init(&job->schemas, pool, 16,
                          sizeof(ngx_http_oxmigrate_job_schema_t))
           != NGX_OK
        || ngx_array_init(&job->conns, pool, 4, sizeof(MYSQL *)) != NGX_OK
        || ngx_array_init(&job->hosts, pool, 4,
                          sizeof(ngx_http_oxmigrate_job_host_t))
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    job->pool = pool;
    job->log = c->log;
    job->id = id;
    job->kind = kind;
    job->parallel = 1;
    job->win_start = -1;
    job->win_end = -1;
    job->max_replica_lag = -1;
    job->alcf = c->alcf;
    job->omcf = c->omcf;
    job->claim = ngx_http_oxmigrate_admin_job_claim();

    return job;
}


/* what a job's row says of it: the request's options, PATCHed values */

void
ngx_http_oxmigrate_admin_job_restore(ngx_http_oxmigrate_job_t *job,
    ngx_http_oxmigrate_job_stored_t *row)
{
    off_t        pparallel;
    yajl_val     opts, v;
    const char  *pforce[] = { "force", NULL };
    const char  *pstop[] = { "stop_on_error", NULL };
    const char  *ppar[] = { "parallel", NULL };

    job->server_id = ngx_http_oxmigrate_admin_job_col(row->server_id, 0);
    pparallel = ngx_http_oxmigrate_admin_job_col(row->parallel, 0);
    job->pause_after = ngx_http_oxmigrate_admin_job_col(row->pause_after, 0);
    ngx_http_oxmigrate_admin_job_set_window(job, row->window);

    opts = row->options ? yajl_tree_parse(row->options, NULL, 0) : NULL;

    if (opts && YAJL_IS_OBJECT(opts)) {
        if (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) {
            ngx_http_oxmigrate_admin_job_check_opts(job, opts);

            v = yajl_tree_get(opts, pforce, yajl_t_true);
            job->force = (v != NULL);

            v = yajl_tree_get(opts, ppar, yajl_t_number);
            if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0) {
                job->parallel = YAJL_GET_INTEGER(v);
            }

        } else {
            v = yajl_tree_get(opts, pstop, yajl_t_false);
            job->force = (v != NULL);
        }
    }

    if (opts) {
        yajl_tree_free(opts);
    }

    /* PATCH /jobs/{id} overrides the request's parallel */
    if (pparallel > 0) {
        job->parallel = pparallel;
    }
}


/*
 * "One step per database host" compares addresses: the host part of a
 * schema's "host:port" is looked up (getaddrinfo, on the thread: never on
 * the event loop) and the smallest of its addresses, with the port, is
 * the key, so 127.1, 127.0.0.1 and a name of that address are one host.
 * A name that does not resolve keys by itself.  Each distinct "host:port"
 * is looked up once.
 */

static char *
ngx_http_oxmigrate_admin_job_addr(ngx_pool_t *pool, const char *hostport)
{
    char              *host, *key, best[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
    void              *in;
    const char        *port;
    size_t             n;
    struct addrinfo    hints, *res, *ai;

    port = strrchr(hostport, ':');
    if (port == NULL || port == hostport) {
        return (char *) hostport;
    }

    host = ngx_http_oxmigrate_admin_strndup(pool, hostport, port - hostport);
    if (host == NULL) {
        return (char *) hostport;
    }

    /* an IPv6 literal in brackets */
    n = ngx_strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        host++;
    }

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        return (char *) hostport;
    }

    best[0] = '\0';

    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            in = &((struct sockaddr_in *) ai->ai_addr)->sin_addr;

        } else if (ai->ai_family == AF_INET6) {
            in = &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;

        } else {
            continue;
        }

        if (inet_ntop(ai->ai_family, in, a, sizeof(a)) != NULL
            && (best[0] == '\0' || ngx_strcmp(a, best) < 0))
        {
            ngx_cpystrn((u_char *) best, (u_char *) a, sizeof(best));
        }
    }

    freeaddrinfo(res);

    if (best[0] == '\0') {
        return (char *) hostport;
    }

    key = ngx_pnalloc(pool, ngx_strlen(best) + ngx_strlen(port) + 1);
    if (key == NULL) {
        return (char *) hostport;
    }

    ngx_sprintf((u_char *) key, "%s%s%Z", best, port);

    return key;
}


void
ngx_http_oxmigrate_admin_job_resolve(void *data)
{
    ngx_http_oxmigrate_job_t  *job = data;

    ngx_uint_t                        i, k;
    ngx_http_oxmigrate_job_schema_t  *js;

    js = job->schemas.elts;

    for (i = 0; i < job->schemas.nelts; i++) {

        /* schemas of one host mostly follow each other */
        for (k = i; k > 0; k--) {
            if (ngx_strcmp(js[k - 1].host, js[i].host) == 0) {
                break;
            }
        }

        js[i].addr = (k > 0) ? js[k - 1].addr
                             : ngx_http_oxmigrate_admin_job_addr(job->pool,
                                                                 js[i].host);
    }
}
