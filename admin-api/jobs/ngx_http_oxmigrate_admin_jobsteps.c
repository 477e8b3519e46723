/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the steps of a job (thread pool).  One step is one
 * schema: disable, changeserver, update, enable for an upgrade, update for
 * runallupdate, through the steps interface (OX tools or SQL).  Every
 * state change is written to configdb by the step itself, conditional on
 * the job's claim; the job's heartbeat is refreshed at every step.
 */


#include "ngx_http_oxmigrate_admin_job.h"


/*
 * The status a step's audit row records (the audit keeps the one the API
 * would have answered): done 200, refused 409, the tool 502, configdb 500.
 */

static ngx_uint_t
ngx_http_oxmigrate_admin_job_audit_status(ngx_http_oxmigrate_step_t *st,
    ngx_int_t rc)
{
    if (rc == NGX_OK) {
        return 200;
    }

    if (rc == NGX_DECLINED) {
        return 409;
    }

    return (st->reason && ngx_strncmp(st->reason, "ox_", 3) == 0) ? 502
                                                                   : 500;
}


/* disable, enable or changeserver, again after a reconnect */

#define NGX_HTTP_OXMIGRATE_DO_DISABLE       0
#define NGX_HTTP_OXMIGRATE_DO_ENABLE        1
#define NGX_HTTP_OXMIGRATE_DO_CHANGESERVER  2

static ngx_int_t
ngx_http_oxmigrate_admin_job_do(ngx_http_oxmigrate_job_run_t *run,
    ngx_uint_t what)
{
    ngx_int_t                    rc;
    ngx_http_oxmigrate_steps_t  *steps;

    steps = run->st.steps;

    do {
        rc = (what == NGX_HTTP_OXMIGRATE_DO_DISABLE)
             ? steps->disable(&run->st)
             : (what == NGX_HTTP_OXMIGRATE_DO_ENABLE)
             ? steps->enable(&run->st)
             : steps->changeserver(&run->st, run->job->server_id);

    } while (rc == NGX_ERROR
             && ngx_strcmp(run->st.reason, "db_error") == 0
             && ngx_http_oxmigrate_admin_job_again(run));

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_job_mark(run, "failed", NULL,
                                          run->st.res.msg);
    }

    ngx_http_oxmigrate_admin_job_audit(run,
        (what == NGX_HTTP_OXMIGRATE_DO_DISABLE) ? "disableschema"
        : (what == NGX_HTTP_OXMIGRATE_DO_ENABLE) ? "enableschema"
        : "changeserver",
        ngx_http_oxmigrate_admin_job_audit_status(&run->st, rc),
        rc == NGX_OK ? "done" : "failed", run->st.res.msg, NULL);

    return rc;
}



/*
 * The update of a schema; NGX_OK: every task succeeded; NGX_AGAIN: still
 * running inside OX, or the schema's database is gone (the step ends
 * interrupted, never failed, never enabled); NGX_ERROR: failed.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_update(ngx_http_oxmigrate_job_run_t *run,
    ngx_http_oxmigrate_job_step_t *step, ngx_http_oxmigrate_dbhost_t *h)
{
    ngx_int_t                     rc;
    ngx_http_oxmigrate_job_t     *job;
    ngx_http_oxmigrate_update_t   u;

    job = run->job;

    ngx_memzero(&u, sizeof(ngx_http_oxmigrate_update_t));
    u.alcf = job->alcf;
    u.configdb = ngx_http_oxmigrate_admin_dcf(job->omcf);
    u.pool = run->pool;
    u.log = job->log;
    u.host = h;
    u.schema = run->js->name;
    u.job_id = job->id;
    u.job_claim = job->claim;
    u.conn = step->sm;
    u.keep = 1;
    u.excluded = step->excluded;
    step->sm = NULL;

    rc = run->st.steps->update(&run->st, &u);

    step->excluded = u.excluded;

    if (rc == NGX_OK) {
        ngx_http_oxmigrate_metrics_tasks(u.executed ? u.executed->nelts : 0,
                                         u.failed ? u.failed->nelts : 0);
    }
    step->sm = u.conn;

    if (rc == NGX_OK && u.failed->nelts == 0) {
        ngx_http_oxmigrate_admin_job_audit(run, "runupdate", NGX_HTTP_OK,
                                           "done", "", &u);
        return NGX_OK;
    }

    if (rc == NGX_AGAIN) {
        /*
         * Nothing failed, nothing is enabled: OX's update still runs
         * inside the node, or the schema's database went away and stayed
         * away (what is recorded is done).  The job stops "interrupted"
         * and a resume goes on with this schema's sequence (it waits for
         * OX's lock first).
         */
        step->rc = NGX_ABORT;
        ngx_http_oxmigrate_admin_job_mark(run, "pending", NULL, u.error);
        ngx_http_oxmigrate_admin_job_audit(run, "runupdate",
                                           NGX_HTTP_SERVICE_UNAVAILABLE,
                                           "interrupted", u.error, &u);
        return NGX_AGAIN;
    }

    /* never enabled with failed tasks: disabled on the new server */
    ngx_http_oxmigrate_admin_job_mark(run, "failed",
                                      rc == NGX_OK ? u.failed : NULL,
                                      rc == NGX_OK
                                      ? "update tasks failed; disabled on the"
                                        " new server (POST /schemas/{s}/revert"
                                        " takes it back)"
                                      : u.error);
    ngx_http_oxmigrate_admin_job_audit(run, "runupdate",
        rc == NGX_BUSY ? NGX_HTTP_CONFLICT : NGX_HTTP_INTERNAL_SERVER_ERROR,
        "failed", rc == NGX_OK ? "update tasks failed" : u.error, &u);
    return NGX_ERROR;
}



/*
 * A cancel asked before the schema's update tasks started (in this run
 * and any run before; cancel: the job's row, as just read, says so): back
 * on its old server (changeserver, when it was moved) and enabled there.
 * NGX_DONE: so; NGX_DECLINED: no cancel.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_back(ngx_http_oxmigrate_job_run_t *run,
    ngx_uint_t cancel, ngx_uint_t moved)
{
    int64_t     n;
    uint64_t    from;
    ngx_int_t   rc;

    if (!cancel) {
        return NGX_DECLINED;
    }

    if (moved) {
        from = 0;
        if (ngx_http_oxmigrate_admin_store_step_from(run->m, run->pool,
                run->job->id, (uint64_t) run->js->seq, &from)
            == NGX_ERROR)
        {
            from = 0;
        }

        rc = from ? run->st.steps->changeserver(&run->st, from) : NGX_ERROR;
        if (rc != NGX_OK) {
            ngx_http_oxmigrate_admin_job_mark(run, "failed", NULL,
                                 from ? run->st.res.msg
                                      : "cancelled, but its old server is "
                                        "unknown: disabled on the new one");
            return NGX_ERROR;
        }
    }

    if (ngx_http_oxmigrate_admin_job_do(run, NGX_HTTP_OXMIGRATE_DO_ENABLE)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_oxmigrate_admin_job_invalidate(run);

    ngx_http_oxmigrate_admin_job_store(run, n,
        ngx_http_oxmigrate_admin_store_step_cancelled(run->m, run->pool,
            run->job->id, (uint64_t) run->js->seq,
            ngx_http_oxmigrate_admin_now_ms()),
        n < 0);

    return NGX_DONE;
}



/*
 * OX's order (UpgradeSchemata, seed 000 steps 4-7): disable, changeserver,
 * then the update tasks on the new server ("ensures that the context to
 * server resolve works"), then enable.  This is the first half.  NGX_OK:
 * disabled and on the new server; NGX_DONE: cancelled and back; else the
 * schema is marked.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_move(ngx_http_oxmigrate_job_run_t *run,
    ngx_http_oxmigrate_job_step_t *step, ngx_http_oxmigrate_step_look_t *lk,
    int64_t *disabled_ms)
{
    ngx_int_t                  rc;
    ngx_uint_t                 disabled;
    ngx_http_oxmigrate_job_t  *job;

    job = run->job;
    disabled = lk->disabled;

    /*
     * oxmigrate_hold's expected window and counts, before any balancer can
     * see the schema in maintenance (where it was is on its row since it
     * started: POST /schemas/{s}/revert takes it back there)
     */
    ngx_http_oxmigrate_admin_hold_disabled(run, lk->mean);

    if (ngx_http_oxmigrate_admin_job_do(run, NGX_HTTP_OXMIGRATE_DO_DISABLE)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* this run's disable, for the downtime histogram */
    *disabled_ms = ngx_http_oxmigrate_admin_now_ms();

    /* the first disable counts, and whether a cancel came meanwhile */
    ngx_http_oxmigrate_admin_job_store(run, rc,
        ngx_http_oxmigrate_admin_store_step_disabled(run->m, run->pool,
            job->id, job->claim, (uint64_t) run->js->seq,
            ngx_http_oxmigrate_admin_now_ms(), lk),
        rc == NGX_ERROR);
    ngx_http_oxmigrate_admin_job_looked(step, rc, lk);

    if (rc != NGX_ERROR) {
        run->changelog = lk->changelog;
    }

    ngx_http_oxmigrate_admin_job_invalidate(run);

    if (!disabled) {
        rc = ngx_http_oxmigrate_admin_job_back(run,
                 lk->control == NGX_HTTP_OXMIGRATE_C_CANCEL, 0);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ngx_http_oxmigrate_admin_job_do(run,
                                        NGX_HTTP_OXMIGRATE_DO_CHANGESERVER)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    /*
     * no invalidation here: a disabled context gets the maintenance
     * answer whatever its server; the enable (or the way back) invalidates
     */

    if (!disabled) {
        (void) ngx_http_oxmigrate_admin_job_look(run, step, 0, lk);
        rc = ngx_http_oxmigrate_admin_job_back(run,
                 lk->control == NGX_HTTP_OXMIGRATE_C_CANCEL, 1);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    return NGX_OK;
}



/*
 * One schema (thread): disable, changeserver, update, enable
 * (an upgrade) or the update alone (runallupdate).  step->rc: NGX_OK done,
 * NGX_ERROR failed, NGX_DECLINED the job is another driver's now.
 */

void
ngx_http_oxmigrate_admin_job_step(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_job_step_t  *step = data;

    char                            *pname, *why, *msg;
    int64_t                          disabled_ms, ena, n;
    ngx_int_t                        rc;
    ngx_uint_t                       upgrade, looked;
    ngx_http_oxmigrate_job_t        *job;
    ngx_http_oxmigrate_dbhost_t      h;
    ngx_http_oxmigrate_job_run_t     run;
    ngx_http_oxmigrate_step_look_t   lk;

    disabled_ms = 0;

    job = step->job;
    step->rc = NGX_ERROR;
    upgrade = (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE);
    ena = -1;
    why = NULL;
    looked = 0;

    ngx_http_oxmigrate_admin_thread_init();

    /* the heartbeat and the job's row, in one round trip */
    if (ngx_http_oxmigrate_admin_run_begin(step, &run, &lk) != NGX_OK) {
        return;
    }

    /*
     * Paused or cancelled: the schema does not start.  One the job
     * disabled before (a resume after a crash in its sequence) finishes
     * its sequence: it is never left half-moved.
     */

    if (lk.control != NGX_HTTP_OXMIGRATE_C_RUN
        && (!upgrade || !lk.disabled))
    {
        step->rc = NGX_AGAIN;
        goto done;
    }

    /* running; an upgrade's schema also where it was, before the disable */
    ngx_http_oxmigrate_admin_job_store(&run, n,
        ngx_http_oxmigrate_admin_store_step_start(run.m, run.pool, job->id,
            (uint64_t) run.js->seq, ngx_http_oxmigrate_admin_now_ms(),
            upgrade ? run.js->name : NULL, job->server_id),
        n < 0);

    if (run.m == NULL) {
        goto done;
    }

    if (ngx_http_oxmigrate_admin_pool_host(run.pool, run.m, run.js->pool_id,
                                           &h, &pname)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_job_mark(&run, "failed", NULL,
                                          "its db_pool is unknown");
        goto done;
    }

    ngx_http_oxmigrate_admin_step_init(&run.st, job->alcf, run.pool, job->log,
                                       run.m, run.js->name);
    run.st.job = 1;

    if (upgrade) {
        rc = ngx_http_oxmigrate_admin_job_move(&run, step, &lk,
                                               &disabled_ms);
        if (rc != NGX_OK) {
            step->rc = (rc == NGX_DONE) ? NGX_DONE : step->rc;
            goto done;
        }
    }

    /* NGX_AGAIN: interrupted (step->rc is NGX_ABORT), a resume goes on */
    if (ngx_http_oxmigrate_admin_job_update(&run, step, &h) != NGX_OK) {
        goto done;
    }

    /*
     * The checks before the enable: a failed one leaves the schema
     * disabled on the new server ("failed"); without force the job stops
     * (failed), with force it pauses for a human.
     */

    if (upgrade
        && ngx_http_oxmigrate_admin_job_checks(job, run.pool, run.m, step->sm,
                                               run.js->name,
                                               (uint64_t) run.js->seq, &why)
           == NGX_DECLINED)
    {
        msg = ngx_pnalloc(run.pool, ngx_strlen(why ? why : "?") + 120);
        if (msg) {
            ngx_sprintf((u_char *) msg, "check failed: %s; disabled on the"
                        " new server (POST /schemas/{s}/revert takes it"
                        " back)%Z", why ? why : "?");
        }

        ngx_http_oxmigrate_admin_job_mark(&run, "failed", NULL,
                                          msg ? msg : "check failed");

        if (job->force) {
            ngx_http_oxmigrate_admin_job_store(&run, n,
                ngx_http_oxmigrate_admin_store_step_pause(run.m, run.pool,
                    job->id, job->claim, run.js->name, why ? why : "?"),
                n < 0);
        }

        goto done;
    }

    if (upgrade) {
        if (ngx_http_oxmigrate_admin_job_do(&run,
                                            NGX_HTTP_OXMIGRATE_DO_ENABLE)
            != NGX_OK)
        {
            goto done;
        }

        ena = ngx_http_oxmigrate_admin_now_ms();

        if (disabled_ms) {
            ngx_http_oxmigrate_metrics_downtime(
                (ngx_msec_t) (ngx_http_oxmigrate_admin_now_ms() - disabled_ms));
        }

        ngx_http_oxmigrate_admin_job_invalidate(&run);
    }

    /*
     * done, the audit rows of its steps, the canary (after pause_after
     * schemas done the job pauses, once) and what the job is asked now:
     * one round trip
     */
    ngx_http_oxmigrate_admin_job_store(&run, rc,
        ngx_http_oxmigrate_admin_store_step_done(run.m, run.pool, job->id,
            job->claim, (uint64_t) run.js->seq,
            run.st.cache_why[0] ? run.st.cache_why : "", ena,
            ngx_http_oxmigrate_admin_now_ms(), run.audit,
            job->pause_after ? NGX_HTTP_OXMIGRATE_LOOK_CANARY : 0, &lk),
        rc == NGX_ERROR);

    if (rc != NGX_ERROR) {
        run.audit = NULL;
        looked = 1;
        ngx_http_oxmigrate_admin_job_looked(step, rc, &lk);
    }

    if (rc != NGX_ERROR || run.m) {
        /* done; a write that failed for good is logged */
        step->rc = NGX_OK;
    }

done:

    if (run.m == NULL) {
        /* configdb stayed away: the job stops, to be resumed */
        step->rc = NGX_ABORT;

    } else if (!looked) {
        /*
         * a pause or cancel asked meanwhile: no further schema starts (the
         * next step's beginning or the driver's poll writes the heartbeat)
         */
        (void) ngx_http_oxmigrate_admin_job_look(&run, step, 0, &lk);
    }

    ngx_http_oxmigrate_admin_run_close(step, &run);
}



void
ngx_http_oxmigrate_admin_job_finish(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_job_t  *job = data;

    const char                      *state;
    ngx_uint_t                       paused, cancelled;
    MYSQL                           *m, **conns;
    int64_t                          now;
    ngx_uint_t                       i;
    ngx_pool_t                      *pool;
    ngx_http_oxmigrate_job_host_t   *h;

    ngx_http_oxmigrate_admin_thread_init();

    pool = ngx_create_pool(4096, job->log);
    if (pool == NULL) {
        return;
    }

    /* nothing runs now: the idle connections are ours */
    m = NULL;
    conns = job->conns.elts;

    for (i = 0; i < job->conns.nelts; i++) {
        if (m == NULL) {
            m = conns[i];

        } else {
            mysql_close(conns[i]);
        }
    }

    job->conns.nelts = 0;

    h = job->hosts.elts;
    for (i = 0; i < job->hosts.nelts; i++) {
        if (h[i].m) {
            mysql_close(h[i].m);
            h[i].m = NULL;
        }
    }

    if (m == NULL) {
        m = ngx_http_oxmigrate_admin_job_db(job, pool);
    }

    if (m) {
        now = ngx_http_oxmigrate_admin_now_ms();

        /*
         * A job asked to pause with schemas left waits as "paused" (no
         * driver: POST /jobs/{id}/continue starts one); a failure without
         * force ends it "failed" first.  A continue that cleared the pause
         * while this driver ended leaves it "interrupted": resume it (a
         * cancel that came meanwhile stays asked of the resumed driver).
         */

        cancelled = !job->interrupted
                    && job->control == NGX_HTTP_OXMIGRATE_C_CANCEL;
        paused = !job->interrupted && !cancelled
                 && !(job->failed && !job->force)
                 && job->control == NGX_HTTP_OXMIGRATE_C_PAUSE
                 && job->pending;

        state = job->interrupted ? "interrupted"
                : cancelled ? "cancelled"
                : job->failed ? "failed" : "done";

        /* never over a driver that took the job over */
        (void) ngx_http_oxmigrate_admin_store_job_end(m, pool, job->id,
                                                      job->claim, paused,
                                                      state,
                                                      job->interrupted
                                                      ? -1 : now, now);

        if (cancelled) {
            (void) ngx_http_oxmigrate_admin_store_job_unstarted(m, pool,
                                                                job->id);
        }

        mysql_close(m);
    }

    ngx_destroy_pool(pool);
}



/*
 * The driver's poll (thread, every second while the job runs): its
 * heartbeat (also while it waits with nothing running), and what it is
 * asked to do and with which parallel.  poll_rc NGX_DECLINED: the job is
 * another driver's now.
 */

void
ngx_http_oxmigrate_admin_job_poll(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_job_step_t  *step = data;

    ngx_http_oxmigrate_job_t        *job;
    ngx_http_oxmigrate_job_run_t     run;
    ngx_http_oxmigrate_step_look_t   lk;

    job = step->job;
    job->poll_rc = NGX_ERROR;

    ngx_http_oxmigrate_admin_thread_init();

    if (ngx_http_oxmigrate_admin_run_open(step, &run, 4096) != NGX_OK) {
        return;
    }

    /*
     * The heartbeat, max_downtime (a schema disabled for longer is
     * reported and the job pauses after it; the schema itself goes on:
     * never killed) and the job's row: one round trip
     */
    job->poll_rc = ngx_http_oxmigrate_admin_job_look(&run, step,
                       NGX_HTTP_OXMIGRATE_LOOK_BEAT
                       | NGX_HTTP_OXMIGRATE_LOOK_DOWNTIME
                       | NGX_HTTP_OXMIGRATE_LOOK_WINDOW, &lk);

    job->poll_control = step->control;
    job->poll_parallel = step->parallel;
    job->poll_win_start = -1;
    job->poll_win_end = -1;
    job->poll_minute = ngx_http_oxmigrate_admin_job_minute(job->alcf);

    if (job->poll_rc == NGX_OK && lk.window
        && ngx_http_oxmigrate_admin_job_window(lk.window,
                                               &job->poll_win_start,
                                               &job->poll_win_end)
           != NGX_OK)
    {
        job->poll_win_start = -1;
        job->poll_win_end = -1;
    }

    if (run.m == NULL) {
        job->poll_rc = NGX_ERROR;
    }

    ngx_http_oxmigrate_admin_run_close(step, &run);
}
