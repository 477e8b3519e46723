
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


#include "ngx_http_oxmigrate.h"


/*
 * The smallest zone we accept: the slab pool's own bookkeeping takes a few
 * pages, and a zone that cannot hold a useful number of entries only burns
 * the mutex (limit_req uses the same bound).
 */
#define NGX_HTTP_OXMIGRATE_SHM_MIN_PAGES  8

/* stale entries looked at from the LRU tail on every store */
#define NGX_HTTP_OXMIGRATE_SHM_EXPIRE     3

/*
 * ttls are compared through a signed difference so that ngx_current_msec
 * may wrap; a ttl must therefore stay well below half the range.
 */
#define NGX_HTTP_OXMIGRATE_SHM_TTL_MAX    ((ngx_msec_t) NGX_MAX_INT32_VALUE)


/*
 * Changes remembered for freshness checks: one per KiB of zone (2.3 % of
 * it), at most this many.
 */
#define NGX_HTTP_OXMIGRATE_SHM_RING       4096


typedef struct {
    ngx_rbtree_node_t            node;      /* node.key: crc32 of the key */
    ngx_queue_t                  queue;     /* LRU, head most recent */
    ngx_msec_t                   expires;   /* ngx_current_msec based */
    ngx_msec_t                   keep;      /* expires + stale */
    ngx_msec_t                   stored;
    ngx_uint_t                   epoch;
    uint32_t                     cid;       /* 0: a negative entry */
    uint32_t                     server_id;
    u_short                      key_len;
    u_short                      value_len;
    u_char                       data[1];   /* key, then value */
} ngx_http_oxmigrate_shm_node_t;


/* lives in the zone: shpool->data points here */
typedef struct {
    ngx_rbtree_t                 rbtree;
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  queue;

    ngx_uint_t                   epoch;     /* the balancer's epoch */
    ngx_msec_t                   epoch_at;  /* when its poll was sent */

    ngx_uint_t                   entries;
    ngx_uint_t                   evictions;
    ngx_uint_t                   invalidated;

    /* the configdb change log: see changes.c */
    ngx_uint_t                   log_ready;   /* applied is a position */
    uint64_t                     applied;     /* last change applied */
    uint64_t                     covered;     /* ring holds all > covered */
    ngx_msec_t                   poll_at;     /* next poll, any worker */
    ngx_uint_t                   ring_size;
    ngx_uint_t                   ring_next;   /* next slot to write */
    ngx_uint_t                   ring_n;
    ngx_http_oxmigrate_change_t *ring;
} ngx_http_oxmigrate_shm_sh_t;


/* lives in the configuration pool: shm_zone->data points here */
typedef struct {
    ngx_http_oxmigrate_shm_sh_t *sh;
    ngx_slab_pool_t             *shpool;
} ngx_http_oxmigrate_shm_ctx_t;


static ngx_int_t ngx_http_oxmigrate_shm_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);

static void ngx_http_oxmigrate_shm_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_http_oxmigrate_shm_node_t *ngx_http_oxmigrate_shm_lookup(
    ngx_http_oxmigrate_shm_ctx_t *ctx, ngx_uint_t hash, ngx_str_t *key);
static void ngx_http_oxmigrate_shm_delete(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_http_oxmigrate_shm_node_t *sn);
static void ngx_http_oxmigrate_shm_expire(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_msec_t now);
static ngx_inline ngx_uint_t ngx_http_oxmigrate_shm_expired(
    ngx_http_oxmigrate_shm_node_t *sn, ngx_msec_t now);
static ngx_uint_t ngx_http_oxmigrate_shm_touched(
    ngx_http_oxmigrate_shm_sh_t *sh, uint64_t pos, uint32_t hash,
    uint32_t cid, uint32_t server_id);
static ngx_inline ngx_uint_t ngx_http_oxmigrate_change_matches(
    ngx_http_oxmigrate_change_t *ch, uint32_t hash, uint32_t cid,
    uint32_t server_id);


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
    ngx_uint_t                      hash;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    if (shm_zone == NULL || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX) {
        return NGX_DECLINED;
    }

    ctx = shm_zone->data;

    hash = ngx_crc32_short(key->data, key->len);

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oxmigrate_shm_lookup(ctx, hash, key);

    if (sn == NULL) {
        rc = NGX_DECLINED;

    } else if (sn->epoch != ctx->sh->epoch
               || (ngx_msec_int_t) (sn->keep - ngx_current_msec) <= 0)
    {
        /* nobody can use it any more: give the room back now */
        ngx_http_oxmigrate_shm_delete(ctx, sn);
        rc = NGX_DECLINED;

    } else if (ngx_http_oxmigrate_shm_expired(sn, ngx_current_msec)) {
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
    ngx_uint_t epoch, u_char *buf, size_t *len)
{
    ngx_int_t                       rc;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    if (shm_zone == NULL || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX) {
        return NGX_DECLINED;
    }

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oxmigrate_shm_lookup(ctx,
                                       ngx_crc32_short(key->data, key->len),
                                       key);

    rc = NGX_DECLINED;

    if (sn && sn->epoch == ctx->sh->epoch
        && (ngx_msec_int_t) (sn->keep - ngx_current_msec) > 0)
    {
        ngx_memcpy(buf, sn->data + sn->key_len, sn->value_len);
        *len = sn->value_len;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oxmigrate shm stale \"%V\" rc:%i", key, rc);

    return rc;
}


void
ngx_http_oxmigrate_shm_set(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    ngx_uint_t epoch, ngx_str_t *value, ngx_msec_t ttl, ngx_msec_t stale,
    ngx_http_oxmigrate_info_t *info, uint64_t pos)
{
    size_t                          size;
    ngx_msec_t                      now;
    ngx_uint_t                      hash, evicted;
    ngx_queue_t                    *q;
    ngx_rbtree_node_t              *node;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    static ngx_uint_t               warned;

    if (shm_zone == NULL
        || ttl == 0
        || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX
        || value->len > NGX_HTTP_OXMIGRATE_VALUE_MAX)
    {
        return;
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

    now = ngx_current_msec;

    /*
     * A change applied since the lookup started may have made this answer
     * stale: then it is not stored (the next login asks again).
     */

    if (epoch != ctx->sh->epoch
        || ngx_http_oxmigrate_shm_touched(ctx->sh, pos, hash,
                                          (uint32_t) info->cid,
                                          (uint32_t) info->server_id))
    {
        ngx_shmtx_unlock(&ctx->shpool->mutex);

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "oxmigrate shm set \"%V\": changed since %uL, "
                       "not stored", key, pos);
        return;
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

static ngx_http_oxmigrate_shm_node_t *
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

static void
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


/*
 * The zone's epoch.  A worker reports a new value of <prefix>epoch with
 * the time its poll was sent; an older observation never overrides a newer
 * one, so workers polling out of phase agree on one epoch (any change, up
 * or down, retires the entries of the old one).
 */

ngx_uint_t
ngx_http_oxmigrate_shm_epoch(ngx_shm_zone_t *shm_zone, ngx_uint_t seen,
    ngx_msec_t seen_at)
{
    ngx_uint_t                     epoch;
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (seen != ctx->sh->epoch
        && (ngx_msec_int_t) (seen_at - ctx->sh->epoch_at) > 0)
    {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "oxmigrate: cache epoch %ui -> %ui%s",
                      ctx->sh->epoch, seen, ctx->shpool->log_ctx);

        ctx->sh->epoch = seen;
        ctx->sh->epoch_at = seen_at;
    }

    epoch = ctx->sh->epoch;

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return epoch;
}


/*
 * The change-log position this zone knows, and whether it knows one at all
 * (the change log exists and was read once): stamped on lookups and on the
 * Redis copies they write.
 */

uint64_t
ngx_http_oxmigrate_shm_position(ngx_shm_zone_t *shm_zone, ngx_uint_t *ready)
{
    uint64_t                       pos;
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    pos = ctx->sh->applied;
    *ready = ctx->sh->log_ready;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return pos;
}


/* 1 when an answer as of pos for key (or its cid/server) is still good */

ngx_uint_t
ngx_http_oxmigrate_shm_fresh(ngx_shm_zone_t *shm_zone, uint64_t pos,
    ngx_str_t *key, ngx_http_oxmigrate_info_t *info)
{
    ngx_uint_t                     touched;
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    touched = ngx_http_oxmigrate_shm_touched(ctx->sh, pos,
                  ngx_crc32_short(key->data, key->len),
                  info->found ? (uint32_t) info->cid : 0,
                  info->found ? (uint32_t) info->server_id : 0);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return !touched;
}


/*
 * Takes the next poll of the change log when it is due (any worker may;
 * one at a time): NGX_OK with *from set, or NGX_DECLINED.  busy is how
 * long the poll may take before another worker may try.
 */

ngx_int_t
ngx_http_oxmigrate_shm_poll_due(ngx_shm_zone_t *shm_zone, ngx_msec_t busy,
    uint64_t *from, ngx_uint_t *ready)
{
    ngx_int_t                      rc;
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if ((ngx_msec_int_t) (ngx_current_msec - ctx->sh->poll_at) >= 0) {
        ctx->sh->poll_at = ngx_current_msec + busy;
        *from = ctx->sh->applied;
        *ready = ctx->sh->log_ready;
        rc = NGX_OK;

    } else {
        rc = NGX_DECLINED;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}


/* the next poll is due in "after" ms (0: at once, more rows are waiting) */

void
ngx_http_oxmigrate_shm_poll_next(ngx_shm_zone_t *shm_zone, ngx_msec_t after)
{
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    ctx->sh->poll_at = ngx_current_msec + after;
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Applies changes (ordered by id) read from the change log: each one not
 * yet applied goes into the ring and deletes the entries it touches, in
 * one walk of the zone.  start: the first read of the log, which only
 * sets the position (the zone holds nothing older than that read).
 */

void
ngx_http_oxmigrate_shm_apply(ngx_shm_zone_t *shm_zone,
    ngx_http_oxmigrate_change_t *changes, ngx_uint_t n, uint64_t start)
{
    ngx_uint_t                      i, k, first, deleted;
    ngx_queue_t                    *q, *next;
    ngx_http_oxmigrate_change_t    *ch, *slot;
    ngx_http_oxmigrate_shm_sh_t    *sh;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    ctx = shm_zone->data;
    sh = ctx->sh;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if (!sh->log_ready) {
        sh->log_ready = 1;
        sh->applied = start;
        sh->covered = start;
        n = 0;
    }

    /* another worker may have applied some of them meanwhile */

    for (first = 0; first < n && changes[first].id <= sh->applied; first++) {
        /* void */
    }

    for (i = first; i < n; i++) {
        slot = &sh->ring[sh->ring_next];

        if (sh->ring_n == sh->ring_size) {
            /* the oldest change is forgotten: "all after it" no more */
            sh->covered = slot->id;

        } else {
            sh->ring_n++;
        }

        *slot = changes[i];
        sh->ring_next = (sh->ring_next + 1) % sh->ring_size;
        sh->applied = changes[i].id;
    }

    deleted = 0;

    if (first < n) {
        for (q = ngx_queue_head(&sh->queue);
             q != ngx_queue_sentinel(&sh->queue);
             q = next)
        {
            next = ngx_queue_next(q);
            sn = ngx_queue_data(q, ngx_http_oxmigrate_shm_node_t, queue);

            for (k = first; k < n; k++) {
                ch = &changes[k];

                if (ngx_http_oxmigrate_change_matches(ch, sn->node.key,
                                                      sn->cid, sn->server_id))
                {
                    ngx_http_oxmigrate_shm_delete(ctx, sn);
                    deleted++;
                    break;
                }
            }
        }

        sh->invalidated += deleted;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (first < n) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "oxmigrate shm: %ui changes applied up to %uL, "
                       "%ui entries deleted", n - first, changes[n - 1].id,
                       deleted);
    }
}


/*
 * With the zone locked: 1 when a change after pos touches an entry with
 * this key hash, cid or server id, or when the ring no longer reaches back
 * to pos (then nobody can tell).  Newest changes first: the walk ends at
 * the first change not after pos.
 */

static ngx_uint_t
ngx_http_oxmigrate_shm_touched(ngx_http_oxmigrate_shm_sh_t *sh, uint64_t pos,
    uint32_t hash, uint32_t cid, uint32_t server_id)
{
    ngx_uint_t                    i, slot;
    ngx_http_oxmigrate_change_t  *ch;

    if (!sh->log_ready || pos >= sh->applied) {
        return 0;
    }

    if (pos < sh->covered) {
        return 1;
    }

    slot = sh->ring_next;

    for (i = 0; i < sh->ring_n; i++) {
        slot = (slot + sh->ring_size - 1) % sh->ring_size;
        ch = &sh->ring[slot];

        if (ch->id <= pos) {
            break;
        }

        if (ngx_http_oxmigrate_change_matches(ch, hash, cid, server_id)) {
            return 1;
        }
    }

    return 0;
}


static ngx_inline ngx_uint_t
ngx_http_oxmigrate_change_matches(ngx_http_oxmigrate_change_t *ch,
    uint32_t hash, uint32_t cid, uint32_t server_id)
{
    return (ch->cid && ch->cid == cid)
           || (ch->server_id && ch->server_id == server_id)
           || (ch->key_hash_set && ch->key_hash == hash);
}


/* entries, evictions and deletions by changes, for a log line */

void
ngx_http_oxmigrate_shm_stats(ngx_shm_zone_t *shm_zone, ngx_uint_t *entries,
    ngx_uint_t *evictions, ngx_uint_t *invalidated)
{
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);
    *entries = ctx->sh->entries;
    *evictions = ctx->sh->evictions;
    *invalidated = ctx->sh->invalidated;
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * What the zone holds for key, for GET /lookup: changes nothing (no LRU
 * move, no deletion).  NGX_OK with the value, its age, its epoch and the
 * zone's, whether it expired; NGX_DECLINED: no entry.
 */

ngx_int_t
ngx_http_oxmigrate_shm_peek(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    u_char *buf, size_t *len, ngx_http_oxmigrate_shm_peek_t *pk)
{
    ngx_int_t                       rc;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    if (shm_zone == NULL || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX) {
        return NGX_DECLINED;
    }

    ctx = shm_zone->data;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oxmigrate_shm_lookup(ctx,
                                       ngx_crc32_short(key->data, key->len),
                                       key);
    pk->zone_epoch = ctx->sh->epoch;
    pk->position = ctx->sh->applied;

    if (sn == NULL) {
        rc = NGX_DECLINED;

    } else {
        ngx_memcpy(buf, sn->data + sn->key_len, sn->value_len);
        *len = sn->value_len;
        pk->age = ngx_current_msec - sn->stored;
        pk->expires_in = (ngx_msec_int_t) (sn->expires - ngx_current_msec);
        pk->epoch = sn->epoch;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}
