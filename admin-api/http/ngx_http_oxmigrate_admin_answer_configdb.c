/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, answers: servers and the schema tools
 * (svc/ngx_http_oxmigrate_admin_configdb.c).  Thread pool, after the
 * service; the only place their JSON is written.
 */


#include "ngx_http_oxmigrate_admin.h"


/* GET /servers */

void
ngx_http_oxmigrate_admin_answer_servers(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                      g;
    ngx_uint_t                    i;
    ngx_http_oxmigrate_server_t  *srv;
    ngx_array_t                  *servers;

    g = ngx_http_oxmigrate_admin_answer_list(op, rc, "servers");
    if (g == NULL) {
        return;
    }

    servers = op->res.data;

    srv = servers->elts;
    for (i = 0; i < servers->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "id");
        ngx_http_oxmigrate_admin_json_int(g, srv[i].id);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, srv[i].name);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* POST /servers: 201, or 409 server_exists with the id */

void
ngx_http_oxmigrate_admin_answer_registered(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                          g;
    ngx_http_oxmigrate_registered_t  *rg;

    rg = op->res.data;

    if (rc != NGX_OK) {
        if (rg && rg->st.call && op->res.reason
            && ngx_strncmp(op->res.reason, "ox_", 3) == 0)
        {
            ngx_http_oxmigrate_admin_ox_fail(op, rg->st.call);
            return;
        }

        ngx_http_oxmigrate_admin_answer_open(op);

        if (op->gen && rg
            && ngx_strcmp(op->res.reason, "server_exists") == 0)
        {
            ngx_http_oxmigrate_admin_json_str(op->gen, "id");
            ngx_http_oxmigrate_admin_json_int(op->gen, rg->id);
            ngx_http_oxmigrate_admin_json_str(op->gen, "name");
            ngx_http_oxmigrate_admin_json_str(op->gen, rg->name);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_CREATED);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "id");
    ngx_http_oxmigrate_admin_json_int(g, rg->id);
    ngx_http_oxmigrate_admin_json_str(g, "name");
    ngx_http_oxmigrate_admin_json_str(g, rg->name);
    ngx_http_oxmigrate_admin_json_str(g, "message");
    ngx_http_oxmigrate_admin_json_str(g, "registered");
    if (rg->st.call) {
        ngx_http_oxmigrate_admin_ox_json(g, rg->st.call);
    }
    yajl_gen_map_close(g);
}


/*
 * disableschema, enableschema, changeserver: {"schema", ["server_id"],
 * "contexts", "cache_invalidation", ...}; a refused step with the
 * contexts still enabled, a failed tool with its words
 */

void
ngx_http_oxmigrate_admin_answer_schema_op(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                         g;
    ngx_http_oxmigrate_schema_op_t  *so;

    so = op->res.data;

    if (rc != NGX_OK) {
        if (so == NULL || !so->stepped) {
            ngx_http_oxmigrate_admin_answer_fail(op);
            return;
        }

        ngx_http_oxmigrate_admin_step_fail(op, &so->st);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, so->schema);

    if (so->server_id >= 0) {
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, so->server_id);
    }

    ngx_http_oxmigrate_admin_json_str(g, "contexts");
    ngx_http_oxmigrate_admin_json_int(g, so->st.res.changed);
    ngx_http_oxmigrate_admin_json_str(g, "cache_invalidation");
    ngx_http_oxmigrate_admin_json_str(g, so->st.cache ? so->st.cache : "ttl");

    if (so->st.cache_why[0]) {
        ngx_http_oxmigrate_admin_json_str(g, "cache_invalidation_error");
        ngx_http_oxmigrate_admin_json_str(g, so->st.cache_why);
    }

    ngx_http_oxmigrate_admin_step_json(g, &so->st);
    yajl_gen_map_close(g);
}


/*
 * The error answer of a step that failed (op->res says how): a tool with
 * its words, a refused step with the contexts still enabled.
 */

void
ngx_http_oxmigrate_admin_step_fail(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_step_t *st)
{
    uint64_t    *cid;
    ngx_uint_t   i, refused;

    if (st->ox_failed && st->call) {
        ngx_http_oxmigrate_admin_ox_fail(op, st->call);
        return;
    }

    ngx_http_oxmigrate_admin_answer_open(op);

    refused = op->res.reason
              && (ngx_strcmp(op->res.reason, "schema_empty") == 0
                  || ngx_strcmp(op->res.reason, "schema_not_disabled") == 0);

    if (op->gen && refused && st->res.enabled && st->res.enabled->nelts) {
        ngx_http_oxmigrate_admin_json_str(op->gen, "enabled_contexts");
        yajl_gen_array_open(op->gen);

        cid = st->res.enabled->elts;
        for (i = 0; i < st->res.enabled->nelts; i++) {
            ngx_http_oxmigrate_admin_json_int(op->gen, cid[i]);
        }

        yajl_gen_array_close(op->gen);
    }

    if (op->gen && refused) {
        ngx_http_oxmigrate_admin_step_json(op->gen, st);
    }

    ngx_http_oxmigrate_admin_error_close(op);
}


/* "ox_caches" and, when a tool ran, "ox":{...} */

void
ngx_http_oxmigrate_admin_step_json(yajl_gen g, ngx_http_oxmigrate_step_t *st)
{
    ngx_http_oxmigrate_admin_json_str(g, "ox_caches");
    ngx_http_oxmigrate_admin_json_str(g,
                                      ngx_http_oxmigrate_admin_caches(st->alcf));

    if (st->call) {
        ngx_http_oxmigrate_admin_ox_json(g, st->call);
    }
}
