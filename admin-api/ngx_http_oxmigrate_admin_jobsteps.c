
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

    m = ngx_http_oxmigrate_admin_configdb_connect(job->omcf->db, pool, err,
                                                  sizeof(err));
    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "oxmigrate admin: job %uL: configdb: %s", job->id, err);
    }

    return m;
}


static void
ngx_http_oxmigrate_admin_job_mark(ngx_http_oxmigrate_job_t *job, MYSQL *m,
    ngx_pool_t *pool, ngx_http_oxmigrate_job_schema_t *js, const char *state,
    ngx_array_t *failed, const char *msg)
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

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "UPDATE oxmigrate_job_schema SET state = %s,"
            " failed_tasks = %V, message = %s"
            " WHERE job_id = %U AND seq = %U",
            state, &ft, msg ? msg : "", job->id, (uint64_t) js->seq)
        < 0)
    {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "oxmigrate admin: job %uL: %s", job->id, mysql_error(m));
    }

    if (g) {
        yajl_gen_free(g);
    }
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


/* one schema: disable, update, changeserver, enable (thread) */

void
ngx_http_oxmigrate_admin_job_step(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_job_step_t  *step = data;

    char                             *pname, *msg, ena[32];
    MYSQL                            *m;
    ngx_int_t                         rc;
    ngx_uint_t                        status, upgrade;
    ngx_pool_t                       *pool;
    ngx_http_oxmigrate_job_t         *job;
    ngx_http_oxmigrate_step_t         st;
    ngx_http_oxmigrate_dbhost_t       h;
    ngx_http_oxmigrate_update_t       u;
    ngx_http_oxmigrate_job_schema_t  *js;

    job = step->job;
    js = step->s;
    step->rc = NGX_ERROR;
    upgrade = (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE);
    ngx_cpystrn((u_char *) ena, (u_char *) "NULL", sizeof(ena));

    ngx_http_oxmigrate_admin_thread_init();

    pool = ngx_create_pool(16384, job->log);
    if (pool == NULL) {
        return;
    }

    m = step->m ? step->m : ngx_http_oxmigrate_admin_job_db(job, pool);
    step->m = NULL;

    if (m == NULL) {
        ngx_destroy_pool(pool);
        return;
    }

    if (ngx_http_oxmigrate_admin_job_beat(job, m, pool) == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_WARN, job->log, 0,
                      "oxmigrate admin: job %uL was resumed by another "
                      "worker while this one waited for a thread: it "
                      "stops here", job->id);
        step->rc = NGX_DECLINED;
        step->m = m;
        ngx_destroy_pool(pool);
        return;
    }

    (void) ngx_http_oxmigrate_admin_exec(m, pool,
              "UPDATE oxmigrate_job_schema SET state = 'running'"
              " WHERE job_id = %U AND seq = %U", job->id, (uint64_t) js->seq);

    if (ngx_http_oxmigrate_admin_pool_host(pool, m, js->pool_id, &h, &pname)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_job_mark(job, m, pool, js, "failed", NULL,
                                          "its db_pool is unknown");
        goto done;
    }

    ngx_http_oxmigrate_admin_step_init(&st, job->alcf, pool, job->log, m,
                                       js->name);

    if (upgrade) {
        if (st.steps->disable(&st)) {
            ngx_http_oxmigrate_admin_job_mark(job, m, pool, js, "failed",
                                              NULL, st.res.msg);
            goto done;
        }

        /* the first disable counts: a resumed schema keeps its start */
        (void) ngx_http_oxmigrate_admin_exec(m, pool,
                  "UPDATE oxmigrate_job_schema"
                  " SET disabled_at = COALESCE(disabled_at, %D)"
                  " WHERE job_id = %U AND seq = %U",
                  ngx_http_oxmigrate_admin_now_ms(), job->id,
                  (uint64_t) js->seq);

        (void) ngx_http_oxmigrate_admin_epoch_incr(job->omcf->redis,
                                                   job->log);
    }

    ngx_memzero(&u, sizeof(ngx_http_oxmigrate_update_t));
    u.alcf = job->alcf;
    u.configdb = job->omcf->db;
    u.pool = pool;
    u.log = job->log;
    u.host = &h;
    u.schema = js->name;
    u.job_id = job->id;
    u.job_claim = job->claim;
    u.conn = step->sm;
    u.keep = 1;
    step->sm = NULL;

    rc = st.steps->update(&st, &u);
    step->sm = u.conn;

    if (rc != NGX_OK || u.failed->nelts) {
        msg = (rc == NGX_OK) ? "update tasks failed" : u.error;

        /* without force the schema stays disabled on its old server */
        ngx_http_oxmigrate_admin_job_mark(job, m, pool, js, "failed",
                                          rc == NGX_OK ? u.failed : NULL,
                                          msg);
        goto done;
    }

    if (upgrade) {
        status = st.steps->changeserver(&st, job->server_id);
        if (status) {
            ngx_http_oxmigrate_admin_job_mark(job, m, pool, js, "failed",
                                              NULL, st.res.msg);
            goto done;
        }

        if (st.steps->enable(&st)) {
            ngx_http_oxmigrate_admin_job_mark(job, m, pool, js, "failed",
                                              NULL, st.res.msg);
            goto done;
        }

        ngx_sprintf((u_char *) ena, "%L%Z", ngx_http_oxmigrate_admin_now_ms());

        (void) ngx_http_oxmigrate_admin_epoch_incr(job->omcf->redis,
                                                   job->log);
    }

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "UPDATE oxmigrate_job_schema SET state = 'done',"
            " failed_tasks = '[]', message = '', enabled_at = %R"
            " WHERE job_id = %U AND seq = %U",
            ena, job->id, (uint64_t) js->seq)
        < 0)
    {
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "oxmigrate admin: job %uL: %s", job->id,
                      mysql_error(m));
    }

    step->rc = NGX_OK;

done:

    (void) ngx_http_oxmigrate_admin_job_beat(job, m, pool);

    /* a client error (2xxx: gone, lost, ...) may have broken it */
    if (mysql_errno(m) >= 2000 && mysql_errno(m) < 3000) {
        mysql_close(m);

    } else {
        step->m = m;
    }

    ngx_destroy_pool(pool);
}


void
ngx_http_oxmigrate_admin_job_finish(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_job_t  *job = data;

    char                             fin[32];
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

        /* never over a driver that took the job over */
        (void) ngx_http_oxmigrate_admin_exec(m, pool,
                  "UPDATE oxmigrate_job SET state = %s, finished = %R,"
                  " heartbeat = %D WHERE id = %U AND claim = %U",
                  job->interrupted ? "interrupted"
                  : job->failed ? "failed" : "done",
                  job->interrupted ? "NULL" : fin, now, job->id, job->claim);

        mysql_close(m);
    }

    ngx_destroy_pool(pool);
}
