/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the update-task runner of the SQL path: the *.sql
 * tasks of oxmigrate_update_tasks in a schema's own database, under OX's
 * LOCKED row, refreshed by a helper thread (..._refresher.c); each task
 * with its updateTask row in one transaction (..._taskrun.c).  A server
 * that goes away is waited for, never a failed schema.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/* reconnects of one run before it gives up (interrupted) */
#define NGX_HTTP_OXMIGRATE_RUNNER_BACK  8


static MYSQL *ngx_http_oxmigrate_admin_runner_connect(
    ngx_http_oxmigrate_update_t *u, unsigned int *e);
static MYSQL *ngx_http_oxmigrate_admin_runner_reach(
    ngx_http_oxmigrate_update_t *u, int64_t end, ngx_uint_t *gone);
static MYSQL *ngx_http_oxmigrate_admin_runner_back(
    ngx_http_oxmigrate_update_t *u, ngx_http_oxmigrate_refresher_t *rf,
    MYSQL *m);
static ngx_int_t ngx_http_oxmigrate_admin_runner_lock(
    ngx_http_oxmigrate_update_t *u, MYSQL *m, int64_t now, int64_t mine);
static ngx_int_t ngx_http_oxmigrate_admin_runner_wait(
    ngx_http_oxmigrate_update_t *u, MYSQL *m, int64_t *now);
static ngx_int_t ngx_http_oxmigrate_admin_runner_tasks(
    ngx_http_oxmigrate_update_t *u, ngx_http_oxmigrate_refresher_t *rf,
    MYSQL *m, int64_t *only_at);
static void ngx_http_oxmigrate_admin_runner_unlock(
    ngx_http_oxmigrate_update_t *u, ngx_http_oxmigrate_refresher_t *rf,
    MYSQL *m, int64_t last);


/* the runner (thread) */

/* the schema's database, with OX's updateTask; NULL: u->error says why */

static MYSQL *
ngx_http_oxmigrate_admin_runner_connect(ngx_http_oxmigrate_update_t *u,
    unsigned int *e)
{
    char    err[512];
    MYSQL  *m;

    *e = 0;

    /*
     * A job lends the connection of the previous schema on this host: a
     * reset (a task may have changed session variables) and a USE are
     * cheaper than a new login.
     */

    m = u->conn;
    u->conn = NULL;

    if (m && (mysql_reset_connection(m) != 0
              || mysql_select_db(m, u->schema) != 0))
    {
        mysql_close(m);
        m = NULL;
    }

    if (m == NULL) {
        m = ngx_http_oxmigrate_admin_connect(u->host, u->schema,
                                             CLIENT_MULTI_STATEMENTS
                                             |CLIENT_FOUND_ROWS,
                                             err, sizeof(err));
    }

    if (m == NULL) {
        *e = ngx_http_oxmigrate_admin_connect_error();
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "schema %s on %s:%ud: %s%Z", u->schema, u->host->host,
                     u->host->port, err);
        return NULL;
    }

    if (ngx_http_oxmigrate_admin_store_task_table(m, u->pool, u->schema)
        != NGX_OK)
    {
        *e = mysql_errno(m);
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "schema %s: %s%Z", u->schema, mysql_error(m));
        mysql_close(m);
        return NULL;
    }

    return m;
}


/*
 * The schema's database, also when it is away for a moment (a restart):
 * a connection every half second until "end".  NULL: u->error says why;
 * *gone: the server stayed away (else it refused us: access, no such
 * database).
 */

static MYSQL *
ngx_http_oxmigrate_admin_runner_reach(ngx_http_oxmigrate_update_t *u,
    int64_t end, ngx_uint_t *gone)
{
    MYSQL         *m;
    ngx_uint_t     told;
    unsigned int   e;

    told = 0;

    for ( ;; ) {
        m = ngx_http_oxmigrate_admin_runner_connect(u, &e);
        if (m) {
            *gone = 0;
            return m;
        }

        *gone = ngx_http_oxmigrate_admin_gone(e);

        if (!*gone || ngx_terminate
            || ngx_http_oxmigrate_admin_now_ms() >= end)
        {
            return NULL;
        }

        if (!told) {
            told = 1;
            ngx_log_error(NGX_LOG_WARN, u->log, 0,
                          "oxmigrate admin: %s, trying again for up to "
                          "%L ms", u->error,
                          end - ngx_http_oxmigrate_admin_now_ms());
        }

        ngx_msleep(500);
    }
}


/*
 * OX's LOCKED row: inserted (the fixed uuid makes it atomic), or taken
 * over when its holder stopped refreshing.  NGX_OK: ours; NGX_BUSY: a live
 * lock (UPD-0003); NGX_ERROR: u->error says why.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_runner_lock(ngx_http_oxmigrate_update_t *u,
    MYSQL *m, int64_t now, int64_t mine)
{
    int64_t  rc;

    /* acquire: the fixed uuid makes the INSERT atomic */

    rc = ngx_http_oxmigrate_admin_store_lock(m, u->pool, u->schema, now);

    if (rc < 0) {
        if (mysql_errno(m) != 1062) {
            goto failed;
        }

        /*
         * held: take it over only if its holder stopped refreshing, or
         * if it is the one our INSERT made before the connection broke
         * ("mine": its lastModified, -1: none)
         */

        rc = ngx_http_oxmigrate_admin_store_lock_takeover(m, u->pool,
                 u->schema, now, now - (int64_t) u->alcf->lock_idle, mine);
        if (rc < 0) {
            goto failed;
        }

        if (rc == 0) {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "Update conflict detected. Another process is "
                         "currently updating schema %s.%Z", u->schema);
            return NGX_BUSY;
        }

        ngx_log_error(NGX_LOG_WARN, u->log, 0,
                      "oxmigrate admin: took over the dead update lock "
                      "of schema %s", u->schema);
    }

    return NGX_OK;

failed:

    ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                 "schema %s: %s%Z", u->schema, mysql_error(m));
    return NGX_ERROR;
}


/*
 * A job's step found the LOCKED row held (UPD-0003): often the row of its
 * own previous run, whose worker was killed a moment ago and which is not
 * idle long enough yet.  A holder that lives refreshes it; one that does
 * not refresh it for oxmigrate_update_lock_idle is dead and its lock is
 * taken over.  So wait for one or the other instead of failing the schema.
 * NGX_OK: ours (*now its lastModified); NGX_BUSY: refreshed, alive.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_runner_wait(ngx_http_oxmigrate_update_t *u,
    MYSQL *m, int64_t *now)
{
    int64_t     first, last, end;
    ngx_int_t   rc;

    first = -1;
    end = ngx_http_oxmigrate_admin_now_ms() + (int64_t) u->alcf->lock_idle
          + 1000;

    for ( ;; ) {
        if (ngx_http_oxmigrate_admin_store_lock_read(m, u->pool, u->schema,
                                                     &last)
            != NGX_OK)
        {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "schema %s: %s%Z", u->schema, mysql_error(m));
            return NGX_ERROR;
        }

        if (first == -1) {
            first = last;
            ngx_log_error(NGX_LOG_NOTICE, u->log, 0,
                          "oxmigrate admin: the update lock of schema %s is "
                          "held: if it is not refreshed within "
                          "oxmigrate_update_lock_idle, it is dead and taken "
                          "over", u->schema);

        } else if (last != first && last != 0) {
            /* refreshed: another runner lives (u->error says so) */
            return NGX_BUSY;
        }

        if (ngx_http_oxmigrate_admin_now_ms() >= end || ngx_terminate) {
            return NGX_BUSY;
        }

        ngx_msleep(500);

        *now = ngx_http_oxmigrate_admin_now_ms();

        rc = ngx_http_oxmigrate_admin_runner_lock(u, m, *now, -1);
        if (rc != NGX_BUSY) {
            if (rc == NGX_OK) {
                ngx_log_error(NGX_LOG_NOTICE, u->log, 0,
                              "oxmigrate admin: the update lock of schema "
                              "%s is not refreshed any more: taken over",
                              u->schema);
            }

            return rc;
        }
    }
}


/*
 * A run of a schema's tasks, in the face of faults: the schema's database
 * may go away at any moment (a restart, a kill -9).  A task's row in
 * updateTask is committed with the task (run_task), so what is recorded
 * is done; the runner reconnects for up to oxmigrate_update_lock_idle,
 * finds its LOCKED row still its own and goes on with the tasks not
 * recorded.  A server that stays away: NGX_AGAIN, nothing failed (the job
 * is interrupted and resumed later).  NGX_BUSY: a live lock of another
 * runner; NGX_ERROR: u->error says why.
 */

ngx_int_t
ngx_http_oxmigrate_admin_update_run(ngx_http_oxmigrate_update_t *u)
{
    MYSQL                           *m;
    int64_t                          now, mine, only_at;
    ngx_int_t                        ret, rc;
    ngx_uint_t                       started, gone, try;
    ngx_http_oxmigrate_refresher_t  *rf;

    u->executed = ngx_array_create(u->pool, 8, sizeof(char *));
    u->failed = ngx_array_create(u->pool, 4, sizeof(char *));
    if (u->executed == NULL || u->failed == NULL) {
        return NGX_ERROR;
    }

    mine = -1;

    for (try = 0; /* void */; try++) {
        m = ngx_http_oxmigrate_admin_runner_reach(u,
                ngx_http_oxmigrate_admin_now_ms()
                + (int64_t) u->alcf->lock_idle, &gone);
        if (m == NULL) {
            return gone ? NGX_AGAIN : NGX_ERROR;
        }

        now = ngx_http_oxmigrate_admin_now_ms();

        rc = ngx_http_oxmigrate_admin_runner_lock(u, m, now, mine);

        if (rc == NGX_BUSY && u->job_id) {
            rc = ngx_http_oxmigrate_admin_runner_wait(u, m, &now);
        }

        if (rc == NGX_OK) {
            break;
        }

        gone = (rc == NGX_ERROR
                && ngx_http_oxmigrate_admin_gone(mysql_errno(m)));
        mysql_close(m);

        if (!gone || try == 1) {
            return gone ? NGX_AGAIN : rc;
        }

        /* lost while taking the lock: it may be ours, with this time */
        mine = now;
    }

    /* the refresher: OX's refreshIntervalMillis, and the job's heartbeat */
    rf = ngx_http_oxmigrate_admin_refresher_start(u, now);
    started = (rf != NULL);

    if (!started) {
        /* without a refresh our lock would look dead: do not run */
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "cannot start the lock refresher%Z");
        ret = NGX_ERROR;

    } else {
        only_at = 0;

        for (try = 0; /* void */; try++) {
            ret = ngx_http_oxmigrate_admin_runner_tasks(u, rf, m, &only_at);
            if (ret != NGX_AGAIN) {
                break;
            }

            if (try == NGX_HTTP_OXMIGRATE_RUNNER_BACK) {
                /* a server that keeps going away: stop (resumable) */
                mysql_close(m);
                m = NULL;
                break;
            }

            /* the server went away: back, or given up (m NULL) */
            m = ngx_http_oxmigrate_admin_runner_back(u, rf, m);
            if (m == NULL) {
                ret = u->lost ? NGX_ERROR : NGX_AGAIN;
                break;
            }
        }
    }

    ngx_http_oxmigrate_admin_runner_unlock(u, rf, m, now);

    /* a lost lock is an error wherever it is noticed, also after the last
     * task: another runner may have run tasks at the same time */
    if (u->lost && ret == NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, u->log, 0,
                      "oxmigrate admin: the update lock of schema %s was "
                      "taken over by another process during the update",
                      u->schema);
        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "the update lock of schema %s was taken over by "
                     "another process during the update%Z", u->schema);
        ret = NGX_ERROR;
    }

    if (m == NULL) {
        /* given up */

    } else if (u->keep && mysql_errno(m) < 2000) {
        u->conn = m;

    } else {
        mysql_close(m);
    }

    return ret;
}


/*
 * The tasks not recorded yet, in order.  NGX_AGAIN: the server went away
 * (what was recorded is done, the rest runs after a reconnect); *only_at:
 * when a forced task started (0: not yet), so that a reconnect does not
 * run it a second time once its row says it is done.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_runner_tasks(ngx_http_oxmigrate_update_t *u,
    ngx_http_oxmigrate_refresher_t *rf, MYSQL *m, int64_t *only_at)
{
    char                               err[512], **name;
    ngx_int_t                          rc;
    ngx_uint_t                         i, n, ok;
    ngx_http_oxmigrate_task_t         *t, **todo;
    ngx_http_oxmigrate_executed_t     *e;
    ngx_http_oxmigrate_schema_state_t  st;

    /* what to run: read before autocommit goes off (no snapshot kept) */

    if (ngx_http_oxmigrate_admin_schema_state(u->alcf, m, u->pool, u->schema,
                                              &st)
        != NGX_OK)
    {
        goto failed;
    }

    n = u->alcf->tasks ? u->alcf->tasks->nelts : 0;
    todo = ngx_pcalloc(u->pool, (n + 1) * sizeof(ngx_http_oxmigrate_task_t *));
    if (todo == NULL) {
        return NGX_ERROR;
    }

    if (u->only) {
        e = *only_at ? ngx_http_oxmigrate_admin_executed(&st, &u->only->name)
                     : NULL;

        if (e && e->last_modified >= *only_at) {
            /* its run committed before the server went away */
            name = ngx_array_push(e->successful ? u->executed : u->failed);
            if (name == NULL) {
                return NGX_ERROR;
            }

            *name = e->name;
            return NGX_OK;
        }

        todo[0] = u->only;
        n = 1;
        *only_at = ngx_http_oxmigrate_admin_now_ms();

    } else {
        t = n ? u->alcf->tasks->elts : NULL;
        n = 0;

        for (i = 0; u->alcf->tasks && i < u->alcf->tasks->nelts; i++) {
            if (ngx_http_oxmigrate_admin_executed(&st, &t[i].name) == NULL
                && ngx_http_oxmigrate_admin_excluded(u->alcf, &t[i], u->pool)
                   == NULL)
            {
                todo[n++] = &t[i];
            }
        }
    }

    /* each task's statements and its row: one transaction (run_task) */
    if (n && ngx_http_oxmigrate_admin_store_tasks_begin(m, u->pool)
             != NGX_OK)
    {
        goto failed;
    }

    for (i = 0; i < n; i++) {

        u->lost = ngx_http_oxmigrate_admin_refresher_lost(rf);

        if (u->lost) {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "the update lock of schema %s was taken over by "
                         "another process%Z", u->schema);
            return NGX_ERROR;
        }

        rc = ngx_http_oxmigrate_admin_run_task(u, m, todo[i], &ok, err,
                                               sizeof(err));
        if (rc == NGX_AGAIN) {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "during task %V: %s%Z", &todo[i]->name,
                         mysql_error(m));
            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "after task %V: %s%Z", &todo[i]->name,
                         mysql_error(m));
            return NGX_ERROR;
        }

        if (!ok) {
            ngx_log_error(NGX_LOG_WARN, u->log, 0,
                          "oxmigrate admin: update task %V failed on "
                          "schema %s: %s", &todo[i]->name, u->schema, err);
        }

        name = ngx_array_push(ok ? u->executed : u->failed);
        if (name == NULL) {
            return NGX_ERROR;
        }

        *name = ngx_http_oxmigrate_admin_strndup(u->pool, todo[i]->name.data,
                                                 todo[i]->name.len);
        if (*name == NULL) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;

failed:

    ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1, "schema %s: %s%Z",
                 u->schema, mysql_error(m));

    return ngx_http_oxmigrate_admin_gone(mysql_errno(m)) ? NGX_AGAIN
                                                         : NGX_ERROR;
}


/*
 * The server went away during the run: a new connection (for up to
 * oxmigrate_update_lock_idle), and our LOCKED row refreshed on it, which
 * proves it is still ours (nobody takes it over while the server is away;
 * after it is back, only once the idle time has passed since our last
 * refresh).  NULL: given up (u->error), or the lock is another's
 * (u->lost); m is closed either way.
 */

static MYSQL *
ngx_http_oxmigrate_admin_runner_back(ngx_http_oxmigrate_update_t *u,
    ngx_http_oxmigrate_refresher_t *rf, MYSQL *m)
{
    char        why[sizeof(u->error)];
    int64_t     end, rc;
    ngx_uint_t  gone;

    ngx_log_error(NGX_LOG_WARN, u->log, 0,
                  "oxmigrate admin: the database of schema %s went away "
                  "(%s): reconnecting, the tasks not recorded run then",
                  u->schema, u->error);

    ngx_cpystrn((u_char *) why, (u_char *) u->error, sizeof(why));
    mysql_close(m);

    end = ngx_http_oxmigrate_admin_now_ms() + (int64_t) u->alcf->lock_idle;

    for ( ;; ) {
        m = ngx_http_oxmigrate_admin_runner_reach(u, end, &gone);
        if (m == NULL) {
            if (gone) {
                ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                             "the database of schema %s went away %s and "
                             "stayed away: interrupted, its tasks not "
                             "recorded run when the job is resumed%Z",
                             u->schema, why);
            }

            return NULL;
        }

        rc = ngx_http_oxmigrate_admin_refresher_reclaim(rf, m, u->pool);

        if (rc == 1) {
            ngx_log_error(NGX_LOG_NOTICE, u->log, 0,
                          "oxmigrate admin: the database of schema %s is "
                          "back, the update goes on", u->schema);
            return m;
        }

        if (rc == 0) {
            u->lost = 1;
            ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                         "the update lock of schema %s was taken over by "
                         "another process while its database was away%Z",
                         u->schema);
            mysql_close(m);
            return NULL;
        }

        ngx_snprintf((u_char *) u->error, sizeof(u->error) - 1,
                     "schema %s: %s%Z", u->schema, mysql_error(m));
        gone = ngx_http_oxmigrate_admin_gone(mysql_errno(m));
        mysql_close(m);

        if (!gone) {
            return NULL;
        }

        /* away again */
    }
}


/*
 * The end of a run: the refresher stopped, our LOCKED row deleted (m
 * NULL: the server stayed away; one more try, else the row stays and
 * turns dead by the idle rule, which has passed by then).
 */

static void
ngx_http_oxmigrate_admin_runner_unlock(ngx_http_oxmigrate_update_t *u,
    ngx_http_oxmigrate_refresher_t *rf, MYSQL *m, int64_t last)
{
    char           why[sizeof(u->error)];
    MYSQL         *own;
    int64_t        rc;
    unsigned int   e;

    if (rf) {
        /* stopped and joined: its last refresh is the lock's value */
        last = ngx_http_oxmigrate_admin_refresher_stop(rf, &u->lost);
    }

    /* one more try, without losing why it was given up */
    ngx_cpystrn((u_char *) why, (u_char *) u->error, sizeof(why));
    own = m ? m : ngx_http_oxmigrate_admin_runner_connect(u, &e);
    ngx_cpystrn((u_char *) u->error, (u_char *) why, sizeof(why));

    if (!u->lost && own) {
        /* autocommit back on (the connection may serve the next schema) */
        rc = ngx_http_oxmigrate_admin_store_unlock_end(own, u->pool,
                                                       u->schema, last);

        if (rc < 0) {
            ngx_log_error(NGX_LOG_ERR, u->log, 0,
                          "oxmigrate admin: unlocking schema %s failed: %s",
                          u->schema, mysql_error(own));

        } else if (rc == 0 && rf) {
            /* not ours any more: taken over after the last refresh */
            u->lost = 1;
        }

    } else if (!u->lost) {
        ngx_log_error(NGX_LOG_ERR, u->log, 0,
                      "oxmigrate admin: the update lock of schema %s stays "
                      "until it is idle for oxmigrate_update_lock_idle: "
                      "%s", u->schema, u->error);
    }

    if (own && own != m) {
        mysql_close(own);
    }
}
