/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the audit of every mutating call
 * (oxmigrate_audit): a "started" row before the call, completed with the
 * status and the answer after it; store/ngx_http_oxmigrate_admin_audit.c
 * writes the rows.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


#define NGX_HTTP_OXMIGRATE_AUDIT_MAX  4000


/* op->db for the audit, without replacing an answer already made */

static MYSQL *
ngx_http_oxmigrate_admin_audit_db(ngx_http_oxmigrate_admin_op_t *op)
{
    MYSQL                           *m;
    ngx_http_oxmigrate_admin_res_t   res;

    ngx_memzero(&res, sizeof(ngx_http_oxmigrate_admin_res_t));

    m = ngx_http_oxmigrate_admin_conn_db(&op->conn, &res);

    if (m == NULL) {
        ngx_log_error(NGX_LOG_ERR, op->conn.log, 0,
                      "oxmigrate admin: audit of \"%s\" by \"%s\" "
                      "not written: configdb unavailable",
                      op->route->action, op->conn.user);
    }

    return m;
}


/* {"params":[...],"body":"..."} of the call */

static yajl_gen
ngx_http_oxmigrate_admin_audit_args(ngx_http_oxmigrate_admin_op_t *op,
    ngx_str_t *args)
{
    size_t                len, blen;
    yajl_gen              g;
    ngx_uint_t            i;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "params");
    yajl_gen_array_open(g);
    for (i = 0; i < 2 && op->args.path[i]; i++) {
        ngx_http_oxmigrate_admin_json_str(g, op->args.path[i]);
    }
    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "body");
    blen = ngx_min(op->args.body_len, NGX_HTTP_OXMIGRATE_AUDIT_MAX);
    if (op->args.body) {
        ngx_http_oxmigrate_admin_json_strn(g, op->args.body, blen);

    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);

    yajl_gen_get_buf(g, &buf, &len);
    args->data = (u_char *) buf;
    args->len = len;

    return g;
}


/*
 * The audit row of a mutating call is written before the call runs
 * (status 0, result {"state":"started"}): a call that dies with its
 * worker leaves that trace.  Completed after the call (thread).
 */

void
ngx_http_oxmigrate_admin_audit_start(ngx_http_oxmigrate_admin_op_t *op)
{
    MYSQL      *m;
    yajl_gen    g;
    ngx_str_t   args;

    m = ngx_http_oxmigrate_admin_audit_db(op);
    if (m == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_audit_args(op, &args);
    if (g == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_store_audit_started(m, op->conn.pool,
                                           op->conn.user, op->route->action,
                                           &args, &op->audit_id)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, op->conn.log, 0,
                      "oxmigrate admin: audit insert failed: %s",
                      mysql_error(m));
    }

    yajl_gen_free(g);
}


void
ngx_http_oxmigrate_admin_audit(ngx_http_oxmigrate_admin_op_t *op)
{
    size_t                len;
    MYSQL                *m;
    yajl_gen              g;
    ngx_str_t             args, result;
    const unsigned char  *buf;

    m = ngx_http_oxmigrate_admin_audit_db(op);
    if (m == NULL) {
        return;
    }

    if (op->no_audit) {
        /* a dry run: it changed nothing, its "started" row goes */
        if (op->audit_id) {
            ngx_http_oxmigrate_admin_store_audit_drop(m, op->conn.pool,
                                                      op->audit_id);
        }

        return;
    }

    ngx_str_set(&result, "");

    if (op->gen
        && yajl_gen_get_buf(op->gen, &buf, &len) == yajl_gen_status_ok)
    {
        result.data = (u_char *) buf;
        result.len = ngx_min(len, NGX_HTTP_OXMIGRATE_AUDIT_MAX);
    }

    if (op->audit_id) {
        if (ngx_http_oxmigrate_admin_store_audit_done(m, op->conn.pool,
                                                      op->audit_id,
                                                      op->status, &result)
            == NGX_OK)
        {
            return;
        }
    }

    g = ngx_http_oxmigrate_admin_audit_args(op, &args);
    if (g == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_store_audit_row(m, op->conn.pool,
                                           op->conn.user, op->route->action,
                                           &args, op->status, &result)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, op->conn.log, 0,
                      "oxmigrate admin: audit insert failed: %s",
                      mysql_error(m));
    }

    yajl_gen_free(g);
}
