/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, service: a schema's update tasks, GET
 * /schemas/{s}/updatetasks.  The SQL path lists the tasks of
 * oxmigrate_update_tasks; with oxmigrate_ox_tools new, what listUpdateTasks
 * prints (ox/ngx_http_oxmigrate_admin_oxtasks.c).  Both give the same
 * entries (http/ngx_http_oxmigrate_admin_answer_updates.c answers them).
 * Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_tasks_state(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_dbhost_t *h,
    const char *schema, ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_res_t *res);
static ngx_int_t ngx_http_oxmigrate_admin_tasks_executed(
    ngx_array_t *tasks, ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf);
static ngx_int_t ngx_http_oxmigrate_admin_tasks_ox(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_dbhost_t *h,
    ngx_http_oxmigrate_task_list_t *tl, ngx_http_oxmigrate_admin_res_t *res);


/* the schema's own database, not configdb: a connection for this call */

static ngx_int_t
ngx_http_oxmigrate_admin_tasks_state(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_dbhost_t *h, const char *schema,
    ngx_http_oxmigrate_schema_state_t *st, ngx_http_oxmigrate_admin_res_t *res)
{
    char       err[256];
    MYSQL     *sm;
    ngx_int_t  rc;

    sm = ngx_http_oxmigrate_admin_connect(h, NULL, 0, err, sizeof(err));
    if (sm == NULL) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                                             "database_unavailable",
                                             "%s:%ud: %s", h->host, h->port,
                                             err);
    }

    rc = NGX_OK;

    if (ngx_http_oxmigrate_admin_schema_state(c->alcf, sm, c->pool, schema,
                                              st)
        != NGX_OK)
    {
        rc = ngx_http_oxmigrate_admin_db_fail(res, sm);
    }

    mysql_close(sm);

    return rc;
}


/* the executed entries: the rows of st; with alcf, of tasks it lacks only */

static ngx_int_t
ngx_http_oxmigrate_admin_tasks_executed(ngx_array_t *tasks,
    ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    ngx_str_t                       name;
    ngx_uint_t                      i;
    ngx_http_oxmigrate_executed_t  *e;

    e = st->executed->elts;

    for (i = 0; i < st->executed->nelts; i++) {
        if (alcf && ngx_http_oxmigrate_admin_find_task(alcf, e[i].name)) {
            continue;
        }

        name.data = (u_char *) e[i].name;
        name.len = ngx_strlen(e[i].name);

        if (ngx_http_oxmigrate_admin_task_entry(tasks, &name, NULL, &e[i],
                                                NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * With the tools: executed tasks are OX's rows in the schema's updateTask
 * (as without the tools), pending and excluded ones what listUpdateTasks
 * says (OX knows its tasks).
 */

static ngx_int_t
ngx_http_oxmigrate_admin_tasks_ox(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_dbhost_t *h, ngx_http_oxmigrate_task_list_t *tl,
    ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_int_t                           rc;
    ngx_uint_t                          tool, i;
    ngx_array_t                        *listed;
    ngx_http_oxmigrate_task_entry_t    *te;
    ngx_http_oxmigrate_schema_state_t   st;

    tool = tl->want & (NGX_HTTP_OXMIGRATE_TASKS_PENDING
                       | NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED);
    listed = NULL;

    if (tool) {
        if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]->version
            < NGX_HTTP_OXMIGRATE_OX_LIST_TOOL)
        {
            return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                   "ox_tool_unavailable#version", "listUpdateTasks exists "
                   "from OX 7.10.2 on; the new cluster is configured as an "
                   "older version (version= of oxmigrate_ox_tools new): ask "
                   "for ?state=executed, or GET /databases/check");
        }

        listed = ngx_array_create(c->pool, 16,
                                  sizeof(ngx_http_oxmigrate_task_entry_t));
        if (listed == NULL) {
            return NGX_ERROR;
        }

        if (ngx_http_oxmigrate_admin_ox_tasks(c, tl->schema, &tl->ox, listed)
            != NGX_OK)
        {
            return ngx_http_oxmigrate_admin_upd_ox_failed(res, &tl->ox);
        }
    }

    /* executed: OX's rows, read as without the tools */
    if (tl->want & NGX_HTTP_OXMIGRATE_TASKS_EXECUTED) {
        rc = ngx_http_oxmigrate_admin_tasks_state(c, h, tl->schema, &st, res);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_oxmigrate_admin_tasks_executed(tl->tasks, &st, NULL)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (listed) {
        te = listed->elts;
        for (i = 0; i < listed->nelts; i++) {
            if (ngx_http_oxmigrate_admin_task_entry(tl->tasks, &te[i].name,
                                                    te[i].ns, te[i].e,
                                                    te[i].by)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}


/* GET /schemas/{schema}/updatetasks?state=executed|pending|excluded|all */

ngx_int_t
ngx_http_oxmigrate_admin_tasks_list(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    char                               *by;
    ngx_int_t                           rc;
    ngx_str_t                          *why;
    ngx_uint_t                          i, want;
    ngx_http_oxmigrate_task_t          *t;
    ngx_http_oxmigrate_dbhost_t         h;
    ngx_http_oxmigrate_executed_t      *e;
    ngx_http_oxmigrate_task_list_t     *tl;
    ngx_http_oxmigrate_schema_state_t   st;

    want = NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
           | NGX_HTTP_OXMIGRATE_TASKS_PENDING
           | NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED;

    if (a->state && ngx_strcmp(a->state, "all") != 0) {
        want = (ngx_strcmp(a->state, "executed") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
               : (ngx_strcmp(a->state, "pending") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_PENDING
               : (ngx_strcmp(a->state, "excluded") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED : 0;

        if (want == 0) {
            return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                   "invalid_argument",
                                   "state must be executed, pending, "
                                   "excluded or all");
        }
    }

    tl = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_task_list_t));
    if (tl == NULL) {
        return NGX_ERROR;
    }

    res->data = tl;
    tl->schema = a->path[0];
    tl->want = want;

    tl->tasks = ngx_array_create(c->pool, 16,
                                 sizeof(ngx_http_oxmigrate_task_entry_t));
    if (tl->tasks == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_schema_host(c, tl->schema, &h, res);
    if (rc != NGX_OK) {
        return rc;
    }

    if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        return ngx_http_oxmigrate_admin_tasks_ox(c, &h, tl, res);
    }

    rc = ngx_http_oxmigrate_admin_tasks_state(c, &h, tl->schema, &st, res);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the configured tasks in run order, then rows of unknown tasks */

    t = c->alcf->tasks ? c->alcf->tasks->elts : NULL;

    for (i = 0; t && i < c->alcf->tasks->nelts; i++) {
        e = ngx_http_oxmigrate_admin_executed(&st, &t[i].name);
        by = e ? NULL : ngx_http_oxmigrate_admin_excluded(c->alcf, &t[i],
                                                          c->pool);
        why = NULL;

        if (by) {
            why = ngx_palloc(c->pool, sizeof(ngx_str_t));
            if (why == NULL) {
                return NGX_ERROR;
            }

            why->data = (u_char *) by;
            why->len = ngx_strlen(by);
        }

        if (ngx_http_oxmigrate_admin_task_entry(tl->tasks, &t[i].name,
                                                t[i].ns.len ? &t[i].ns : NULL,
                                                e, why)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return ngx_http_oxmigrate_admin_tasks_executed(tl->tasks, &st, c->alcf);
}
