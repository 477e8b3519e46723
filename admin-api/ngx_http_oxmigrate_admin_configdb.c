
/*
 * oxmigrate admin API: what the OX admin tools do to configdb (ox-facts 5):
 * registerserver, listdatabaseschema, disableschema, enableschema,
 * changeserver, plus the audit listing.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"




static void ngx_http_oxmigrate_admin_epoch(ngx_http_oxmigrate_admin_op_t *op);


static void
ngx_http_oxmigrate_admin_epoch(ngx_http_oxmigrate_admin_op_t *op)
{
    (void) ngx_http_oxmigrate_admin_epoch_incr(op->omcf->redis, op->log);
}


/* GET /servers */

void
ngx_http_oxmigrate_admin_servers_list(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen    g;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT server_id, name FROM server ORDER BY server_id");
    if (res == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply_list(op, res, "servers");
    if (g == NULL) {
        return;
    }

    while ((row = mysql_fetch_row(res))) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "id");
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[0],
                                                      ngx_strlen(row[0])));
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, row[1]);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    mysql_free_result(res);
}


int64_t
ngx_http_oxmigrate_admin_server_id(MYSQL *m, ngx_pool_t *pool,
    const char *name)
{
    int64_t     id;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT server_id FROM server WHERE name = %s", name);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    id = row ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0])) : 0;

    mysql_free_result(res);

    return id;
}


/*
 * registerserver: the id comes from configdb_sequence the way the OX
 * tools take it, so ids never collide with ones OX hands out.
 */

uint64_t
ngx_http_oxmigrate_admin_register(MYSQL *m, ngx_pool_t *pool,
    const char *name, char *msg, size_t len)
{
    int64_t     rc;
    uint64_t    id;

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "UPDATE configdb_sequence SET id = LAST_INSERT_ID(id + 1)")
        != 1)
    {
        ngx_snprintf((u_char *) msg, len - 1, "configdb_sequence: %s%Z",
                     mysql_errno(m) ? mysql_error(m) : "no row");
        return 0;
    }

    id = mysql_insert_id(m);

    rc = ngx_http_oxmigrate_admin_exec(m, pool,
             "INSERT INTO server (server_id, name, uuid)"
             " VALUES (%U, %s, UNHEX(REPLACE(UUID(), '-', '')))", id, name);

    if (rc < 0 && mysql_errno(m) == 1054) {
        /* 7.x configdb: no server.uuid column */
        rc = ngx_http_oxmigrate_admin_exec(m, pool,
                 "INSERT INTO server (server_id, name) VALUES (%U, %s)",
                 id, name);
    }

    if (rc < 0) {
        ngx_snprintf((u_char *) msg, len - 1, "%s%Z", mysql_error(m));
        return 0;
    }

    return id;
}


/* POST /servers {"name":...} */

void
ngx_http_oxmigrate_admin_servers_add(ngx_http_oxmigrate_admin_op_t *op)
{
    char                       *name;
    MYSQL                      *m;
    int64_t                     id;
    yajl_gen                    g;
    ngx_http_oxmigrate_step_t   st;

    name = ngx_http_oxmigrate_admin_body_str(op, "name");
    if (name == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "missing_field",
                                       "field \"name\" is required");
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    id = ngx_http_oxmigrate_admin_server_id(m, op->pool, name);

    if (id == 0) {
        if (op->alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
            && !ngx_http_oxmigrate_admin_ox_safe((u_char *) name,
                                                 ngx_strlen(name)))
        {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                           "invalid_argument", "a server name consists of "
                           "letters, digits and _.-:@%%+=,/ (not starting "
                           "with \"-\")");
            return;
        }

        ngx_http_oxmigrate_admin_step_init(&st, op->alcf, op->pool, op->log,
                                           m, NULL);

        id = st.steps->registerserver(&st, name);

        if (id == 0 && st.status != NGX_HTTP_CONFLICT) {
            ngx_http_oxmigrate_admin_step_error(op, &st, st.status);
            return;
        }

        if (id == 0) {
            /* registered concurrently under the same name */
            id = ngx_http_oxmigrate_admin_server_id(m, op->pool, name);

            if (id == 0) {
                /* the duplicate was the id: configdb_sequence lags */
                ngx_http_oxmigrate_admin_error(op,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "db_error", "registerserver: %s",
                                       st.res.msg);
                return;
            }

        } else {
            g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_CREATED);
            if (g == NULL) {
                return;
            }

            yajl_gen_map_open(g);
            ngx_http_oxmigrate_admin_json_str(g, "id");
            ngx_http_oxmigrate_admin_json_int(g, id);
            ngx_http_oxmigrate_admin_json_str(g, "name");
            ngx_http_oxmigrate_admin_json_str(g, name);
            ngx_http_oxmigrate_admin_json_str(g, "message");
            ngx_http_oxmigrate_admin_json_str(g, "registered");
            if (st.call) {
                ngx_http_oxmigrate_admin_ox_json(g, st.call);
            }
            yajl_gen_map_close(g);
            return;
        }
    }

    if (id < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT,
                        "server_exists",
                        "The specified server is already registered with "
                        "id '%L'.", id);
    if (op->gen) {
        ngx_http_oxmigrate_admin_json_str(op->gen, "id");
        ngx_http_oxmigrate_admin_json_int(op->gen, id);
        ngx_http_oxmigrate_admin_json_str(op->gen, "name");
        ngx_http_oxmigrate_admin_json_str(op->gen, name);
    }

    ngx_http_oxmigrate_admin_error_close(op);
}


/*
 * 1: known schema, 0: unknown, -1: error.
 *
 * Schema names match byte for byte everywhere.  configdb's collation
 * ignores case and trailing spaces, database names on the schema's host do
 * not: "OXDATABASE_5" must not pass for oxdatabase_5 and then run update
 * tasks in some other database.  The plain "=" keeps the index on
 * db_schema, the BINARY one makes the match exact.
 */

ngx_int_t
ngx_http_oxmigrate_admin_schema_exists(MYSQL *m, ngx_pool_t *pool,
    const char *schema)
{
    ngx_int_t   rc;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT 1 FROM context_server2db_pool WHERE db_schema = %s"
              " AND BINARY db_schema = %s LIMIT 1", schema, schema);
    if (res == NULL) {
        return -1;
    }

    rc = mysql_num_rows(res) ? 1 : 0;
    mysql_free_result(res);

    if (rc) {
        return 1;
    }

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT 1 FROM contexts_per_dbschema WHERE schemaname = %s"
              " AND BINARY schemaname = %s LIMIT 1", schema, schema);
    if (res == NULL) {
        return mysql_errno(m) == 1146 ? 0 : -1;
    }

    rc = mysql_num_rows(res) ? 1 : 0;
    mysql_free_result(res);

    return rc;
}


ngx_uint_t
ngx_http_oxmigrate_admin_do_disable(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_res_t *res)
{
    res->changed = ngx_http_oxmigrate_admin_exec(m, pool,
        "UPDATE context c JOIN context_server2db_pool p ON p.cid = c.cid"
        " SET c.enabled = 0, c.reason_id = " NGX_HTTP_OXMIGRATE_REASON_STR
        " WHERE p.db_schema = %s AND BINARY p.db_schema = %s"
        " AND c.enabled = 1", schema, schema);

    if (res->changed < 0) {
        res->db_errno = mysql_errno(m);
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1, "%s%Z",
                     mysql_error(m));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return 0;
}


/* only contexts disabled for the schema move: other reasons stay */

ngx_uint_t
ngx_http_oxmigrate_admin_do_enable(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_res_t *res)
{
    res->changed = ngx_http_oxmigrate_admin_exec(m, pool,
        "UPDATE context c JOIN context_server2db_pool p ON p.cid = c.cid"
        " SET c.enabled = 1, c.reason_id = NULL"
        " WHERE p.db_schema = %s AND BINARY p.db_schema = %s"
        " AND c.enabled = 0 AND c.reason_id = " NGX_HTTP_OXMIGRATE_REASON_STR,
        schema, schema);

    if (res->changed < 0) {
        res->db_errno = mysql_errno(m);
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1, "%s%Z",
                     mysql_error(m));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return 0;
}


/*
 * changeserver.  The move and the check for enabled contexts are one
 * transaction, and the move comes first: it locks the schema's
 * context_server2db_pool rows, which every enable or disable (an UPDATE
 * joined with them) must lock too, so no enable can slip in between the
 * check and the commit, and the check (a plain read after the move) sees
 * every enable committed before.  Cheaper than locking all rows with a
 * SELECT ... FOR UPDATE first; a refused move is rolled back.
 */

ngx_int_t
ngx_http_oxmigrate_admin_count_enabled(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *total, uint64_t *enabled)
{
    MYSQL_ROW   row;
    MYSQL_RES  *rs;

    rs = ngx_http_oxmigrate_admin_select(m, pool,
             "SELECT COUNT(*), COALESCE(SUM(c.enabled = 1), 0) FROM context c"
             " JOIN context_server2db_pool p ON p.cid = c.cid"
             " WHERE p.db_schema = %s AND BINARY p.db_schema = %s",
             schema, schema);
    if (rs == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(rs);
    *total = row ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0])) : 0;
    *enabled = row ? ngx_atoof((u_char *) row[1], ngx_strlen(row[1])) : 0;
    mysql_free_result(rs);

    return NGX_OK;
}


ngx_uint_t
ngx_http_oxmigrate_admin_do_changeserver(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t server_id,
    ngx_http_oxmigrate_schema_res_t *res)
{
    u_char      *p, *last;
    uint64_t    *cid, total, enabled;
    MYSQL_ROW    row;
    MYSQL_RES   *rs;
    ngx_uint_t   i;

    res->changed = 0;
    res->enabled = ngx_array_create(pool, 8, sizeof(uint64_t));
    if (res->enabled == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a plain look first: a refused call should not move and roll back */
    if (ngx_http_oxmigrate_admin_count_enabled(m, pool, schema, &total,
                                               &enabled)
        != NGX_OK)
    {
        goto failed;
    }

    if (total && enabled == 0) {
        if (mysql_query(m, "START TRANSACTION") != 0) {
            goto failed;
        }

        res->changed = ngx_http_oxmigrate_admin_exec(m, pool,
                           "UPDATE context_server2db_pool SET server_id = %U"
                           " WHERE db_schema = %s"
                           " AND BINARY db_schema = %s",
                           server_id, schema, schema);
        if (res->changed < 0) {
            goto failed;
        }

        if (ngx_http_oxmigrate_admin_count_enabled(m, pool, schema, &total,
                                                   &enabled)
            != NGX_OK)
        {
            goto failed;
        }

        if (total && enabled == 0) {
            if (mysql_commit(m) != 0) {
                goto failed;
            }

            return 0;
        }

        res->changed = 0;
        (void) mysql_query(m, "ROLLBACK");
    }

    if (total == 0) {
        res->empty = 1;
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1,
                     "The schema '%s' contains no contexts.%Z", schema);
        return NGX_HTTP_CONFLICT;
    }

    rs = ngx_http_oxmigrate_admin_select(m, pool,
             "SELECT c.cid FROM context c"
             " JOIN context_server2db_pool p ON p.cid = c.cid"
             " WHERE p.db_schema = %s AND BINARY p.db_schema = %s"
             " AND c.enabled = 1 ORDER BY c.cid LIMIT 10", schema, schema);
    if (rs == NULL) {
        goto failed;
    }

    while ((row = mysql_fetch_row(rs))) {
        cid = ngx_array_push(res->enabled);
        if (cid) {
            *cid = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
        }
    }

    mysql_free_result(rs);

    if (res->enabled->nelts == 0) {
        /* disabled meanwhile: the caller tries again */
        res->db_errno = 1213;
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1,
                     "the contexts of schema '%s' changed during the "
                     "move%Z", schema);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = (u_char *) res->msg;
    last = p + sizeof(res->msg) - 8;

    p = ngx_slprintf(p, last, "The schema '%s' is not disabled. The "
                     "following contexts are still enabled: [", schema);

    cid = res->enabled->elts;
    for (i = 0; i < res->enabled->nelts; i++) {
        p = ngx_slprintf(p, last, "%s%uL", i ? ", " : "", cid[i]);
    }

    if (enabled > res->enabled->nelts) {
        p = ngx_slprintf(p, last, ", ... (%uL in all)", enabled);
    }

    *p++ = ']';
    *p = '\0';

    return NGX_HTTP_CONFLICT;

failed:

    res->db_errno = mysql_errno(m);
    ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1, "%s%Z",
                 mysql_error(m));
    (void) mysql_query(m, "ROLLBACK");

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_int_t
ngx_http_oxmigrate_admin_known_schema(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m)
{
    ngx_int_t  rc;

    rc = ngx_http_oxmigrate_admin_schema_exists(m, op->pool, op->arg[0]);

    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NGX_ERROR;
    }

    if (rc == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND,
                                       "unknown_schema",
                                       "schema '%s' not found", op->arg[0]);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_oxmigrate_admin_schema_answer(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_step_t *st, int64_t server_id)
{
    yajl_gen  g;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, op->arg[0]);

    if (server_id >= 0) {
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, server_id);
    }

    ngx_http_oxmigrate_admin_json_str(g, "contexts");
    ngx_http_oxmigrate_admin_json_int(g, st->res.changed);
    ngx_http_oxmigrate_admin_json_str(g, "cache_invalidation");
    ngx_http_oxmigrate_admin_json_str(g, op->omcf->redis ? "redis epoch"
                                                         : "ttl");
    ngx_http_oxmigrate_admin_step_json(g, st);
    yajl_gen_map_close(g);
}


/* a failed step: 409 and 500 as always, a failed tool with its words */

void
ngx_http_oxmigrate_admin_step_error(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_step_t *st, ngx_uint_t status)
{
    uint64_t    *cid;
    ngx_uint_t   i;

    if (st->ox_failed && st->call) {
        ngx_http_oxmigrate_admin_ox_fail(op, st->call);
        return;
    }

    if (status != NGX_HTTP_CONFLICT) {
        ngx_http_oxmigrate_admin_error(op, status, "db_error", "%s",
                                       st->res.msg);
        return;
    }

    ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT,
                   st->res.empty ? "schema_empty" : "schema_not_disabled",
                   "%s", st->res.msg);

    if (op->gen && st->res.enabled && st->res.enabled->nelts) {
        ngx_http_oxmigrate_admin_json_str(op->gen, "enabled_contexts");
        yajl_gen_array_open(op->gen);

        cid = st->res.enabled->elts;
        for (i = 0; i < st->res.enabled->nelts; i++) {
            ngx_http_oxmigrate_admin_json_int(op->gen, cid[i]);
        }

        yajl_gen_array_close(op->gen);
    }

    if (op->gen) {
        ngx_http_oxmigrate_admin_step_json(op->gen, st);
    }

    ngx_http_oxmigrate_admin_error_close(op);
}


/* "ox_caches" and, when a tool ran, "ox":{...} */

void
ngx_http_oxmigrate_admin_step_json(yajl_gen g, ngx_http_oxmigrate_step_t *st)
{
    ngx_http_oxmigrate_admin_json_str(g, "ox_caches");
    ngx_http_oxmigrate_admin_json_str(g, st->steps->ox_caches);

    if (st->call) {
        ngx_http_oxmigrate_admin_ox_json(g, st->call);
    }
}


/* disableschema and enableschema: the same call, another step */

static void
ngx_http_oxmigrate_admin_schema_toggle(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t enable)
{
    MYSQL                      *m;
    ngx_uint_t                  status;
    ngx_http_oxmigrate_step_t   st;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL || ngx_http_oxmigrate_admin_known_schema(op, m) != NGX_OK) {
        return;
    }

    ngx_http_oxmigrate_admin_step_init(&st, op->alcf, op->pool, op->log, m,
                                       op->arg[0]);

    status = enable ? st.steps->enable(&st) : st.steps->disable(&st);

    if (status) {
        ngx_http_oxmigrate_admin_step_error(op, &st, status);
        return;
    }

    ngx_http_oxmigrate_admin_epoch(op);
    ngx_http_oxmigrate_admin_schema_answer(op, &st, -1);
}


/* POST /schemas/{schema}/disable */

void
ngx_http_oxmigrate_admin_schema_disable(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_schema_toggle(op, 0);
}


/* POST /schemas/{schema}/enable */

void
ngx_http_oxmigrate_admin_schema_enable(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_schema_toggle(op, 1);
}


/* POST /schemas/{schema}/changeserver {"server_id":N} | {"server":"name"} */

void
ngx_http_oxmigrate_admin_schema_changeserver(
    ngx_http_oxmigrate_admin_op_t *op)
{
    char                       *name;
    MYSQL                      *m;
    int64_t                     id;
    yajl_val                    v;
    MYSQL_RES                  *rs;
    ngx_uint_t                  status;
    ngx_http_oxmigrate_step_t   st;

    v = ngx_http_oxmigrate_admin_body_get(op, "server_id");
    name = ngx_http_oxmigrate_admin_body_str(op, "server");

    if ((v == NULL) == (name == NULL)) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "missing_field",
                                       "exactly one of \"server_id\" and "
                                       "\"server\" is required");
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    if (name) {
        id = ngx_http_oxmigrate_admin_server_id(m, op->pool, name);

    } else {
        id = YAJL_GET_INTEGER(v);

        rs = ngx_http_oxmigrate_admin_select(m, op->pool,
                 "SELECT 1 FROM server WHERE server_id = %U", (uint64_t) id);
        if (rs == NULL) {
            id = -1;

        } else {
            if (mysql_num_rows(rs) == 0) {
                id = 0;
            }

            mysql_free_result(rs);
        }
    }

    if (id < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    if (id == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND,
                   "unknown_server", "server %s%s%s not found",
                   name ? "'" : "", name ? name : "id",
                   name ? "'" : "");
        return;
    }

    if (ngx_http_oxmigrate_admin_known_schema(op, m) != NGX_OK) {
        return;
    }

    ngx_http_oxmigrate_admin_step_init(&st, op->alcf, op->pool, op->log, m,
                                       op->arg[0]);

    status = st.steps->changeserver(&st, id);

    if (status) {
        ngx_http_oxmigrate_admin_step_error(op, &st, status);
        return;
    }

    ngx_http_oxmigrate_admin_epoch(op);
    ngx_http_oxmigrate_admin_schema_answer(op, &st, id);
}


