
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
    int64_t  beat;

    if (ngx_strcmp(row[2], "running") == 0) {
        beat = ngx_atoof((u_char *) row[3], ngx_strlen(row[3]));

        if (ngx_http_oxmigrate_admin_now_ms() - beat
            > (int64_t) op->alcf->lock_idle)
        {
            return "interrupted";
        }
    }

    return row[2];
}


static void
ngx_http_oxmigrate_admin_job_json(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL_ROW row, unsigned long *lens, ngx_uint_t full)
{
    off_t        done_ctx, done_ms, left_ctx, hosts, par;
    ngx_int_t    ws, we, mn;
    double       rate;
    const char  *st;
    int64_t     dis, ena;
    yajl_gen    g;
    yajl_val    v;
    MYSQL_ROW   sr;
    MYSQL_RES  *res;

    g = op->gen;

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "id");
    ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[0],
                                                  lens[0]));
    ngx_http_oxmigrate_admin_json_str(g, "kind");
    ngx_http_oxmigrate_admin_json_str(g, row[1]);
    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g,
                                ngx_http_oxmigrate_admin_job_state(op, row));
    ngx_http_oxmigrate_admin_json_str(g, "total");
    ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[9],
                                                  lens[9]));
    ngx_http_oxmigrate_admin_json_str(g, "processed");
    ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[10],
                                                  lens[10]));
    ngx_http_oxmigrate_admin_json_str(g, "failed");
    ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[12],
                                                  lens[12]));
    ngx_http_oxmigrate_admin_json_str(g, "current");
    ngx_http_oxmigrate_admin_json_str(g, row[11]);
    ngx_http_oxmigrate_admin_json_str(g, "started");
    ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[4],
                                                  lens[4]));
    ngx_http_oxmigrate_admin_json_str(g, "finished");
    if (row[5]) {
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[5],
                                                      lens[5]));
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "heartbeat");
    ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[3],
                                                  lens[3]));
    ngx_http_oxmigrate_admin_json_str(g, "server_id");
    if (row[6]) {
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[6],
                                                      lens[6]));
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "user");
    ngx_http_oxmigrate_admin_json_str(g, row[7]);
    ngx_http_oxmigrate_admin_json_str(g, "owner");
    ngx_http_oxmigrate_admin_json_str(g, row[8]);
    ngx_http_oxmigrate_admin_json_str(g, "ox_caches");
    ngx_http_oxmigrate_admin_json_str(g, row[13]);

    /* steering: a pause or cancel asked, PATCHed parallel, the canary */
    ngx_http_oxmigrate_admin_json_str(g, "control");
    ngx_http_oxmigrate_admin_json_str(g, row[14]);
    ngx_http_oxmigrate_admin_json_str(g, "parallel");
    if (row[15]) {
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[15],
                                                      lens[15]));
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "pause_after");
    if (row[16]) {
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[16],
                                                      lens[16]));
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "window");
    ngx_http_oxmigrate_admin_json_str(g, row[17]);

    /* whether schemas may start now (this location's clock and zone) */
    ngx_http_oxmigrate_admin_json_str(g, "window_open");
    if (row[17]
        && ngx_http_oxmigrate_admin_job_window(row[17], &ws, &we) == NGX_OK)
    {
        mn = ngx_http_oxmigrate_admin_job_minute(op->alcf);
        ngx_http_oxmigrate_admin_json_bool(g, (ws < we)
                                              ? (mn >= ws && mn < we)
                                              : (mn >= ws || mn < we));
    } else {
        yajl_gen_null(g);
    }
    ngx_http_oxmigrate_admin_json_str(g, "max_downtime");
    if (row[18]) {
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[18],
                                                      lens[18]));
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "reason");
    ngx_http_oxmigrate_admin_json_str(g, row[19]);

    /*
     * rate: contexts per second over the schemas done so far (each
     * schema's last run, start to end, weighted by its contexts);
     * eta_seconds: the contexts left at that rate, as many at once as
     * parallel and their database hosts allow.  null: nothing measured
     * yet, or the job is over.
     */

    done_ctx = row[20] ? ngx_atoof((u_char *) row[20], lens[20]) : 0;
    done_ms = row[21] ? ngx_atoof((u_char *) row[21], lens[21]) : 0;
    left_ctx = row[22] ? ngx_atoof((u_char *) row[22], lens[22]) : 0;
    hosts = row[23] ? ngx_atoof((u_char *) row[23], lens[23]) : 0;
    par = row[24] ? ngx_atoof((u_char *) row[24], lens[24]) : 1;
    st = ngx_http_oxmigrate_admin_job_state(op, row);

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
        && (ngx_strcmp(st, "running") == 0 || ngx_strcmp(st, "paused") == 0
            || ngx_strcmp(st, "interrupted") == 0))
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

    if (full) {
        res = ngx_http_oxmigrate_admin_select(op->db, op->pool,
                  "SELECT name, state, failed_tasks, disabled_at,"
                  " enabled_at, message, checks FROM oxmigrate_job_schema"
                  " WHERE job_id = %R ORDER BY seq", row[0]);

        ngx_http_oxmigrate_admin_json_str(g, "schemas");
        yajl_gen_array_open(g);

        while (res && (sr = mysql_fetch_row(res))) {
            yajl_gen_map_open(g);
            ngx_http_oxmigrate_admin_json_str(g, "name");
            ngx_http_oxmigrate_admin_json_str(g, sr[0]);
            ngx_http_oxmigrate_admin_json_str(g, "state");
            ngx_http_oxmigrate_admin_json_str(g, sr[1]);

            ngx_http_oxmigrate_admin_json_str(g, "failed_tasks");
            v = sr[2] ? yajl_tree_parse(sr[2], NULL, 0) : NULL;
            if (v && YAJL_IS_ARRAY(v)) {
                ngx_http_oxmigrate_admin_json_tree(g, v, "");
            } else {
                yajl_gen_array_open(g);
                yajl_gen_array_close(g);
            }

            if (v) {
                yajl_tree_free(v);
            }

            dis = sr[3] ? ngx_atoof((u_char *) sr[3], ngx_strlen(sr[3])) : 0;
            ena = sr[4] ? ngx_atoof((u_char *) sr[4], ngx_strlen(sr[4])) : 0;

            ngx_http_oxmigrate_admin_json_str(g, "downtime_ms");
            if (dis > 0 && ena >= dis) {
                ngx_http_oxmigrate_admin_json_int(g, ena - dis);
            } else {
                yajl_gen_null(g);
            }

            ngx_http_oxmigrate_admin_json_str(g, "message");
            ngx_http_oxmigrate_admin_json_str(g, (sr[5] && sr[5][0])
                                                 ? sr[5] : NULL);

            /* the checks before its enable, when the job asked for any */
            ngx_http_oxmigrate_admin_json_str(g, "checks");
            v = sr[6] ? yajl_tree_parse(sr[6], NULL, 0) : NULL;
            if (v && YAJL_IS_ARRAY(v)) {
                ngx_http_oxmigrate_admin_json_tree(g, v, "");
            } else {
                yajl_gen_null(g);
            }

            if (v) {
                yajl_tree_free(v);
            }
            yajl_gen_map_close(g);
        }

        yajl_gen_array_close(g);

        if (res) {
            mysql_free_result(res);
        }
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
              (uint64_t) op->q_limit);
    if (res == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply_list(op, res, "jobs");
    if (g == NULL) {
        return;
    }

    while ((row = mysql_fetch_row(res))) {
        ngx_http_oxmigrate_admin_job_json(op, row, mysql_fetch_lengths(res),
                                          0);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    mysql_free_result(res);
}


/* the {id} of jobs/{id}; NGX_ERROR: not a number, answered 404 */

ngx_int_t
ngx_http_oxmigrate_admin_job_id(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_int_t  id;

    id = ngx_atoi((u_char *) op->arg[0], ngx_strlen(op->arg[0]));
    if (id == NGX_ERROR) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_job",
                                       "job '%s' not found", op->arg[0]);
    }

    return id;
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
    if (res == NULL) {
        return;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_job",
                                       "job %i not found", id);
        return;
    }

    if (ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK)) {
        ngx_http_oxmigrate_admin_job_json(op, row, mysql_fetch_lengths(res),
                                          1);
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
 * A new driver for an interrupted job (resume: a pause or cancel asked of
 * the dead driver still holds) or a paused or interrupted one (cont:
 * POST /jobs/{id}/continue, which also clears a pause).
 */

void
ngx_http_oxmigrate_admin_job_takeover(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t cont)
{
    char                             *owner;
    MYSQL                            *m;
    int64_t                           now, stale, rc;
    off_t                             pparallel;
    uint64_t                          claim;
    yajl_gen                          g;
    yajl_val                          opts, v;
    ngx_int_t                         id;
    MYSQL_ROW                         row;
    MYSQL_RES                        *res;
    ngx_uint_t                        kind, remaining, resumable;
    unsigned long                    *lens;
    ngx_http_oxmigrate_job_t         *job;
    ngx_http_oxmigrate_job_schema_t  *js;

    id = ngx_http_oxmigrate_admin_job_id(op);
    if (id == NGX_ERROR) {
        return;
    }

    m = op->db;

    now = ngx_http_oxmigrate_admin_now_ms();
    stale = now - (int64_t) op->alcf->lock_idle;

    /*
     * An unknown job and one that cannot be resumed are answered as such
     * before another running job is: they would not start either way.
     */

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT kind, state, options, server_id,"
              " state = 'interrupted' OR (%U AND state = 'paused')"
              " OR (state = 'running' AND heartbeat < %D),"
              " parallel, pause_after, time_window"
              " FROM oxmigrate_job WHERE id = %U", (uint64_t) cont, stale,
              (uint64_t) id);
    if (res == NULL) {
        return;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_job",
                                       "job %i not found", id);
        return;
    }

    resumable = (row[4] && row[4][0] == '1');

    rc = 0;
    claim = ngx_http_oxmigrate_admin_job_claim();

    if (resumable) {
        if (ngx_http_oxmigrate_admin_job_none_running(op, m, (uint64_t) id)
            != NGX_OK)
        {
            mysql_free_result(res);
            return;
        }

        /*
         * The claim: only one worker anywhere takes a dead job over (also
         * one of an older configuration, whose resume did not take the
         * start lock).
         */

        owner = ngx_http_oxmigrate_admin_owner(op->pool);

        rc = ngx_http_oxmigrate_admin_exec(m, op->pool,
                 "UPDATE oxmigrate_job SET state = 'running', heartbeat = %D,"
                 " owner = %s, claim = %U, finished = NULL,"
                 " control = IF(%U AND control = 'pause', NULL, control),"
                 " reason = IF(%U, NULL, reason)"
                 " WHERE id = %U"
                 " AND ((state = 'running' AND heartbeat < %D)"
                 " OR state = 'interrupted' OR (%U AND state = 'paused'))",
                 now, owner ? owner : "?", claim, (uint64_t) cont,
                 (uint64_t) cont, (uint64_t) id, stale, (uint64_t) cont);
        if (rc < 0) {
            mysql_free_result(res);
            ngx_http_oxmigrate_admin_db_error(op, m);
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

    lens = mysql_fetch_lengths(res);
    job->server_id = row[3] ? ngx_atoof((u_char *) row[3], lens[3]) : 0;

    opts = row[2] ? yajl_tree_parse(row[2], NULL, 0) : NULL;
    pparallel = row[5] ? ngx_atoof((u_char *) row[5], lens[5]) : 0;
    job->pause_after = row[6] ? ngx_atoof((u_char *) row[6], lens[6]) : 0;

    if (row[7]
        && ngx_http_oxmigrate_admin_job_window(row[7], &job->win_start,
                                               &job->win_end)
           == NGX_OK)
    {
        job->minute = ngx_http_oxmigrate_admin_job_minute(op->alcf);

    } else {
        job->win_start = -1;
        job->win_end = -1;
    }
    mysql_free_result(res);

    if (opts && YAJL_IS_OBJECT(opts)) {
        const char  *pforce[] = { "force", NULL };
        const char  *pstop[] = { "stop_on_error", NULL };
        const char  *ppar[] = { "parallel", NULL };

        if (kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) {
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

    /* schemas that were running when the worker died run again */

    if (ngx_http_oxmigrate_admin_exec(m, op->pool,
            "UPDATE oxmigrate_job_schema SET state = 'pending'"
            " WHERE job_id = %U AND state = 'running'", (uint64_t) id)
        < 0)
    {
        goto failed;
    }

    res = ngx_http_oxmigrate_admin_select(m, op->pool,
              "SELECT seq, name, db_pool_id, host, state"
              " FROM oxmigrate_job_schema WHERE job_id = %U ORDER BY seq",
              (uint64_t) id);
    if (res == NULL) {
        goto failed;
    }

    remaining = 0;

    while ((row = mysql_fetch_row(res))) {
        lens = mysql_fetch_lengths(res);

        js = ngx_array_push(&job->schemas);
        if (js == NULL) {
            mysql_free_result(res);
            goto failed;
        }

        js->seq = ngx_atoi((u_char *) row[0], lens[0]);
        js->name = ngx_http_oxmigrate_admin_strndup(job->pool, row[1],
                                                    lens[1]);
        js->host = ngx_http_oxmigrate_admin_strndup(job->pool, row[3],
                                                    lens[3]);
        if (js->name == NULL || js->host == NULL) {
            mysql_free_result(res);
            goto failed;
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
            remaining++;
        }
    }

    mysql_free_result(res);

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_ACCEPTED);
    if (g == NULL) {
        ngx_http_oxmigrate_admin_job_free(job);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, id);
    ngx_http_oxmigrate_admin_json_str(g, cont ? "continued" : "resumed");
    ngx_http_oxmigrate_admin_json_bool(g, 1);
    ngx_http_oxmigrate_admin_json_str(g, "remaining");
    ngx_http_oxmigrate_admin_json_int(g, remaining);
    yajl_gen_map_close(g);

    op->job = job;
    return;

failed:

    ngx_http_oxmigrate_admin_job_free(job);
    ngx_http_oxmigrate_admin_db_error(op, m);
}
