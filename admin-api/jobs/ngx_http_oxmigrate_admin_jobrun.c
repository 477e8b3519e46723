/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: a job's run on the thread side, what its steps and
 * polls share: the configdb connection (lent by the driver or new, again
 * after a reconnect), the heartbeat, the bookkeeping statements on the
 * job's rows (conditional on its claim), the audit rows of a schema's
 * steps, the control the driver is asked for, the canary and the
 * balancers' cache invalidation.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin_job.h"


MYSQL *
ngx_http_oxmigrate_admin_job_db(ngx_http_oxmigrate_job_t *job,
    ngx_pool_t *pool)
{
    char    err[256];
    MYSQL  *m;

    m = ngx_http_oxmigrate_admin_configdb_connect(
            ngx_http_oxmigrate_admin_dcf(job->omcf), pool, err, sizeof(err));
    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "oxmigrate admin: job %uL: configdb: %s", job->id, err);
    }

    return m;
}



/* the heartbeat; NGX_DECLINED: another driver claimed the job */

ngx_int_t
ngx_http_oxmigrate_admin_job_beat(ngx_http_oxmigrate_job_t *job, MYSQL *m,
    ngx_pool_t *pool)
{
    int64_t     rc;
    MYSQL_RES  *res;

    rc = ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE oxmigrate_job SET heartbeat = %D"
             " WHERE id = %U AND claim = %U",
             ngx_http_oxmigrate_admin_now_ms(), job->id, job->claim);

    if (rc != 0) {
        return rc < 0 ? NGX_ERROR : NGX_OK;
    }

    /* no row changed: lost, or a beat within the same millisecond */

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT 1 FROM oxmigrate_job WHERE id = %U AND claim = %U",
              job->id, job->claim);
    if (res == NULL) {
        return NGX_ERROR;
    }

    rc = mysql_num_rows(res);
    mysql_free_result(res);

    return rc ? NGX_OK : NGX_DECLINED;
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
        run->m = ngx_http_oxmigrate_admin_configdb_connect(
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



/* a bookkeeping statement on configdb, again after a reconnect */

int64_t
ngx_http_oxmigrate_admin_job_exec(ngx_http_oxmigrate_job_run_t *run,
    const char *fmt, ...)
{
    char     *sql;
    va_list   args;

    while (run->m) {
        va_start(args, fmt);
        sql = ngx_http_oxmigrate_admin_vsql(run->m, run->pool, fmt, args);
        va_end(args);

        if (sql == NULL) {
            return -1;
        }

        if (mysql_real_query(run->m, sql, ngx_strlen(sql)) == 0) {
            return (int64_t) mysql_affected_rows(run->m);
        }

        if (!ngx_http_oxmigrate_admin_job_again(run)) {
            if (run->m) {
                ngx_log_error(NGX_LOG_ERR, run->job->log, 0,
                              "oxmigrate admin: job %uL: %s", run->job->id,
                              mysql_error(run->m));
            }

            return -1;
        }
    }

    return -1;
}



void
ngx_http_oxmigrate_admin_job_mark(ngx_http_oxmigrate_job_run_t *run,
    const char *state, ngx_array_t *failed, const char *msg)
{
    size_t                len;
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

    (void) ngx_http_oxmigrate_admin_job_exec(run,
              "UPDATE oxmigrate_job_schema SET state = %s,"
              " failed_tasks = %V, message = %s"
              " WHERE job_id = %U AND seq = %U",
              state, &ft, msg ? msg : "", run->job->id,
              (uint64_t) run->js->seq);

    if (g) {
        yajl_gen_free(g);
    }
}



/*
 * What the job is asked to do (oxmigrate_job.control: POST /jobs/{id}/pause,
 * /cancel), its parallel (PATCH /jobs/{id}) and whether this schema was
 * disabled by the job before (a run after a resume).  NGX_ERROR: unknown.
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_control(ngx_http_oxmigrate_job_run_t *run,
    ngx_http_oxmigrate_job_step_t *step, ngx_uint_t *disabled)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    if (run->m == NULL) {
        return NGX_ERROR;
    }

    res = ngx_http_oxmigrate_admin_select(run->m, run->pool,
              "SELECT j.control, j.parallel, s.disabled_at IS NOT NULL"
              " FROM oxmigrate_job j JOIN oxmigrate_job_schema s"
              " ON s.job_id = j.id WHERE j.id = %U AND s.seq = %U",
              run->job->id, (uint64_t) run->js->seq);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row) {
        step->control = (row[0] == NULL) ? NGX_HTTP_OXMIGRATE_C_RUN
                        : (ngx_strcmp(row[0], "cancel") == 0)
                        ? NGX_HTTP_OXMIGRATE_C_CANCEL
                        : (ngx_strcmp(row[0], "pause") == 0)
                        ? NGX_HTTP_OXMIGRATE_C_PAUSE
                        : NGX_HTTP_OXMIGRATE_C_RUN;
        step->parallel = row[1] ? (ngx_uint_t) ngx_atoi((u_char *) row[1],
                                                  ngx_strlen(row[1])) : 0;
        if (step->parallel == (ngx_uint_t) NGX_ERROR) {
            step->parallel = 0;
        }

        if (disabled) {
            *disabled = (row[2] && row[2][0] == '1');
        }
    }

    mysql_free_result(res);

    return row ? NGX_OK : NGX_ERROR;
}



/* the canary: after pause_after schemas done the job pauses (once) */

void
ngx_http_oxmigrate_admin_job_canary(ngx_http_oxmigrate_job_run_t *run)
{
    if (run->job->pause_after == 0) {
        return;
    }

    (void) ngx_http_oxmigrate_admin_job_exec(run,
              "UPDATE oxmigrate_job SET control = 'pause',"
              " reason = CONCAT('pause_after: ', pause_after,"
              " ' schemas done (the canary)'),"
              " pause_after = NULL WHERE id = %U AND claim = %U"
              " AND pause_after IS NOT NULL AND control IS NULL"
              " AND pause_after <= (SELECT COUNT(*) FROM oxmigrate_job_schema"
              " WHERE job_id = %U AND state = 'done')",
              run->job->id, run->job->claim, run->job->id);
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
 * A step's pool and configdb connection, and whether the job is still
 * this driver's.  NGX_OK: go on; else step->rc is set, nothing to free.
 */

ngx_int_t
ngx_http_oxmigrate_admin_run_begin(ngx_http_oxmigrate_job_step_t *step,
    ngx_http_oxmigrate_job_run_t *run)
{
    ngx_http_oxmigrate_job_t  *job;

    job = step->job;

    if (ngx_http_oxmigrate_admin_run_open(step, run, 16384) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_job_beat(job, run->m, run->pool)
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
