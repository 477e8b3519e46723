/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * The configdb change log (sql/changelog.sql), followed by the balancers.
 *
 * Triggers on context, context_server2db_pool, login2context and server
 * write one row per change of what a decision depends on, whoever makes
 * it: the admin API, OX's own tools, plain SQL.  Every worker has a timer;
 * the shared zone says when the next poll is due, so one worker of the
 * balancer asks at a time (twice a second, at once while rows wait).
 *
 * Ids are handed out at INSERT, not at COMMIT: a transaction that commits
 * after a later-numbered one leaves a hole that fills later, and one that
 * rolls back leaves a hole for good.  So the zone keeps, besides the
 * highest id read, the ranges of ids not read (ngx_http_oxmigrate_hole_t):
 *
 *   - holes: ids skipped by a read, watched for oxmigrate_changes_hole_time
 *     (300 s by default; a transaction
 *     still open commits within it; a rolled-back one never does: the
 *     hole is dropped, nothing else waits for it);
 *   - unread ranges: ids below rows already read that were not read yet,
 *     because a poll reads at most BATCH new rows, newest first (a big
 *     transaction's rows are read in batches from below while the newest
 *     changes are applied at once).
 *
 * One statement per poll, one consistent read, three parts of at most
 * BATCH rows each:
 *
 *     (SELECT 0, ... WHERE id BETWEEN <hole> OR ... ORDER BY id LIMIT B)
 *     UNION ALL (SELECT 1, ... WHERE id BETWEEN <unread> ORDER BY id
 *                LIMIT B)
 *     UNION ALL (SELECT 2, ... WHERE id > <applied> ORDER BY id DESC
 *                LIMIT B)
 *
 * and the rows are applied to the zone (ngx_http_oxmigrate_shm_apply):
 * only the entries they touch are deleted.  Each row carries configdb's
 * clock of the read, which says which cached values may not have seen it
 * (shm_log.c).  A balancer without the table (not installed) checks again
 * every 30 s and otherwise behaves as before: only the Redis epoch and the
 * ttls apply.
 *
 * The poll runs on the lookup pool's connections, non-blocking like every
 * lookup; it never holds a request.
 */


#include "ngx_http_oxmigrate.h"
#include "oxm_login.h"


#define NGX_HTTP_OXMIGRATE_CHANGES_TICK     250      /* worker timer, ms */
#define NGX_HTTP_OXMIGRATE_CHANGES_EVERY    500      /* a poll, ms */
#define NGX_HTTP_OXMIGRATE_CHANGES_ABSENT   30000    /* no table: again in */
#define NGX_HTTP_OXMIGRATE_CHANGES_BATCH    256      /* rows of each part */
#define NGX_HTTP_OXMIGRATE_CHANGES_ROWS     768      /* 3 * BATCH */
#define NGX_HTTP_OXMIGRATE_CHANGES_SQL      4096

/* configdb's clock, unix ms, at the start of the statement */
#define NGX_HTTP_OXMIGRATE_CHANGES_NOW                                      \
    "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED)"

#define NGX_HTTP_OXMIGRATE_CHANGES_COLS                                     \
    " id, cid, server_id, login_info, " NGX_HTTP_OXMIGRATE_CHANGES_NOW      \
    " FROM oxmigrate_change WHERE "

/* the pieces a poll can leave: every old range split by every row */
#define NGX_HTTP_OXMIGRATE_HOLES_WORK                                       \
    (2 * NGX_HTTP_OXMIGRATE_HOLES + NGX_HTTP_OXMIGRATE_CHANGES_ROWS + 4)


typedef struct {
    ngx_uint_t                       part;
    ngx_http_oxmigrate_change_t      c;
} ngx_http_oxmigrate_changes_row_t;


typedef struct {
    ngx_event_t                      timer;
    ngx_http_oxmigrate_main_conf_t  *omcf;
    ngx_uint_t                       busy;      /* a poll in flight */
    ngx_uint_t                       probing;   /* asking for the table */
    ngx_uint_t                       present;   /* the table exists */
    ngx_uint_t                       told;      /* "not installed" logged */
    ngx_uint_t                       full;      /* a part hit BATCH */
    ngx_http_oxmigrate_log_state_t   st;        /* as the poll found it */
    uint64_t                         start;     /* MAX(id) at the first read */
    uint64_t                         seen;      /* configdb's clock then */
    ngx_uint_t                       n;
    ngx_uint_t                       nparts[3];
    ngx_msec_t                       worst;     /* longest apply, us */
    ngx_msec_t                       told_holes;  /* last hole line */
    ngx_http_oxmigrate_changes_row_t rows[NGX_HTTP_OXMIGRATE_CHANGES_ROWS];
    ngx_http_oxmigrate_change_t      apply[NGX_HTTP_OXMIGRATE_CHANGES_ROWS];
    ngx_http_oxmigrate_hole_t        work[NGX_HTTP_OXMIGRATE_HOLES_WORK];
    u_char                           sql[NGX_HTTP_OXMIGRATE_CHANGES_SQL];
} ngx_http_oxmigrate_changes_t;


static void ngx_http_oxmigrate_changes_tick(ngx_event_t *ev);
static size_t ngx_http_oxmigrate_changes_sql(ngx_http_oxmigrate_changes_t *ch);
static void ngx_http_oxmigrate_changes_row(void *data, ngx_str_t *cols,
    ngx_uint_t n);
static void ngx_http_oxmigrate_changes_done(void *data, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info);
static void ngx_http_oxmigrate_changes_read(ngx_http_oxmigrate_changes_t *ch);
static ngx_uint_t ngx_http_oxmigrate_changes_old(
    ngx_http_oxmigrate_changes_t *ch, ngx_msec_t now);
static int ngx_libc_cdecl ngx_http_oxmigrate_changes_cmp(const void *a,
    const void *b);
static ngx_uint_t ngx_http_oxmigrate_changes_split(
    ngx_http_oxmigrate_changes_t *ch, ngx_uint_t w,
    ngx_http_oxmigrate_hole_t *range, uint64_t upto, ngx_msec_t since,
    ngx_http_oxmigrate_changes_row_t *rows, ngx_uint_t k);
static ngx_uint_t ngx_http_oxmigrate_changes_add(
    ngx_http_oxmigrate_changes_t *ch, ngx_uint_t w, uint64_t lo, uint64_t hi,
    ngx_msec_t since, ngx_uint_t unread);
static void ngx_http_oxmigrate_changes_keep(ngx_http_oxmigrate_changes_t *ch,
    ngx_uint_t w);


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

    if (ngx_http_oxmigrate_shm_poll_due(ch->omcf->shm_zone, busy, &ch->st)
        != NGX_OK)
    {
        return;
    }

    q.data = ch->sql;

    if (!ch->present) {
        ch->probing = 1;
        q.len = ngx_sprintf(ch->sql, "SELECT COUNT(*) FROM information_schema"
                            ".tables WHERE table_schema = DATABASE()"
                            " AND table_name = 'oxmigrate_change'")
                - ch->sql;

    } else if (!ch->st.ready) {
        ch->probing = 0;
        q.len = ngx_sprintf(ch->sql, "SELECT COALESCE(MAX(id), 0), "
                            NGX_HTTP_OXMIGRATE_CHANGES_NOW
                            " FROM oxmigrate_change")
                - ch->sql;

    } else {
        ch->probing = 0;
        q.len = ngx_http_oxmigrate_changes_sql(ch);
    }

    ch->n = 0;
    ch->nparts[0] = ch->nparts[1] = ch->nparts[2] = 0;
    ch->start = 0;
    ch->seen = 0;

    if (ngx_http_oxmigrate_db_query(&q, ngx_http_oxmigrate_changes_row,
                                    ngx_http_oxmigrate_changes_done, ch)
        != NGX_OK)
    {
        ngx_http_oxmigrate_shm_poll_next(ch->omcf->shm_zone,
                                         NGX_HTTP_OXMIGRATE_CHANGES_EVERY);
        return;
    }

    ch->busy = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ev->log, 0,
                   "oxmigrate changes: poll after %uL, %ui ranges",
                   ch->st.applied, ch->st.nholes);
}


/* the poll: the holes, the first unread range, the new rows */

static size_t
ngx_http_oxmigrate_changes_sql(ngx_http_oxmigrate_changes_t *ch)
{
    u_char                     *p, *last;
    ngx_uint_t                  i, any;
    ngx_http_oxmigrate_hole_t  *h, *unread;

    p = ch->sql;

    /*
     * Room for the two other parts and one more range: the holes that do
     * not fit are asked next time (one that is not asked stays as it is).
     */

    last = ch->sql + NGX_HTTP_OXMIGRATE_CHANGES_SQL - 1024;
    any = 0;
    unread = NULL;

    for (i = 0; i < ch->st.nholes; i++) {
        h = &ch->st.holes[i];

        if (h->unread) {
            if (unread == NULL) {
                unread = h;
            }

            continue;
        }

        if (p >= last) {
            continue;
        }

        p = ngx_sprintf(p, any ? " OR " : "(SELECT 0,"
                        NGX_HTTP_OXMIGRATE_CHANGES_COLS);
        p = (h->lo == h->hi) ? ngx_sprintf(p, "id = %uL", h->lo)
                             : ngx_sprintf(p, "id BETWEEN %uL AND %uL",
                                           h->lo, h->hi);
        any = 1;
    }

    if (any) {
        p = ngx_sprintf(p, " ORDER BY id LIMIT %d) UNION ALL ",
                        NGX_HTTP_OXMIGRATE_CHANGES_BATCH);
    }

    if (unread) {
        p = ngx_sprintf(p, "(SELECT 1," NGX_HTTP_OXMIGRATE_CHANGES_COLS
                        "id BETWEEN %uL AND %uL ORDER BY id LIMIT %d)"
                        " UNION ALL ", unread->lo, unread->hi,
                        NGX_HTTP_OXMIGRATE_CHANGES_BATCH);
    }

    p = ngx_sprintf(p, "(SELECT 2," NGX_HTTP_OXMIGRATE_CHANGES_COLS
                    "id > %uL ORDER BY id DESC LIMIT %d)",
                    ch->st.applied, NGX_HTTP_OXMIGRATE_CHANGES_BATCH);

    return p - ch->sql;
}


static void
ngx_http_oxmigrate_changes_row(void *data, ngx_str_t *cols, ngx_uint_t n)
{
    ngx_http_oxmigrate_changes_t *ch = data;

    u_char                             key[NGX_HTTP_OXMIGRATE_KEY_MAX];
    size_t                             len;
    off_t                              v;
    ngx_http_oxmigrate_change_t       *c;
    ngx_http_oxmigrate_changes_row_t  *row;

    if (n <= 2) {
        /* the probe (COUNT) or the first read (MAX(id), the clock) */
        v = ngx_atoof(cols[0].data, cols[0].len);
        ch->start = (v == NGX_ERROR) ? 0 : (uint64_t) v;

        if (n == 2) {
            v = ngx_atoof(cols[1].data, cols[1].len);
            ch->seen = (v == NGX_ERROR) ? 0 : (uint64_t) v;
        }

        return;
    }

    if (n < 6 || ch->n == NGX_HTTP_OXMIGRATE_CHANGES_ROWS) {
        return;
    }

    row = &ch->rows[ch->n];
    c = &row->c;
    ngx_memzero(row, sizeof(ngx_http_oxmigrate_changes_row_t));

    v = ngx_atoof(cols[0].data, cols[0].len);
    if (v == NGX_ERROR || v > 2) {
        return;
    }

    row->part = (ngx_uint_t) v;

    v = ngx_atoof(cols[1].data, cols[1].len);
    if (v == NGX_ERROR) {
        return;
    }

    c->id = (uint64_t) v;

    v = cols[2].len ? ngx_atoof(cols[2].data, cols[2].len) : 0;
    c->cid = (v == NGX_ERROR) ? 0 : (uint32_t) v;

    v = cols[3].len ? ngx_atoof(cols[3].data, cols[3].len) : 0;
    c->server_id = (v == NGX_ERROR) ? 0 : (uint32_t) v;

    /* a login name: its cache entry, keyed as a login's context part */

    if (cols[4].len && cols[4].len <= sizeof(key)) {
        ngx_memcpy(key, cols[4].data, cols[4].len);
        len = oxm_login_key_normalize(key, cols[4].len);
        c->key_hash = ngx_crc32_short(key, len);
        c->key_hash_set = 1;
    }

    v = ngx_atoof(cols[5].data, cols[5].len);
    c->seen = (v == NGX_ERROR) ? 0 : (uint64_t) v;

    ch->nparts[row->part]++;
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

    } else if (!ch->st.ready) {
        ch->st.applied = ch->start;
        ngx_http_oxmigrate_shm_apply(ch->omcf->shm_zone, NULL, 0, &ch->st);

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "oxmigrate: following the configdb change log from "
                      "%uL", ch->start);
        next = 0;

    } else {
        ngx_http_oxmigrate_changes_read(ch);

        if (ch->full) {
            next = 0;       /* more are waiting */
        }
    }

    ngx_http_oxmigrate_shm_poll_next(ch->omcf->shm_zone, next);

    if (next == 0 && !(ngx_exiting || ngx_quit || ngx_terminate)) {
        /*
         * rows wait: the next batch after the events due now, not a tick
         * (a timer moved by less than NGX_TIMER_LAZY_DELAY stays put)
         */
        if (ch->timer.timer_set) {
            ngx_del_timer(&ch->timer);
        }

        ngx_add_timer(&ch->timer, 1);
    }
}


/*
 * A poll's rows: the ranges they leave unread (new holes, what is left of
 * the old ones, the unread rest of a batch), then the rows to the zone.
 * The event loop holds this for one batch (at most 3 * BATCH rows); the
 * longest is logged, as a warning past 1 ms: the worker's CPU time, which
 * neither other processes on a busy host nor the wait for the zone's lock
 * (any shared-memory access waits for it alike) inflate.
 */

static void
ngx_http_oxmigrate_changes_read(ngx_http_oxmigrate_changes_t *ch)
{
    ngx_uint_t                         i, k, w, level;
    ngx_msec_t                         now, us;
    struct timespec                    t0, t1;
    ngx_http_oxmigrate_hole_t          range;
    ngx_http_oxmigrate_changes_row_t  *rows;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);

    now = ngx_http_oxmigrate_clock_msec();
    rows = ch->rows;

    ngx_qsort(rows, ch->n, sizeof(ngx_http_oxmigrate_changes_row_t),
              ngx_http_oxmigrate_changes_cmp);

    ch->full = (ch->nparts[0] == NGX_HTTP_OXMIGRATE_CHANGES_BATCH
                || ch->nparts[1] == NGX_HTTP_OXMIGRATE_CHANGES_BATCH
                || ch->nparts[2] == NGX_HTTP_OXMIGRATE_CHANGES_BATCH);

    w = ngx_http_oxmigrate_changes_old(ch, now);

    /* the new rows, above the position: a full part leaves unread below */

    i = ch->nparts[0] + ch->nparts[1];
    k = ch->nparts[2];

    if (k) {
        range.lo = ch->st.applied + 1;
        range.hi = rows[i + k - 1].c.id;
        range.unread = 0;

        if (k == NGX_HTTP_OXMIGRATE_CHANGES_BATCH
            && rows[i].c.id > range.lo)
        {
            w = ngx_http_oxmigrate_changes_add(ch, w, range.lo,
                                               rows[i].c.id - 1, now, 1);
            range.lo = rows[i].c.id;
        }

        w = ngx_http_oxmigrate_changes_split(ch, w, &range, (uint64_t) -1,
                                             now, &rows[i], k);
        ch->st.applied = range.hi;
    }

    ngx_http_oxmigrate_changes_keep(ch, w);

    for (i = 0; i < ch->n; i++) {
        ch->apply[i] = rows[i].c;
    }

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);

    us = (ngx_msec_t) ((t1.tv_sec - t0.tv_sec) * 1000000
                       + (t1.tv_nsec - t0.tv_nsec) / 1000);

    us += ngx_http_oxmigrate_shm_apply(ch->omcf->shm_zone, ch->apply, ch->n,
                                       &ch->st);

    if (us > ch->worst) {
        ch->worst = us;

        level = (us > 1000) ? NGX_LOG_WARN : NGX_LOG_INFO;

        ngx_log_error(level, ngx_cycle->log, 0,
                      "oxmigrate: change log: %ui rows applied in %M us "
                      "(the longest yet), %ui ranges watched",
                      ch->n, us, ch->st.nholes);
    }
}


/*
 * The old ranges.  Holes: a full part read them up to its last row, the
 * rest as it was (what part of it is filled is read next).  The first
 * unread range: read up to the last row of a full part.  Returns the
 * number of ranges written to ch->work.
 */

static ngx_uint_t
ngx_http_oxmigrate_changes_old(ngx_http_oxmigrate_changes_t *ch,
    ngx_msec_t now)
{
    uint64_t                           upto;
    ngx_uint_t                         i, j, k, w, first, part, end, cur[2];
    ngx_http_oxmigrate_hole_t         *h;
    ngx_http_oxmigrate_changes_row_t  *rows;

    rows = ch->rows;
    w = 0;
    first = 1;

    cur[0] = 0;
    cur[1] = ch->nparts[0];

    for (j = 0; j < ch->st.nholes; j++) {
        h = &ch->st.holes[j];

        if (h->unread && !first) {
            w = ngx_http_oxmigrate_changes_add(ch, w, h->lo, h->hi,
                                               h->since, 1);
            continue;
        }

        part = h->unread ? 1 : 0;

        if (h->unread) {
            first = 0;
        }

        upto = (uint64_t) -1;

        if (ch->nparts[part] == NGX_HTTP_OXMIGRATE_CHANGES_BATCH) {
            upto = rows[(part ? ch->nparts[0] : 0) + ch->nparts[part] - 1]
                   .c.id;

            if (upto < h->lo) {
                /* the batch ended below: as it was */
                w = ngx_http_oxmigrate_changes_add(ch, w, h->lo, h->hi,
                                                   h->since, h->unread);
                continue;
            }
        }

        /* this range's rows: each part has its own cursor */

        i = cur[part];
        end = (part ? ch->nparts[0] : 0) + ch->nparts[part];

        while (i < end && rows[i].c.id < h->lo) {
            i++;
        }

        for (k = i; k < end && rows[k].c.id <= h->hi; k++) {
            /* void */
        }

        w = ngx_http_oxmigrate_changes_split(ch, w, h, upto,
                                             h->unread ? now : h->since,
                                             &rows[i], k - i);
        cur[part] = k;
    }

    return w;
}


static int ngx_libc_cdecl
ngx_http_oxmigrate_changes_cmp(const void *a, const void *b)
{
    const ngx_http_oxmigrate_changes_row_t  *x = a, *y = b;

    if (x->part != y->part) {
        return x->part < y->part ? -1 : 1;
    }

    return x->c.id < y->c.id ? -1 : (x->c.id > y->c.id ? 1 : 0);
}


/*
 * Range read up to upto with k rows found (ascending): the ids between
 * them become holes watched since "since"; the part above upto stays as
 * it was, unread (a full batch stopped there).
 */

static ngx_uint_t
ngx_http_oxmigrate_changes_split(ngx_http_oxmigrate_changes_t *ch,
    ngx_uint_t w, ngx_http_oxmigrate_hole_t *range, uint64_t upto,
    ngx_msec_t since, ngx_http_oxmigrate_changes_row_t *rows, ngx_uint_t k)
{
    uint64_t    lo, end;
    ngx_uint_t  i;

    lo = range->lo;
    end = ngx_min(range->hi, upto);

    for (i = 0; i < k; i++) {
        if (rows[i].c.id > lo) {
            w = ngx_http_oxmigrate_changes_add(ch, w, lo, rows[i].c.id - 1,
                                               since, 0);
        }

        lo = rows[i].c.id + 1;
    }

    if (lo <= end) {
        w = ngx_http_oxmigrate_changes_add(ch, w, lo, end, since, 0);
    }

    if (end < range->hi) {
        w = ngx_http_oxmigrate_changes_add(ch, w, end + 1, range->hi,
                                           range->unread
                                           ? range->since
                                           : ngx_http_oxmigrate_clock_msec(),
                                           1);
    }

    return w;
}


static ngx_uint_t
ngx_http_oxmigrate_changes_add(ngx_http_oxmigrate_changes_t *ch,
    ngx_uint_t w, uint64_t lo, uint64_t hi, ngx_msec_t since,
    ngx_uint_t unread)
{
    ngx_http_oxmigrate_hole_t  *h;

    if (lo > hi || w == NGX_HTTP_OXMIGRATE_HOLES_WORK) {
        return w;
    }

    h = &ch->work[w];
    h->lo = lo;
    h->hi = hi;
    h->since = since;
    h->unread = unread;

    return w + 1;
}


/*
 * The ranges to keep, in id order: holes past the hole time are dropped (a
 * rolled-back transaction's ids never appear); beyond HOLES ranges the
 * oldest holes go first, then neighbouring unread ranges are merged (rows
 * between them are read twice: harmless).
 */

static void
ngx_http_oxmigrate_changes_keep(ngx_http_oxmigrate_changes_t *ch,
    ngx_uint_t w)
{
    ngx_uint_t                  i, n, oldest, expired, dropped;
    ngx_http_oxmigrate_hole_t  *h, *hs;
    ngx_msec_t                  now, hole_time;

    now = ngx_http_oxmigrate_clock_msec();
    hole_time = ch->omcf->hole_time;
    hs = ch->work;
    n = 0;
    expired = 0;
    dropped = 0;

    /* sort by lo (few ranges, mostly in order already) */

    for (i = 1; i < w; i++) {
        ngx_http_oxmigrate_hole_t  t = hs[i];
        ngx_uint_t                 j = i;

        while (j > 0 && hs[j - 1].lo > t.lo) {
            hs[j] = hs[j - 1];
            j--;
        }

        hs[j] = t;
    }

    for (i = 0; i < w; i++) {
        h = &hs[i];

        if (!h->unread
            && (ngx_msec_int_t) (now - h->since) >= (ngx_msec_int_t) hole_time)
        {
            expired += h->hi - h->lo + 1;
            continue;
        }

        hs[n++] = *h;
    }

    while (n > NGX_HTTP_OXMIGRATE_HOLES) {
        oldest = n;

        for (i = 0; i < n; i++) {
            if (!hs[i].unread
                && (oldest == n
                    || (ngx_msec_int_t) (hs[i].since - hs[oldest].since) < 0))
            {
                oldest = i;
            }
        }

        if (oldest < n) {
            dropped += hs[oldest].hi - hs[oldest].lo + 1;
            ngx_memmove(&hs[oldest], &hs[oldest + 1],
                        (n - oldest - 1) * sizeof(ngx_http_oxmigrate_hole_t));
            n--;
            continue;
        }

        /* all unread: the two lowest become one */
        hs[0].hi = hs[1].hi;
        ngx_memmove(&hs[1], &hs[2],
                    (n - 2) * sizeof(ngx_http_oxmigrate_hole_t));
        n--;
    }

    /* at most once a minute: a site with gaps by design would flood */

    if ((expired || dropped)
        && (ch->told_holes == 0
            || (ngx_msec_int_t) (now - ch->told_holes) >= 60000))
    {
        ch->told_holes = now ? now : 1;

        ngx_log_error(NGX_LOG_INFO, ngx_cycle->log, 0,
                      "oxmigrate: change log: %uL ids never appeared within "
                      "%M ms, %uL dropped (more than %d ranges): no longer "
                      "watched", (uint64_t) expired, hole_time,
                      (uint64_t) dropped,
                      NGX_HTTP_OXMIGRATE_HOLES);
    }

    ngx_memcpy(ch->st.holes, hs, n * sizeof(ngx_http_oxmigrate_hole_t));
    ch->st.nholes = n;
}
