
/*
 * oxmigrate admin API: jobs (upgradeschemata, runallupdate), the
 * endpoints.  The driver is ngx_http_oxmigrate_admin_jobdriver.c, the
 * steps ngx_http_oxmigrate_admin_jobsteps.c.
 *
 * A job lives in configdb (oxmigrate_job, oxmigrate_job_schema), so every
 * worker of every balancer answers GET /jobs.  The worker that created or
 * resumed a job drives it from its event loop: it posts one thread-pool
 * step per schema (disable, update, changeserver, enable), at most
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


static ngx_http_oxmigrate_job_t *ngx_http_oxmigrate_admin_job_plan(
    ngx_http_oxmigrate_admin_op_t *op, MYSQL *m, ngx_uint_t kind,
    ngx_array_t *plan);
static ngx_int_t ngx_http_oxmigrate_admin_job_schemas(
    ngx_http_oxmigrate_admin_op_t *op, MYSQL *m, ngx_http_oxmigrate_job_t *job,
    ngx_array_t *plan);


char *
ngx_http_oxmigrate_admin_owner(ngx_pool_t *pool)
{
    char  host[256], *p;

    if (gethostname(host, sizeof(host) - 1) != 0) {
        ngx_cpystrn((u_char *) host, (u_char *) "localhost", sizeof(host));
    }

    host[sizeof(host) - 1] = '\0';

    p = ngx_pnalloc(pool, ngx_strlen(host) + NGX_INT64_LEN + 2);
    if (p) {
        ngx_sprintf((u_char *) p, "%s:%P%Z", host, ngx_pid);
    }

    return p;
}


/*
 * Every driver of a job (the worker that created it, each one that resumed
 * it) has its own claim, written with the job.  A driver whose steps were
 * stuck (a thread pool busy with long calls) can see its heartbeat go
 * stale and the job resumed elsewhere: its next step finds another claim
 * and stops instead of driving the job a second time.
 */

uint64_t
ngx_http_oxmigrate_admin_job_claim(void)
{
    return ((uint64_t) ngx_http_oxmigrate_admin_now_ms() << 16)
           ^ (uint64_t) (ngx_random() & 0xffff);
}


ngx_http_oxmigrate_job_t *
ngx_http_oxmigrate_admin_job_new(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t kind, uint64_t id)
{
    ngx_pool_t                *pool;
    ngx_http_oxmigrate_job_t  *job;

    /* the job outlives the request: its own pool, freed when it ends */
    pool = ngx_create_pool(4096, op->log);
    if (pool == NULL) {
        return NULL;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_oxmigrate_job_t));
    if (job == NULL
        || ngx_array_init(&job->schemas, pool, 16,
                          sizeof(ngx_http_oxmigrate_job_schema_t))
           != NGX_OK
        || ngx_array_init(&job->conns, pool, 4, sizeof(MYSQL *)) != NGX_OK
        || ngx_array_init(&job->hosts, pool, 4,
                          sizeof(ngx_http_oxmigrate_job_host_t))
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    job->pool = pool;
    job->log = op->log;
    job->id = id;
    job->kind = kind;
    job->parallel = 1;
    job->win_start = -1;
    job->win_end = -1;
    job->max_replica_lag = -1;
    job->alcf = op->alcf;
    job->omcf = op->omcf;
    job->claim = ngx_http_oxmigrate_admin_job_claim();

    return job;
}




/*
 * A new job of the schemas of a plan (schema_refs, in their order), with
 * their database hosts (thread).  NULL: no job (answered when configdb
 * failed).
 */

static ngx_http_oxmigrate_job_t *
ngx_http_oxmigrate_admin_job_plan(ngx_http_oxmigrate_admin_op_t *op, MYSQL *m,
    ngx_uint_t kind, ngx_array_t *plan)
{
    ngx_http_oxmigrate_job_t  *job;

    job = ngx_http_oxmigrate_admin_job_new(op, kind, 0);
    if (job == NULL) {
        return NULL;
    }

    if (ngx_http_oxmigrate_admin_job_schemas(op, m, job, plan) != NGX_OK) {
        ngx_http_oxmigrate_admin_job_free(job);
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NULL;
    }

    return job;
}


static ngx_int_t
ngx_http_oxmigrate_admin_job_schemas(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, ngx_array_t *plan)
{
    char                             *pname, *host;
    uint64_t                          pool_id;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_dbhost_t       h;
    ngx_http_oxmigrate_job_schema_t  *js;
    ngx_http_oxmigrate_schema_ref_t   *s;

    s = plan->elts;
    pool_id = (uint64_t) -1;
    host = "";

    for (i = 0; i < plan->nelts; i++) {

        if (s[i].pool_id != pool_id) {
            pool_id = s[i].pool_id;

            if (ngx_http_oxmigrate_admin_pool_host(op->pool, m, pool_id, &h,
                                                   &pname)
                == NGX_OK)
            {
                host = ngx_http_oxmigrate_admin_host_port(job->pool, &h);
                if (host == NULL) {
                    return NGX_ERROR;
                }

            } else {
                host = "";
            }
        }

        js = ngx_array_push(&job->schemas);
        if (js == NULL) {
            return NGX_ERROR;
        }

        js->name = ngx_http_oxmigrate_admin_strndup(job->pool, s[i].name,
                                                    ngx_strlen(s[i].name));
        if (js->name == NULL) {
            return NGX_ERROR;
        }

        js->pool_id = pool_id;
        js->host = host;
        js->seq = i;
        js->contexts = s[i].contexts;
        js->state = NGX_HTTP_OXMIGRATE_S_PENDING;
    }

    return NGX_OK;
}


/* INSERT the job and its schemas; returns the job id, 0 on error */

static uint64_t
ngx_http_oxmigrate_admin_job_insert(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job)
{
    char                             *owner, *sql, *p, *kind, sidbuf[32],
                                      pabuf[32], mdbuf[32], *window;
    yajl_val                          v;
    int64_t                           now;
    uint64_t                          id;
    ngx_str_t                         body;
    ngx_uint_t                        i, j;
    ngx_http_oxmigrate_job_schema_t  *js;

    owner = ngx_http_oxmigrate_admin_owner(op->pool);
    now = ngx_http_oxmigrate_admin_now_ms();

    /* no JSON (an empty or blank body): the defaults */
    if (op->json) {
        body.data = op->body;
        body.len = op->body_len;

    } else {
        ngx_str_set(&body, "{}");
    }

    kind = (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) ? "upgrade"
                                                         : "updates";

    window = ngx_http_oxmigrate_admin_body_str(op, "window");
    v = ngx_http_oxmigrate_admin_body_get(op, "max_downtime");

    if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0) {
        ngx_sprintf((u_char *) mdbuf, "%L%Z", YAJL_GET_INTEGER(v));

    } else {
        ngx_cpystrn((u_char *) mdbuf, (u_char *) "NULL", sizeof(mdbuf));
    }

    if (job->pause_after) {
        ngx_sprintf((u_char *) pabuf, "%uL%Z", job->pause_after);

    } else {
        ngx_cpystrn((u_char *) pabuf, (u_char *) "NULL", sizeof(pabuf));
    }

    if (job->server_id) {
        ngx_sprintf((u_char *) sidbuf, "%uL%Z", job->server_id);

    } else {
        ngx_cpystrn((u_char *) sidbuf, (u_char *) "NULL", sizeof(sidbuf));
    }

    if (ngx_http_oxmigrate_admin_exec(m, op->pool,
            "INSERT INTO oxmigrate_job (kind, state, options, server_id,"
            " user, owner, claim, ox_caches, started, heartbeat,"
            " pause_after, time_window, max_downtime)"
            " VALUES (%s, 'running', %V, %R, %s, %s, %U, %s, %D, %D, %R,"
            " NULLIF(%s, ''), %R)",
            kind, &body, sidbuf, op->user, owner ? owner : "?", job->claim,
            ngx_http_oxmigrate_admin_steps(op->alcf)->ox_caches, now, now,
            pabuf, window ? window : "", mdbuf)
        < 0)
    {
        return 0;
    }

    id = mysql_insert_id(m);

    js = job->schemas.elts;

    for (i = 0; i < job->schemas.nelts; i = j) {

        /* 200 rows per INSERT */

        sql = ngx_http_oxmigrate_admin_sql(m, op->pool,
                  "INSERT INTO oxmigrate_job_schema"
                  " (job_id, seq, name, db_pool_id, host, state, contexts)"
                  " VALUES ");
        if (sql == NULL) {
            return 0;
        }

        for (j = i; j < job->schemas.nelts && j < i + 200; j++) {
            p = ngx_http_oxmigrate_admin_sql(m, op->pool,
                    "%R%R(%U, %U, %s, %U, %s, 'pending', %U)", sql,
                    j > i ? ", " : "", id, (uint64_t) js[j].seq, js[j].name,
                    js[j].pool_id, js[j].host, js[j].contexts);
            if (p == NULL) {
                return 0;
            }

            sql = p;
        }

        if (mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
            return 0;
        }
    }

    return id;
}


/*
 * One job at a time, whatever its kind: an upgrade and a runallupdate (or
 * two of either, or a resumed one next to any) would run the updates of
 * the same schemas at once, and the loser's schemas would fail with
 * UPD-0003.  "except" is the job being resumed (0: none), which may still
 * be "running" with a stale heartbeat.  NGX_OK: no other job runs;
 * NGX_ERROR: answered (409 job_running, or 500).
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_none_running(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, uint64_t except)
{
    uint64_t    id;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, op->pool,
              "SELECT id, kind, state FROM oxmigrate_job"
              " WHERE ((state = 'running' AND heartbeat >= %D)"
              " OR state = 'paused') AND id <> %U"
              " ORDER BY id LIMIT 1",
              ngx_http_oxmigrate_admin_job_stale(op->alcf), except);
    if (res == NULL) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NGX_OK;
    }

    id = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));

    ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT, "job_running",
                                        "%s job %uL is %s", row[1], id,
                                        ngx_strcmp(row[2], "paused") == 0
                                        ? "paused (continue or cancel it)"
                                        : "still running");
    if (op->gen) {
        ngx_http_oxmigrate_admin_json_str(op->gen, "job");
        ngx_http_oxmigrate_admin_json_int(op->gen, id);
    }

    ngx_http_oxmigrate_admin_error_close(op);
    mysql_free_result(res);

    return NGX_ERROR;
}


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

    res = ngx_http_oxmigrate_admin_select(m, op->pool,
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

    if (ngx_http_oxmigrate_admin_exec(m, op->pool,
            "DO RELEASE_LOCK(" NGX_HTTP_OXMIGRATE_JOB_LOCK ")")
        < 0)
    {
        /* closing the connection at the end of the call releases it */
        ngx_log_error(NGX_LOG_WARN, op->log, 0,
                      "oxmigrate admin: RELEASE_LOCK failed: %s",
                      mysql_error(m));
    }
}


/*
 * The answer 202 to a request that starts job (with a new id): {"job":
 * id, left open.  NULL: no answer possible, the job freed.
 */

yajl_gen
ngx_http_oxmigrate_admin_job_accepted(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_job_t *job)
{
    yajl_gen  g;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_ACCEPTED);
    if (g == NULL) {
        ngx_http_oxmigrate_admin_job_free(job);
        return NULL;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, job->id);

    return g;
}


/* INSERT a planned job and answer 202; it starts once the answer is out */

static void
ngx_http_oxmigrate_admin_job_launch(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job)
{
    yajl_gen  g;

    job->id = ngx_http_oxmigrate_admin_job_insert(op, m, job);
    if (job->id == 0) {
        ngx_http_oxmigrate_admin_job_free(job);
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    g = ngx_http_oxmigrate_admin_job_accepted(op, job);
    if (g == NULL) {
        return;
    }

    if (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) {
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, job->server_id);
    }

    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    ngx_http_oxmigrate_admin_json_int(g, job->schemas.nelts);
    yajl_gen_map_close(g);

    op->job = job;
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
 * order, that still has contexts on other servers than the target (a
 * schema fully on the target was upgraded before: "continue" goes on from
 * there), after resume_after (-m), without skip (-k).  Both name known
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

    if (ngx_array_init(plan, op->pool, all->nelts + 1,
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


/* dry_run: the plan with each schema's pending tasks; changes nothing */

static void
ngx_http_oxmigrate_admin_upgrade_dry(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, ngx_array_t *plan_a,
    char *server, int64_t sid)
{
    char                              *pname, err[256];
    MYSQL                             *sm;
    double                             ms_ctx, total;
    int64_t                            from;
    yajl_gen                           g;
    MYSQL_ROW                          row;
    MYSQL_RES                         *res;
    uint64_t                           pool_id;
    ngx_uint_t                         i, j;
    ngx_http_oxmigrate_task_t         *t;
    ngx_http_oxmigrate_dbhost_t        h;
    ngx_http_oxmigrate_job_schema_t   *js;
    ngx_http_oxmigrate_schema_ref_t   *ps;
    ngx_http_oxmigrate_schema_state_t  st;

    /*
     * The estimate: milliseconds per context measured by the latest
     * upgrade job that finished schemas (each one's last run, weighted by
     * its contexts); none measured yet: null.
     */

    ms_ctx = -1;
    from = 0;

    res = ngx_http_oxmigrate_admin_select(m, op->pool,
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
            from = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
            ms_ctx = strtod(row[1], NULL);
        }

        mysql_free_result(res);
    }

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
                  op->alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
                  ? "disableschema (old), runupdate (new), "
                    "changeserver (old), enableschema (old)"
                  : "disable, update, changeserver, enable");
    ngx_http_oxmigrate_admin_json_str(g, "ox_caches");
    ngx_http_oxmigrate_admin_json_str(g,
                  ngx_http_oxmigrate_admin_steps(op->alcf)->ox_caches);
    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    js = job->schemas.elts;
    ps = plan_a->elts;
    sm = NULL;
    pool_id = (uint64_t) -1;

    for (i = 0; i < job->schemas.nelts; i++) {
        if (js[i].pool_id != pool_id) {
            if (sm) {
                mysql_close(sm);
                sm = NULL;
            }

            pool_id = js[i].pool_id;

            if (ngx_http_oxmigrate_admin_pool_host(op->pool, m, pool_id,
                                                   &h, &pname)
                == NGX_OK)
            {
                sm = ngx_http_oxmigrate_admin_connect(&h, NULL, 0, err,
                                                      sizeof(err));
            }
        }

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

        ngx_http_oxmigrate_admin_json_str(g, "pending");

        if (sm == NULL
            || ngx_http_oxmigrate_admin_schema_state(op->alcf, sm,
                                       op->pool, js[i].name, &st)
               != NGX_OK)
        {
            yajl_gen_null(g);

        } else {
            yajl_gen_array_open(g);

            t = op->alcf->tasks ? op->alcf->tasks->elts : NULL;
            for (j = 0; t && j < op->alcf->tasks->nelts; j++) {
                if (ngx_http_oxmigrate_admin_executed(&st, &t[j].name)
                    == NULL
                    && ngx_http_oxmigrate_admin_excluded(op->alcf, &t[j],
                                                         op->pool)
                       == NULL)
                {
                    ngx_http_oxmigrate_admin_json_strn(g, t[j].name.data,
                                                       t[j].name.len);
                }
            }

            yajl_gen_array_close(g);
        }

        yajl_gen_map_close(g);
    }

    if (sm) {
        mysql_close(sm);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    ngx_http_oxmigrate_admin_job_free(job);
    return;
}


static void
ngx_http_oxmigrate_admin_upgrade_locked(ngx_http_oxmigrate_admin_op_t *op)
{
    char                       *server, *window, *health;
    MYSQL                      *m;
    int64_t                     sid;
    ngx_int_t                   ws, we;
    yajl_val                    v;
    uint64_t                    id;
    ngx_uint_t                  dry, force, cont, parallel;
    ngx_array_t                *all, plan;
    ngx_http_oxmigrate_job_t   *job;
    ngx_http_oxmigrate_step_t   rs;

    server = ngx_http_oxmigrate_admin_body_str(op, "server");
    if (server == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "missing_field",
                                       "field \"server\" is required");
        return;
    }

    if (op->alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
        && !ngx_http_oxmigrate_admin_ox_safe((u_char *) server,
                                             ngx_strlen(server)))
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                       "invalid_argument", "a server name consists of "
                       "letters, digits and _.-:@%%+=,/ (not starting "
                       "with \"-\")");
        return;
    }

    cont = ngx_http_oxmigrate_admin_body_flag(op, "continue", 0);
    force = ngx_http_oxmigrate_admin_body_flag(op, "force", 0);
    dry = ngx_http_oxmigrate_admin_body_flag(op, "dry_run", 0);

    health = ngx_http_oxmigrate_admin_body_str(op, "health_url");
    if (health && ngx_strncmp(health, "http://", 7) != 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"health_url\" must be an "
                                       "http:// URL");
        return;
    }

    window = ngx_http_oxmigrate_admin_body_str(op, "window");
    if (window
        && ngx_http_oxmigrate_admin_job_window(window, &ws, &we) != NGX_OK)
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"window\" must be "
                                       "\"HH:MM-HH:MM\"");
        return;
    }

    v = ngx_http_oxmigrate_admin_body_get(op, "parallel");
    parallel = v ? (ngx_uint_t) YAJL_GET_INTEGER(v) : 1;
    if (parallel == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"parallel\" must be 1 to 64");
        return;
    }

    if (dry) {
        /* a plan changes nothing, so there is nothing to audit */
        op->no_audit = 1;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    sid = ngx_http_oxmigrate_admin_server_id(m, op->pool, server);
    if (sid < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    if (sid > 0 && !cont) {
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
        ngx_http_oxmigrate_admin_step_init(&rs, op->alcf, op->pool, op->log,
                                           m, NULL);

        id = rs.steps->registerserver(&rs, server);
        if (id == 0) {
            ngx_http_oxmigrate_admin_job_free(job);
            if (rs.status == NGX_HTTP_CONFLICT) {
                rs.status = NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            ngx_http_oxmigrate_admin_step_error(op, &rs, rs.status);
            return;
        }

        sid = id;
    }

    job->server_id = sid;
    job->force = force;
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
    ngx_int_t                         ws, we;
    ngx_uint_t                        i, limit;
    ngx_array_t                      *all, plan;
    ngx_http_oxmigrate_job_t         *job;
    ngx_http_oxmigrate_schema_ref_t  *s, *ps;

    m = op->db;

    window = ngx_http_oxmigrate_admin_body_str(op, "window");
    if (window
        && ngx_http_oxmigrate_admin_job_window(window, &ws, &we) != NGX_OK)
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"window\" must be "
                                       "\"HH:MM-HH:MM\"");
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

    if (ngx_array_init(&plan, op->pool, all->nelts + 1,
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




