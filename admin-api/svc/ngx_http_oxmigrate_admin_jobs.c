/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: jobs (upgradeschemata, runallupdate), the
 * endpoints and their plans.  A new job is ngx_http_oxmigrate_admin_jobnew.c,
 * the driver jobs/ngx_http_oxmigrate_admin_jobdriver.c, the steps
 * jobs/ngx_http_oxmigrate_admin_jobsteps.c; the answers
 * http/ngx_http_oxmigrate_admin_answer_jobs.c.
 *
 * A job lives in configdb (oxmigrate_job, oxmigrate_job_schema), so every
 * worker of every balancer answers GET /jobs.  The worker that created or
 * resumed a job drives it from its event loop: it posts one thread-pool
 * step per schema (disable, changeserver, update, enable), at most
 * "parallel" at once and never two on one database host, and schedules the
 * next when a step completes.  The steps write every state change to
 * configdb and refresh the job's heartbeat (also from the update runner's
 * lock refresher while a long task runs).  A job whose heartbeat is older
 * than oxmigrate_update_lock_idle has lost its worker: it is shown
 * "interrupted" and POST /jobs/{id}/resume takes it over.  Tasks that
 * succeeded are recorded in the schema's updateTask, so they never run
 * twice.
 */


#include "ngx_http_oxmigrate_admin_jobmake.h"


static ngx_int_t ngx_http_oxmigrate_admin_upgrade_locked(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
static ngx_int_t ngx_http_oxmigrate_admin_updates_locked(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);


/* the index of a schema of all by name; -1: none */

static ngx_int_t
ngx_http_oxmigrate_admin_job_find(ngx_array_t *all, const char *name)
{
    ngx_uint_t                        i;
    ngx_http_oxmigrate_schema_ref_t  *s;

    s = all->elts;

    for (i = 0; i < all->nelts; i++) {
        if (ngx_strcmp(s[i].name, name) == 0) {
            return i;
        }
    }

    return -1;
}


/* whether a list of the body ("only", "skip"; NULL: none) names it */

static ngx_uint_t
ngx_http_oxmigrate_admin_job_listed(ngx_array_t *list, const char *name)
{
    char        **n;
    ngx_uint_t    k;

    n = list ? list->elts : NULL;

    for (k = 0; list && k < list->nelts; k++) {
        if (ngx_strcmp(name, n[k]) == 0) {
            return 1;
        }
    }

    return 0;
}


/* every name of a list of the body is a known schema (unknown_schema) */

static ngx_int_t
ngx_http_oxmigrate_admin_job_known(ngx_http_oxmigrate_admin_res_t *res,
    ngx_array_t *all, ngx_array_t *list, const char *field)
{
    char        **n;
    ngx_uint_t    k;

    n = list ? list->elts : NULL;

    for (k = 0; list && k < list->nelts; k++) {
        if (ngx_http_oxmigrate_admin_job_find(all, n[k]) < 0) {
            return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                                 "unknown_schema",
                                                 "%s: schema '%s' not found",
                                                 field, n[k]);
        }
    }

    return NGX_OK;
}


/*
 * The plan of an upgrade: every schema with contexts, in the documented
 * order, that still has contexts on other servers than the target or
 * disabled for the move (a schema fully on the target and enabled was
 * upgraded before: "continue" goes on from there), after resume_after
 * (-m), without skip (-k).  Both name known schemas.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_upgrade_plan(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res,
    ngx_array_t *all, int64_t sid, ngx_array_t *plan)
{
    char                             *after;
    ngx_int_t                         idx;
    ngx_uint_t                        i, limit;
    ngx_http_oxmigrate_schema_ref_t  *s, *ps;

    after = ngx_http_oxmigrate_admin_arg_str(a->resume_after);
    limit = a->limit > 0 ? (ngx_uint_t) a->limit : 0;

    s = all->elts;

    idx = -1;

    if (after) {
        idx = ngx_http_oxmigrate_admin_job_find(all, after);

        if (idx < 0) {
            return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                                 "unknown_schema",
                                                 "resume_after: schema '%s' "
                                                 "not found", after);
        }
    }

    /* only: a list of known schemas, still in the documented order */

    if (ngx_http_oxmigrate_admin_job_known(res, all, a->only, "only")
        != NGX_OK
        || ngx_http_oxmigrate_admin_job_known(res, all, a->skip, "skip")
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (ngx_array_init(plan, c->pool, all->nelts + 1,
                       sizeof(ngx_http_oxmigrate_schema_ref_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < all->nelts; i++) {
        if ((ngx_int_t) i <= idx || s[i].contexts == 0
            || (sid > 0 && s[i].not_on == 0))
        {
            continue;
        }

        if (ngx_http_oxmigrate_admin_job_listed(a->skip, s[i].name)
            || (a->only && !ngx_http_oxmigrate_admin_job_listed(a->only,
                                                                s[i].name)))
        {
            continue;
        }

        if (limit && plan->nelts == limit) {
            break;
        }

        ps = ngx_array_push(plan);
        if (ps == NULL) {
            return NGX_ERROR;
        }

        *ps = s[i];
    }

    return NGX_OK;
}


/* the tasks a schema still lacks (ngx_str_t); NULL: its database unknown */

static ngx_array_t *
ngx_http_oxmigrate_admin_upgrade_pending(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *sm, const char *schema)
{
    ngx_str_t                          *p;
    ngx_uint_t                          j;
    ngx_array_t                        *pending;
    ngx_http_oxmigrate_task_t          *t;
    ngx_http_oxmigrate_schema_state_t   st;

    if (sm == NULL
        || ngx_http_oxmigrate_admin_schema_state(c->alcf, sm, c->pool,
                                                 schema, &st)
           != NGX_OK)
    {
        return NULL;
    }

    pending = ngx_array_create(c->pool, 8, sizeof(ngx_str_t));
    if (pending == NULL) {
        return NULL;
    }

    t = c->alcf->tasks ? c->alcf->tasks->elts : NULL;
    for (j = 0; t && j < c->alcf->tasks->nelts; j++) {
        if (ngx_http_oxmigrate_admin_executed(&st, &t[j].name) == NULL
            && ngx_http_oxmigrate_admin_excluded(c->alcf, &t[j], c->pool)
               == NULL)
        {
            p = ngx_array_push(pending);
            if (p == NULL) {
                return NULL;
            }

            *p = t[j].name;
        }
    }

    return pending;
}


/*
 * A connection to the database host of the pool "want" (NULL: unknown or
 * down); sm, that of *pool_id, serves on while the pool stays the same.
 */

static MYSQL *
ngx_http_oxmigrate_admin_upgrade_host(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, MYSQL *sm, uint64_t *pool_id, uint64_t want)
{
    char                         *pname, err[256];
    ngx_http_oxmigrate_dbhost_t   h;

    if (want == *pool_id) {
        return sm;
    }

    if (sm) {
        mysql_close(sm);
    }

    *pool_id = want;

    if (ngx_http_oxmigrate_admin_pool_host(c->pool, m, want, &h, &pname)
        != NGX_OK)
    {
        return NULL;
    }

    return ngx_http_oxmigrate_admin_connect(&h, NULL, 0, err, sizeof(err));
}


/* dry_run: the plan with each schema's pending tasks; changes nothing */

static ngx_int_t
ngx_http_oxmigrate_admin_upgrade_dry(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, ngx_array_t *plan_a,
    ngx_http_oxmigrate_dry_run_t *dry)
{
    MYSQL                            *sm;
    double                            ms_ctx, total;
    uint64_t                          pool_id;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_dry_schema_t  *ds;
    ngx_http_oxmigrate_job_schema_t  *js;
    ngx_http_oxmigrate_schema_ref_t  *ps;

    ngx_http_oxmigrate_admin_store_job_estimate(m, c->pool, &dry->from,
                                                &ms_ctx);

    total = 0;
    ps = plan_a->elts;
    for (i = 0; i < plan_a->nelts; i++) {
        total += ms_ctx * (double) (ps[i].contexts ? ps[i].contexts : 1);
    }

    dry->estimate = (ms_ctx >= 0) ? total / 1000.0 : -1;
    dry->steps = c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
                 ? "disableschema (old), changeserver (old), "
                   "runupdate (new), enableschema (old)"
                 : "disable, changeserver, update, enable";
    dry->caches = ngx_http_oxmigrate_admin_caches(c->alcf);

    if (ngx_array_init(&dry->schemas, c->pool, job->schemas.nelts + 1,
                       sizeof(ngx_http_oxmigrate_dry_schema_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    js = job->schemas.elts;
    sm = NULL;
    pool_id = (uint64_t) -1;

    for (i = 0; i < job->schemas.nelts; i++) {
        sm = ngx_http_oxmigrate_admin_upgrade_host(c, m, sm, &pool_id,
                                                   js[i].pool_id);

        ds = ngx_array_push(&dry->schemas);
        if (ds == NULL) {
            break;
        }

        ds->name = ngx_http_oxmigrate_admin_strndup(c->pool, js[i].name,
                                                    ngx_strlen(js[i].name));
        ds->pool_id = js[i].pool_id;
        ds->host = ngx_http_oxmigrate_admin_strndup(c->pool, js[i].host,
                                                    ngx_strlen(js[i].host));
        ds->contexts = ps[i].contexts;
        ds->estimate = (ms_ctx >= 0)
                       ? ms_ctx * (double) (ps[i].contexts ? ps[i].contexts
                                                           : 1) / 1000.0
                       : -1;
        ds->pending = ngx_http_oxmigrate_admin_upgrade_pending(c, sm,
                                                               js[i].name);
    }

    if (sm) {
        mysql_close(sm);
    }

    ngx_http_oxmigrate_admin_job_free(job);

    return (i == plan_a->nelts) ? NGX_OK : NGX_ERROR;
}


/* the target's id (0: not registered); a registered one needs "continue" */

static ngx_int_t
ngx_http_oxmigrate_admin_upgrade_target(ngx_http_oxmigrate_admin_args_t *a,
    MYSQL *m, ngx_pool_t *pool, ngx_http_oxmigrate_job_started_t *st,
    ngx_http_oxmigrate_admin_res_t *res, int64_t *sid)
{
    *sid = ngx_http_oxmigrate_admin_server_id(m, pool, a->server);
    if (*sid < 0) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    if (*sid > 0 && a->cont != 1) {
        st->other = *sid;

        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                "server_exists",
                "WARNING: The specified server is already registered with "
                "id '%L'. If that shouldn't be the case, abort the upgrade "
                "process, otherwise, send \"continue\": true to proceed. If "
                "you continue the already existing server will be used to "
                "point the updated schemata after the update tasks "
                "complete.", *sid);
    }

    return NGX_OK;
}


/* registerserver; 0: failed (its error, a 409 as a 500), the job freed */

static int64_t
ngx_http_oxmigrate_admin_upgrade_register(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, char *server,
    ngx_http_oxmigrate_job_started_t *st, ngx_http_oxmigrate_admin_res_t *res)
{
    uint64_t  id;

    ngx_http_oxmigrate_admin_step_init(&st->st, c->alcf, c->pool, c->log, m,
                                       NULL);
    st->stepped = 1;

    id = st->st.steps->registerserver(&st->st, server);
    if (id == 0) {
        ngx_http_oxmigrate_admin_job_free(job);

        /* registered meanwhile: the plan is stale, a 500 as always */
        (void) ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                       st->st.ox_failed ? st->st.reason : "db_error", "%s",
                       (st->st.ox_failed && st->st.call)
                       ? st->st.call->error : st->st.res.msg);
    }

    return id;
}


/*
 * The arguments of POST /upgrade that need no configdb: the target's
 * name, health_url, window.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_upgrade_args(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res,
    char **window)
{
    char        *health;
    const char  *why;

    if (a->server == NULL) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "missing_field",
                                             "field \"server\" is required");
    }

    if (c->alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
        && !ngx_http_oxmigrate_admin_ox_safe((u_char *) a->server,
                                             ngx_strlen(a->server)))
    {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                       "invalid_argument", "a server name consists of "
                       "letters, digits and _.-:@%%+=,/ (not starting "
                       "with \"-\")");
    }

    health = ngx_http_oxmigrate_admin_arg_str(a->health_url);
    why = health ? ngx_http_oxmigrate_admin_health_allowed(c->alcf, health)
                 : NULL;
    if (why) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "invalid_argument", "%s", why);
    }

    return ngx_http_oxmigrate_admin_window_arg(a, res, window, "");
}


/* POST /upgrade (upgradeschemata): data is a job_started_t */

ngx_int_t
ngx_http_oxmigrate_admin_upgrade(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    /* a plan (dry_run) changes nothing: no lock needed */
    return ngx_http_oxmigrate_admin_jobs_start(c, a, res,
                                      ngx_http_oxmigrate_admin_upgrade_locked,
                                      a->dry_run != 1);
}


/* the checks of a job: check_tasks, max_replica_lag, health_url */

static void
ngx_http_oxmigrate_admin_upgrade_checks(ngx_http_oxmigrate_job_t *job,
    ngx_http_oxmigrate_admin_args_t *a)
{
    char  *url;

    job->check_tasks = (a->check_tasks == 1);

    if (a->max_replica_lag >= 0) {
        job->max_replica_lag = (ngx_int_t) a->max_replica_lag;
    }

    url = ngx_http_oxmigrate_admin_arg_str(a->health_url);

    if (url && url[0]) {
        job->health_url = ngx_http_oxmigrate_admin_strndup(job->pool, url,
                                                           ngx_strlen(url));
    }
}


static ngx_int_t
ngx_http_oxmigrate_admin_upgrade_locked(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    char                              *window;
    MYSQL                             *m;
    int64_t                            sid;
    ngx_int_t                          rc;
    ngx_array_t                       *all, plan;
    ngx_http_oxmigrate_job_t          *job;
    ngx_http_oxmigrate_job_started_t  *st;

    st = res->data;

    rc = ngx_http_oxmigrate_admin_upgrade_args(c, a, res, &window);
    if (rc != NGX_OK) {
        return rc;
    }

    if (a->dry_run == 1) {
        /* a plan changes nothing, so there is nothing to audit */
        res->no_audit = 1;
    }

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_upgrade_target(a, m, c->pool, st, res,
                                                 &sid);
    if (rc != NGX_OK) {
        return rc;
    }

    if (a->dry_run != 1) {
        rc = ngx_http_oxmigrate_admin_jobs_idle(c, m, 0, res, &st->other);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (ngx_http_oxmigrate_admin_all_schemas(m, c->pool, sid, &all)
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    rc = ngx_http_oxmigrate_admin_upgrade_plan(c, a, res, all, sid, &plan);
    if (rc == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR, "internal",
                                             "out of memory");
    }

    if (rc != NGX_OK) {
        return rc;
    }

    job = ngx_http_oxmigrate_admin_job_planned(c, m,
                                               NGX_HTTP_OXMIGRATE_JOB_UPGRADE,
                                               &plan, res);
    if (job == NULL) {
        return NGX_ERROR;
    }

    if (a->dry_run == 1) {
        st->dry = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_dry_run_t));
        if (st->dry == NULL) {
            ngx_http_oxmigrate_admin_job_free(job);
            return NGX_ERROR;
        }

        st->dry->server = a->server;
        st->dry->server_id = sid;

        return ngx_http_oxmigrate_admin_upgrade_dry(c, m, job, &plan,
                                                    st->dry);
    }

    if (sid == 0) {
        sid = ngx_http_oxmigrate_admin_upgrade_register(c, m, job, a->server,
                                                        st, res);
        if (sid == 0) {
            return NGX_ERROR;
        }
    }

    job->server_id = sid;
    job->force = (a->force == 1);
    job->parallel = (a->parallel > 0) ? (ngx_uint_t) a->parallel : 1;
    job->pause_after = (a->pause_after > 0) ? (uint64_t) a->pause_after : 0;

    ngx_http_oxmigrate_admin_upgrade_checks(job, a);
    ngx_http_oxmigrate_admin_job_set_window(job, window);

    return ngx_http_oxmigrate_admin_job_create(c, a, m, job, st, res);
}


/* POST /updates (runallupdate): data is a job_started_t */

ngx_int_t
ngx_http_oxmigrate_admin_updates(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    return ngx_http_oxmigrate_admin_jobs_start(c, a, res,
                                      ngx_http_oxmigrate_admin_updates_locked,
                                      1);
}


static ngx_int_t
ngx_http_oxmigrate_admin_updates_locked(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    char                              *window;
    MYSQL                             *m;
    ngx_int_t                          rc;
    ngx_uint_t                         i, limit;
    ngx_array_t                       *all, plan;
    ngx_http_oxmigrate_job_t          *job;
    ngx_http_oxmigrate_schema_ref_t   *s, *ps;
    ngx_http_oxmigrate_job_started_t  *st;

    st = res->data;
    m = c->db;

    rc = ngx_http_oxmigrate_admin_window_arg(a, res, &window, "");
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_http_oxmigrate_admin_jobs_idle(c, m, 0, res, &st->other);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_oxmigrate_admin_all_schemas(m, c->pool, 0, &all) != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    /*
     * runallupdate: every schema, also one without contexts; "only" (known
     * names) and "limit" as for POST /upgrade
     */

    limit = a->limit > 0 ? (ngx_uint_t) a->limit : 0;
    s = all->elts;

    rc = ngx_http_oxmigrate_admin_job_known(res, all, a->only, "only");
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_array_init(&plan, c->pool, all->nelts + 1,
                       sizeof(ngx_http_oxmigrate_schema_ref_t))
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    for (i = 0; i < all->nelts && (!limit || plan.nelts < limit); i++) {
        if (a->only
            && !ngx_http_oxmigrate_admin_job_listed(a->only, s[i].name))
        {
            continue;
        }

        ps = ngx_array_push(&plan);
        if (ps == NULL) {
            return ngx_http_oxmigrate_admin_db_fail(res, m);
        }

        *ps = s[i];
    }

    job = ngx_http_oxmigrate_admin_job_planned(c, m,
                                               NGX_HTTP_OXMIGRATE_JOB_UPDATES,
                                               &plan, res);
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->force = (a->stop_on_error == 0);
    job->pause_after = (a->pause_after > 0) ? (uint64_t) a->pause_after : 0;

    ngx_http_oxmigrate_admin_job_set_window(job, window);

    return ngx_http_oxmigrate_admin_job_create(c, a, m, job, st, res);
}
