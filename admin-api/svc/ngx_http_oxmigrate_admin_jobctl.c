/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: steering a job (thread pool).  POST
 * /jobs/{id}/pause, /cancel and /continue, PATCH /jobs/{id}.
 *
 * Any worker of any balancer answers: the request is written to the job's
 * row in configdb (oxmigrate_job.control, .parallel) and the job's driver
 * (the worker that runs it) reads it every second and at every step
 * (jobs/ngx_http_oxmigrate_admin_jobdriver.c, _jobsteps.c).  A paused job
 * has no driver at all: it is "paused" in configdb, for as long as it
 * takes, and POST /jobs/{id}/continue gives it a new one (like a resume).
 * So a crash of a worker loses nothing that a resume would not find again.
 */


#include "ngx_http_oxmigrate_admin_jobmake.h"


static ngx_int_t ngx_http_oxmigrate_admin_job_continue_locked(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);


/*
 * The body's "window" (NULL: none or null); not "HH:MM-HH:MM": 400
 * (or_null: what else PATCH takes).
 */

ngx_int_t
ngx_http_oxmigrate_admin_window_arg(ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res, char **window, const char *or_null)
{
    ngx_int_t  ws, we;

    *window = ngx_http_oxmigrate_admin_arg_str(a->window);

    if (*window
        && ngx_http_oxmigrate_admin_job_window(*window, &ws, &we) != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "invalid_argument",
                                             "field \"window\" must be "
                                             "\"HH:MM-HH:MM\"%s", or_null);
    }

    return NGX_OK;
}


static ngx_http_oxmigrate_job_steered_t *
ngx_http_oxmigrate_admin_job_steered(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_http_oxmigrate_job_steered_t  *sd;

    sd = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_job_steered_t));
    if (sd == NULL) {
        return NULL;
    }

    res->data = sd;

    return sd;
}


/*
 * A job without a driver is paused or cancelled here and now, where its
 * row still is as it was read (dead: without a driver, else paused;
 * "meanwhile": what else may have happened to it); a new claim stops a
 * driver that was only slow.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_settle(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, ngx_http_oxmigrate_job_steered_t *sd, ngx_uint_t cancel,
    ngx_uint_t dead, const char *meanwhile,
    ngx_http_oxmigrate_admin_res_t *res)
{
    int64_t  rc;

    rc = ngx_http_oxmigrate_admin_store_job_settle(m, c->pool, sd->id,
                       cancel, dead, ngx_http_oxmigrate_admin_job_stale(c->alcf),
                       ngx_http_oxmigrate_admin_job_claim());
    if (rc < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == 0) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "job_not_running",
                                             "job %L was %s meanwhile",
                                             sd->id, meanwhile);
    }

    sd->state = cancel ? "cancelled" : "paused";

    return NGX_OK;
}


/* a pause or cancel asked of a running job's driver */

static ngx_int_t
ngx_http_oxmigrate_admin_job_ask_driver(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, ngx_http_oxmigrate_job_steered_t *sd, const char *want,
    const char *control, ngx_http_oxmigrate_admin_res_t *res)
{
    int64_t     rc;
    ngx_uint_t  cancel;

    cancel = (ngx_strcmp(want, "cancel") == 0);

    if (!cancel && ngx_strcmp(control, "cancel") == 0) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "job_cancelling",
                                             "job %L is being cancelled",
                                             sd->id);
    }

    rc = ngx_http_oxmigrate_admin_store_job_ask(m, c->pool, sd->id, want, 0,
                                                0);
    if (rc < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == 0 && ngx_strcmp(control, want) != 0) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "job_not_running",
                                             "job %L ended meanwhile",
                                             sd->id);
    }

    sd->accepted = 1;
    sd->state = "running";
    sd->control = want;
    sd->message = cancel
        ? "no further schema starts; a schema disabled whose update"
          " tasks have not started is enabled again on its old server,"
          " one whose tasks run is finished; then the job is"
          " \"cancelled\""
        : "no further schema starts; the schemas in flight finish"
          " their steps, then the job is \"paused\"";

    return NGX_OK;
}


/* POST /jobs/{id}/pause, /cancel: data is a job_steered_t */

static ngx_int_t
ngx_http_oxmigrate_admin_job_ask(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res,
    const char *want)
{
    MYSQL                             *m;
    int64_t                            rc;
    ngx_uint_t                         cancel;
    ngx_http_oxmigrate_job_steer_t     sr;
    ngx_http_oxmigrate_job_steered_t  *sd;

    sd = ngx_http_oxmigrate_admin_job_steered(c, a, res);
    if (sd == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_job_arg(a, res, &sd->id) != NGX_OK) {
        return NGX_DECLINED;
    }

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    cancel = (ngx_strcmp(want, "cancel") == 0);

    rc = ngx_http_oxmigrate_admin_store_job_steer(m, c->pool, sd->id,
                              ngx_http_oxmigrate_admin_job_stale(c->alcf),
                              &sr);
    if (rc == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_job",
                                             "job %L not found", sd->id);
    }

    if (ngx_strcmp(sr.state, "running") == 0 && !sr.dead) {
        return ngx_http_oxmigrate_admin_job_ask_driver(c, m, sd, want,
                                                       sr.control, res);
    }

    if (ngx_strcmp(sr.state, "paused") == 0) {
        if (!cancel) {
            sd->state = "paused";
            return NGX_OK;
        }

        return ngx_http_oxmigrate_admin_job_settle(c, m, sd, 1, 0,
                                                   "continued", res);
    }

    if (!sr.dead) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "job_not_running",
                                             "job %L is %s", sd->id,
                                             sr.state);
    }

    /*
     * Interrupted (its worker died).  Nothing in flight: it is paused or
     * cancelled here and now.  A schema in flight may be half-way: a
     * resume settles it first; the request is kept for the resumed
     * driver.
     */

    if (sr.inflight == 0) {
        return ngx_http_oxmigrate_admin_job_settle(c, m, sd, cancel, 1,
                                                   "resumed", res);
    }

    rc = ngx_http_oxmigrate_admin_store_job_ask(m, c->pool, sd->id, want, 1,
                              ngx_http_oxmigrate_admin_job_stale(c->alcf));
    if (rc < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    sd->accepted = 1;
    sd->state = "interrupted";
    sd->control = want;
    sd->message = "the job's worker died with schemas in flight: POST"
                  " /jobs/{id}/resume settles them, then the job ends as"
                  " asked";

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_job_pause(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    return ngx_http_oxmigrate_admin_job_ask(c, a, res, "pause");
}


ngx_int_t
ngx_http_oxmigrate_admin_job_cancel(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    return ngx_http_oxmigrate_admin_job_ask(c, a, res, "cancel");
}


/* POST /jobs/{id}/continue: data is a job_steered_t */

ngx_int_t
ngx_http_oxmigrate_admin_job_continue(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    if (ngx_http_oxmigrate_admin_job_steered(c, a, res) == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oxmigrate_admin_jobs_exclusive(c, a, res,
                                 ngx_http_oxmigrate_admin_job_continue_locked);
}


static ngx_int_t
ngx_http_oxmigrate_admin_job_continue_locked(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res)
{
    int64_t                            rc;
    ngx_http_oxmigrate_job_steered_t  *sd;

    sd = res->data;

    if (ngx_http_oxmigrate_admin_job_arg(a, res, &sd->id) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* still pausing (its schemas in flight run): it just goes on */

    rc = ngx_http_oxmigrate_admin_store_job_unpause(c->db, c->pool, sd->id,
                                  ngx_http_oxmigrate_admin_job_stale(c->alcf));
    if (rc < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, c->db);
    }

    if (rc > 0) {
        sd->state = "running";
        return NGX_OK;
    }

    sd->started = ngx_pcalloc(c->pool,
                              sizeof(ngx_http_oxmigrate_job_started_t));
    if (sd->started == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oxmigrate_admin_job_take(c, sd->id, 1, sd->started, res);
}


/*
 * PATCH /jobs/{id}: {"parallel": N} and/or {"window": ...} while it runs,
 * is paused or waits; data is a job_patched_t
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_patch(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    char                              *window;
    MYSQL                             *m;
    int64_t                            rc;
    ngx_int_t                          found;
    ngx_http_oxmigrate_job_patched_t  *jp;

    jp = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_job_patched_t));
    if (jp == NULL) {
        return NGX_ERROR;
    }

    res->data = jp;

    if (ngx_http_oxmigrate_admin_job_arg(a, res, &jp->id) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* "window": null clears it */

    if (a->parallel == NGX_HTTP_OXMIGRATE_ARG_UNSET && a->window == NULL) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "invalid_argument",
                                             "field \"parallel\" (1 to 64) "
                                             "or \"window\" is required");
    }

    rc = ngx_http_oxmigrate_admin_window_arg(a, res, &window, " or null");
    if (rc != NGX_OK) {
        return rc;
    }

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_store_job_patch(m, c->pool, jp->id,
                         a->parallel > 0 ? a->parallel : 0,
                         a->window != NULL, window);
    if (rc < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    found = ngx_http_oxmigrate_admin_store_job_patched(m, c->pool, jp->id,
                                                       jp);
    if (found == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (found == NGX_DECLINED) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_job",
                                             "job %L not found", jp->id);
    }

    if (rc == 0 && !ngx_http_oxmigrate_admin_job_unfinished(jp->state)) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "job_not_running",
                                             "job %L is %s", jp->id,
                                             jp->state);
    }

    return NGX_OK;
}
