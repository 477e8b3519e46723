/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, answers: GET /schemas and GET /audit
 * (svc/ngx_http_oxmigrate_admin_listing.c).  Thread pool.
 */


#include "ngx_http_oxmigrate_admin.h"


/* GET /schemas */

void
ngx_http_oxmigrate_admin_answer_schemas(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    char                             *p;
    yajl_gen                          g;
    ngx_uint_t                        i;
    ngx_array_t                      *rows;
    ngx_http_oxmigrate_schema_row_t  *s;

    g = ngx_http_oxmigrate_admin_answer_list(op, rc, "schemas");
    if (g == NULL) {
        return;
    }

    rows = op->res.data;
    s = rows->elts;

    for (i = 0; i < rows->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, s[i].ref.name);
        ngx_http_oxmigrate_admin_json_str(g, "db_pool_id");
        ngx_http_oxmigrate_admin_json_int(g, s[i].ref.pool_id);
        ngx_http_oxmigrate_admin_json_str(g, "host");
        ngx_http_oxmigrate_admin_json_str(g, s[i].host);
        ngx_http_oxmigrate_admin_json_str(g, "contexts");
        ngx_http_oxmigrate_admin_json_int(g, s[i].ref.contexts);
        ngx_http_oxmigrate_admin_json_str(g, "enabled");
        ngx_http_oxmigrate_admin_json_int(g, s[i].enabled);
        ngx_http_oxmigrate_admin_json_str(g, "maintenance");
        ngx_http_oxmigrate_admin_json_int(g, s[i].maintenance);
        ngx_http_oxmigrate_admin_json_str(g, "server_ids");
        yajl_gen_array_open(g);

        for (p = s[i].server_ids; p && *p; /* void */) {
            ngx_http_oxmigrate_admin_json_int(g,
                                     ngx_atoof((u_char *) p, strcspn(p, ",")));
            p += strcspn(p, ",");
            if (*p == ',') {
                p++;
            }
        }

        yajl_gen_array_close(g);
        ngx_http_oxmigrate_admin_json_str(g, "status");
        ngx_http_oxmigrate_admin_json_str(g, s[i].status);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* a JSON text of configdb as JSON, or as the string it is when it is not */

static void
ngx_http_oxmigrate_admin_json_text(yajl_gen g, const char *text)
{
    yajl_val  v;

    v = yajl_tree_parse(text, NULL, 0);
    ngx_http_oxmigrate_admin_json_tree(g, v, text);

    if (v) {
        yajl_tree_free(v);
    }
}


/* GET /audit */

void
ngx_http_oxmigrate_admin_answer_audit(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    time_t                           t;
    u_char                           iso[64];
    yajl_gen                         g;
    ngx_tm_t                         tm;
    ngx_uint_t                       i;
    ngx_array_t                     *rows;
    ngx_http_oxmigrate_audit_row_t  *row;

    g = ngx_http_oxmigrate_admin_answer_list(op, rc, "audit");
    if (g == NULL) {
        return;
    }

    rows = op->res.data;
    row = rows->elts;

    for (i = 0; i < rows->nelts; i++) {
        t = row[i].ts / 1000;
        ngx_libc_gmtime(t, &tm);
        ngx_sprintf(iso, "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ%Z",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    tm.tm_hour, tm.tm_min, tm.tm_sec,
                    (int) (row[i].ts % 1000));

        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "id");
        ngx_http_oxmigrate_admin_json_int(g, row[i].id);
        ngx_http_oxmigrate_admin_json_str(g, "time");
        ngx_http_oxmigrate_admin_json_str(g, (char *) iso);
        ngx_http_oxmigrate_admin_json_str(g, "user");
        ngx_http_oxmigrate_admin_json_str(g, row[i].user);
        ngx_http_oxmigrate_admin_json_str(g, "action");
        ngx_http_oxmigrate_admin_json_str(g, row[i].action);
        ngx_http_oxmigrate_admin_json_str(g, "arguments");
        ngx_http_oxmigrate_admin_json_text(g, row[i].arguments);
        ngx_http_oxmigrate_admin_json_str(g, "status");
        ngx_http_oxmigrate_admin_json_int(g, row[i].status);
        ngx_http_oxmigrate_admin_json_str(g, "result");
        ngx_http_oxmigrate_admin_json_text(g, row[i].result);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}
