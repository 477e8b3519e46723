
/*
 * oxmigrate admin API: checkdatabase and unblockdatabase on the SQL path
 * (GET /databases/check, POST /databases/{id}/unblock): every schema of
 * every database, one connection per database.  With oxmigrate_ox_tools
 * OX's own tools answer (ngx_http_oxmigrate_admin_oxtasks.c).  Thread
 * pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/*
 * Walks every schema of every database (one connection per database) and
 * calls back with its updateTask state.  Used by check and unblock.
 */

typedef void (*ngx_http_oxmigrate_admin_walk_pt)(
    ngx_http_oxmigrate_admin_op_t *op, MYSQL *sm, uint64_t pool_id,
    ngx_http_oxmigrate_dbhost_t *h, const char *pname, const char *schema,
    ngx_http_oxmigrate_schema_state_t *st, void *data);


static ngx_int_t
ngx_http_oxmigrate_admin_walk(ngx_http_oxmigrate_admin_op_t *op,
    ngx_array_t *all, int64_t only_pool, const char *only_schema,
    ngx_http_oxmigrate_admin_walk_pt cb, void *data)
{
    ngx_uint_t                         i;
    ngx_http_oxmigrate_pool_walk_t     pw;
    ngx_http_oxmigrate_schema_ref_t   *s;
    ngx_http_oxmigrate_schema_state_t  st;

    ngx_http_oxmigrate_admin_pool_walk_init(&pw, &op->conn, 1, 1);
    s = all->elts;

    for (i = 0; i < all->nelts; i++) {

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

        if (ngx_http_oxmigrate_admin_schema_state(op->conn.alcf, pw.sm, op->conn.pool,
                                                  s[i].name, &st)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_WARN, op->conn.log, 0,
                          "oxmigrate admin: schema %s: %s", s[i].name,
                          mysql_error(pw.sm));
            continue;
        }

        cb(op, pw.sm, pw.pool_id, &pw.h, pw.pname, s[i].name, &st, data);
    }

    ngx_http_oxmigrate_admin_pool_walk_done(&pw);

    return NGX_OK;
}


typedef struct {
    char                       *pname;
    int64_t                     now;
    yajl_gen                    g;
    ngx_uint_t                  count;
    ngx_array_t                *kept;
} ngx_http_oxmigrate_admin_walk_ctx_t;


static void
ngx_http_oxmigrate_admin_row(yajl_gen g, uint64_t pool_id, const char *pname,
    ngx_http_oxmigrate_dbhost_t *h, const char *schema, const char *status)
{
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "id");
    ngx_http_oxmigrate_admin_json_int(g, pool_id);
    ngx_http_oxmigrate_admin_json_str(g, "name");
    ngx_http_oxmigrate_admin_json_str(g, pname);
    ngx_http_oxmigrate_admin_json_str(g, "hostname");
    ngx_http_oxmigrate_admin_json_str(g, h->host);
    ngx_http_oxmigrate_admin_json_str(g, "scheme");
    ngx_http_oxmigrate_admin_json_str(g, schema);

    if (status) {
        ngx_http_oxmigrate_admin_json_str(g, "status");
        ngx_http_oxmigrate_admin_json_str(g, status);
    }

    yajl_gen_map_close(g);
}


/* checkdatabase's words, in the order of ngx_http_oxmigrate_update_state_e */
static const char  *ngx_http_oxmigrate_admin_check_status[] = {
    NULL,
    "Needs update",
    "Blocking updates running",
    "Blocking updates running for too long"
};


static void
ngx_http_oxmigrate_admin_check_cb(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *sm, uint64_t pool_id, ngx_http_oxmigrate_dbhost_t *h,
    const char *pname, const char *schema,
    ngx_http_oxmigrate_schema_state_t *st, void *data)
{
    const char                           *status;
    ngx_http_oxmigrate_update_state_e     state;
    ngx_http_oxmigrate_admin_walk_ctx_t  *ctx = data;

    state = ngx_http_oxmigrate_admin_update_state(op->conn.alcf, st, ctx->now);
    status = ngx_http_oxmigrate_admin_check_status[state];
    if (status == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_row(ctx->g, pool_id, pname, h, schema, status);
    ctx->count++;
}


/* GET /databases/check (checkdatabase) */

void
ngx_http_oxmigrate_admin_db_check(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                              g;
    ngx_array_t                          *all;
    ngx_http_oxmigrate_admin_walk_ctx_t   ctx;

    if (op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        ngx_http_oxmigrate_admin_ox_db_check(op);
        return;
    }

    all = ngx_http_oxmigrate_admin_op_schemas(op, 0);
    if (all == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    ngx_memzero(&ctx, sizeof(ngx_http_oxmigrate_admin_walk_ctx_t));
    ctx.g = g;
    ctx.now = ngx_http_oxmigrate_admin_now_ms();

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    (void) ngx_http_oxmigrate_admin_walk(op, all, -1, NULL,
                                         ngx_http_oxmigrate_admin_check_cb,
                                         &ctx);

    yajl_gen_array_close(g);

    if (ctx.count == 0) {
        ngx_http_oxmigrate_admin_json_str(g, "message");
        ngx_http_oxmigrate_admin_json_str(g, "Neither pending, blocking nor "
                                             "stale schemas found");
    }

    yajl_gen_map_close(g);
}


typedef struct {
    const char                 *schema;
    const char                 *host;
    const char                 *status;
} ngx_http_oxmigrate_admin_kept_t;


static void
ngx_http_oxmigrate_admin_unblock_cb(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *sm, uint64_t pool_id, ngx_http_oxmigrate_dbhost_t *h,
    const char *pname, const char *schema,
    ngx_http_oxmigrate_schema_state_t *st, void *data)
{
    int64_t                               rc;
    ngx_http_oxmigrate_admin_kept_t      *k;
    ngx_http_oxmigrate_admin_walk_ctx_t  *ctx = data;

    if (st->locked == 0) {
        return;
    }

    if (ngx_http_oxmigrate_admin_update_state(op->conn.alcf, st, ctx->now)
        == NGX_HTTP_OXMIGRATE_STALE)
    {

        /* conditional: a holder that refreshes right now keeps its lock */

        rc = ngx_http_oxmigrate_admin_exec(sm, op->conn.pool,
                 "DELETE FROM %I.updateTask WHERE cid = 0 AND uuid = UNHEX('"
                 NGX_HTTP_OXMIGRATE_LOCKED_UUID "') AND lastModified = %D",
                 schema, st->locked);

        if (rc == 1) {
            ngx_http_oxmigrate_admin_row(ctx->g, pool_id, pname, h,
                                         schema, NULL);
            ctx->count++;
            return;
        }
    }

    k = ngx_array_push(ctx->kept);
    if (k == NULL) {
        return;
    }

    k->schema = schema;
    k->host = h->host;
    k->status = "Blocking updates running";
}


/* a schema to unblock is one of that database's; NGX_ERROR: answered 404 */

static ngx_int_t
ngx_http_oxmigrate_admin_unblock_schema(ngx_http_oxmigrate_admin_op_t *op,
    ngx_array_t *all, ngx_int_t id, const char *schema)
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

    ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_schema",
                                   "schema '%s' not found in database %i",
                                   schema, id);
    return NGX_ERROR;
}


/* POST /databases/{id}/unblock {"schema":optional} (unblockdatabase) */

void
ngx_http_oxmigrate_admin_db_unblock(ngx_http_oxmigrate_admin_op_t *op)
{
    char                                 *schema;
    MYSQL                                *m;
    yajl_gen                              g;
    ngx_int_t                             id, rc;
    ngx_uint_t                            i;
    ngx_array_t                          *all;
    ngx_http_oxmigrate_dbhost_t           h;
    ngx_http_oxmigrate_admin_kept_t      *k;
    ngx_http_oxmigrate_admin_walk_ctx_t   ctx;

    if (op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        ngx_http_oxmigrate_admin_ox_db_unblock(op);
        return;
    }

    ngx_memzero(&ctx, sizeof(ngx_http_oxmigrate_admin_walk_ctx_t));

    id = ngx_atoi((u_char *) op->args.path[0], ngx_strlen(op->args.path[0]));
    schema = ngx_http_oxmigrate_admin_body_str(op, "schema");

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    rc = (id == NGX_ERROR) ? NGX_DECLINED
         : ngx_http_oxmigrate_admin_pool_host(op->conn.pool, m, id, &h, &ctx.pname);

    if (rc == NGX_DECLINED) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND,
                                       "unknown_database",
                                       "database '%s' not found", op->args.path[0]);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    all = ngx_http_oxmigrate_admin_op_schemas(op, 0);
    if (all == NULL
        || (schema
            && ngx_http_oxmigrate_admin_unblock_schema(op, all, id, schema)
               != NGX_OK))
    {
        return;
    }

    ctx.kept = ngx_array_create(op->conn.pool, 4,
                                sizeof(ngx_http_oxmigrate_admin_kept_t));
    if (ctx.kept == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    ctx.g = g;
    ctx.now = ngx_http_oxmigrate_admin_now_ms();

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "database");
    ngx_http_oxmigrate_admin_json_int(g, id);
    ngx_http_oxmigrate_admin_json_str(g, "unblocked");
    yajl_gen_array_open(g);

    (void) ngx_http_oxmigrate_admin_walk(op, all, id, schema,
                                         ngx_http_oxmigrate_admin_unblock_cb,
                                         &ctx);

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "kept");
    yajl_gen_array_open(g);

    k = ctx.kept->elts;
    for (i = 0; i < ctx.kept->nelts; i++) {
        ngx_http_oxmigrate_admin_row(g, id, ctx.pname, &h, k[i].schema,
                                     k[i].status);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "message");
    if (ctx.count) {
        ngx_http_oxmigrate_admin_json_str(g, "unblocked the following "
                                             "schemas from database");
    } else {
        ngx_http_oxmigrate_admin_json_str(g, "no stale schemas found");
    }

    yajl_gen_map_close(g);
}
