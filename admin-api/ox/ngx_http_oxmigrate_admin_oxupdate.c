/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: runupdate through OX's tools on a node of the new
 * cluster (thread pool only), and what proves its result: the schema's
 * own state.  A tool's exit code proves little (ox-facts 7): OX swallows
 * the errors of its update process (another runner's lock, an SQL error)
 * and exits 0, and the 7.10.1+ tool exits 0 when tasks failed.  So after
 * every runupdate, and after a timeout or a kill (OX goes on inside the
 * JVM), the schema is read again: its LOCKED row (live: still running
 * inside OX; wait), its failed tasks (successful = 0), and the tasks of
 * the new version still pending (listUpdateTasks -g on the new cluster,
 * minus the exclusions).
 */


#include "ngx_http_oxmigrate_admin.h"


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
    int64_t  t;

    if (ngx_http_oxmigrate_admin_store_lock_read(sm, pool, schema, &t)
        != NGX_OK)
    {
        return mysql_errno(sm) == 1146 ? 0 : -1;
    }

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
            if (ngx_http_oxmigrate_admin_store_heartbeat(w->cdb, u->pool,
                    u->job_id, u->job_claim, now)
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
        (void) ngx_http_oxmigrate_admin_store_job_message(w->cdb, u->pool,
                  u->job_id, u->schema,
                  call->tool == NULL
                  ? "waiting: another runner holds OX's lock"
                  : t > 0 ? "runupdate running, OX's lock is live"
                          : "runupdate running, no OX lock (yet)");
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
 * Returns the lock as read last (ox_locked).
 */

static int64_t
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
            return t;
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


/*
 * The task names after "The following update task(s) failed:", in either
 * generation: 7.10.0 prints " <task> (schema=<s>)" lines, 7.10.1+ a
 * padded table "taskName className schema" (ox-facts 7).  Task names are
 * Java class names: one word.
 */

static void
ngx_http_oxmigrate_admin_ox_failed_tasks(ngx_array_t *failed, ngx_pool_t *pool,
    ngx_str_t *out)
{
    u_char  *p, *eol, *end, *w;

    p = (u_char *) ngx_strstr(out->data, "The following update task(s) "
                                         "failed:");
    if (p == NULL) {
        return;
    }

    end = out->data + out->len;
    p = ngx_strlchr(p, end, '\n');
    p = p ? p + 1 : end;

    while (ngx_http_oxmigrate_admin_ox_word(&p, end, &w, &eol)) {

        /* not the header, not a rule of "-", "+" or "|" */
        if (w > p && !(w - p == 8 && ngx_strncmp(p, "taskName", 8) == 0)
            && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        {
            ngx_http_oxmigrate_admin_ox_name(failed, pool, p, w - p);
        }

        p = eol + 1;
    }
}


/* tasks OX recorded since "since" (successful ones, in their order) */

static void
ngx_http_oxmigrate_admin_ox_executed(ngx_http_oxmigrate_update_t *u,
    MYSQL *sm, int64_t since)
{
    (void) ngx_http_oxmigrate_admin_store_task_names(sm, u->pool, u->schema,
                                                     1, since, u->executed);
}


/*
 * Before runupdate: a live lock is UPD-0003 (NGX_BUSY: runupdate would do
 * nothing); *since is the newest task row, so that the rows after it are
 * what this run executed.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_before(ngx_http_oxmigrate_ox_watch_t *w,
    int64_t *since)
{
    int64_t                       locked, now;
    ngx_http_oxmigrate_update_t  *u;

    u = w->u;
    now = ngx_http_oxmigrate_admin_now_ms();
    locked = ngx_http_oxmigrate_admin_ox_locked(w->sm, u->pool, u->schema);

    if (locked > 0 && now - locked <= (int64_t) w->idle) {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "Update conflict detected. Another process is "
                     "currently updating schema %s.%Z", u->schema);
        return NGX_BUSY;
    }

    if (locked > 0 && u->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]->version
                      < NGX_HTTP_OXMIGRATE_OX_V8)
    {
        /* 7.10.x never takes a lock over: runupdate would do nothing */
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "schema %s is blocked by a dead OX lock (idle for "
                     "%L s): unblock it first (POST /databases/{id}/unblock "
                     "with its schema, OX's unblockdatabase)%Z", u->schema,
                     (now - locked) / 1000);
        return NGX_ERROR;
    }

    (void) ngx_http_oxmigrate_admin_store_task_newest(w->sm, u->pool,
                                                      u->schema, since);

    return NGX_OK;
}


/* "a, b, c" of a list of names, into buf */

static void
ngx_http_oxmigrate_admin_ox_names(ngx_array_t *a, char *buf, size_t size)
{
    u_char      *p, *end;
    ngx_uint_t   i;

    p = (u_char *) buf;
    end = p + size - 1;

    for (i = 0; i < a->nelts && p < end; i++) {
        p = ngx_slprintf(p, end, "%s%s", i ? ", " : "",
                         ((char **) a->elts)[i]);
    }

    *p = '\0';
}


/*
 * The schema's database, (again) after it went away (a restart, a kill):
 * tried every half second for up to oxmigrate_update_lock_idle.  NGX_OK:
 * w->sm is connected; else u->error says so and u->gone is set: the step
 * is interrupted, never failed (a resume reads the schema again).
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_reconnect(ngx_http_oxmigrate_ox_watch_t *w)
{
    char                          err[256];
    int64_t                       end;
    ngx_http_oxmigrate_update_t  *u;

    u = w->u;

    if (w->sm) {
        mysql_close(w->sm);
        w->sm = NULL;
    }

    end = ngx_http_oxmigrate_admin_now_ms() + u->alcf->lock_idle;

    for ( ;; ) {
        w->sm = ngx_http_oxmigrate_admin_connect(u->host, NULL, 0, err,
                                                 sizeof(err));
        if (w->sm) {
            return NGX_OK;
        }

        if (ngx_terminate || ngx_http_oxmigrate_admin_now_ms() >= end) {
            break;
        }

        ngx_msleep(500);
    }

    u->gone = 1;
    ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                 "the database of schema %s (%s:%ud) is not reachable: %s; "
                 "its update is not verified, the schema stays disabled "
                 "(a resume reads it again)%Z", u->schema, u->host->host,
                 u->host->port, err);

    return NGX_ERROR;
}


/*
 * After runupdate (exit 0, a timeout or a kill): the schema's own state.
 * NGX_OK: read (u->failed has the tasks with successful = 0); NGX_AGAIN:
 * still running inside OX (a live lock after waiting up to the tools'
 * timeout); NGX_ERROR: u->error says why it is not updated.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_verify(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_ox_watch_t *w)
{
    char                          names[320], err[256], **name;
    int64_t                       t, now;
    ngx_uint_t                    i;
    ngx_array_t                  *pending, *failed;
    ngx_http_oxmigrate_update_t  *u;

    u = w->u;

    /* OX's work goes on after its client ended: wait for it */
    t = w->sm ? ngx_http_oxmigrate_admin_ox_wait_lock(w) : -1;

    if (t < 0 && (w->sm == NULL || ngx_http_oxmigrate_admin_gone(
                                                    mysql_errno(w->sm))))
    {
        /* the schema's database went away (a restart): once more */
        if (ngx_http_oxmigrate_admin_ox_reconnect(w) != NGX_OK) {
            return NGX_AGAIN;
        }

        t = ngx_http_oxmigrate_admin_ox_wait_lock(w);
    }

    now = ngx_http_oxmigrate_admin_now_ms();

    if (t < 0) {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the update of schema %s cannot be verified: %s%Z",
                     u->schema, mysql_error(w->sm));
        return NGX_ERROR;
    }

    if (t > 0 && now - t <= (int64_t) w->idle) {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "still running inside OX: the update of schema %s "
                     "holds OX's lock (refreshed %L s ago); not enabled%Z",
                     u->schema, (now - t) / 1000);
        return NGX_AGAIN;
    }

    if (t > 0) {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the update of schema %s died inside OX: its lock was "
                     "left behind (idle for %L s); unblock it (POST "
                     "/databases/{id}/unblock) and run it again%Z",
                     u->schema, (now - t) / 1000);
        return NGX_ERROR;
    }

    failed = ngx_array_create(u->pool, 4, sizeof(char *));
    if (failed == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_store_task_names(w->sm, u->pool, u->schema,
                                                  0, -1, failed)
        == NGX_ERROR)
    {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the update of schema %s cannot be verified: %s%Z",
                     u->schema, mysql_error(w->sm));
        return NGX_ERROR;
    }

    /* no updateTask table (NGX_DECLINED): no task ran there, none failed */

    name = failed->elts;
    for (i = 0; i < failed->nelts; i++) {
        ngx_http_oxmigrate_admin_ox_name(u->failed, u->pool, (u_char *) name[i],
                                         ngx_strlen(name[i]));
    }

    if (u->failed->nelts) {
        /* failed: never enabled, whatever else is pending */
        return NGX_OK;
    }

    pending = ngx_array_create(u->pool, 4, sizeof(char *));
    if (pending == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_ox_pending(u->alcf, u->pool, u->log,
                                            u->schema, pending,
                                            u->job_id ? &u->excluded : NULL,
                                            err, sizeof(err))
        != NGX_OK)
    {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the update of schema %s cannot be verified: %s%Z",
                     u->schema, err);
        return NGX_ERROR;
    }

    if (pending->nelts) {
        ngx_http_oxmigrate_admin_ox_names(pending, names, sizeof(names));
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "runupdate ended but %ui task(s) of the new version are "
                     "still pending on schema %s: %s (OX logs the cause on "
                     "the node: another runner's lock, an SQL error)%Z",
                     pending->nelts, u->schema, names);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * runupdate -n SCHEMA (new cluster), with the master credentials from
 * 7.10.1 on.  oxmigrate does not take OX's LOCKED row: it reads it, before
 * (a live lock: UPD-0003, runupdate would do nothing), while the tool
 * runs, and after it (ox_verify).
 */

ngx_int_t
ngx_http_oxmigrate_admin_ox_update(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_update_t *u)
{
    int64_t                        since;
    ngx_int_t                      rc, vrc;
    ngx_array_t                   *told;
    ngx_http_oxmigrate_ox_call_t  *call;
    ngx_http_oxmigrate_ox_watch_t  w;

    u->executed = ngx_array_create(u->pool, 8, sizeof(char *));
    u->failed = ngx_array_create(u->pool, 4, sizeof(char *));
    if (u->executed == NULL || u->failed == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&w, sizeof(ngx_http_oxmigrate_ox_watch_t));
    w.u = u;
    w.idle = u->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]->lock_idle;
    since = 0;

    w.sm = u->conn;
    u->conn = NULL;

    if (w.sm == NULL
        && ngx_http_oxmigrate_admin_ox_reconnect(&w) != NGX_OK)
    {
        /* runupdate does not run where its result cannot be read */
        return NGX_AGAIN;
    }

    if (u->job_id) {
        /* a resumed job: the runupdate of the dead worker may still run */
        (void) ngx_http_oxmigrate_admin_ox_wait_lock(&w);
    }

    rc = ngx_http_oxmigrate_admin_ox_before(&w, &since);
    if (rc != NGX_OK) {
        goto done;
    }

    call = ngx_http_oxmigrate_admin_ox_call(st, "runupdate",
                                            NGX_HTTP_OXMIGRATE_OX_NEW);
    if (call == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    call->quick = 0;
    call->args[0] = "-n";
    call->args[1] = u->schema;
    call->tick = ngx_http_oxmigrate_admin_ox_tick;
    call->tick_ms = u->alcf->lock_refresh;
    call->data = &w;

    rc = ngx_http_oxmigrate_admin_ox_run(call);

    if (rc == NGX_ERROR && call->aborted && ngx_terminate) {
        /* nginx stops: OX's update goes on in the node, a resume waits */
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "nginx stopped while runupdate ran on schema %s; OX's "
                     "update goes on inside the node (a resume waits for "
                     "it and reads the schema)%Z", u->schema);
        rc = NGX_AGAIN;
        goto done;
    }

    if (rc == NGX_ERROR && !call->timed_out) {
        /* not started, or killed because OX's runner died */
        ngx_cpystrn((u_char *) u->error, (u_char *) call->error,
                    sizeof(u->error));
        st->ox_failed = 1;
        goto done;
    }

    if (rc != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, u->log, 0,
                      "oxmigrate admin: %s; reading the state of schema %s "
                      "(OX's update goes on inside the node)", call->error,
                      u->schema);
    }

    /* what the tool printed; the schema's own rows come first */
    told = ngx_array_create(u->pool, 4, sizeof(char *));
    if (told) {
        ngx_http_oxmigrate_admin_ox_failed_tasks(told, u->pool, &call->out);
    }

    vrc = ngx_http_oxmigrate_admin_ox_verify(st, &w);

    if (vrc == NGX_OK && u->failed->nelts == 0 && told && told->nelts) {
        ngx_memcpy(u->failed, told, sizeof(ngx_array_t));
    }

    if (vrc == NGX_ERROR && rc == NGX_DECLINED) {
        /* the tool's own failure says more (credentials, an RMI error) */
        ngx_cpystrn((u_char *) u->error, (u_char *) call->error,
                    sizeof(u->error));
        st->ox_failed = 1;
    }

    rc = vrc;

    if (w.sm) {
        /* NULL: the schema's database stayed away (rc is NGX_AGAIN) */
        ngx_http_oxmigrate_admin_ox_executed(u, w.sm, since);
    }

    if (rc == NGX_OK && u->lost) {
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the job was taken over by another worker while "
                     "runupdate ran on schema %s%Z", u->schema);
        rc = NGX_ERROR;
    }

done:

    if (w.cdb) {
        mysql_close(w.cdb);
    }

    if (w.sm && u->keep && mysql_errno(w.sm) < 2000) {
        u->conn = w.sm;

    } else if (w.sm) {
        mysql_close(w.sm);
    }

    return rc;
}
