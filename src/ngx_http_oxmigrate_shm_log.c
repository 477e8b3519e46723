/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate's shared zone, the part that follows configdb: the balancer's
 * cache epoch, the change log applied to the zone (each change deletes the
 * entries it touches and is remembered in a ring), the freshness checks
 * that use the ring, the counts, and a read-only peek for GET /lookup.
 * Everything here takes the zone mutex and nothing else.
 */


#include "ngx_http_oxmigrate_shm.h"


/*
 * A change is seen by every read that starts this long after the poll
 * that read it started (configdb's clock): the poll's read view is taken
 * a moment after its NOW(), and replicas' clocks may differ a little.
 */
#define NGX_HTTP_OXMIGRATE_SEEN_MARGIN  100     /* ms */


static ngx_inline ngx_uint_t ngx_http_oxmigrate_change_matches(
    ngx_http_oxmigrate_change_t *ch, uint32_t hash, uint32_t cid,
    uint32_t server_id);
static ngx_uint_t ngx_http_oxmigrate_shm_drop(
    ngx_http_oxmigrate_shm_ctx_t *ctx, ngx_http_oxmigrate_change_t *changes,
    ngx_uint_t n);
static ngx_inline ngx_uint_t ngx_http_oxmigrate_set_slot(uint64_t v);
static void ngx_http_oxmigrate_set_add(uint64_t *set, uint64_t v);
static ngx_uint_t ngx_http_oxmigrate_set_has(uint64_t *set, uint64_t v);


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
    pos = ctx->sh->log.applied;
    *ready = ctx->sh->log.ready;
    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return pos;
}


/*
 * Takes the next poll of the change log when it is due (any worker may;
 * one at a time): NGX_OK with the log's state copied to st, or
 * NGX_DECLINED.  busy is how long the poll may take before another worker
 * may try; a poll overtaken so stores no state (see apply).
 */

ngx_int_t
ngx_http_oxmigrate_shm_poll_due(ngx_shm_zone_t *shm_zone, ngx_msec_t busy,
    ngx_http_oxmigrate_log_state_t *st)
{
    ngx_int_t                      rc;
    ngx_msec_t                     now;
    ngx_http_oxmigrate_shm_ctx_t  *ctx;

    ctx = shm_zone->data;
    now = ngx_http_oxmigrate_clock_msec();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    if ((ngx_msec_int_t) (now - ctx->sh->poll_at) >= 0) {
        ctx->sh->poll_at = now + busy;
        ctx->sh->log.gen++;
        *st = ctx->sh->log;
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
    ctx->sh->poll_at = ngx_http_oxmigrate_clock_msec() + after;
    ngx_shmtx_unlock(&ctx->shpool->mutex);
}


/*
 * Applies changes read from the change log, in any order (a hole filled
 * late comes after higher ids): each goes into the ring and deletes the
 * entries it touches, in one walk of the zone.  The state the poll leaves
 * (position, holes) is stored unless another worker's poll started since.
 */

ngx_msec_t
ngx_http_oxmigrate_shm_apply(ngx_shm_zone_t *shm_zone,
    ngx_http_oxmigrate_change_t *changes, ngx_uint_t n,
    ngx_http_oxmigrate_log_state_t *st)
{
    uint64_t                        top;
    struct timespec                 t0, t1;
    ngx_uint_t                      i, deleted;
    ngx_http_oxmigrate_change_t    *slot;
    ngx_http_oxmigrate_shm_sh_t    *sh;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;

    ctx = shm_zone->data;
    sh = ctx->sh;

    ngx_shmtx_lock(&ctx->shpool->mutex);

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);

    if (!st->ready) {
        /* the first read: the zone holds nothing older than it */
        if (!sh->log.ready) {
            sh->log.ready = 1;
            sh->log.applied = st->applied;
            sh->log.nholes = 0;
            sh->covered = st->applied;
            sh->covered_seen = 0;
        }

        ngx_shmtx_unlock(&ctx->shpool->mutex);
        return 0;
    }

    top = sh->ring_n ? sh->ring[(sh->ring_next + sh->ring_size - 1)
                                % sh->ring_size].top
                     : sh->covered;

    for (i = 0; i < n; i++) {
        slot = &sh->ring[sh->ring_next];

        if (sh->ring_n == sh->ring_size) {
            /* the oldest change is forgotten: "all after it" no more */
            sh->covered = slot->top;
            sh->covered_seen = slot->seen;

        } else {
            sh->ring_n++;
        }

        top = ngx_max(top, changes[i].id);

        *slot = changes[i];
        slot->top = top;
        sh->ring_next = (sh->ring_next + 1) % sh->ring_size;
    }

    if (st->gen == sh->log.gen) {
        sh->log = *st;
    }

    deleted = n ? ngx_http_oxmigrate_shm_drop(ctx, changes, n) : 0;

    sh->invalidated += deleted;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    if (n) {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                       "oxmigrate shm: %ui changes applied, position %uL, "
                       "%ui entries deleted", n, st->applied, deleted);
    }

    return (ngx_msec_t) ((t1.tv_sec - t0.tv_sec) * 1000000
                         + (t1.tv_nsec - t0.tv_nsec) / 1000);
}


/*
 * With the zone locked: deletes every entry a change touches, in one walk
 * of the zone.  The changes' context ids, server ids and name hashes go
 * into a small open-addressing set first, so an entry costs three probes
 * however many changes a batch has.
 */

#define NGX_HTTP_OXMIGRATE_DROP_SET  4096      /* > 3 * a poll's rows */

static ngx_uint_t
ngx_http_oxmigrate_shm_drop(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_http_oxmigrate_change_t *changes, ngx_uint_t n)
{
    ngx_uint_t                      i, deleted;
    ngx_queue_t                    *q, *next;
    ngx_http_oxmigrate_change_t    *ch;
    ngx_http_oxmigrate_shm_node_t  *sn;

    static uint64_t  set[NGX_HTTP_OXMIGRATE_DROP_SET];

    ngx_memzero(set, sizeof(set));

    for (i = 0; i < n; i++) {
        ch = &changes[i];

        if (ch->cid) {
            ngx_http_oxmigrate_set_add(set, (1ULL << 32) | ch->cid);
        }

        if (ch->server_id) {
            ngx_http_oxmigrate_set_add(set, (2ULL << 32) | ch->server_id);
        }

        if (ch->key_hash_set) {
            ngx_http_oxmigrate_set_add(set, (3ULL << 32) | ch->key_hash);
        }
    }

    deleted = 0;

    for (q = ngx_queue_head(&ctx->sh->queue);
         q != ngx_queue_sentinel(&ctx->sh->queue);
         q = next)
    {
        next = ngx_queue_next(q);
        sn = ngx_queue_data(q, ngx_http_oxmigrate_shm_node_t, queue);

        if ((sn->cid
             && ngx_http_oxmigrate_set_has(set, (1ULL << 32) | sn->cid))
            || (sn->server_id
                && ngx_http_oxmigrate_set_has(set,
                                              (2ULL << 32) | sn->server_id))
            || ngx_http_oxmigrate_set_has(set,
                                  (3ULL << 32) | (uint32_t) sn->node.key))
        {
            ngx_http_oxmigrate_shm_delete(ctx, sn);
            deleted++;
        }
    }

    return deleted;
}


static ngx_inline ngx_uint_t
ngx_http_oxmigrate_set_slot(uint64_t v)
{
    v *= 0x9e3779b97f4a7c15ULL;
    return (ngx_uint_t) (v >> 52) % NGX_HTTP_OXMIGRATE_DROP_SET;
}


static void
ngx_http_oxmigrate_set_add(uint64_t *set, uint64_t v)
{
    ngx_uint_t  i;

    for (i = ngx_http_oxmigrate_set_slot(v);
         set[i] != 0 && set[i] != v;
         i = (i + 1) % NGX_HTTP_OXMIGRATE_DROP_SET)
    {
        /* void */
    }

    set[i] = v;
}


static ngx_uint_t
ngx_http_oxmigrate_set_has(uint64_t *set, uint64_t v)
{
    ngx_uint_t  i;

    for (i = ngx_http_oxmigrate_set_slot(v);
         set[i] != 0;
         i = (i + 1) % NGX_HTTP_OXMIGRATE_DROP_SET)
    {
        if (set[i] == v) {
            return 1;
        }
    }

    return 0;
}


/*
 * With the zone locked: 1 when an applied change that a value may not
 * have seen touches an entry with this key hash, cid or server id, or when
 * the ring no longer reaches back far enough (then nobody can tell).
 *
 * A value was read by configdb at time "at" (its clock, unix ms) and saw
 * position pos (MAX(id) then).  Change ids are handed out at INSERT, not
 * at COMMIT, so pos >= id does not say the value saw the change; but a
 * change was committed before the poll that read it, so a value read
 * after that poll (plus a margin for the statement's start) saw it.  The
 * position still counts too: a replica behind it has not.  Newest
 * changes first: the walk ends where neither can tell any more.
 */

ngx_uint_t
ngx_http_oxmigrate_shm_touched(ngx_http_oxmigrate_shm_sh_t *sh, uint64_t pos,
    uint64_t at, uint32_t hash, uint32_t cid, uint32_t server_id)
{
    ngx_uint_t                    i, slot;
    ngx_http_oxmigrate_change_t  *ch;

    if (!sh->log.ready) {
        return 0;
    }

    if (pos < sh->covered
        || (sh->covered_seen
            && at < sh->covered_seen + NGX_HTTP_OXMIGRATE_SEEN_MARGIN))
    {
        return 1;
    }

    slot = sh->ring_next;

    for (i = 0; i < sh->ring_n; i++) {
        slot = (slot + sh->ring_size - 1) % sh->ring_size;
        ch = &sh->ring[slot];

        if (ch->top <= pos
            && ch->seen + NGX_HTTP_OXMIGRATE_SEEN_MARGIN <= at)
        {
            break;
        }

        if ((pos < ch->id || at < ch->seen + NGX_HTTP_OXMIGRATE_SEEN_MARGIN)
            && ngx_http_oxmigrate_change_matches(ch, hash, cid, server_id))
        {
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
    ngx_msec_t                      now;
    ngx_http_oxmigrate_shm_ctx_t   *ctx;
    ngx_http_oxmigrate_shm_node_t  *sn;

    if (shm_zone == NULL || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX) {
        return NGX_DECLINED;
    }

    ctx = shm_zone->data;
    now = ngx_http_oxmigrate_clock_msec();

    ngx_shmtx_lock(&ctx->shpool->mutex);

    sn = ngx_http_oxmigrate_shm_lookup(ctx,
                                       ngx_crc32_short(key->data, key->len),
                                       key);
    pk->zone_epoch = ctx->sh->epoch;
    pk->position = ctx->sh->log.applied;

    if (sn == NULL) {
        rc = NGX_DECLINED;

    } else {
        ngx_memcpy(buf, sn->data + sn->key_len, sn->value_len);
        *len = sn->value_len;
        pk->age = now - sn->stored;
        pk->expires_in = (ngx_msec_int_t) (sn->expires - now);
        pk->keep_in = (ngx_msec_int_t) (sn->keep - now);
        pk->epoch = sn->epoch;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}
