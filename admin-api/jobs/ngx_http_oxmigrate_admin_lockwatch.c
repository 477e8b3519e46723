/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: watching OX's update locks
 * (oxmigrate_update_lock_watch INTERVAL).
 *
 * A schema is locked by a row of its updateTask table (LOCKED for blocking
 * updates, BACKGROUND for background ones) that the holder refreshes (every
 * 5 min on 7.10.x, every 20 s on 8.x: ox-facts 6); it is stale after the
 * upgraded node's idle time (lock_dead() in tasks.c: lock_idle= of
 * oxmigrate_ox_tools new).  When the holder dies (a node killed during
 * runupdate) the row stays: no update task runs there any more, OX's
 * checkdatabase says "Blocking updates running for too long", and only
 * unblockdatabase frees the schema.  Nothing else tells the operator.
 *
 * One worker (number 0) of the nginx that has the directive looks at every
 * schema configdb knows each INTERVAL, on the admin location's thread pool
 * (one connection per database, one small SELECT per schema), and puts
 * the counts into oxmigrate_metrics: oxmigrate_update_locks{lock,state},
 * the age of the oldest lock and the time of the last complete scan.
 * Each stale lock is also logged at "warn" with the schema's name.
 */


#include "ngx_http_oxmigrate_admin.h"


typedef struct {
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;
    ngx_http_oxmigrate_main_conf_t       *omcf;
    ngx_event_t                           timer;
    ngx_thread_task_t                    *task;
    ngx_log_t                            *log;

    /* the last scan: written by the thread, read after it is done */
    ngx_uint_t                            held[2];   /* blocking, bg */
    ngx_uint_t                            stale[2];
    int64_t                               oldest_ms;
    ngx_uint_t                            failures;
    ngx_uint_t                            complete;

    ngx_msec_t                            next;  /* the clock's, next scan */
} ngx_http_oxmigrate_lockwatch_t;


static void ngx_http_oxmigrate_admin_lockwatch_wait(
    ngx_http_oxmigrate_lockwatch_t *w, ngx_msec_t ms);
static void ngx_http_oxmigrate_admin_lockwatch_timer(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_lockwatch_thread(void *data,
    ngx_log_t *log);
static void ngx_http_oxmigrate_admin_lockwatch_host(
    ngx_http_oxmigrate_lockwatch_t *w, ngx_pool_t *pool, MYSQL *m,
    ngx_http_oxmigrate_schema_ref_t *s, ngx_uint_t n, int64_t now);
static void ngx_http_oxmigrate_admin_lockwatch_done(ngx_event_t *ev);


ngx_int_t
ngx_http_oxmigrate_admin_lockwatch_init_process(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    ngx_http_oxmigrate_lockwatch_t  *w;

    if (alcf == NULL
        || !(ngx_process == NGX_PROCESS_SINGLE
             || (ngx_process == NGX_PROCESS_WORKER && ngx_worker == 0)))
    {
        return NGX_OK;
    }

    w = ngx_pcalloc(cycle->pool, sizeof(ngx_http_oxmigrate_lockwatch_t));
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->task = ngx_thread_task_alloc(cycle->pool, 0);
    if (w->task == NULL) {
        return NGX_ERROR;
    }

    w->alcf = alcf;
    w->omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                                  ngx_http_oxmigrate_module);
    w->log = cycle->log;

    w->task->ctx = w;
    w->task->handler = ngx_http_oxmigrate_admin_lockwatch_thread;
    w->task->event.handler = ngx_http_oxmigrate_admin_lockwatch_done;
    w->task->event.data = w;
    w->task->event.log = cycle->log;

    w->timer.handler = ngx_http_oxmigrate_admin_lockwatch_timer;
    w->timer.data = w;
    w->timer.log = cycle->log;
    w->timer.cancelable = 1;

    /* the first look soon after the start, then every INTERVAL */
    ngx_http_oxmigrate_admin_lockwatch_wait(w, ngx_min(alcf->lock_watch,
                                                       1000));

    return NGX_OK;
}


/*
 * The next scan in ms of the modules' clock: with the tests' clock
 * (oxmigrate_test_clock) the timer looks at it every 100 ms, so that
 * moving the clock on starts the scan at once.
 */

static void
ngx_http_oxmigrate_admin_lockwatch_wait(ngx_http_oxmigrate_lockwatch_t *w,
    ngx_msec_t ms)
{
    w->next = ngx_http_oxmigrate_clock_msec() + ms;

    ngx_add_timer(&w->timer, ngx_http_oxmigrate_clock_faked()
                             ? ngx_min(ms, 100) : ms);
}


static void
ngx_http_oxmigrate_admin_lockwatch_timer(ngx_event_t *ev)
{
    ngx_http_oxmigrate_lockwatch_t  *w = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if ((ngx_msec_int_t) (w->next - ngx_http_oxmigrate_clock_msec()) > 0) {
        ngx_add_timer(&w->timer, 100);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "oxmigrate admin: update lock scan starts");

    if (ngx_thread_task_post(w->alcf->thread_pool, w->task) != NGX_OK) {
        ngx_http_oxmigrate_admin_lockwatch_wait(w, w->alcf->lock_watch);
    }
}


/* thread: every schema of configdb, database by database */

static void
ngx_http_oxmigrate_admin_lockwatch_thread(void *data, ngx_log_t *log)
{
    ngx_http_oxmigrate_lockwatch_t  *w = data;

    char                              err[256];
    MYSQL                            *m;
    int64_t                           now;
    ngx_uint_t                        i, j;
    ngx_pool_t                       *pool;
    ngx_array_t                      *all;
    ngx_http_oxmigrate_schema_ref_t  *s;

    ngx_http_oxmigrate_admin_thread_init();

    ngx_memzero(w->held, sizeof(w->held));
    ngx_memzero(w->stale, sizeof(w->stale));
    w->oldest_ms = 0;
    w->failures = 0;
    w->complete = 0;

    pool = ngx_create_pool(16384, log);
    if (pool == NULL) {
        w->failures++;
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb_connect(
            ngx_http_oxmigrate_admin_dcf(w->omcf), pool, err, sizeof(err));
    if (m == NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oxmigrate admin: update lock scan: configdb: %s", err);
        w->failures++;
        ngx_destroy_pool(pool);
        return;
    }

    if (ngx_http_oxmigrate_admin_all_schemas(m, pool, 0, &all) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oxmigrate admin: update lock scan: configdb: %s",
                      mysql_error(m));
        w->failures++;
        mysql_close(m);
        ngx_destroy_pool(pool);
        return;
    }

    now = ngx_http_oxmigrate_admin_now_ms();
    s = all->elts;

    /* all_schemas() sorts by database (db_pool_id) first */

    for (i = 0; i < all->nelts; i = j) {
        for (j = i; j < all->nelts && s[j].pool_id == s[i].pool_id; j++) {
            /* void */
        }

        ngx_http_oxmigrate_admin_lockwatch_host(w, pool, m, &s[i], j - i,
                                                now);
    }

    w->complete = 1;

    mysql_close(m);
    ngx_destroy_pool(pool);
}


/* thread: the schemas s[0..n-1] of one database */

static void
ngx_http_oxmigrate_admin_lockwatch_host(ngx_http_oxmigrate_lockwatch_t *w,
    ngx_pool_t *pool, MYSQL *m, ngx_http_oxmigrate_schema_ref_t *s,
    ngx_uint_t n, int64_t now)
{
    char                         err[256], *pname;
    MYSQL                       *sm;
    int64_t                      at[2], age;
    ngx_uint_t                   i, k;
    ngx_http_oxmigrate_dbhost_t  h;

    static const char  *what[] = { "LOCKED", "BACKGROUND" };

    if (ngx_http_oxmigrate_admin_pool_host(pool, m, s[0].pool_id, &h, &pname)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "oxmigrate admin: update lock scan: no db_pool %uL",
                      s[0].pool_id);
        w->failures++;
        return;
    }

    sm = ngx_http_oxmigrate_admin_connect(&h, NULL, 0, err, sizeof(err));
    if (sm == NULL) {
        ngx_log_error(NGX_LOG_WARN, w->log, 0,
                      "oxmigrate admin: update lock scan: database %uL: %s",
                      s[0].pool_id, err);
        w->failures++;
        return;
    }

    for (i = 0; i < n; i++) {
        switch (ngx_http_oxmigrate_admin_store_locks(sm, pool, s[i].name,
                                                     &at[0], &at[1]))
        {
        case NGX_OK:
            break;

        case NGX_DECLINED:
            continue;

        default:
            ngx_log_error(NGX_LOG_WARN, w->log, 0,
                          "oxmigrate admin: update lock scan: schema "
                          "\"%s\": %s", s[i].name, mysql_error(sm));
            w->failures++;
            continue;
        }

        for (k = 0; k < 2; k++) {
            if (at[k] == 0) {
                continue;
            }

            age = ngx_max(now - at[k], 0);
            w->oldest_ms = ngx_max(w->oldest_ms, age);

            if (!ngx_http_oxmigrate_admin_lock_dead(w->alcf, at[k], now)) {
                w->held[k]++;
                continue;
            }

            w->stale[k]++;

            ngx_log_error(NGX_LOG_WARN, w->log, 0,
                          "oxmigrate admin: schema \"%s\": OX's %s row "
                          "was not refreshed for %L s: its holder is gone, "
                          "no update runs there; unblockdatabase (POST "
                          "/databases/%uL/unblock) frees it",
                          s[i].name, what[k], age / 1000, s[i].pool_id);
        }
    }

    mysql_close(sm);
}


static void
ngx_http_oxmigrate_admin_lockwatch_done(ngx_event_t *ev)
{
    ngx_http_oxmigrate_lockwatch_t  *w = ev->data;

    ngx_log_debug5(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "oxmigrate admin: update lock scan: held %ui/%ui, "
                   "stale %ui/%ui, failures %ui",
                   w->held[0], w->held[1], w->stale[0], w->stale[1],
                   w->failures);

    ngx_http_oxmigrate_metrics_locks(w->held, w->stale,
                                     (ngx_msec_t) w->oldest_ms, w->failures,
                                     w->complete);

    if (!(ngx_exiting || ngx_terminate || ngx_quit)) {
        ngx_http_oxmigrate_admin_lockwatch_wait(w, w->alcf->lock_watch);
    }
}
