/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * Resolving a context part: shared memory, then Redis, then MariaDB.
 *
 * Misses are coalesced per worker: while one lookup for a key is in flight,
 * further logins for the same key wait on it instead of asking again, so a
 * burst of logins into one context (or a flood of random domains after an
 * invalidation) costs one query.  The in-flight operation lives outside
 * any request pool: a request that goes away only leaves the waiter list,
 * and the answer is still cached for the next login.
 */


#include "ngx_http_oxmigrate.h"


typedef struct {
    ngx_str_node_t                   sn;        /* key; in the in-flight tree */
    ngx_queue_t                      waiters;
    ngx_uint_t                       epoch;
    uint64_t                         pos;       /* change log at the start */
    ngx_uint_t                       pos_ready;
    uint64_t                         at;       /* configdb's clock */
    ngx_uint_t                       in_tree;
    ngx_http_oxmigrate_main_conf_t  *omcf;
} ngx_http_oxmigrate_op_t;


static void ngx_http_oxmigrate_lookup_redis_done(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_oxmigrate_lookup_db_done(void *data, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info);
static ngx_int_t ngx_http_oxmigrate_lookup_db(ngx_http_oxmigrate_op_t *op);
static void ngx_http_oxmigrate_lookup_finish(ngx_http_oxmigrate_op_t *op,
    ngx_int_t rc, ngx_str_t *value, ngx_http_oxmigrate_source_e source);
static ngx_uint_t ngx_http_oxmigrate_lookup_epoch(
    ngx_http_oxmigrate_main_conf_t *omcf);


static ngx_rbtree_t       ngx_http_oxmigrate_inflight;
static ngx_rbtree_node_t  ngx_http_oxmigrate_inflight_sentinel;


ngx_int_t
ngx_http_oxmigrate_lookup(ngx_http_oxmigrate_main_conf_t *omcf,
    ngx_str_t *key, ngx_http_oxmigrate_waiter_t *w)
{
    uint32_t                  hash;
    ngx_int_t                 rc;
    ngx_str_t                 value;
    ngx_uint_t                epoch;
    ngx_http_oxmigrate_op_t  *op;

    epoch = ngx_http_oxmigrate_lookup_epoch(omcf);

    if (omcf->shm_zone
        && ngx_http_oxmigrate_shm_get(omcf->shm_zone, key, epoch, w->value,
                                      &w->value_len)
           == NGX_OK)
    {
        value.data = w->value;
        value.len = w->value_len;

        if (ngx_http_oxmigrate_info_parse(&value, &w->info) == NGX_OK) {
            w->rc = NGX_OK;
            w->source = NGX_HTTP_OXMIGRATE_SRC_SHM;
            return NGX_OK;
        }
    }

    if (ngx_http_oxmigrate_inflight.root == NULL) {
        ngx_rbtree_init(&ngx_http_oxmigrate_inflight,
                        &ngx_http_oxmigrate_inflight_sentinel,
                        ngx_str_rbtree_insert_value);
    }

    hash = ngx_crc32_short(key->data, key->len);

    op = (ngx_http_oxmigrate_op_t *)
             ngx_str_rbtree_lookup(&ngx_http_oxmigrate_inflight, key, hash);

    if (op) {
        if (op->epoch == epoch) {
            w->op = op;
            ngx_queue_insert_tail(&op->waiters, &w->queue);
            return NGX_AGAIN;
        }

        /*
         * An invalidation came after that lookup started: its answer may
         * be stale for this login.  It finishes for its own waiters; this
         * login starts a new one.
         */

        ngx_rbtree_delete(&ngx_http_oxmigrate_inflight, &op->sn.node);
        op->in_tree = 0;
    }

    op = ngx_alloc(sizeof(ngx_http_oxmigrate_op_t) + key->len,
                   ngx_cycle->log);
    if (op == NULL) {
        return NGX_ERROR;
    }

    op->sn.node.key = hash;
    op->sn.str.data = (u_char *) op + sizeof(ngx_http_oxmigrate_op_t);
    op->sn.str.len = key->len;
    ngx_memcpy(op->sn.str.data, key->data, key->len);

    op->epoch = epoch;
    op->omcf = omcf;
    op->pos = 0;
    op->at = 0;
    op->pos_ready = 0;
    ngx_queue_init(&op->waiters);

    if (omcf->shm_zone) {
        op->pos = ngx_http_oxmigrate_shm_position(omcf->shm_zone,
                                                  &op->pos_ready);
    }

    if (omcf->redis) {
        rc = ngx_http_oxmigrate_redis_get(&op->sn.str, epoch,
                                          ngx_http_oxmigrate_lookup_redis_done,
                                          op);
    } else {
        rc = NGX_DECLINED;
    }

    if (rc != NGX_OK) {
        /* no Redis, or it is down: straight to the configdb */

        if (ngx_http_oxmigrate_db_lookup(&op->sn.str, op->pos,
                                         ngx_http_oxmigrate_lookup_db_done,
                                         op)
            != NGX_OK)
        {
            /* out of memory: the request gets oxmigrate_on_error */
            ngx_free(op);
            return NGX_ERROR;
        }
    }

    ngx_rbtree_insert(&ngx_http_oxmigrate_inflight, &op->sn.node);
    op->in_tree = 1;

    w->op = op;
    ngx_queue_insert_tail(&op->waiters, &w->queue);

    return NGX_AGAIN;
}


void
ngx_http_oxmigrate_lookup_cancel(ngx_http_oxmigrate_waiter_t *w)
{
    if (w->op) {
        ngx_queue_remove(&w->queue);
        w->op = NULL;
    }
}


static void
ngx_http_oxmigrate_lookup_redis_done(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_http_oxmigrate_op_t *op = data;

    u_char                     *p, *last, *slash, *slash2;
    uint64_t                    pos, at;
    ngx_msec_t                  ttl;
    ngx_str_t                   info_value;
    ngx_msec_int_t              left;
    ngx_http_oxmigrate_info_t   info;

    /*
     * A Redis value is "<expiry in unix ms>[/<position>[/<read at>]]
     * <info>": an entry copied into shared memory must not outlive its
     * Redis original, or a negative entry would be served for negative_ttl
     * twice over; the change-log position and configdb's clock when it was
     * read say what it is fresh as of (a copy written before a change that
     * touches it, by any balancer, or brought back by a Redis restart, is
     * a miss).
     */

    if (rc != NGX_OK || value->len > NGX_HTTP_OXMIGRATE_VALUE_MAX) {
        goto db;
    }

    p = value->data;
    last = p + value->len;

    while (p < last && *p != ' ') {
        p++;
    }

    if (p == last) {
        goto db;
    }

    slash = ngx_strlchr(value->data, p, '/');
    pos = 0;
    at = 0;

    if (slash) {
        slash2 = ngx_strlchr(slash + 1, p, '/');

        pos = (uint64_t) ngx_atoof(slash + 1,
                                   (slash2 ? slash2 : p) - slash - 1);

        if ((off_t) pos == NGX_ERROR) {
            goto db;
        }

        if (slash2) {
            at = (uint64_t) ngx_atoof(slash2 + 1, p - slash2 - 1);

            if ((off_t) at == NGX_ERROR) {
                goto db;
            }
        }
    }

    left = (ngx_msec_int_t) (ngx_atotm(value->data,
                                       (slash ? slash : p) - value->data)
                             - ngx_http_oxmigrate_clock_unix_ms());

    info_value.data = p + 1;
    info_value.len = last - info_value.data;

    if (left <= 0
        || ngx_http_oxmigrate_info_parse(&info_value, &info) != NGX_OK)
    {
        goto db;
    }

    if (op->omcf->shm_zone) {
        ttl = info.found ? op->omcf->cache_ttl : op->omcf->negative_ttl;

        if (ngx_http_oxmigrate_shm_set(op->omcf->shm_zone, &op->sn.str,
                                       op->epoch, &info_value,
                                       ngx_min(ttl, (ngx_msec_t) left),
                                       op->omcf->cache_stale, &info, pos,
                                       at)
            == NGX_DECLINED)
        {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                           "oxmigrate lookup: redis copy of \"%V\" as of "
                           "%uL is stale", &op->sn.str, pos);
            goto db;
        }
    }

    ngx_http_oxmigrate_lookup_finish(op, NGX_OK, &info_value,
                                     NGX_HTTP_OXMIGRATE_SRC_REDIS);
    return;

db:

    if (ngx_http_oxmigrate_lookup_db(op) != NGX_OK) {
        ngx_http_oxmigrate_lookup_finish(op, NGX_ERROR, NULL,
                                         NGX_HTTP_OXMIGRATE_SRC_NONE);
    }
}


static ngx_int_t
ngx_http_oxmigrate_lookup_db(ngx_http_oxmigrate_op_t *op)
{
    return ngx_http_oxmigrate_db_lookup(&op->sn.str, op->pos,
                                        ngx_http_oxmigrate_lookup_db_done, op);
}


static void
ngx_http_oxmigrate_lookup_db_done(void *data, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info)
{
    ngx_http_oxmigrate_op_t *op = data;

    size_t                            n;
    u_char                            stamp[NGX_TIME_T_LEN + 2 * NGX_INT64_LEN
                                            + 2];
    u_char                            buf[NGX_TIME_T_LEN + 2 * NGX_INT64_LEN + 2
                                          + NGX_HTTP_OXMIGRATE_VALUE_MAX];
    time_t                            ttl;
    ngx_str_t                         value, stamped;
    ngx_http_oxmigrate_main_conf_t   *omcf;

    omcf = op->omcf;

    if (rc != NGX_OK) {
        if (omcf->cache_stale
            && ngx_http_oxmigrate_shm_get_stale(omcf->shm_zone, &op->sn.str,
                                                buf, &n)
               == NGX_OK)
        {
            value.data = buf;
            value.len = n;

            ngx_http_oxmigrate_lookup_finish(op, NGX_OK, &value,
                                             NGX_HTTP_OXMIGRATE_SRC_STALE);
            return;
        }

        ngx_http_oxmigrate_lookup_finish(op, NGX_ERROR, NULL,
                                         NGX_HTTP_OXMIGRATE_SRC_NONE);
        return;
    }

    /* room in front for the expiry stamp of the Redis copy */
    value.data = buf + NGX_TIME_T_LEN + 2 * NGX_INT64_LEN + 2;
    value.len = ngx_http_oxmigrate_info_serialize(info, value.data);

    /*
     * Stored under the epoch this lookup started with: if an invalidation
     * came while the query ran, the answer may be stale and must not
     * outlive it.
     */

    /*
     * Fresh as of the server's change-log position when it said it (it is
     * never behind op->pos: mysql.c asks another server then), else as of
     * the lookup's start.
     */

    if (info->pos_set) {
        op->pos = info->pos;
        op->at = info->at;
    }

    if (omcf->shm_zone) {
        (void) ngx_http_oxmigrate_shm_set(omcf->shm_zone, &op->sn.str,
                                          op->epoch, &value,
                                          info->found ? omcf->cache_ttl
                                                      : omcf->negative_ttl,
                                          omcf->cache_stale, info, op->pos,
                                          op->at);
    }

    if (omcf->redis) {
        ttl = info->found ? omcf->redis->ttl
                          : (time_t) (omcf->negative_ttl + 999) / 1000;

        if (op->pos_ready) {
            n = ngx_sprintf(stamp, "%M/%uL/%uL ",
                            ngx_http_oxmigrate_clock_unix_ms()
                            + (ngx_msec_t) ttl * 1000,
                            op->pos, op->at)
                - stamp;

        } else {
            n = ngx_sprintf(stamp, "%M ", ngx_http_oxmigrate_clock_unix_ms()
                                          + (ngx_msec_t) ttl * 1000)
                - stamp;
        }

        stamped.data = value.data - n;
        stamped.len = n + value.len;
        ngx_memcpy(stamped.data, stamp, n);

        ngx_http_oxmigrate_redis_set(&op->sn.str, op->epoch, &stamped, ttl);
    }

    ngx_http_oxmigrate_lookup_finish(op, NGX_OK, &value,
                                     NGX_HTTP_OXMIGRATE_SRC_DB);
}


static void
ngx_http_oxmigrate_lookup_finish(ngx_http_oxmigrate_op_t *op, ngx_int_t rc,
    ngx_str_t *value, ngx_http_oxmigrate_source_e source)
{
    ngx_str_t                     own;
    ngx_queue_t                   waiters, *q;
    ngx_http_oxmigrate_waiter_t  *w;

    if (op->in_tree) {
        ngx_rbtree_delete(&ngx_http_oxmigrate_inflight, &op->sn.node);
    }

    /*
     * Waiters are moved to a local list first: a handler resumes its
     * request, which may end other requests and cancel their waiters.
     */

    if (ngx_queue_empty(&op->waiters)) {
        ngx_queue_init(&waiters);

    } else {
        waiters = op->waiters;
        waiters.next->prev = &waiters;
        waiters.prev->next = &waiters;
    }

    while (!ngx_queue_empty(&waiters)) {
        q = ngx_queue_head(&waiters);
        ngx_queue_remove(q);

        w = ngx_queue_data(q, ngx_http_oxmigrate_waiter_t, queue);
        w->op = NULL;
        w->rc = rc;
        w->source = source;

        if (rc == NGX_OK) {
            ngx_memcpy(w->value, value->data, value->len);
            w->value_len = value->len;

            own.data = w->value;
            own.len = value->len;

            if (ngx_http_oxmigrate_info_parse(&own, &w->info) != NGX_OK) {
                w->rc = NGX_ERROR;
            }
        }

        w->handler(w);
    }

    ngx_free(op);
}


/*
 * The epoch lookups use: with a shared zone, the zone's (this worker's
 * latest Redis observation is reported to it when it changed); without
 * one, this worker's own.
 */

static ngx_uint_t
ngx_http_oxmigrate_lookup_epoch(ngx_http_oxmigrate_main_conf_t *omcf)
{
    ngx_msec_t         at;
    ngx_uint_t         seen;

    static ngx_msec_t  reported_at;

    if (omcf->redis == NULL) {
        return 0;
    }

    seen = ngx_http_oxmigrate_redis_epoch(&at);

    if (omcf->shm_zone == NULL) {
        return seen;
    }

    if (at != reported_at) {
        reported_at = at;
        (void) ngx_http_oxmigrate_shm_epoch(omcf->shm_zone, seen, at);
    }

    return seen;
}

