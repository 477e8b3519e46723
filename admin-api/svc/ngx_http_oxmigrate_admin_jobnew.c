/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: what the job services share (thread
 * pool).  The start lock, the one-job-at-a-time guard, a new job of a
 * plan and its rows, and a new driver of an existing job (resume,
 * continue).  POST /upgrade and POST /updates
 * (ngx_http_oxmigrate_admin_jobs.c) plan one.
 */


#include "ngx_http_oxmigrate_admin_jobmake.h"


/* the {id} of jobs/{id} */

ngx_int_t
ngx_http_oxmigrate_admin_job_arg(ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res, int64_t *id)
{
    *id = ngx_atoi((u_char *) a->path[0], ngx_strlen(a->path[0]));

    if (*id == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_job",
                                             "job '%s' not found",
                                             a->path[0]);
    }

    return NGX_OK;
}


/*
 * Starting a job (POST /upgrade, POST /updates, POST /jobs/{id}/resume,
 * /continue) is a check (a live job?) followed by an INSERT (or the
 * resume's claim): two calls at once would both pass the check.  The start
 * lock (store) makes check and write one step for every worker of every
 * balancer; it is held for milliseconds, never while the job runs.
 */

ngx_int_t
ngx_http_oxmigrate_admin_jobs_exclusive(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res,
    ngx_http_oxmigrate_admin_service_pt svc)
{
    MYSQL      *m;
    ngx_int_t   rc;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_store_job_lock(m, c->pool);

    if (rc == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR, "busy",
                                             "another job is being "
                                             "started, try again");
    }

    rc = svc(c, a, res);

    ngx_http_oxmigrate_admin_store_job_unlock(m, c->pool, c->log);

    return rc;
}


/* a job start: its result (res->data, a job_started_t), svc locked or not */

ngx_int_t
ngx_http_oxmigrate_admin_jobs_start(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res,
    ngx_http_oxmigrate_admin_service_pt svc, ngx_uint_t lock)
{
    res->data = ngx_pcalloc(c->pool,
                            sizeof(ngx_http_oxmigrate_job_started_t));
    if (res->data == NULL) {
        return NGX_ERROR;
    }

    return lock ? ngx_http_oxmigrate_admin_jobs_exclusive(c, a, res, svc)
                : svc(c, a, res);
}


/*
 * One job at a time, whatever its kind: an upgrade and a runallupdate (or
 * two of either, or a resumed one next to any) would run the updates of
 * the same schemas at once, and the loser's schemas would fail with
 * UPD-0003.  "except" is the job being resumed (0: none), which may still
 * be "running" with a stale heartbeat.  NGX_DECLINED: job_running, *other
 * the job that runs.
 */

ngx_int_t
ngx_http_oxmigrate_admin_jobs_idle(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, uint64_t except, ngx_http_oxmigrate_admin_res_t *res,
    int64_t *other)
{
    char        *kind;
    uint64_t     id;
    ngx_int_t    rc;
    ngx_uint_t   paused;

    rc = ngx_http_oxmigrate_admin_store_job_other(m, c->pool,
                             ngx_http_oxmigrate_admin_job_stale(c->alcf),
                             except, &id, &kind, &paused);

    if (rc == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    *other = id;

    return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED, "job_running",
                                         "%s job %uL is %s", kind, id,
                                         paused
                                         ? "paused (continue or cancel it)"
                                         : "still running");
}


static ngx_int_t
ngx_http_oxmigrate_admin_job_schemas(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, ngx_array_t *plan)
{
    char                             *pname, *host;
    uint64_t                          pool_id;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_dbhost_t       h;
    ngx_http_oxmigrate_job_schema_t  *js;
    ngx_http_oxmigrate_schema_ref_t   *s;

    s = plan->elts;
    pool_id = (uint64_t) -1;
    host = "";

    for (i = 0; i < plan->nelts; i++) {

        if (s[i].pool_id != pool_id) {
            pool_id = s[i].pool_id;

            if (ngx_http_oxmigrate_admin_pool_host(c->pool, m, pool_id, &h,
                                                   &pname)
                == NGX_OK)
            {
                host = ngx_http_oxmigrate_admin_host_port(job->pool, &h);
                if (host == NULL) {
                    return NGX_ERROR;
                }

            } else {
                host = "";
            }
        }

        js = ngx_array_push(&job->schemas);
        if (js == NULL) {
            return NGX_ERROR;
        }

        js->name = ngx_http_oxmigrate_admin_strndup(job->pool, s[i].name,
                                                    ngx_strlen(s[i].name));
        if (js->name == NULL) {
            return NGX_ERROR;
        }

        js->pool_id = pool_id;
        js->host = host;
        js->seq = i;
        js->contexts = s[i].contexts;
        js->state = NGX_HTTP_OXMIGRATE_S_PENDING;
    }

    return NGX_OK;
}


/*
 * A new job of the schemas of a plan (schema_refs, in their order), with
 * their database hosts.  NULL: no job (res says why).
 */

void *
ngx_http_oxmigrate_admin_job_planned(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, ngx_uint_t kind, ngx_array_t *plan,
    ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_http_oxmigrate_job_t  *job;

    job = ngx_http_oxmigrate_admin_job_make(c, kind, 0);
    if (job == NULL) {
        (void) ngx_http_oxmigrate_admin_fail(res, NGX_ERROR, "internal",
                                             "out of memory");
        return NULL;
    }

    if (ngx_http_oxmigrate_admin_job_schemas(c, m, job, plan) != NGX_OK) {
        ngx_http_oxmigrate_admin_job_free(job);
        (void) ngx_http_oxmigrate_admin_db_fail(res, m);
        return NULL;
    }

    return job;
}


/* INSERT a planned job; the module starts it once it is answered */

ngx_int_t
ngx_http_oxmigrate_admin_job_create(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, MYSQL *m, void *data,
    ngx_http_oxmigrate_job_started_t *st, ngx_http_oxmigrate_admin_res_t *res)
{
    char                      *owner, *p;
    ngx_str_t                  options;
    ngx_http_oxmigrate_job_t  *job = data;

    /* the request's body is the job's options; none (blank): defaults */

    options.data = (u_char *) "{}";
    options.len = 2;

    for (p = (char *) a->body; p && *p; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            options.data = a->body;
            options.len = a->body_len;
            break;
        }
    }

    owner = ngx_http_oxmigrate_admin_owner(c->pool);

    job->id = ngx_http_oxmigrate_admin_store_job_insert(m, c->pool, job,
                   &options, c->user, owner ? owner : "?",
                   ngx_http_oxmigrate_admin_caches(c->alcf),
                   ngx_http_oxmigrate_admin_arg_str(a->window),
                   a->max_downtime);
    if (job->id == 0) {
        ngx_http_oxmigrate_admin_job_free(job);
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    st->id = job->id;
    st->upgrade = (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE);
    st->server_id = job->server_id;
    st->schemas = job->schemas.nelts;

    res->job = job;

    return NGX_OK;
}


/*
 * A new driver for an interrupted job (resume: a pause or cancel asked of
 * the dead driver still holds) or a paused or interrupted one (cont:
 * POST /jobs/{id}/continue, which also clears a pause).
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_take(ngx_http_oxmigrate_admin_conn_t *c,
    int64_t id, ngx_uint_t cont, ngx_http_oxmigrate_job_started_t *st,
    ngx_http_oxmigrate_admin_res_t *res)
{
    char                             *owner;
    MYSQL                            *m;
    int64_t                           stale, rc;
    uint64_t                          claim;
    ngx_uint_t                        kind, remaining;
    ngx_http_oxmigrate_job_t         *job;
    ngx_http_oxmigrate_job_stored_t   row;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    stale = ngx_http_oxmigrate_admin_job_stale(c->alcf);

    /*
     * An unknown job and one that cannot be resumed are answered as such
     * before another running job is: they would not start either way.
     */

    rc = ngx_http_oxmigrate_admin_store_job_stored(m, c->pool, id, stale,
                                                   cont, &row);
    if (rc == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_job",
                                             "job %L not found", id);
    }

    rc = 0;
    claim = ngx_http_oxmigrate_admin_job_claim();

    if (row.resumable) {
        if (ngx_http_oxmigrate_admin_jobs_idle(c, m, (uint64_t) id, res,
                                               &st->other)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        owner = ngx_http_oxmigrate_admin_owner(c->pool);

        rc = ngx_http_oxmigrate_admin_store_job_claim(m, c->pool, id, cont,
                                                      stale, claim,
                                                      owner ? owner : "?");
        if (rc < 0) {
            return ngx_http_oxmigrate_admin_db_fail(res, m);
        }
    }

    if (rc == 0) {
        /* a resumable job that the UPDATE missed was taken over: it runs */
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                   "job_not_resumable",
                   "job %L is %s; only an interrupted%s job can be %s",
                   id, (row.resumable
                        || ngx_strcmp(row.state, "running") == 0)
                       ? "still running" : row.state,
                   cont ? " or a paused" : "",
                   cont ? "continued" : ngx_strcmp(row.state, "paused") == 0
                          ? "resumed (a paused one: POST"
                            " /jobs/{id}/continue)" : "resumed");
    }

    kind = (ngx_strcmp(row.kind, "upgrade") == 0)
           ? NGX_HTTP_OXMIGRATE_JOB_UPGRADE : NGX_HTTP_OXMIGRATE_JOB_UPDATES;

    job = ngx_http_oxmigrate_admin_job_make(c, kind, id);
    if (job == NULL) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR, "internal",
                                             "out of memory");
    }

    job->claim = claim;
    ngx_http_oxmigrate_admin_job_restore(job, &row);

    if (ngx_http_oxmigrate_admin_store_job_load(job, m, c->pool, &remaining)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_job_free(job);
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    st->id = id;
    st->taken = cont ? "continued" : "resumed";
    st->remaining = remaining;

    res->job = job;

    return NGX_OK;
}
