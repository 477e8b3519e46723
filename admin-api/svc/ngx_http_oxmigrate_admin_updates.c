/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: the update endpoints (runupdate,
 * forceupdatetask, listupdatetasknamespaces) and what the update-task
 * services share: a schema's database host, every schema, a configured
 * task.  A schema's task list is in ngx_http_oxmigrate_admin_tasklist.c,
 * checkdatabase and unblockdatabase in ngx_http_oxmigrate_admin_check.c;
 * with oxmigrate_ox_tools new, OX's tools do the work (ox/oxtasks.c,
 * ox/oxforce.c).  Thread pool; (connection, arguments) in, rc, reason and
 * a result out (http/ngx_http_oxmigrate_admin_answer_updates.c answers).
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_http_oxmigrate_task_t *ngx_http_oxmigrate_admin_known_task(
    ngx_http_oxmigrate_admin_conn_t *c, const char *name,
    ngx_http_oxmigrate_admin_res_t *res);
static void ngx_http_oxmigrate_admin_update_init(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_dbhost_t *h,
    const char *schema, ngx_http_oxmigrate_task_t *task,
    ngx_http_oxmigrate_update_t *u);
static void ngx_http_oxmigrate_admin_force_run(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_dbhost_t *h,
    ngx_http_oxmigrate_task_t *task, ngx_http_oxmigrate_forced_t *f,
    ngx_int_t *rc);


/* the schema -> its write db_pool -> that pool's host, all on configdb */

ngx_int_t
ngx_http_oxmigrate_admin_schema_host(ngx_http_oxmigrate_admin_conn_t *c,
    const char *schema, ngx_http_oxmigrate_dbhost_t *h,
    ngx_http_oxmigrate_admin_res_t *res)
{
    char       *pname;
    MYSQL      *m;
    uint64_t    pool_id;
    ngx_int_t   rc;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_schema_pool(m, c->pool, schema, &pool_id);

    if (rc == NGX_OK) {
        rc = ngx_http_oxmigrate_admin_pool_host(c->pool, m, pool_id, h,
                                                &pname);

        if (rc == NGX_DECLINED) {
            return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                           "unknown_database#internal",
                           "schema '%s' names db_pool %uL, which does not "
                           "exist", schema, pool_id);
        }
    }

    if (rc == NGX_DECLINED) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_schema",
                                             "schema '%s' not found", schema);
    }

    if (rc != NGX_OK) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_schemas(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_array_t **all, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL  *m;

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_all_schemas(m, c->pool, 0, all) != NGX_OK) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_upd_safe(ngx_http_oxmigrate_admin_res_t *res,
    const char *what, const char *s)
{
    if (ngx_http_oxmigrate_admin_ox_safe((u_char *) s, ngx_strlen(s))) {
        return NGX_OK;
    }

    return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                   "invalid_argument", "a%s %s consists of letters, digits "
                   "and _.-:@%%+=,/ (not starting with \"-\")",
                   what[0] == 'u' ? "n" : "", what);
}


ngx_int_t
ngx_http_oxmigrate_admin_upd_ox_failed(ngx_http_oxmigrate_admin_res_t *res,
    ngx_http_oxmigrate_ox_ran_t *ox)
{
    if (!ox->failed) {
        return NGX_ERROR;       /* no memory */
    }

    return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                                 ngx_http_oxmigrate_admin_ox_reason(ox->call),
                                 "%s", ox->call->error);
}


/* a configured update task; NULL: res says 404 */

static ngx_http_oxmigrate_task_t *
ngx_http_oxmigrate_admin_known_task(ngx_http_oxmigrate_admin_conn_t *c,
    const char *name, ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_http_oxmigrate_task_t  *task;

    task = ngx_http_oxmigrate_admin_find_task(c->alcf, name);

    if (task == NULL) {
        (void) ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "unknown_task",
                                             "update task '%s' not found",
                                             name);
    }

    return task;
}


/* the runner's work: the tasks of schema on h, or only task */

static void
ngx_http_oxmigrate_admin_update_init(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_dbhost_t *h, const char *schema,
    ngx_http_oxmigrate_task_t *task, ngx_http_oxmigrate_update_t *u)
{
    ngx_memzero(u, sizeof(ngx_http_oxmigrate_update_t));
    u->alcf = c->alcf;
    u->configdb = ngx_http_oxmigrate_admin_dcf(c->omcf);
    u->pool = c->pool;
    u->log = c->log;
    u->host = h;
    u->schema = schema;
    u->only = task;
}


/* POST /schemas/{schema}/update (runupdate) */

ngx_int_t
ngx_http_oxmigrate_admin_schema_update(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_int_t                            rc;
    ngx_uint_t                           gone;
    ngx_http_oxmigrate_dbhost_t         *h;
    ngx_http_oxmigrate_schema_update_t  *up;

    up = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_schema_update_t));
    h = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_dbhost_t));
    if (up == NULL || h == NULL) {
        return NGX_ERROR;
    }

    res->data = up;
    up->schema = a->path[0];

    rc = ngx_http_oxmigrate_admin_schema_host(c, up->schema, h, res);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_http_oxmigrate_admin_update_init(c, h, up->schema, NULL, &up->u);
    ngx_http_oxmigrate_admin_step_init(&up->st, c->alcf, c->pool, c->log,
                                       c->db, up->schema);
    up->stepped = 1;

    rc = up->st.steps->update(&up->st, &up->u);

    if (rc == NGX_OK) {
        ngx_http_oxmigrate_metrics_tasks(
                              up->u.executed ? up->u.executed->nelts : 0,
                              up->u.failed ? up->u.failed->nelts : 0);
        return NGX_OK;
    }

    if (rc == NGX_BUSY) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED, "UPD-0003",
                                             "%s", up->u.error);
    }

    if (rc == NGX_AGAIN) {
        /* OX's update goes on inside the node, or the schema's db is gone */
        gone = up->u.gone || c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW] == NULL;

        return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                                 gone ? "db_unavailable" : "ox_update_running",
                                 "%s", up->u.error);
    }

    if (up->st.ox_failed) {
        up->ox_failed = 1;
        return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                             ngx_http_oxmigrate_admin_ox_reason(up->st.call),
                             "%s", up->st.call->error);
    }

    /* with the tools: OX did not update it (the schema's state says) */
    return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                               c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]
                               ? "ox_update_failed" : "update_error",
                               "%s", up->u.error);
}


/* the runner forces task in the schema f->schema on h */

static void
ngx_http_oxmigrate_admin_force_run(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_dbhost_t *h, ngx_http_oxmigrate_task_t *task,
    ngx_http_oxmigrate_forced_t *f, ngx_int_t *rc)
{
    ngx_http_oxmigrate_update_t  u;

    ngx_http_oxmigrate_admin_update_init(c, h, f->schema, task, &u);
    *rc = ngx_http_oxmigrate_admin_update_run(&u);

    f->successful = (*rc == NGX_OK && u.failed && u.failed->nelts == 0);
    f->error = NULL;

    if (*rc == NGX_OK && u.failed && u.failed->nelts) {
        f->error = "the task failed, see the error log";

    } else if (*rc != NGX_OK) {
        f->error = ngx_http_oxmigrate_admin_strndup(c->pool, u.error,
                                                    ngx_strlen(u.error));
    }
}


/* POST /schemas/{schema}/updatetasks/{task}/force */

ngx_int_t
ngx_http_oxmigrate_admin_task_force(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    char                         err[256];
    MYSQL                       *sm;
    int64_t                      since;
    ngx_int_t                    rc;
    ngx_http_oxmigrate_task_t   *task;
    ngx_http_oxmigrate_dbhost_t  h;
    ngx_http_oxmigrate_force_t  *fo;

    fo = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_force_t));
    if (fo == NULL) {
        return NGX_ERROR;
    }

    res->data = fo;
    fo->forced.schema = a->path[0];
    fo->task = a->path[1];

    if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW] == NULL) {
        task = ngx_http_oxmigrate_admin_known_task(c, fo->task, res);
        if (task == NULL) {
            return NGX_DECLINED;
        }

        rc = ngx_http_oxmigrate_admin_schema_host(c, a->path[0], &h, res);
        if (rc != NGX_OK) {
            return rc;
        }

        ngx_http_oxmigrate_admin_force_run(c, &h, task, &fo->forced, &rc);

        if (rc == NGX_BUSY) {
            return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                                 "UPD-0003", "%s",
                                                 fo->forced.error);
        }

        fo->broke = (rc != NGX_OK);
        return NGX_OK;
    }

    /* forceupdatetask -n S -t T; OX's row in updateTask says how it went */

    rc = ngx_http_oxmigrate_admin_schema_host(c, a->path[0], &h, res);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_oxmigrate_admin_upd_safe(res, "update task", fo->task)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_oxmigrate_admin_ox_force(c, a->path[0], fo->task, &fo->ox,
                                          &since)
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_upd_ox_failed(res, &fo->ox);
    }

    if (ngx_http_oxmigrate_admin_ox_force_conflict(fo->ox.call)) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED, "UPD-0003",
                           "Update conflict detected. Another process is "
                           "currently updating schema %s.", a->path[0]);
    }

    sm = ngx_http_oxmigrate_admin_connect(&h, NULL, 0, err, sizeof(err));

    ngx_http_oxmigrate_admin_ox_forced(c, sm, fo->task, since, &fo->forced);

    if (sm) {
        mysql_close(sm);
    }

    return NGX_OK;
}


/* POST /updatetasks/{task}/force: every schema, database by database */

ngx_int_t
ngx_http_oxmigrate_admin_task_force_all(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    int64_t                            since;
    ngx_int_t                          rc;
    ngx_uint_t                         i, ox;
    ngx_array_t                       *all;
    ngx_http_oxmigrate_task_t         *task;
    ngx_http_oxmigrate_forced_t       *f;
    ngx_http_oxmigrate_pool_walk_t     pw;
    ngx_http_oxmigrate_schema_ref_t   *s;
    ngx_http_oxmigrate_force_all_t    *fa;

    fa = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_force_all_t));
    if (fa == NULL) {
        return NGX_ERROR;
    }

    res->data = fa;
    fa->task = a->path[0];
    ox = (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW] != NULL);
    task = NULL;
    since = 0;

    if (ox) {
        if (ngx_http_oxmigrate_admin_upd_safe(res, "update task", fa->task)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

    } else {
        task = ngx_http_oxmigrate_admin_known_task(c, fa->task, res);
        if (task == NULL) {
            return NGX_DECLINED;
        }
    }

    rc = ngx_http_oxmigrate_admin_schemas(c, &all, res);
    if (rc != NGX_OK) {
        return rc;
    }

    /* forceupdatetask -t T: OX forces it in every schema itself */
    if (ox && ngx_http_oxmigrate_admin_ox_force(c, NULL, fa->task, &fa->ox,
                                                &since)
              != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_upd_ox_failed(res, &fa->ox);
    }

    fa->schemas = ngx_array_create(c->pool, all->nelts + 1,
                                   sizeof(ngx_http_oxmigrate_forced_t));
    if (fa->schemas == NULL) {
        return NGX_ERROR;
    }

    /* the runner connects by itself, OX's rows are read on one connection */
    ngx_http_oxmigrate_admin_pool_walk_init(&pw, c, ox, 0);
    s = all->elts;

    for (i = 0; i < all->nelts; i++) {
        (void) ngx_http_oxmigrate_admin_pool_walk(&pw, s[i].pool_id);

        f = ngx_array_push(fa->schemas);
        if (f == NULL) {
            ngx_http_oxmigrate_admin_pool_walk_done(&pw);
            return NGX_ERROR;
        }

        f->schema = s[i].name;

        if (ox) {
            ngx_http_oxmigrate_admin_ox_forced(c, pw.sm, fa->task, since, f);

        } else if (!pw.known) {
            f->successful = 0;
            f->error = "unknown db_pool";

        } else {
            ngx_http_oxmigrate_admin_force_run(c, &pw.h, task, f, &rc);
        }
    }

    ngx_http_oxmigrate_admin_pool_walk_done(&pw);

    return NGX_OK;
}


/* GET /updatetasks/namespaces (listupdatetasknamespaces) */

ngx_int_t
ngx_http_oxmigrate_admin_namespaces(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    ngx_str_t                        *name;
    ngx_uint_t                        i, j, n;
    ngx_http_oxmigrate_task_t        *t, nt;
    ngx_http_oxmigrate_namespace_t   *ns;
    ngx_http_oxmigrate_namespaces_t  *nss;

    nss = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_namespaces_t));
    if (nss == NULL) {
        return NGX_ERROR;
    }

    res->data = nss;

    nss->namespaces = ngx_array_create(c->pool, 8,
                                       sizeof(ngx_http_oxmigrate_namespace_t));
    if (nss->namespaces == NULL) {
        return NGX_ERROR;
    }

    if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        if (ngx_http_oxmigrate_admin_ox_namespaces(c, nss) != NGX_OK) {
            return ngx_http_oxmigrate_admin_upd_ox_failed(res, &nss->ox);
        }

    } else {
        /* the namespaces of the configured tasks, in the tasks' order */
        t = c->alcf->tasks ? c->alcf->tasks->elts : NULL;
        n = c->alcf->tasks ? c->alcf->tasks->nelts : 0;

        for (i = 0; i < n; i++) {
            if (t[i].ns.len == 0) {
                continue;
            }

            ns = nss->namespaces->elts;
            for (j = 0; j < nss->namespaces->nelts; j++) {
                if (ns[j].name.len == t[i].ns.len
                    && ngx_strncmp(ns[j].name.data, t[i].ns.data,
                                   t[i].ns.len) == 0)
                {
                    break;
                }
            }

            if (j == nss->namespaces->nelts) {
                ns = ngx_array_push(nss->namespaces);
                if (ns == NULL) {
                    return NGX_ERROR;
                }

                ns->name = t[i].ns;
                ns->tasks = ngx_array_create(c->pool, 8, sizeof(ngx_str_t));
                if (ns->tasks == NULL) {
                    return NGX_ERROR;
                }

            } else {
                ns = &ns[j];
            }

            name = ngx_array_push(ns->tasks);
            if (name == NULL) {
                return NGX_ERROR;
            }

            *name = t[i].name;
        }
    }

    /* a nameless task of the namespace: excluded by namespace only */
    ngx_str_null(&nt.name);
    ns = nss->namespaces->elts;

    for (i = 0; i < nss->namespaces->nelts; i++) {
        nt.ns = ns[i].name;
        ns[i].excluded = (ngx_http_oxmigrate_admin_excluded(c->alcf, &nt,
                                                            c->pool)
                          != NULL);
    }

    return NGX_OK;
}
