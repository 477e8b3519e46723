/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: checkdatabase and unblockdatabase (GET
 * /databases/check, POST /databases/{id}/unblock): every schema of every
 * database, one connection per database.  With oxmigrate_ox_tools new,
 * OX's own tools answer (ox/ngx_http_oxmigrate_admin_oxtasks.c).  Thread
 * pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/*
 * Walks every schema of every database (one connection per database) and
 * calls back with its updateTask state.  Used by check and unblock.
 */

typedef struct {
    int64_t                        now;
    int64_t                        id;      /* unblock: the database */
    char                          *pname;   /* its name */
    ngx_http_oxmigrate_dbhost_t   *h;       /* its host */
    ngx_array_t                   *rows;
    ngx_array_t                   *kept;
} ngx_http_oxmigrate_admin_walk_ctx_t;

typedef ngx_int_t (*ngx_http_oxmigrate_admin_walk_pt)(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_pool_walk_t *pw,
    const char *schema, ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_walk_ctx_t *ctx);


static ngx_int_t
ngx_http_oxmigrate_admin_walk(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_array_t *all, int64_t only_pool, const char *only_schema,
    ngx_http_oxmigrate_admin_walk_pt cb,
    ngx_http_oxmigrate_admin_walk_ctx_t *ctx)
{
    ngx_int_t                          rc;
    ngx_uint_t                         i;
    ngx_http_oxmigrate_pool_walk_t     pw;
    ngx_http_oxmigrate_schema_ref_t   *s;
    ngx_http_oxmigrate_schema_state_t  st;

    ngx_http_oxmigrate_admin_pool_walk_init(&pw, c, 1, 1);
    s = all->elts;
    rc = NGX_OK;

    for (i = 0; i < all->nelts && rc == NGX_OK; i++) {

        if (only_pool >= 0 && s[i].pool_id != (uint64_t) only_pool) {
            continue;
        }

        if (only_schema && ngx_strcmp(only_schema, s[i].name) != 0) {
            continue;
        }

        (void) ngx_http_oxmigrate_admin_pool_walk(&pw, s[i].pool_id);

        if (pw.sm == NULL) {
            continue;
        }

        if (ngx_http_oxmigrate_admin_schema_state(c->alcf, pw.sm, c->pool,
                                                  s[i].name, &st)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_WARN, c->log, 0,
                          "oxmigrate admin: schema %s: %s", s[i].name,
                          mysql_error(pw.sm));
            continue;
        }

        rc = cb(c, &pw, s[i].name, &st, ctx);
    }

    ngx_http_oxmigrate_admin_pool_walk_done(&pw);

    return rc;
}


/* a row: a schema of database id (name, host) */

static ngx_int_t
ngx_http_oxmigrate_admin_row(ngx_array_t *rows, int64_t id, char *pname,
    ngx_http_oxmigrate_dbhost_t *h, const char *schema, const char *status)
{
    ngx_http_oxmigrate_db_row_t  *r;

    r = ngx_array_push(rows);
    if (r == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(r, sizeof(ngx_http_oxmigrate_db_row_t));
    r->id = id;

    if (pname) {
        r->name.data = (u_char *) pname;
        r->name.len = ngx_strlen(pname);
    }

    if (h->host) {
        r->hostname.data = (u_char *) h->host;
        r->hostname.len = ngx_strlen(h->host);
    }

    r->scheme.data = (u_char *) schema;
    r->scheme.len = ngx_strlen(schema);

    if (status) {
        r->status.data = (u_char *) status;
        r->status.len = ngx_strlen(status);
    }

    return NGX_OK;
}


/* checkdatabase's words, in the order of ngx_http_oxmigrate_update_state_e */
static const char  *ngx_http_oxmigrate_admin_check_status[] = {
    NULL,
    "Needs update",
    "Blocking updates running",
    "Blocking updates running for too long"
};


static ngx_int_t
ngx_http_oxmigrate_admin_check_cb(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_pool_walk_t *pw, const char *schema,
    ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_walk_ctx_t *ctx)
{
    const char  *status;

    status = ngx_http_oxmigrate_admin_check_status[
                 ngx_http_oxmigrate_admin_update_state(c->alcf, st, ctx->now)];

    if (status == NULL) {
        return NGX_OK;
    }

    return ngx_http_oxmigrate_admin_row(ctx->rows, pw->pool_id, pw->pname,
                                        &pw->h, schema, status);
}


/* GET /databases/check (checkdatabase) */

ngx_int_t
ngx_http_oxmigrate_admin_db_check(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_int_t                             rc;
    ngx_array_t                          *all;
    ngx_http_oxmigrate_db_check_t        *ck;
    ngx_http_oxmigrate_admin_walk_ctx_t   ctx;

    ck = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_db_check_t));
    if (ck == NULL) {
        return NGX_ERROR;
    }

    res->data = ck;

    ck->rows = ngx_array_create(c->pool, 16,
                                sizeof(ngx_http_oxmigrate_db_row_t));
    if (ck->rows == NULL) {
        return NGX_ERROR;
    }

    if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        if (ngx_http_oxmigrate_admin_ox_db_check(c, ck) != NGX_OK) {
            return ngx_http_oxmigrate_admin_upd_ox_failed(res, &ck->ox);
        }

        return NGX_OK;
    }

    rc = ngx_http_oxmigrate_admin_schemas(c, &all, res);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_memzero(&ctx, sizeof(ngx_http_oxmigrate_admin_walk_ctx_t));
    ctx.now = ngx_http_oxmigrate_admin_now_ms();
    ctx.rows = ck->rows;

    return ngx_http_oxmigrate_admin_walk(c, all, -1, NULL,
                                         ngx_http_oxmigrate_admin_check_cb,
                                         &ctx);
}


static ngx_int_t
ngx_http_oxmigrate_admin_unblock_cb(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_pool_walk_t *pw, const char *schema,
    ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_walk_ctx_t *ctx)
{
    if (st->locked == 0) {
        return NGX_OK;
    }

    /* conditional: a holder that refreshes right now keeps its lock */

    if (ngx_http_oxmigrate_admin_update_state(c->alcf, st, ctx->now)
        == NGX_HTTP_OXMIGRATE_STALE
        && ngx_http_oxmigrate_admin_store_unlock(pw->sm, c->pool, schema,
                                                 st->locked)
           == 1)
    {
        return ngx_http_oxmigrate_admin_row(ctx->rows, pw->pool_id,
                                            pw->pname, &pw->h, schema, NULL);
    }

    return ngx_http_oxmigrate_admin_row(ctx->kept, ctx->id, ctx->pname,
                                        ctx->h, schema,
                                        "Blocking updates running");
}


/* a schema to unblock is one of that database's; NGX_DECLINED: res */

static ngx_int_t
ngx_http_oxmigrate_admin_unblock_schema(ngx_array_t *all, ngx_int_t id,
    const char *schema, ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_uint_t                        i;
    ngx_http_oxmigrate_schema_ref_t  *s;

    s = all->elts;

    for (i = 0; i < all->nelts; i++) {
        if (s[i].pool_id == (uint64_t) id
            && ngx_strcmp(s[i].name, schema) == 0)
        {
            return NGX_OK;
        }
    }

    return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED, "unknown_schema",
                                         "schema '%s' not found in database "
                                         "%i", schema, id);
}


/* with the tools: unblockdatabase -i ID [--schema S] */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_unblock(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_db_unblock_t *ub,
    ngx_http_oxmigrate_admin_res_t *res)
{
    char  *schema;

    schema = ngx_http_oxmigrate_admin_arg_str(a->schema);
    if (schema
        && ngx_http_oxmigrate_admin_upd_safe(res, "schema", schema) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_oxmigrate_admin_ox_db_unblock(c, a->path[0], schema, ub)
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_upd_ox_failed(res, &ub->ox);
    }

    return NGX_OK;
}


/* POST /databases/{id}/unblock {"schema":optional} (unblockdatabase) */

ngx_int_t
ngx_http_oxmigrate_admin_db_unblock(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    char                                 *schema;
    MYSQL                                *m;
    ngx_int_t                             id, rc;
    ngx_array_t                          *all;
    ngx_http_oxmigrate_dbhost_t           h;
    ngx_http_oxmigrate_db_unblock_t      *ub;
    ngx_http_oxmigrate_admin_walk_ctx_t   ctx;

    ub = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_db_unblock_t));
    if (ub == NULL) {
        return NGX_ERROR;
    }

    res->data = ub;

    ub->unblocked = ngx_array_create(c->pool, 4,
                                     sizeof(ngx_http_oxmigrate_db_row_t));
    if (ub->unblocked == NULL) {
        return NGX_ERROR;
    }

    id = ngx_atoi((u_char *) a->path[0], ngx_strlen(a->path[0]));
    ub->database = id;

    if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        if (id == NGX_ERROR) {
            return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                                 "unknown_database",
                                                 "database '%s' not found",
                                                 a->path[0]);
        }

        return ngx_http_oxmigrate_admin_ox_unblock(c, a, ub, res);
    }

    ngx_memzero(&ctx, sizeof(ngx_http_oxmigrate_admin_walk_ctx_t));
    schema = ngx_http_oxmigrate_admin_arg_str(a->schema);

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = (id == NGX_ERROR) ? NGX_DECLINED
         : ngx_http_oxmigrate_admin_pool_host(c->pool, m, id, &h, &ctx.pname);

    if (rc == NGX_DECLINED) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_database",
                                             "database '%s' not found",
                                             a->path[0]);
    }

    if (rc != NGX_OK) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    rc = ngx_http_oxmigrate_admin_schemas(c, &all, res);
    if (rc != NGX_OK) {
        return rc;
    }

    if (schema
        && ngx_http_oxmigrate_admin_unblock_schema(all, id, schema, res)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    ub->kept = ngx_array_create(c->pool, 4,
                                sizeof(ngx_http_oxmigrate_db_row_t));
    if (ub->kept == NULL) {
        return NGX_ERROR;
    }

    ctx.now = ngx_http_oxmigrate_admin_now_ms();
    ctx.id = id;
    ctx.h = &h;
    ctx.rows = ub->unblocked;
    ctx.kept = ub->kept;

    rc = ngx_http_oxmigrate_admin_walk(c, all, id, schema,
                                       ngx_http_oxmigrate_admin_unblock_cb,
                                       &ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ub->unblocked->nelts) {
        ngx_str_set(&ub->message,
                    "unblocked the following schemas from database");

    } else {
        ngx_str_set(&ub->message, "no stale schemas found");
    }

    return NGX_OK;
}
