
/*
 * oxmigrate's shared zone, the part that follows configdb: the balancer's
 * cache epoch, the change log applied to the zone (each change deletes the
 * entries it touches and is remembered in a ring), the freshness checks
 * that use the ring, the counts, and a read-only peek for GET /lookup.
 * Everything here takes the zone mutex and nothing else.
 */


#include "ngx_http_oxmigrate_shm.h"


static ngx_inline ngx_uint_t ngx_http_oxmigrate_change_matches(
    ngx_http_oxmigrate_change_t *ch, uint32_t hash, uint32_t cid,
    uint32_t server_id);


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

ngx_uint_t
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
        pk->keep_in = (ngx_msec_int_t) (sn->keep - ngx_current_msec);
        pk->epoch = sn->epoch;
        rc = NGX_OK;
    }

    ngx_shmtx_unlock(&ctx->shpool->mutex);

    return rc;
}
