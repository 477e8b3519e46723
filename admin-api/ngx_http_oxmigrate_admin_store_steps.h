/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the SQL of the job engine's bookkeeping
 * (store/ngx_http_oxmigrate_admin_store_steps.c): a step's rows in
 * oxmigrate_job_schema, the heartbeat and control of oxmigrate_job, the
 * job's end, the reads of the checks before an enable.  The job's
 * configdb connection has CLIENT_MULTI_STATEMENTS: a write and the read
 * after it go in one round trip.  nginx return codes (or affected rows,
 * -1 on error) and out-parameters; NGX_ERROR: see mysql_error().  Thread
 * pool.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_STORE_STEPS_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_STORE_STEPS_H_INCLUDED_


#include "ngx_http_oxmigrate_admin.h"


/* what a look reads, and what is written before it in the same trip */
#define NGX_HTTP_OXMIGRATE_LOOK_BEAT      0x01  /* heartbeat = now */
#define NGX_HTTP_OXMIGRATE_LOOK_MEAN      0x02  /* mean downtime so far */
#define NGX_HTTP_OXMIGRATE_LOOK_WINDOW    0x04  /* time_window */
#define NGX_HTTP_OXMIGRATE_LOOK_DOWNTIME  0x08  /* max_downtime's pause */
#define NGX_HTTP_OXMIGRATE_LOOK_CANARY    0x10  /* pause_after's pause */
#define NGX_HTTP_OXMIGRATE_LOOK_CHANGELOG 0x20  /* oxmigrate_change exists */

/* the change log's table (its triggers come with it), seen with the
   admin user's table rights: information_schema.triggers would need the
   TRIGGER privilege, which the documented GRANT does not give */
#define NGX_HTTP_OXMIGRATE_CHANGELOG_EXISTS                                   \
    "SELECT COUNT(*) FROM information_schema.tables"                          \
    " WHERE table_schema = DATABASE() AND table_name = 'oxmigrate_change'"

/* a job's row as a step or the driver's poll reads it */
typedef struct {
    ngx_uint_t                  control;    /* NGX_HTTP_OXMIGRATE_C_* */
    ngx_uint_t                  parallel;   /* 0: not set */
    ngx_uint_t                  disabled;   /* by this job, in a run before */
    int64_t                     mean;       /* ms; 0: none done yet */
    char                       *window;     /* NULL: none */
    ngx_int_t                   changelog;  /* -1: not asked */
} ngx_http_oxmigrate_step_look_t;


/* a configdb connection for a job's driver and steps (multi statements) */
MYSQL *ngx_http_oxmigrate_admin_store_steps_connect(
    ngx_http_oxmigrate_db_conf_t *dcf, ngx_pool_t *pool, char *err,
    size_t errlen);

/* the job's row, after the writes of "what"; NGX_DECLINED: lk is read,
   but the job's claim is another driver's */
ngx_int_t ngx_http_oxmigrate_admin_store_step_look(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, uint64_t seq, ngx_uint_t what,
    int64_t now, ngx_http_oxmigrate_step_look_t *lk);

/* a schema's row: running (and, with schema, the server it leaves) */
int64_t ngx_http_oxmigrate_admin_store_step_start(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, int64_t now, const char *schema,
    uint64_t server_id);
/* failed_tasks: a JSON array */
int64_t ngx_http_oxmigrate_admin_store_step_mark(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, const char *state, ngx_str_t *failed_tasks,
    const char *msg);
/* the first disable's time, then the look */
ngx_int_t ngx_http_oxmigrate_admin_store_step_disabled(MYSQL *m,
    ngx_pool_t *pool, uint64_t job_id, uint64_t claim, uint64_t seq,
    int64_t now, ngx_http_oxmigrate_step_look_t *lk);
/* done (enabled -1: NULL), the step's audit rows (NULL: none), the look */
ngx_int_t ngx_http_oxmigrate_admin_store_step_done(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, uint64_t seq, const char *msg,
    int64_t enabled, int64_t now, const char *audit, ngx_uint_t what,
    ngx_http_oxmigrate_step_look_t *lk);
/* the server a schema left (0: unknown) */
ngx_int_t ngx_http_oxmigrate_admin_store_step_from(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t seq, uint64_t *from);
int64_t ngx_http_oxmigrate_admin_store_step_cancelled(MYSQL *m,
    ngx_pool_t *pool, uint64_t job_id, uint64_t seq, int64_t now);
/* a failed check with force: the job pauses */
int64_t ngx_http_oxmigrate_admin_store_step_pause(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, const char *schema, const char *why);

/* changeserver: START TRANSACTION, the move, the count after it (one
   round trip on a job's connection); the caller commits or rolls back */
ngx_int_t ngx_http_oxmigrate_admin_store_step_move(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t server_id, int64_t *changed,
    uint64_t *total, uint64_t *enabled);

/* the job's end (paused: "paused" if still asked, else "interrupted") */
int64_t ngx_http_oxmigrate_admin_store_job_end(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, ngx_uint_t paused, const char *state,
    int64_t finished, int64_t now);
int64_t ngx_http_oxmigrate_admin_store_job_unstarted(MYSQL *m,
    ngx_pool_t *pool, uint64_t job_id);

/* the checks before an enable: the schema's pools (NGX_DECLINED: none),
   a replica's lag (-1: replication stopped; NGX_DECLINED: no replica),
   the checks' result and its audit row */
ngx_int_t ngx_http_oxmigrate_admin_store_step_pools(MYSQL *m,
    ngx_pool_t *pool, const char *schema, uint64_t *rpool, uint64_t *wpool);
ngx_int_t ngx_http_oxmigrate_admin_store_replica_lag(MYSQL *rm,
    ngx_pool_t *pool, ngx_int_t *lag);
int64_t ngx_http_oxmigrate_admin_store_step_checks(MYSQL *m,
    ngx_pool_t *pool, uint64_t job_id, uint64_t seq, ngx_str_t *checks,
    const char *schema, ngx_uint_t status, int64_t now);


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_STORE_STEPS_H_INCLUDED_ */
