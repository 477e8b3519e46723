
/*
 * The configdb change log (sql/changelog.sql), followed by the balancers.
 *
 * Triggers on context, context_server2db_pool, login2context and server
 * write one row per change of what a decision depends on, whoever makes
 * it: the admin API, OX's own tools, plain SQL.  Every worker has a timer;
 * the shared zone says when the next poll is due, so one worker of the
 * balancer asks at a time (twice a second):
 *
 *     SELECT id, cid, server_id, login_info FROM oxmigrate_change
 *      WHERE id > <applied> ORDER BY id LIMIT 512
 *
 * and applies the rows to the zone (ngx_http_oxmigrate_shm_apply): only
 * the entries they touch are deleted, every other context stays cached.
 * A balancer without the table (not installed) checks again every 30 s and
 * otherwise behaves as before: only the Redis epoch and the ttls apply.
 *
 * The poll runs on the lookup pool's connections, non-blocking like every
 * lookup; it never holds a request.
 */


#include "ngx_http_oxmigrate.h"
#include "oxm_login.h"


#define NGX_HTTP_OXMIGRATE_CHANGES_TICK     250      /* worker timer, ms */
#define NGX_HTTP_OXMIGRATE_CHANGES_EVERY    500      /* a poll, ms */
#define NGX_HTTP_OXMIGRATE_CHANGES_ABSENT   30000    /* no table: again in */
#define NGX_HTTP_OXMIGRATE_CHANGES_BATCH    512


typedef struct {
    ngx_event_t                      timer;
    ngx_http_oxmigrate_main_conf_t  *omcf;
    ngx_uint_t                       busy;      /* a poll in flight */
    ngx_uint_t                       probing;   /* asking for the table */
    ngx_uint_t                       present;   /* the table exists */
    ngx_uint_t                       told;      /* "not installed" logged */
    ngx_uint_t                       ready;     /* the zone has a position */
    uint64_t                         from;
    uint64_t                         start;     /* MAX(id) at the first read */
    ngx_uint_t                       n;
    ngx_http_oxmigrate_change_t      rows[NGX_HTTP_OXMIGRATE_CHANGES_BATCH];
} ngx_http_oxmigrate_changes_t;


static void ngx_http_oxmigrate_changes_tick(ngx_event_t *ev);
static void ngx_http_oxmigrate_changes_row(void *data, ngx_str_t *cols,
    ngx_uint_t n);
static void ngx_http_oxmigrate_changes_done(void *data, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info);


static ngx_http_oxmigrate_changes_t  *ngx_http_oxmigrate_changes;


ngx_int_t
ngx_http_oxmigrate_changes_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_main_conf_t *omcf)
{
    ngx_http_oxmigrate_changes_t  *ch;

    if (omcf->db == NULL || omcf->shm_zone == NULL) {
        return NGX_OK;
    }

    ch = ngx_pcalloc(cycle->pool, sizeof(ngx_http_oxmigrate_changes_t));
    if (ch == NULL) {
        return NGX_ERROR;
    }

    ch->omcf = omcf;
    ch->timer.handler = ngx_http_oxmigrate_changes_tick;
    ch->timer.data = ch;
    ch->timer.log = cycle->log;
    ch->timer.cancelable = 1;

    ngx_http_oxmigrate_changes = ch;

    ngx_add_timer(&ch->timer, NGX_HTTP_OXMIGRATE_CHANGES_TICK);

    return NGX_OK;
}


static void
ngx_http_oxmigrate_changes_tick(ngx_event_t *ev)
{
    u_char                         sql[256];
    ngx_str_t                      q;
    ngx_msec_t                     busy;
    ngx_http_oxmigrate_changes_t  *ch = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(ev, NGX_HTTP_OXMIGRATE_CHANGES_TICK);

    if (ch->busy) {
        return;
    }

    /* a worker holds the poll for as long as a query may take */

    busy = ch->omcf->db->connect_timeout + ch->omcf->db->timeout;

    if (ngx_http_oxmigrate_shm_poll_due(ch->omcf->shm_zone, busy, &ch->from,
                                        &ch->ready)
        != NGX_OK)
    {
        return;
    }

    q.data = sql;

    if (!ch->present) {
        ch->probing = 1;
        q.len = ngx_sprintf(sql, "SELECT COUNT(*) FROM information_schema"
                            ".tables WHERE table_schema = DATABASE()"
                            " AND table_name = 'oxmigrate_change'")
                - sql;

    } else if (!ch->ready) {
        ch->probing = 0;
        q.len = ngx_sprintf(sql, "SELECT COALESCE(MAX(id), 0)"
                            " FROM oxmigrate_change")
                - sql;

    } else {
        ch->probing = 0;
        q.len = ngx_sprintf(sql, "SELECT id, cid, server_id, login_info"
                            " FROM oxmigrate_change WHERE id > %uL"
                            " ORDER BY id LIMIT %d",
                            ch->from, NGX_HTTP_OXMIGRATE_CHANGES_BATCH)
                - sql;
    }

    ch->n = 0;
    ch->start = 0;

    if (ngx_http_oxmigrate_db_query(&q, ngx_http_oxmigrate_changes_row,
                                    ngx_http_oxmigrate_changes_done, ch)
        != NGX_OK)
    {
        ngx_http_oxmigrate_shm_poll_next(ch->omcf->shm_zone,
                                         NGX_HTTP_OXMIGRATE_CHANGES_EVERY);
        return;
    }

    ch->busy = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "oxmigrate changes: poll after %uL", ch->from);
}


static void
ngx_http_oxmigrate_changes_row(void *data, ngx_str_t *cols, ngx_uint_t n)
{
    ngx_http_oxmigrate_changes_t *ch = data;

    u_char                        key[NGX_HTTP_OXMIGRATE_KEY_MAX];
    size_t                        len;
    off_t                         v;
    ngx_http_oxmigrate_change_t  *c;

    if (n == 1) {
        /* the probe (COUNT) or the first read (MAX(id)) */
        v = ngx_atoof(cols[0].data, cols[0].len);
        ch->start = (v == NGX_ERROR) ? 0 : (uint64_t) v;
        return;
    }

    if (n < 4 || ch->n == NGX_HTTP_OXMIGRATE_CHANGES_BATCH) {
        return;
    }

    c = &ch->rows[ch->n];
    ngx_memzero(c, sizeof(ngx_http_oxmigrate_change_t));

    v = ngx_atoof(cols[0].data, cols[0].len);
    if (v == NGX_ERROR) {
        return;
    }

    c->id = (uint64_t) v;

    v = cols[1].len ? ngx_atoof(cols[1].data, cols[1].len) : 0;
    c->cid = (v == NGX_ERROR) ? 0 : (uint32_t) v;

    v = cols[2].len ? ngx_atoof(cols[2].data, cols[2].len) : 0;
    c->server_id = (v == NGX_ERROR) ? 0 : (uint32_t) v;

    /* a login name: its cache entry, keyed as a login's context part */

    if (cols[3].len && cols[3].len <= sizeof(key)) {
        ngx_memcpy(key, cols[3].data, cols[3].len);
        len = oxm_login_key_normalize(key, cols[3].len);
        c->key_hash = ngx_crc32_short(key, len);
        c->key_hash_set = 1;
    }

    ch->n++;
}


static void
ngx_http_oxmigrate_changes_done(void *data, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info)
{
    ngx_http_oxmigrate_changes_t *ch = data;

    ngx_msec_t  next;

    ch->busy = 0;
    next = NGX_HTTP_OXMIGRATE_CHANGES_EVERY;

    if (rc != NGX_OK) {
        /* the lookup pool logged why; a missing table is probed again */
        if (!ch->probing) {
            ch->present = 0;
            ngx_http_oxmigrate_db_changelog(0);
        }

    } else if (ch->probing) {
        ch->present = (ch->start > 0);
        ngx_http_oxmigrate_db_changelog(ch->present);

        if (!ch->present) {
            if (!ch->told) {
                ch->told = 1;
                ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                              "oxmigrate: no oxmigrate_change table in "
                              "configdb: changes are seen through the Redis "
                              "epoch and the ttls only (install "
                              "sql/changelog.sql to follow any writer)");
            }

            next = NGX_HTTP_OXMIGRATE_CHANGES_ABSENT;

        } else {
            next = 0;
        }

    } else if (!ch->ready) {
        ngx_http_oxmigrate_shm_apply(ch->omcf->shm_zone, NULL, 0, ch->start);

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "oxmigrate: following the configdb change log from "
                      "%uL", ch->start);
        next = 0;

    } else if (ch->n) {
        ngx_http_oxmigrate_shm_apply(ch->omcf->shm_zone, ch->rows, ch->n, 0);

        if (ch->n == NGX_HTTP_OXMIGRATE_CHANGES_BATCH) {
            next = 0;       /* more are waiting */
        }
    }

    ngx_http_oxmigrate_shm_poll_next(ch->omcf->shm_zone, next);
}
