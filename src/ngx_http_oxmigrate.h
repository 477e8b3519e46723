/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate: what the login router and the admin API share.
 *
 * A login names a "context part" (the text after the last '@' of the login
 * name).  Resolving it yields an ngx_http_oxmigrate_info_t.  The resolution
 * goes shared memory -> Redis -> MariaDB; every layer stores the same
 * serialized text (see ngx_http_oxmigrate_info.c), so a value read from any
 * layer is parsed the same way.
 */


#ifndef _NGX_HTTP_OXMIGRATE_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* NGX_HTTP_OXMIGRATE_VERSION: debian/changelog's, written by "config" */
#include <ngx_http_oxmigrate_version.h>

/* context.reason_id of a context disabled by disableschema (ox-facts 5) */
#define NGX_HTTP_OXMIGRATE_SCHEMA_REASON   1431655765

/* upper bound of a serialized info value (schema <= 32 chars, server 255) */
#define NGX_HTTP_OXMIGRATE_VALUE_MAX       2048

/* upper bound of a context part we look up (login_info is VARCHAR(255)) */
#define NGX_HTTP_OXMIGRATE_KEY_MAX         1024

/*
 * A lookup by context id (a share link names no login) has a key of its
 * own kind: "\xffcid:<cid>".  A context part is valid UTF-8, which never
 * holds the byte 0xff, so the two kinds cannot collide in shared memory or
 * in the in-flight tree; Redis stores it as "<prefix>v<epoch>#cid:<cid>"
 * and MariaDB gets a query by cid.
 */
#define NGX_HTTP_OXMIGRATE_CID_KEY         "\xff" "cid:"
#define NGX_HTTP_OXMIGRATE_CID_KEY_LEN                                        \
    (sizeof(NGX_HTTP_OXMIGRATE_CID_KEY) - 1)
#define ngx_http_oxmigrate_is_cid_key(key)                                    \
    ((key)->len > NGX_HTTP_OXMIGRATE_CID_KEY_LEN && (key)->data[0] == 0xff)


/* one configdb server: the primary, a replica or a Galera node */
typedef struct {
    ngx_str_t                   host;      /* numeric address, resolved */
    ngx_uint_t                  port;
    ngx_str_t                   socket;    /* unix socket path, or empty */
} ngx_http_oxmigrate_db_server_t;


typedef struct {
    ngx_str_t                   host;      /* numeric address, resolved */
    ngx_uint_t                  port;
    ngx_array_t                *servers;   /* db_server_t, host= first */
    ngx_str_t                   user;
    ngx_str_t                   password;
    ngx_str_t                   database;
    ngx_str_t                   socket;    /* unix socket path, or empty */
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;
    ngx_uint_t                  pool;      /* max connections per worker */
} ngx_http_oxmigrate_db_conf_t;


typedef struct {
    ngx_str_t                   host;      /* numeric address, resolved */
    ngx_uint_t                  port;
    ngx_str_t                   password;  /* empty: no AUTH */
    ngx_int_t                   db;        /* SELECT db; 0 by default */
    ngx_msec_t                  timeout;
    time_t                      ttl;       /* seconds, positive entries */
    ngx_str_t                   prefix;    /* "oxmigrate:" by default */
} ngx_http_oxmigrate_redis_conf_t;


typedef struct {
    ngx_http_oxmigrate_db_conf_t     *db;      /* NULL: no oxmigrate_db */
    ngx_http_oxmigrate_db_conf_t     *admin_db;  /* oxmigrate_admin_db */
    ngx_http_oxmigrate_redis_conf_t  *redis;   /* NULL: no Redis layer */
    ngx_shm_zone_t                   *shm_zone; /* NULL: no shm cache */
    ngx_msec_t                        cache_ttl;
    ngx_msec_t                        negative_ttl;
    ngx_msec_t                        cache_stale;  /* 0: off */
    ngx_uint_t                        maintenance_reason;
    ngx_msec_t                        hole_time;  /* a change-log hole */
    ngx_uint_t                        nonascii;   /* 1: looked up */
    ngx_shm_zone_t                   *metrics_zone; /* oxmigrate_metrics */
    ngx_uint_t                        admin;  /* an oxmigrate_admin on */
    ngx_str_t                         test_clock;  /* tests only */
} ngx_http_oxmigrate_main_conf_t;


/* what configdb says about one context part */
typedef struct {
    ngx_uint_t                  found;     /* 0: no such login_info */
    ngx_uint_t                  cid;
    ngx_uint_t                  server_id;
    ngx_uint_t                  enabled;
    ngx_uint_t                  reason_id; /* 0 when NULL */
    ngx_str_t                   schema;    /* db_schema */
    ngx_str_t                   server;    /* server.name, may be empty */
    uint64_t                    pos;       /* the server's change log, */
    ngx_uint_t                  pos_set;   /* not serialized            */
    uint64_t                    at;        /* the server's clock, unix ms,
                                              when it read (0: unknown) */
} ngx_http_oxmigrate_info_t;


extern ngx_module_t  ngx_http_oxmigrate_module;


/* ngx_http_oxmigrate_conf.c: directive parsers */

char *ngx_http_oxmigrate_conf_db(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oxmigrate_conf_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oxmigrate_conf_cache(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* a list directive ("oxmigrate_server a b;"): every argument, repeats add */
char *ngx_http_oxmigrate_conf_names_slot(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


/* ngx_http_oxmigrate_info.c */

/*
 * Serialize into buf (NGX_HTTP_OXMIGRATE_VALUE_MAX bytes); returns length.
 * A not-found info serializes to "-".
 */
size_t ngx_http_oxmigrate_info_serialize(ngx_http_oxmigrate_info_t *info,
    u_char *buf);
/* Parse; info->schema and info->server point into value. NGX_OK/NGX_ERROR */
ngx_int_t ngx_http_oxmigrate_info_parse(ngx_str_t *value,
    ngx_http_oxmigrate_info_t *info);


/* ngx_http_oxmigrate_shm.c: shared-memory cache, rbtree + LRU in a slab */

/* one row of the configdb change log (sql/changelog.sql), as applied */
typedef struct {
    uint64_t                    id;
    uint64_t                    seen;       /* configdb's clock, unix ms, */
                                            /* of the poll that read it  */
    uint64_t                    top;        /* ring: highest id so far */
    uint32_t                    cid;        /* 0: none */
    uint32_t                    server_id;  /* 0: none */
    uint32_t                    key_hash;   /* crc32 of the normalised */
    uint32_t                    key_hash_set; /* login_info, when set  */
} ngx_http_oxmigrate_change_t;

/* adds the zone of oxmigrate_cache; NULL: error, already logged */
ngx_shm_zone_t *ngx_http_oxmigrate_shm_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size);
/*
 * Copy the value stored for key under this epoch into buf (VALUE_MAX bytes).
 * NGX_OK: hit, *len set.  NGX_DECLINED: missing, expired or other epoch.
 */
ngx_int_t ngx_http_oxmigrate_shm_get(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    ngx_uint_t epoch, u_char *buf, size_t *len);
/*
 * the last known value of key, past the ttl within stale=, for when
 * configdb fails; never one of an older epoch or deleted by a change
 */
ngx_int_t ngx_http_oxmigrate_shm_get_stale(ngx_shm_zone_t *shm_zone,
    ngx_str_t *key, u_char *buf, size_t *len);
/*
 * Store value (info parsed from it) for ttl ms, kept stale ms more for
 * get_stale; evicts least recently used entries when full.  NGX_DECLINED
 * (not stored, and not to be used) when the epoch is no longer the zone's
 * or an applied change the value may not have seen touches it (the value
 * is fresh as of change-log position pos, read by configdb at unix ms at,
 * 0: unknown); NGX_OK otherwise, also when it was not cached (ttl 0, too
 * large, zone full).
 */
ngx_int_t ngx_http_oxmigrate_shm_set(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    ngx_uint_t epoch, ngx_str_t *value, ngx_msec_t ttl, ngx_msec_t stale,
    ngx_http_oxmigrate_info_t *info, uint64_t pos, uint64_t at);
/* the zone's epoch, after reporting what this worker saw and when */
ngx_uint_t ngx_http_oxmigrate_shm_epoch(ngx_shm_zone_t *shm_zone,
    ngx_uint_t seen, ngx_msec_t seen_at);
/* the change-log position applied to the zone; *ready: one is known */
uint64_t ngx_http_oxmigrate_shm_position(ngx_shm_zone_t *shm_zone,
    ngx_uint_t *ready);

/*
 * Ids of the change log not read yet: a hole (an id handed out to a
 * transaction that had not committed, or rolled back: watched until since
 * + the hole time) or, unread set, ids known to hold committed rows not
 * read yet (the rest of a big transaction, read in batches).
 */
typedef struct {
    uint64_t                    lo;
    uint64_t                    hi;
    ngx_msec_t                  since;
    ngx_uint_t                  unread;
} ngx_http_oxmigrate_hole_t;

#define NGX_HTTP_OXMIGRATE_HOLES  64

typedef struct {
    uint64_t                    applied;    /* highest id read */
    ngx_uint_t                  ready;      /* applied is a position */
    ngx_uint_t                  gen;        /* of this poll */
    ngx_uint_t                  nholes;
    ngx_http_oxmigrate_hole_t   holes[NGX_HTTP_OXMIGRATE_HOLES];
} ngx_http_oxmigrate_log_state_t;

/* NGX_OK: this worker polls now, st holds the log's state */
ngx_int_t ngx_http_oxmigrate_shm_poll_due(ngx_shm_zone_t *shm_zone,
    ngx_msec_t busy, ngx_http_oxmigrate_log_state_t *st);
void ngx_http_oxmigrate_shm_poll_next(ngx_shm_zone_t *shm_zone,
    ngx_msec_t after);
/*
 * Applies changes read by the poll of st->gen (in any order) and stores
 * the state it leaves; a poll that was overtaken by another worker's
 * stores nothing.  The first read (st->ready 0) only sets the position,
 * st->applied.  Returns the worker's CPU time with the zone locked, in
 * microseconds (not the time spent waiting for the lock).
 */
ngx_msec_t ngx_http_oxmigrate_shm_apply(ngx_shm_zone_t *shm_zone,
    ngx_http_oxmigrate_change_t *changes, ngx_uint_t n,
    ngx_http_oxmigrate_log_state_t *st);
typedef struct {
    ngx_msec_t                  age;
    ngx_msec_int_t              expires_in;  /* <= 0: past its ttl */
    ngx_msec_int_t              keep_in;     /* <= 0: past stale= too */
    ngx_uint_t                  epoch;
    ngx_uint_t                  zone_epoch;
    uint64_t                    position;    /* of the change log */
} ngx_http_oxmigrate_shm_peek_t;

/* the entry of key as it is, nothing changed (GET /lookup) */
ngx_int_t ngx_http_oxmigrate_shm_peek(ngx_shm_zone_t *shm_zone,
    ngx_str_t *key, u_char *buf, size_t *len,
    ngx_http_oxmigrate_shm_peek_t *pk);
void ngx_http_oxmigrate_shm_stats(ngx_shm_zone_t *shm_zone,
    ngx_uint_t *entries, ngx_uint_t *evictions, ngx_uint_t *invalidated);


/* ngx_http_oxmigrate_redis.c: hiredis async on nginx's event loop */

/*
 * Called exactly once per get: rc NGX_OK with the value, NGX_DECLINED when
 * the key does not exist, NGX_ERROR on error, disconnect or timeout.
 */
typedef void (*ngx_http_oxmigrate_redis_get_pt)(void *data, ngx_int_t rc,
    ngx_str_t *value);

ngx_int_t ngx_http_oxmigrate_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_redis_conf_t *rcf);
void ngx_http_oxmigrate_redis_exit_worker(ngx_cycle_t *cycle);
/*
 * The invalidation epoch last read from Redis (0 before the first read),
 * and *at, when the poll that read it was sent.
 */
ngx_uint_t ngx_http_oxmigrate_redis_epoch(ngx_msec_t *at);
/*
 * GET <prefix>v<epoch>:<key>.  NGX_DECLINED at once (handler not called)
 * when Redis is not connected; otherwise NGX_OK and handler called later.
 */
ngx_int_t ngx_http_oxmigrate_redis_get(ngx_str_t *key, ngx_uint_t epoch,
    ngx_http_oxmigrate_redis_get_pt handler, void *data);
/* SET <prefix>v<epoch>:<key> value EX ttl, fire and forget */
void ngx_http_oxmigrate_redis_set(ngx_str_t *key, ngx_uint_t epoch,
    ngx_str_t *value, time_t ttl);

/* GET <prefix><name>, as redis_get (oxmigrate_hold's expected windows) */
ngx_int_t ngx_http_oxmigrate_redis_get_raw(ngx_str_t *name,
    ngx_http_oxmigrate_redis_get_pt handler, void *data);
/* HINCRBY <prefix><name> field 1, EXPIRE ttl; fire and forget */
void ngx_http_oxmigrate_redis_hincr(ngx_str_t *name, const char *field,
    time_t ttl);

/* ngx_http_oxmigrate_mysql.c: Connector/C non-blocking API, pooled */

/*
 * Called exactly once per lookup: rc NGX_OK with info (info->found may be
 * 0), NGX_ERROR when MariaDB failed or did not answer within its timeouts.
 * info's strings are valid only during the call.
 */
typedef void (*ngx_http_oxmigrate_db_handler_pt)(void *data, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info);

ngx_int_t ngx_http_oxmigrate_db_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_db_conf_t *dcf);
void ngx_http_oxmigrate_db_exit_worker(ngx_cycle_t *cycle);
/*
 * NGX_OK: handler will be called; NGX_ERROR: it will not.  min_pos: the
 * change-log position the answer must have reached (a server that is
 * behind it is skipped for a second and the next one asked).
 */
ngx_int_t ngx_http_oxmigrate_db_lookup(ngx_str_t *key, uint64_t min_pos,
    ngx_http_oxmigrate_db_handler_pt handler, void *data);
/* the change log exists: lookups ask for the server's position too */
void ngx_http_oxmigrate_db_changelog(ngx_uint_t present);

/* one row of a statement's result: its columns (NULL as empty) */
typedef void (*ngx_http_oxmigrate_db_row_pt)(void *data, ngx_str_t *cols,
    ngx_uint_t n);

/* another statement: rows to row_handler, then handler (info NULL) */
ngx_int_t ngx_http_oxmigrate_db_query(ngx_str_t *sql,
    ngx_http_oxmigrate_db_row_pt row_handler,
    ngx_http_oxmigrate_db_handler_pt handler, void *data);


/* ngx_http_oxmigrate_metrics.c: Prometheus counters in shared memory */

#define NGX_HTTP_OXMIGRATE_M_BACKENDS      2
#define NGX_HTTP_OXMIGRATE_M_CONFIGDB      0
#define NGX_HTTP_OXMIGRATE_M_REDIS         1
#define NGX_HTTP_OXMIGRATE_M_KINDS         4
#define NGX_HTTP_OXMIGRATE_M_CONNECT       0
#define NGX_HTTP_OXMIGRATE_M_QUERY         1
#define NGX_HTTP_OXMIGRATE_M_TIMEOUT       2
#define NGX_HTTP_OXMIGRATE_M_POOL          3
#define NGX_HTTP_OXMIGRATE_M_UP            (-1)

char *ngx_http_oxmigrate_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_oxmigrate_metrics_init_worker(
    ngx_http_oxmigrate_main_conf_t *omcf);
/* a decision (ngx_http_oxmigrate_decision_e) for a request of this kind */
void ngx_http_oxmigrate_metrics_decision(ngx_uint_t kind,
    ngx_uint_t decision);
/* a lookup answered by source after ms */
void ngx_http_oxmigrate_metrics_lookup(ngx_uint_t source, ngx_msec_t ms);
/* the admin API: its i-th endpoint's name (NULL past the last), a call */
#define NGX_HTTP_OXMIGRATE_M_ROUTES        40
typedef const char *(*ngx_http_oxmigrate_metrics_name_pt)(ngx_uint_t i);
void ngx_http_oxmigrate_metrics_admin_names(
    ngx_http_oxmigrate_metrics_name_pt name);
void ngx_http_oxmigrate_metrics_admin(ngx_uint_t route, ngx_uint_t status);
void ngx_http_oxmigrate_metrics_admin_loop(ngx_uint_t usec);
/* the admin API's jobs: schemas by state, a schema's downtime */
#define NGX_HTTP_OXMIGRATE_M_JOB_STATES    5   /* pending .. cancelled */
#define NGX_HTTP_OXMIGRATE_M_DOWN_BUCKETS  8
/* the job's schemas by state and its ETA in seconds (-1: not known yet) */
void ngx_http_oxmigrate_metrics_job(ngx_uint_t *counts, ngx_msec_t running,
    ngx_int_t eta);
void ngx_http_oxmigrate_metrics_downtime(ngx_msec_t ms);
void ngx_http_oxmigrate_metrics_tasks(ngx_uint_t executed, ngx_uint_t failed);
/* a scan of OX's update locks: per lock kind (blocking, background) */
void ngx_http_oxmigrate_metrics_locks(ngx_uint_t *held, ngx_uint_t *stale,
    ngx_msec_t oldest, ngx_uint_t failures, ngx_uint_t complete);
/* oxmigrate_hold: requests held now (+1/-1); one that left (outcome) */
#define NGX_HTTP_OXMIGRATE_HELD_RELEASED   0   /* re-decided: a change */
#define NGX_HTTP_OXMIGRATE_HELD_EXPIRED    1   /* the hold time */
#define NGX_HTTP_OXMIGRATE_HELD_GONE       2   /* the client went away */
#define NGX_HTTP_OXMIGRATE_HELD_SHUTDOWN   3   /* reload or stop */
#define NGX_HTTP_OXMIGRATE_HELD_LIMIT      4   /* not held: max= */
#define NGX_HTTP_OXMIGRATE_HELD_WINDOW     5   /* not held: expected window */
#define NGX_HTTP_OXMIGRATE_HELD_OUTCOMES   6
void ngx_http_oxmigrate_metrics_holding(ngx_int_t delta);
void ngx_http_oxmigrate_metrics_held(ngx_uint_t outcome, ngx_uint_t held,
    ngx_msec_t ms);
/* a failure of a backend (M_CONNECT, ...), or M_UP after a success */
void ngx_http_oxmigrate_metrics_backend(ngx_uint_t backend, ngx_int_t kind);


/* ngx_http_oxmigrate_clock.c: the clock of every timer (and the tests') */
ngx_msec_t ngx_http_oxmigrate_clock_msec(void);
time_t ngx_http_oxmigrate_clock_time(void);
ngx_msec_t ngx_http_oxmigrate_clock_unix_ms(void);
int64_t ngx_http_oxmigrate_clock_wall_ms(void);
int64_t ngx_http_oxmigrate_clock_real_ms(void);
ngx_uint_t ngx_http_oxmigrate_clock_faked(void);
char *ngx_http_oxmigrate_test_clock(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_oxmigrate_clock_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_main_conf_t *omcf);

/* ngx_http_oxmigrate_changes.c: the configdb change log, polled */
ngx_int_t ngx_http_oxmigrate_changes_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_main_conf_t *omcf);


/* ngx_http_oxmigrate_lookup.c: shm -> Redis -> MariaDB, misses coalesced */

typedef enum {
    NGX_HTTP_OXMIGRATE_SRC_NONE = 0,
    NGX_HTTP_OXMIGRATE_SRC_SHM,
    NGX_HTTP_OXMIGRATE_SRC_REDIS,
    NGX_HTTP_OXMIGRATE_SRC_DB,
    NGX_HTTP_OXMIGRATE_SRC_STALE        /* configdb failed: last known */
} ngx_http_oxmigrate_source_e;

typedef struct ngx_http_oxmigrate_waiter_s  ngx_http_oxmigrate_waiter_t;

/* called when the lookup ends; rc NGX_OK (info valid) or NGX_ERROR */
typedef void (*ngx_http_oxmigrate_lookup_pt)(ngx_http_oxmigrate_waiter_t *w);

struct ngx_http_oxmigrate_waiter_s {
    ngx_queue_t                      queue;    /* in the in-flight op */
    void                            *op;
    ngx_http_oxmigrate_lookup_pt     handler;
    void                            *data;
    ngx_int_t                        rc;
    ngx_http_oxmigrate_source_e      source;
    ngx_http_oxmigrate_info_t        info;     /* strings in value */
    u_char                           value[NGX_HTTP_OXMIGRATE_VALUE_MAX];
    size_t                           value_len;
};

/*
 * NGX_OK: answered at once (shared memory), w filled, handler not called.
 * NGX_AGAIN: handler will be called; w must stay valid until then or until
 *            ngx_http_oxmigrate_lookup_cancel(w).
 */
ngx_int_t ngx_http_oxmigrate_lookup(ngx_http_oxmigrate_main_conf_t *omcf,
    ngx_str_t *key, ngx_http_oxmigrate_waiter_t *w);
void ngx_http_oxmigrate_lookup_cancel(ngx_http_oxmigrate_waiter_t *w);


/* ngx_http_oxmigrate_oxerror.c: OX JSON error bodies (ox-facts 3) */

typedef struct {
    const char                 *code;         /* "CTX-0012" */
    const char                 *category;     /* "ERROR" */
    ngx_uint_t                  category_num; /* 8 */
    ngx_str_t                   error;        /* display message */
    ngx_str_t                   error_desc;   /* log message, args filled */
    ngx_str_t                   params;       /* JSON array text, "[]" */
} ngx_http_oxmigrate_oxerror_t;

/* HTTP 200 application/json; charset=UTF-8 with the OX error object */
ngx_int_t ngx_http_oxmigrate_send_oxerror(ngx_http_request_t *r,
    ngx_http_oxmigrate_oxerror_t *err, ngx_uint_t status);
/* status, Content-Type (type_len: the media type's length) and one buffer */
ngx_int_t ngx_http_oxmigrate_send_buf(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *type, size_t type_len, ngx_buf_t *b);
/* JSON string escaping: returns bytes written; dst NULL counts only */
size_t ngx_http_oxmigrate_json_escape(u_char *dst, u_char *src, size_t len);


#endif /* _NGX_HTTP_OXMIGRATE_H_INCLUDED_ */
