
/*
 * oxmigrate admin API: steering a job (thread pool).  POST
 * /jobs/{id}/pause, /cancel and /continue, PATCH /jobs/{id}.
 *
 * Any worker of any balancer answers: the request is written to the job's
 * row in configdb (oxmigrate_job.control, .parallel) and the job's driver
 * (the worker that runs it) reads it every second and at every step
 * (ngx_http_oxmigrate_admin_jobdriver.c, _jobsteps.c).  A paused job has
 * no driver at all: it is "paused" in configdb, for as long as it takes,
 * and POST /jobs/{id}/continue gives it a new one (like a resume).  So a
 * crash of a worker loses nothing that a resume would not find again.
 */


#include "ngx_http_oxmigrate_admin_job.h"


static void
ngx_http_oxmigrate_admin_job_answer(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status, ngx_int_t id, const char *state, const char *control,
    const char *msg)
{
    yajl_gen  g;

    g = ngx_http_oxmigrate_admin_reply(op, status);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, id);
    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g, state);
    ngx_http_oxmigrate_admin_json_str(g, "control");
    ngx_http_oxmigrate_admin_json_str(g, control);

    if (msg) {
        ngx_http_oxmigrate_admin_json_str(g, "message");
        ngx_http_oxmigrate_admin_json_str(g, msg);
    }

    yajl_gen_map_close(g);
}


/* a job without a driver ends cancelled: its schemas not started, too */

static ngx_int_t
ngx_http_oxmigrate_admin_job_cancelled(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_int_t id, const char *where)
{
    int64_t  now, rc;

    now = ngx_http_oxmigrate_admin_now_ms();

    rc = ngx_http_oxmigrate_admin_exec(m, op->pool,
             "UPDATE oxmigrate_job SET state = 'cancelled', control = NULL,"
             " finished = %D, claim = %U WHERE id = %U AND %R",
             now, ngx_http_oxmigrate_admin_job_claim(), (uint64_t) id, where);

    if (rc > 0
        && ngx_http_oxmigrate_admin_exec(m, op->pool,
               "UPDATE oxmigrate_job_schema SET state = 'cancelled',"
               " message = 'not started: the job was cancelled'"
               " WHERE job_id = %U AND state = 'pending'", (uint64_t) id)
           < 0)
    {
        return -1;
    }

    return rc;
}


/* POST /jobs/{id}/pause, /cancel */

static void
ngx_http_oxmigrate_admin_job_ask(ngx_http_oxmigrate_admin_op_t *op,
    const char *want)
{
    char        state[32], control[32], where[160];
    MYSQL      *m;
    int64_t     stale, rc, inflight;
    ngx_int_t   id;
    ngx_uint_t  cancel, dead;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    id = ngx_http_oxmigrate_admin_job_id(op);
    if (id == NGX_ERROR) {
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    cancel = (ngx_strcmp(want, "cancel") == 0);
    stale = ngx_http_oxmigrate_admin_now_ms() - (int64_t) op->alcf->lock_idle;

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT j.state, j.control,"
              " j.state = 'interrupted'"
              " OR (j.state = 'running' AND j.heartbeat < %D),"
              " (SELECT COUNT(*) FROM oxmigrate_job_schema s"
              "  WHERE s.job_id = j.id AND s.state = 'running')"
              " FROM oxmigrate_job j WHERE j.id = %U",
              stale, (uint64_t) id);
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

    ngx_cpystrn((u_char *) state, (u_char *) row[0], sizeof(state));
    ngx_cpystrn((u_char *) control, (u_char *) (row[1] ? row[1] : ""),
                sizeof(control));
    dead = (row[2] && row[2][0] == '1');
    inflight = ngx_atoof((u_char *) row[3], ngx_strlen(row[3]));
    mysql_free_result(res);

    if (ngx_strcmp(state, "running") == 0 && !dead) {

        if (!cancel && ngx_strcmp(control, "cancel") == 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                           "job_cancelling",
                                           "job %i is being cancelled", id);
            return;
        }

        /* a cancel overrides a pause, never the other way round */
        rc = ngx_http_oxmigrate_admin_exec(m, op->pool,
                 "UPDATE oxmigrate_job SET control = %s WHERE id = %U"
                 " AND state = 'running' AND (control IS NULL OR %U"
                 " OR control <> 'cancel')",
                 want, (uint64_t) id, (uint64_t) cancel);
        if (rc < 0) {
            ngx_http_oxmigrate_admin_db_error(op, m);
            return;
        }

        if (rc == 0 && ngx_strcmp(control, want) != 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                           "job_not_running",
                                           "job %i ended meanwhile", id);
            return;
        }

        ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_ACCEPTED, id,
            "running", want, cancel
            ? "no further schema starts; a schema disabled whose update"
              " tasks have not started is enabled again on its old server,"
              " one whose tasks run is finished; then the job is"
              " \"cancelled\""
            : "no further schema starts; the schemas in flight finish"
              " their steps, then the job is \"paused\"");
        return;
    }

    if (ngx_strcmp(state, "paused") == 0) {
        if (!cancel) {
            ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_OK, id,
                                                "paused", NULL, NULL);
            return;
        }

        rc = ngx_http_oxmigrate_admin_job_cancelled(op, m, id,
                                                    "state = 'paused'");
        if (rc < 0) {
            ngx_http_oxmigrate_admin_db_error(op, m);
            return;
        }

        if (rc == 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                           "job_not_running",
                                           "job %i was continued meanwhile",
                                           id);
            return;
        }

        ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_OK, id,
                                            "cancelled", NULL, NULL);
        return;
    }

    if (!dead) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                       "job_not_running", "job %i is %s",
                                       id, state);
        return;
    }

    /*
     * Interrupted (its worker died).  Nothing in flight: it is paused or
     * cancelled here and now (a new claim stops a driver that was only
     * slow).  A schema in flight may be half-way: a resume settles it
     * first; the request is kept for the resumed driver.
     */

    ngx_sprintf((u_char *) where, "(state = 'interrupted' OR (state ="
                " 'running' AND heartbeat < %L))%Z", stale);

    if (inflight == 0) {
        if (cancel) {
            rc = ngx_http_oxmigrate_admin_job_cancelled(op, m, id, where);

        } else {
            rc = ngx_http_oxmigrate_admin_exec(m, op->pool,
                     "UPDATE oxmigrate_job SET state = 'paused',"
                     " control = NULL, finished = NULL, claim = %U"
                     " WHERE id = %U AND %R",
                     ngx_http_oxmigrate_admin_job_claim(), (uint64_t) id,
                     where);
        }

        if (rc < 0) {
            ngx_http_oxmigrate_admin_db_error(op, m);
            return;
        }

        if (rc == 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                           "job_not_running",
                                           "job %i was resumed meanwhile",
                                           id);
            return;
        }

        ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_OK, id,
                                            cancel ? "cancelled" : "paused",
                                            NULL, NULL);
        return;
    }

    rc = ngx_http_oxmigrate_admin_exec(m, op->pool,
             "UPDATE oxmigrate_job SET control = %s WHERE id = %U AND %R",
             want, (uint64_t) id, where);
    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_ACCEPTED, id,
        "interrupted", want,
        "the job's worker died with schemas in flight: POST"
        " /jobs/{id}/resume settles them, then the job ends as asked");
}


void
ngx_http_oxmigrate_admin_job_pause(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_job_ask(op, "pause");
}


void
ngx_http_oxmigrate_admin_job_cancel(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_job_ask(op, "cancel");
}


/* POST /jobs/{id}/continue */

static void ngx_http_oxmigrate_admin_job_continue_locked(
    ngx_http_oxmigrate_admin_op_t *op);


void
ngx_http_oxmigrate_admin_job_continue(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_job_locked(op,
                                 ngx_http_oxmigrate_admin_job_continue_locked);
}


static void
ngx_http_oxmigrate_admin_job_continue_locked(
    ngx_http_oxmigrate_admin_op_t *op)
{
    int64_t    rc;
    ngx_int_t  id;

    id = ngx_http_oxmigrate_admin_job_id(op);
    if (id == NGX_ERROR) {
        return;
    }

    /* still pausing (its schemas in flight run): it just goes on */

    rc = ngx_http_oxmigrate_admin_exec(op->db, op->pool,
             "UPDATE oxmigrate_job SET control = NULL WHERE id = %U"
             " AND state = 'running' AND control = 'pause'"
             " AND heartbeat >= %D", (uint64_t) id,
             ngx_http_oxmigrate_admin_now_ms()
             - (int64_t) op->alcf->lock_idle);
    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, op->db);
        return;
    }

    if (rc > 0) {
        ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_OK, id, "running",
                                            NULL, NULL);
        return;
    }

    ngx_http_oxmigrate_admin_job_takeover(op, 1);
}


/* PATCH /jobs/{id}: {"parallel": N} while it runs, is paused or waits */

void
ngx_http_oxmigrate_admin_job_patch(ngx_http_oxmigrate_admin_op_t *op)
{
    MYSQL      *m;
    yajl_gen    g;
    yajl_val    v;
    int64_t     rc;
    ngx_int_t   id;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    id = ngx_http_oxmigrate_admin_job_id(op);
    if (id == NGX_ERROR) {
        return;
    }

    v = ngx_http_oxmigrate_admin_body_get(op, "parallel");
    if (v == NULL || YAJL_GET_INTEGER(v) < 1) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"parallel\" (1 to 64) is "
                                       "required");
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    rc = ngx_http_oxmigrate_admin_exec(m, op->pool,
             "UPDATE oxmigrate_job SET parallel = %U WHERE id = %U"
             " AND state IN ('running', 'paused', 'interrupted')",
             (uint64_t) YAJL_GET_INTEGER(v), (uint64_t) id);
    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT state, parallel, control FROM oxmigrate_job"
              " WHERE id = %U", (uint64_t) id);
    if (res == NULL) {
        return;
    }

    row = mysql_fetch_row(res);

    if (row == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_job",
                                       "job %i not found", id);

    } else if (rc == 0 && (row[1] == NULL
                           || ngx_atoof((u_char *) row[1], ngx_strlen(row[1]))
                              != (off_t) YAJL_GET_INTEGER(v)))
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                       "job_not_running",
                                       "job %i is %s", id, row[0]);

    } else {
        g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
        if (g) {
            yajl_gen_map_open(g);
            ngx_http_oxmigrate_admin_json_str(g, "job");
            ngx_http_oxmigrate_admin_json_int(g, id);
            ngx_http_oxmigrate_admin_json_str(g, "state");
            ngx_http_oxmigrate_admin_json_str(g, row[0]);
            ngx_http_oxmigrate_admin_json_str(g, "parallel");
            ngx_http_oxmigrate_admin_json_int(g, YAJL_GET_INTEGER(v));
            yajl_gen_map_close(g);
        }
    }

    mysql_free_result(res);
}
