/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: POST /schemas/{s}/revert {"force": false}
 * (thread pool): back to the server a schema had before the last upgrade
 * job that touched it, enabled there; refused while update tasks of the
 * new version ran on it, unless force.
 */


#include "ngx_http_oxmigrate_admin_store_jobs.h"


/* whether it may be reverted, and the tasks that ran since its job */

static ngx_int_t
ngx_http_oxmigrate_admin_revert_check(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, MYSQL *m,
    ngx_http_oxmigrate_reverted_t *rv, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL                          *sm;
    uint64_t                        pool_id;
    ngx_http_oxmigrate_last_job_t  *lj;

    lj = &rv->lj;

    switch (ngx_http_oxmigrate_admin_store_job_last(m, c->pool, rv->schema,
                                 ngx_http_oxmigrate_admin_job_stale(c->alcf),
                                 lj))
    {
    case NGX_ERROR:
        return ngx_http_oxmigrate_admin_db_fail(res, m);

    case NGX_DECLINED:
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED, "no_job",
                                             "no upgrade job touched schema "
                                             "'%s'", rv->schema);
    }

    if (lj->live && ngx_strcmp(lj->state, "running") == 0) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "job_running",
                                             "job %uL works on schema '%s'",
                                             lj->job_id, rv->schema);
    }

    if (lj->from_server_id == 0) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                   "unknown_server#revert", "job %uL did not record the "
                   "server schema '%s' had before: POST /schemas/%s/"
                   "changeserver and /enable by hand", lj->job_id,
                   rv->schema, rv->schema);
    }

    /* the update tasks that ran since the job disabled it */

    sm = ngx_http_oxmigrate_admin_store_schema_db(m, c->pool, rv->schema,
                                                  &pool_id);

    if (sm && lj->disabled_at
        && ngx_http_oxmigrate_admin_store_tasks_since(sm, c->pool,
                                                      lj->disabled_at,
                                                      &rv->tasks)
           != NGX_OK)
    {
        rv->tasks = NULL;
    }

    if (sm) {
        mysql_close(sm);
    }

    if (rv->tasks && rv->tasks->nelts && a->force != 1) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED, "tasks_ran",
                "%ui update task(s) of the new version ran on schema '%s' "
                "since job %uL disabled it; they are rarely reversible: "
                "send \"force\": true to revert anyway", rv->tasks->nelts,
                rv->schema, lj->job_id);
    }

    rv->forced = (rv->tasks && rv->tasks->nelts && a->force == 1);

    return NGX_OK;
}


/* data is a reverted_t */

ngx_int_t
ngx_http_oxmigrate_admin_schema_revert(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL                          *m;
    ngx_int_t                       rc;
    ngx_http_oxmigrate_step_t      *st;
    ngx_http_oxmigrate_reverted_t  *rv;

    rv = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_reverted_t));
    if (rv == NULL) {
        return NGX_ERROR;
    }

    res->data = rv;
    rv->schema = a->path[0];

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_schema_known(c, m, rv->schema, res);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_oxmigrate_admin_revert_check(c, a, m, rv, res);
    if (rc != NGX_OK) {
        return rc;
    }

    /* disable, changeserver back, enable there */

    st = &rv->st;
    ngx_http_oxmigrate_admin_step_init(st, c->alcf, c->pool, c->log, m,
                                       rv->schema);
    rv->stepped = 1;

    rc = st->steps->disable(st);
    if (rc == NGX_OK) {
        st->cache = ngx_http_oxmigrate_admin_invalidate(m, c->omcf->redis,
                                    c->log, st->cache_why,
                                    sizeof(st->cache_why));
        rc = st->steps->changeserver(st, rv->lj.from_server_id);
    }

    if (rc == NGX_OK) {
        rc = st->steps->enable(st);
    }

    if (rc != NGX_OK) {
        return ngx_http_oxmigrate_admin_fail(res, rc, st->reason, "%s",
                                             st->ox_failed && st->call
                                             ? st->call->error
                                             : st->res.msg);
    }

    st->cache = ngx_http_oxmigrate_admin_invalidate(m, c->omcf->redis, c->log,
                                                    st->cache_why,
                                                    sizeof(st->cache_why));

    ngx_http_oxmigrate_admin_store_job_reverted(m, c->pool, &rv->lj,
                                                rv->schema, c->user);

    return NGX_OK;
}
