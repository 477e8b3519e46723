/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: the listings of configdb: GET /schemas
 * (listdatabaseschema, with each schema's update state) and GET /audit.
 * Thread pool; http/ngx_http_oxmigrate_admin_answer_listing.c answers.
 */


#include "ngx_http_oxmigrate_admin.h"


/* GET /schemas' words, in the order of ngx_http_oxmigrate_update_state_e */
static const char  *ngx_http_oxmigrate_admin_schema_status[] = {
    "ok", "needs update", "blocked", "stale"
};


static void ngx_http_oxmigrate_admin_schemas_state(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_array_t *rows);


/* the update state: one connection per database (pool), not schema */

static void
ngx_http_oxmigrate_admin_schemas_state(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_array_t *rows)
{
    char                              *host;
    int64_t                            now;
    ngx_uint_t                         i;
    ngx_http_oxmigrate_pool_walk_t     pw;
    ngx_http_oxmigrate_schema_row_t   *s;
    ngx_http_oxmigrate_schema_state_t  st;

    now = ngx_http_oxmigrate_admin_now_ms();
    ngx_http_oxmigrate_admin_pool_walk_init(&pw, c, 1, 1);
    host = NULL;
    s = rows->elts;

    for (i = 0; i < rows->nelts; i++) {
        if (ngx_http_oxmigrate_admin_pool_walk(&pw, s[i].ref.pool_id)) {
            host = pw.known ? ngx_http_oxmigrate_admin_host_port(c->pool,
                                                                 &pw.h)
                            : NULL;
        }

        s[i].host = host;

        if (pw.sm == NULL
            || ngx_http_oxmigrate_admin_schema_state(c->alcf, pw.sm, c->pool,
                                                     s[i].ref.name, &st)
               != NGX_OK)
        {
            continue;
        }

        s[i].status = ngx_http_oxmigrate_admin_schema_status[
                          ngx_http_oxmigrate_admin_update_state(c->alcf, &st,
                                                                now)];
    }

    ngx_http_oxmigrate_admin_pool_walk_done(&pw);
}


/* GET /schemas: data is an array of ngx_http_oxmigrate_schema_row_t */

ngx_int_t
ngx_http_oxmigrate_admin_schemas_list(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL        *m;
    ngx_array_t  *rows;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rows = ngx_palloc(c->pool, sizeof(ngx_array_t));
    if (rows == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_store_schemas(m, c->pool, rows) != NGX_OK) {
        return mysql_errno(m) ? ngx_http_oxmigrate_admin_db_fail(res, m)
                              : NGX_ERROR;
    }

    /* the documented order: database, then the name, digits as numbers */
    qsort(rows->elts, rows->nelts, sizeof(ngx_http_oxmigrate_schema_row_t),
          ngx_http_oxmigrate_admin_schema_order);

    ngx_http_oxmigrate_admin_schemas_state(c, rows);

    res->data = rows;

    return NGX_OK;
}


/* GET /audit?limit=N: data is an array of ngx_http_oxmigrate_audit_row_t */

ngx_int_t
ngx_http_oxmigrate_admin_audit_list(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL        *m;
    ngx_array_t  *rows;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_store_audit_rows(m, c->pool, a->rows, &rows)
        != NGX_OK)
    {
        return mysql_errno(m) ? ngx_http_oxmigrate_admin_db_fail(res, m)
                              : NGX_ERROR;
    }

    res->data = rows;

    return NGX_OK;
}
