/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, store: the job engine's bookkeeping on configdb (a
 * step's row in oxmigrate_job_schema, the heartbeat and control of
 * oxmigrate_job, a job's end) and the reads of the checks before an
 * enable.  Every write is conditional on the job's claim where a driver
 * that lost it must not write.  A write and the read of the job's row
 * after it go in one round trip (the job's connection has
 * CLIENT_MULTI_STATEMENTS).  nginx return codes and out-parameters; no
 * HTTP, no JSON.  Thread pool.
 */


#include "ngx_http_oxmigrate_admin_job.h"
#include "ngx_http_oxmigrate_admin_tasks.h"


/*
 * The job's row as a step and the poll read it: control, parallel,
 * whether this schema was disabled by the job before (a run after a
 * resume), whether the claim is still this driver's, the mean downtime
 * of its schemas so far (oxmigrate_hold's window) and its time window.
 */

#define NGX_HTTP_OXMIGRATE_STEP_LOOK                                          \
    "SELECT j.control, j.parallel, s.disabled_at IS NOT NULL,"               \
    " j.claim = %U, %R, %R, %R"                                               \
    " FROM oxmigrate_job j JOIN oxmigrate_job_schema s"                       \
    " ON s.job_id = j.id WHERE j.id = %U AND s.seq = %U"

#define NGX_HTTP_OXMIGRATE_STEP_MEAN                                          \
    "(SELECT CAST(AVG(a.enabled_at - a.disabled_at) AS SIGNED)"               \
    " FROM oxmigrate_job_schema a WHERE a.job_id = j.id"                      \
    " AND a.disabled_at IS NOT NULL AND a.enabled_at >= a.disabled_at)"


/*
 * Statements separated by ";" in one round trip, every result drained:
 * the last result set (NULL: none, or one failed: mysql_errno(); the
 * ones after a failed one did not run).
 */

static MYSQL_RES *
ngx_http_oxmigrate_admin_store_steps_run(MYSQL *m, char *sql)
{
    int         status;
    MYSQL_RES  *res, *last;

    if (sql == NULL || mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
        return NULL;
    }

    last = NULL;

    do {
        res = mysql_store_result(m);

        if (res) {
            if (last) {
                mysql_free_result(last);
            }

            last = res;

        } else if (mysql_field_count(m) != 0) {
            status = 1;
            break;
        }

        status = mysql_next_result(m);

    } while (status == 0);

    if (status > 0) {
        if (last) {
            mysql_free_result(last);
            last = NULL;
        }

        /*
         * A statement of the batch failed and the rest did not run: a
         * transaction the batch began (the step's end) must not stay
         * open on the connection, or the next batches (heartbeats) would
         * run inside it, seen by nobody.  A lost connection has none.
         * ROLLBACK clears mysql_errno(): the error is logged first, and
         * the caller sees "not gone", as it would have.
         */
        if (!ngx_http_oxmigrate_admin_gone(mysql_errno(m))) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "oxmigrate admin: a job's statement failed: %s",
                          mysql_error(m));
            (void) mysql_query(m, "ROLLBACK");
        }
    }

    return last;
}


/* the writes of "what" before the look, and the look; NULL: no memory */

static char *
ngx_http_oxmigrate_admin_store_steps_sql(MYSQL *m, ngx_pool_t *pool,
    const char *before, uint64_t job_id, uint64_t claim, uint64_t seq,
    ngx_uint_t what, int64_t now)
{
    char  *beat, *downtime, *canary;

    beat = "";
    downtime = "";
    canary = "";

    if (what & NGX_HTTP_OXMIGRATE_LOOK_BEAT) {
        beat = ngx_http_oxmigrate_admin_sql(m, pool,
                   "UPDATE oxmigrate_job SET heartbeat = %D"
                   " WHERE id = %U AND claim = %U;", now, job_id, claim);
    }

    if (what & NGX_HTTP_OXMIGRATE_LOOK_DOWNTIME) {
        /*
         * max_downtime: a schema disabled for longer is reported and the
         * job pauses after it (the schema itself goes on: never killed)
         */
        downtime = ngx_http_oxmigrate_admin_sql(m, pool,
              "UPDATE oxmigrate_job j JOIN oxmigrate_job_schema s"
              " ON s.job_id = j.id SET j.control = 'pause',"
              " j.reason = CONCAT('max_downtime: ', s.name,"
              " ' was disabled for more than ', j.max_downtime,"
              " ' s (its update is not stopped)')"
              " WHERE j.id = %U AND j.claim = %U AND j.control IS NULL"
              " AND j.max_downtime IS NOT NULL AND s.state = 'running'"
              " AND s.disabled_at IS NOT NULL AND s.enabled_at IS NULL"
              " AND s.disabled_at < %D - j.max_downtime * 1000;",
              job_id, claim, now);
    }

    if (what & NGX_HTTP_OXMIGRATE_LOOK_CANARY) {
        /* the canary: after pause_after schemas done the job pauses once */
        canary = ngx_http_oxmigrate_admin_sql(m, pool,
              "UPDATE oxmigrate_job SET control = 'pause',"
              " reason = CONCAT('pause_after: ', pause_after,"
              " ' schemas done (the canary)'),"
              " pause_after = NULL WHERE id = %U AND claim = %U"
              " AND pause_after IS NOT NULL AND control IS NULL"
              " AND pause_after <= (SELECT COUNT(*) FROM oxmigrate_job_schema"
              " WHERE job_id = %U AND state = 'done');",
              job_id, claim, job_id);
    }

    if (beat == NULL || downtime == NULL || canary == NULL) {
        return NULL;
    }

    return ngx_http_oxmigrate_admin_sql(m, pool,
        "%R%R%R%R" NGX_HTTP_OXMIGRATE_STEP_LOOK,
        before ? before : "", beat, downtime, canary, claim,
        (what & NGX_HTTP_OXMIGRATE_LOOK_MEAN) ? NGX_HTTP_OXMIGRATE_STEP_MEAN
                                              : "NULL",
        (what & NGX_HTTP_OXMIGRATE_LOOK_WINDOW) ? "j.time_window" : "NULL",
        (what & NGX_HTTP_OXMIGRATE_LOOK_CHANGELOG)
        ? "(" NGX_HTTP_OXMIGRATE_CHANGELOG_EXISTS ")" : "NULL",
        job_id, seq);
}


static ngx_int_t
ngx_http_oxmigrate_admin_store_steps_look(MYSQL *m, ngx_pool_t *pool,
    char *sql, ngx_http_oxmigrate_step_look_t *lk)
{
    ngx_int_t   rc;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    ngx_memzero(lk, sizeof(ngx_http_oxmigrate_step_look_t));

    res = ngx_http_oxmigrate_admin_store_steps_run(m, sql);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    lk->control = (row[0] == NULL) ? NGX_HTTP_OXMIGRATE_C_RUN
                  : (ngx_strcmp(row[0], "cancel") == 0)
                  ? NGX_HTTP_OXMIGRATE_C_CANCEL
                  : (ngx_strcmp(row[0], "pause") == 0)
                  ? NGX_HTTP_OXMIGRATE_C_PAUSE
                  : NGX_HTTP_OXMIGRATE_C_RUN;
    lk->parallel = row[1] ? (ngx_uint_t) ngx_atoi((u_char *) row[1],
                                                  ngx_strlen(row[1]))
                          : 0;
    if (lk->parallel == (ngx_uint_t) NGX_ERROR) {
        lk->parallel = 0;
    }

    lk->disabled = (row[2] && row[2][0] == '1');
    rc = (row[3] && row[3][0] == '1') ? NGX_OK : NGX_DECLINED;
    lk->mean = row[4] ? ngx_atoof((u_char *) row[4], ngx_strlen(row[4])) : 0;
    if (lk->mean < 0) {
        lk->mean = 0;
    }

    lk->window = row[5] ? ngx_http_oxmigrate_admin_strndup(pool, row[5],
                                                        ngx_strlen(row[5]))
                        : NULL;

    lk->changelog = row[6] ? (row[6][0] != '0') : -1;

    mysql_free_result(res);

    return rc;
}


MYSQL *
ngx_http_oxmigrate_admin_store_steps_connect(ngx_http_oxmigrate_db_conf_t *dcf,
    ngx_pool_t *pool, char *err, size_t errlen)
{
    return ngx_http_oxmigrate_admin_configdb_open(dcf, pool,
                                                  CLIENT_MULTI_STATEMENTS,
                                                  err, errlen);
}


ngx_int_t
ngx_http_oxmigrate_admin_store_step_look(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, uint64_t seq, ngx_uint_t what,
    int64_t now, ngx_http_oxmigrate_step_look_t *lk)
{
    return ngx_http_oxmigrate_admin_store_steps_look(m, pool,
               ngx_http_oxmigrate_admin_store_steps_sql(m, pool, NULL, job_id,
                                                        claim, seq, what, now),
               lk);
}


/*
 * Running; with schema (an upgrade) also where it was, for POST
 * /schemas/{s}/revert: the first run's server counts, a resumed schema
 * keeps it.
 */

int64_t
ngx_http_oxmigrate_admin_store_step_start(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, int64_t now, const char *schema,
    uint64_t server_id)
{
    if (schema == NULL) {
        return ngx_http_oxmigrate_admin_exec(m, pool,
                   "UPDATE oxmigrate_job_schema SET state = 'running',"
                   " started_at = %D, ended_at = NULL"
                   " WHERE job_id = %U AND seq = %U", now, job_id, seq);
    }

    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job_schema SET state = 'running',"
               " started_at = %D, ended_at = NULL,"
               " from_server_id = COALESCE(from_server_id,"
               " (SELECT MIN(p.server_id) FROM context_server2db_pool p"
               " WHERE p.db_schema = %s AND p.server_id <> %U))"
               " WHERE job_id = %U AND seq = %U",
               now, schema, server_id, job_id, seq);
}


int64_t
ngx_http_oxmigrate_admin_store_step_mark(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, const char *state, ngx_str_t *failed_tasks,
    const char *msg)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job_schema SET state = %s,"
               " failed_tasks = %V, message = %s"
               " WHERE job_id = %U AND seq = %U",
               state, failed_tasks, msg ? msg : "", job_id, seq);
}


/*
 * The first disable counts (a resumed schema keeps its start), then the
 * job's row and whether configdb has the change log (the invalidation).
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_step_disabled(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, uint64_t seq, int64_t now,
    ngx_http_oxmigrate_step_look_t *lk)
{
    char  *before;

    before = ngx_http_oxmigrate_admin_sql(m, pool,
                 "UPDATE oxmigrate_job_schema"
                 " SET disabled_at = COALESCE(disabled_at, %D)"
                 " WHERE job_id = %U AND seq = %U;", now, job_id, seq);
    if (before == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oxmigrate_admin_store_steps_look(m, pool,
               ngx_http_oxmigrate_admin_store_steps_sql(m, pool, before,
                   job_id, claim, seq, NGX_HTTP_OXMIGRATE_LOOK_CHANGELOG, now),
               lk);
}


/*
 * Done, the audit rows of its steps (ngx_http_oxmigrate_admin_audit_step's
 * rows, already escaped), the canary if asked, and the job's row: one
 * round trip.
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_step_done(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, uint64_t seq, const char *msg,
    int64_t enabled, int64_t now, const char *audit, ngx_uint_t what,
    ngx_http_oxmigrate_step_look_t *lk)
{
    char  *before, ena[NGX_INT64_LEN + 1];

    if (enabled < 0) {
        ngx_cpystrn((u_char *) ena, (u_char *) "NULL", sizeof(ena));

    } else {
        *ngx_sprintf((u_char *) ena, "%L", enabled) = '\0';
    }

    /*
     * One transaction, and the audit rows only with the change of state:
     * a retry after a reconnect (the reply lost after the COMMIT) finds
     * the row done already and writes no second copy of the audit.
     */
    before = ngx_http_oxmigrate_admin_sql(m, pool,
                 "START TRANSACTION;"
                 "UPDATE oxmigrate_job_schema SET state = 'done',"
                 " failed_tasks = '[]', message = %s, enabled_at = %R,"
                 " ended_at = %D WHERE job_id = %U AND seq = %U"
                 " AND state <> 'done';"
                 "SET @oxmigrate_done = ROW_COUNT();%R%R%R"
                 "COMMIT;",
                 msg ? msg : "", ena, now, job_id, seq,
                 audit ? "INSERT INTO oxmigrate_audit (ts, user, action,"
                         " arguments, status, result) SELECT * FROM"
                         " (VALUES " : "",
                 audit ? audit : "",
                 audit ? ") AS v WHERE @oxmigrate_done > 0;" : "");
    if (before == NULL) {
        return NGX_ERROR;
    }

    return ngx_http_oxmigrate_admin_store_steps_look(m, pool,
               ngx_http_oxmigrate_admin_store_steps_sql(m, pool, before,
                                                        job_id, claim, seq,
                                                        what, now),
               lk);
}


ngx_int_t
ngx_http_oxmigrate_admin_store_step_from(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, uint64_t *from)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    *from = 0;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT from_server_id FROM oxmigrate_job_schema"
              " WHERE job_id = %U AND seq = %U", job_id, seq);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row && row[0]) {
        *from = (uint64_t) ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
    }

    mysql_free_result(res);

    return *from ? NGX_OK : NGX_DECLINED;
}


int64_t
ngx_http_oxmigrate_admin_store_step_cancelled(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, int64_t now)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job_schema SET state = 'cancelled',"
               " message = 'cancelled before its update tasks ran:"
               " enabled again on its old server', enabled_at = %D"
               " WHERE job_id = %U AND seq = %U", now, job_id, seq);
}


int64_t
ngx_http_oxmigrate_admin_store_step_pause(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, const char *schema, const char *why)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job SET control = 'pause',"
               " reason = CONCAT('check failed on ', %s, ': ', %s)"
               " WHERE id = %U AND claim = %U"
               " AND (control IS NULL OR control = 'pause')",
               schema, why, job_id, claim);
}


/* never over a driver that took the job over */

int64_t
ngx_http_oxmigrate_admin_store_job_end(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, ngx_uint_t paused, const char *state,
    int64_t finished, int64_t now)
{
    char  fin[NGX_INT64_LEN + 1];

    if (paused) {
        return ngx_http_oxmigrate_admin_exec(m, pool,
                   "UPDATE oxmigrate_job SET state ="
                   " IF(control = 'pause', 'paused', 'interrupted'),"
                   " control = IF(control = 'pause', NULL, control),"
                   " finished = NULL, heartbeat = %D"
                   " WHERE id = %U AND claim = %U", now, job_id, claim);
    }

    if (finished < 0) {
        ngx_cpystrn((u_char *) fin, (u_char *) "NULL", sizeof(fin));

    } else {
        *ngx_sprintf((u_char *) fin, "%L", finished) = '\0';
    }

    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job SET state = %s, finished = %R,"
               " heartbeat = %D WHERE id = %U AND claim = %U",
               state, fin, now, job_id, claim);
}


int64_t
ngx_http_oxmigrate_admin_store_job_unstarted(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job_schema SET state = 'cancelled',"
               " message = 'not started: the job was cancelled'"
               " WHERE job_id = %U AND state = 'pending'", job_id);
}


ngx_int_t
ngx_http_oxmigrate_admin_store_step_pools(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *rpool, uint64_t *wpool)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT read_db_pool_id, write_db_pool_id"
              " FROM context_server2db_pool WHERE db_schema = %s LIMIT 1",
              schema);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row == NULL || row[0] == NULL || row[1] == NULL) {
        mysql_free_result(res);
        return NGX_DECLINED;
    }

    *rpool = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
    *wpool = ngx_atoof((u_char *) row[1], ngx_strlen(row[1]));
    mysql_free_result(res);

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_store_replica_lag(MYSQL *rm, ngx_pool_t *pool,
    ngx_int_t *lag)
{
    ngx_int_t     rc;
    ngx_uint_t    i, n;
    MYSQL_ROW     row;
    MYSQL_RES    *res;
    MYSQL_FIELD  *f;

    res = ngx_http_oxmigrate_admin_select(rm, pool, "SHOW SLAVE STATUS");
    if (res == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_DECLINED;

    if ((row = mysql_fetch_row(res))) {
        n = mysql_num_fields(res);
        f = mysql_fetch_fields(res);

        for (i = 0; i < n; i++) {
            if (ngx_strcmp(f[i].name, "Seconds_Behind_Master") == 0) {
                *lag = row[i] ? ngx_atoi((u_char *) row[i],
                                         ngx_strlen(row[i]))
                              : -1;
                rc = NGX_OK;
                break;
            }
        }
    }

    mysql_free_result(res);

    return rc;
}


/* the checks' result (a JSON array) on the schema's row, and audited */

int64_t
ngx_http_oxmigrate_admin_store_step_checks(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, ngx_str_t *checks, const char *schema,
    ngx_uint_t status, int64_t now)
{
    return ngx_http_oxmigrate_admin_batch(m, pool,
               "UPDATE oxmigrate_job_schema SET checks = %V"
               " WHERE job_id = %U AND seq = %U;"
               "INSERT INTO oxmigrate_audit (ts, user, action, arguments,"
               " status, result) VALUES (%D, CONCAT('job ', %U),"
               " 'checkschema', JSON_OBJECT('params', JSON_ARRAY(%s),"
               " 'body', ''), %U, JSON_OBJECT('job', %U, 'schema', %s,"
               " 'checks', JSON_EXTRACT(%V, '$')))",
               checks, job_id, seq, now, job_id, schema, (uint64_t) status,
               job_id, schema, checks);
}


/*
 * changeserver's move: the transaction's start, the move and the count
 * after it; in one round trip on a job's connection (multi statements).
 * The caller commits or rolls back.  NGX_ERROR: see mysql_error(), the
 * transaction may be open.
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_step_move(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t server_id, int64_t *changed,
    uint64_t *total, uint64_t *enabled)
{
    int         status;
    char       *sql, *move;
    ngx_uint_t  n;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    move = ngx_http_oxmigrate_admin_sql(m, pool,
               "UPDATE context_server2db_pool SET server_id = %U"
               " WHERE db_schema = %s AND BINARY db_schema = %s",
               server_id, schema, schema);
    if (move == NULL) {
        return NGX_ERROR;
    }

    if (!(m->client_flag & CLIENT_MULTI_STATEMENTS)) {
        if (mysql_query(m, "START TRANSACTION") != 0) {
            return NGX_ERROR;
        }

        *changed = ngx_http_oxmigrate_admin_exec(m, pool, "%R", move);
        if (*changed < 0) {
            return NGX_ERROR;
        }

        return ngx_http_oxmigrate_admin_count_enabled(m, pool, schema, total,
                                                      enabled);
    }

    sql = ngx_http_oxmigrate_admin_sql(m, pool,
              "START TRANSACTION;%R;"
              "SELECT COUNT(*), COALESCE(SUM(c.enabled = 1), 0) FROM context c"
              " JOIN context_server2db_pool p ON p.cid = c.cid"
              " WHERE p.db_schema = %s AND BINARY p.db_schema = %s",
              move, schema, schema);

    if (sql == NULL || mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
        return NGX_ERROR;
    }

    *changed = -1;
    *total = 0;
    *enabled = 0;

    for (n = 0; /* void */; n++) {
        res = mysql_store_result(m);

        if (res) {
            row = mysql_fetch_row(res);
            if (row) {
                *total = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
                *enabled = ngx_atoof((u_char *) row[1], ngx_strlen(row[1]));
            }

            mysql_free_result(res);

        } else if (mysql_field_count(m) != 0) {
            return NGX_ERROR;

        } else if (n == 1) {
            *changed = (int64_t) mysql_affected_rows(m);
        }

        status = mysql_next_result(m);

        if (status != 0) {
            return (status > 0 || n != 2) ? NGX_ERROR : NGX_OK;
        }
    }
}
