/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, answers: the update-task family (svc/updates.c,
 * tasklist.c, check.c): runupdate, the task list, forceupdatetask,
 * listupdatetasknamespaces, checkdatabase, unblockdatabase.  Thread pool,
 * after the service; the only place their JSON is written.  An answer of
 * the OX-tools path is the SQL path's plus "ox" (what the tool said).
 */


#include "ngx_http_oxmigrate_admin.h"


static void ngx_http_oxmigrate_admin_answer_upd_fail(
    ngx_http_oxmigrate_admin_op_t *op, ngx_http_oxmigrate_ox_ran_t *ox);
static yajl_gen ngx_http_oxmigrate_admin_answer_upd_open(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
static void ngx_http_oxmigrate_admin_answer_upd_close(yajl_gen g,
    ngx_http_oxmigrate_ox_ran_t *ox);
static void ngx_http_oxmigrate_admin_json_v(yajl_gen g, ngx_str_t *s);
static void ngx_http_oxmigrate_admin_forced_json(yajl_gen g,
    ngx_http_oxmigrate_forced_t *f);
static void ngx_http_oxmigrate_admin_task_json(yajl_gen g, ngx_uint_t want,
    ngx_http_oxmigrate_task_entry_t *te);
static void ngx_http_oxmigrate_admin_db_rows(yajl_gen g, const char *key,
    ngx_array_t *rows);


/* a failed service: the tool's failure with its words, or res's reason */

static void
ngx_http_oxmigrate_admin_answer_upd_fail(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_ox_ran_t *ox)
{
    if (ox && ox->failed && ox->call) {
        ngx_http_oxmigrate_admin_ox_fail(op, ox->call);
        return;
    }

    ngx_http_oxmigrate_admin_answer_fail(op);
}


/*
 * The 200 answer {, left open, of a service whose result begins with its
 * ngx_http_oxmigrate_ox_ran_t; NULL: a failure, answered
 */

static yajl_gen
ngx_http_oxmigrate_admin_answer_upd_open(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen  g;

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_answer_upd_fail(op, op->res.data);
        return NULL;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);

    if (g) {
        yajl_gen_map_open(g);
    }

    return g;
}


/* "ox" when a tool ran, and } */

static void
ngx_http_oxmigrate_admin_answer_upd_close(yajl_gen g,
    ngx_http_oxmigrate_ox_ran_t *ox)
{
    if (ox->call) {
        ngx_http_oxmigrate_admin_ox_json(g, ox->call);
    }

    yajl_gen_map_close(g);
}


/* a string; data NULL: null */

static void
ngx_http_oxmigrate_admin_json_v(yajl_gen g, ngx_str_t *s)
{
    if (s->data == NULL) {
        yajl_gen_null(g);
        return;
    }

    ngx_http_oxmigrate_admin_json_strn(g, s->data, s->len);
}


/* POST /schemas/{schema}/update (runupdate) */

void
ngx_http_oxmigrate_admin_answer_update(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                             g;
    ngx_http_oxmigrate_schema_update_t  *up;

    up = op->res.data;

    if (rc != NGX_OK) {
        if (up == NULL || !up->stepped) {
            ngx_http_oxmigrate_admin_answer_fail(op);
            return;
        }

        if (up->ox_failed) {
            ngx_http_oxmigrate_admin_ox_fail(op, up->st.call);
            return;
        }

        ngx_http_oxmigrate_admin_answer_open(op);

        if (op->gen
            && (ngx_strcmp(op->res.reason, "update_error") == 0
                || ngx_strcmp(op->res.reason, "ox_update_failed") == 0))
        {
            ngx_http_oxmigrate_admin_json_names(op->gen, "executed",
                                                up->u.executed);
            ngx_http_oxmigrate_admin_json_names(op->gen, "failed",
                                                up->u.failed);
        }

        if (op->gen) {
            ngx_http_oxmigrate_admin_step_json(op->gen, &up->st);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, up->schema);
    ngx_http_oxmigrate_admin_json_names(g, "executed", up->u.executed);
    ngx_http_oxmigrate_admin_json_names(g, "failed", up->u.failed);
    ngx_http_oxmigrate_admin_step_json(g, &up->st);
    yajl_gen_map_close(g);
}


/* an entry of a task list, when want asks for its state */

static void
ngx_http_oxmigrate_admin_task_json(yajl_gen g, ngx_uint_t want,
    ngx_http_oxmigrate_task_entry_t *te)
{
    if (!(want & (te->e ? NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
                        : te->by ? NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED
                                 : NGX_HTTP_OXMIGRATE_TASKS_PENDING)))
    {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "name");
    ngx_http_oxmigrate_admin_json_strn(g, te->name.data, te->name.len);
    ngx_http_oxmigrate_admin_json_str(g, "namespace");
    if (te->ns) {
        ngx_http_oxmigrate_admin_json_strn(g, te->ns->data, te->ns->len);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g, te->e ? "executed"
                                               : te->by ? "excluded"
                                                        : "pending");
    ngx_http_oxmigrate_admin_json_str(g, "successful");
    if (te->e) {
        ngx_http_oxmigrate_admin_json_bool(g, te->e->successful);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "last_modified");
    if (te->e) {
        ngx_http_oxmigrate_admin_json_int(g, te->e->last_modified);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "excluded_by");
    if (te->by) {
        ngx_http_oxmigrate_admin_json_strn(g, te->by->data, te->by->len);
    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);
}


/* GET /schemas/{schema}/updatetasks */

void
ngx_http_oxmigrate_admin_answer_tasks(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                          g;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_task_list_t   *tl;
    ngx_http_oxmigrate_task_entry_t  *te;

    tl = op->res.data;

    g = ngx_http_oxmigrate_admin_answer_upd_open(op, rc);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, tl->schema);
    ngx_http_oxmigrate_admin_json_str(g, "tasks");
    yajl_gen_array_open(g);

    te = tl->tasks->elts;
    for (i = 0; i < tl->tasks->nelts; i++) {
        ngx_http_oxmigrate_admin_task_json(g, tl->want, &te[i]);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_answer_upd_close(g, &tl->ox);
}


static void
ngx_http_oxmigrate_admin_forced_json(yajl_gen g,
    ngx_http_oxmigrate_forced_t *f)
{
    ngx_http_oxmigrate_admin_json_str(g, "successful");
    ngx_http_oxmigrate_admin_json_bool(g, f->successful);
    ngx_http_oxmigrate_admin_json_str(g, "error");
    ngx_http_oxmigrate_admin_json_str(g, f->error);
}


/*
 * POST /schemas/{schema}/updatetasks/{task}/force: 200, or 500 when the
 * runner failed; 409 UPD-0003 (with the tool's words when it said so)
 */

void
ngx_http_oxmigrate_admin_answer_force(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                     g;
    ngx_http_oxmigrate_force_t  *fo;

    fo = op->res.data;

    if (rc != NGX_OK) {
        if (fo && fo->ox.call && !fo->ox.failed) {
            ngx_http_oxmigrate_admin_answer_open(op);

            if (op->gen) {
                ngx_http_oxmigrate_admin_ox_json(op->gen, fo->ox.call);
            }

            ngx_http_oxmigrate_admin_error_close(op);
            return;
        }

        ngx_http_oxmigrate_admin_answer_upd_fail(op, fo ? &fo->ox : NULL);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, fo->broke
                                           ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                           : NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, fo->forced.schema);
    ngx_http_oxmigrate_admin_json_str(g, "task");
    ngx_http_oxmigrate_admin_json_str(g, fo->task);
    ngx_http_oxmigrate_admin_forced_json(g, &fo->forced);
    ngx_http_oxmigrate_admin_answer_upd_close(g, &fo->ox);
}


/* POST /updatetasks/{task}/force: every schema */

void
ngx_http_oxmigrate_admin_answer_force_all(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                         g;
    ngx_uint_t                       i;
    ngx_http_oxmigrate_forced_t     *f;
    ngx_http_oxmigrate_force_all_t  *fa;

    fa = op->res.data;

    g = ngx_http_oxmigrate_admin_answer_upd_open(op, rc);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "task");
    ngx_http_oxmigrate_admin_json_str(g, fa->task);
    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    f = fa->schemas->elts;
    for (i = 0; i < fa->schemas->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, f[i].schema);
        ngx_http_oxmigrate_admin_forced_json(g, &f[i]);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_answer_upd_close(g, &fa->ox);
}


/* GET /updatetasks/namespaces (listupdatetasknamespaces) */

void
ngx_http_oxmigrate_admin_answer_namespaces(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                          g;
    ngx_str_t                        *t;
    ngx_uint_t                        i, j;
    ngx_http_oxmigrate_namespace_t   *ns;
    ngx_http_oxmigrate_namespaces_t  *nss;

    nss = op->res.data;

    g = ngx_http_oxmigrate_admin_answer_upd_open(op, rc);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "namespaces");
    yajl_gen_array_open(g);

    ns = nss->namespaces->elts;
    for (i = 0; i < nss->namespaces->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_strn(g, ns[i].name.data,
                                           ns[i].name.len);
        ngx_http_oxmigrate_admin_json_str(g, "excluded");
        ngx_http_oxmigrate_admin_json_bool(g, ns[i].excluded);
        ngx_http_oxmigrate_admin_json_str(g, "tasks");
        yajl_gen_array_open(g);

        t = ns[i].tasks->elts;
        for (j = 0; j < ns[i].tasks->nelts; j++) {
            ngx_http_oxmigrate_admin_json_strn(g, t[j].data, t[j].len);
        }

        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_answer_upd_close(g, &nss->ox);
}


/* "key":[{"id","name","hostname","scheme"[,"status"]}, ...] */

static void
ngx_http_oxmigrate_admin_db_rows(yajl_gen g, const char *key,
    ngx_array_t *rows)
{
    ngx_uint_t                    i;
    ngx_http_oxmigrate_db_row_t  *r;

    ngx_http_oxmigrate_admin_json_str(g, key);
    yajl_gen_array_open(g);

    r = rows->elts;
    for (i = 0; i < rows->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "id");
        ngx_http_oxmigrate_admin_json_int(g, r[i].id);

        if (!r[i].short_row) {
            ngx_http_oxmigrate_admin_json_str(g, "name");
            ngx_http_oxmigrate_admin_json_v(g, &r[i].name);
            ngx_http_oxmigrate_admin_json_str(g, "hostname");
            ngx_http_oxmigrate_admin_json_v(g, &r[i].hostname);
        }

        ngx_http_oxmigrate_admin_json_str(g, "scheme");
        ngx_http_oxmigrate_admin_json_v(g, &r[i].scheme);

        if (r[i].status.data) {
            ngx_http_oxmigrate_admin_json_str(g, "status");
            ngx_http_oxmigrate_admin_json_strn(g, r[i].status.data,
                                               r[i].status.len);
        }

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
}


/* GET /databases/check (checkdatabase) */

void
ngx_http_oxmigrate_admin_answer_check(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                        g;
    ngx_http_oxmigrate_db_check_t  *ck;

    ck = op->res.data;

    g = ngx_http_oxmigrate_admin_answer_upd_open(op, rc);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_db_rows(g, "schemas", ck->rows);

    if (ck->rows->nelts == 0) {
        ngx_http_oxmigrate_admin_json_str(g, "message");
        ngx_http_oxmigrate_admin_json_str(g, "Neither pending, blocking nor "
                                             "stale schemas found");
    }

    ngx_http_oxmigrate_admin_answer_upd_close(g, &ck->ox);
}


/* POST /databases/{id}/unblock (unblockdatabase) */

void
ngx_http_oxmigrate_admin_answer_unblock(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                          g;
    ngx_http_oxmigrate_db_unblock_t  *ub;

    ub = op->res.data;

    g = ngx_http_oxmigrate_admin_answer_upd_open(op, rc);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "database");
    ngx_http_oxmigrate_admin_json_int(g, ub->database);
    ngx_http_oxmigrate_admin_db_rows(g, "unblocked", ub->unblocked);

    if (ub->kept) {
        ngx_http_oxmigrate_admin_db_rows(g, "kept", ub->kept);
    }

    ngx_http_oxmigrate_admin_json_str(g, "message");
    ngx_http_oxmigrate_admin_json_strn(g, ub->message.data, ub->message.len);

    ngx_http_oxmigrate_admin_answer_upd_close(g, &ub->ox);
}
