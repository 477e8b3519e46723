
/*
 * oxmigrate admin API: the steps of an upgrade as one interface with two
 * implementations (thread pool only):
 *
 *   OX tools   oxmigrate_ox_tools configured: disableschema, enableschema,
 *              changeserver and registerserver on a node of the old
 *              cluster, runupdate on a node of the new one, with exactly
 *              the flags of the OX documentation.  OX drops its caches and
 *              sessions and runs its own (Java) update tasks.
 *   SQL        the same effects on configdb by SQL and the *.sql tasks of
 *              oxmigrate_update_tasks; the OX nodes' caches are NOT
 *              invalidated ("ox_caches":"not invalidated").
 *
 * Every step returns 0 (done), NGX_HTTP_CONFLICT, NGX_HTTP_NOT_FOUND,
 * NGX_HTTP_INTERNAL_SERVER_ERROR (configdb) or NGX_HTTP_BAD_GATEWAY (the
 * tool failed: st->call says how); st->res.msg says it in words.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_uint_t ngx_http_oxmigrate_admin_sql_disable(
    ngx_http_oxmigrate_step_t *st);
static ngx_uint_t ngx_http_oxmigrate_admin_sql_enable(
    ngx_http_oxmigrate_step_t *st);
static ngx_uint_t ngx_http_oxmigrate_admin_sql_changeserver(
    ngx_http_oxmigrate_step_t *st, uint64_t server_id);
static ngx_int_t ngx_http_oxmigrate_admin_sql_update(
    ngx_http_oxmigrate_step_t *st, ngx_http_oxmigrate_update_t *u);
static int64_t ngx_http_oxmigrate_admin_sql_register(
    ngx_http_oxmigrate_step_t *st, const char *name);

static ngx_uint_t ngx_http_oxmigrate_admin_ox_disable(
    ngx_http_oxmigrate_step_t *st);
static ngx_uint_t ngx_http_oxmigrate_admin_ox_enable(
    ngx_http_oxmigrate_step_t *st);
static ngx_uint_t ngx_http_oxmigrate_admin_ox_changeserver(
    ngx_http_oxmigrate_step_t *st, uint64_t server_id);
static ngx_int_t ngx_http_oxmigrate_admin_ox_update(
    ngx_http_oxmigrate_step_t *st, ngx_http_oxmigrate_update_t *u);
static int64_t ngx_http_oxmigrate_admin_ox_register(
    ngx_http_oxmigrate_step_t *st, const char *name);


static ngx_http_oxmigrate_steps_t  ngx_http_oxmigrate_admin_sql_steps = {
    "sql",
    "not invalidated",
    ngx_http_oxmigrate_admin_sql_disable,
    ngx_http_oxmigrate_admin_sql_enable,
    ngx_http_oxmigrate_admin_sql_changeserver,
    ngx_http_oxmigrate_admin_sql_update,
    ngx_http_oxmigrate_admin_sql_register
};


static ngx_http_oxmigrate_steps_t  ngx_http_oxmigrate_admin_ox_steps = {
    "ox tools",
    "invalidated by OX",
    ngx_http_oxmigrate_admin_ox_disable,
    ngx_http_oxmigrate_admin_ox_enable,
    ngx_http_oxmigrate_admin_ox_changeserver,
    ngx_http_oxmigrate_admin_ox_update,
    ngx_http_oxmigrate_admin_ox_register
};


ngx_http_oxmigrate_steps_t *
ngx_http_oxmigrate_admin_steps(ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    return alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
           ? &ngx_http_oxmigrate_admin_ox_steps
           : &ngx_http_oxmigrate_admin_sql_steps;
}


void
ngx_http_oxmigrate_admin_step_init(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, MYSQL *m, const char *schema)
{
    ngx_memzero(st, sizeof(ngx_http_oxmigrate_step_t));
    st->alcf = alcf;
    st->pool = pool;
    st->log = log;
    st->m = m;
    st->schema = schema;
    st->steps = ngx_http_oxmigrate_admin_steps(alcf);
}


/*
 * SQL.  Concurrent disable, enable and changeserver of one schema lock the
 * same rows in different orders and MariaDB may pick one as a deadlock
 * victim (1213) or time it out (1205); the statement (or changeserver's
 * transaction) is rolled back whole, so it is simply run again, a few
 * times, after a short random pause.
 */

#define NGX_HTTP_OXMIGRATE_SQL_TRIES  8

static ngx_uint_t
ngx_http_oxmigrate_admin_sql_retry(ngx_http_oxmigrate_step_t *st,
    ngx_uint_t status, ngx_uint_t try)
{
    if (status != NGX_HTTP_INTERNAL_SERVER_ERROR
        || (st->res.db_errno != 1213 && st->res.db_errno != 1205)
        || try + 1 >= NGX_HTTP_OXMIGRATE_SQL_TRIES)
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, st->log, 0,
                  "oxmigrate admin: schema %s: %s, trying again",
                  st->schema, st->res.msg);

    ngx_msleep(5 + (ngx_random() % (20 << try)));
    st->res.db_errno = 0;

    return 1;
}


/* the store's result as the steps' status */

static ngx_uint_t
ngx_http_oxmigrate_admin_sql_status(ngx_int_t rc)
{
    return (rc == NGX_OK) ? 0
           : (rc == NGX_DECLINED) ? NGX_HTTP_CONFLICT
           : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


static ngx_uint_t
ngx_http_oxmigrate_admin_sql_disable(ngx_http_oxmigrate_step_t *st)
{
    ngx_uint_t  status, try;

    for (try = 0; /* void */; try++) {
        status = ngx_http_oxmigrate_admin_sql_status(
                     ngx_http_oxmigrate_admin_do_disable(st->m, st->pool,
                                                         st->schema,
                                                         &st->res));
        if (!ngx_http_oxmigrate_admin_sql_retry(st, status, try)) {
            return status;
        }
    }
}


static ngx_uint_t
ngx_http_oxmigrate_admin_sql_enable(ngx_http_oxmigrate_step_t *st)
{
    ngx_uint_t  status, try;

    for (try = 0; /* void */; try++) {
        status = ngx_http_oxmigrate_admin_sql_status(
                     ngx_http_oxmigrate_admin_do_enable(st->m, st->pool,
                                                        st->schema,
                                                        &st->res));
        if (!ngx_http_oxmigrate_admin_sql_retry(st, status, try)) {
            return status;
        }
    }
}


static ngx_uint_t
ngx_http_oxmigrate_admin_sql_changeserver(ngx_http_oxmigrate_step_t *st,
    uint64_t server_id)
{
    ngx_uint_t  status, try;

    for (try = 0; /* void */; try++) {
        ngx_memzero(&st->res, sizeof(ngx_http_oxmigrate_schema_res_t));

        status = ngx_http_oxmigrate_admin_sql_status(
                     ngx_http_oxmigrate_admin_do_changeserver(st->m,
                                                              st->pool,
                                                              st->schema,
                                                              server_id,
                                                              &st->res));
        if (!ngx_http_oxmigrate_admin_sql_retry(st, status, try)) {
            return status;
        }
    }
}


static ngx_int_t
ngx_http_oxmigrate_admin_sql_update(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_update_t *u)
{
    return ngx_http_oxmigrate_admin_update_run(u);
}


static int64_t
ngx_http_oxmigrate_admin_sql_register(ngx_http_oxmigrate_step_t *st,
    const char *name)
{
    uint64_t  id;

    id = ngx_http_oxmigrate_admin_register(st->m, st->pool, name,
                                           st->res.msg, sizeof(st->res.msg));
    if (id == 0) {
        st->status = (mysql_errno(st->m) == 1062) ? NGX_HTTP_CONFLICT
                                               : NGX_HTTP_INTERNAL_SERVER_ERROR;
        return 0;
    }

    return id;
}


/* OX tools */

static ngx_http_oxmigrate_ox_call_t *
ngx_http_oxmigrate_admin_ox_call(ngx_http_oxmigrate_step_t *st,
    const char *tool, ngx_uint_t cluster)
{
    st->call = ngx_palloc(st->pool, sizeof(ngx_http_oxmigrate_ox_call_t));
    if (st->call == NULL) {
        return NULL;
    }

    ngx_http_oxmigrate_admin_ox_init(st->call, st->alcf, st->pool, st->log,
                                     tool, cluster);
    return st->call;
}


/* runs st->call; 0 when it exited with 0, else NGX_HTTP_BAD_GATEWAY */

static ngx_uint_t
ngx_http_oxmigrate_admin_ox_exec(ngx_http_oxmigrate_step_t *st)
{
    if (ngx_http_oxmigrate_admin_ox_run(st->call) == NGX_OK) {
        return 0;
    }

    ngx_cpystrn((u_char *) st->res.msg, (u_char *) st->call->error,
                sizeof(st->res.msg));
    st->ox_failed = 1;

    return NGX_HTTP_BAD_GATEWAY;
}


/* the schema's contexts and how many are enabled, as configdb says */

static ngx_uint_t
ngx_http_oxmigrate_admin_ox_count(ngx_http_oxmigrate_step_t *st,
    uint64_t *total, uint64_t *enabled)
{
    if (ngx_http_oxmigrate_admin_count_enabled(st->m, st->pool, st->schema,
                                               total, enabled)
        != NGX_OK)
    {
        ngx_snprintf((u_char *) st->res.msg, sizeof(st->res.msg) - 1, "%s%Z",
                     mysql_error(st->m));
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return 0;
}


/* disableschema -A u -P p -m SCHEMA (old cluster) */

static ngx_uint_t
ngx_http_oxmigrate_admin_ox_toggle(ngx_http_oxmigrate_step_t *st,
    const char *tool)
{
    uint64_t                       total, before, after;
    ngx_uint_t                     rc;
    ngx_http_oxmigrate_ox_call_t  *call;

    rc = ngx_http_oxmigrate_admin_ox_count(st, &total, &before);
    if (rc) {
        return rc;
    }

    call = ngx_http_oxmigrate_admin_ox_call(st, tool,
                                            NGX_HTTP_OXMIGRATE_OX_OLD);
    if (call == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    call->args[0] = "-m";
    call->args[1] = st->schema;

    rc = ngx_http_oxmigrate_admin_ox_exec(st);
    if (rc) {
        return rc;
    }

    rc = ngx_http_oxmigrate_admin_ox_count(st, &total, &after);
    if (rc) {
        return rc;
    }

    st->res.changed = (before > after) ? before - after : after - before;

    return 0;
}


static ngx_uint_t
ngx_http_oxmigrate_admin_ox_disable(ngx_http_oxmigrate_step_t *st)
{
    return ngx_http_oxmigrate_admin_ox_toggle(st, "disableschema");
}


static ngx_uint_t
ngx_http_oxmigrate_admin_ox_enable(ngx_http_oxmigrate_step_t *st)
{
    return ngx_http_oxmigrate_admin_ox_toggle(st, "enableschema");
}


/*
 * changeserver -A u -P p -s ID -m SCHEMA (old cluster).  Its refusal of a
 * schema with enabled contexts ("The schema '<s>' is not disabled. The
 * following contexts are still enabled: [1, 2]") is a 409 as in the SQL
 * implementation, with the listed contexts.
 */

static ngx_uint_t
ngx_http_oxmigrate_admin_ox_changeserver(ngx_http_oxmigrate_step_t *st,
    uint64_t server_id)
{
    u_char                        *p, *last;
    uint64_t                       total, enabled, *cid;
    ngx_uint_t                     rc;
    ngx_str_t                     *said;
    ngx_http_oxmigrate_ox_call_t  *call;

    st->res.changed = 0;
    st->res.enabled = ngx_array_create(st->pool, 8, sizeof(uint64_t));
    if (st->res.enabled == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_ox_count(st, &total, &enabled);
    if (rc) {
        return rc;
    }

    if (total == 0) {
        st->res.empty = 1;
        ngx_snprintf((u_char *) st->res.msg, sizeof(st->res.msg) - 1,
                     "The schema '%s' contains no contexts.%Z", st->schema);
        return NGX_HTTP_CONFLICT;
    }

    call = ngx_http_oxmigrate_admin_ox_call(st, "changeserver",
                                            NGX_HTTP_OXMIGRATE_OX_OLD);
    if (call == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    call->args[0] = "-s";
    call->args[1] = ngx_pnalloc(st->pool, NGX_INT64_LEN + 1);
    if (call->args[1] == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_sprintf((u_char *) call->args[1], "%uL%Z", server_id);
    call->args[2] = "-m";
    call->args[3] = st->schema;

    rc = ngx_http_oxmigrate_admin_ox_exec(st);

    if (rc == 0) {
        st->res.changed = total;
        return 0;
    }

    said = call->err.len ? &call->err : &call->out;

    if (call->exit_code <= 0 || said->data == NULL
        || ngx_strstr(said->data, "is not disabled") == NULL)
    {
        return rc;
    }

    /* OX's refusal: the contexts in its brackets, and its words */

    p = (u_char *) ngx_strchr(said->data, '[');
    last = p ? (u_char *) ngx_strchr(p, ']') : NULL;

    while (p && last && p < last && st->res.enabled->nelts < 10) {
        while (p < last && (*p < '0' || *p > '9')) {
            p++;
        }

        if (p == last) {
            break;
        }

        cid = ngx_array_push(st->res.enabled);
        if (cid == NULL) {
            break;
        }

        *cid = 0;
        while (p < last && *p >= '0' && *p <= '9') {
            *cid = *cid * 10 + (*p++ - '0');
        }
    }

    p = said->data;
    last = p + ngx_min(said->len, sizeof(st->res.msg) - 1);
    while (last > p && (last[-1] == '\n' || last[-1] == '\r')) {
        last--;
    }

    ngx_memcpy(st->res.msg, p, last - p);
    st->res.msg[last - p] = '\0';
    st->ox_failed = 0;

    return NGX_HTTP_CONFLICT;
}


/*
 * registerserver -A u -P p -n NAME (old cluster): "server <id> registered".
 * 0 and st->status on failure.
 */

static int64_t
ngx_http_oxmigrate_admin_ox_register(ngx_http_oxmigrate_step_t *st,
    const char *name)
{
    u_char                        *p;
    int64_t                        id;
    ngx_http_oxmigrate_ox_call_t  *call;

    call = ngx_http_oxmigrate_admin_ox_call(st, "registerserver",
                                            NGX_HTTP_OXMIGRATE_OX_OLD);
    if (call == NULL) {
        st->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return 0;
    }

    call->args[0] = "-n";
    call->args[1] = name;

    st->status = ngx_http_oxmigrate_admin_ox_exec(st);
    if (st->status) {
        return 0;
    }

    p = (u_char *) ngx_strstr(call->out.data, "server ");
    id = 0;

    if (p) {
        for (p += 7; *p >= '0' && *p <= '9'; p++) {
            id = id * 10 + (*p - '0');
            if (id > 0xffffffffLL) {
                break;
            }
        }
    }

    if (p == NULL || id <= 0 || id > 0xffffffffLL
        || ngx_strncmp(p, " registered", 11) != 0)
    {
        ngx_snprintf((u_char *) st->res.msg, sizeof(st->res.msg) - 1,
                     "registerserver (old cluster) exited with code 0 but "
                     "its output is not \"server <id> registered\"%Z");
        ngx_cpystrn((u_char *) call->error, (u_char *) st->res.msg,
                    sizeof(call->error));
        st->ox_failed = 1;
        st->status = NGX_HTTP_BAD_GATEWAY;
        return 0;
    }

    return id;
}


/* runupdate: OX's LOCKED row as oxmigrate watches it */

typedef struct {
    ngx_http_oxmigrate_update_t  *u;
    MYSQL                        *sm;       /* the schema's database */
    MYSQL                        *cdb;      /* configdb, job heartbeat */
    int64_t                       seen;     /* LOCKED lastModified */
    ngx_msec_t                    idle;
    char                          reason[256];
} ngx_http_oxmigrate_ox_watch_t;


/* LOCKED lastModified, 0: none, -1: cannot tell */

static int64_t
ngx_http_oxmigrate_admin_ox_locked(MYSQL *sm, ngx_pool_t *pool,
    const char *schema)
{
    int64_t     t;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(sm, pool,
              "SELECT lastModified FROM %I.updateTask WHERE cid = 0"
              " AND uuid = UNHEX('" NGX_HTTP_OXMIGRATE_LOCKED_UUID "')",
              schema);
    if (res == NULL) {
        return mysql_errno(sm) == 1146 ? 0 : -1;
    }

    row = mysql_fetch_row(res);
    t = (row && row[0]) ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0]))
                        : 0;
    mysql_free_result(res);

    return t;
}


/*
 * Every lock_refresh while runupdate runs: the job's heartbeat, and OX's
 * lock.  A lock that was there and is no longer refreshed (idle longer
 * than oxmigrate_update_lock_idle) means the runner inside OX died: the
 * tool is stopped and the step fails.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_tick(ngx_http_oxmigrate_ox_call_t *call)
{
    ngx_http_oxmigrate_ox_watch_t  *w = call->data;

    char                          err[256];
    int64_t                       t, now;
    ngx_http_oxmigrate_update_t  *u;

    u = w->u;
    now = ngx_http_oxmigrate_admin_now_ms();

    if (u->job_id) {
        if (w->cdb == NULL) {
            w->cdb = ngx_http_oxmigrate_admin_configdb_connect(u->configdb,
                                                 u->pool, err, sizeof(err));
        }

        if (w->cdb) {
            if (ngx_http_oxmigrate_admin_exec(w->cdb, u->pool,
                    "UPDATE oxmigrate_job SET heartbeat = %D"
                    " WHERE id = %U AND claim = %U", now, u->job_id,
                    u->job_claim)
                == 0)
            {
                u->lost = 1;
            }
        }
    }

    if (w->sm == NULL) {
        return NGX_OK;
    }

    t = ngx_http_oxmigrate_admin_ox_locked(w->sm, u->pool, u->schema);

    if (t > 0) {
        w->seen = t;
    }

    if (u->job_id && w->cdb) {
        /* the progress GET /jobs/{id} shows while the schema runs */
        (void) ngx_http_oxmigrate_admin_exec(w->cdb, u->pool,
                  "UPDATE oxmigrate_job_schema SET message = %s"
                  " WHERE job_id = %U AND name = %s AND state = 'running'",
                  call->tool == NULL
                  ? "waiting: another runner holds OX's lock"
                  : t > 0 ? "runupdate running, OX's lock is live"
                          : "runupdate running, no OX lock (yet)",
                  u->job_id, u->schema);
    }

    if (w->seen && t > 0 && now - t > (int64_t) w->idle) {
        ngx_snprintf((u_char *) w->reason, sizeof(w->reason) - 1,
                     "OX's lock on schema %s was not refreshed for %L ms: "
                     "the update runner inside OX is dead%Z", u->schema,
                     now - t);
        call->abort_reason = w->reason;
        return NGX_ABORT;
    }

    return NGX_OK;
}


/*
 * A job waits while another runner holds a live lock on the schema (the
 * runupdate a killed worker started goes on inside OX): until the lock is
 * gone or dead (runupdate takes a dead one over), at most
 * oxmigrate_ox_tools_timeout, beating the job's heartbeat meanwhile.
 */

static void
ngx_http_oxmigrate_admin_ox_wait_lock(ngx_http_oxmigrate_ox_watch_t *w)
{
    int64_t                        t, now, end;
    ngx_http_oxmigrate_ox_call_t   fake;

    now = ngx_http_oxmigrate_admin_now_ms();
    end = now + w->u->alcf->ox_timeout;

    ngx_memzero(&fake, sizeof(ngx_http_oxmigrate_ox_call_t));
    fake.data = w;

    for ( ;; ) {
        t = ngx_http_oxmigrate_admin_ox_locked(w->sm, w->u->pool,
                                               w->u->schema);
        now = ngx_http_oxmigrate_admin_now_ms();

        if (t <= 0 || now - t > (int64_t) w->idle || now >= end
            || ngx_terminate || w->u->lost)
        {
            return;
        }

        ngx_log_error(NGX_LOG_INFO, w->u->log, 0,
                      "oxmigrate admin: job %uL: schema %s is locked by "
                      "another update runner (refreshed %L ms ago), "
                      "waiting", w->u->job_id, w->u->schema, now - t);

        w->seen = 0;
        (void) ngx_http_oxmigrate_admin_ox_tick(&fake);
        ngx_msleep(ngx_min(w->u->alcf->lock_refresh, 1000));
    }
}


/* the task names after "The following update task(s) failed:" */

static void
ngx_http_oxmigrate_admin_ox_failed_tasks(ngx_http_oxmigrate_update_t *u,
    ngx_str_t *out)
{
    char    **name;
    u_char   *p, *eol, *end, *paren;

    p = (u_char *) ngx_strstr(out->data, "The following update task(s) "
                                         "failed:");
    if (p == NULL) {
        return;
    }

    end = out->data + out->len;
    p = ngx_strlchr(p, end, '\n');

    while (p && p < end) {
        p++;
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        paren = ngx_strlcasestrn(p, eol, (u_char *) " (schema=", 9 - 1);

        if (paren && paren > p) {
            name = ngx_array_push(u->failed);
            if (name) {
                *name = ngx_http_oxmigrate_admin_strndup(u->pool, p,
                                                         paren - p);
            }
        }

        p = eol;
    }
}


/* tasks OX recorded since "since" (successful ones, in their order) */

static void
ngx_http_oxmigrate_admin_ox_executed(ngx_http_oxmigrate_update_t *u,
    MYSQL *sm, int64_t since)
{
    char       **name;
    MYSQL_ROW    row;
    MYSQL_RES   *res;

    res = ngx_http_oxmigrate_admin_select(sm, u->pool,
              "SELECT taskName FROM %I.updateTask WHERE cid = 0"
              " AND taskName NOT IN ('LOCKED', 'BACKGROUND')"
              " AND successful = 1 AND lastModified > %D"
              " ORDER BY lastModified", u->schema, since);
    if (res == NULL) {
        return;
    }

    while ((row = mysql_fetch_row(res))) {
        name = ngx_array_push(u->executed);
        if (name) {
            *name = ngx_http_oxmigrate_admin_strndup(u->pool, row[0],
                                                     ngx_strlen(row[0]));
        }
    }

    mysql_free_result(res);
}


/*
 * runupdate -n SCHEMA (new cluster), OX's flags as documented (JMX
 * credentials are optional and not passed).  oxmigrate does not take OX's
 * LOCKED row: it reads it, before (a live lock: UPD-0003, runupdate would
 * do nothing) and while the tool runs.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_update(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_update_t *u)
{
    char                           err[256];
    int64_t                        locked, since, now;
    MYSQL_ROW                      row;
    MYSQL_RES                     *res;
    ngx_int_t                      rc;
    ngx_http_oxmigrate_ox_call_t  *call;
    ngx_http_oxmigrate_ox_watch_t  w;

    u->executed = ngx_array_create(u->pool, 8, sizeof(char *));
    u->failed = ngx_array_create(u->pool, 4, sizeof(char *));
    if (u->executed == NULL || u->failed == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&w, sizeof(ngx_http_oxmigrate_ox_watch_t));
    w.u = u;
    w.idle = u->alcf->lock_idle;
    since = 0;

    w.sm = u->conn;
    u->conn = NULL;

    if (w.sm == NULL) {
        w.sm = ngx_http_oxmigrate_admin_connect(u->host, NULL, 0, err,
                                                sizeof(err));
        if (w.sm == NULL) {
            ngx_log_error(NGX_LOG_WARN, u->log, 0,
                          "oxmigrate admin: schema %s on %s:%ud: %s "
                          "(runupdate runs, its lock is not watched)",
                          u->schema, u->host->host, u->host->port, err);
        }
    }

    if (w.sm && u->job_id) {
        /* a resumed job: the runupdate of the dead worker may still run */
        ngx_http_oxmigrate_admin_ox_wait_lock(&w);
    }

    if (w.sm) {
        now = ngx_http_oxmigrate_admin_now_ms();
        locked = ngx_http_oxmigrate_admin_ox_locked(w.sm, u->pool, u->schema);

        if (locked > 0 && now - locked <= (int64_t) w.idle) {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "Update conflict detected. Another process is "
                         "currently updating schema %s.%Z", u->schema);
            rc = NGX_BUSY;
            goto done;
        }

        res = ngx_http_oxmigrate_admin_select(w.sm, u->pool,
                  "SELECT COALESCE(MAX(lastModified), 0) FROM %I.updateTask"
                  " WHERE cid = 0 AND taskName NOT IN ('LOCKED',"
                  " 'BACKGROUND')", u->schema);
        if (res) {
            row = mysql_fetch_row(res);
            since = row ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0]))
                        : 0;
            mysql_free_result(res);
        }
    }

    call = ngx_http_oxmigrate_admin_ox_call(st, "runupdate",
                                            NGX_HTTP_OXMIGRATE_OX_NEW);
    if (call == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    call->creds = 0;
    call->quick = 0;
    call->args[0] = "-n";
    call->args[1] = u->schema;
    call->tick = ngx_http_oxmigrate_admin_ox_tick;
    call->tick_ms = u->alcf->lock_refresh;
    call->data = &w;

    rc = ngx_http_oxmigrate_admin_ox_run(call);

    if (rc != NGX_OK) {
        ngx_cpystrn((u_char *) u->error, (u_char *) call->error,
                    sizeof(u->error));
        st->ox_failed = 1;
        rc = NGX_ERROR;
        goto done;
    }

    if (ngx_strstr(call->out.data, "Update conflict detected")
        || ngx_strstr(call->err.data, "Update conflict detected"))
    {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "Update conflict detected. Another process is "
                     "currently updating schema %s.%Z", u->schema);
        rc = NGX_BUSY;
        goto done;
    }

    ngx_http_oxmigrate_admin_ox_failed_tasks(u, &call->out);

    if (w.sm) {
        ngx_http_oxmigrate_admin_ox_executed(u, w.sm, since);
    }

    if (u->lost) {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the job was taken over by another worker while "
                     "runupdate ran on schema %s%Z", u->schema);
        rc = NGX_ERROR;
    }

done:

    if (w.cdb) {
        mysql_close(w.cdb);
    }

    if (w.sm) {
        if (u->keep && mysql_errno(w.sm) < 2000) {
            u->conn = w.sm;

        } else {
            mysql_close(w.sm);
        }
    }

    return rc;
}
