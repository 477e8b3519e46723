
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

    rc = ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
             "UPDATE oxmigrate_job SET state = 'cancelled', control = NULL,"
             " finished = %D, claim = %U WHERE id = %U AND %R",
             now, ngx_http_oxmigrate_admin_job_claim(), (uint64_t) id, where);

    if (rc > 0
        && ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
               "UPDATE oxmigrate_job_schema SET state = 'cancelled',"
               " message = 'not started: the job was cancelled'"
               " WHERE job_id = %U AND state = 'pending'", (uint64_t) id)
           < 0)
    {
        return -1;
    }

    return rc;
}


/*
 * A job without a driver is paused or cancelled here and now, where its
 * row still is as where says ("meanwhile": what else may have happened to
 * it); a new claim stops a driver that was only slow.
 */

static void
ngx_http_oxmigrate_admin_job_settle(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_int_t id, ngx_uint_t cancel, const char *where,
    const char *meanwhile)
{
    int64_t  rc;

    if (cancel) {
        rc = ngx_http_oxmigrate_admin_job_cancelled(op, m, id, where);

    } else {
        rc = ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
                 "UPDATE oxmigrate_job SET state = 'paused',"
                 " control = NULL, finished = NULL, claim = %U"
                 " WHERE id = %U AND %R",
                 ngx_http_oxmigrate_admin_job_claim(), (uint64_t) id, where);
    }

    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    if (rc == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                       "job_not_running",
                                       "job %i was %s meanwhile", id,
                                       meanwhile);
        return;
    }

    ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_OK, id,
                                        cancel ? "cancelled" : "paused",
                                        NULL, NULL);
}


/* a pause or cancel asked of a running job's driver */

static void
ngx_http_oxmigrate_admin_job_ask_driver(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_int_t id, const char *want, const char *control)
{
    int64_t     rc;
    ngx_uint_t  cancel;

    cancel = (ngx_strcmp(want, "cancel") == 0);

    if (!cancel && ngx_strcmp(control, "cancel") == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                       "job_cancelling",
                                       "job %i is being cancelled", id);
        return;
    }

    /* a cancel overrides a pause, never the other way round */
    rc = ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
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
}


/* POST /jobs/{id}/pause, /cancel */

static void
ngx_http_oxmigrate_admin_job_ask(ngx_http_oxmigrate_admin_op_t *op,
    const char *want)
{
    char        state[32], control[32], *where;
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
    stale = ngx_http_oxmigrate_admin_job_stale(op->conn.alcf);

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT state, control, " NGX_HTTP_OXMIGRATE_JOB_DEAD ","
              " (SELECT COUNT(*) FROM oxmigrate_job_schema s"
              "  WHERE s.job_id = j.id AND s.state = 'running')"
              " FROM oxmigrate_job j WHERE j.id = %U",
              stale, (uint64_t) id);
    row = ngx_http_oxmigrate_admin_job_fetch(op, res, id);
    if (row == NULL) {
        return;
    }

    ngx_cpystrn((u_char *) state, (u_char *) row[0], sizeof(state));
    ngx_cpystrn((u_char *) control, (u_char *) (row[1] ? row[1] : ""),
                sizeof(control));
    dead = (row[2] && row[2][0] == '1');
    inflight = ngx_http_oxmigrate_admin_job_col(row[3], 0);
    mysql_free_result(res);

    if (ngx_strcmp(state, "running") == 0 && !dead) {
        ngx_http_oxmigrate_admin_job_ask_driver(op, m, id, want, control);
        return;
    }

    if (ngx_strcmp(state, "paused") == 0) {
        if (!cancel) {
            ngx_http_oxmigrate_admin_job_answer(op, NGX_HTTP_OK, id,
                                                "paused", NULL, NULL);
            return;
        }

        ngx_http_oxmigrate_admin_job_settle(op, m, id, 1, "state = 'paused'",
                                            "continued");
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
     * cancelled here and now.  A schema in flight may be half-way: a
     * resume settles it first; the request is kept for the resumed
     * driver.
     */

    where = ngx_http_oxmigrate_admin_sql(m, op->conn.pool,
                                         NGX_HTTP_OXMIGRATE_JOB_DEAD, stale);
    if (where == NULL) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    if (inflight == 0) {
        ngx_http_oxmigrate_admin_job_settle(op, m, id, cancel, where,
                                            "resumed");
        return;
    }

    rc = ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
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

    rc = ngx_http_oxmigrate_admin_exec(op->conn.db, op->conn.pool,
             "UPDATE oxmigrate_job SET control = NULL WHERE id = %U"
             " AND state = 'running' AND control = 'pause'"
             " AND heartbeat >= %D", (uint64_t) id,
             ngx_http_oxmigrate_admin_job_stale(op->conn.alcf));
    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, op->conn.db);
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
    char       *window, pbuf[32];
    MYSQL      *m;
    yajl_gen    g;
    yajl_val    v, w;
    int64_t     rc;
    ngx_int_t   id;
    ngx_uint_t  wset;
    size_t      i;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    id = ngx_http_oxmigrate_admin_job_id(op);
    if (id == NGX_ERROR) {
        return;
    }

    v = ngx_http_oxmigrate_admin_body_get(op, "parallel");
    w = ngx_http_oxmigrate_admin_body_get(op, "window");

    /* "window": null clears it */
    wset = (w != NULL);

    for (i = 0; op->json && YAJL_IS_OBJECT(op->json)
                && i < op->json->u.object.len; i++)
    {
        if (ngx_strcmp(op->json->u.object.keys[i], "window") == 0) {
            wset = 1;
        }
    }

    if ((v == NULL && !wset) || (v && YAJL_GET_INTEGER(v) < 1)) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"parallel\" (1 to 64) or "
                                       "\"window\" is required");
        return;
    }

    if (ngx_http_oxmigrate_admin_job_window_arg(op, &window, " or null")
        != NGX_OK)
    {
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    ngx_sprintf((u_char *) pbuf, "%L%Z", v ? YAJL_GET_INTEGER(v) : 0);

    rc = ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
             "UPDATE oxmigrate_job SET parallel = IF(%R > 0, %R, parallel),"
             " time_window = IF(%U, NULLIF(%s, ''), time_window)"
             " WHERE id = %U AND state IN ('running', 'paused',"
             " 'interrupted')",
             pbuf, pbuf, (uint64_t) wset, window ? window : "",
             (uint64_t) id);
    if (rc < 0) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT state, parallel, time_window FROM oxmigrate_job"
              " WHERE id = %U", (uint64_t) id);
    row = ngx_http_oxmigrate_admin_job_fetch(op, res, id);
    if (row == NULL) {
        return;
    }

    if (rc == 0 && !ngx_http_oxmigrate_admin_job_unfinished(row[0])) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                                       "job_not_running",
                                       "job %i is %s", id, row[0]);

    } else {
        g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
        if (g) {
            yajl_gen_map_open(g);
            ngx_http_oxmigrate_admin_json_str(g, "job");
            ngx_http_oxmigrate_admin_json_int(g, id);
            ngx_http_oxmigrate_admin_job_json_str(g, "state", row[0]);
            ngx_http_oxmigrate_admin_job_json_int(g, "parallel", row[1]);
            ngx_http_oxmigrate_admin_job_json_str(g, "window", row[2]);
            yajl_gen_map_close(g);
        }
    }

    mysql_free_result(res);
}


/*
 * Time windows.  "HH:MM-HH:MM" in the zone of oxmigrate_job_utc_offset
 * (a fixed offset such as "+01:00"; "UTC"): a job starts schemas only
 * inside it (one that ends before it starts spans midnight), and waits
 * outside it.  oxmigrate_job_clock names a file holding "HH:MM" that
 * replaces the time of day (the tests' faked clock).
 */

char *
ngx_http_oxmigrate_admin_job_utc_offset(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t *alcf = conf;

    u_char     *p;
    ngx_int_t   h, m, sign;
    ngx_str_t  *value;

    if (alcf->job_utc_offset != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    p = value[1].data;

    if (value[1].len == 3 && ngx_strncasecmp(p, (u_char *) "UTC", 3) == 0) {
        alcf->job_utc_offset = 0;
        return NGX_CONF_OK;
    }

    if (value[1].len != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':') {
        goto invalid;
    }

    sign = (p[0] == '-') ? -1 : 1;
    h = ngx_atoi(p + 1, 2);
    m = ngx_atoi(p + 4, 2);

    if (h == NGX_ERROR || m == NGX_ERROR || h > 14 || m > 59) {
        goto invalid;
    }

    alcf->job_utc_offset = sign * (h * 3600 + m * 60);
    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "oxmigrate_job_utc_offset: "
                       "\"%V\" is not \"+HH:MM\", \"-HH:MM\" or \"UTC\"",
                       &value[1]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_oxmigrate_admin_hhmm(const char *p)
{
    ngx_int_t  h, m;

    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != ':'
        || p[3] < '0' || p[3] > '9' || p[4] < '0' || p[4] > '9')
    {
        return NGX_ERROR;
    }

    h = (p[0] - '0') * 10 + (p[1] - '0');
    m = (p[3] - '0') * 10 + (p[4] - '0');

    if (h > 24 || m > 59 || (h == 24 && m != 0)) {
        return NGX_ERROR;
    }

    return h * 60 + m;
}


ngx_int_t
ngx_http_oxmigrate_admin_job_window(const char *w, ngx_int_t *start,
    ngx_int_t *end)
{
    if (w == NULL || ngx_strlen(w) != 11 || w[5] != '-') {
        return NGX_ERROR;
    }

    *start = ngx_http_oxmigrate_admin_hhmm(w);
    *end = ngx_http_oxmigrate_admin_hhmm(w + 6);

    if (*start == NGX_ERROR || *end == NGX_ERROR || *start == *end) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * The body's "window" (NULL: none); NGX_ERROR: not "HH:MM-HH:MM", answered
 * 400 (or_null: what else PATCH takes).
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_window_arg(ngx_http_oxmigrate_admin_op_t *op,
    char **window, const char *or_null)
{
    ngx_int_t  ws, we;

    *window = ngx_http_oxmigrate_admin_body_str(op, "window");

    if (*window
        && ngx_http_oxmigrate_admin_job_window(*window, &ws, &we) != NGX_OK)
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "field \"window\" must be "
                                       "\"HH:MM-HH:MM\"%s", or_null);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a minute of the day inside a window (start to end, maybe over midnight) */

ngx_uint_t
ngx_http_oxmigrate_admin_job_inside(ngx_int_t start, ngx_int_t end,
    ngx_int_t minute)
{
    return (start < end) ? (minute >= start && minute < end)
                         : (minute >= start || minute < end);
}


/* a job's window ("HH:MM-HH:MM"; NULL or not a window: none) (thread) */

void
ngx_http_oxmigrate_admin_job_set_window(ngx_http_oxmigrate_job_t *job,
    const char *w)
{
    if (w
        && ngx_http_oxmigrate_admin_job_window(w, &job->win_start,
                                               &job->win_end)
           == NGX_OK)
    {
        job->minute = ngx_http_oxmigrate_admin_job_minute(job->alcf);

    } else {
        job->win_start = -1;
        job->win_end = -1;
    }
}


ngx_int_t
ngx_http_oxmigrate_admin_job_minute(ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    int        fd;
    char       buf[16];
    ssize_t    n;
    ngx_int_t  m;
    time_t     now;

    if (alcf->job_clock.len) {
        fd = open((char *) alcf->job_clock.data, O_RDONLY);
        if (fd >= 0) {
            n = read(fd, buf, sizeof(buf) - 1);
            close(fd);

            if (n >= 5) {
                buf[n] = '\0';
                m = ngx_http_oxmigrate_admin_hhmm(buf);
                if (m != NGX_ERROR) {
                    return m % 1440;
                }
            }
        }
    }

    now = time(NULL) + alcf->job_utc_offset;

    return (ngx_int_t) ((now % 86400 + 86400) % 86400) / 60;
}
