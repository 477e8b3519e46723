/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * The shared-memory cache's layout, for its two files:
 * ngx_http_oxmigrate_shm.c (the zone, get, set, eviction) and
 * ngx_http_oxmigrate_shm_log.c (the epoch, the change log applied to the
 * zone, freshness checks, counts, peek).  Nothing else includes it.
 */


#ifndef _NGX_HTTP_OXMIGRATE_SHM_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_SHM_H_INCLUDED_


#include "ngx_http_oxmigrate.h"


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
    ngx_http_oxmigrate_log_state_t  log;      /* position, holes */
    uint64_t                     covered;     /* the ring forgot changes */
    uint64_t                     covered_seen;  /* up to these */
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


/* with the zone locked */
ngx_http_oxmigrate_shm_node_t *ngx_http_oxmigrate_shm_lookup(
    ngx_http_oxmigrate_shm_ctx_t *ctx, ngx_uint_t hash, ngx_str_t *key);
void ngx_http_oxmigrate_shm_delete(ngx_http_oxmigrate_shm_ctx_t *ctx,
    ngx_http_oxmigrate_shm_node_t *sn);
/*
 * 1 when an applied change that a value fresh as of position pos, read at
 * configdb time at, may not have seen touches an entry with this key hash,
 * cid or server id (or the ring no longer reaches back that far)
 */
ngx_uint_t ngx_http_oxmigrate_shm_touched(ngx_http_oxmigrate_shm_sh_t *sh,
    uint64_t pos, uint64_t at, uint32_t hash, uint32_t cid,
    uint32_t server_id);


#endif /* _NGX_HTTP_OXMIGRATE_SHM_H_INCLUDED_ */
