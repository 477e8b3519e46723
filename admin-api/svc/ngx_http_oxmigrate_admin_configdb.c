/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: what the OX admin tools do to configdb
 * (ox-facts 5): listservers, registerserver, disableschema, enableschema,
 * changeserver.  Thread pool; (connection, arguments) in, rc, reason and a
 * result out (http/ngx_http_oxmigrate_admin_answer_configdb.c answers).
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_step_failed(
    ngx_http_oxmigrate_admin_res_t *res, ngx_http_oxmigrate_step_t *st,
    ngx_int_t rc);
static ngx_int_t ngx_http_oxmigrate_admin_schema_toggle(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res, ngx_uint_t enable);


/* GET /servers: data is an array of ngx_http_oxmigrate_server_t */

ngx_int_t
ngx_http_oxmigrate_admin_servers_list(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL        *m;
    ngx_array_t  *servers;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_store_servers(m, c->pool, &servers)
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    res->data = servers;

    return NGX_OK;
}


/* POST /servers {"name":...}: data is an ngx_http_oxmigrate_registered_t */

ngx_int_t
ngx_http_oxmigrate_admin_servers_add(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL                            *m;
    int64_t                           id;
    ngx_http_oxmigrate_registered_t  *rg;

    if (a->name == NULL) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "missing_field",
                                             "field \"name\" is required");
    }

    rg = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_registered_t));
    if (rg == NULL) {
        return NGX_ERROR;
    }

    res->data = rg;
    rg->name = a->name;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    id = ngx_http_oxmigrate_admin_server_id(m, c->pool, a->name);

    if (id == 0) {
        if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
            && !ngx_http_oxmigrate_admin_ox_safe((u_char *) a->name,
                                                 ngx_strlen(a->name)))
        {
            return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                           "invalid_argument", "a server name consists of "
                           "letters, digits and _.-:@%%+=,/ (not starting "
                           "with \"-\")");
        }

        ngx_http_oxmigrate_admin_step_init(&rg->st, c->alcf, c->pool, c->log,
                                           m, NULL);

        id = rg->st.steps->registerserver(&rg->st, a->name);

        if (id == 0 && rg->st.rc != NGX_DECLINED) {
            return ngx_http_oxmigrate_admin_step_failed(res, &rg->st,
                                                        rg->st.rc);
        }

        if (id) {
            rg->id = id;
            rg->created = 1;
            return NGX_OK;
        }

        /* registered concurrently under the same name */
        id = ngx_http_oxmigrate_admin_server_id(m, c->pool, a->name);

        if (id == 0) {
            /* the duplicate was the id: configdb_sequence lags */
            return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR, "db_error",
                                                 "registerserver: %s",
                                                 rg->st.res.msg);
        }
    }

    if (id < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    rg->id = id;

    return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED, "server_exists",
                        "The specified server is already registered with "
                        "id '%L'.", id);
}


/*
 * A failed step: the tool's own failure, or what configdb refused
 * (NGX_DECLINED: schema_empty, schema_not_disabled) or could not do
 * (db_error); st->reason says which.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_step_failed(ngx_http_oxmigrate_admin_res_t *res,
    ngx_http_oxmigrate_step_t *st, ngx_int_t rc)
{
    return ngx_http_oxmigrate_admin_fail(res, rc,
                           st->reason ? st->reason : "db_error", "%s",
                           (st->ox_failed && st->call) ? st->call->error
                                                       : st->res.msg);
}


/* the schema of the path ({s}) exists in configdb */

ngx_int_t
ngx_http_oxmigrate_admin_schema_known(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, const char *schema, ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_int_t  rc;

    rc = ngx_http_oxmigrate_admin_schema_exists(m, c->pool, schema);

    if (rc < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (rc == 0) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_schema",
                                             "schema '%s' not found", schema);
    }

    return NGX_OK;
}


/* disableschema and enableschema: the same call, another step */

static ngx_int_t
ngx_http_oxmigrate_admin_schema_toggle(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res,
    ngx_uint_t enable)
{
    MYSQL                           *m;
    ngx_int_t                        rc;
    ngx_http_oxmigrate_schema_op_t  *so;

    so = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_schema_op_t));
    if (so == NULL) {
        return NGX_ERROR;
    }

    res->data = so;
    so->schema = a->path[0];
    so->server_id = -1;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_schema_known(c, m, so->schema, res);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_oxmigrate_admin_step_init(&so->st, c->alcf, c->pool, c->log, m,
                                       so->schema);
    so->stepped = 1;

    rc = enable ? so->st.steps->enable(&so->st)
                : so->st.steps->disable(&so->st);

    if (rc != NGX_OK) {
        return ngx_http_oxmigrate_admin_step_failed(res, &so->st, rc);
    }

    so->st.cache = ngx_http_oxmigrate_admin_invalidate(m, c->omcf->redis,
                          c->log, so->st.cache_why, sizeof(so->st.cache_why));

    return NGX_OK;
}


/* POST /schemas/{schema}/disable */

ngx_int_t
ngx_http_oxmigrate_admin_schema_disable(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    return ngx_http_oxmigrate_admin_schema_toggle(c, a, res, 0);
}


/* POST /schemas/{schema}/enable */

ngx_int_t
ngx_http_oxmigrate_admin_schema_enable(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    return ngx_http_oxmigrate_admin_schema_toggle(c, a, res, 1);
}


/* POST /schemas/{schema}/changeserver {"server_id":N} | {"server":"name"} */

ngx_int_t
ngx_http_oxmigrate_admin_schema_changeserver(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL                           *m;
    int64_t                          id;
    ngx_int_t                        rc;
    ngx_http_oxmigrate_schema_op_t  *so;

    if ((a->server_id == NGX_HTTP_OXMIGRATE_ARG_UNSET)
        == (a->server == NULL))
    {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "missing_field",
                                             "exactly one of \"server_id\" "
                                             "and \"server\" is required");
    }

    so = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_schema_op_t));
    if (so == NULL) {
        return NGX_ERROR;
    }

    res->data = so;
    so->schema = a->path[0];

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    if (a->server) {
        id = ngx_http_oxmigrate_admin_server_id(m, c->pool, a->server);

    } else {
        id = a->server_id;

        rc = ngx_http_oxmigrate_admin_store_server_known(m, c->pool, id);
        if (rc == NGX_ERROR) {
            id = -1;

        } else if (rc == NGX_DECLINED) {
            id = 0;
        }
    }

    if (id < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (id == 0) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                   "unknown_server", "server %s%s%s not found",
                   a->server ? "'" : "", a->server ? a->server : "id",
                   a->server ? "'" : "");
    }

    rc = ngx_http_oxmigrate_admin_schema_known(c, m, so->schema, res);
    if (rc != NGX_OK) {
        return rc;
    }

    so->server_id = id;

    ngx_http_oxmigrate_admin_step_init(&so->st, c->alcf, c->pool, c->log, m,
                                       so->schema);
    so->stepped = 1;

    rc = so->st.steps->changeserver(&so->st, id);

    if (rc != NGX_OK) {
        return ngx_http_oxmigrate_admin_step_failed(res, &so->st, rc);
    }

    so->st.cache = ngx_http_oxmigrate_admin_invalidate(m, c->omcf->redis,
                          c->log, so->st.cache_why, sizeof(so->st.cache_why));

    return NGX_OK;
}
