
/*
 * oxmigrate admin API: a schema's update tasks, GET /schemas/{s}/updatetasks.
 * The answer is written here for both implementations: the SQL one below
 * (the tasks of oxmigrate_update_tasks) and the OX tools' one
 * (ngx_http_oxmigrate_admin_oxtasks.c, what listUpdateTasks prints).
 * Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/* the schema's own database, not configdb: a connection for this call */

static ngx_int_t
ngx_http_oxmigrate_admin_tasks_state(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h, ngx_http_oxmigrate_schema_state_t *st)
{
    char    err[256];
    MYSQL  *sm;

    sm = ngx_http_oxmigrate_admin_connect(h, NULL, 0, err, sizeof(err));
    if (sm == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "database_unavailable", "%s:%ud: %s",
                                       h->host, h->port, err);
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_schema_state(op->conn.alcf, sm, op->conn.pool,
                                              op->args.path[0], st)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_db_error(op, sm);
        mysql_close(sm);
        return NGX_ERROR;
    }

    mysql_close(sm);

    return NGX_OK;
}


yajl_gen
ngx_http_oxmigrate_admin_tasks_open(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h, ngx_http_oxmigrate_schema_state_t *st)
{
    yajl_gen  g;

    if (h && ngx_http_oxmigrate_admin_tasks_state(op, h, st) != NGX_OK) {
        return NULL;
    }

    g = ngx_http_oxmigrate_admin_reply_schema(op, NGX_HTTP_OK);

    if (g) {
        ngx_http_oxmigrate_admin_json_str(g, "tasks");
        yajl_gen_array_open(g);
    }

    return g;
}


/* one writer: both paths answer with the same fields in the same order */

void
ngx_http_oxmigrate_admin_task_json(yajl_gen g, ngx_uint_t want,
    ngx_str_t *name, ngx_str_t *ns, ngx_http_oxmigrate_executed_t *e,
    ngx_str_t *by)
{
    if (!(want & (e ? NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
                    : by ? NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED
                         : NGX_HTTP_OXMIGRATE_TASKS_PENDING)))
    {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "name");
    ngx_http_oxmigrate_admin_json_strn(g, name->data, name->len);
    ngx_http_oxmigrate_admin_json_str(g, "namespace");
    if (ns) {
        ngx_http_oxmigrate_admin_json_strn(g, ns->data, ns->len);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g, e ? "executed"
                                            : by ? "excluded" : "pending");
    ngx_http_oxmigrate_admin_json_str(g, "successful");
    if (e) {
        ngx_http_oxmigrate_admin_json_bool(g, e->successful);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "last_modified");
    if (e) {
        ngx_http_oxmigrate_admin_json_int(g, e->last_modified);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "excluded_by");
    if (by) {
        ngx_http_oxmigrate_admin_json_strn(g, by->data, by->len);
    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);
}


/*
 * The SQL path lists the configured tasks first and adds the rows of
 * other tasks here; the OX tools' path has no task list of its own.
 */

void
ngx_http_oxmigrate_admin_tasks_executed(yajl_gen g, ngx_uint_t want,
    ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    ngx_str_t                       name;
    ngx_uint_t                      i;
    ngx_http_oxmigrate_executed_t  *e;

    if (!(want & NGX_HTTP_OXMIGRATE_TASKS_EXECUTED)) {
        return;
    }

    e = st->executed->elts;

    for (i = 0; i < st->executed->nelts; i++) {
        if (alcf && ngx_http_oxmigrate_admin_find_task(alcf, e[i].name)) {
            continue;
        }

        name.data = (u_char *) e[i].name;
        name.len = ngx_strlen(e[i].name);

        ngx_http_oxmigrate_admin_task_json(g, want, &name, NULL, &e[i], NULL);
    }
}


/* GET /schemas/{schema}/updatetasks?state=executed|pending|excluded|all */

void
ngx_http_oxmigrate_admin_tasks_list(ngx_http_oxmigrate_admin_op_t *op)
{
    char                              *by;
    yajl_gen                           g;
    ngx_str_t                          why;
    ngx_uint_t                         i, want;
    ngx_http_oxmigrate_task_t         *t;
    ngx_http_oxmigrate_dbhost_t        h;
    ngx_http_oxmigrate_executed_t     *e;
    ngx_http_oxmigrate_schema_state_t  st;

    want = NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
           | NGX_HTTP_OXMIGRATE_TASKS_PENDING
           | NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED;

    if (op->args.state && ngx_strcmp(op->args.state, "all") != 0) {
        want = (ngx_strcmp(op->args.state, "executed") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
               : (ngx_strcmp(op->args.state, "pending") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_PENDING
               : (ngx_strcmp(op->args.state, "excluded") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED : 0;

        if (want == 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                   "invalid_argument",
                                   "state must be executed, pending, "
                                   "excluded or all");
            return;
        }
    }

    if (ngx_http_oxmigrate_admin_resolve(op, &h) != NGX_OK) {
        return;
    }

    if (op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        ngx_http_oxmigrate_admin_ox_tasks_list(op, &h, want);
        return;
    }

    g = ngx_http_oxmigrate_admin_tasks_open(op, &h, &st);
    if (g == NULL) {
        return;
    }

    /* the configured tasks in run order, then rows of unknown tasks */

    t = op->conn.alcf->tasks ? op->conn.alcf->tasks->elts : NULL;

    for (i = 0; t && i < op->conn.alcf->tasks->nelts; i++) {
        e = ngx_http_oxmigrate_admin_executed(&st, &t[i].name);
        by = e ? NULL
               : ngx_http_oxmigrate_admin_excluded(op->conn.alcf, &t[i], op->conn.pool);

        if (by) {
            why.data = (u_char *) by;
            why.len = ngx_strlen(by);
        }

        ngx_http_oxmigrate_admin_task_json(g, want, &t[i].name,
                                           t[i].ns.len ? &t[i].ns : NULL, e,
                                           by ? &why : NULL);
    }

    ngx_http_oxmigrate_admin_tasks_executed(g, want, &st, op->conn.alcf);

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}
