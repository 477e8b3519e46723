
/*
 * oxmigrate admin API: jobs (upgradeschemata, runallupdate), the
 * endpoints and their plans.  A new job is ngx_http_oxmigrate_admin_jobnew.c,
 * the driver ngx_http_oxmigrate_admin_jobdriver.c, the steps
 * ngx_http_oxmigrate_admin_jobsteps.c.
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


#include "ngx_http_oxmigrate_admin_job.h"


/*
 * Starting a job (POST /upgrade, POST /updates, POST /jobs/{id}/resume) is
 * a check (a live job?) followed by an INSERT (or the resume's claim): two
 * calls at once would both pass the check.  A MariaDB named lock on
 * configdb's server makes check and write one step for every worker of
 * every balancer; it is held for milliseconds (the plan is read and
 * written), never while the job runs.  The name is the one the upgrade
 * alone used before, so that workers of an older configuration (a reload)
 * and newer ones still exclude each other.
 */

#define NGX_HTTP_OXMIGRATE_JOB_LOCK                                           \
    "LEFT(CONCAT('oxmigrate.upgrade.', DATABASE()), 64)"


void
ngx_http_oxmigrate_admin_job_locked(ngx_http_oxmigrate_admin_op_t *op,
    void (*start)(ngx_http_oxmigrate_admin_op_t *op))
{
    MYSQL      *m;
    MYSQL_ROW   row;
    MYSQL_RES  *res;
    ngx_uint_t  locked;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    res = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
              "SELECT GET_LOCK(" NGX_HTTP_OXMIGRATE_JOB_LOCK ", 10)");
    if (res == NULL) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    row = mysql_fetch_row(res);
    locked = (row && row[0] && row[0][0] == '1');
    mysql_free_result(res);

    if (!locked) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "busy", "another job is being "
                                       "started, try again");
        return;
    }

    start(op);

    if (ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
            "DO RELEASE_LOCK(" NGX_HTTP_OXMIGRATE_JOB_LOCK ")")
        < 0)
    {
        /* closing the connection at the end of the call releases it */
        ngx_log_error(NGX_LOG_WARN, op->conn.log, 0,
                      "oxmigrate admin: RELEASE_LOCK failed: %s",
                      mysql_error(m));
    }
}


/* POST /upgrade (upgradeschemata) */

static void ngx_http_oxmigrate_admin_upgrade_locked(
    ngx_http_oxmigrate_admin_op_t *op);


void
ngx_http_oxmigrate_admin_upgrade(ngx_http_oxmigrate_admin_op_t *op)
{
    if (ngx_http_oxmigrate_admin_body_flag(op, "dry_run", 0)) {
        /* a plan changes nothing: no lock needed */
        ngx_http_oxmigrate_admin_upgrade_locked(op);
        return;
    }

    ngx_http_oxmigrate_admin_job_locked(op,
                                      ngx_http_oxmigrate_admin_upgrade_locked);
}


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
ngx_http_oxmigrate_admin_job_listed(yajl_val list, const char *name)
{
    ngx_uint_t  k;

    for (k = 0; list && k < list->u.array.len; k++) {
        if (ngx_strcmp(name, list->u.array.values[k]->u.string) == 0) {
            return 1;
        }
    }

    return 0;
}


/* every name of a list of the body is a known schema; else answered 404 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_known(ngx_http_oxmigrate_admin_op_t *op,
    ngx_array_t *all, yajl_val list, const char *field)
{
    ngx_uint_t  k;

    for (k = 0; list && k < list->u.array.len; k++) {
        if (ngx_http_oxmigrate_admin_job_find(all,
                                        list->u.array.values[k]->u.string)
            < 0)
        {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND,
                                           "unknown_schema",
                                           "%s: schema '%s' not found",
                                           field,
                                           list->u.array.values[k]->u.string);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The plan of an upgrade: every schema with contexts, in the documented
 * order, that still has contexts on other servers than the target or
 * disabled for the move (a schema fully on the target and enabled was
 * upgraded before: "continue" goes on from there), after resume_after
 * (-m), without skip (-k).  Both name known
 * schemas (404).  NGX_ERROR: answered.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_upgrade_plan(ngx_http_oxmigrate_admin_op_t *op,
    ngx_array_t *all, int64_t sid, ngx_array_t *plan)
{
    char                             *after;
    yajl_val                          skip, only, v;
    ngx_int_t                         idx;
    ngx_uint_t                        i, limit;
    ngx_http_oxmigrate_schema_ref_t  *s, *ps;

    after = ngx_http_oxmigrate_admin_body_str(op, "resume_after");
    skip = ngx_http_oxmigrate_admin_body_get(op, "skip");
    only = ngx_http_oxmigrate_admin_body_get(op, "only");
    v = ngx_http_oxmigrate_admin_body_get(op, "limit");
    limit = v ? (ngx_uint_t) YAJL_GET_INTEGER(v) : 0;

    s = all->elts;

    /* resume_after (-m) and skip (-k) name known schemas */

    idx = -1;

    if (after) {
        idx = ngx_http_oxmigrate_admin_job_find(all, after);

        if (idx < 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND,
                                           "unknown_schema",
                                           "resume_after: schema '%s' not "
                                           "found", after);
            return NGX_ERROR;
        }
    }

    /* only: a list of known schemas, still in the documented order */

    if (ngx_http_oxmigrate_admin_job_known(op, all, only, "only") != NGX_OK
        || ngx_http_oxmigrate_admin_job_known(op, all, skip, "skip")
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_array_init(plan, op->conn.pool, all->nelts + 1,
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

        if (ngx_http_oxmigrate_admin_job_listed(skip, s[i].name)
            || (only && !ngx_http_oxmigrate_admin_job_listed(only,
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


/*
 * The estimate of dry_run: milliseconds per context measured by the
 * latest upgrade job that finished schemas (each one's last run, weighted
 * by its contexts) and that job; none measured yet: -1.
 */

static double
ngx_http_oxmigrate_admin_upgrade_estimate(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, int64_t *from)
{
    double      ms_ctx;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    ms_ctx = -1;
    *from = 0;

    res = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
              "SELECT s.job_id, SUM(s.ended_at - s.started_at)"
              " / SUM(COALESCE(NULLIF(s.contexts, 0), 1))"
              " FROM oxmigrate_job_schema s WHERE s.job_id = ("
              "  SELECT MAX(x.job_id) FROM oxmigrate_job_schema x"
              "  JOIN oxmigrate_job j ON j.id = x.job_id"
              "  WHERE j.kind = 'upgrade' AND x.state = 'done'"
              "  AND x.ended_at >= x.started_at)"
              " AND s.state = 'done' AND s.ended_at >= s.started_at"
              " GROUP BY s.job_id");
    if (res) {
        row = mysql_fetch_row(res);
        if (row && row[0] && row[1]) {
            *from = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
            ms_ctx = strtod(row[1], NULL);
        }

        mysql_free_result(res);
    }

    return ms_ctx;
}


/* "pending": the tasks a schema still lacks; null: its database unknown */

static void
ngx_http_oxmigrate_admin_upgrade_pending(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, MYSQL *sm, const char *schema)
{
    ngx_uint_t                          j;
    ngx_http_oxmigrate_task_t          *t;
    ngx_http_oxmigrate_schema_state_t   st;

    ngx_http_oxmigrate_admin_json_str(g, "pending");

    if (sm == NULL
        || ngx_http_oxmigrate_admin_schema_state(op->conn.alcf, sm, op->conn.pool,
                                                 schema, &st)
           != NGX_OK)
    {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_array_open(g);

    t = op->conn.alcf->tasks ? op->conn.alcf->tasks->elts : NULL;
    for (j = 0; t && j < op->conn.alcf->tasks->nelts; j++) {
        if (ngx_http_oxmigrate_admin_executed(&st, &t[j].name) == NULL
            && ngx_http_oxmigrate_admin_excluded(op->conn.alcf, &t[j], op->conn.pool)
               == NULL)
        {
            ngx_http_oxmigrate_admin_json_strn(g, t[j].name.data,
                                               t[j].name.len);
        }
    }

    yajl_gen_array_close(g);
}


/*
 * A connection to the database host of the pool "want" (NULL: unknown or
 * down); sm, that of *pool_id, serves on while the pool stays the same.
 */

static MYSQL *
ngx_http_oxmigrate_admin_upgrade_host(ngx_http_oxmigrate_admin_op_t *op,
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

    if (ngx_http_oxmigrate_admin_pool_host(op->conn.pool, m, want, &h, &pname)
        != NGX_OK)
    {
        return NULL;
    }

    return ngx_http_oxmigrate_admin_connect(&h, NULL, 0, err, sizeof(err));
}


/* dry_run's schemas, each with its estimate and pending tasks */

static void
ngx_http_oxmigrate_admin_upgrade_dry_schemas(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, MYSQL *m, ngx_http_oxmigrate_job_t *job, ngx_array_t *plan_a,
    double ms_ctx)
{
    MYSQL                            *sm;
    uint64_t                          pool_id;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_job_schema_t  *js;
    ngx_http_oxmigrate_schema_ref_t  *ps;

    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    js = job->schemas.elts;
    ps = plan_a->elts;
    sm = NULL;
    pool_id = (uint64_t) -1;

    for (i = 0; i < job->schemas.nelts; i++) {
        sm = ngx_http_oxmigrate_admin_upgrade_host(op, m, sm, &pool_id,
                                                   js[i].pool_id);

        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, js[i].name);
        ngx_http_oxmigrate_admin_json_str(g, "db_pool_id");
        ngx_http_oxmigrate_admin_json_int(g, js[i].pool_id);
        ngx_http_oxmigrate_admin_json_str(g, "host");
        ngx_http_oxmigrate_admin_json_str(g, js[i].host);
        ngx_http_oxmigrate_admin_json_str(g, "contexts");
        ngx_http_oxmigrate_admin_json_int(g, ps[i].contexts);
        ngx_http_oxmigrate_admin_json_str(g, "estimate_seconds");
        if (ms_ctx >= 0) {
            yajl_gen_double(g, ms_ctx * (double) (ps[i].contexts
                                                  ? ps[i].contexts : 1)
                               / 1000.0);
        } else {
            yajl_gen_null(g);
        }

        ngx_http_oxmigrate_admin_upgrade_pending(op, g, sm, js[i].name);
        yajl_gen_map_close(g);
    }

    if (sm) {
        mysql_close(sm);
    }

    yajl_gen_array_close(g);
}


/* dry_run: the plan with each schema's pending tasks; changes nothing */

static void
ngx_http_oxmigrate_admin_upgrade_dry(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, ngx_array_t *plan_a,
    char *server, int64_t sid)
{
    double                            ms_ctx, total;
    int64_t                           from;
    yajl_gen                          g;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_schema_ref_t  *ps;

    ms_ctx = ngx_http_oxmigrate_admin_upgrade_estimate(op, m, &from);

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        ngx_http_oxmigrate_admin_job_free(job);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "estimate_from_job");
    if (from) {
        ngx_http_oxmigrate_admin_json_int(g, from);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "estimate_seconds");
    if (ms_ctx >= 0) {
        total = 0;
        ps = plan_a->elts;
        for (i = 0; i < plan_a->nelts; i++) {
            total += ms_ctx * (double) (ps[i].contexts ? ps[i].contexts : 1);
        }

        yajl_gen_double(g, total / 1000.0);

    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "dry_run");
    ngx_http_oxmigrate_admin_json_bool(g, 1);
    ngx_http_oxmigrate_admin_json_str(g, "server");
    ngx_http_oxmigrate_admin_json_str(g, server);
    ngx_http_oxmigrate_admin_json_str(g, "server_id");
    if (sid > 0) {
        ngx_http_oxmigrate_admin_json_int(g, sid);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "steps");
    ngx_http_oxmigrate_admin_json_str(g,
                  op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
                  ? "disableschema (old), changeserver (old), "
                    "runupdate (new), enableschema (old)"
                  : "disable, changeserver, update, enable");
    ngx_http_oxmigrate_admin_json_str(g, "ox_caches");
    ngx_http_oxmigrate_admin_json_str(g,
                  ngx_http_oxmigrate_admin_caches(op->conn.alcf));

    ngx_http_oxmigrate_admin_upgrade_dry_schemas(op, g, m, job, plan_a,
                                                 ms_ctx);
    yajl_gen_map_close(g);

    ngx_http_oxmigrate_admin_job_free(job);
}


/*
 * The target's id (0: not registered); NGX_ERROR (-1): answered, also 409
 * for a registered one without "continue".
 */

static int64_t
ngx_http_oxmigrate_admin_upgrade_target(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, char *server)
{
    int64_t  sid;

    sid = ngx_http_oxmigrate_admin_server_id(m, op->conn.pool, server);
    if (sid < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NGX_ERROR;
    }

    if (sid > 0 && !ngx_http_oxmigrate_admin_body_flag(op, "continue", 0)) {
        ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT,
                "server_exists",
                "WARNING: The specified server is already registered with "
                "id '%L'. If that shouldn't be the case, abort the upgrade "
                "process, otherwise, send \"continue\": true to proceed. If "
                "you continue the already existing server will be used to "
                "point the updated schemata after the update tasks "
                "complete.", sid);
        if (op->gen) {
            ngx_http_oxmigrate_admin_json_str(op->gen, "id");
            ngx_http_oxmigrate_admin_json_int(op->gen, sid);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        return NGX_ERROR;
    }

    return sid;
}


/* registerserver; 0: answered (its error, a 409 as 500), the job freed */

static int64_t
ngx_http_oxmigrate_admin_upgrade_register(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, char *server)
{
    uint64_t                   id;
    ngx_http_oxmigrate_step_t  rs;

    ngx_http_oxmigrate_admin_step_init(&rs, op->conn.alcf, op->conn.pool, op->conn.log, m,
                                       NULL);

    id = rs.steps->registerserver(&rs, server);
    if (id == 0) {
        ngx_http_oxmigrate_admin_job_free(job);
        if (rs.status == NGX_HTTP_CONFLICT) {
            rs.status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_oxmigrate_admin_step_error(op, &rs, rs.status);
    }

    return id;
}


/*
 * The arguments of POST /upgrade that need no configdb: the target's
 * name, health_url, window, parallel.  NGX_ERROR: answered 400.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_upgrade_args(ngx_http_oxmigrate_admin_op_t *op,
    char **server, char **window, ngx_uint_t *parallel)
{
    char        *health;
    yajl_val     v;
    const char  *why;

    *server = ngx_http_oxmigrate_admin_body_str(op, "server");
    if (*server == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "missing_field",
                                       "field \"server\" is required");
        return NGX_ERROR;
    }

    if (op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
        && !ngx_http_oxmigrate_admin_ox_safe((u_char *) *server,
                                             ngx_strlen(*server)))
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                       "invalid_argument", "a server name consists of "
                       "letters, digits and _.-:@%%+=,/ (not starting "
                       "with \"-\")");
        return NGX_ERROR;
    }

    health = ngx_http_oxmigrate_admin_body_str(op, "health_url");
    why = health ? ngx_http_oxmigrate_admin_health_allowed(op->conn.alcf, health)
                 : NULL;
    if (why) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument", "%s", why);
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_job_window_arg(op, window, "") != NGX_OK) {
        return NGX_ERROR;
    }

    v = ngx_http_oxmigrate_admin_body_get(op, "parallel");
    *parallel = v ? (ngx_uint_t) YAJL_GET_INTEGER(v) : 1;
    if (*parallel == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"parallel\" must be 1 to 64");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_oxmigrate_admin_upgrade_locked(ngx_http_oxmigrate_admin_op_t *op)
{
    char                      *server, *window;
    MYSQL                     *m;
    int64_t                    sid;
    yajl_val                   v;
    ngx_uint_t                 dry, parallel;
    ngx_array_t               *all, plan;
    ngx_http_oxmigrate_job_t  *job;

    if (ngx_http_oxmigrate_admin_upgrade_args(op, &server, &window,
                                              &parallel)
        != NGX_OK)
    {
        return;
    }

    dry = ngx_http_oxmigrate_admin_body_flag(op, "dry_run", 0);

    if (dry) {
        /* a plan changes nothing, so there is nothing to audit */
        op->no_audit = 1;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    sid = ngx_http_oxmigrate_admin_upgrade_target(op, m, server);
    if (sid == NGX_ERROR) {
        return;
    }

    if (!dry
        && ngx_http_oxmigrate_admin_job_none_running(op, m, 0) != NGX_OK)
    {
        return;
    }

    all = ngx_http_oxmigrate_admin_op_schemas(op, sid);
    if (all == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_upgrade_plan(op, all, sid, &plan)
        != NGX_OK)
    {
        return;
    }

    job = ngx_http_oxmigrate_admin_job_plan(op, m,
                                            NGX_HTTP_OXMIGRATE_JOB_UPGRADE,
                                            &plan);
    if (job == NULL) {
        return;
    }

    if (dry) {
        ngx_http_oxmigrate_admin_upgrade_dry(op, m, job, &plan, server, sid);
        return;
    }

    if (sid == 0) {
        sid = ngx_http_oxmigrate_admin_upgrade_register(op, m, job, server);
        if (sid == 0) {
            return;
        }
    }

    job->server_id = sid;
    job->force = ngx_http_oxmigrate_admin_body_flag(op, "force", 0);
    job->parallel = parallel;

    v = ngx_http_oxmigrate_admin_body_get(op, "pause_after");
    job->pause_after = v ? (uint64_t) YAJL_GET_INTEGER(v) : 0;

    ngx_http_oxmigrate_admin_job_check_opts(job, op->json);
    ngx_http_oxmigrate_admin_job_set_window(job, window);

    ngx_http_oxmigrate_admin_job_launch(op, m, job);
}


/* POST /updates (runallupdate) */

static void ngx_http_oxmigrate_admin_updates_locked(
    ngx_http_oxmigrate_admin_op_t *op);


void
ngx_http_oxmigrate_admin_updates(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_job_locked(op,
                                      ngx_http_oxmigrate_admin_updates_locked);
}


static void
ngx_http_oxmigrate_admin_updates_locked(ngx_http_oxmigrate_admin_op_t *op)
{
    char                             *window;
    MYSQL                            *m;
    yajl_val                          v, only;
    ngx_uint_t                        i, limit;
    ngx_array_t                      *all, plan;
    ngx_http_oxmigrate_job_t         *job;
    ngx_http_oxmigrate_schema_ref_t  *s, *ps;

    m = op->conn.db;

    if (ngx_http_oxmigrate_admin_job_window_arg(op, &window, "") != NGX_OK) {
        return;
    }

    if (ngx_http_oxmigrate_admin_job_none_running(op, m, 0) != NGX_OK) {
        return;
    }

    all = ngx_http_oxmigrate_admin_op_schemas(op, 0);
    if (all == NULL) {
        return;
    }

    /*
     * runallupdate: every schema, also one without contexts; "only" (known
     * names, else 404) and "limit" as for POST /upgrade
     */

    only = ngx_http_oxmigrate_admin_body_get(op, "only");
    v = ngx_http_oxmigrate_admin_body_get(op, "limit");
    limit = v ? (ngx_uint_t) YAJL_GET_INTEGER(v) : 0;
    s = all->elts;

    if (ngx_http_oxmigrate_admin_job_known(op, all, only, "only") != NGX_OK) {
        return;
    }

    if (ngx_array_init(&plan, op->conn.pool, all->nelts + 1,
                       sizeof(ngx_http_oxmigrate_schema_ref_t))
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    for (i = 0; i < all->nelts && (!limit || plan.nelts < limit); i++) {
        if (only && !ngx_http_oxmigrate_admin_job_listed(only, s[i].name)) {
            continue;
        }

        ps = ngx_array_push(&plan);
        if (ps == NULL) {
            ngx_http_oxmigrate_admin_db_error(op, m);
            return;
        }

        *ps = s[i];
    }

    job = ngx_http_oxmigrate_admin_job_plan(op, m,
                                            NGX_HTTP_OXMIGRATE_JOB_UPDATES,
                                            &plan);
    if (job == NULL) {
        return;
    }

    job->force = !ngx_http_oxmigrate_admin_body_flag(op, "stop_on_error", 1);

    v = ngx_http_oxmigrate_admin_body_get(op, "pause_after");
    job->pause_after = v ? (uint64_t) YAJL_GET_INTEGER(v) : 0;

    ngx_http_oxmigrate_admin_job_set_window(job, window);

    ngx_http_oxmigrate_admin_job_launch(op, m, job);
}
