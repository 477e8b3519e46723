/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the bottom layer, below the module and the job
 * driver alike: posting work to a thread pool, a service's reason.
 * Nothing here knows a request, a job or SQL.
 */


#include "ngx_http_oxmigrate_admin.h"


/*
 * Work without a request (a job's step, a control read): handler runs on
 * tp, done on the event loop with ev->data = data.
 */

ngx_int_t
ngx_http_oxmigrate_admin_post(ngx_thread_pool_t *tp, ngx_pool_t *pool,
    void (*handler)(void *data, ngx_log_t *log),
    void (*done)(ngx_event_t *ev), void *data)
{
    ngx_thread_task_t  *task;

    task = ngx_thread_task_alloc(pool, 0);
    if (task == NULL) {
        return NGX_ERROR;
    }

    task->ctx = data;
    task->handler = handler;
    task->event.handler = done;
    task->event.data = data;
    task->event.log = ngx_cycle->log;

    return ngx_thread_task_post(tp, task);
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
 * which counts it in oxmigrate_metrics and logs (debug) a piece over
 * 1 ms with what it was.
 */

uint64_t
ngx_http_oxmigrate_admin_loop_start(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

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
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, log, 0,
                       "oxmigrate admin: %s held the event loop %uL us",
                       what, us);
    }
}
