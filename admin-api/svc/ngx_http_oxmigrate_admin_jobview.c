/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: an existing job: GET /jobs and GET
 * /jobs/{id} (as configdb has it, to any worker of any balancer) and POST
 * /jobs/{id}/resume.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin_jobmake.h"


static ngx_int_t ngx_http_oxmigrate_admin_job_resume_locked(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);


/*
 * What GET /jobs shows of a row: the state ("interrupted" without a
 * driver); whether schemas may start now (this location's clock and
 * zone); rate: contexts per second over the schemas done so far (each
 * schema's last run, start to end, weighted by its contexts);
 * eta_seconds: the contexts left at that rate, as many at once as
 * parallel and their database hosts allow.  rate, eta < 0: nothing
 * measured yet, or the job is over.
 */

static void
ngx_http_oxmigrate_admin_job_shows(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_job_row_t *jr, int64_t stale)
{
    off_t      done_ctx, done_ms, left_ctx, hosts, par;
    ngx_int_t  ws, we;

    jr->state = ngx_http_oxmigrate_admin_job_shown(jr->raw_state,
                       ngx_http_oxmigrate_admin_job_col(jr->heartbeat, 0)
                       < stale);

    jr->window_open = -1;

    if (jr->window
        && ngx_http_oxmigrate_admin_job_window(jr->window, &ws, &we)
           == NGX_OK)
    {
        jr->window_open = ngx_http_oxmigrate_admin_job_inside(ws, we,
                              ngx_http_oxmigrate_admin_job_minute(c->alcf));
    }

    done_ctx = ngx_http_oxmigrate_admin_job_col(jr->done_ctx, 0);
    done_ms = ngx_http_oxmigrate_admin_job_col(jr->done_ms, 0);
    left_ctx = ngx_http_oxmigrate_admin_job_col(jr->left_ctx, 0);
    hosts = ngx_http_oxmigrate_admin_job_col(jr->hosts, 0);
    par = ngx_http_oxmigrate_admin_job_col(jr->par, 1);

    jr->rate = -1;
    jr->eta = -1;

    if (done_ctx > 0 && done_ms > 0) {
        jr->rate = (double) done_ctx * 1000.0 / (double) done_ms;
    }

    if (jr->rate > 0 && ngx_http_oxmigrate_admin_job_unfinished(jr->state)) {
        if (par < 1) {
            par = 1;
        }

        if (hosts > 0 && hosts < par) {
            par = hosts;
        }

        jr->eta = (int64_t) ((double) left_ctx / jr->rate / par + 0.5);
    }
}


/* GET /jobs: data is an array of job_row_t */

ngx_int_t
ngx_http_oxmigrate_admin_jobs_list(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL                         *m;
    int64_t                        stale;
    ngx_uint_t                     i;
    ngx_array_t                   *rows;
    ngx_http_oxmigrate_job_row_t  *jr;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_store_job_rows(m, c->pool, 0, a->rows,
                                                &rows)
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    stale = ngx_http_oxmigrate_admin_job_stale(c->alcf);

    jr = rows->elts;
    for (i = 0; i < rows->nelts; i++) {
        ngx_http_oxmigrate_admin_job_shows(c, &jr[i], stale);
    }

    res->data = rows;

    return NGX_OK;
}


/* GET /jobs/{id}: data is a job_row_t with its schemas */

ngx_int_t
ngx_http_oxmigrate_admin_job_get(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL                         *m;
    int64_t                        id;
    ngx_int_t                      rc;
    ngx_array_t                   *rows;
    ngx_http_oxmigrate_job_row_t  *jr;

    if (ngx_http_oxmigrate_admin_job_arg(a, res, &id) != NGX_OK) {
        return NGX_DECLINED;
    }

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_store_job_rows(m, c->pool, (uint64_t) id,
                                                 0, &rows);
    if (rc == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_job",
                                             "job %L not found", id);
    }

    jr = rows->elts;

    ngx_http_oxmigrate_admin_job_shows(c, jr,
                                  ngx_http_oxmigrate_admin_job_stale(c->alcf));

    /* its schemas; none readable: an empty list */
    if (ngx_http_oxmigrate_admin_store_job_schemas(m, c->pool, jr->id,
                                                   &jr->schemas)
        != NGX_OK)
    {
        jr->schemas = ngx_array_create(c->pool, 1,
                          sizeof(ngx_http_oxmigrate_job_schema_row_t));
        if (jr->schemas == NULL) {
            return NGX_ERROR;
        }
    }

    /* oxmigrate_hold on the balancers: held, still answered CTX-0007 */
    ngx_http_oxmigrate_admin_hold_counts(c->omcf->redis, c->log,
                                         jr->schemas);

    res->data = jr;

    return NGX_OK;
}


/* POST /jobs/{id}/resume: data is a job_started_t */

ngx_int_t
ngx_http_oxmigrate_admin_job_resume(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    /* a resumed job starts again: the same one-job-at-a-time guard */
    return ngx_http_oxmigrate_admin_jobs_start(c, a, res,
                                   ngx_http_oxmigrate_admin_job_resume_locked,
                                   1);
}


static ngx_int_t
ngx_http_oxmigrate_admin_job_resume_locked(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    int64_t  id;

    if (ngx_http_oxmigrate_admin_job_arg(a, res, &id) != NGX_OK) {
        return NGX_DECLINED;
    }

    return ngx_http_oxmigrate_admin_job_take(c, id, 0, res->data, res);
}
