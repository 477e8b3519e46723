
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
