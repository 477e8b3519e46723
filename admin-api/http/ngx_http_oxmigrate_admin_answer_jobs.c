/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, answers: the jobs and a schema after a job
 * (svc/ngx_http_oxmigrate_admin_jobs.c, _jobnew.c, _jobview.c, _jobctl.c,
 * _revert.c, _diagnosis.c).  Thread pool, after the service; the only
 * place their JSON is written.
 */


#include "ngx_http_oxmigrate_admin_job.h"


/* "key": a string column, null for SQL NULL */

static void
ngx_http_oxmigrate_admin_col_str(yajl_gen g, const char *key, const char *v)
{
    ngx_http_oxmigrate_admin_json_str(g, key);
    ngx_http_oxmigrate_admin_json_str(g, v);
}


/* "key": an integer column, null for SQL NULL */

static void
ngx_http_oxmigrate_admin_col_int(yajl_gen g, const char *key, const char *v)
{
    ngx_http_oxmigrate_admin_json_str(g, key);

    if (v) {
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) v,
                                                      ngx_strlen(v)));
    } else {
        yajl_gen_null(g);
    }
}


/* "key": a JSON array column; else [] (empty) or null */

static void
ngx_http_oxmigrate_admin_col_array(yajl_gen g, const char *key,
    const char *v, ngx_uint_t empty)
{
    yajl_val  tree;

    ngx_http_oxmigrate_admin_json_str(g, key);

    tree = v ? yajl_tree_parse(v, NULL, 0) : NULL;

    if (tree && YAJL_IS_ARRAY(tree)) {
        ngx_http_oxmigrate_admin_json_tree(g, tree, "");

    } else if (empty) {
        yajl_gen_array_open(g);
        yajl_gen_array_close(g);

    } else {
        yajl_gen_null(g);
    }

    if (tree) {
        yajl_tree_free(tree);
    }
}


/* a double, or null when < 0 */

static void
ngx_http_oxmigrate_admin_json_double(yajl_gen g, const char *key, double d)
{
    ngx_http_oxmigrate_admin_json_str(g, key);

    if (d >= 0) {
        yajl_gen_double(g, d);

    } else {
        yajl_gen_null(g);
    }
}


/*
 * The error of a job start: a tool that failed with its words, the target
 * that exists ("id"), the job that runs ("job").
 */

static void
ngx_http_oxmigrate_admin_start_fail(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_job_started_t *st)
{
    const char  *reason;

    reason = op->res.reason ? op->res.reason : "";

    if (st && st->stepped && ngx_strncmp(reason, "ox_", 3) == 0) {
        ngx_http_oxmigrate_admin_step_fail(op, &st->st);
        return;
    }

    ngx_http_oxmigrate_admin_answer_open(op);

    if (op->gen && st && ngx_strcmp(reason, "server_exists") == 0) {
        ngx_http_oxmigrate_admin_json_str(op->gen, "id");
        ngx_http_oxmigrate_admin_json_int(op->gen, st->other);

    } else if (op->gen && st && ngx_strcmp(reason, "job_running") == 0) {
        ngx_http_oxmigrate_admin_json_str(op->gen, "job");
        ngx_http_oxmigrate_admin_json_int(op->gen, st->other);
    }

    ngx_http_oxmigrate_admin_error_close(op);
}


/* POST /upgrade {"dry_run": true}: the plan */

static void
ngx_http_oxmigrate_admin_answer_dry(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dry_run_t *dry)
{
    yajl_gen                          g;
    ngx_str_t                        *p;
    ngx_uint_t                        i, j;
    ngx_http_oxmigrate_dry_schema_t  *ds;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "estimate_from_job");
    if (dry->from) {
        ngx_http_oxmigrate_admin_json_int(g, dry->from);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_double(g, "estimate_seconds",
                                         dry->estimate);
    ngx_http_oxmigrate_admin_json_str(g, "dry_run");
    ngx_http_oxmigrate_admin_json_bool(g, 1);
    ngx_http_oxmigrate_admin_json_str(g, "server");
    ngx_http_oxmigrate_admin_json_str(g, dry->server);
    ngx_http_oxmigrate_admin_json_str(g, "server_id");
    if (dry->server_id > 0) {
        ngx_http_oxmigrate_admin_json_int(g, dry->server_id);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "steps");
    ngx_http_oxmigrate_admin_json_str(g, dry->steps);
    ngx_http_oxmigrate_admin_json_str(g, "ox_caches");
    ngx_http_oxmigrate_admin_json_str(g, dry->caches);

    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    ds = dry->schemas.elts;
    for (i = 0; i < dry->schemas.nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, ds[i].name);
        ngx_http_oxmigrate_admin_json_str(g, "db_pool_id");
        ngx_http_oxmigrate_admin_json_int(g, ds[i].pool_id);
        ngx_http_oxmigrate_admin_json_str(g, "host");
        ngx_http_oxmigrate_admin_json_str(g, ds[i].host);
        ngx_http_oxmigrate_admin_json_str(g, "contexts");
        ngx_http_oxmigrate_admin_json_int(g, ds[i].contexts);
        ngx_http_oxmigrate_admin_json_double(g, "estimate_seconds",
                                             ds[i].estimate);

        ngx_http_oxmigrate_admin_json_str(g, "pending");

        if (ds[i].pending == NULL) {
            yajl_gen_null(g);

        } else {
            yajl_gen_array_open(g);

            p = ds[i].pending->elts;
            for (j = 0; j < ds[i].pending->nelts; j++) {
                ngx_http_oxmigrate_admin_json_strn(g, p[j].data, p[j].len);
            }

            yajl_gen_array_close(g);
        }

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/*
 * POST /upgrade, /updates, /jobs/{id}/resume: 202 {"job", ...}; the job
 * starts once it is out
 */

static void
ngx_http_oxmigrate_admin_answer_start(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc, ngx_http_oxmigrate_job_started_t *st)
{
    yajl_gen  g;

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_start_fail(op, st);
        return;
    }

    if (st->dry) {
        ngx_http_oxmigrate_admin_answer_dry(op, st->dry);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_ACCEPTED);
    if (g == NULL) {
        /* no answer: the job does not start */
        if (op->res.job) {
            ngx_http_oxmigrate_admin_job_free(op->res.job);
            op->res.job = NULL;
        }

        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, st->id);

    if (st->taken) {
        ngx_http_oxmigrate_admin_json_str(g, st->taken);
        ngx_http_oxmigrate_admin_json_bool(g, 1);
        ngx_http_oxmigrate_admin_json_str(g, "remaining");
        ngx_http_oxmigrate_admin_json_int(g, st->remaining);

    } else {
        if (st->upgrade) {
            ngx_http_oxmigrate_admin_json_str(g, "server_id");
            ngx_http_oxmigrate_admin_json_int(g, st->server_id);
        }

        ngx_http_oxmigrate_admin_json_str(g, "schemas");
        ngx_http_oxmigrate_admin_json_int(g, st->schemas);
    }

    yajl_gen_map_close(g);
}


void
ngx_http_oxmigrate_admin_answer_started(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    ngx_http_oxmigrate_admin_answer_start(op, rc, op->res.data);
}


/* a job's row as GET /jobs shows it */

static void
ngx_http_oxmigrate_admin_job_json(yajl_gen g, ngx_http_oxmigrate_job_row_t *jr)
{
    ngx_uint_t                            i;
    ngx_http_oxmigrate_job_schema_row_t  *s;

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_col_int(g, "id", jr->id);
    ngx_http_oxmigrate_admin_col_str(g, "kind", jr->kind);
    ngx_http_oxmigrate_admin_col_str(g, "state", jr->state);
    ngx_http_oxmigrate_admin_col_int(g, "total", jr->total);
    ngx_http_oxmigrate_admin_col_int(g, "processed", jr->processed);
    ngx_http_oxmigrate_admin_col_int(g, "failed", jr->failed);
    ngx_http_oxmigrate_admin_col_str(g, "current", jr->current);
    ngx_http_oxmigrate_admin_col_int(g, "started", jr->started);
    ngx_http_oxmigrate_admin_col_int(g, "finished", jr->finished);
    ngx_http_oxmigrate_admin_col_int(g, "heartbeat", jr->heartbeat);
    ngx_http_oxmigrate_admin_col_int(g, "server_id", jr->server_id);
    ngx_http_oxmigrate_admin_col_str(g, "user", jr->user);
    ngx_http_oxmigrate_admin_col_str(g, "owner", jr->owner);
    ngx_http_oxmigrate_admin_col_str(g, "ox_caches", jr->ox_caches);

    /* steering: a pause or cancel asked, PATCHed parallel, the canary */
    ngx_http_oxmigrate_admin_col_str(g, "control", jr->control);
    ngx_http_oxmigrate_admin_col_int(g, "parallel", jr->parallel);
    ngx_http_oxmigrate_admin_col_int(g, "pause_after", jr->pause_after);
    ngx_http_oxmigrate_admin_col_str(g, "window", jr->window);

    ngx_http_oxmigrate_admin_json_str(g, "window_open");
    if (jr->window_open >= 0) {
        ngx_http_oxmigrate_admin_json_bool(g, jr->window_open);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_col_int(g, "max_downtime", jr->max_downtime);
    ngx_http_oxmigrate_admin_col_str(g, "reason", jr->reason);

    ngx_http_oxmigrate_admin_json_double(g, "rate", jr->rate);

    ngx_http_oxmigrate_admin_json_str(g, "eta_seconds");
    if (jr->eta >= 0) {
        ngx_http_oxmigrate_admin_json_int(g, jr->eta);
    } else {
        yajl_gen_null(g);
    }

    if (jr->schemas) {
        ngx_http_oxmigrate_admin_json_str(g, "schemas");
        yajl_gen_array_open(g);

        s = jr->schemas->elts;
        for (i = 0; i < jr->schemas->nelts; i++) {
            yajl_gen_map_open(g);
            ngx_http_oxmigrate_admin_col_str(g, "name", s[i].name);
            ngx_http_oxmigrate_admin_col_str(g, "state", s[i].state);
            ngx_http_oxmigrate_admin_col_array(g, "failed_tasks",
                                               s[i].failed_tasks, 1);

            ngx_http_oxmigrate_admin_json_str(g, "downtime_ms");
            if (s[i].downtime >= 0) {
                ngx_http_oxmigrate_admin_json_int(g, s[i].downtime);
            } else {
                yajl_gen_null(g);
            }

            ngx_http_oxmigrate_admin_col_str(g, "message", s[i].message);

            /* the checks before its enable, when the job asked for any */
            ngx_http_oxmigrate_admin_col_array(g, "checks", s[i].checks, 0);

            /* oxmigrate_hold on the balancers (null: no Redis to ask) */
            ngx_http_oxmigrate_admin_json_str(g, "held");
            if (s[i].counted) {
                ngx_http_oxmigrate_admin_json_int(g, s[i].hold[0]);
            } else {
                yajl_gen_null(g);
            }
            ngx_http_oxmigrate_admin_json_str(g, "maintenance_answers");
            if (s[i].counted) {
                ngx_http_oxmigrate_admin_json_int(g, s[i].hold[1]);
            } else {
                yajl_gen_null(g);
            }
            yajl_gen_map_close(g);
        }

        yajl_gen_array_close(g);
    }

    yajl_gen_map_close(g);
}


/* GET /jobs */

void
ngx_http_oxmigrate_admin_answer_jobs(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                       g;
    ngx_uint_t                     i;
    ngx_array_t                   *rows;
    ngx_http_oxmigrate_job_row_t  *jr;

    g = ngx_http_oxmigrate_admin_answer_list(op, rc, "jobs");
    if (g == NULL) {
        return;
    }

    rows = op->res.data;

    jr = rows->elts;
    for (i = 0; i < rows->nelts; i++) {
        ngx_http_oxmigrate_admin_job_json(g, &jr[i]);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* GET /jobs/{id} */

void
ngx_http_oxmigrate_admin_answer_job(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen  g;

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_answer_fail(op);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g) {
        ngx_http_oxmigrate_admin_job_json(g, op->res.data);
    }
}


/* pause, cancel, continue: {"job","state","control"[,"message"]} */

void
ngx_http_oxmigrate_admin_answer_steered(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                           g;
    ngx_http_oxmigrate_job_steered_t  *sd;

    sd = op->res.data;

    if (sd && sd->started) {
        /* continue gave it a new driver */
        ngx_http_oxmigrate_admin_answer_start(op, rc, sd->started);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_answer_fail(op);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, sd->accepted ? NGX_HTTP_ACCEPTED
                                                        : NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, sd->id);
    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g, sd->state);
    ngx_http_oxmigrate_admin_json_str(g, "control");
    ngx_http_oxmigrate_admin_json_str(g, sd->control);

    if (sd->message) {
        ngx_http_oxmigrate_admin_json_str(g, "message");
        ngx_http_oxmigrate_admin_json_str(g, sd->message);
    }

    yajl_gen_map_close(g);
}


/* PATCH /jobs/{id} */

void
ngx_http_oxmigrate_admin_answer_patched(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                           g;
    ngx_http_oxmigrate_job_patched_t  *jp;

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_answer_fail(op);
        return;
    }

    jp = op->res.data;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, jp->id);
    ngx_http_oxmigrate_admin_col_str(g, "state", jp->state);
    ngx_http_oxmigrate_admin_col_int(g, "parallel", jp->parallel);
    ngx_http_oxmigrate_admin_col_str(g, "window", jp->window);
    yajl_gen_map_close(g);
}


/* POST /schemas/{s}/revert */

void
ngx_http_oxmigrate_admin_answer_reverted(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                        g;
    ngx_http_oxmigrate_reverted_t  *rv;

    rv = op->res.data;

    if (rc != NGX_OK) {
        if (rv && rv->stepped) {
            ngx_http_oxmigrate_admin_step_fail(op, &rv->st);
            return;
        }

        ngx_http_oxmigrate_admin_answer_open(op);

        if (op->gen && rv && op->res.reason
            && ngx_strcmp(op->res.reason, "tasks_ran") == 0)
        {
            ngx_http_oxmigrate_admin_json_names(op->gen, "tasks", rv->tasks);
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
    ngx_http_oxmigrate_admin_json_str(g, rv->schema);
    ngx_http_oxmigrate_admin_json_str(g, "reverted");
    ngx_http_oxmigrate_admin_json_bool(g, 1);
    ngx_http_oxmigrate_admin_json_str(g, "server_id");
    ngx_http_oxmigrate_admin_json_int(g, rv->lj.from_server_id);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, rv->lj.job_id);
    ngx_http_oxmigrate_admin_json_str(g, "forced");
    ngx_http_oxmigrate_admin_json_bool(g, rv->forced);
    ngx_http_oxmigrate_admin_json_names(g, "tasks", rv->tasks);
    ngx_http_oxmigrate_admin_step_json(g, &rv->st);
    yajl_gen_map_close(g);
}


/* GET /schemas/{s}: the last job */

static void
ngx_http_oxmigrate_admin_json_last_job(yajl_gen g,
    ngx_http_oxmigrate_diagnosis_t *dg)
{
    ngx_http_oxmigrate_last_job_t  *lj;

    ngx_http_oxmigrate_admin_json_str(g, "last_job");

    if (!dg->has_job) {
        yajl_gen_null(g);
        return;
    }

    lj = &dg->lj;

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "id");
    ngx_http_oxmigrate_admin_json_int(g, lj->job_id);
    ngx_http_oxmigrate_admin_col_str(g, "job_state", dg->job_state);
    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g, lj->state);
    ngx_http_oxmigrate_admin_json_str(g, "message");
    ngx_http_oxmigrate_admin_json_str(g, lj->message && lj->message[0]
                                         ? lj->message : NULL);
    ngx_http_oxmigrate_admin_json_str(g, "server_id");
    ngx_http_oxmigrate_admin_json_int(g, lj->server_id);
    ngx_http_oxmigrate_admin_json_str(g, "from_server_id");
    if (lj->from_server_id) {
        ngx_http_oxmigrate_admin_json_int(g, lj->from_server_id);
    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);
}


/* GET /schemas/{s} */

void
ngx_http_oxmigrate_admin_answer_diagnosis(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                          g;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_problem_t     *p;
    ngx_http_oxmigrate_diagnosis_t   *dg;
    ngx_http_oxmigrate_ctx_state_t   *cs;
    ngx_http_oxmigrate_ctx_server_t  *sv;

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_answer_fail(op);
        return;
    }

    dg = op->res.data;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, dg->schema);
    ngx_http_oxmigrate_admin_json_str(g, "db_pool_id");
    ngx_http_oxmigrate_admin_json_int(g, dg->pool_id);

    ngx_http_oxmigrate_admin_json_str(g, "contexts");
    yajl_gen_array_open(g);

    cs = dg->contexts->elts;
    for (i = 0; i < dg->contexts->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "enabled");
        ngx_http_oxmigrate_admin_json_bool(g, cs[i].enabled);
        ngx_http_oxmigrate_admin_col_int(g, "reason_id", cs[i].reason_id);
        ngx_http_oxmigrate_admin_col_int(g, "server_id", cs[i].server_id);
        ngx_http_oxmigrate_admin_col_int(g, "count", cs[i].count);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "servers");
    yajl_gen_array_open(g);

    sv = dg->servers->elts;
    for (i = 0; i < dg->servers->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, sv[i].server_id);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, sv[i].name);
        ngx_http_oxmigrate_admin_json_str(g, "contexts");
        ngx_http_oxmigrate_admin_json_int(g, sv[i].contexts);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "ox_lock");
    if (dg->locked < 0) {
        yajl_gen_null(g);

    } else if (dg->locked == 0) {
        ngx_http_oxmigrate_admin_json_str(g, "none");

    } else {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "last_modified");
        ngx_http_oxmigrate_admin_json_int(g, dg->locked);
        ngx_http_oxmigrate_admin_json_str(g, "age_ms");
        ngx_http_oxmigrate_admin_json_int(g, dg->age);
        ngx_http_oxmigrate_admin_json_str(g, "live");
        ngx_http_oxmigrate_admin_json_bool(g, dg->live);
        yajl_gen_map_close(g);
    }

    ngx_http_oxmigrate_admin_json_last_job(g, dg);

    ngx_http_oxmigrate_admin_json_str(g, "inconsistencies");
    yajl_gen_array_open(g);

    p = dg->problems->elts;
    for (i = 0; i < dg->problems->nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "problem");
        ngx_http_oxmigrate_admin_json_str(g, p[i].problem);
        ngx_http_oxmigrate_admin_json_str(g, "fix");
        ngx_http_oxmigrate_admin_json_str(g, p[i].fix);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}
