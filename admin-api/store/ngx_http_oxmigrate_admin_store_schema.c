/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, store: one schema's state as the job endpoints read
 * it after a job (GET /schemas/{s}, the revert): its contexts by state and
 * server (configdb), its own database and OX's rows in its updateTask.
 * nginx return codes and out-parameters.  Thread pool.
 */


#include "ngx_http_oxmigrate_admin_store_jobs.h"


/* the schema's database; NULL: none (the caller goes on without it) */

MYSQL *
ngx_http_oxmigrate_admin_store_schema_db(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *pool_id)
{
    char                         *pname, err[256];
    ngx_http_oxmigrate_dbhost_t   h;

    if (ngx_http_oxmigrate_admin_schema_pool(m, pool, schema, pool_id)
        != NGX_OK
        || ngx_http_oxmigrate_admin_pool_host(pool, m, *pool_id, &h, &pname)
           != NGX_OK)
    {
        return NULL;
    }

    return ngx_http_oxmigrate_admin_connect(&h, schema, 0, err, sizeof(err));
}


/* the update tasks that ran since a time (ms), char * */

ngx_int_t
ngx_http_oxmigrate_admin_store_tasks_since(MYSQL *sm, ngx_pool_t *pool,
    int64_t since, ngx_array_t **tasks)
{
    char       **t;
    MYSQL_ROW    row;
    MYSQL_RES   *res;

    res = ngx_http_oxmigrate_admin_select(sm, pool,
              "SELECT taskName FROM updateTask WHERE lastModified >= %D"
              " AND taskName NOT IN ('LOCKED', 'BACKGROUND')"
              " ORDER BY lastModified, taskName", since);
    if (res == NULL) {
        return NGX_ERROR;
    }

    *tasks = ngx_array_create(pool, mysql_num_rows(res) + 1, sizeof(char *));
    if (*tasks == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        t = ngx_array_push(*tasks);
        if (t == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        *t = ngx_http_oxmigrate_admin_strndup(pool, row[0],
                                              ngx_strlen(row[0]));
        if (*t == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}


/* OX's LOCKED row: its lastModified, 0: none (or unreadable) */

int64_t
ngx_http_oxmigrate_admin_store_ox_locked(MYSQL *sm, ngx_pool_t *pool)
{
    int64_t     locked;
    MYSQL_ROW   row;
    MYSQL_RES  *lr;

    locked = 0;

    lr = ngx_http_oxmigrate_admin_select(sm, pool,
             "SELECT lastModified FROM updateTask WHERE cid = 0"
             " AND taskName = 'LOCKED'");
    if (lr) {
        row = mysql_fetch_row(lr);
        if (row && row[0]) {
            locked = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
        }

        mysql_free_result(lr);
    }

    return locked;
}


/* its contexts by enabled, reason_id and server_id: ctx_state_t */

ngx_int_t
ngx_http_oxmigrate_admin_store_schema_contexts(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_array_t **out)
{
    MYSQL_ROW                        row;
    MYSQL_RES                       *res;
    ngx_http_oxmigrate_ctx_state_t  *cs;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT c.enabled, c.reason_id, p.server_id, COUNT(*)"
              " FROM context c JOIN context_server2db_pool p USING (cid)"
              " WHERE p.db_schema = %s GROUP BY 1, 2, 3 ORDER BY 3, 1, 2",
              schema);
    if (res == NULL) {
        return NGX_ERROR;
    }

    *out = ngx_array_create(pool, mysql_num_rows(res) + 1,
                            sizeof(ngx_http_oxmigrate_ctx_state_t));
    if (*out == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        cs = ngx_array_push(*out);
        if (cs == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        cs->enabled = (row[0] && row[0][0] == '1');
        cs->reason_id = row[1] ? ngx_http_oxmigrate_admin_strndup(pool,
                                     row[1], ngx_strlen(row[1])) : NULL;
        cs->server_id = row[2] ? ngx_http_oxmigrate_admin_strndup(pool,
                                     row[2], ngx_strlen(row[2])) : NULL;
        cs->count = row[3] ? ngx_http_oxmigrate_admin_strndup(pool,
                                 row[3], ngx_strlen(row[3])) : NULL;
    }

    mysql_free_result(res);

    return NGX_OK;
}


/* the servers of its contexts: ctx_server_t */

ngx_int_t
ngx_http_oxmigrate_admin_store_schema_servers(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_array_t **out)
{
    MYSQL_ROW                         row;
    MYSQL_RES                        *res;
    ngx_http_oxmigrate_ctx_server_t  *cs;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT p.server_id, s.name, COUNT(*)"
              " FROM context_server2db_pool p LEFT JOIN server s"
              " USING (server_id) WHERE p.db_schema = %s GROUP BY 1, 2"
              " ORDER BY 1", schema);
    if (res == NULL) {
        return NGX_ERROR;
    }

    *out = ngx_array_create(pool, mysql_num_rows(res) + 1,
                            sizeof(ngx_http_oxmigrate_ctx_server_t));
    if (*out == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        cs = ngx_array_push(*out);
        if (cs == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        cs->server_id = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
        cs->name = row[1] ? ngx_http_oxmigrate_admin_strndup(pool, row[1],
                                ngx_strlen(row[1])) : NULL;
        cs->contexts = ngx_atoof((u_char *) row[2], ngx_strlen(row[2]));
    }

    mysql_free_result(res);

    return NGX_OK;
}
