
/*
 * oxmigrate admin API: one update task of the SQL path and its row in the
 * schema's updateTask, in one transaction (the runner's statements; the
 * run itself, its lock and its faults are in ..._runner.c).  Thread pool
 * only.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_run_sql(MYSQL *m,
    ngx_http_oxmigrate_task_t *task, char *err, size_t len);
static ngx_int_t ngx_http_oxmigrate_admin_task_end(MYSQL *m,
    ngx_pool_t *pool, const char *schema);
static ngx_int_t ngx_http_oxmigrate_admin_record(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_str_t *name, ngx_uint_t ok, ngx_uint_t update);


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
 * One task and its row in updateTask, in one transaction: the task's
 * statements run with autocommit off, its row is written after them and
 * one COMMIT makes both durable.  A run that dies in between (worker
 * killed, server gone) leaves neither, and the task runs again.  A task
 * that commits by itself (DDL, COMMIT, START TRANSACTION, UNLOCK TABLES
 * after a LOCK TABLES) has made that part durable before its row: such a
 * task must be safe to run twice (docs/admin-api.md).  A task that failed
 * is rolled back and recorded failed.  NGX_OK: *ok says how it went;
 * NGX_AGAIN: the server went away (its row is there if it committed);
 * NGX_ERROR: the connection is unusable.
 */

ngx_int_t
ngx_http_oxmigrate_admin_run_task(ngx_http_oxmigrate_update_t *u, MYSQL *m,
    ngx_http_oxmigrate_task_t *task, ngx_uint_t *ok, char *err, size_t len)
{
    ngx_uint_t  forced;

    forced = (u->only != NULL);

    *ok = (ngx_http_oxmigrate_admin_run_sql(m, task, err, len) == NGX_OK);

    if (!*ok && ngx_http_oxmigrate_admin_gone(mysql_errno(m))) {
        return NGX_AGAIN;
    }

    if (*ok
        && ngx_http_oxmigrate_admin_record(m, u->pool, u->schema, &task->name,
                                           1, forced)
           != NGX_OK)
    {
        if (ngx_http_oxmigrate_admin_gone(mysql_errno(m))) {
            return NGX_AGAIN;
        }

        ngx_snprintf((u_char *) err, len - 1, "recording it: MariaDB error "
                     "%ud: %s%Z", mysql_errno(m), mysql_error(m));
        *ok = 0;
    }

    if (ngx_http_oxmigrate_admin_task_end(m, u->pool, u->schema) != NGX_OK) {
        return ngx_http_oxmigrate_admin_gone(mysql_errno(m)) ? NGX_AGAIN
                                                             : NGX_ERROR;
    }

    if (!*ok
        && ngx_http_oxmigrate_admin_record(m, u->pool, u->schema, &task->name,
                                           0, forced)
           != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_gone(mysql_errno(m)) ? NGX_AGAIN
                                                             : NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * What a task leaves behind must not leak into our bookkeeping or the next
 * task: an open transaction (a failed task's, or START TRANSACTION without
 * COMMIT) is rolled back, table locks are released, autocommit is off
 * again for the next task (the end of the run turns it on) and the schema
 * selected again (a USE would send the next task into another database).
 * NGX_ERROR: the connection is broken.
 *
 * One round trip, not mysql_reset_connection(): a reset after every task
 * made a 100-schema upgrade a third slower.  Session variables a task sets
 * (sql_mode, foreign_key_checks) do stay for the next one, as they would
 * in one OX update run.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_task_end(MYSQL *m, ngx_pool_t *pool,
    const char *schema)
{
    return ngx_http_oxmigrate_admin_batch(m, pool, "ROLLBACK; UNLOCK TABLES;"
                                          " SET autocommit = 0; USE %I",
                                          schema)
           < 0 ? NGX_ERROR : NGX_OK;
}


/*
 * A task's row, and COMMIT: one row per task (a forced re-run updates
 * it), uuid random (ox-facts 6).  A pending task has no row yet (we hold
 * the lock): only a forced one may have one to update.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_record(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_str_t *name, ngx_uint_t ok, ngx_uint_t update)
{
    int64_t     rc, now;
    ngx_uint_t  try;

    now = ngx_http_oxmigrate_admin_now_ms();

    for (try = 0; /* void */; try++) {

        if (update) {
            rc = ngx_http_oxmigrate_admin_batch(m, pool,
                     "UPDATE %I.updateTask SET successful = %U,"
                     " lastModified = %D WHERE cid = 0 AND taskName = %V"
                     " AND uuid <> UNHEX('" NGX_HTTP_OXMIGRATE_LOCKED_UUID "')"
                     " AND uuid <> UNHEX('" NGX_HTTP_OXMIGRATE_BG_UUID "');"
                     " INSERT INTO %I.updateTask"
                     " (cid, taskName, successful, lastModified, uuid)"
                     " SELECT 0, %V, %U, %D, UNHEX(REPLACE(UUID(), '-', ''))"
                     " FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM %I.updateTask"
                     " WHERE cid = 0 AND taskName = %V"
                     " AND uuid <> UNHEX('" NGX_HTTP_OXMIGRATE_LOCKED_UUID "')"
                     " AND uuid <> UNHEX('" NGX_HTTP_OXMIGRATE_BG_UUID "'));"
                     " COMMIT",
                     schema, (uint64_t) ok, now, name, schema, name,
                     (uint64_t) ok, now, schema, name);

        } else {
            rc = ngx_http_oxmigrate_admin_batch(m, pool,
                     "INSERT INTO %I.updateTask"
                     " (cid, taskName, successful, lastModified, uuid)"
                     " VALUES (0, %V, %U, %D, UNHEX(REPLACE(UUID(), '-', '')));"
                     " COMMIT", schema, name, (uint64_t) ok, now);
        }

        if (rc >= 0) {
            return NGX_OK;
        }

        /*
         * The task's own state keeps the row out: a LOCK TABLES without
         * updateTask (1100), a READ ONLY transaction (1792).  Ending it
         * commits the task first, then the row follows alone.
         */

        if (try > 0
            || (mysql_errno(m) != 1100 && mysql_errno(m) != 1792)
            || ngx_http_oxmigrate_admin_batch(m, pool,
                                              mysql_errno(m) == 1100
                                              ? "UNLOCK TABLES" : "COMMIT")
               < 0)
        {
            return NGX_ERROR;
        }
    }
}


/*
 * Statements separated by ";" in one round trip (the connection has
 * CLIENT_MULTI_STATEMENTS), every result drained: the affected rows of
 * the last one; -1: one failed (mysql_errno), the ones after it did not
 * run.
 */

int64_t
ngx_http_oxmigrate_admin_batch(MYSQL *m, ngx_pool_t *pool, const char *fmt,
    ...)
{
    int         status;
    char       *sql;
    int64_t     rows;
    va_list     args;
    MYSQL_RES  *res;

    va_start(args, fmt);
    sql = ngx_http_oxmigrate_admin_vsql(m, pool, fmt, args);
    va_end(args);

    if (sql == NULL || mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
        return -1;
    }

    rows = 0;

    do {
        res = mysql_store_result(m);
        if (res) {
            mysql_free_result(res);

        } else if (mysql_field_count(m) != 0) {
            return -1;
        }

        rows = (int64_t) mysql_affected_rows(m);
        status = mysql_next_result(m);

    } while (status == 0);

    return status > 0 ? -1 : rows;
}
