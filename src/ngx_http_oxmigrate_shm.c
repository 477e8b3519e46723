/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate: the shared-memory cache in front of Redis and MariaDB.
 *
 * One slab zone shared by all workers holds a red-black tree keyed by the
 * crc32 of the context part (the key bytes decide on collision) and an LRU
 * queue, like ngx_http_limit_req_module does.  Each entry is a single slab
 * allocation: the node header, then the key bytes, then the value bytes.
 *
 * An entry carries the invalidation epoch it was stored under: when the
 * epoch changes (an INCR of <prefix>epoch, or a Redis restart that brings
 * an older value back), every entry of another epoch turns into a miss
 * without anybody having to walk the zone.  The epoch is the zone's, not
 * a worker's: the worker that sees a new value first sets it for all, so
 * workers that poll out of phase never retire each other's entries.
 *
 * Precise invalidation (the configdb change log, changes.c): each applied
 * change deletes the entries it touches (by context id, by server id, or
 * the login name's own entry) and goes into a ring of recent changes.  An
 * answer is stored only when no change applied after its lookup started
 * touches it, and a Redis copy is used only when no change applied after
 * it was written touches it (positions in the change log say "after").
 *
 * Nothing here blocks except the zone mutex, and nothing is allocated
 * outside the zone; a full zone evicts least recently used entries.
 */


#include "ngx_http_oxmigrate_shm.h"


/*
 * The smallest zone we accept: the slab pool's own bookkeeping takes a few
 * pages, and a zone that cannot hold a useful number of entries only burns
 * the mutex (limit_req uses the same bound).
 */
#define NGX_HTTP_OXMIGRATE_SHM_MIN_PAGES  8

/* stale entries looked at from the LRU tail on every store */
#define NGX_HTTP_OXMIGRATE_SHM_EXPIRE     3

/*
 * ttls are compared through a signed difference so that the clock
 * may wrap; a ttl must therefore stay well below half the range.
 */
#define NGX_HTTP_OXMIGRATE_SHM_TTL_MAX    ((ngx_msec_t) NGX_MAX_INT32_VALUE)




static ngx_int_t ngx_http_oxmigrate_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

static void ngx_http_oxmigrate_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static void ngx_http_oxmigrate_shm_expire(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_msec_t now);
static ngx_inline ngx_uint_t ngx_http_oxmigrate_shm_expired(
    ngx_http_oxmigrate_shm_node_t *sn, ngx_msec_t now);



/*
 * For the directive handler: declares the zone and hooks our init.  The
 * same name given twice yields the same zone (a cache may well be shared);
 * a name already used by another module or with another size is rejected
 * by ngx_shared_memory_add() itself.  NULL: error, already logged.
 */

ngx_shm_zone_t *
ngx_http_oxmigrate_shm_add(ngx_conf_t *cf, ngx_str_t *name, size_t size)
{
    ngx_shm_zone_t                *shm_zone;
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    if (size < NGX_HTTP_OXMIGRATE_SHM_MIN_PAGES * ngx_pagesize) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oxmigrate_cache zone \"%V\" is too small, "
                           "at least %uz bytes are needed", name,
                           (size_t) NGX_HTTP_OXMIGRATE_SHM_MIN_PAGES
                           * ngx_pagesize);
        return NULL;
    }

    shm_zone = ngx_shared_memory_add(cf, name, size,
                                     &ngx_http_oxmigrate_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        /* declared earlier in this configuration */
        return shm_zone;
    }

    ctx = ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_shm_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    shm_zone->init = ngx_http_oxmigrate_shm_init_zone;
    shm_zone->data = ctx;

    return shm_zone;
}


/*
 * Called in the master for every (re)load.  data is the previous cycle's
 * ctx when a zone of the same name, size and module survives the reload:
 * then the entries survive with it and only the pointers are carried over.
 */

static ngx_int_t
ngx_http_oxmigrate_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_oxmigrate_shm_ctx_t  *octx = data;

    size_t                         len;
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    if (octx) {
        ctx->sh = octx->sh;
        ctx->shpool = octx->shpool;

        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "oxmigrate_cache zone \"%V\" kept over the reload: "
                      "%ui entries, %ui evicted and %ui invalidated so far",
                      &shm_zone->shm.name, ctx->sh->entries,
                      ctx->sh->evictions, ctx->sh->invalidated);

        return NGX_OK;
    }

    ctx->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (shm_zone->shm.exists) {
        /* Windows: a worker attaches to the zone the master built */
        ctx->sh = ctx->shpool->data;

        return NGX_OK;
    }

    ctx->sh = ngx_slab_alloc(ctx->shpool, sizeof(ngx_http_oxmigrate_shm_sh_t));
    if (ctx->sh == NULL) {
        return NGX_ERROR;
    }

    ctx->shpool->data = ctx->sh;

    ngx_rbtree_init(&ctx->sh->rbtree, &ctx->sh->sentinel,
                    ngx_http_oxmigrate_shm_rbtree_insert_value);

    ngx_queue_init(&ctx->sh->queue);

    ctx->sh->ring_size = ngx_min(shm_zone->shm.size / 1024,
                                 NGX_HTTP_OXMIGRATE_SHM_RING);

    ctx->sh->ring = ngx_slab_alloc(ctx->shpool, ctx->sh->ring_size
                                   * sizeof(ngx_http_oxmigrate_change_t));
    if (ctx->sh->ring == NULL) {
        return NGX_ERROR;
    }

    len = sizeof(" in oxmigrate_cache zone \"\"") + shm_zone->shm.name.len;

    ctx->shpool->log_ctx = ngx_slab_alloc(ctx->shpool, len);
    if (ctx->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(ctx->shpool->log_ctx, " in oxmigrate_cache zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* running out of room is routine for a cache: we evict, not complain */
    ctx->shpool->log_nomem = 0;

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_shm_get(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    ngx_uint_t epoch, u_char *buf, size_t *len)
{
    ngx_int_t                       rc;
    ngx_msec_t                      now;
    ngx_uint_t                      hash;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    if (shm_zone == NULL || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX) {
        return NGX_DECLINED;
    }

    ctx = shm_zone->data;
    now = ngx_http_oxmigrate_clock_msec();

    hash = ngx_crc32_short(key->data, key->len);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oxmigrate_shm_lookup(ctx, hash, key);

    if (sn == NULL) {
        rc = NGX_DECLINED;

    } else if (sn->epoch != ctx->sh->epoch
               || (ngx_msec_int_t) (sn->keep - now) <= 0)
    {
        /* nobody can use it any more: give the room back now */
        ngx_http_oxmigrate_shm_delete(ctx, sn);
        rc = NGX_DECLINED;

    } else if (ngx_http_oxmigrate_shm_expired(sn, now)) {
        /* past its ttl, kept for stale=: a miss, unless configdb fails */
        rc = NGX_DECLINED;

    } else {
        ngx_queue_remove(&sn->queue);
        ngx_queue_insert_head(&ctx->sh->queue, &sn->queue);

        ngx_memcpy(buf, sn->data + sn->key_len, sn->value_len);
        *len = sn->value_len;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oxmigrate shm get \"%V\" epoch:%ui rc:%i",
                   key, epoch, rc);

    return rc;
}


/*
 * The last known entry of key, even past its ttl (within stale=), for
 * when configdb cannot be asked.  An entry retired by an epoch change or
 * deleted by a change was never "last known": it is not served.
 */

ngx_int_t
ngx_http_oxmigrate_shm_get_stale(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    u_char *buf, size_t *len)
{
    ngx_int_t                      rc;
    ngx_http_oxmigrate_shm_peek_t  pk;

    rc = ngx_http_oxmigrate_shm_peek(shm_zone, key, buf, len, &pk);

    if (rc == NGX_OK && (pk.epoch != pk.zone_epoch || pk.keep_in <= 0)) {
        rc = NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oxmigrate shm stale \"%V\" rc:%i", key, rc);

    return rc;
}


ngx_int_t
ngx_http_oxmigrate_shm_set(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    ngx_uint_t epoch, ngx_str_t *value, ngx_msec_t ttl, ngx_msec_t stale,
    ngx_http_oxmigrate_info_t *info, uint64_t pos, uint64_t at)
{
    size_t                          size;
    ngx_msec_t                      now;
    ngx_uint_t                      hash, evicted;
    ngx_queue_t                    *q;
    ngx_rbtree_node_t              *node;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    static ngx_uint_t               warned;

    if (shm_zone == NULL) {
        return NGX_OK;
    }

    if (ttl > NGX_HTTP_OXMIGRATE_SHM_TTL_MAX) {
        ttl = NGX_HTTP_OXMIGRATE_SHM_TTL_MAX;
    }

    ctx = shm_zone->data;

    hash = ngx_crc32_short(key->data, key->len);

    size = offsetof(ngx_http_oxmigrate_shm_node_t, data)
           + key->len + value->len;

    evicted = 0;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    now = ngx_http_oxmigrate_clock_msec();

    /*
     * An applied change the answer may not have seen (shm_log.c: by its
     * position and configdb's time of the read) may have made it stale:
     * then it is not stored, and the caller does not use it either
     * (a Redis copy: configdb is asked).  One lock for the check and the
     * store, so no change can slip in between.
     */

    if (epoch != ctx->sh->epoch
        || ngx_http_oxmigrate_shm_touched(ctx->sh, pos, at, hash,
                             info->found ? (uint32_t) info->cid : 0,
                             info->found ? (uint32_t) info->server_id : 0))
    {
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "oxmigrate shm set \"%V\": changed since %uL, "
                       "not stored", key, pos);
        return NGX_DECLINED;
    }

    if (ttl == 0
        || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX
        || value->len > NGX_HTTP_OXMIGRATE_VALUE_MAX)
    {
        /* fresh, but not to be cached */
        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return NGX_OK;
    }

    sn = ngx_http_oxmigrate_shm_lookup(ctx, hash, key);
    if (sn) {
        /* the value may change size: a fresh allocation is simplest */
        ngx_http_oxmigrate_shm_delete(ctx, sn);
    }

    ngx_http_oxmigrate_shm_expire(ctx, now);

    for ( ;; ) {
        node = ngx_slab_alloc_locked(ctx->shpool, size);
        if (node) {
            break;
        }

        /*
         * Full: the least recently used entry goes.  Its slot may belong
         * to another size class than ours, so this can take several
         * rounds before a slot or a page of the right kind is free.
         */

        if (ngx_queue_empty(&ctx->sh->queue)) {
            break;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        ngx_http_oxmigrate_shm_delete(ctx,
            ngx_queue_data(q, ngx_http_oxmigrate_shm_node_t, queue));

        evicted++;
    }

    ctx->sh->evictions += evicted;

    if (node) {
        sn = (ngx_http_oxmigrate_shm_node_t *) node;

        node->key = hash;

        sn->stored = now;
        sn->expires = now + ttl;
        sn->keep = sn->expires + ngx_min(stale, NGX_HTTP_OXMIGRATE_SHM_TTL_MAX);
        sn->epoch = epoch;
        sn->cid = info->found ? (uint32_t) info->cid : 0;
        sn->server_id = info->found ? (uint32_t) info->server_id : 0;
        sn->key_len = (u_short) key->len;
        sn->value_len = (u_short) value->len;

        ngx_memcpy(sn->data, key->data, key->len);
        ngx_memcpy(sn->data + key->len, value->data, value->len);

        ngx_rbtree_insert(&ctx->sh->rbtree, node);
        ngx_queue_insert_head(&ctx->sh->queue, &sn->queue);
        ctx->sh->entries++;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oxmigrate shm set \"%V\" epoch:%ui evicted:%ui stored:%d",
                   key, epoch, evicted, node != NULL);

    if (node == NULL && !warned) {
        /*
         * Once per worker: the zone cannot hold even this one entry.  The
         * key is left out: it comes from the client and may hold anything.
         */
        warned = 1;
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "oxmigrate: could not cache an entry of %uz bytes%s",
                      size, ctx->shpool->log_ctx);
    }

    return NGX_OK;
}


/* the tree orders by hash, then by the key bytes, as the lookup expects */

static void
ngx_http_oxmigrate_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t              **p;
    ngx_http_oxmigrate_shm_node_t   *sn, *snt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            sn = (ngx_http_oxmigrate_shm_node_t *) node;
            snt = (ngx_http_oxmigrate_shm_node_t *) temp;

            p = (ngx_memn2cmp(sn->data, snt->data, sn->key_len, snt->key_len)
                 < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/* with the zone locked */

ngx_http_oxmigrate_shm_node_t *
ngx_http_oxmigrate_shm_lookup(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_uint_t hash, ngx_str_t *key)
{
    ngx_int_t                       rc;
    ngx_rbtree_node_t              *node, *sentinel;
    ngx_http_oxmigrate_shm_node_t  *sn;

    node = ctx->sh->rbtree.root;
    sentinel = ctx->sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        sn = (ngx_http_oxmigrate_shm_node_t *) node;

        rc = ngx_memn2cmp(key->data, sn->data, key->len,
                          (size_t) sn->key_len);

        if (rc == 0) {
            return sn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/* with the zone locked */

void
ngx_http_oxmigrate_shm_delete(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_http_oxmigrate_shm_node_t *sn)
{
    ngx_queue_remove(&sn->queue);
    ngx_rbtree_delete(&ctx->sh->rbtree, &sn->node);
    ngx_slab_free_locked(ctx->shpool, sn);
    ctx->sh->entries--;
}


/*
 * With the zone locked: drops up to a few expired entries from the LRU
 * tail, so that entries nobody asks for again do not sit there until
 * memory runs out.  It stops at the first live one: the queue is ordered
 * by use, not by expiry, so looking further would be a walk of the zone.
 */

static void
ngx_http_oxmigrate_shm_expire(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_msec_t now)
{
    ngx_uint_t                      n;
    ngx_queue_t                    *q;
    ngx_http_oxmigrate_shm_node_t  *sn;

    for (n = 0; n < NGX_HTTP_OXMIGRATE_SHM_EXPIRE; n++) {

        if (ngx_queue_empty(&ctx->sh->queue)) {
            return;
        }

        q = ngx_queue_last(&ctx->sh->queue);
        sn = ngx_queue_data(q, ngx_http_oxmigrate_shm_node_t, queue);

        if ((ngx_msec_int_t) (sn->keep - now) > 0) {
            return;
        }

        ngx_http_oxmigrate_shm_delete(ctx, sn);
    }
}


static ngx_inline ngx_uint_t
ngx_http_oxmigrate_shm_expired(ngx_http_oxmigrate_shm_node_t *sn,
    ngx_msec_t now)
{
    return (ngx_msec_int_t) (sn->expires - now) <= 0;
}
