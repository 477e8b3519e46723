/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate_hold: a request whose context is in maintenance (disabled
 * with the maintenance reason) waits instead of getting CTX-0007 / 503,
 * and is decided again, exactly as if it had just arrived, as soon as the
 * change log (or the Redis epoch) shows a change touching its context.
 *
 * Per worker, nothing shared, no thread: held requests are kept in groups
 * keyed by context id (an rbtree); each held request has its own timer
 * (the hold time).  One worker timer, the tick, runs every 100 ms while
 * anything is held: when the change log's applied position in shared
 * memory or the Redis epoch moved since a group was last checked, the
 * group's context is looked up again (shared memory first: a change
 * deleted its entry there, so a touched context goes to Redis/configdb,
 * an untouched one is a shared-memory hit).  A context that is no longer
 * in maintenance releases its group: the requests are put on a release
 * list and re-run through the lookup and the decision table, at most
 * NGX_HTTP_OXMIGRATE_HOLD_SLICE of them or 0.5 ms of the worker's CPU
 * time per turn of the event loop (at least one).
 *
 * The request waits in the access phase like a lookup does: its body
 * (if any, and not read yet) stays unread in the socket; a client that
 * goes away ends the request (ngx_http_test_reading), and the pool
 * cleanup takes it off its group at once.  A worker that exits (reload,
 * stop) answers its held requests at its next tick.
 *
 * Memory: a held request costs its hold entry (this file's
 * ngx_http_oxmigrate_hold_t, 144 bytes on x86_64, in the request's pool)
 * on top of what the request already holds (about 9.5 kB in nginx,
 * make bench-hold); a group (a context with held requests) costs
 * sizeof(group), about 170 bytes, + its key and schema, malloc'ed, plus a
 * waiter (about 2.2 kB) while its context is looked up again.  Both are
 * bounded by max= per worker.
 */


#include "ngx_http_oxmigrate_router.h"


#define NGX_HTTP_OXMIGRATE_HOLD_TICK     100      /* ms */
#define NGX_HTTP_OXMIGRATE_HOLD_SLICE    64       /* releases per turn, */
#define NGX_HTTP_OXMIGRATE_HOLD_SLICE_US 500      /* or this CPU time   */


typedef struct ngx_http_oxmigrate_hold_group_s  ngx_http_oxmigrate_hold_group_t;

typedef struct {
    ngx_queue_t                         queue;   /* group or release list */
    ngx_event_t                         timer;   /* the hold time */
    ngx_http_oxmigrate_ctx_t           *ctx;
    ngx_http_oxmigrate_hold_group_t    *group;   /* NULL: being released */
    ngx_uint_t                          outcome;
    ngx_uint_t                          active;
} ngx_http_oxmigrate_hold_t;


struct ngx_http_oxmigrate_hold_group_s {
    ngx_rbtree_node_t                   node;    /* key: the context id */
    ngx_queue_t                         held;
    ngx_queue_t                         link;    /* all groups */
    ngx_uint_t                          n;
    uint64_t                            pos;     /* as of the last check */
    ngx_uint_t                          epoch;
    ngx_uint_t                          checked; /* pos, epoch are set */
    ngx_http_oxmigrate_waiter_t        *w;      /* a check in flight */
    ngx_msec_t                          window;  /* expected end, 0: none */
    ngx_uint_t                          window_asked;
    ngx_str_t                           key;     /* a held request's key */
    ngx_str_t                           schema;
};


typedef struct {
    ngx_rbtree_t                        tree;
    ngx_rbtree_node_t                   sentinel;
    ngx_queue_t                         groups;
    ngx_queue_t                         release;
    ngx_event_t                         tick;
    ngx_event_t                         release_ev;
    ngx_uint_t                          held;     /* this worker */
    ngx_uint_t                          ready;
    ngx_msec_t                          worst;    /* longest slice, us */
    ngx_http_oxmigrate_main_conf_t     *omcf;
} ngx_http_oxmigrate_hold_worker_t;


static ngx_http_oxmigrate_hold_worker_t  ngx_http_oxmigrate_hold_w;


static void ngx_http_oxmigrate_hold_init(ngx_http_oxmigrate_main_conf_t *omcf);
static ngx_http_oxmigrate_hold_group_t *ngx_http_oxmigrate_hold_group(
    ngx_http_oxmigrate_ctx_t *ctx, ngx_uint_t cid);
static void ngx_http_oxmigrate_hold_group_free(
    ngx_http_oxmigrate_hold_group_t *g);
static ngx_int_t ngx_http_oxmigrate_hold_enter(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, ngx_http_oxmigrate_hold_group_t *g,
    ngx_msec_t left);
static void ngx_http_oxmigrate_hold_leave(ngx_http_oxmigrate_hold_t *h);
static void ngx_http_oxmigrate_hold_tick(ngx_event_t *ev);
static void ngx_http_oxmigrate_hold_check(ngx_http_oxmigrate_hold_group_t *g,
    uint64_t pos, ngx_uint_t epoch);
static void ngx_http_oxmigrate_hold_checked(ngx_http_oxmigrate_waiter_t *w);
static void ngx_http_oxmigrate_hold_group_result(
    ngx_http_oxmigrate_hold_group_t *g, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info);
static void ngx_http_oxmigrate_hold_release_group(
    ngx_http_oxmigrate_hold_group_t *g, ngx_uint_t outcome);
static void ngx_http_oxmigrate_hold_expire(ngx_event_t *ev);
static void ngx_http_oxmigrate_hold_release(ngx_event_t *ev);
static void ngx_http_oxmigrate_hold_cleanup(void *data);
static void ngx_http_oxmigrate_hold_window(
    ngx_http_oxmigrate_hold_group_t *g);
static void ngx_http_oxmigrate_hold_window_done(void *data, ngx_int_t rc,
    ngx_str_t *value);


static void
ngx_http_oxmigrate_hold_init(ngx_http_oxmigrate_main_conf_t *omcf)
{
    ngx_http_oxmigrate_hold_worker_t  *hw = &ngx_http_oxmigrate_hold_w;

    if (hw->ready) {
        return;
    }

    ngx_rbtree_init(&hw->tree, &hw->sentinel, ngx_rbtree_insert_value);
    ngx_queue_init(&hw->groups);
    ngx_queue_init(&hw->release);

    hw->tick.handler = ngx_http_oxmigrate_hold_tick;
    hw->tick.log = ngx_cycle->log;
    hw->tick.data = hw;

    hw->release_ev.handler = ngx_http_oxmigrate_hold_release;
    hw->release_ev.log = ngx_cycle->log;
    hw->release_ev.data = hw;

    hw->omcf = omcf;
    hw->ready = 1;
}


/*
 * A maintenance decision: hold the request (NGX_DONE) or answer it now
 * (NGX_DECLINED: respond() gives today's answer).  Counts the answers
 * per schema too (ngx_http_oxmigrate_hold_report()).
 */

ngx_int_t
ngx_http_oxmigrate_hold(ngx_http_request_t *r, ngx_http_oxmigrate_ctx_t *ctx)
{
    ngx_msec_t                          left;
    ngx_uint_t                          outcome;
    ngx_http_oxmigrate_hold_group_t    *g;
    ngx_http_oxmigrate_loc_conf_t      *olcf;
    ngx_http_oxmigrate_main_conf_t     *omcf;
    ngx_http_oxmigrate_hold_worker_t   *hw = &ngx_http_oxmigrate_hold_w;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    if (!olcf->maintenance) {
        return NGX_DECLINED;
    }

    if (olcf->hold_time == 0 || ctx->hold_over) {
        goto answer;
    }

    if (!ctx->was_held) {
        ctx->hold_start = ngx_current_msec;
    }

    left = olcf->hold_time - ngx_min(olcf->hold_time,
                                     ngx_current_msec - ctx->hold_start);

    if (left == 0 || ngx_exiting || ngx_terminate || ngx_quit) {
        goto answer;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oxmigrate_module);
    ngx_http_oxmigrate_hold_init(omcf);

    outcome = NGX_HTTP_OXMIGRATE_HELD_LIMIT;

    if (hw->held >= olcf->hold_max) {
        goto not_held;
    }

    g = ngx_http_oxmigrate_hold_group(ctx, ctx->cid);
    if (g == NULL) {
        goto not_held;
    }

    if (g->n >= olcf->hold_per_context) {
        goto not_held;
    }

    if (g->window > ngx_http_oxmigrate_clock_unix_ms() + left) {
        outcome = NGX_HTTP_OXMIGRATE_HELD_WINDOW;
        goto not_held;
    }

    if (ngx_http_oxmigrate_hold_enter(r, ctx, g, left) != NGX_OK) {
        goto not_held;
    }

    ctx->state = NGX_HTTP_OXMIGRATE_STATE_HELD;
    ctx->suspended = 1;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: held, context %ui, %M ms at most, %ui held",
                   ctx->cid, left, hw->held);

    if (!g->window_asked) {
        ngx_http_oxmigrate_hold_window(g);
    }

    return NGX_DONE;

not_held:

    ngx_http_oxmigrate_metrics_held(outcome, 0, 0);

answer:

    if (ctx->was_held) {
        ctx->held_ms = ngx_current_msec - ctx->hold_start;
    }

    ngx_http_oxmigrate_hold_report(&ctx->schema, 1);

    return NGX_DECLINED;
}


/* a released request's outcome, counted once whatever happened since */

void
ngx_http_oxmigrate_hold_counted(ngx_http_oxmigrate_ctx_t *ctx)
{
    if (!ctx->held_pending) {
        return;
    }

    ctx->held_pending = 0;
    ngx_http_oxmigrate_metrics_held(ctx->held_outcome, 1, ctx->held_ms);
}


static ngx_http_oxmigrate_hold_group_t *
ngx_http_oxmigrate_hold_group(ngx_http_oxmigrate_ctx_t *ctx, ngx_uint_t cid)
{
    ngx_rbtree_node_t                  *node, *sentinel;
    ngx_http_oxmigrate_hold_group_t    *g;
    ngx_http_oxmigrate_hold_worker_t   *hw = &ngx_http_oxmigrate_hold_w;

    node = hw->tree.root;
    sentinel = hw->tree.sentinel;

    while (node != sentinel) {
        if (cid == node->key) {
            return (ngx_http_oxmigrate_hold_group_t *) node;
        }

        node = (cid < node->key) ? node->left : node->right;
    }

    g = ngx_calloc(sizeof(ngx_http_oxmigrate_hold_group_t) + ctx->key.len
                   + ctx->schema.len, ngx_cycle->log);
    if (g == NULL) {
        return NULL;
    }

    g->node.key = cid;
    ngx_queue_init(&g->held);

    g->key.data = (u_char *) g + sizeof(ngx_http_oxmigrate_hold_group_t);
    g->key.len = ctx->key.len;
    ngx_memcpy(g->key.data, ctx->key.data, ctx->key.len);

    g->schema.data = g->key.data + g->key.len;
    g->schema.len = ctx->schema.len;
    ngx_memcpy(g->schema.data, ctx->schema.data, ctx->schema.len);

    ngx_rbtree_insert(&hw->tree, &g->node);
    ngx_queue_insert_tail(&hw->groups, &g->link);

    return g;
}


static void
ngx_http_oxmigrate_hold_group_free(ngx_http_oxmigrate_hold_group_t *g)
{
    ngx_http_oxmigrate_hold_worker_t  *hw = &ngx_http_oxmigrate_hold_w;

    if (g->w) {
        ngx_http_oxmigrate_lookup_cancel(g->w);
        ngx_free(g->w);
    }

    if (g->window_asked == 1) {
        /* the Redis answer finds g->window_asked through its own copy */
        g->window_asked = 3;
        ngx_rbtree_delete(&hw->tree, &g->node);
        ngx_queue_remove(&g->link);
        return;
    }

    ngx_rbtree_delete(&hw->tree, &g->node);
    ngx_queue_remove(&g->link);
    ngx_free(g);
}


/* the request joins its context's group, with its timer */

static ngx_int_t
ngx_http_oxmigrate_hold_enter(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, ngx_http_oxmigrate_hold_group_t *g,
    ngx_msec_t left)
{
    ngx_pool_cleanup_t                *cln;
    ngx_http_oxmigrate_hold_t         *h;
    ngx_http_oxmigrate_hold_worker_t  *hw = &ngx_http_oxmigrate_hold_w;

    h = ctx->hold;

    if (h == NULL) {
        h = ngx_pcalloc(r->pool, sizeof(ngx_http_oxmigrate_hold_t));
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (h == NULL || cln == NULL) {
            return NGX_ERROR;
        }

        cln->handler = ngx_http_oxmigrate_hold_cleanup;
        cln->data = ctx;

        h->ctx = ctx;
        h->timer.handler = ngx_http_oxmigrate_hold_expire;
        h->timer.data = h;
        h->timer.cancelable = 1;
        ctx->hold = h;
    }

    h->timer.log = r->connection->log;
    h->group = g;
    h->active = 1;
    ngx_queue_insert_tail(&g->held, &h->queue);
    g->n++;
    hw->held++;

    ngx_add_timer(&h->timer, left);

    if (!hw->tick.timer_set) {
        ngx_add_timer(&hw->tick, NGX_HTTP_OXMIGRATE_HOLD_TICK);
    }

    ngx_http_oxmigrate_metrics_holding(1);
    ctx->was_held = 1;
    ctx->held_pending = 0;          /* held again: counted later */

    return NGX_OK;
}


/* the request leaves its group (or the release list) */

static void
ngx_http_oxmigrate_hold_leave(ngx_http_oxmigrate_hold_t *h)
{
    ngx_http_oxmigrate_hold_group_t   *g;
    ngx_http_oxmigrate_hold_worker_t  *hw = &ngx_http_oxmigrate_hold_w;

    if (!h->active) {
        return;
    }

    h->active = 0;
    ngx_queue_remove(&h->queue);
    hw->held--;
    ngx_http_oxmigrate_metrics_holding(-1);

    if (h->timer.timer_set) {
        ngx_del_timer(&h->timer);
    }

    g = h->group;
    h->group = NULL;

    if (g && --g->n == 0) {
        ngx_http_oxmigrate_hold_group_free(g);
    }
}


/* every 100 ms while anything is held: what moved? */

static void
ngx_http_oxmigrate_hold_tick(ngx_event_t *ev)
{
    uint64_t                            pos;
    ngx_msec_t                          at;
    ngx_uint_t                          epoch, ready;
    ngx_queue_t                        *q, *next;
    ngx_http_oxmigrate_hold_group_t    *g;
    ngx_http_oxmigrate_main_conf_t     *omcf;
    ngx_http_oxmigrate_hold_worker_t   *hw = ev->data;

    omcf = hw->omcf;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        /* a reload or a stop: everything held is answered now */
        for (q = ngx_queue_head(&hw->groups);
             q != ngx_queue_sentinel(&hw->groups);
             q = next)
        {
            next = ngx_queue_next(q);
            g = ngx_queue_data(q, ngx_http_oxmigrate_hold_group_t, link);
            ngx_http_oxmigrate_hold_release_group(g,
                                            NGX_HTTP_OXMIGRATE_HELD_SHUTDOWN);
        }

        /* the worker stays until the release list has answered them all */
        if (hw->held) {
            ngx_add_timer(ev, 10);
        }

        return;
    }

    if (hw->held == 0) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_OXMIGRATE_HOLD_TICK);

    pos = 0;
    ready = 0;
    epoch = 0;

    if (omcf->shm_zone) {
        pos = ngx_http_oxmigrate_shm_position(omcf->shm_zone, &ready);
    }

    if (omcf->redis) {
        epoch = ngx_http_oxmigrate_redis_epoch(&at);
    }

    for (q = ngx_queue_head(&hw->groups);
         q != ngx_queue_sentinel(&hw->groups);
         q = next)
    {
        next = ngx_queue_next(q);
        g = ngx_queue_data(q, ngx_http_oxmigrate_hold_group_t, link);

        if (g->w == NULL
            && (!g->checked || g->pos != pos || g->epoch != epoch))
        {
            ngx_http_oxmigrate_hold_check(g, pos, epoch);
        }
    }
}


/* the group's context looked up again, as a new request would */

static void
ngx_http_oxmigrate_hold_check(ngx_http_oxmigrate_hold_group_t *g,
    uint64_t pos, ngx_uint_t epoch)
{
    ngx_int_t                     rc;
    ngx_http_oxmigrate_waiter_t  *w;

    w = ngx_calloc(sizeof(ngx_http_oxmigrate_waiter_t), ngx_cycle->log);
    if (w == NULL) {
        return;
    }

    g->pos = pos;
    g->epoch = epoch;
    g->checked = 1;

    w->handler = ngx_http_oxmigrate_hold_checked;
    w->data = g;

    rc = ngx_http_oxmigrate_lookup(ngx_http_oxmigrate_hold_w.omcf, &g->key, w);

    if (rc == NGX_AGAIN) {
        g->w = w;
        return;
    }

    ngx_http_oxmigrate_hold_group_result(g, rc == NGX_OK ? w->rc : NGX_ERROR,
                                         &w->info);
    ngx_free(w);
}


static void
ngx_http_oxmigrate_hold_checked(ngx_http_oxmigrate_waiter_t *w)
{
    ngx_http_oxmigrate_hold_group_t  *g = w->data;

    g->w = NULL;
    ngx_http_oxmigrate_hold_group_result(g, w->rc, &w->info);
    ngx_free(w);
}


/*
 * Still in maintenance, or configdb did not answer: the requests wait on
 * (their hold time decides).  Anything else: they are decided again.
 */

static void
ngx_http_oxmigrate_hold_group_result(ngx_http_oxmigrate_hold_group_t *g,
    ngx_int_t rc, ngx_http_oxmigrate_info_t *info)
{
    ngx_http_oxmigrate_main_conf_t  *omcf = ngx_http_oxmigrate_hold_w.omcf;

    if (rc != NGX_OK) {
        return;
    }

    if (info->found && !info->enabled
        && info->reason_id == omcf->maintenance_reason)
    {
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oxmigrate hold: context %ui changed, %ui released",
                   (ngx_uint_t) g->node.key, g->n);

    ngx_http_oxmigrate_hold_release_group(g, NGX_HTTP_OXMIGRATE_HELD_RELEASED);
}


static void
ngx_http_oxmigrate_hold_release_group(ngx_http_oxmigrate_hold_group_t *g,
    ngx_uint_t outcome)
{
    ngx_queue_t                       *q;
    ngx_http_oxmigrate_hold_t         *h;
    ngx_http_oxmigrate_hold_worker_t  *hw = &ngx_http_oxmigrate_hold_w;

    while (!ngx_queue_empty(&g->held)) {
        q = ngx_queue_head(&g->held);
        ngx_queue_remove(q);

        h = ngx_queue_data(q, ngx_http_oxmigrate_hold_t, queue);
        h->group = NULL;
        h->outcome = outcome;

        if (h->timer.timer_set) {
            ngx_del_timer(&h->timer);
        }

        if (outcome != NGX_HTTP_OXMIGRATE_HELD_RELEASED) {
            h->ctx->hold_over = 1;
        }

        ngx_queue_insert_tail(&hw->release, &h->queue);
    }

    g->n = 0;
    ngx_http_oxmigrate_hold_group_free(g);

    if (!hw->release_ev.posted) {
        ngx_post_event(&hw->release_ev, &ngx_posted_events);
    }
}


/* the hold time is over: decided again, never held again */

static void
ngx_http_oxmigrate_hold_expire(ngx_event_t *ev)
{
    ngx_http_oxmigrate_hold_t         *h = ev->data;
    ngx_http_oxmigrate_hold_group_t   *g;
    ngx_http_oxmigrate_hold_worker_t  *hw = &ngx_http_oxmigrate_hold_w;

    g = h->group;

    ngx_queue_remove(&h->queue);
    h->group = NULL;
    h->outcome = NGX_HTTP_OXMIGRATE_HELD_EXPIRED;
    h->ctx->hold_over = 1;
    ngx_queue_insert_tail(&hw->release, &h->queue);

    if (g && --g->n == 0) {
        ngx_http_oxmigrate_hold_group_free(g);
    }

    if (!hw->release_ev.posted) {
        ngx_post_event(&hw->release_ev, &ngx_posted_events);
    }
}


/*
 * The release list, a slice per turn of the event loop: the rest waits
 * for the next turn (ngx_posted_next_events: after the next poll of the
 * sockets), so other connections are served in between.
 */

static void
ngx_http_oxmigrate_hold_release(ngx_event_t *ev)
{
    ngx_uint_t                         n, level;
    ngx_msec_t                         us;
    ngx_queue_t                       *q;
    struct timespec                    t0, t1;
    ngx_connection_t                  *c;
    ngx_http_request_t                *r;
    ngx_http_oxmigrate_ctx_t          *ctx;
    ngx_http_oxmigrate_hold_t         *h;
    ngx_http_oxmigrate_hold_worker_t  *hw = ev->data;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);

    for (n = 0; n < NGX_HTTP_OXMIGRATE_HOLD_SLICE; n++) {

        if (ngx_queue_empty(&hw->release)) {
            break;
        }

        if (n) {
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);

            if ((t1.tv_sec - t0.tv_sec) * 1000000
                + (t1.tv_nsec - t0.tv_nsec) / 1000
                >= NGX_HTTP_OXMIGRATE_HOLD_SLICE_US)
            {
                break;
            }
        }

        q = ngx_queue_head(&hw->release);
        h = ngx_queue_data(q, ngx_http_oxmigrate_hold_t, queue);
        ctx = h->ctx;
        r = ctx->request;
        c = r->connection;

        ngx_http_oxmigrate_hold_leave(h);

        /*
         * Counted when it is answered (ngx_http_oxmigrate_hold_counted()):
         * the new decision may meet the maintenance entry once more (a
         * cache not yet told) and hold the request again.
         */
        ctx->held_ms = ngx_current_msec - ctx->hold_start;
        ctx->held_outcome = h->outcome;
        ctx->held_pending = 1;

        /* held only to learn the expected window: not counted as held */
        if (h->outcome != NGX_HTTP_OXMIGRATE_HELD_WINDOW && !ctx->held_told) {
            ctx->held_told = 1;
            ngx_http_oxmigrate_hold_report(&ctx->schema, 0);
        }

        /*
         * Decided again as if it had just come; a worker that exits gives
         * today's answer at once (its lookups may no longer be served).
         */
        ctx->state = (h->outcome == NGX_HTTP_OXMIGRATE_HELD_SHUTDOWN)
                     ? NGX_HTTP_OXMIGRATE_STATE_DONE
                     : NGX_HTTP_OXMIGRATE_STATE_AGAIN;
        ctx->suspended = 0;

        r->read_event_handler = ngx_http_block_reading;
        r->write_event_handler = ngx_http_core_run_phases;

        ngx_http_core_run_phases(r);
        ngx_http_run_posted_requests(c);
    }

    /* the worker's CPU time for the slice: the event loop's stall */

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);

    us = (ngx_msec_t) ((t1.tv_sec - t0.tv_sec) * 1000000
                       + (t1.tv_nsec - t0.tv_nsec) / 1000);

    if (us > hw->worst) {
        hw->worst = us;
        level = (us > 1000) ? NGX_LOG_WARN : NGX_LOG_INFO;
        ngx_log_error(level, ev->log, 0,
                      "oxmigrate: %ui held requests answered in %M us "
                      "(the longest yet)", n, us);
    }

    if (!ngx_queue_empty(&hw->release)) {
        ngx_post_event(ev, &ngx_posted_next_events);
    }
}


static void
ngx_http_oxmigrate_hold_cleanup(void *data)
{
    ngx_http_oxmigrate_ctx_t  *ctx = data;

    ngx_http_oxmigrate_hold_t  *h;

    h = ctx->hold;

    if (h == NULL) {
        return;
    }

    if (!h->active) {
        /* released, and gone before its new decision was answered */
        ngx_http_oxmigrate_hold_counted(ctx);
        return;
    }

    ngx_http_oxmigrate_hold_leave(h);
    ctx->held_pending = 0;
    ngx_http_oxmigrate_metrics_held(NGX_HTTP_OXMIGRATE_HELD_GONE, 1,
                                    ngx_current_msec - ctx->hold_start);

    if (!ctx->held_told) {
        ngx_http_oxmigrate_hold_report(&ctx->schema, 0);
    }
}


/*
 * The expected window of the context's schema: "<prefix>window:<schema>"
 * in Redis holds the unix time in ms by which the admin API expects the
 * schema back (ngx_http_oxmigrate_admin_hold.c).  Asked once per group;
 * until Redis answers, the requests are held.
 */

static void
ngx_http_oxmigrate_hold_window(ngx_http_oxmigrate_hold_group_t *g)
{
    u_char                           *p;
    ngx_str_t                         name;
    u_char                            buf[NGX_HTTP_OXMIGRATE_KEY_MAX];

    g->window_asked = 2;

    if (ngx_http_oxmigrate_hold_w.omcf->redis == NULL || g->schema.len == 0
        || g->schema.len > sizeof(buf) - sizeof("window:"))
    {
        return;
    }

    p = ngx_cpymem(buf, "window:", sizeof("window:") - 1);
    p = ngx_cpymem(p, g->schema.data, g->schema.len);

    name.data = buf;
    name.len = p - buf;

    if (ngx_http_oxmigrate_redis_get_raw(&name,
                                         ngx_http_oxmigrate_hold_window_done,
                                         g)
        == NGX_OK)
    {
        g->window_asked = 1;
    }
}


static void
ngx_http_oxmigrate_hold_window_done(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_oxmigrate_hold_group_t  *g = data;

    ngx_queue_t                *q;
    ngx_msec_t                  now, left;
    ngx_http_oxmigrate_hold_t  *h;

    if (g->window_asked == 3) {
        /* the group went away meanwhile */
        ngx_free(g);
        return;
    }

    g->window_asked = 2;

    if (rc != NGX_OK) {
        return;
    }

    g->window = (ngx_msec_t) ngx_atotm(value->data, value->len);

    if (g->window == (ngx_msec_t) NGX_ERROR) {
        g->window = 0;
        return;
    }

    /* held in vain: the schema is expected back after the hold time */

    now = ngx_http_oxmigrate_clock_unix_ms();

    if (ngx_queue_empty(&g->held) || g->window <= now) {
        return;
    }

    q = ngx_queue_head(&g->held);
    h = ngx_queue_data(q, ngx_http_oxmigrate_hold_t, queue);

    left = h->timer.timer_set ? (ngx_msec_t) (h->timer.timer.key
                                              - ngx_current_msec)
                              : 0;

    if (g->window > now + left) {
        ngx_http_oxmigrate_hold_release_group(g,
                                              NGX_HTTP_OXMIGRATE_HELD_WINDOW);
    }
}
