/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: what the handlers that still take the whole call
 * (op) use to reach configdb and answer its errors.  They go as their
 * family moves to services (issue 18); a service uses
 * ngx_http_oxmigrate_admin_conn_db() and _db_fail() instead.  Thread pool.
 */


#include "ngx_http_oxmigrate_admin.h"


/* op->conn.db, connected on first use; NULL: answered 503 */

MYSQL *
ngx_http_oxmigrate_admin_configdb(ngx_http_oxmigrate_admin_op_t *op)
{
    MYSQL  *m;

    m = ngx_http_oxmigrate_admin_conn_db(&op->conn, &op->res);

    if (m == NULL) {
        ngx_http_oxmigrate_admin_answer_fail(op);
    }

    return m;
}


/* a handler's SELECT on configdb; NULL: answered 503 or 500 */

MYSQL_RES *
ngx_http_oxmigrate_admin_op_select(ngx_http_oxmigrate_admin_op_t *op,
    const char *fmt, ...)
{
    MYSQL      *m;
    va_list     args;
    MYSQL_RES  *res;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return NULL;
    }

    va_start(args, fmt);
    res = ngx_http_oxmigrate_admin_vselect(m, op->conn.pool, fmt, args);
    va_end(args);

    if (res == NULL) {
        ngx_http_oxmigrate_admin_db_error(op, m);
    }

    return res;
}


/* a failed configdb statement: 500 with MariaDB's message */

void
ngx_http_oxmigrate_admin_db_error(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m)
{
    (void) ngx_http_oxmigrate_admin_db_fail(&op->res, m);
    ngx_http_oxmigrate_admin_answer_fail(op);
}


/* every schema of configdb in order; NULL: answered 503 or 500 */

ngx_array_t *
ngx_http_oxmigrate_admin_op_schemas(ngx_http_oxmigrate_admin_op_t *op,
    uint64_t server_id)
{
    MYSQL        *m;
    ngx_array_t  *all;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return NULL;
    }

    if (ngx_http_oxmigrate_admin_all_schemas(m, op->conn.pool, server_id, &all)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NULL;
    }

    return all;
}
