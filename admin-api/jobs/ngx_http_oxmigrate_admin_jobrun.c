/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: a job's run on the thread side, what its steps and
 * polls share: the configdb connection (lent by the driver or new, again
 * after a reconnect, with multi statements), the store calls of the
 * bookkeeping on the job's rows (store/..._store_steps.c,
 * again after a reconnect), the audit rows of a schema's steps, the job's
 * row as the driver needs it (control, parallel) and the balancers' cache
 * invalidation.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin_job.h"
#include "ngx_http_oxmigrate_admin_store_steps.h"


MYSQL *
ngx_http_oxmigrate_admin_job_db(ngx_http_oxmigrate_job_t *job,
    ngx_pool_t *pool)
{
    char    err[256];
    MYSQL  *m;

    m = ngx_http_oxmigrate_admin_store_steps_connect(
            ngx_http_oxmigrate_admin_dcf(job->omcf), pool, err, sizeof(err));
    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "oxmigrate admin: job %uL: configdb: %s", job->id, err);
    }

    return m;
}



/*
 * After a step that changes routing: the balancers learn it from the
 * change log, or from an INCR of the epoch; a failed INCR (retried) is
 * kept in run->st and becomes the schema's message when it is done.
 */

void
ngx_http_oxmigrate_admin_job_invalidate(ngx_http_oxmigrate_job_run_t *run)
{
    char         why[sizeof(run->st.cache_why)];
    MYSQL       *m;
    const char  *how;

    /*
     * The schema's second invalidation (after the enable) asks configdb
     * for the change log only if the first found it: without it the epoch
     * is what tells the balancers (NULL: no look), also if one came since.
     */
    m = (run->st.cache == NULL || ngx_strcmp(run->st.cache, "change log") == 0)
        ? run->m : NULL;

    /* configdb's change log, as the schema's disable read it */
    if (run->changelog == 1) {
        run->st.cache = "change log";
        return;
    }

    if (run->changelog == 0) {
        m = NULL;
    }

    how = ngx_http_oxmigrate_admin_invalidate(m, run->job->omcf->redis,
                                              run->job->log, why,
                                              sizeof(why));
    run->st.cache = how;

    if (why[0]) {
        ngx_snprintf((u_char *) run->st.cache_why,
                     sizeof(run->st.cache_why) - 1,
                     "cache invalidation %s: %s%Z", how, why);
    }
}



/*
 * The configdb connection broke (a client error: server gone, lost,
 * cannot connect): reconnect, every half second for up to
 * oxmigrate_update_lock_idle (a configdb restart), so the step can do its
 * (idempotent) statement again.  1: reconnected; 0: not a broken
 * connection, or it stayed broken (then run->m is NULL: the schema stays
 * where it is, the job's heartbeat goes stale and it can be resumed).
 */

ngx_uint_t
ngx_http_oxmigrate_admin_job_again(ngx_http_oxmigrate_job_run_t *run)
{
    char          err[256];
    int64_t       end;
    unsigned int  e;

    e = mysql_errno(run->m);
    if (!ngx_http_oxmigrate_admin_gone(e)) {
        return 0;
    }

    ngx_log_error(NGX_LOG_WARN, run->job->log, 0,
                  "oxmigrate admin: job %uL, schema %s: configdb: %s, "
                  "reconnecting", run->job->id, run->js->name,
                  mysql_error(run->m));

    mysql_close(run->m);
    run->m = NULL;
    run->st.m = NULL;

    end = ngx_http_oxmigrate_admin_now_ms() + run->job->alcf->lock_idle;

    while (!ngx_terminate) {
        run->m = ngx_http_oxmigrate_admin_store_steps_connect(
                     ngx_http_oxmigrate_admin_dcf(run->job->omcf), run->pool,
                     err, sizeof(err));
        if (run->m) {
            run->st.m = run->m;
            return 1;
        }

        if (ngx_http_oxmigrate_admin_now_ms() >= end) {
            break;
        }

        ngx_msleep(500);
    }

    ngx_log_error(NGX_LOG_ERR, run->job->log, 0,
                  "oxmigrate admin: job %uL, schema %s: configdb stayed "
                  "unavailable (%s): the schema stays as it is until the "
                  "job is resumed", run->job->id, run->js->name, err);
    return 0;
}



/*
 * A store call on the run's connection failed: 1 if the connection broke
 * and is back (call again), else 0 (logged).
 */

ngx_uint_t
ngx_http_oxmigrate_admin_job_retry(ngx_http_oxmigrate_job_run_t *run)
{
    if (ngx_http_oxmigrate_admin_job_again(run)) {
        return 1;
    }

    if (run->m) {
        ngx_log_error(NGX_LOG_ERR, run->job->log, 0,
                      "oxmigrate admin: job %uL: %s", run->job->id,
                      mysql_error(run->m));
    }

    return 0;
}



void
ngx_http_oxmigrate_admin_job_mark(ngx_http_oxmigrate_job_run_t *run,
    const char *state, ngx_array_t *failed, const char *msg)
{
    size_t                len;
    int64_t               n;
    yajl_gen              g;
    ngx_str_t             ft;
    ngx_uint_t            i;
    const unsigned char  *buf;

    g = NULL;
    ngx_str_set(&ft, "[]");

    if (failed && failed->nelts) {
        g = yajl_gen_alloc(NULL);
        if (g) {
            yajl_gen_array_open(g);
            for (i = 0; i < failed->nelts; i++) {
                ngx_http_oxmigrate_admin_json_str(g,
                                               ((char **) failed->elts)[i]);
            }
            yajl_gen_array_close(g);
            yajl_gen_get_buf(g, &buf, &len);
            ft.data = (u_char *) buf;
            ft.len = len;
        }
    }

    ngx_http_oxmigrate_admin_job_store(run, n,
        ngx_http_oxmigrate_admin_store_step_mark(run->m, run->pool,
            run->job->id, (uint64_t) run->js->seq, state, &ft, msg),
        n < 0);

    if (g) {
        yajl_gen_free(g);
    }
}



/*
 * What the job is asked to do (oxmigrate_job.control: POST /jobs/{id}/pause,
 * /cancel) and its parallel (PATCH /jobs/{id}), into step; lk: the rest
 * of the job's row ("what": the writes before it in the same round trip,
 * the columns asked).  NGX_DECLINED: read, but the job is another
 * driver's now; NGX_ERROR: unknown.
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_look(ngx_http_oxmigrate_job_run_t *run,
    ngx_http_oxmigrate_job_step_t *step, ngx_uint_t what,
    ngx_http_oxmigrate_step_look_t *lk)
{
    ngx_int_t  rc;

    ngx_http_oxmigrate_admin_job_store(run, rc,
        ngx_http_oxmigrate_admin_store_step_look(run->m, run->pool,
            run->job->id, run->job->claim, (uint64_t) run->js->seq, what,
            ngx_http_oxmigrate_admin_now_ms(), lk),
        rc == NGX_ERROR);

    ngx_http_oxmigrate_admin_job_looked(step, rc, lk);

    return rc;
}


/* a look's control and parallel for the driver (none when it failed) */

void
ngx_http_oxmigrate_admin_job_looked(ngx_http_oxmigrate_job_step_t *step,
    ngx_int_t rc, ngx_http_oxmigrate_step_look_t *lk)
{
    if (rc == NGX_ERROR) {
        ngx_memzero(lk, sizeof(ngx_http_oxmigrate_step_look_t));
        return;
    }

    step->control = lk->control;
    step->parallel = lk->parallel;
}



/*
 * The audit row of a step of this schema (user "job N"): written with the
 * others of the schema when its step ends (job_close), one commit; a
 * failed or interrupted one at once.
 */

void
ngx_http_oxmigrate_admin_job_audit(ngx_http_oxmigrate_job_run_t *run,
    const char *action, ngx_uint_t status, const char *state,
    const char *msg, ngx_http_oxmigrate_update_t *u)
{
    ngx_http_oxmigrate_audit_step_t  a;

    ngx_memzero(&a, sizeof(ngx_http_oxmigrate_audit_step_t));
    a.alcf = run->job->alcf;
    a.log = run->job->log;
    a.job_id = run->job->id;
    a.action = action;
    a.schema = run->js->name;
    a.status = status;
    a.state = state;
    a.message = msg;

    if (ngx_strcmp(action, "changeserver") == 0) {
        a.server_id = run->job->server_id;
    }

    if (u) {
        a.executed = u->executed;
        a.failed = u->failed;
    }

    ngx_http_oxmigrate_admin_audit_step(run->m, run->pool, &a, &run->audit);

    if (status != NGX_HTTP_OK) {
        ngx_http_oxmigrate_admin_audit_flush(run->m, run->pool,
                                             run->job->log, run->audit);
        run->audit = NULL;
    }
}





/*
 * A step's or a poll's pool and configdb connection (the one the driver
 * lent it, else a new one).  NGX_ERROR: none, nothing to free.
 */

ngx_int_t
ngx_http_oxmigrate_admin_run_open(ngx_http_oxmigrate_job_step_t *step,
    ngx_http_oxmigrate_job_run_t *run, size_t size)
{
    ngx_http_oxmigrate_job_t  *job;

    job = step->job;

    ngx_memzero(run, sizeof(ngx_http_oxmigrate_job_run_t));
    run->job = job;
    run->js = step->s;
    run->changelog = -1;

    run->pool = ngx_create_pool(size, job->log);
    if (run->pool == NULL) {
        return NGX_ERROR;
    }

    run->m = step->m ? step->m
                     : ngx_http_oxmigrate_admin_job_db(job, run->pool);
    step->m = NULL;

    if (run->m == NULL) {
        ngx_destroy_pool(run->pool);
        return NGX_ERROR;
    }

    return NGX_OK;
}



/*
 * The end of a step or a poll: its connection goes back to the driver,
 * unless a client error (2xxx: gone, lost, ...) may have broken it.
 */

void
ngx_http_oxmigrate_admin_run_close(ngx_http_oxmigrate_job_step_t *step,
    ngx_http_oxmigrate_job_run_t *run)
{
    ngx_http_oxmigrate_admin_audit_flush(run->m, run->pool, run->job->log,
                                         run->audit);

    if (run->m == NULL) {
        /* configdb stayed away */

    } else if (mysql_errno(run->m) >= 2000 && mysql_errno(run->m) < 3000) {
        mysql_close(run->m);

    } else {
        step->m = run->m;
    }

    ngx_destroy_pool(run->pool);
}



/*
 * A step's pool and configdb connection, its heartbeat and the job's row
 * (lk; zero when unknown), and whether the job is still this driver's.
 * NGX_OK: go on; else step->rc is set, nothing to free.
 */

ngx_int_t
ngx_http_oxmigrate_admin_run_begin(ngx_http_oxmigrate_job_step_t *step,
    ngx_http_oxmigrate_job_run_t *run, ngx_http_oxmigrate_step_look_t *lk)
{
    ngx_uint_t                 what;
    ngx_http_oxmigrate_job_t  *job;

    job = step->job;

    if (ngx_http_oxmigrate_admin_run_open(step, run, 16384) != NGX_OK) {
        return NGX_ERROR;
    }

    /* the mean downtime so far: oxmigrate_hold's window (Redis) */
    what = NGX_HTTP_OXMIGRATE_LOOK_BEAT
           | (job->omcf->redis ? NGX_HTTP_OXMIGRATE_LOOK_MEAN : 0);

    if (ngx_http_oxmigrate_admin_job_look(run, step, what, lk)
        == NGX_DECLINED)
    {
        ngx_log_error(NGX_LOG_WARN, job->log, 0,
                      "oxmigrate admin: job %uL was resumed by another "
                      "worker while this one waited for a thread: it "
                      "stops here", job->id);
        step->rc = NGX_DECLINED;
        step->m = run->m;
        ngx_destroy_pool(run->pool);
        return NGX_DECLINED;
    }

    return NGX_OK;
}
