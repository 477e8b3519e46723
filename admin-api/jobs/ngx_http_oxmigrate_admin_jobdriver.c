/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the job driver (event loop).  The worker that
 * created or resumed a job posts one thread-pool step per schema
 * (ngx_http_oxmigrate_admin_jobsteps.c), at most "parallel" at once and
 * never two on one database host, and picks the next one when a step
 * completes: from a queue per host, in O(hosts) per step, whatever the
 * number of schemas.  Nothing here blocks.
 */


#include "ngx_http_oxmigrate_admin_job.h"


static ngx_int_t ngx_http_oxmigrate_admin_job_hosts(
    ngx_http_oxmigrate_job_t *job);
static void ngx_http_oxmigrate_admin_job_schedule(
    ngx_http_oxmigrate_job_t *job);
static void ngx_http_oxmigrate_admin_job_step_done(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_job_finish_done(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_job_metrics(ngx_http_oxmigrate_job_t *job);
static void ngx_http_oxmigrate_admin_job_free_later(
    ngx_http_oxmigrate_job_t *job);
static void ngx_http_oxmigrate_admin_job_pool_free(void *data,
    ngx_log_t *log);
static void ngx_http_oxmigrate_admin_job_pool_freed(ngx_event_t *ev);


void
ngx_http_oxmigrate_admin_job_free(void *data)
{
    ngx_http_oxmigrate_job_t  *job = data;

    if (job->keepalive.timer_set) {
        ngx_del_timer(&job->keepalive);
    }

    ngx_http_oxmigrate_admin_ox_excluded_free(job->excluded);
    ngx_destroy_pool(job->pool);
}


/*
 * A timer that is not cancelable keeps a worker that is told to quit (on
 * reload) alive until the running steps are done, so the job is recorded
 * "interrupted" at once instead of after the idle time.
 */

static void ngx_http_oxmigrate_admin_job_poll_done(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_job_poll_done_run(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_job_keepalive_run(ngx_event_t *ev);


/*
 * Every second the driver also polls configdb (thread): a pause, a cancel
 * or a new parallel take effect before the next schema starts, and the
 * heartbeat stays fresh while nothing runs.  One task, allocated once and
 * posted again each time: a job that waits days for its window does not
 * grow its pool.
 */

/* timed: the admin API's time on the event loop */

static void
ngx_http_oxmigrate_admin_job_keepalive(ngx_event_t *ev)
{
    uint64_t  t0;

    t0 = ngx_http_oxmigrate_admin_loop_start();
    ngx_http_oxmigrate_admin_job_keepalive_run(ev);
    ngx_http_oxmigrate_admin_loop_end(t0, "a job's timer", ngx_cycle->log);
}


static void
ngx_http_oxmigrate_admin_job_keepalive_run(ngx_event_t *ev)
{
    ngx_http_oxmigrate_job_t       *job = ev->data;
    ngx_http_oxmigrate_job_step_t  *step;

    ngx_add_timer(ev, 1000);

    /* the gauges of a schema that runs for hours move every second */
    ngx_http_oxmigrate_admin_job_metrics(job);

    if (job->polling || job->finishing || job->schemas.nelts == 0) {
        return;
    }

    if (job->poll_task == NULL) {
        step = ngx_pcalloc(job->pool, sizeof(ngx_http_oxmigrate_job_step_t));
        job->poll_task = ngx_thread_task_alloc(job->pool, 0);
        if (step == NULL || job->poll_task == NULL) {
            job->poll_task = NULL;
            return;
        }

        step->job = job;
        step->s = job->schemas.elts;

        job->poll_task->ctx = step;
        job->poll_task->handler = ngx_http_oxmigrate_admin_job_poll;
        job->poll_task->event.handler = ngx_http_oxmigrate_admin_job_poll_done;
        job->poll_task->event.data = step;
        job->poll_task->event.log = ngx_cycle->log;
    }

    step = job->poll_task->ctx;
    step->m = NULL;
    step->control = NGX_HTTP_OXMIGRATE_C_RUN;
    step->parallel = 0;

    if (job->conns.nelts) {
        job->conns.nelts--;
        step->m = ((MYSQL **) job->conns.elts)[job->conns.nelts];
    }

    job->poll_since = job->steps_done;

    if (ngx_thread_task_post(job->alcf->thread_pool, job->poll_task)
        != NGX_OK)
    {
        if (step->m) {
            job->conns.nelts++;
        }

        return;
    }

    job->polling = 1;
}


/* timed: the admin API's time on the event loop */

static void
ngx_http_oxmigrate_admin_job_poll_done(ngx_event_t *ev)
{
    uint64_t  t0;

    t0 = ngx_http_oxmigrate_admin_loop_start();
    ngx_http_oxmigrate_admin_job_poll_done_run(ev);
    ngx_http_oxmigrate_admin_loop_end(t0, "a job's control read", ngx_cycle->log);
}


static void
ngx_http_oxmigrate_admin_job_poll_done_run(ngx_event_t *ev)
{
    ngx_http_oxmigrate_job_step_t  *step = ev->data;

    ngx_http_oxmigrate_job_t  *job = step->job;

    MYSQL  **m;

    job->polling = 0;

    if (step->m) {
        m = ngx_array_push(&job->conns);
        if (m) {
            *m = step->m;

        } else {
            mysql_close(step->m);
        }
    }

    if (job->poll_rc == NGX_DECLINED) {
        job->stop = 1;
        job->lost = 1;

    } else if (job->poll_rc == NGX_OK && job->poll_since == job->steps_done) {
        /*
         * Only when no step ended meanwhile: a step's end read control
         * after this poll did (a canary's pause it set itself), so the
         * poll's older answer must not undo it.
         */

        job->control = job->poll_control;

        if (job->poll_parallel) {
            job->parallel = job->poll_parallel;
        }

        job->win_start = job->poll_win_start;
        job->win_end = job->poll_win_end;
        job->minute = job->poll_minute;
    }

    ngx_http_oxmigrate_admin_job_schedule(job);
}


void
ngx_http_oxmigrate_admin_job_start(void *data)
{
    ngx_http_oxmigrate_job_t  *job = data;

    ngx_log_error(NGX_LOG_NOTICE, job->log, 0,
                  "oxmigrate admin: job %uL starts, %ui schemas, parallel %ui",
                  job->id, job->schemas.nelts, job->parallel);

    job->keepalive.handler = ngx_http_oxmigrate_admin_job_keepalive;
    job->keepalive.data = job;
    job->keepalive.log = job->log;
    ngx_add_timer(&job->keepalive, 1000);

    ngx_http_oxmigrate_admin_job_schedule(job);
}


/*
 * Thread, before the job starts: its database hosts by address and a
 * queue per host.  O(schemas): at 5000 schemas this held the event loop
 * about 1.8 ms when job_start() did it.
 */

void
ngx_http_oxmigrate_admin_job_prepare(void *data)
{
    ngx_http_oxmigrate_job_t  *job = data;

    ngx_http_oxmigrate_admin_job_resolve(job);

    if (ngx_http_oxmigrate_admin_job_hosts(job) != NGX_OK) {
        job->stop = 1;
        job->interrupted = 1;
    }
}


/*
 * The hosts of the pending schemas and a queue per host, in run order
 * (the schemas are in run order already).  Schemas of one host mostly
 * follow each other (they are ordered by database), so the host of the
 * previous schema is tried first.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_job_hosts(ngx_http_oxmigrate_job_t *job)
{
    ngx_uint_t                        i, k, last;
    ngx_http_oxmigrate_job_host_t    *h;
    ngx_http_oxmigrate_job_schema_t  *js;

    js = job->schemas.elts;
    last = 0;
    job->pending = 0;

    for (i = 0; i < job->schemas.nelts; i++) {
        h = job->hosts.elts;

        /* by address (job_resolve): 127.1 and 127.0.0.1 are one host */
        if (js[i].addr == NULL) {
            js[i].addr = js[i].host;
        }

        if (job->hosts.nelts && ngx_strcmp(h[last].host, js[i].addr) == 0) {
            k = last;

        } else {
            for (k = 0; k < job->hosts.nelts; k++) {
                if (ngx_strcmp(h[k].host, js[i].addr) == 0) {
                    break;
                }
            }

            if (k == job->hosts.nelts) {
                h = ngx_array_push(&job->hosts);
                if (h == NULL) {
                    return NGX_ERROR;
                }

                ngx_memzero(h, sizeof(ngx_http_oxmigrate_job_host_t));
                h->host = js[i].addr;
            }
        }

        last = k;
        js[i].hidx = k;

        if (js[i].state == NGX_HTTP_OXMIGRATE_S_PENDING) {
            ((ngx_http_oxmigrate_job_host_t *) job->hosts.elts)[k].n++;
            job->pending++;
        }
    }

    h = job->hosts.elts;

    for (k = 0; k < job->hosts.nelts; k++) {
        h[k].queue = ngx_palloc(job->pool, (h[k].n + 1) * sizeof(ngx_uint_t));
        if (h[k].queue == NULL) {
            return NGX_ERROR;
        }

        h[k].n = 0;
    }

    for (i = 0; i < job->schemas.nelts; i++) {
        if (js[i].state == NGX_HTTP_OXMIGRATE_S_PENDING) {
            h[js[i].hidx].queue[h[js[i].hidx].n++] = i;
        }
    }

    return NGX_OK;
}


/* inside the job's time window (or none): a schema may start */

static ngx_uint_t
ngx_http_oxmigrate_admin_job_open(ngx_http_oxmigrate_job_t *job)
{
    ngx_int_t  m;

    if (job->win_start < 0) {
        return 1;
    }

    m = job->alcf->job_clock.len
        ? job->minute
        : (ngx_int_t) (((ngx_http_oxmigrate_clock_time()
                         + job->alcf->job_utc_offset) % 86400
                        + 86400) % 86400) / 60;

    return ngx_http_oxmigrate_admin_job_inside(job->win_start, job->win_end,
                                               m);
}


/* the free host whose next schema comes first: O(hosts) */

static ngx_http_oxmigrate_job_host_t *
ngx_http_oxmigrate_admin_job_next(ngx_http_oxmigrate_job_t *job)
{
    ngx_uint_t                      k;
    ngx_http_oxmigrate_job_host_t  *h, *best;

    h = job->hosts.elts;
    best = NULL;

    for (k = 0; k < job->hosts.nelts; k++) {
        if (h[k].busy || h[k].next == h[k].n) {
            continue;
        }

        if (best == NULL || h[k].queue[h[k].next] < best->queue[best->next]) {
            best = &h[k];
        }
    }

    return best;
}


static void
ngx_http_oxmigrate_admin_job_schedule(ngx_http_oxmigrate_job_t *job)
{
    ngx_uint_t                        i;
    ngx_http_oxmigrate_job_host_t    *h;
    ngx_http_oxmigrate_job_step_t    *step;
    ngx_http_oxmigrate_job_schema_t  *js;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        /* reload or stop: leave the rest to a resume */
        job->stop = 1;
        job->interrupted = 1;
    }

    js = job->schemas.elts;

    while (!job->stop && job->control == NGX_HTTP_OXMIGRATE_C_RUN
           && job->running < job->parallel
           && ngx_http_oxmigrate_admin_job_open(job))
    {

        h = ngx_http_oxmigrate_admin_job_next(job);
        if (h == NULL) {
            break;
        }

        i = h->queue[h->next];

        step = ngx_pcalloc(job->pool, sizeof(ngx_http_oxmigrate_job_step_t));
        if (step == NULL) {
            job->stop = 1;
            job->interrupted = 1;
            break;
        }

        step->job = job;
        step->s = &js[i];

        /* configdb connections go from step to step (never two at once) */
        if (job->conns.nelts) {
            job->conns.nelts--;
            step->m = ((MYSQL **) job->conns.elts)[job->conns.nelts];
        }

        step->sm = h->m;
        h->m = NULL;
        step->excluded = job->excluded;
        job->excluded = NULL;
        step->started = ngx_current_msec;
        step->s->started = step->started;

        /* steps on their own pool: the API's threads stay free for
         * GET /jobs/{id}, pause and cancel */
        if (ngx_http_oxmigrate_admin_post(job->alcf->job_pool, job->pool,
                                  ngx_http_oxmigrate_admin_job_step,
                                  ngx_http_oxmigrate_admin_job_step_done, step)
            != NGX_OK)
        {
            ngx_log_error(NGX_LOG_ERR, job->log, 0,
                          "oxmigrate admin: job %uL: cannot post a step",
                          job->id);

            if (step->m) {
                job->conns.nelts++;
            }

            h->m = step->sm;
            job->excluded = step->excluded;
            job->stop = 1;
            job->interrupted = 1;
            break;
        }

        h->next++;
        h->busy = 1;
        js[i].state = NGX_HTTP_OXMIGRATE_S_RUNNING;
        job->running++;
        job->pending--;
    }

    if (job->running || job->polling || job->finishing) {
        return;
    }

    if (job->pending && !job->stop
        && job->control == NGX_HTTP_OXMIGRATE_C_RUN
        && !ngx_http_oxmigrate_admin_job_open(job))
    {
        /* outside its time window: it waits (the poll beats, and asks) */
        return;
    }

    if (job->pending && !job->stop
        && job->control != NGX_HTTP_OXMIGRATE_C_RUN)
    {
        /* paused or cancelled: the job ends so (jobsteps.c) */
        job->stop = 1;
    }

    if (job->pending && !job->stop) {
        /* cannot happen: nothing runs, so no host is busy */
        job->stop = 1;
        job->interrupted = 1;
    }

    job->finishing = 1;

    if (ngx_http_oxmigrate_admin_post(job->alcf->thread_pool, job->pool,
                                      ngx_http_oxmigrate_admin_job_finish,
                                      ngx_http_oxmigrate_admin_job_finish_done,
                                      job)
        != NGX_OK)
    {
        /* the heartbeat goes stale: the job shows "interrupted" */
        ngx_log_error(NGX_LOG_ERR, job->log, 0,
                      "oxmigrate admin: job %uL: cannot post its end",
                      job->id);
        ngx_http_oxmigrate_admin_job_free(job);
    }
}




static void
ngx_http_oxmigrate_admin_job_step_done(ngx_event_t *ev)
{
    ngx_http_oxmigrate_job_step_t  *step = ev->data;

    ngx_http_oxmigrate_job_t  *job = step->job;

    MYSQL                          **m;
    ngx_http_oxmigrate_job_host_t   *h;

    job->running--;

    if (step->m) {
        m = ngx_array_push(&job->conns);
        if (m) {
            *m = step->m;
        }
    }

    h = &((ngx_http_oxmigrate_job_host_t *) job->hosts.elts)[step->s->hidx];
    h->busy = 0;
    h->m = step->sm;

    /* OX's exclusions: one copy is kept (steps at once may read two) */
    if (job->excluded == NULL) {
        job->excluded = step->excluded;

    } else {
        ngx_http_oxmigrate_admin_ox_excluded_free(step->excluded);
    }

    /* a pause, cancel or parallel the step saw at its end */
    job->steps_done++;
    job->control = step->control;

    if (step->parallel) {
        job->parallel = step->parallel;
    }

    if (step->rc == NGX_OK) {
        step->s->state = NGX_HTTP_OXMIGRATE_S_DONE;
        job->done_ms += ngx_current_msec - step->started;
        job->done_ctx += ngx_max(step->s->contexts, 1);

    } else if (step->rc == NGX_AGAIN) {
        /* paused or cancelled before it started: it runs on a continue */
        step->s->state = NGX_HTTP_OXMIGRATE_S_PENDING;
        job->pending++;
        h->next--;

    } else if (step->rc == NGX_DONE) {
        /* cancelled while disabled: enabled again on its old server */
        step->s->state = NGX_HTTP_OXMIGRATE_S_CANCELLED;

    } else if (step->rc == NGX_ABORT) {
        /* configdb or the schema's database stayed away: where the
         * schema is, a resume finds out */
        step->s->state = NGX_HTTP_OXMIGRATE_S_PENDING;
        job->pending++;
        job->stop = 1;
        job->interrupted = 1;

    } else if (step->rc == NGX_DECLINED) {
        /* the job is another driver's now: leave everything to it */
        step->s->state = NGX_HTTP_OXMIGRATE_S_PENDING;
        job->pending++;
        job->stop = 1;
        job->lost = 1;

    } else {
        step->s->state = NGX_HTTP_OXMIGRATE_S_FAILED;
        job->failed = 1;

        if (!job->force) {
            job->stop = 1;
        }
    }

    ngx_http_oxmigrate_admin_job_metrics(job);
    ngx_http_oxmigrate_admin_job_schedule(job);
}


/* oxmigrate_metrics: the job's schemas by state (S_PENDING .. S_CANCELLED) */

static void
ngx_http_oxmigrate_admin_job_metrics(ngx_http_oxmigrate_job_t *job)
{
    double                            left, par;
    ngx_msec_t                        longest;
    ngx_uint_t                        i;
    ngx_uint_t                        counts[NGX_HTTP_OXMIGRATE_M_JOB_STATES];
    ngx_http_oxmigrate_job_schema_t  *s;

    ngx_memzero(counts, sizeof(counts));

    s = job->schemas.elts;
    left = 0;
    longest = 0;

    for (i = 0; i < job->schemas.nelts; i++) {
        if (s[i].state < NGX_HTTP_OXMIGRATE_M_JOB_STATES) {
            counts[s[i].state]++;
        }

        if (s[i].state == NGX_HTTP_OXMIGRATE_S_PENDING
            || s[i].state == NGX_HTTP_OXMIGRATE_S_RUNNING)
        {
            left += (double) ngx_max(s[i].contexts, 1);
        }

        if (s[i].state == NGX_HTTP_OXMIGRATE_S_RUNNING) {
            longest = ngx_max(longest, ngx_current_msec - s[i].started);
        }
    }

    /*
     * The ETA gauge, as GET /jobs/{id} computes eta_seconds: the contexts
     * left at the rate of the schemas this driver finished (their time
     * weighted by their contexts), as many at once as parallel and the
     * database hosts allow.  Unknown (not printed) until one is done.
     */

    par = (double) ngx_max(ngx_min(job->parallel, job->hosts.nelts), 1);

    ngx_http_oxmigrate_metrics_job(counts, longest,
        job->done_ctx ? (ngx_int_t) (left * (double) job->done_ms
                                     / (double) job->done_ctx / par / 1000.0
                                     + 0.5)
                      : -1);
}


static void
ngx_http_oxmigrate_admin_job_finish_done(ngx_event_t *ev)
{
    ngx_http_oxmigrate_job_t  *job = ev->data;

    ngx_log_error(NGX_LOG_NOTICE, job->log, 0,
                  "oxmigrate admin: job %uL ends: %s", job->id,
                  job->lost ? "taken over by another worker"
                  : job->interrupted ? "interrupted"
                  : job->failed ? "failed" : "done");

    ngx_http_oxmigrate_admin_job_free_later(job);
}


/*
 * The job's pool on a thread: at 5000 schemas freeing it held the event
 * loop about 1 ms.  Nothing refers to the job any more; the task is
 * malloc()ed, it outlives the pool, and its event frees it.
 */

static void
ngx_http_oxmigrate_admin_job_free_later(ngx_http_oxmigrate_job_t *job)
{
    ngx_pool_t         *pool;
    ngx_thread_task_t  *task;

    if (job->keepalive.timer_set) {
        ngx_del_timer(&job->keepalive);
    }

    ngx_http_oxmigrate_admin_ox_excluded_free(job->excluded);
    job->excluded = NULL;

    pool = job->pool;

    task = ngx_calloc(sizeof(ngx_thread_task_t), ngx_cycle->log);
    if (task) {
        task->ctx = pool;
        task->handler = ngx_http_oxmigrate_admin_job_pool_free;
        task->event.handler = ngx_http_oxmigrate_admin_job_pool_freed;
        task->event.data = task;
        task->event.log = ngx_cycle->log;

        if (ngx_thread_task_post(job->alcf->thread_pool, task) == NGX_OK) {
            return;
        }

        ngx_free(task);
    }

    ngx_destroy_pool(pool);
}


static void
ngx_http_oxmigrate_admin_job_pool_free(void *data, ngx_log_t *log)
{
    ngx_destroy_pool(data);
}


static void
ngx_http_oxmigrate_admin_job_pool_freed(ngx_event_t *ev)
{
    ngx_free(ev->data);
}
