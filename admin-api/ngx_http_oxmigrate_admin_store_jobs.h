/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the SQL of the job tables (oxmigrate_job,
 * oxmigrate_job_schema) as the job endpoints use it, and the reads of a
 * schema's own database they need
 * (store/ngx_http_oxmigrate_admin_store_jobs.c).  nginx return codes and
 * out-parameters; NGX_ERROR: see mysql_error().  Thread pool.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_STORE_JOBS_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_STORE_JOBS_H_INCLUDED_


#include "ngx_http_oxmigrate_admin_job.h"


/* a job's row as a new driver reads it */
typedef struct {
    char                       *kind;
    char                       *state;
    char                       *options;      /* the request's body */
    char                       *server_id;
    char                       *parallel;
    char                       *pause_after;
    char                       *window;
    ngx_uint_t                  resumable;
} ngx_http_oxmigrate_job_stored_t;

/* a job's row as pause and cancel read it */
typedef struct {
    char                        state[32];
    char                        control[32];
    ngx_uint_t                  dead;
    int64_t                     inflight;     /* its schemas running */
} ngx_http_oxmigrate_job_steer_t;


/* the start lock: NGX_OK held, NGX_DECLINED busy */
ngx_int_t ngx_http_oxmigrate_admin_store_job_lock(MYSQL *m, ngx_pool_t *pool);
void ngx_http_oxmigrate_admin_store_job_unlock(MYSQL *m, ngx_pool_t *pool,
    ngx_log_t *log);
/* ms per context of the latest upgrade (-1: none) and that job (0) */
void ngx_http_oxmigrate_admin_store_job_estimate(MYSQL *m, ngx_pool_t *pool,
    int64_t *from, double *ms_ctx);
/* INSERT a job and its schemas; its id, 0 on error */
uint64_t ngx_http_oxmigrate_admin_store_job_insert(MYSQL *m,
    ngx_pool_t *pool, ngx_http_oxmigrate_job_t *job, ngx_str_t *options,
    const char *user, const char *owner, const char *caches,
    const char *window, int64_t max_downtime);
/* NGX_OK: no job but except runs; NGX_DECLINED: *id runs (or paused) */
ngx_int_t ngx_http_oxmigrate_admin_store_job_other(MYSQL *m, ngx_pool_t *pool,
    int64_t stale, uint64_t except, uint64_t *id, char **kind,
    ngx_uint_t *paused);
/* GET /jobs (id 0: the last rows) and GET /jobs/{id} (NGX_DECLINED: no
   such job); job_row_t, state and the computed fields not set */
ngx_int_t ngx_http_oxmigrate_admin_store_job_rows(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_uint_t rows, ngx_array_t **out);
ngx_int_t ngx_http_oxmigrate_admin_store_job_schemas(MYSQL *m,
    ngx_pool_t *pool, const char *id, ngx_array_t **out);
/* a new driver: the job's row (NGX_DECLINED: none), its claim (1: taken,
   0: someone else's, -1: error), its schemas */
ngx_int_t ngx_http_oxmigrate_admin_store_job_stored(MYSQL *m,
    ngx_pool_t *pool, uint64_t id, int64_t stale, ngx_uint_t cont,
    ngx_http_oxmigrate_job_stored_t *js);
int64_t ngx_http_oxmigrate_admin_store_job_claim(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_uint_t cont, int64_t stale, uint64_t claim,
    const char *owner);
ngx_int_t ngx_http_oxmigrate_admin_store_job_load(
    ngx_http_oxmigrate_job_t *job, MYSQL *m, ngx_pool_t *pool,
    ngx_uint_t *remaining);
/* steering: its row (NGX_DECLINED: none); affected rows, -1 on error */
ngx_int_t ngx_http_oxmigrate_admin_store_job_steer(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, int64_t stale, ngx_http_oxmigrate_job_steer_t *sr);
int64_t ngx_http_oxmigrate_admin_store_job_settle(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_uint_t cancel, ngx_uint_t dead, int64_t stale,
    uint64_t claim);
int64_t ngx_http_oxmigrate_admin_store_job_ask(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, const char *want, ngx_uint_t dead, int64_t stale);
int64_t ngx_http_oxmigrate_admin_store_job_unpause(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, int64_t stale);
int64_t ngx_http_oxmigrate_admin_store_job_patch(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, int64_t parallel, ngx_uint_t wset, const char *window);
ngx_int_t ngx_http_oxmigrate_admin_store_job_patched(MYSQL *m,
    ngx_pool_t *pool, uint64_t id, ngx_http_oxmigrate_job_patched_t *jp);
/* a schema after a job: its last upgrade job (NGX_DECLINED: none), the
   revert's note */
ngx_int_t ngx_http_oxmigrate_admin_store_job_last(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t stale, ngx_http_oxmigrate_last_job_t *lj);
void ngx_http_oxmigrate_admin_store_job_reverted(MYSQL *m, ngx_pool_t *pool,
    ngx_http_oxmigrate_last_job_t *lj, const char *schema, const char *user);

/* store/ngx_http_oxmigrate_admin_store_schema.c: a schema's state */
MYSQL *ngx_http_oxmigrate_admin_store_schema_db(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *pool_id);
ngx_int_t ngx_http_oxmigrate_admin_store_tasks_since(MYSQL *sm,
    ngx_pool_t *pool, int64_t since, ngx_array_t **tasks);
int64_t ngx_http_oxmigrate_admin_store_ox_locked(MYSQL *sm, ngx_pool_t *pool);
ngx_int_t ngx_http_oxmigrate_admin_store_schema_contexts(MYSQL *m,
    ngx_pool_t *pool, const char *schema, ngx_array_t **out);
ngx_int_t ngx_http_oxmigrate_admin_store_schema_servers(MYSQL *m,
    ngx_pool_t *pool, const char *schema, ngx_array_t **out);


#endif
