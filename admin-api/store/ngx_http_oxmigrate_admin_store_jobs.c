/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, store: the SQL of the job tables (oxmigrate_job,
 * oxmigrate_job_schema) as the job endpoints read and write them.  nginx
 * return codes and out-parameters; no HTTP, no JSON.  Thread pool.
 */


#include "ngx_http_oxmigrate_admin_store_jobs.h"


/* SQL: the job's driver is gone (%D: ngx_http_oxmigrate_admin_job_stale) */
#define NGX_HTTP_OXMIGRATE_JOB_DEAD                                           \
    "(state = 'interrupted' OR (state = 'running' AND heartbeat < %D))"


/*
 * The start lock: a MariaDB named lock on configdb's server makes the
 * check for a live job and the INSERT (or claim) one step for every worker
 * of every balancer.  The name is the one the upgrade alone used before,
 * so that workers of an older configuration and newer ones still exclude
 * each other.
 */

#define NGX_HTTP_OXMIGRATE_JOB_LOCK                                           \
    "LEFT(CONCAT('oxmigrate.upgrade.', DATABASE()), 64)"


/* GET /jobs, GET /jobs/{id} */

#define NGX_HTTP_OXMIGRATE_JOB_COLUMNS                                        \
    "SELECT j.id, j.kind, j.state, j.heartbeat, j.started, j.finished,"      \
    " j.server_id, j.user, j.owner,"                                          \
    " (SELECT COUNT(*) FROM oxmigrate_job_schema s WHERE s.job_id = j.id),"   \
    " (SELECT COUNT(*) FROM oxmigrate_job_schema s WHERE s.job_id = j.id"     \
    "  AND s.state IN ('done', 'failed')),"                                   \
    " (SELECT GROUP_CONCAT(s.name ORDER BY s.seq SEPARATOR ', ')"             \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state = 'running'),"                                             \
    " (SELECT COUNT(*) FROM oxmigrate_job_schema s WHERE s.job_id = j.id"     \
    "  AND s.state = 'failed'), j.ox_caches,"                                 \
    " j.control, j.parallel, j.pause_after, j.time_window, j.max_downtime,"  \
    " j.reason,"                                                              \
    " (SELECT SUM(COALESCE(NULLIF(s.contexts, 0), 1))"                        \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state = 'done' AND s.ended_at >= s.started_at),"                 \
    " (SELECT SUM(s.ended_at - s.started_at)"                                 \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state = 'done' AND s.ended_at >= s.started_at),"                 \
    " (SELECT SUM(COALESCE(NULLIF(s.contexts, 0), 1))"                        \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state IN ('pending', 'running')),"                               \
    " (SELECT COUNT(DISTINCT s.host) FROM oxmigrate_job_schema s"             \
    "  WHERE s.job_id = j.id AND s.state IN ('pending', 'running')),"         \
    " COALESCE(j.parallel, JSON_VALUE(j.options, '$.parallel'), 1)"           \
    " FROM oxmigrate_job j"


static char *
ngx_http_oxmigrate_admin_store_col(ngx_pool_t *pool, const char *v)
{
    char  *s;

    if (v == NULL) {
        return NULL;
    }

    s = ngx_http_oxmigrate_admin_strndup(pool, v, ngx_strlen(v));

    /* out of memory: an empty column rather than a NULL one */
    return s ? s : "";
}


/* an integer column; dflt for SQL NULL */

static int64_t
ngx_http_oxmigrate_admin_store_int(const char *v, int64_t dflt)
{
    return v ? ngx_atoof((u_char *) v, ngx_strlen(v)) : dflt;
}


ngx_int_t
ngx_http_oxmigrate_admin_store_job_lock(MYSQL *m, ngx_pool_t *pool)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;
    ngx_uint_t  locked;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT GET_LOCK(" NGX_HTTP_OXMIGRATE_JOB_LOCK ", 10)");
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    locked = (row && row[0] && row[0][0] == '1');
    mysql_free_result(res);

    return locked ? NGX_OK : NGX_DECLINED;
}


void
ngx_http_oxmigrate_admin_store_job_unlock(MYSQL *m, ngx_pool_t *pool,
    ngx_log_t *log)
{
    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "DO RELEASE_LOCK(" NGX_HTTP_OXMIGRATE_JOB_LOCK ")")
        < 0)
    {
        /* closing the connection at the end of the call releases it */
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oxmigrate admin: RELEASE_LOCK failed: %s",
                      mysql_error(m));
    }
}


/*
 * The estimate of dry_run: milliseconds per context measured by the
 * latest upgrade job that finished schemas (each one's last run, weighted
 * by its contexts) and that job; none measured yet: -1.
 */

void
ngx_http_oxmigrate_admin_store_job_estimate(MYSQL *m, ngx_pool_t *pool,
    int64_t *from, double *ms_ctx)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    *ms_ctx = -1;
    *from = 0;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT s.job_id, SUM(s.ended_at - s.started_at)"
              " / SUM(COALESCE(NULLIF(s.contexts, 0), 1))"
              " FROM oxmigrate_job_schema s WHERE s.job_id = ("
              "  SELECT MAX(x.job_id) FROM oxmigrate_job_schema x"
              "  JOIN oxmigrate_job j ON j.id = x.job_id"
              "  WHERE j.kind = 'upgrade' AND x.state = 'done'"
              "  AND x.ended_at >= x.started_at)"
              " AND s.state = 'done' AND s.ended_at >= s.started_at"
              " GROUP BY s.job_id");
    if (res) {
        row = mysql_fetch_row(res);
        if (row && row[0] && row[1]) {
            *from = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
            *ms_ctx = strtod(row[1], NULL);
        }

        mysql_free_result(res);
    }
}


/* INSERT the job and its schemas; returns the job id, 0 on error */

uint64_t
ngx_http_oxmigrate_admin_store_job_insert(MYSQL *m, ngx_pool_t *pool,
    ngx_http_oxmigrate_job_t *job, ngx_str_t *options, const char *user,
    const char *owner, const char *caches, const char *window,
    int64_t max_downtime)
{
    char                             *sql, *p, *kind, sidbuf[32], pabuf[32],
                                      mdbuf[32];
    int64_t                           now;
    uint64_t                          id;
    ngx_uint_t                        i, j;
    ngx_http_oxmigrate_job_schema_t  *js;

    now = ngx_http_oxmigrate_admin_now_ms();

    kind = (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) ? "upgrade"
                                                         : "updates";

    if (max_downtime > 0) {
        ngx_sprintf((u_char *) mdbuf, "%L%Z", max_downtime);

    } else {
        ngx_cpystrn((u_char *) mdbuf, (u_char *) "NULL", sizeof(mdbuf));
    }

    if (job->pause_after) {
        ngx_sprintf((u_char *) pabuf, "%uL%Z", job->pause_after);

    } else {
        ngx_cpystrn((u_char *) pabuf, (u_char *) "NULL", sizeof(pabuf));
    }

    if (job->server_id) {
        ngx_sprintf((u_char *) sidbuf, "%uL%Z", job->server_id);

    } else {
        ngx_cpystrn((u_char *) sidbuf, (u_char *) "NULL", sizeof(sidbuf));
    }

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "INSERT INTO oxmigrate_job (kind, state, options, server_id,"
            " user, owner, claim, ox_caches, started, heartbeat,"
            " pause_after, time_window, max_downtime)"
            " VALUES (%s, 'running', %V, %R, %s, %s, %U, %s, %D, %D, %R,"
            " NULLIF(%s, ''), %R)",
            kind, options, sidbuf, user, owner, job->claim,
            caches, now, now,
            pabuf, window ? window : "", mdbuf)
        < 0)
    {
        return 0;
    }

    id = mysql_insert_id(m);

    js = job->schemas.elts;

    for (i = 0; i < job->schemas.nelts; i = j) {

        /* 200 rows per INSERT */

        sql = ngx_http_oxmigrate_admin_sql(m, pool,
                  "INSERT INTO oxmigrate_job_schema"
                  " (job_id, seq, name, db_pool_id, host, state, contexts)"
                  " VALUES ");
        if (sql == NULL) {
            return 0;
        }

        for (j = i; j < job->schemas.nelts && j < i + 200; j++) {
            p = ngx_http_oxmigrate_admin_sql(m, pool,
                    "%R%R(%U, %U, %s, %U, %s, 'pending', %U)", sql,
                    j > i ? ", " : "", id, (uint64_t) js[j].seq, js[j].name,
                    js[j].pool_id, js[j].host, js[j].contexts);
            if (p == NULL) {
                return 0;
            }

            sql = p;
        }

        if (mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
            return 0;
        }
    }

    return id;
}


/*
 * A live job other than "except" (a running one with a fresh heartbeat, or
 * a paused one).  NGX_OK: none; NGX_DECLINED: *id.
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_job_other(MYSQL *m, ngx_pool_t *pool,
    int64_t stale, uint64_t except, uint64_t *id, char **kind,
    ngx_uint_t *paused)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT id, kind, state FROM oxmigrate_job"
              " WHERE ((state = 'running' AND heartbeat >= %D)"
              " OR state = 'paused') AND id <> %U"
              " ORDER BY id LIMIT 1", stale, except);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NGX_OK;
    }

    *id = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
    *kind = ngx_http_oxmigrate_admin_store_col(pool, row[1]);
    *paused = (ngx_strcmp(row[2], "paused") == 0);

    mysql_free_result(res);

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_oxmigrate_admin_store_job_rows(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_uint_t rows, ngx_array_t **out)
{
    char                          **c;
    MYSQL_ROW                       row;
    MYSQL_RES                      *res;
    ngx_uint_t                      i;
    ngx_http_oxmigrate_job_row_t   *jr;

    /* the columns in the order of the SELECT; NULL: one it does not show */
    static size_t  cols[] = {
        offsetof(ngx_http_oxmigrate_job_row_t, id),
        offsetof(ngx_http_oxmigrate_job_row_t, kind),
        offsetof(ngx_http_oxmigrate_job_row_t, raw_state),
        offsetof(ngx_http_oxmigrate_job_row_t, heartbeat),
        offsetof(ngx_http_oxmigrate_job_row_t, started),
        offsetof(ngx_http_oxmigrate_job_row_t, finished),
        offsetof(ngx_http_oxmigrate_job_row_t, server_id),
        offsetof(ngx_http_oxmigrate_job_row_t, user),
        offsetof(ngx_http_oxmigrate_job_row_t, owner),
        offsetof(ngx_http_oxmigrate_job_row_t, total),
        offsetof(ngx_http_oxmigrate_job_row_t, processed),
        offsetof(ngx_http_oxmigrate_job_row_t, current),
        offsetof(ngx_http_oxmigrate_job_row_t, failed),
        offsetof(ngx_http_oxmigrate_job_row_t, ox_caches),
        offsetof(ngx_http_oxmigrate_job_row_t, control),
        offsetof(ngx_http_oxmigrate_job_row_t, parallel),
        offsetof(ngx_http_oxmigrate_job_row_t, pause_after),
        offsetof(ngx_http_oxmigrate_job_row_t, window),
        offsetof(ngx_http_oxmigrate_job_row_t, max_downtime),
        offsetof(ngx_http_oxmigrate_job_row_t, reason),
        offsetof(ngx_http_oxmigrate_job_row_t, done_ctx),
        offsetof(ngx_http_oxmigrate_job_row_t, done_ms),
        offsetof(ngx_http_oxmigrate_job_row_t, left_ctx),
        offsetof(ngx_http_oxmigrate_job_row_t, hosts),
        offsetof(ngx_http_oxmigrate_job_row_t, par)
    };

    if (id) {
        res = ngx_http_oxmigrate_admin_select(m, pool,
                  NGX_HTTP_OXMIGRATE_JOB_COLUMNS " WHERE j.id = %U", id);

    } else {
        res = ngx_http_oxmigrate_admin_select(m, pool,
                  NGX_HTTP_OXMIGRATE_JOB_COLUMNS
                  " ORDER BY j.id DESC LIMIT %U", (uint64_t) rows);
    }

    if (res == NULL) {
        return NGX_ERROR;
    }

    *out = ngx_array_create(pool, mysql_num_rows(res) + 1,
                            sizeof(ngx_http_oxmigrate_job_row_t));
    if (*out == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        jr = ngx_array_push(*out);
        if (jr == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        ngx_memzero(jr, sizeof(ngx_http_oxmigrate_job_row_t));

        for (i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
            c = (char **) ((u_char *) jr + cols[i]);
            *c = ngx_http_oxmigrate_admin_store_col(pool, row[i]);
        }
    }

    mysql_free_result(res);

    return (id && (*out)->nelts == 0) ? NGX_DECLINED : NGX_OK;
}


/* GET /jobs/{id}: its schemas, in their order */

ngx_int_t
ngx_http_oxmigrate_admin_store_job_schemas(MYSQL *m, ngx_pool_t *pool,
    const char *id, ngx_array_t **out)
{
    int64_t                               dis, ena;
    MYSQL_ROW                             sr;
    MYSQL_RES                            *res;
    ngx_http_oxmigrate_job_schema_row_t  *s;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT name, state, failed_tasks, disabled_at,"
              " enabled_at, message, checks FROM oxmigrate_job_schema"
              " WHERE job_id = %R ORDER BY seq", id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    *out = ngx_array_create(pool, mysql_num_rows(res) + 1,
                            sizeof(ngx_http_oxmigrate_job_schema_row_t));
    if (*out == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((sr = mysql_fetch_row(res))) {
        s = ngx_array_push(*out);
        if (s == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        ngx_memzero(s, sizeof(ngx_http_oxmigrate_job_schema_row_t));

        s->name = ngx_http_oxmigrate_admin_store_col(pool, sr[0]);
        s->state = ngx_http_oxmigrate_admin_store_col(pool, sr[1]);
        s->failed_tasks = ngx_http_oxmigrate_admin_store_col(pool, sr[2]);

        dis = ngx_http_oxmigrate_admin_store_int(sr[3], 0);
        ena = ngx_http_oxmigrate_admin_store_int(sr[4], 0);
        s->downtime = (dis > 0 && ena >= dis) ? ena - dis : -1;

        s->message = (sr[5] && sr[5][0])
                     ? ngx_http_oxmigrate_admin_store_col(pool, sr[5]) : NULL;
        s->checks = ngx_http_oxmigrate_admin_store_col(pool, sr[6]);
    }

    mysql_free_result(res);

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_store_job_stored(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, int64_t stale, ngx_uint_t cont,
    ngx_http_oxmigrate_job_stored_t *js)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT kind, state, options, server_id, "
              NGX_HTTP_OXMIGRATE_JOB_DEAD " OR (%U AND state = 'paused'),"
              " parallel, pause_after, time_window"
              " FROM oxmigrate_job WHERE id = %U", stale, (uint64_t) cont,
              id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NGX_DECLINED;
    }

    js->kind = ngx_http_oxmigrate_admin_store_col(pool, row[0]);
    js->state = ngx_http_oxmigrate_admin_store_col(pool, row[1]);
    js->options = ngx_http_oxmigrate_admin_store_col(pool, row[2]);
    js->server_id = ngx_http_oxmigrate_admin_store_col(pool, row[3]);
    js->resumable = (row[4] && row[4][0] == '1');
    js->parallel = ngx_http_oxmigrate_admin_store_col(pool, row[5]);
    js->pause_after = ngx_http_oxmigrate_admin_store_col(pool, row[6]);
    js->window = ngx_http_oxmigrate_admin_store_col(pool, row[7]);

    mysql_free_result(res);

    return NGX_OK;
}


/*
 * The claim of a dead job: only one worker anywhere takes it over (also
 * one of an older configuration, whose resume did not take the start
 * lock).  1: claimed; 0: it was taken over meanwhile; -1: error.
 */

int64_t
ngx_http_oxmigrate_admin_store_job_claim(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_uint_t cont, int64_t stale, uint64_t claim,
    const char *owner)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE oxmigrate_job SET state = 'running', heartbeat = %D,"
             " owner = %s, claim = %U, finished = NULL,"
             " control = IF(%U AND control = 'pause', NULL, control),"
             " reason = IF(%U, NULL, reason)"
             " WHERE id = %U AND (" NGX_HTTP_OXMIGRATE_JOB_DEAD
             " OR (%U AND state = 'paused'))",
             ngx_http_oxmigrate_admin_now_ms(), owner, claim,
             (uint64_t) cont, (uint64_t) cont, id, stale, (uint64_t) cont);
}


/*
 * The job's schemas as configdb has them; those that were running when
 * the worker died run again.
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_job_load(ngx_http_oxmigrate_job_t *job,
    MYSQL *m, ngx_pool_t *pool, ngx_uint_t *remaining)
{
    MYSQL_ROW                         row;
    MYSQL_RES                        *res;
    unsigned long                    *lens;
    ngx_http_oxmigrate_job_schema_t  *js;

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "UPDATE oxmigrate_job_schema SET state = 'pending'"
            " WHERE job_id = %U AND state = 'running'", job->id)
        < 0)
    {
        return NGX_ERROR;
    }

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT seq, name, db_pool_id, host, state"
              " FROM oxmigrate_job_schema WHERE job_id = %U ORDER BY seq",
              job->id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    *remaining = 0;

    while ((row = mysql_fetch_row(res))) {
        lens = mysql_fetch_lengths(res);

        js = ngx_array_push(&job->schemas);
        if (js == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        js->seq = ngx_atoi((u_char *) row[0], lens[0]);
        js->name = ngx_http_oxmigrate_admin_strndup(job->pool, row[1],
                                                    lens[1]);
        js->host = ngx_http_oxmigrate_admin_strndup(job->pool, row[3],
                                                    lens[3]);
        if (js->name == NULL || js->host == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        js->pool_id = ngx_atoof((u_char *) row[2], lens[2]);

        if (ngx_strcmp(row[4], "done") == 0) {
            js->state = NGX_HTTP_OXMIGRATE_S_DONE;

        } else if (ngx_strcmp(row[4], "failed") == 0) {
            js->state = NGX_HTTP_OXMIGRATE_S_FAILED;
            job->failed = 1;

        } else if (ngx_strcmp(row[4], "cancelled") == 0) {
            js->state = NGX_HTTP_OXMIGRATE_S_CANCELLED;

        } else {
            js->state = NGX_HTTP_OXMIGRATE_S_PENDING;
            (*remaining)++;
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_store_job_steer(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, int64_t stale, ngx_http_oxmigrate_job_steer_t *sr)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT state, control, " NGX_HTTP_OXMIGRATE_JOB_DEAD ","
              " (SELECT COUNT(*) FROM oxmigrate_job_schema s"
              "  WHERE s.job_id = j.id AND s.state = 'running')"
              " FROM oxmigrate_job j WHERE j.id = %U", stale, id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NGX_DECLINED;
    }

    ngx_cpystrn((u_char *) sr->state, (u_char *) row[0], sizeof(sr->state));
    ngx_cpystrn((u_char *) sr->control, (u_char *) (row[1] ? row[1] : ""),
                sizeof(sr->control));
    sr->dead = (row[2] && row[2][0] == '1');
    sr->inflight = ngx_http_oxmigrate_admin_store_int(row[3], 0);

    mysql_free_result(res);

    return NGX_OK;
}


/*
 * A job without a driver paused or cancelled (its schemas not started,
 * too) where its row still is paused (dead: still without a driver).
 */

int64_t
ngx_http_oxmigrate_admin_store_job_settle(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_uint_t cancel, ngx_uint_t dead, int64_t stale,
    uint64_t claim)
{
    char     *where;
    int64_t   rc;

    where = dead ? ngx_http_oxmigrate_admin_sql(m, pool,
                                        NGX_HTTP_OXMIGRATE_JOB_DEAD, stale)
                 : "state = 'paused'";
    if (where == NULL) {
        return -1;
    }

    if (!cancel) {
        return ngx_http_oxmigrate_admin_exec(m, pool,
                 "UPDATE oxmigrate_job SET state = 'paused',"
                 " control = NULL, finished = NULL, claim = %U"
                 " WHERE id = %U AND %R", claim, id, where);
    }

    rc = ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE oxmigrate_job SET state = 'cancelled', control = NULL,"
             " finished = %D, claim = %U WHERE id = %U AND %R",
             ngx_http_oxmigrate_admin_now_ms(), claim, id, where);

    if (rc > 0
        && ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job_schema SET state = 'cancelled',"
               " message = 'not started: the job was cancelled'"
               " WHERE job_id = %U AND state = 'pending'", id)
           < 0)
    {
        return -1;
    }

    return rc;
}


/*
 * A pause or cancel asked of a job's driver: a running one's (a cancel
 * overrides a pause, never the other way round), or kept for the driver
 * that resumes a dead one.
 */

int64_t
ngx_http_oxmigrate_admin_store_job_ask(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, const char *want, ngx_uint_t dead, int64_t stale)
{
    char  *where;

    if (dead) {
        where = ngx_http_oxmigrate_admin_sql(m, pool,
                                             NGX_HTTP_OXMIGRATE_JOB_DEAD,
                                             stale);
        if (where == NULL) {
            return -1;
        }

        return ngx_http_oxmigrate_admin_exec(m, pool,
                 "UPDATE oxmigrate_job SET control = %s WHERE id = %U"
                 " AND %R", want, id, where);
    }

    return ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE oxmigrate_job SET control = %s WHERE id = %U"
             " AND state = 'running' AND (control IS NULL OR %U"
             " OR control <> 'cancel')",
             want, id, (uint64_t) (ngx_strcmp(want, "cancel") == 0));
}


/* continue: a job still pausing (its schemas in flight run) goes on */

int64_t
ngx_http_oxmigrate_admin_store_job_unpause(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, int64_t stale)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE oxmigrate_job SET control = NULL WHERE id = %U"
             " AND state = 'running' AND control = 'pause'"
             " AND heartbeat >= %D", id, stale);
}


/* PATCH: parallel (0: unchanged) and, when wset, the window (NULL: none) */

int64_t
ngx_http_oxmigrate_admin_store_job_patch(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, int64_t parallel, ngx_uint_t wset, const char *window)
{
    char  pbuf[32];

    ngx_sprintf((u_char *) pbuf, "%L%Z", parallel);

    return ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE oxmigrate_job SET parallel = IF(%R > 0, %R, parallel),"
             " time_window = IF(%U, NULLIF(%s, ''), time_window)"
             " WHERE id = %U AND state IN ('running', 'paused',"
             " 'interrupted')",
             pbuf, pbuf, (uint64_t) wset, window ? window : "", id);
}


ngx_int_t
ngx_http_oxmigrate_admin_store_job_patched(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_http_oxmigrate_job_patched_t *jp)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT state, parallel, time_window FROM oxmigrate_job"
              " WHERE id = %U", id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NGX_DECLINED;
    }

    jp->state = ngx_http_oxmigrate_admin_store_col(pool, row[0]);
    jp->parallel = ngx_http_oxmigrate_admin_store_col(pool, row[1]);
    jp->window = ngx_http_oxmigrate_admin_store_col(pool, row[2]);

    mysql_free_result(res);

    return NGX_OK;
}


/* the last upgrade job's row of a schema */

ngx_int_t
ngx_http_oxmigrate_admin_store_job_last(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t stale, ngx_http_oxmigrate_last_job_t *lj)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    ngx_memzero(lj, sizeof(ngx_http_oxmigrate_last_job_t));

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT s.job_id, j.state, s.state, s.message, j.server_id,"
              " s.from_server_id, s.disabled_at,"
              " j.state = 'running' AND j.heartbeat >= %D"
              " FROM oxmigrate_job_schema s JOIN oxmigrate_job j"
              " ON j.id = s.job_id WHERE s.name = %s AND j.kind = 'upgrade'"
              " ORDER BY s.job_id DESC LIMIT 1", stale, schema);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row) {
        lj->job_id = ngx_http_oxmigrate_admin_store_int(row[0], 0);
        lj->job_state = ngx_http_oxmigrate_admin_store_col(pool, row[1]);
        lj->state = ngx_http_oxmigrate_admin_store_col(pool, row[2]);
        lj->message = ngx_http_oxmigrate_admin_store_col(pool, row[3]);
        lj->server_id = ngx_http_oxmigrate_admin_store_int(row[4], 0);
        lj->from_server_id = ngx_http_oxmigrate_admin_store_int(row[5], 0);
        lj->disabled_at = ngx_http_oxmigrate_admin_store_int(row[6], 0);
        lj->live = (row[7] && row[7][0] == '1');
    }

    mysql_free_result(res);

    return row ? NGX_OK : NGX_DECLINED;
}


void
ngx_http_oxmigrate_admin_store_job_reverted(MYSQL *m, ngx_pool_t *pool,
    ngx_http_oxmigrate_last_job_t *lj, const char *schema, const char *user)
{
    (void) ngx_http_oxmigrate_admin_exec(m, pool,
              "UPDATE oxmigrate_job_schema SET message = CONCAT("
              "'reverted to server ', %U, ' by ', %s) WHERE job_id = %U"
              " AND name = %s", lj->from_server_id, user, lj->job_id,
              schema);
}
