/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the declarations of the job endpoints (jobs, a
 * schema after a job) (issue 18).  Included by ngx_http_oxmigrate_admin.h
 * at its end.
 *
 *   svc/ngx_http_oxmigrate_admin_jobs.c       POST /upgrade, POST /updates
 *   svc/ngx_http_oxmigrate_admin_jobnew.c     a new job, a new driver of
 *                                             one; the start lock
 *   svc/ngx_http_oxmigrate_admin_jobview.c    GET /jobs, GET /jobs/{id},
 *                                             POST /jobs/{id}/resume
 *   svc/ngx_http_oxmigrate_admin_jobctl.c     pause, cancel, continue,
 *                                             PATCH
 *   svc/ngx_http_oxmigrate_admin_revert.c     POST /schemas/{s}/revert
 *   svc/ngx_http_oxmigrate_admin_diagnosis.c  GET /schemas/{s}
 *   store/ngx_http_oxmigrate_admin_store_jobs.c    their SQL
 *   http/ngx_http_oxmigrate_admin_answer_jobs.c    their answers
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_JOBSVC_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_JOBSVC_H_INCLUDED_


/* one schema of a dry run's plan */
typedef struct {
    char                       *name;
    uint64_t                    pool_id;
    char                       *host;
    uint64_t                    contexts;
    double                      estimate;   /* seconds; < 0: none */
    ngx_array_t                *pending;    /* ngx_str_t; NULL: unknown */
} ngx_http_oxmigrate_dry_schema_t;

/* POST /upgrade {"dry_run": true} */
typedef struct {
    int64_t                     from;       /* estimate's job; 0: none */
    double                      estimate;   /* seconds; < 0: none */
    char                       *server;
    int64_t                     server_id;  /* 0: not registered */
    const char                 *steps;
    const char                 *caches;
    ngx_array_t                 schemas;    /* dry_schema_t */
} ngx_http_oxmigrate_dry_run_t;

/* a job started: new (upgrade, updates) or taken over (resume, continue) */
typedef struct {
    uint64_t                    id;
    ngx_uint_t                  upgrade;    /* its kind */
    uint64_t                    server_id;
    ngx_uint_t                  schemas;    /* a new job's */
    ngx_uint_t                  remaining;  /* a taken-over job's */
    const char                 *taken;      /* "resumed", "continued" */
    int64_t                     other;      /* server_exists: the id;
                                               job_running: the job */
    ngx_uint_t                  stepped;    /* st ran (registerserver) */
    ngx_http_oxmigrate_step_t   st;
    ngx_http_oxmigrate_dry_run_t  *dry;
} ngx_http_oxmigrate_job_started_t;

/* pause, cancel, continue: what the job's row says now */
typedef struct {
    int64_t                     id;
    ngx_uint_t                  accepted;   /* its driver is asked */
    const char                 *state;
    const char                 *control;
    const char                 *message;
    ngx_http_oxmigrate_job_started_t  *started;  /* continue took it */
} ngx_http_oxmigrate_job_steered_t;

/* a job's row as GET /jobs shows it: columns as MariaDB gives them */
typedef struct {
    char                       *id;
    char                       *kind;
    const char                 *state;      /* shown */
    char                       *total;
    char                       *processed;
    char                       *failed;
    char                       *current;
    char                       *started;
    char                       *finished;
    char                       *heartbeat;
    char                       *server_id;
    char                       *user;
    char                       *owner;
    char                       *ox_caches;
    char                       *control;
    char                       *parallel;
    char                       *pause_after;
    char                       *window;
    ngx_int_t                   window_open;  /* -1: null */
    char                       *max_downtime;
    char                       *reason;
    double                      rate;         /* < 0: null */
    int64_t                     eta;          /* < 0: null */
    ngx_array_t                *schemas;      /* job_schema_row_t; list:
                                                 NULL */

    /* what the service computes the shown fields of */
    char                       *raw_state;
    char                       *done_ctx;
    char                       *done_ms;
    char                       *left_ctx;
    char                       *hosts;
    char                       *par;
} ngx_http_oxmigrate_job_row_t;

typedef struct {
    char                       *name;
    char                       *state;
    char                       *failed_tasks;  /* JSON array */
    int64_t                     downtime;      /* ms; < 0: null */
    char                       *message;
    char                       *checks;        /* JSON array */
    int64_t                     hold[2];       /* held, answered anyway */
    ngx_uint_t                  counted;       /* hold is known */
} ngx_http_oxmigrate_job_schema_row_t;

/* PATCH /jobs/{id} */
typedef struct {
    int64_t                     id;
    char                       *state;
    char                       *parallel;
    char                       *window;
} ngx_http_oxmigrate_job_patched_t;

/* the last upgrade job's row of a schema */
typedef struct {
    uint64_t                    job_id;
    char                       *job_state;
    char                       *state;
    char                       *message;
    uint64_t                    server_id;       /* the job's target */
    uint64_t                    from_server_id;  /* 0: unknown */
    int64_t                     disabled_at;     /* 0: never disabled */
    ngx_uint_t                  live;            /* a live heartbeat */
} ngx_http_oxmigrate_last_job_t;

/* POST /schemas/{s}/revert */
typedef struct {
    char                       *schema;
    ngx_http_oxmigrate_last_job_t  lj;
    ngx_array_t                *tasks;      /* char *, ran since */
    ngx_uint_t                  forced;
    ngx_uint_t                  stepped;
    ngx_http_oxmigrate_step_t   st;
} ngx_http_oxmigrate_reverted_t;

/* GET /schemas/{s}: contexts by state, servers, OX's lock, the last job */
typedef struct {
    ngx_uint_t                  enabled;
    char                       *reason_id;
    char                       *server_id;
    char                       *count;
} ngx_http_oxmigrate_ctx_state_t;

typedef struct {
    uint64_t                    server_id;
    char                       *name;
    uint64_t                    contexts;
} ngx_http_oxmigrate_ctx_server_t;

typedef struct {
    char                       *problem;
    char                       *fix;
} ngx_http_oxmigrate_problem_t;

typedef struct {
    char                       *schema;
    uint64_t                    pool_id;
    ngx_array_t                *contexts;   /* ctx_state_t */
    ngx_array_t                *servers;    /* ctx_server_t */
    int64_t                     locked;     /* -1: unknown, 0: none */
    int64_t                     age;
    ngx_uint_t                  live;
    ngx_uint_t                  has_job;
    ngx_http_oxmigrate_last_job_t  lj;
    const char                 *job_state;  /* shown */
    ngx_array_t                *problems;   /* problem_t */
} ngx_http_oxmigrate_diagnosis_t;


/* the services (thread) */
ngx_int_t ngx_http_oxmigrate_admin_upgrade(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_updates(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_jobs_list(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_job_get(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_job_resume(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_job_pause(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_job_cancel(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_job_continue(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_job_patch(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_schema_revert(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_schema_get(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);

/* their answers (http/ngx_http_oxmigrate_admin_answer_jobs.c) */
void ngx_http_oxmigrate_admin_answer_started(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_jobs(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_job(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_steered(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_patched(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_reverted(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_diagnosis(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);


/* svc/ngx_http_oxmigrate_admin_jobnew.c: what the job services share */

/* the {id} of jobs/{id}; NGX_DECLINED: not a number (404) */
ngx_int_t ngx_http_oxmigrate_admin_job_arg(ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res, int64_t *id);
/* svc under the start lock (GET_LOCK on configdb) */
ngx_int_t ngx_http_oxmigrate_admin_jobs_exclusive(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res,
    ngx_http_oxmigrate_admin_service_pt svc);
/* a job start: res->data a job_started_t, svc under the start lock */
ngx_int_t ngx_http_oxmigrate_admin_jobs_start(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res,
    ngx_http_oxmigrate_admin_service_pt svc, ngx_uint_t lock);
/* NGX_OK: no job but except runs; NGX_DECLINED: job_running, *other */
ngx_int_t ngx_http_oxmigrate_admin_jobs_idle(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, uint64_t except, ngx_http_oxmigrate_admin_res_t *res,
    int64_t *other);
/* a new job of the schemas of a plan (schema_ref_t); NULL: db_error */
void *ngx_http_oxmigrate_admin_job_planned(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *m, ngx_uint_t kind, ngx_array_t *plan,
    ngx_http_oxmigrate_admin_res_t *res);
/* INSERT a planned job; it starts once answered (res->job) */
ngx_int_t ngx_http_oxmigrate_admin_job_create(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    MYSQL *m, void *job, ngx_http_oxmigrate_job_started_t *st,
    ngx_http_oxmigrate_admin_res_t *res);
/* a new driver of a paused or interrupted job (cont: continue) */
ngx_int_t ngx_http_oxmigrate_admin_job_take(ngx_http_oxmigrate_admin_conn_t *c,
    int64_t id, ngx_uint_t cont, ngx_http_oxmigrate_job_started_t *st,
    ngx_http_oxmigrate_admin_res_t *res);
/* the body's "window"; NGX_DECLINED: not "HH:MM-HH:MM" (400) */
ngx_int_t ngx_http_oxmigrate_admin_window_arg(
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res,
    char **window, const char *or_null);


/* jobs/: what the module and the services call */

char *ngx_http_oxmigrate_admin_job_utc_offset(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
/* "HH:MM-HH:MM" in minutes of the day; NGX_ERROR: not a window */
ngx_int_t ngx_http_oxmigrate_admin_job_window(const char *w, ngx_int_t *start,
    ngx_int_t *end);
/* the minute of the day in the jobs' zone (thread: may read job_clock) */
ngx_int_t ngx_http_oxmigrate_admin_job_minute(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf);
/* event loop: start the job a service prepared in res->job */
void ngx_http_oxmigrate_admin_job_start(void *job);
/* the addresses of a job's database hosts, before it starts (thread) */
void ngx_http_oxmigrate_admin_job_resolve(void *job);
/* thread: resolve, then a queue per database host (before job_start) */
void ngx_http_oxmigrate_admin_job_prepare(void *job);
/* event loop: free a prepared job that will not run */
void ngx_http_oxmigrate_admin_job_free(void *job);


#endif
