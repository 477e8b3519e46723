
/*
 * oxmigrate admin API: what the OX admin tools do to configdb (ox-facts 5):
 * registerserver, listdatabaseschema, disableschema, enableschema,
 * changeserver, plus the audit listing.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"




static void ngx_http_oxmigrate_admin_epoch(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_step_t *st);


static void
ngx_http_oxmigrate_admin_epoch(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_step_t *st)
{
    st->cache = ngx_http_oxmigrate_admin_invalidate(st->m, op->omcf->redis,
                                                    op->log, st->cache_why,
                                                    sizeof(st->cache_why));
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












/* the schema of the path ({s}) exists in configdb; NGX_ERROR: answered */

ngx_int_t
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

    g = ngx_http_oxmigrate_admin_reply_schema(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    if (server_id >= 0) {
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, server_id);
    }

    ngx_http_oxmigrate_admin_json_str(g, "contexts");
    ngx_http_oxmigrate_admin_json_int(g, st->res.changed);
    ngx_http_oxmigrate_admin_json_str(g, "cache_invalidation");
    ngx_http_oxmigrate_admin_json_str(g, st->cache ? st->cache : "ttl");

    if (st->cache_why[0]) {
        ngx_http_oxmigrate_admin_json_str(g, "cache_invalidation_error");
        ngx_http_oxmigrate_admin_json_str(g, st->cache_why);
    }
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
    ngx_http_oxmigrate_admin_json_str(g, ngx_http_oxmigrate_admin_caches(st->alcf));

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

    ngx_http_oxmigrate_admin_epoch(op, &st);
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

    ngx_http_oxmigrate_admin_epoch(op, &st);
    ngx_http_oxmigrate_admin_schema_answer(op, &st, id);
}


