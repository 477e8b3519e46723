/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the bottom layer, below the module and the job
 * driver alike: posting work to a thread pool, a service's reason.
 * Nothing here knows a request, a job or SQL.
 */


#include "ngx_http_oxmigrate_admin.h"


/* posted work: its event-loop end, timed */
typedef struct {
    void                      (*done)(ngx_event_t *ev);
    void                       *data;
} ngx_http_oxmigrate_admin_posted_t;


static void ngx_http_oxmigrate_admin_posted_done(ngx_event_t *ev);


/*
 * Work without a request (a job's step, a control read): handler runs on
 * tp, done on the event loop with ev->data = data, its time counted as
 * the admin API's on the event loop.
 */

ngx_int_t
ngx_http_oxmigrate_admin_post(ngx_thread_pool_t *tp, ngx_pool_t *pool,
    void (*handler)(void *data, ngx_log_t *log),
    void (*done)(ngx_event_t *ev), void *data)
{
    ngx_thread_task_t                  *task;
    ngx_http_oxmigrate_admin_posted_t  *p;

    task = ngx_thread_task_alloc(pool, 0);
    p = ngx_palloc(pool, sizeof(ngx_http_oxmigrate_admin_posted_t));
    if (task == NULL || p == NULL) {
        return NGX_ERROR;
    }

    p->done = done;
    p->data = data;

    task->ctx = data;
    task->handler = handler;
    task->event.handler = ngx_http_oxmigrate_admin_posted_done;
    task->event.data = p;
    task->event.log = ngx_cycle->log;

    return ngx_thread_task_post(tp, task);
}


static void
ngx_http_oxmigrate_admin_posted_done(ngx_event_t *ev)
{
    uint64_t                            t0;
    ngx_http_oxmigrate_admin_posted_t  *p = ev->data;

    t0 = ngx_http_oxmigrate_admin_loop_start();

    ev->data = p->data;
    p->done(ev);

    /* p and ev may be gone with the job's pool */
    ngx_http_oxmigrate_admin_loop_end(t0, "a job's event", ngx_cycle->log);
}


ngx_int_t
ngx_http_oxmigrate_admin_fail(ngx_http_oxmigrate_admin_res_t *res,
    ngx_int_t rc, const char *reason, const char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    res->reason = reason;

    va_start(args, fmt);
    p = ngx_vslprintf((u_char *) res->msg,
                      (u_char *) res->msg + sizeof(res->msg) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    return rc;
}


/*
 * The admin API's own time on the event loop (issue 18: at most 1 ms a
 * piece): a piece starts with loop_start() and ends with loop_end(),
 * which counts it in oxmigrate_metrics and logs (info) a piece over
 * 1 ms with what it was.  The time is the CPU time of the worker's
 * thread, its own work: time the kernel gave other processes meanwhile
 * (two cores shared with MariaDB and the pool's threads) is not the
 * handler's.
 */

uint64_t
ngx_http_oxmigrate_admin_loop_start(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


void
ngx_http_oxmigrate_admin_loop_end(uint64_t start, const char *what,
    ngx_log_t *log)
{
    uint64_t  us;

    us = ngx_http_oxmigrate_admin_loop_start() - start;

    ngx_http_oxmigrate_metrics_admin_loop((ngx_uint_t) us);

    if (us > 1000) {
        ngx_log_error(NGX_LOG_INFO, log, 0,
                      "oxmigrate admin: %s held the event loop %uL us",
                      what, us);
    }
}
