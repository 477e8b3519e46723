
/*
 * oxmigrate admin API: an existing job: GET /jobs and GET /jobs/{id} (as
 * configdb has it, to any worker of any balancer) and POST
 * /jobs/{id}/resume.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin_job.h"


/* GET /jobs, GET /jobs/{id} */

#define NGX_HTTP_OXMIGRATE_JOB_COLUMNS                                        \
    "SELECT j.id, j.kind, j.state, j.heartbeat, j.started, j.finished,"      \
    " j.server_id, j.user, j.owner,"                                          \
    " (SELECT COUNT(*) FROM oxmigrate_job_schema s WHERE s.job_id = j.id),"   \
    " (SELECT COUNT(*) FROM oxmigrate_job_schema s WHERE s.job_id = j.id"     \
    "  AND s.state IN ('done', 'failed')),"                                   \
    " (SELECT GROUP_CONCAT(s.name ORDER BY s.seq SEPARATOR ', ')"             \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state = 'running'),"                                             \
    " (SELECT COUNT(*) FROM oxmigrate_job_schema s WHERE s.job_id = j.id"     \
    "  AND s.state = 'failed'), j.ox_caches,"                                 \
    " j.control, j.parallel, j.pause_after, j.time_window, j.max_downtime,"  \
    " j.reason,"                                                              \
    " (SELECT SUM(COALESCE(NULLIF(s.contexts, 0), 1))"                        \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state = 'done' AND s.ended_at >= s.started_at),"                 \
    " (SELECT SUM(s.ended_at - s.started_at)"                                 \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state = 'done' AND s.ended_at >= s.started_at),"                 \
    " (SELECT SUM(COALESCE(NULLIF(s.contexts, 0), 1))"                        \
    "  FROM oxmigrate_job_schema s WHERE s.job_id = j.id"                     \
    "  AND s.state IN ('pending', 'running')),"                               \
    " (SELECT COUNT(DISTINCT s.host) FROM oxmigrate_job_schema s"             \
    "  WHERE s.job_id = j.id AND s.state IN ('pending', 'running')),"         \
    " COALESCE(j.parallel, JSON_VALUE(j.options, '$.parallel'), 1)"           \
    " FROM oxmigrate_job j"


static const char *
ngx_http_oxmigrate_admin_job_state(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL_ROW row)
{
    return ngx_http_oxmigrate_admin_job_shown(row[2],
               ngx_http_oxmigrate_admin_job_col(row[3], 0)
               < ngx_http_oxmigrate_admin_job_stale(op->conn.alcf));
}


/*
 * rate: contexts per second over the schemas done so far (each schema's
 * last run, start to end, weighted by its contexts); eta_seconds: the
 * contexts left at that rate, as many at once as parallel and their
 * database hosts allow.  null: nothing measured yet, or the job is over.
 */

static void
ngx_http_oxmigrate_admin_job_json_eta(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, MYSQL_ROW row)
{
    off_t   done_ctx, done_ms, left_ctx, hosts, par;
    double  rate;

    done_ctx = ngx_http_oxmigrate_admin_job_col(row[20], 0);
    done_ms = ngx_http_oxmigrate_admin_job_col(row[21], 0);
    left_ctx = ngx_http_oxmigrate_admin_job_col(row[22], 0);
    hosts = ngx_http_oxmigrate_admin_job_col(row[23], 0);
    par = ngx_http_oxmigrate_admin_job_col(row[24], 1);

    ngx_http_oxmigrate_admin_json_str(g, "rate");
    if (done_ctx > 0 && done_ms > 0) {
        rate = (double) done_ctx * 1000.0 / (double) done_ms;
        yajl_gen_double(g, rate);

    } else {
        rate = 0;
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "eta_seconds");
    if (rate > 0
        && ngx_http_oxmigrate_admin_job_unfinished(
               ngx_http_oxmigrate_admin_job_state(op, row)))
    {
        if (par < 1) {
            par = 1;
        }

        if (hosts > 0 && hosts < par) {
            par = hosts;
        }

        ngx_http_oxmigrate_admin_json_int(g,
                        (int64_t) ((double) left_ctx / rate / par + 0.5));

    } else {
        yajl_gen_null(g);
    }
}


/* "key": a JSON array column; else [] (empty) or null */

static void
ngx_http_oxmigrate_admin_job_json_array(yajl_gen g, const char *key,
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


/* GET /jobs/{id}: its schemas, in their order */

static void
ngx_http_oxmigrate_admin_job_json_schemas(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, const char *id)
{
    int64_t        dis, ena;
    MYSQL_ROW      sr;
    MYSQL_RES     *res;
    redisContext  *hc;

    res = ngx_http_oxmigrate_admin_select(op->conn.db, op->conn.pool,
              "SELECT name, state, failed_tasks, disabled_at,"
              " enabled_at, message, checks FROM oxmigrate_job_schema"
              " WHERE job_id = %R ORDER BY seq", id);

    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    hc = res ? ngx_http_oxmigrate_admin_hold_open(op) : NULL;

    while (res && (sr = mysql_fetch_row(res))) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_job_json_str(g, "name", sr[0]);
        ngx_http_oxmigrate_admin_job_json_str(g, "state", sr[1]);
        ngx_http_oxmigrate_admin_job_json_array(g, "failed_tasks", sr[2], 1);

        dis = ngx_http_oxmigrate_admin_job_col(sr[3], 0);
        ena = ngx_http_oxmigrate_admin_job_col(sr[4], 0);

        ngx_http_oxmigrate_admin_json_str(g, "downtime_ms");
        if (dis > 0 && ena >= dis) {
            ngx_http_oxmigrate_admin_json_int(g, ena - dis);
        } else {
            yajl_gen_null(g);
        }

        ngx_http_oxmigrate_admin_job_json_str(g, "message",
                                              (sr[5] && sr[5][0]) ? sr[5]
                                                                  : NULL);

        /* the checks before its enable, when the job asked for any */
        ngx_http_oxmigrate_admin_job_json_array(g, "checks", sr[6], 0);

        /* oxmigrate_hold on the balancers: held, still answered CTX-0007 */
        ngx_http_oxmigrate_admin_hold_json(op, hc, g, sr[0]);
        yajl_gen_map_close(g);
    }

    ngx_http_oxmigrate_admin_hold_close(hc);
    yajl_gen_array_close(g);

    if (res) {
        mysql_free_result(res);
    }
}


static void
ngx_http_oxmigrate_admin_job_json(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL_ROW row, ngx_uint_t full)
{
    ngx_int_t  ws, we;
    yajl_gen   g;

    g = op->gen;

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_job_json_int(g, "id", row[0]);
    ngx_http_oxmigrate_admin_job_json_str(g, "kind", row[1]);
    ngx_http_oxmigrate_admin_job_json_str(g, "state",
                                 ngx_http_oxmigrate_admin_job_state(op, row));
    ngx_http_oxmigrate_admin_job_json_int(g, "total", row[9]);
    ngx_http_oxmigrate_admin_job_json_int(g, "processed", row[10]);
    ngx_http_oxmigrate_admin_job_json_int(g, "failed", row[12]);
    ngx_http_oxmigrate_admin_job_json_str(g, "current", row[11]);
    ngx_http_oxmigrate_admin_job_json_int(g, "started", row[4]);
    ngx_http_oxmigrate_admin_job_json_int(g, "finished", row[5]);
    ngx_http_oxmigrate_admin_job_json_int(g, "heartbeat", row[3]);
    ngx_http_oxmigrate_admin_job_json_int(g, "server_id", row[6]);
    ngx_http_oxmigrate_admin_job_json_str(g, "user", row[7]);
    ngx_http_oxmigrate_admin_job_json_str(g, "owner", row[8]);
    ngx_http_oxmigrate_admin_job_json_str(g, "ox_caches", row[13]);

    /* steering: a pause or cancel asked, PATCHed parallel, the canary */
    ngx_http_oxmigrate_admin_job_json_str(g, "control", row[14]);
    ngx_http_oxmigrate_admin_job_json_int(g, "parallel", row[15]);
    ngx_http_oxmigrate_admin_job_json_int(g, "pause_after", row[16]);
    ngx_http_oxmigrate_admin_job_json_str(g, "window", row[17]);

    /* whether schemas may start now (this location's clock and zone) */
    ngx_http_oxmigrate_admin_json_str(g, "window_open");
    if (row[17]
        && ngx_http_oxmigrate_admin_job_window(row[17], &ws, &we) == NGX_OK)
    {
        ngx_http_oxmigrate_admin_json_bool(g,
                           ngx_http_oxmigrate_admin_job_inside(ws, we,
                               ngx_http_oxmigrate_admin_job_minute(op->conn.alcf)));
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_job_json_int(g, "max_downtime", row[18]);
    ngx_http_oxmigrate_admin_job_json_str(g, "reason", row[19]);

    ngx_http_oxmigrate_admin_job_json_eta(op, g, row);

    if (full) {
        ngx_http_oxmigrate_admin_job_json_schemas(op, g, row[0]);
    }

    yajl_gen_map_close(g);
}


void
ngx_http_oxmigrate_admin_jobs_list(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen    g;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_op_select(op,
              NGX_HTTP_OXMIGRATE_JOB_COLUMNS " ORDER BY j.id DESC LIMIT %U",
              (uint64_t) op->args.rows);
    if (res == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply_list(op, res, "jobs");
    if (g == NULL) {
        return;
    }

    while ((row = mysql_fetch_row(res))) {
        ngx_http_oxmigrate_admin_job_json(op, row, 0);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    mysql_free_result(res);
}


void
ngx_http_oxmigrate_admin_job_get(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_int_t   id;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    id = ngx_http_oxmigrate_admin_job_id(op);
    if (id == NGX_ERROR) {
        return;
    }

    res = ngx_http_oxmigrate_admin_op_select(op,
              NGX_HTTP_OXMIGRATE_JOB_COLUMNS " WHERE j.id = %U",
              (uint64_t) id);
    row = ngx_http_oxmigrate_admin_job_fetch(op, res, id);
    if (row == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK)) {
        ngx_http_oxmigrate_admin_job_json(op, row, 1);
    }

    mysql_free_result(res);
}


/* POST /jobs/{id}/resume */

static void ngx_http_oxmigrate_admin_job_resume_locked(
    ngx_http_oxmigrate_admin_op_t *op);


void
ngx_http_oxmigrate_admin_job_resume(ngx_http_oxmigrate_admin_op_t *op)
{
    /* a resumed job starts again: the same one-job-at-a-time guard */
    ngx_http_oxmigrate_admin_job_locked(op,
                                   ngx_http_oxmigrate_admin_job_resume_locked);
}


static void
ngx_http_oxmigrate_admin_job_resume_locked(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_job_takeover(op, 0);
}


/*
 * The claim of a dead job: only one worker anywhere takes it over (also
 * one of an older configuration, whose resume did not take the start
 * lock).  1: claimed; 0: it was taken over meanwhile (it runs); -1:
 * answered (409 another job runs, 500).
 */

static int64_t
ngx_http_oxmigrate_admin_job_claim_dead(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t id, ngx_uint_t cont, int64_t stale, uint64_t claim)
{
    char     *owner;
    int64_t   rc;

    if (ngx_http_oxmigrate_admin_job_none_running(op, op->conn.db, (uint64_t) id)
        != NGX_OK)
    {
        return -1;
    }

    owner = ngx_http_oxmigrate_admin_owner(op->conn.pool);

    rc = ngx_http_oxmigrate_admin_exec(op->conn.db, op->conn.pool,
             "UPDATE oxmigrate_job SET state = 'running', heartbeat = %D,"
             " owner = %s, claim = %U, finished = NULL,"
             " control = IF(%U AND control = 'pause', NULL, control),"
             " reason = IF(%U, NULL, reason)"
             " WHERE id = %U AND (" NGX_HTTP_OXMIGRATE_JOB_DEAD
             " OR (%U AND state = 'paused'))",
             ngx_http_oxmigrate_admin_now_ms(), owner ? owner : "?", claim,
             (uint64_t) cont, (uint64_t) cont, (uint64_t) id, stale,
             (uint64_t) cont);
    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, op->conn.db);
    }

    return rc;
}


/* what a job's row says of it: the request's options, PATCHed values */

static void
ngx_http_oxmigrate_admin_job_restore(ngx_http_oxmigrate_job_t *job,
    MYSQL_ROW row)
{
    off_t        pparallel;
    yajl_val     opts, v;
    const char  *pforce[] = { "force", NULL };
    const char  *pstop[] = { "stop_on_error", NULL };
    const char  *ppar[] = { "parallel", NULL };

    job->server_id = ngx_http_oxmigrate_admin_job_col(row[3], 0);
    pparallel = ngx_http_oxmigrate_admin_job_col(row[5], 0);
    job->pause_after = ngx_http_oxmigrate_admin_job_col(row[6], 0);
    ngx_http_oxmigrate_admin_job_set_window(job, row[7]);

    opts = row[2] ? yajl_tree_parse(row[2], NULL, 0) : NULL;

    if (opts && YAJL_IS_OBJECT(opts)) {
        if (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) {
            ngx_http_oxmigrate_admin_job_check_opts(job, opts);

            v = yajl_tree_get(opts, pforce, yajl_t_true);
            job->force = (v != NULL);

            v = yajl_tree_get(opts, ppar, yajl_t_number);
            if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0) {
                job->parallel = YAJL_GET_INTEGER(v);
            }

        } else {
            v = yajl_tree_get(opts, pstop, yajl_t_false);
            job->force = (v != NULL);
        }
    }

    if (opts) {
        yajl_tree_free(opts);
    }

    /* PATCH /jobs/{id} overrides the request's parallel */
    if (pparallel > 0) {
        job->parallel = pparallel;
    }
}


/*
 * The job's schemas as configdb has them (thread); those that were
 * running when the worker died run again.  NGX_ERROR: see mysql_error().
 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_load(ngx_http_oxmigrate_job_t *job, MYSQL *m,
    ngx_pool_t *pool, ngx_uint_t *remaining)
{
    MYSQL_ROW                         row;
    MYSQL_RES                        *res;
    unsigned long                    *lens;
    ngx_http_oxmigrate_job_schema_t  *js;

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "UPDATE oxmigrate_job_schema SET state = 'pending'"
            " WHERE job_id = %U AND state = 'running'", job->id)
        < 0)
    {
        return NGX_ERROR;
    }

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT seq, name, db_pool_id, host, state"
              " FROM oxmigrate_job_schema WHERE job_id = %U ORDER BY seq",
              job->id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    *remaining = 0;

    while ((row = mysql_fetch_row(res))) {
        lens = mysql_fetch_lengths(res);

        js = ngx_array_push(&job->schemas);
        if (js == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        js->seq = ngx_atoi((u_char *) row[0], lens[0]);
        js->name = ngx_http_oxmigrate_admin_strndup(job->pool, row[1],
                                                    lens[1]);
        js->host = ngx_http_oxmigrate_admin_strndup(job->pool, row[3],
                                                    lens[3]);
        if (js->name == NULL || js->host == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        js->pool_id = ngx_atoof((u_char *) row[2], lens[2]);

        if (ngx_strcmp(row[4], "done") == 0) {
            js->state = NGX_HTTP_OXMIGRATE_S_DONE;

        } else if (ngx_strcmp(row[4], "failed") == 0) {
            js->state = NGX_HTTP_OXMIGRATE_S_FAILED;
            job->failed = 1;

        } else if (ngx_strcmp(row[4], "cancelled") == 0) {
            js->state = NGX_HTTP_OXMIGRATE_S_CANCELLED;

        } else {
            js->state = NGX_HTTP_OXMIGRATE_S_PENDING;
            (*remaining)++;
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}


/*
 * A new driver for an interrupted job (resume: a pause or cancel asked of
 * the dead driver still holds) or a paused or interrupted one (cont:
 * POST /jobs/{id}/continue, which also clears a pause).
 */

void
ngx_http_oxmigrate_admin_job_takeover(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t cont)
{
    int64_t                    stale, rc;
    uint64_t                   claim;
    yajl_gen                   g;
    ngx_int_t                  id;
    MYSQL_ROW                  row;
    MYSQL_RES                 *res;
    ngx_uint_t                 kind, remaining, resumable;
    ngx_http_oxmigrate_job_t  *job;

    id = ngx_http_oxmigrate_admin_job_id(op);
    if (id == NGX_ERROR) {
        return;
    }

    stale = ngx_http_oxmigrate_admin_job_stale(op->conn.alcf);

    /*
     * An unknown job and one that cannot be resumed are answered as such
     * before another running job is: they would not start either way.
     */

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT kind, state, options, server_id, "
              NGX_HTTP_OXMIGRATE_JOB_DEAD " OR (%U AND state = 'paused'),"
              " parallel, pause_after, time_window"
              " FROM oxmigrate_job WHERE id = %U", stale, (uint64_t) cont,
              (uint64_t) id);
    row = ngx_http_oxmigrate_admin_job_fetch(op, res, id);
    if (row == NULL) {
        return;
    }

    resumable = (row[4] && row[4][0] == '1');

    rc = 0;
    claim = ngx_http_oxmigrate_admin_job_claim();

    if (resumable) {
        rc = ngx_http_oxmigrate_admin_job_claim_dead(op, id, cont, stale,
                                                     claim);
        if (rc < 0) {
            mysql_free_result(res);
            return;
        }
    }

    if (rc == 0) {
        /* a resumable job that the UPDATE missed was taken over: it runs */
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                   "job_not_resumable",
                   "job %i is %s; only an interrupted%s job can be %s",
                   id, (resumable || ngx_strcmp(row[1], "running") == 0)
                       ? "still running" : row[1],
                   cont ? " or a paused" : "",
                   cont ? "continued" : ngx_strcmp(row[1], "paused") == 0
                          ? "resumed (a paused one: POST"
                            " /jobs/{id}/continue)" : "resumed");
        mysql_free_result(res);
        return;
    }

    kind = (ngx_strcmp(row[0], "upgrade") == 0)
           ? NGX_HTTP_OXMIGRATE_JOB_UPGRADE : NGX_HTTP_OXMIGRATE_JOB_UPDATES;

    job = ngx_http_oxmigrate_admin_job_new(op, kind, id);
    if (job == NULL) {
        mysql_free_result(res);
        return;
    }

    job->claim = claim;
    ngx_http_oxmigrate_admin_job_restore(job, row);
    mysql_free_result(res);

    if (ngx_http_oxmigrate_admin_job_load(job, op->conn.db, op->conn.pool, &remaining)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_job_free(job);
        ngx_http_oxmigrate_admin_db_error(op, op->conn.db);
        return;
    }

    g = ngx_http_oxmigrate_admin_job_accepted(op, job);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, cont ? "continued" : "resumed");
    ngx_http_oxmigrate_admin_json_bool(g, 1);
    ngx_http_oxmigrate_admin_json_str(g, "remaining");
    ngx_http_oxmigrate_admin_json_int(g, remaining);
    yajl_gen_map_close(g);

    op->job = job;
}
