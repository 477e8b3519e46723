/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: one update task of the SQL path and its row in the
 * schema's updateTask, in one transaction (the run itself, its lock and
 * its faults are in ..._runner.c; the statements of updateTask in
 * store/ngx_http_oxmigrate_admin_store_updatetask.c).  Thread pool
 * only.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_run_sql(MYSQL *m,
    ngx_http_oxmigrate_task_t *task, char *err, size_t len);


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
    ngx_uint_t  forced, ended;

    forced = (u->only != NULL);
    ended = 0;

    *ok = (ngx_http_oxmigrate_admin_run_sql(m, task, err, len) == NGX_OK);

    if (!*ok && ngx_http_oxmigrate_admin_gone(mysql_errno(m))) {
        return NGX_AGAIN;
    }

    /* its row, COMMIT and the task's end: one round trip */
    if (*ok
        && ngx_http_oxmigrate_admin_record(m, u->pool, u->schema, &task->name,
                                           1, forced, 1)
           != NGX_OK)
    {
        if (ngx_http_oxmigrate_admin_gone(mysql_errno(m))) {
            return NGX_AGAIN;
        }

        ngx_snprintf((u_char *) err, len - 1, "recording it: MariaDB error "
                     "%ud: %s%Z", mysql_errno(m), mysql_error(m));
        *ok = 0;

    } else if (*ok) {
        ended = 1;
    }

    if (ngx_http_oxmigrate_admin_task_end(m, u->pool, u->schema, ended)
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_gone(mysql_errno(m)) ? NGX_AGAIN
                                                             : NGX_ERROR;
    }

    if (!*ok
        && ngx_http_oxmigrate_admin_record(m, u->pool, u->schema, &task->name,
                                           0, forced, 0)
           != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_gone(mysql_errno(m)) ? NGX_AGAIN
                                                             : NGX_ERROR;
    }

    return NGX_OK;
}
