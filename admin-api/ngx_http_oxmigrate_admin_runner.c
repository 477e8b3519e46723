
/*
 * oxmigrate admin API: the update-task runner of the SQL path: the *.sql
 * tasks of oxmigrate_update_tasks in a schema's own database, under OX's
 * LOCKED row, refreshed by a helper thread.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"

#include <pthread.h>

typedef struct {
    pthread_t                      tid;
    pthread_mutex_t                mtx;
    pthread_cond_t                 cond;
    ngx_uint_t                     stop;
    ngx_uint_t                     lost;
    int64_t                        last;       /* our lastModified */
    ngx_msec_t                     refresh;
    MYSQL                         *m;          /* own connection */
    ngx_http_oxmigrate_dbhost_t   *host;
    const char                    *schema;
    ngx_pool_t                    *pool;
    ngx_log_t                     *log;
    uint64_t                       job_id;
    uint64_t                       job_claim;
    ngx_http_oxmigrate_db_conf_t  *configdb;
    MYSQL                         *cdb;        /* job heartbeat */
} ngx_http_oxmigrate_refresher_t;



static ngx_int_t ngx_http_oxmigrate_admin_run_sql(MYSQL *m,
    ngx_http_oxmigrate_task_t *task, char *err, size_t len);
static ngx_int_t ngx_http_oxmigrate_admin_task_end(MYSQL *m,
    ngx_pool_t *pool, const char *schema, ngx_uint_t *ok, char *err,
    size_t len);
static ngx_int_t ngx_http_oxmigrate_admin_record(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_str_t *name, ngx_uint_t ok, ngx_uint_t update);
static void *ngx_http_oxmigrate_admin_refresher(void *data);


/* the runner (thread) */

ngx_int_t
ngx_http_oxmigrate_admin_update_run(ngx_http_oxmigrate_update_t *u)
{
    char                               err[512], **name;
    MYSQL                             *m;
    int64_t                            now, rc;
    ngx_int_t                          ret;
    ngx_uint_t                         i, n, ok, started;
    ngx_http_oxmigrate_task_t         *t, **todo;
    ngx_http_oxmigrate_refresher_t     rf;
    ngx_http_oxmigrate_schema_state_t  st;

    u->executed = ngx_array_create(u->pool, 8, sizeof(char *));
    u->failed = ngx_array_create(u->pool, 4, sizeof(char *));
    if (u->executed == NULL || u->failed == NULL) {
        return NGX_ERROR;
    }

    /*
     * A job lends the connection of the previous schema on this host: a
     * reset (a task may have changed session variables) and a USE are
     * cheaper than a new login.
     */

    m = u->conn;
    u->conn = NULL;

    if (m && (mysql_reset_connection(m) != 0
              || mysql_select_db(m, u->schema) != 0))
    {
        mysql_close(m);
        m = NULL;
    }

    if (m == NULL) {
        m = ngx_http_oxmigrate_admin_connect(u->host, u->schema,
                                             CLIENT_MULTI_STATEMENTS
                                             |CLIENT_FOUND_ROWS,
                                             err, sizeof(err));
    }

    if (m == NULL) {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "schema %s on %s:%ud: %s%Z", u->schema, u->host->host,
                     u->host->port, err);
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_exec(m, u->pool,
            "CREATE TABLE IF NOT EXISTS %I.updateTask ("
            "cid INT UNSIGNED NOT NULL,"
            " taskName VARCHAR(1024) NOT NULL,"
            " successful BOOLEAN NOT NULL,"
            " lastModified BIGINT NOT NULL,"
            " uuid BINARY(16) NOT NULL,"
            " PRIMARY KEY (cid, uuid),"
            " INDEX full (cid, taskName(191))"
            ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", u->schema)
        < 0)
    {
        goto db_failed;
    }

    /* acquire: the fixed uuid makes the INSERT atomic */

    now = ngx_http_oxmigrate_admin_now_ms();

    rc = ngx_http_oxmigrate_admin_exec(m, u->pool,
             "INSERT INTO %I.updateTask"
             " (cid, taskName, successful, lastModified, uuid)"
             " VALUES (0, 'LOCKED', 1, %D, UNHEX('"
             NGX_HTTP_OXMIGRATE_LOCKED_UUID "'))", u->schema, now);

    if (rc < 0) {
        if (mysql_errno(m) != 1062) {
            goto db_failed;
        }

        /* held: take it over only if its holder stopped refreshing */

        rc = ngx_http_oxmigrate_admin_exec(m, u->pool,
                 "UPDATE %I.updateTask SET lastModified = %D"
                 " WHERE cid = 0 AND uuid = UNHEX('"
                 NGX_HTTP_OXMIGRATE_LOCKED_UUID "')"
                 " AND lastModified < %D", u->schema, now,
                 now - (int64_t) u->alcf->lock_idle);
        if (rc < 0) {
            goto db_failed;
        }

        if (rc == 0) {
            mysql_close(m);
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "Update conflict detected. Another process is "
                         "currently updating schema %s.%Z", u->schema);
            return NGX_BUSY;
        }

        ngx_log_error(NGX_LOG_WARN, u->log, 0,
                      "oxmigrate admin: took over the dead update lock "
                      "of schema %s", u->schema);
    }

    /* the refresher */

    ngx_memzero(&rf, sizeof(ngx_http_oxmigrate_refresher_t));
    rf.last = now;
    rf.refresh = u->alcf->lock_refresh;
    rf.schema = u->schema;
    rf.log = u->log;
    rf.job_id = u->job_id;
    rf.job_claim = u->job_claim;
    rf.configdb = u->configdb;

    /* the refresher connects when its first refresh is due: most runs are
     * over before that */
    started = 0;
    rf.host = u->host;
    rf.pool = ngx_create_pool(4096, u->log);

    if (rf.pool) {
        pthread_mutex_init(&rf.mtx, NULL);
        pthread_cond_init(&rf.cond, NULL);

        if (pthread_create(&rf.tid, NULL, ngx_http_oxmigrate_admin_refresher,
                           &rf)
            == 0)
        {
            started = 1;

        } else {
            pthread_mutex_destroy(&rf.mtx);
            pthread_cond_destroy(&rf.cond);
        }
    }

    if (!started) {
        /* without a refresh our lock would look dead: do not run */
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "cannot start the lock refresher%Z");
        ret = NGX_ERROR;
        goto unlock;
    }

    /* what to run */

    if (ngx_http_oxmigrate_admin_schema_state(u->alcf, m, u->pool, u->schema,
                                              &st)
        != NGX_OK)
    {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1, "%s%Z",
                     mysql_error(m));
        ret = NGX_ERROR;
        goto unlock;
    }

    n = u->alcf->tasks ? u->alcf->tasks->nelts : 0;
    todo = ngx_pcalloc(u->pool, (n + 1) * sizeof(ngx_http_oxmigrate_task_t *));
    if (todo == NULL) {
        ret = NGX_ERROR;
        goto unlock;
    }

    if (u->only) {
        todo[0] = u->only;
        n = 1;

    } else {
        t = n ? u->alcf->tasks->elts : NULL;
        n = 0;

        for (i = 0; u->alcf->tasks && i < u->alcf->tasks->nelts; i++) {
            if (ngx_http_oxmigrate_admin_executed(&st, &t[i].name) == NULL
                && ngx_http_oxmigrate_admin_excluded(u->alcf, &t[i], u->pool)
                   == NULL)
            {
                todo[n++] = &t[i];
            }
        }
    }

    ret = NGX_OK;

    for (i = 0; i < n; i++) {

        pthread_mutex_lock(&rf.mtx);
        u->lost = rf.lost;
        pthread_mutex_unlock(&rf.mtx);

        if (u->lost) {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "the update lock of schema %s was taken over by "
                         "another process%Z", u->schema);
            ret = NGX_ERROR;
            break;
        }

        ok = (ngx_http_oxmigrate_admin_run_sql(m, todo[i], err, sizeof(err))
              == NGX_OK);

        if (ngx_http_oxmigrate_admin_task_end(m, u->pool, u->schema, &ok,
                                              err, sizeof(err))
            != NGX_OK)
        {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "after task %V: %s%Z", &todo[i]->name,
                         mysql_error(m));
            ret = NGX_ERROR;
            break;
        }

        if (!ok) {
            ngx_log_error(NGX_LOG_WARN, u->log, 0,
                          "oxmigrate admin: update task %V failed on "
                          "schema %s: %s", &todo[i]->name, u->schema, err);
        }

        name = ngx_array_push(ok ? u->executed : u->failed);
        if (name == NULL) {
            ret = NGX_ERROR;
            break;
        }

        *name = ngx_http_oxmigrate_admin_strndup(u->pool, todo[i]->name.data,
                                                 todo[i]->name.len);
        if (*name == NULL) {
            ret = NGX_ERROR;
            break;
        }

        if (ngx_http_oxmigrate_admin_record(m, u->pool, u->schema,
                                            &todo[i]->name, ok,
                                            u->only != NULL)
            != NGX_OK)
        {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "recording task %V: %s%Z", &todo[i]->name,
                         mysql_error(m));
            ret = NGX_ERROR;
            break;
        }
    }

unlock:

    if (started) {
        pthread_mutex_lock(&rf.mtx);
        rf.stop = 1;
        pthread_cond_signal(&rf.cond);
        pthread_mutex_unlock(&rf.mtx);

        pthread_join(rf.tid, NULL);
        pthread_mutex_destroy(&rf.mtx);
        pthread_cond_destroy(&rf.cond);

        u->lost = rf.lost;
    }

    if (!u->lost) {
        rc = ngx_http_oxmigrate_admin_exec(m, u->pool,
                 "DELETE FROM %I.updateTask WHERE cid = 0 AND uuid = UNHEX('"
                 NGX_HTTP_OXMIGRATE_LOCKED_UUID "') AND lastModified = %D",
                 u->schema, rf.last);

        if (rc < 0) {
            ngx_log_error(NGX_LOG_ERR, u->log, 0,
                          "oxmigrate admin: unlocking schema %s failed: %s",
                          u->schema, mysql_error(m));

        } else if (rc == 0 && started) {
            /* not ours any more: taken over after the last refresh */
            u->lost = 1;
        }
    }

    /* a lost lock is an error wherever it is noticed, also after the last
     * task: another runner may have run tasks at the same time */
    if (u->lost && ret == NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, u->log, 0,
                      "oxmigrate admin: the update lock of schema %s was "
                      "taken over by another process during the update",
                      u->schema);
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the update lock of schema %s was taken over by "
                     "another process during the update%Z", u->schema);
        ret = NGX_ERROR;
    }

    if (rf.m) {
        mysql_close(rf.m);
    }

    if (rf.cdb) {
        mysql_close(rf.cdb);
    }

    if (rf.pool) {
        ngx_destroy_pool(rf.pool);
    }

    if (u->keep && mysql_errno(m) < 2000) {
        u->conn = m;

    } else {
        mysql_close(m);
    }

    return ret;

db_failed:

    ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                 "schema %s: %s%Z", u->schema, mysql_error(m));
    mysql_close(m);

    return NGX_ERROR;
}


static ngx_int_t
ngx_http_oxmigrate_admin_run_sql(MYSQL *m, ngx_http_oxmigrate_task_t *task,
    char *err, size_t len)
{
    int         status;
    MYSQL_RES  *res;

    if (task->sql.len == 0) {
        return NGX_OK;
    }

    if (mysql_real_query(m, (char *) task->sql.data, task->sql.len) != 0) {
        goto failed;
    }

    /* a task is a batch of statements: drain every result */

    do {
        res = mysql_store_result(m);
        if (res) {
            mysql_free_result(res);

        } else if (mysql_field_count(m) != 0) {
            goto failed;
        }

        status = mysql_next_result(m);

    } while (status == 0);

    if (status > 0) {
        goto failed;
    }

    return NGX_OK;

failed:

    ngx_snprintf((u_char *) err, len - 1, "MariaDB error %ud: %s%Z",
                 mysql_errno(m), mysql_error(m));

    return NGX_ERROR;
}


/*
 * What a task leaves behind must not leak into our bookkeeping or the next
 * task: an open transaction (START TRANSACTION without COMMIT, or
 * autocommit off) would take the updateTask rows and the unlock with it
 * when the connection is reset or closed, a USE would send the next task
 * into another database.  A task that succeeded is committed, one that
 * failed rolled back; table locks are released, autocommit restored and
 * the schema selected again.
 * NGX_ERROR: the connection is broken.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_task_end(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_uint_t *ok, char *err, size_t len)
{
    int         status;
    char       *sql;
    MYSQL_RES  *res;

    if (*ok && mysql_query(m, "COMMIT") != 0) {
        ngx_snprintf((u_char *) err, len - 1, "COMMIT: MariaDB error %ud: "
                     "%s%Z", mysql_errno(m), mysql_error(m));
        *ok = 0;
    }

    /*
     * One round trip, not mysql_reset_connection(): a reset after every
     * task made a 100-schema upgrade a third slower.  Session variables a
     * task sets (sql_mode, foreign_key_checks) do stay for the next one,
     * as they would in one OX update run.
     */

    sql = ngx_http_oxmigrate_admin_sql(m, pool, "ROLLBACK; UNLOCK TABLES;"
                                       " SET autocommit = 1; USE %I", schema);
    if (sql == NULL || mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
        return NGX_ERROR;
    }

    do {
        res = mysql_store_result(m);
        if (res) {
            mysql_free_result(res);
        }

        status = mysql_next_result(m);

    } while (status == 0);

    return status > 0 ? NGX_ERROR : NGX_OK;
}


/* one row per task (a forced re-run updates it), uuid random (ox-facts 6) */

static ngx_int_t
ngx_http_oxmigrate_admin_record(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_str_t *name, ngx_uint_t ok, ngx_uint_t update)
{
    int64_t  rc, now;

    now = ngx_http_oxmigrate_admin_now_ms();

    /* a pending task has no row yet (we hold the lock): only a forced one
     * may have one to update */

    rc = !update ? 0 : ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE %I.updateTask SET successful = %U, lastModified = %D"
             " WHERE cid = 0 AND taskName = %V"
             " AND uuid <> UNHEX('" NGX_HTTP_OXMIGRATE_LOCKED_UUID "')"
             " AND uuid <> UNHEX('" NGX_HTTP_OXMIGRATE_BG_UUID "')",
             schema, (uint64_t) ok, now, name);
    if (rc < 0) {
        return NGX_ERROR;
    }

    if (rc > 0) {
        return NGX_OK;
    }

    rc = ngx_http_oxmigrate_admin_exec(m, pool,
             "INSERT INTO %I.updateTask"
             " (cid, taskName, successful, lastModified, uuid)"
             " VALUES (0, %V, %U, %D, UNHEX(REPLACE(UUID(), '-', '')))",
             schema, name, (uint64_t) ok, now);

    return rc < 0 ? NGX_ERROR : NGX_OK;
}


static void *
ngx_http_oxmigrate_admin_refresher(void *data)
{
    ngx_http_oxmigrate_refresher_t  *rf = data;

    char             err[256];
    int64_t          now, next, rc;
    struct timespec  ts;

    ngx_http_oxmigrate_admin_thread_init();

    pthread_mutex_lock(&rf->mtx);

    while (!rf->stop) {

        next = ngx_http_oxmigrate_admin_now_ms() + rf->refresh;
        ts.tv_sec = next / 1000;
        ts.tv_nsec = (next % 1000) * 1000000;

        while (!rf->stop
               && ngx_http_oxmigrate_admin_now_ms() < next)
        {
            (void) pthread_cond_timedwait(&rf->cond, &rf->mtx, &ts);
        }

        if (rf->stop) {
            break;
        }

        pthread_mutex_unlock(&rf->mtx);

        ngx_reset_pool(rf->pool);

        now = ngx_http_oxmigrate_admin_now_ms();
        if (now <= rf->last) {
            now = rf->last + 1;
        }

        if (rf->m == NULL) {
            rf->m = ngx_http_oxmigrate_admin_connect(rf->host, rf->schema,
                                                     CLIENT_FOUND_ROWS, err,
                                                     sizeof(err));
            if (rf->m == NULL) {
                ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                              "oxmigrate admin: the update lock of schema "
                              "%s cannot be refreshed: %s", rf->schema, err);
            }
        }

        rc = (rf->m == NULL) ? -1 : ngx_http_oxmigrate_admin_exec(rf->m,
                                                                  rf->pool,
                 "UPDATE %I.updateTask SET lastModified = %D"
                 " WHERE cid = 0 AND uuid = UNHEX('"
                 NGX_HTTP_OXMIGRATE_LOCKED_UUID "') AND lastModified = %D",
                 rf->schema, now, rf->last);

        if (rc < 0 && rf->m) {
            ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                          "oxmigrate admin: refreshing the update lock of "
                          "schema %s failed: %s", rf->schema,
                          mysql_error(rf->m));
            mysql_close(rf->m);
            rf->m = NULL;
        }

        if (rf->job_id) {
            if (rf->cdb == NULL) {
                rf->cdb = ngx_http_oxmigrate_admin_configdb_connect(
                              rf->configdb, rf->pool, err, sizeof(err));
            }

            if (rf->cdb
                && ngx_http_oxmigrate_admin_exec(rf->cdb, rf->pool,
                       "UPDATE oxmigrate_job SET heartbeat = %D"
                       " WHERE id = %U AND claim = %U", now, rf->job_id,
                       rf->job_claim)
                   < 0)
            {
                mysql_close(rf->cdb);
                rf->cdb = NULL;
            }
        }

        pthread_mutex_lock(&rf->mtx);

        if (rc == 1) {
            rf->last = now;

        } else if (rc == 0) {
            ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                          "oxmigrate admin: the update lock of schema %s "
                          "was taken over by another process", rf->schema);
            rf->lost = 1;
            break;
        }
    }

    pthread_mutex_unlock(&rf->mtx);

    /* our own thread: its connections are closed by the runner, which
     * joins it; free what the connector keeps per thread */
    mysql_thread_end();

    return NULL;
}
