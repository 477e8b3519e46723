
/*
 * oxmigrate admin API: the steps of a job (thread pool).  One step is one
 * schema: disable, update, changeserver, enable for an upgrade, update for
 * runallupdate, through the steps interface (OX tools or SQL).  Every
 * state change is written to configdb by the step itself, conditional on
 * the job's claim; the job's heartbeat is refreshed at every step.
 */


#include "ngx_http_oxmigrate_admin_job.h"


static MYSQL *
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

static ngx_int_t
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


/* one schema's step, as its helpers see it */

typedef struct {
    ngx_http_oxmigrate_job_t         *job;
    ngx_http_oxmigrate_job_schema_t  *js;
    ngx_pool_t                       *pool;
    MYSQL                            *m;      /* configdb; NULL: gone */
    ngx_http_oxmigrate_step_t         st;
} ngx_http_oxmigrate_job_run_t;


/*
 * After a step that changes routing: the balancers learn it from the
 * change log, or from an INCR of the epoch; a failed INCR (retried) is
 * kept in run->st and becomes the schema's message when it is done.
 */

static void
ngx_http_oxmigrate_admin_job_invalidate(ngx_http_oxmigrate_job_run_t *run)
{
    char         why[sizeof(run->st.cache_why)];
    const char  *how;

    how = ngx_http_oxmigrate_admin_invalidate(run->m, run->job->omcf->redis,
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

static ngx_uint_t
ngx_http_oxmigrate_admin_job_again(ngx_http_oxmigrate_job_run_t *run)
{
    char          err[256];
    int64_t       end;
    unsigned int  e;

    e = mysql_errno(run->m);
    if (e < 2000 || e >= 3000) {
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

static int64_t
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


static void
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

static ngx_int_t
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

static void
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


/* disable, enable or changeserver, again after a reconnect; 0: done */

#define NGX_HTTP_OXMIGRATE_DO_DISABLE       0
#define NGX_HTTP_OXMIGRATE_DO_ENABLE        1
#define NGX_HTTP_OXMIGRATE_DO_CHANGESERVER  2

static ngx_uint_t
ngx_http_oxmigrate_admin_job_do(ngx_http_oxmigrate_job_run_t *run,
    ngx_uint_t what)
{
    ngx_uint_t                   status;
    ngx_http_oxmigrate_steps_t  *steps;

    steps = run->st.steps;

    do {
        status = (what == NGX_HTTP_OXMIGRATE_DO_DISABLE)
                 ? steps->disable(&run->st)
                 : (what == NGX_HTTP_OXMIGRATE_DO_ENABLE)
                 ? steps->enable(&run->st)
                 : steps->changeserver(&run->st, run->job->server_id);

    } while (status == NGX_HTTP_INTERNAL_SERVER_ERROR
             && ngx_http_oxmigrate_admin_job_again(run));

    if (status) {
        ngx_http_oxmigrate_admin_job_mark(run, "failed", NULL,
                                          run->st.res.msg);
    }

    return status;
}


/* the update of a schema; NGX_OK: every task succeeded */

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
    step->sm = NULL;

    rc = run->st.steps->update(&run->st, &u);

    if (rc == NGX_OK) {
        ngx_http_oxmigrate_metrics_tasks(u.executed ? u.executed->nelts : 0,
                                         u.failed ? u.failed->nelts : 0);
    }
    step->sm = u.conn;

    if (rc == NGX_OK && u.failed->nelts == 0) {
        return NGX_OK;
    }

    /* without force the schema stays disabled on its old server */
    ngx_http_oxmigrate_admin_job_mark(run, "failed",
                                      rc == NGX_OK ? u.failed : NULL,
                                      rc == NGX_OK ? "update tasks failed"
                                                   : u.error);
    return NGX_ERROR;
}


/*
 * A step's or a poll's pool and configdb connection (the one the driver
 * lent it, else a new one).  NGX_ERROR: none, nothing to free.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_open(ngx_http_oxmigrate_job_step_t *step,
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

static void
ngx_http_oxmigrate_admin_job_close(ngx_http_oxmigrate_job_step_t *step,
    ngx_http_oxmigrate_job_run_t *run)
{
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

static ngx_int_t
ngx_http_oxmigrate_admin_job_begin(ngx_http_oxmigrate_job_step_t *step,
    ngx_http_oxmigrate_job_run_t *run)
{
    ngx_http_oxmigrate_job_t  *job;

    job = step->job;

    if (ngx_http_oxmigrate_admin_job_open(step, run, 16384) != NGX_OK) {
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


/*
 * One schema (thread): disable, update, changeserver, enable (an
 * upgrade) or the update alone (runallupdate).  step->rc: NGX_OK done,
 * NGX_ERROR failed, NGX_DECLINED the job is another driver's now.
 */

void
ngx_http_oxmigrate_admin_job_step(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_job_step_t  *step = data;

    char                          *pname, ena[32], *why, *msg;
    int64_t                        disabled_ms;
    ngx_uint_t                     upgrade, disabled;
    ngx_http_oxmigrate_job_t      *job;
    ngx_http_oxmigrate_dbhost_t    h;
    ngx_http_oxmigrate_job_run_t   run;

    disabled_ms = 0;

    job = step->job;
    step->rc = NGX_ERROR;
    upgrade = (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE);
    ngx_cpystrn((u_char *) ena, (u_char *) "NULL", sizeof(ena));
    disabled = 0;
    why = NULL;

    ngx_http_oxmigrate_admin_thread_init();

    if (ngx_http_oxmigrate_admin_job_begin(step, &run) != NGX_OK) {
        return;
    }

    /*
     * Paused or cancelled: the schema does not start.  One the job
     * disabled before (a resume after a crash in its sequence) finishes
     * its sequence: it is never left half-moved.
     */

    if (ngx_http_oxmigrate_admin_job_control(&run, step, &disabled)
        == NGX_OK
        && step->control != NGX_HTTP_OXMIGRATE_C_RUN
        && (!upgrade || !disabled))
    {
        step->rc = NGX_AGAIN;
        goto done;
    }

    (void) ngx_http_oxmigrate_admin_job_exec(&run,
              "UPDATE oxmigrate_job_schema SET state = 'running',"
              " started_at = %D, ended_at = NULL"
              " WHERE job_id = %U AND seq = %U",
              ngx_http_oxmigrate_admin_now_ms(), job->id,
              (uint64_t) run.js->seq);

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

    if (upgrade) {
        /* where it was: POST /schemas/{s}/revert takes it back there */
        (void) ngx_http_oxmigrate_admin_job_exec(&run,
                  "UPDATE oxmigrate_job_schema SET from_server_id ="
                  " COALESCE(from_server_id, (SELECT MIN(p.server_id)"
                  " FROM context_server2db_pool p WHERE p.db_schema = %s"
                  " AND p.server_id <> %U)) WHERE job_id = %U AND seq = %U",
                  run.js->name, job->server_id, job->id,
                  (uint64_t) run.js->seq);

        if (ngx_http_oxmigrate_admin_job_do(&run,
                                            NGX_HTTP_OXMIGRATE_DO_DISABLE))
        {
            goto done;
        }

        /* this run's disable, for the downtime histogram */
        disabled_ms = ngx_http_oxmigrate_admin_now_ms();

        /* the first disable counts: a resumed schema keeps its start */
        (void) ngx_http_oxmigrate_admin_job_exec(&run,
                  "UPDATE oxmigrate_job_schema"
                  " SET disabled_at = COALESCE(disabled_at, %D)"
                  " WHERE job_id = %U AND seq = %U",
                  ngx_http_oxmigrate_admin_now_ms(), job->id,
                  (uint64_t) run.js->seq);

        ngx_http_oxmigrate_admin_job_invalidate(&run);

        /*
         * Cancelled while it was disabled, before its update tasks started
         * (in this run and any run before): enabled again on its old
         * server.
         */

        if (!disabled
            && ngx_http_oxmigrate_admin_job_control(&run, step, NULL)
               == NGX_OK
            && step->control == NGX_HTTP_OXMIGRATE_C_CANCEL)
        {
            if (ngx_http_oxmigrate_admin_job_do(&run,
                                                NGX_HTTP_OXMIGRATE_DO_ENABLE))
            {
                goto done;
            }

            ngx_http_oxmigrate_admin_job_invalidate(&run);

            (void) ngx_http_oxmigrate_admin_job_exec(&run,
                      "UPDATE oxmigrate_job_schema SET state = 'cancelled',"
                      " message = 'cancelled before its update tasks ran:"
                      " enabled again on its old server', enabled_at = %D"
                      " WHERE job_id = %U AND seq = %U",
                      ngx_http_oxmigrate_admin_now_ms(), job->id,
                      (uint64_t) run.js->seq);

            step->rc = NGX_DONE;
            goto done;
        }
    }

    if (ngx_http_oxmigrate_admin_job_update(&run, step, &h) != NGX_OK) {
        goto done;
    }

    /*
     * The checks before the enable: a failed one leaves the schema
     * disabled on its old server ("failed"); without force the job stops
     * (failed), with force it pauses for a human.
     */

    if (upgrade
        && ngx_http_oxmigrate_admin_job_checks(job, run.pool, run.m, step->sm,
                                               run.js->name,
                                               (uint64_t) run.js->seq, &why)
           == NGX_DECLINED)
    {
        msg = ngx_pnalloc(run.pool, ngx_strlen(why ? why : "?") + 80);
        if (msg) {
            ngx_sprintf((u_char *) msg, "check failed: %s; disabled on its"
                        " old server%Z", why ? why : "?");
        }

        ngx_http_oxmigrate_admin_job_mark(&run, "failed", NULL,
                                          msg ? msg : "check failed");

        if (job->force) {
            (void) ngx_http_oxmigrate_admin_job_exec(&run,
                      "UPDATE oxmigrate_job SET control = 'pause',"
                      " reason = CONCAT('check failed on ', %s, ': ', %s)"
                      " WHERE id = %U AND claim = %U"
                      " AND (control IS NULL OR control = 'pause')",
                      run.js->name, why ? why : "?", job->id, job->claim);
        }

        goto done;
    }

    if (upgrade) {
        if (ngx_http_oxmigrate_admin_job_do(&run,
                                       NGX_HTTP_OXMIGRATE_DO_CHANGESERVER)
            || ngx_http_oxmigrate_admin_job_do(&run,
                                       NGX_HTTP_OXMIGRATE_DO_ENABLE))
        {
            goto done;
        }

        ngx_sprintf((u_char *) ena, "%L%Z", ngx_http_oxmigrate_admin_now_ms());

        if (disabled_ms) {
            ngx_http_oxmigrate_metrics_downtime(
                (ngx_msec_t) (ngx_http_oxmigrate_admin_now_ms() - disabled_ms));
        }

        ngx_http_oxmigrate_admin_job_invalidate(&run);
    }

    if (ngx_http_oxmigrate_admin_job_exec(&run,
            "UPDATE oxmigrate_job_schema SET state = 'done',"
            " failed_tasks = '[]', message = %s, enabled_at = %R,"
            " ended_at = %D WHERE job_id = %U AND seq = %U",
            run.st.cache_why[0] ? run.st.cache_why : "",
            ena, ngx_http_oxmigrate_admin_now_ms(), job->id,
            (uint64_t) run.js->seq)
        >= 0 || run.m)
    {
        /* done; a write that failed for good is logged */
        step->rc = NGX_OK;

        ngx_http_oxmigrate_admin_job_canary(&run);
    }

done:

    if (run.m == NULL) {
        /* configdb stayed away: the job stops, to be resumed */
        step->rc = NGX_ABORT;

    } else {
        (void) ngx_http_oxmigrate_admin_job_beat(job, run.m, run.pool);

        /* a pause or cancel asked meanwhile: no further schema starts */
        (void) ngx_http_oxmigrate_admin_job_control(&run, step, NULL);
    }

    ngx_http_oxmigrate_admin_job_close(step, &run);
}


void
ngx_http_oxmigrate_admin_job_finish(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_job_t  *job = data;

    char                             fin[32];
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
        ngx_sprintf((u_char *) fin, "%L%Z", now);

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
        if (paused) {
            (void) ngx_http_oxmigrate_admin_exec(m, pool,
                      "UPDATE oxmigrate_job SET state ="
                      " IF(control = 'pause', 'paused', 'interrupted'),"
                      " control = IF(control = 'pause', NULL, control),"
                      " finished = NULL, heartbeat = %D"
                      " WHERE id = %U AND claim = %U",
                      now, job->id, job->claim);

        } else {
            (void) ngx_http_oxmigrate_admin_exec(m, pool,
                      "UPDATE oxmigrate_job SET state = %s, finished = %R,"
                      " heartbeat = %D WHERE id = %U AND claim = %U",
                      state, job->interrupted ? "NULL" : fin, now, job->id,
                      job->claim);
        }

        if (cancelled) {
            (void) ngx_http_oxmigrate_admin_exec(m, pool,
                      "UPDATE oxmigrate_job_schema SET state = 'cancelled',"
                      " message = 'not started: the job was cancelled'"
                      " WHERE job_id = %U AND state = 'pending'", job->id);
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

    MYSQL_ROW                      row;
    MYSQL_RES                     *res;
    ngx_http_oxmigrate_job_t      *job;
    ngx_http_oxmigrate_job_run_t   run;

    job = step->job;
    job->poll_rc = NGX_ERROR;

    ngx_http_oxmigrate_admin_thread_init();

    if (ngx_http_oxmigrate_admin_job_open(step, &run, 4096) != NGX_OK) {
        return;
    }

    job->poll_rc = ngx_http_oxmigrate_admin_job_beat(job, run.m, run.pool);

    if (job->poll_rc == NGX_OK
        && ngx_http_oxmigrate_admin_job_control(&run, step, NULL) != NGX_OK)
    {
        job->poll_rc = NGX_ERROR;
    }

    job->poll_control = step->control;
    job->poll_parallel = step->parallel;
    job->poll_win_start = -1;
    job->poll_win_end = -1;
    job->poll_minute = ngx_http_oxmigrate_admin_job_minute(job->alcf);

    if (job->poll_rc == NGX_OK) {
        res = ngx_http_oxmigrate_admin_select(run.m, run.pool,
                  "SELECT time_window FROM oxmigrate_job WHERE id = %U",
                  job->id);
        row = res ? mysql_fetch_row(res) : NULL;

        if (row && row[0]
            && ngx_http_oxmigrate_admin_job_window(row[0],
                                                   &job->poll_win_start,
                                                   &job->poll_win_end)
               != NGX_OK)
        {
            job->poll_win_start = -1;
            job->poll_win_end = -1;
        }

        if (res) {
            mysql_free_result(res);

        } else {
            job->poll_rc = NGX_ERROR;
        }

        /*
         * max_downtime: a schema disabled for longer is reported and the
         * job pauses after it (the schema itself goes on: never killed).
         */

        (void) ngx_http_oxmigrate_admin_job_exec(&run,
                  "UPDATE oxmigrate_job j JOIN oxmigrate_job_schema s"
                  " ON s.job_id = j.id SET j.control = 'pause',"
                  " j.reason = CONCAT('max_downtime: ', s.name,"
                  " ' was disabled for more than ', j.max_downtime,"
                  " ' s (its update is not stopped)')"
                  " WHERE j.id = %U AND j.claim = %U AND j.control IS NULL"
                  " AND j.max_downtime IS NOT NULL AND s.state = 'running'"
                  " AND s.disabled_at IS NOT NULL AND s.enabled_at IS NULL"
                  " AND s.disabled_at < %D - j.max_downtime * 1000",
                  job->id, job->claim, ngx_http_oxmigrate_admin_now_ms());

        if (run.m && ngx_http_oxmigrate_admin_job_control(&run, step, NULL)
                     == NGX_OK)
        {
            job->poll_control = step->control;
        }
    }

    if (run.m == NULL) {
        job->poll_rc = NGX_ERROR;
    }

    ngx_http_oxmigrate_admin_job_close(step, &run);
}
