/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the store of a schema's updateTask table (ox-facts
 * 6): the rows of executed tasks and OX's lock rows (LOCKED, BACKGROUND),
 * on the schema's own database.  Knows nothing about HTTP: nginx return
 * codes and out-parameters.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/*
 * The rows of a schema's updateTask: executed tasks, OX's LOCKED row (its
 * lastModified), the BACKGROUND row skipped.
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_task_rows(MYSQL *sm, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_state_t *st)
{
    MYSQL_ROW                       row;
    MYSQL_RES                      *res;
    unsigned long                  *lens;
    ngx_http_oxmigrate_executed_t  *e;

    ngx_memzero(st, sizeof(ngx_http_oxmigrate_schema_state_t));

    st->executed = ngx_array_create(pool, 16,
                                    sizeof(ngx_http_oxmigrate_executed_t));
    if (st->executed == NULL) {
        return NGX_ERROR;
    }

    res = ngx_http_oxmigrate_admin_select(sm, pool,
              "SELECT taskName, successful, lastModified, HEX(uuid)"
              " FROM %I.updateTask WHERE cid = 0", schema);

    if (res == NULL) {
        switch (mysql_errno(sm)) {

        case 1146:  /* ER_NO_SUCH_TABLE: never updated */
            break;

        case 1049:  /* ER_BAD_DB_ERROR */
            st->missing = 1;
            break;

        default:
            return NGX_ERROR;
        }

    } else {
        while ((row = mysql_fetch_row(res))) {
            lens = mysql_fetch_lengths(res);

            if (lens[3] == 32
                && ngx_strncasecmp((u_char *) row[3],
                                   (u_char *) NGX_HTTP_OXMIGRATE_LOCKED_UUID,
                                   32) == 0)
            {
                st->locked = ngx_atoof((u_char *) row[2], lens[2]);
                continue;
            }

            if (lens[3] == 32
                && ngx_strncasecmp((u_char *) row[3],
                                   (u_char *) NGX_HTTP_OXMIGRATE_BG_UUID, 32)
                   == 0)
            {
                continue;
            }

            e = ngx_array_push(st->executed);
            if (e == NULL) {
                mysql_free_result(res);
                return NGX_ERROR;
            }

            e->name = ngx_http_oxmigrate_admin_strndup(pool, row[0],
                                                       lens[0]);
            if (e->name == NULL) {
                mysql_free_result(res);
                return NGX_ERROR;
            }

            e->successful = (row[1] && row[1][0] != '0');
            e->last_modified = ngx_atoof((u_char *) row[2], lens[2]);
        }

        mysql_free_result(res);
    }

    return NGX_OK;
}


/*
 * oxmigrate_update_lock_watch: the lastModified of a schema's LOCKED and
 * BACKGROUND rows (ox-facts 6), 0 where there is none.  NGX_DECLINED: no
 * updateTask table or no such database (nothing can be locked there);
 * NGX_ERROR: see mysql_error().
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_locks(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t *locked, int64_t *background)
{
    MYSQL_ROW       row;
    MYSQL_RES      *res;
    unsigned long  *len;

    *locked = 0;
    *background = 0;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT taskName, lastModified FROM %I.updateTask"
              " WHERE cid = 0 AND taskName IN ('LOCKED', 'BACKGROUND')"
              " AND uuid IN (UNHEX('" NGX_HTTP_OXMIGRATE_LOCKED_UUID "'),"
              " UNHEX('" NGX_HTTP_OXMIGRATE_BG_UUID "'))", schema);

    if (res == NULL) {
        switch (mysql_errno(m)) {
        case 1146:  /* ER_NO_SUCH_TABLE: never updated */
        case 1049:  /* ER_BAD_DB_ERROR */
            return NGX_DECLINED;
        default:
            return NGX_ERROR;
        }
    }

    while ((row = mysql_fetch_row(res))) {
        len = mysql_fetch_lengths(res);

        if (row[1] == NULL) {
            continue;
        }

        if (len[0] == 6 && ngx_strncmp(row[0], "LOCKED", 6) == 0) {
            *locked = ngx_atoof((u_char *) row[1], len[1]);

        } else {
            *background = ngx_atoof((u_char *) row[1], len[1]);
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}


/* forceupdatetask: the newest row of task in schema since a time */

ngx_int_t
ngx_http_oxmigrate_admin_store_task_result(MYSQL *sm, ngx_pool_t *pool,
    const char *schema, const char *task, int64_t since)
{
    ngx_int_t   rc;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(sm, pool,
              "SELECT successful FROM %I.updateTask WHERE cid = 0"
              " AND taskName = %s AND lastModified >= %D"
              " ORDER BY lastModified DESC LIMIT 1", schema, task, since);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    rc = (row && row[0]) ? (row[0][0] == '1') : -1;
    mysql_free_result(res);

    return rc;
}


/*
 * unblockdatabase: OX's lock row, if it is still the one seen (a holder
 * that refreshes right now keeps its lock); the rows deleted, -1: failed
 */

int64_t
ngx_http_oxmigrate_admin_store_unlock(MYSQL *sm, ngx_pool_t *pool,
    const char *schema, int64_t locked)
{
    return ngx_http_oxmigrate_admin_exec(sm, pool,
               "DELETE FROM %I.updateTask WHERE cid = 0 AND uuid = UNHEX('"
               NGX_HTTP_OXMIGRATE_LOCKED_UUID "') AND lastModified = %D",
               schema, locked);
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

#define NGX_HTTP_OXMIGRATE_TASK_END                                           \
    "ROLLBACK; UNLOCK TABLES; SET autocommit = 0; USE %I"


/* ended: the task's row took it along (record's end): nothing to send */

ngx_int_t
ngx_http_oxmigrate_admin_task_end(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_uint_t ended)
{
    if (ended) {
        return NGX_OK;
    }

    return ngx_http_oxmigrate_admin_batch(m, pool, NGX_HTTP_OXMIGRATE_TASK_END,
                                          schema)
           < 0 ? NGX_ERROR : NGX_OK;
}


/*
 * A task's row, and COMMIT: one row per task (a forced re-run updates
 * it), uuid random (ox-facts 6).  A pending task has no row yet (we hold
 * the lock): only a forced one may have one to update.  With end, the
 * task's end (task_end) follows the COMMIT in the same round trip; when
 * the row fails, nothing after it ran.
 */

ngx_int_t
ngx_http_oxmigrate_admin_record(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_str_t *name, ngx_uint_t ok, ngx_uint_t update,
    ngx_uint_t end)
{
    char        *after;
    int64_t      rc, now;
    ngx_uint_t   try;

    now = ngx_http_oxmigrate_admin_now_ms();

    after = end ? ngx_http_oxmigrate_admin_sql(m, pool,
                      "; " NGX_HTTP_OXMIGRATE_TASK_END, schema)
                : "";
    if (after == NULL) {
        return NGX_ERROR;
    }

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
                     " COMMIT%R",
                     schema, (uint64_t) ok, now, name, schema, name,
                     (uint64_t) ok, now, schema, name, after);

        } else {
            rc = ngx_http_oxmigrate_admin_batch(m, pool,
                     "INSERT INTO %I.updateTask"
                     " (cid, taskName, successful, lastModified, uuid)"
                     " VALUES (0, %V, %U, %D, UNHEX(REPLACE(UUID(), '-', '')));"
                     " COMMIT%R", schema, name, (uint64_t) ok, now, after);
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


/* the runner: a schema's updateTask, as OX creates it */

ngx_int_t
ngx_http_oxmigrate_admin_store_task_table(MYSQL *m, ngx_pool_t *pool,
    const char *schema)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "CREATE TABLE IF NOT EXISTS %I.updateTask ("
               "cid INT UNSIGNED NOT NULL,"
               " taskName VARCHAR(1024) NOT NULL,"
               " successful BOOLEAN NOT NULL,"
               " lastModified BIGINT NOT NULL,"
               " uuid BINARY(16) NOT NULL,"
               " PRIMARY KEY (cid, uuid),"
               " INDEX full (cid, taskName(191))"
               ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", schema)
           < 0 ? NGX_ERROR : NGX_OK;
}


/* OX's LOCKED row, inserted: the fixed uuid makes it atomic; -1: failed */

int64_t
ngx_http_oxmigrate_admin_store_lock(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t now)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "INSERT INTO %I.updateTask"
               " (cid, taskName, successful, lastModified, uuid)"
               " VALUES (0, 'LOCKED', 1, %D, UNHEX('"
               NGX_HTTP_OXMIGRATE_LOCKED_UUID "'))", schema, now);
}


/*
 * The LOCKED row taken over when it was refreshed before idle_before, or
 * it is the one with lastModified mine: 1 ours, 0 held, -1 failed
 */

int64_t
ngx_http_oxmigrate_admin_store_lock_takeover(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t now, int64_t idle_before, int64_t mine)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE %I.updateTask SET lastModified = %D"
               " WHERE cid = 0 AND uuid = UNHEX('"
               NGX_HTTP_OXMIGRATE_LOCKED_UUID "')"
               " AND (lastModified < %D OR lastModified = %D)", schema,
               now, idle_before, mine);
}


/* the LOCKED row's lastModified, 0: none; NGX_ERROR: see m */

ngx_int_t
ngx_http_oxmigrate_admin_store_lock_read(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t *last)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT lastModified FROM %I.updateTask WHERE cid = 0"
              " AND uuid = UNHEX('" NGX_HTTP_OXMIGRATE_LOCKED_UUID "')",
              schema);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    *last = (row && row[0]) ? ngx_atoof((u_char *) row[0],
                                        ngx_strlen(row[0]))
                            : 0;
    mysql_free_result(res);

    return NGX_OK;
}


/* the refresher: the LOCKED row, if still at last, to now: 1, 0, -1 */

int64_t
ngx_http_oxmigrate_admin_store_lock_refresh(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t now, int64_t last)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE %I.updateTask SET lastModified = %D"
               " WHERE cid = 0 AND uuid = UNHEX('"
               NGX_HTTP_OXMIGRATE_LOCKED_UUID "') AND lastModified = %D",
               schema, now, last);
}


/* the runner's tasks run with autocommit off (one transaction each) */

ngx_int_t
ngx_http_oxmigrate_admin_store_tasks_begin(MYSQL *m, ngx_pool_t *pool)
{
    return ngx_http_oxmigrate_admin_exec(m, pool, "SET autocommit = 0") < 0
           ? NGX_ERROR : NGX_OK;
}


/*
 * The end of a run: rolled back, autocommit on again (the connection may
 * serve the next schema), the LOCKED row deleted if it is still at last;
 * the rows deleted, -1: failed
 */

int64_t
ngx_http_oxmigrate_admin_store_unlock_end(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t last)
{
    return ngx_http_oxmigrate_admin_batch(m, pool,
               "ROLLBACK; SET autocommit = 1;"
               " DELETE FROM %I.updateTask WHERE cid = 0 AND uuid = UNHEX('"
               NGX_HTTP_OXMIGRATE_LOCKED_UUID "') AND lastModified = %D",
               schema, last);
}


/*
 * runupdate's proof: the names of the tasks with successful (1 or 0),
 * newer than since (-1: any), oldest first, into names (char *).
 * NGX_DECLINED: no updateTask table; NGX_ERROR: see sm.
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_task_names(MYSQL *sm, ngx_pool_t *pool,
    const char *schema, ngx_uint_t successful, int64_t since,
    ngx_array_t *names)
{
    char       **name;
    MYSQL_ROW    row;
    MYSQL_RES   *res;

    if (successful) {
        res = ngx_http_oxmigrate_admin_select(sm, pool,
                  "SELECT taskName FROM %I.updateTask WHERE cid = 0"
                  " AND taskName NOT IN ('LOCKED', 'BACKGROUND')"
                  " AND successful = 1 AND lastModified > %D"
                  " ORDER BY lastModified", schema, since);

    } else {
        res = ngx_http_oxmigrate_admin_select(sm, pool,
                  "SELECT taskName FROM %I.updateTask WHERE cid = 0"
                  " AND successful = 0 AND taskName NOT IN ('LOCKED',"
                  " 'BACKGROUND') ORDER BY lastModified", schema);
    }

    if (res == NULL) {
        return mysql_errno(sm) == 1146 ? NGX_DECLINED : NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        name = ngx_array_push(names);
        if (name) {
            *name = ngx_http_oxmigrate_admin_strndup(pool, row[0],
                                                     ngx_strlen(row[0]));
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}


/* the newest task row's lastModified (0: none); NGX_ERROR: see sm */

ngx_int_t
ngx_http_oxmigrate_admin_store_task_newest(MYSQL *sm, ngx_pool_t *pool,
    const char *schema, int64_t *newest)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(sm, pool,
              "SELECT COALESCE(MAX(lastModified), 0) FROM %I.updateTask"
              " WHERE cid = 0 AND taskName NOT IN ('LOCKED', 'BACKGROUND')",
              schema);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    *newest = row ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0])) : 0;
    mysql_free_result(res);

    return NGX_OK;
}
