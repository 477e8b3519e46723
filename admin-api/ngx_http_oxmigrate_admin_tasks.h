/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the update tasks, a schema's updateTask state, the SQL update-task
 * runner (tasks/).
 * Included by ngx_http_oxmigrate_admin.h where these declarations stood.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_TASKS_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_TASKS_H_INCLUDED_


/* ngx_http_oxmigrate_admin_tasks.c */

char *ngx_http_oxmigrate_admin_load_tasks(ngx_conf_t *cf, ngx_str_t *dir,
    ngx_array_t **tasks);
char *ngx_http_oxmigrate_admin_load_excluded(ngx_conf_t *cf, ngx_str_t *file,
    ngx_array_t **names);
/* NULL: not excluded; else OX's words, allocated from pool */
char *ngx_http_oxmigrate_admin_excluded(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    ngx_http_oxmigrate_task_t *task, ngx_pool_t *pool);
ngx_http_oxmigrate_task_t *ngx_http_oxmigrate_admin_find_task(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, const char *name);


/* a row of updateTask */
typedef struct {
    char                       *name;
    ngx_uint_t                  successful;
    int64_t                     last_modified;
} ngx_http_oxmigrate_executed_t;

/* what a schema's updateTask says (thread) */
typedef struct {
    ngx_array_t                *executed;  /* ngx_http_oxmigrate_executed_t */
    int64_t                     locked;    /* LOCKED lastModified, 0: none */
    ngx_uint_t                  pending;   /* pending, not excluded */
    ngx_uint_t                  missing;   /* no such database */
} ngx_http_oxmigrate_schema_state_t;

ngx_int_t ngx_http_oxmigrate_admin_schema_state(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_state_t *st);

/* a lock row refreshed longer ago than oxmigrate_update_lock_idle: dead */
ngx_uint_t ngx_http_oxmigrate_admin_lock_dead(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, int64_t last_modified,
    int64_t now);

/* what a schema's updateTask state means, for GET /schemas and check */
typedef enum {
    NGX_HTTP_OXMIGRATE_UPDATED = 0,
    NGX_HTTP_OXMIGRATE_NEEDS_UPDATE,  /* tasks pending, or no database */
    NGX_HTTP_OXMIGRATE_BLOCKED,       /* OX's lock, alive */
    NGX_HTTP_OXMIGRATE_STALE          /* OX's lock, idle for too long */
} ngx_http_oxmigrate_update_state_e;

ngx_http_oxmigrate_update_state_e ngx_http_oxmigrate_admin_update_state(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    ngx_http_oxmigrate_schema_state_t *st, int64_t now);
ngx_http_oxmigrate_executed_t *ngx_http_oxmigrate_admin_executed(
    ngx_http_oxmigrate_schema_state_t *st, ngx_str_t *name);


/* the update-task runner (thread) */
/*
 * The tasks OX excludes on the new cluster (listUpdateTasks -xf and the
 * excluded namespaces' tasks: the same for every schema), read by a job's
 * first verification and handed from step to step (oxpending.c); in a
 * pool of its own, the job's driver frees it.
 */
typedef struct {
    ngx_pool_t                           *pool;
    ngx_array_t                          *names;     /* char * */
} ngx_http_oxmigrate_ox_excluded_t;

typedef struct {
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;
    ngx_http_oxmigrate_db_conf_t         *configdb;  /* job heartbeat */
    ngx_pool_t                           *pool;
    ngx_log_t                            *log;
    ngx_http_oxmigrate_dbhost_t          *host;
    const char                           *schema;
    ngx_http_oxmigrate_task_t            *only;      /* force this one */
    uint64_t                              job_id;    /* 0: no job */
    uint64_t                              job_claim; /* its driver's */
    MYSQL                                *conn;      /* in/out, see keep */
    ngx_uint_t                            keep;      /* hand conn back */
    ngx_http_oxmigrate_ox_excluded_t     *excluded;  /* in/out: a job's */

    ngx_array_t                          *executed;  /* char * */
    ngx_array_t                          *failed;    /* char * */
    ngx_uint_t                            lost;      /* lock taken over */
    ngx_uint_t                            gone;      /* its db went away */
    char                                  error[512];
} ngx_http_oxmigrate_update_t;

/*
 * NGX_OK: ran (see failed); NGX_BUSY: live lock (UPD-0003); NGX_AGAIN: the
 * schema's database went away and stayed away for oxmigrate_update_lock_idle
 * (nothing failed: what is recorded is done, the rest runs on a retry);
 * NGX_ERROR
 */
ngx_int_t ngx_http_oxmigrate_admin_update_run(
    ngx_http_oxmigrate_update_t *u);

/* ngx_http_oxmigrate_admin_refresher.c: the runner's lock refresher */
typedef struct ngx_http_oxmigrate_refresher_s  ngx_http_oxmigrate_refresher_t;

ngx_http_oxmigrate_refresher_t *ngx_http_oxmigrate_admin_refresher_start(
    ngx_http_oxmigrate_update_t *u, int64_t last);
ngx_uint_t ngx_http_oxmigrate_admin_refresher_lost(
    ngx_http_oxmigrate_refresher_t *rf);
int64_t ngx_http_oxmigrate_admin_refresher_reclaim(
    ngx_http_oxmigrate_refresher_t *rf, MYSQL *m, ngx_pool_t *pool);
int64_t ngx_http_oxmigrate_admin_refresher_stop(
    ngx_http_oxmigrate_refresher_t *rf, ngx_uint_t *lost);

/* ngx_http_oxmigrate_admin_taskrun.c: one task and its updateTask row in
   one transaction; NGX_OK (*ok: how it went), NGX_AGAIN: the server went
   away, NGX_ERROR: the connection is unusable */
ngx_int_t ngx_http_oxmigrate_admin_run_task(ngx_http_oxmigrate_update_t *u,
    MYSQL *m, ngx_http_oxmigrate_task_t *task, ngx_uint_t *ok, char *err,
    size_t len);
/* store/ngx_http_oxmigrate_admin_store_updatetask.c: statements separated
   by ";" in one round trip: the affected rows of the last one, -1: one
   failed (mysql_errno) */
int64_t ngx_http_oxmigrate_admin_batch(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, ...);


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_TASKS_H_INCLUDED_ */
