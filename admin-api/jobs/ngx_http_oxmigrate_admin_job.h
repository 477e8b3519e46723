/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: what the job files share (jobs/: the engine; the
 * endpoints are services, svc/ngx_http_oxmigrate_admin_job*.c, declared
 * in ngx_http_oxmigrate_admin_jobsvc.h).
 *
 *   ngx_http_oxmigrate_admin_jobmake.c    a job for its driver (thread):
 *                                         made, restored from its row,
 *                                         its hosts resolved; the claim
 *   ngx_http_oxmigrate_admin_jobwindow.c  time windows
 *   ngx_http_oxmigrate_admin_jobrow.c     a job's row: a stale heartbeat,
 *                                         the state shown
 *   ngx_http_oxmigrate_admin_jobdriver.c  the driver (event loop): which
 *                                         schema runs next, when a step
 *                                         is done, the end
 *   ngx_http_oxmigrate_admin_jobrun.c     what steps and polls share
 *                                         (thread): connection, heartbeat,
 *                                         bookkeeping, audit, control
 *   ngx_http_oxmigrate_admin_jobsteps.c   the steps (thread): one schema's
 *                                         disable, changeserver, update,
 *                                         enable; the job's final state
 *   ngx_http_oxmigrate_admin_jobcheck.c   the checks before an enable
 *   ngx_http_oxmigrate_admin_steps.c      one step interface: OX tools or
 *                                         SQL; rc and reason, no HTTP
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_JOB_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_JOB_H_INCLUDED_


#include "ngx_http_oxmigrate_admin.h"
#include "ngx_http_oxmigrate_admin_store_steps.h"


#define NGX_HTTP_OXMIGRATE_JOB_UPGRADE   0
#define NGX_HTTP_OXMIGRATE_JOB_UPDATES   1

#define NGX_HTTP_OXMIGRATE_S_PENDING     0
#define NGX_HTTP_OXMIGRATE_S_RUNNING     1
#define NGX_HTTP_OXMIGRATE_S_DONE        2
#define NGX_HTTP_OXMIGRATE_S_FAILED      3
#define NGX_HTTP_OXMIGRATE_S_CANCELLED   4

/* oxmigrate_job.control: what the driver is asked to do */
#define NGX_HTTP_OXMIGRATE_C_RUN         0
#define NGX_HTTP_OXMIGRATE_C_PAUSE       1
#define NGX_HTTP_OXMIGRATE_C_CANCEL      2


typedef struct {
    char                                 *name;
    uint64_t                              pool_id;
    char                                 *host;     /* "host:port" */
    char                                 *addr;     /* resolved "a:port" */
    ngx_uint_t                            seq;
    ngx_uint_t                            state;
    ngx_uint_t                            hidx;     /* in job->hosts */
    uint64_t                              contexts;
    ngx_msec_t                            started;  /* its step, RUNNING */
} ngx_http_oxmigrate_job_schema_t;


/*
 * A database host of a job: its pending schemas in run order and whether
 * a step runs there (never two at once on one host).  The driver picks
 * the next schema in O(hosts), not O(schemas).
 */
typedef struct {
    char                                 *host;     /* resolved "a:port" */
    ngx_uint_t                           *queue;    /* into job->schemas */
    ngx_uint_t                            n;
    ngx_uint_t                            next;     /* queue[next] is next */
    ngx_uint_t                            busy;
    MYSQL                                *m;        /* idle, lent to steps */
} ngx_http_oxmigrate_job_host_t;


typedef struct {
    ngx_pool_t                           *pool;
    ngx_log_t                            *log;
    uint64_t                              id;
    ngx_uint_t                            kind;
    uint64_t                              server_id;
    ngx_uint_t                            force;     /* go on past failures */
    ngx_uint_t                            parallel;
    ngx_array_t                           schemas;
    ngx_array_t                           conns;     /* idle configdb */
    ngx_array_t                           hosts;     /* job_host_t */
    ngx_uint_t                            pending;
    ngx_uint_t                            running;
    ngx_uint_t                            stop;
    ngx_uint_t                            failed;
    ngx_uint_t                            interrupted;
    ngx_uint_t                            lost;      /* taken over */
    uint64_t                              claim;
    ngx_uint_t                            control;   /* C_*, as last read */
    ngx_uint_t                            polling;   /* a poll runs */
    ngx_thread_task_t                    *poll_task; /* one, reused */
    ngx_uint_t                            steps_done; /* step ends seen */
    ngx_uint_t                            poll_since; /* steps_done then */
    ngx_uint_t                            finishing;
    ngx_uint_t                            poll_parallel;
    ngx_uint_t                            poll_control;
    ngx_int_t                             poll_rc;
    uint64_t                              pause_after;
    ngx_int_t                             win_start;  /* -1: no window */
    ngx_int_t                             win_end;
    ngx_int_t                             minute;     /* job_clock's */
    ngx_int_t                             poll_win_start;
    ngx_int_t                             poll_win_end;
    ngx_int_t                             poll_minute;
    ngx_uint_t                            check_tasks;
    ngx_int_t                             max_replica_lag;  /* -1: none */
    char                                 *health_url;
    ngx_event_t                           keepalive;
    ngx_http_oxmigrate_ox_excluded_t     *excluded;   /* OX's, idle */
    ngx_msec_t                            done_ms;    /* for the ETA gauge */
    uint64_t                              done_ctx;   /* their contexts */
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;
    ngx_http_oxmigrate_main_conf_t       *omcf;
} ngx_http_oxmigrate_job_t;


typedef struct {
    ngx_http_oxmigrate_job_t             *job;
    ngx_http_oxmigrate_job_schema_t      *s;
    MYSQL                                *m;     /* lent by the job */
    MYSQL                                *sm;    /* the host's, lent */
    ngx_http_oxmigrate_ox_excluded_t     *excluded;  /* the job's, lent */
    ngx_int_t                             rc;    /* NGX_AGAIN: not started,
                                                    NGX_DONE: cancelled */
    ngx_uint_t                            control;   /* read at its end */
    ngx_uint_t                            parallel;  /* 0: unchanged */
    ngx_msec_t                            started;
} ngx_http_oxmigrate_job_step_t;


/* ngx_http_oxmigrate_admin_jobmake.c (thread) */

/* "host:pid" of this worker; a new driver's claim */
char *ngx_http_oxmigrate_admin_owner(ngx_pool_t *pool);
uint64_t ngx_http_oxmigrate_admin_job_claim(void);


/* ngx_http_oxmigrate_admin_jobrow.c */

/* a heartbeat before this (ms) is stale: the job's driver is gone */
int64_t ngx_http_oxmigrate_admin_job_stale(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf);
/* the state GET /jobs shows: "interrupted" for a dead "running" one */
const char *ngx_http_oxmigrate_admin_job_shown(const char *state,
    ngx_uint_t dead);
/* running, paused or interrupted: the job is not over */
ngx_uint_t ngx_http_oxmigrate_admin_job_unfinished(const char *state);
/* an integer column; dflt for SQL NULL */
off_t ngx_http_oxmigrate_admin_job_col(const char *v, off_t dflt);


/* ngx_http_oxmigrate_admin_jobrun.c: what a step and a poll share (thread) */

/* one schema's step, as its helpers see it */

typedef struct {
    ngx_http_oxmigrate_job_t         *job;
    ngx_http_oxmigrate_job_schema_t  *js;
    ngx_pool_t                       *pool;
    MYSQL                            *m;      /* configdb; NULL: gone */
    ngx_http_oxmigrate_step_t         st;
    char                             *audit;  /* rows not written yet */
    ngx_int_t                         changelog;  /* -1: not known yet */
} ngx_http_oxmigrate_job_run_t;


/* ngx_http_oxmigrate_admin_hold.c: oxmigrate_hold's Redis keys (thread) */

/* a job disables the schema: counts reset, the expected window written
   (mean: the job's mean downtime so far, ms; 0: none) */
void ngx_http_oxmigrate_admin_hold_disabled(ngx_http_oxmigrate_job_run_t *run,
    int64_t mean);
/* GET /jobs/{id}: per schema "held", "maintenance_answers" (c may be NULL) */
void ngx_http_oxmigrate_admin_hold_counts(
    ngx_http_oxmigrate_redis_conf_t *rcf, ngx_log_t *log,
    ngx_array_t *schemas);

MYSQL *ngx_http_oxmigrate_admin_job_db(ngx_http_oxmigrate_job_t *job,
    ngx_pool_t *pool);
void ngx_http_oxmigrate_admin_job_invalidate(
    ngx_http_oxmigrate_job_run_t *run);
/* 1: the broken configdb connection is back */
ngx_uint_t ngx_http_oxmigrate_admin_job_again(
    ngx_http_oxmigrate_job_run_t *run);
/* a store call failed: 1 the connection broke and is back (call again) */
ngx_uint_t ngx_http_oxmigrate_admin_job_retry(
    ngx_http_oxmigrate_job_run_t *run);
/*
 * A store call on the run's configdb connection (call uses run->m), again
 * after a reconnect when the connection broke; rc is NGX_ERROR without a
 * connection.  failed: the test of rc that says the call failed.
 */
#define ngx_http_oxmigrate_admin_job_store(run, rc, call, failed)             \
    for ((rc) = NGX_ERROR; (run)->m != NULL; ) {                              \
        (rc) = (call);                                                        \
        if (!(failed) || !ngx_http_oxmigrate_admin_job_retry(run)) {          \
            break;                                                            \
        }                                                                     \
    }
void ngx_http_oxmigrate_admin_job_mark(ngx_http_oxmigrate_job_run_t *run,
    const char *state, ngx_array_t *failed, const char *msg);
/* control and parallel into step, the rest in lk; NGX_DECLINED: the job
   is another driver's now */
ngx_int_t ngx_http_oxmigrate_admin_job_look(ngx_http_oxmigrate_job_run_t *run,
    ngx_http_oxmigrate_job_step_t *step, ngx_uint_t what,
    ngx_http_oxmigrate_step_look_t *lk);
void ngx_http_oxmigrate_admin_job_looked(ngx_http_oxmigrate_job_step_t *step,
    ngx_int_t rc, ngx_http_oxmigrate_step_look_t *lk);
void ngx_http_oxmigrate_admin_job_audit(ngx_http_oxmigrate_job_run_t *run,
    const char *action, ngx_uint_t status, const char *state,
    const char *msg, ngx_http_oxmigrate_update_t *u);
ngx_int_t ngx_http_oxmigrate_admin_run_open(
    ngx_http_oxmigrate_job_step_t *step, ngx_http_oxmigrate_job_run_t *run,
    size_t size);
void ngx_http_oxmigrate_admin_run_close(ngx_http_oxmigrate_job_step_t *step,
    ngx_http_oxmigrate_job_run_t *run);
ngx_int_t ngx_http_oxmigrate_admin_run_begin(
    ngx_http_oxmigrate_job_step_t *step, ngx_http_oxmigrate_job_run_t *run,
    ngx_http_oxmigrate_step_look_t *lk);


/* ngx_http_oxmigrate_admin_jobsteps.c (thread) */

void ngx_http_oxmigrate_admin_job_step(void *data, ngx_log_t *log);
void ngx_http_oxmigrate_admin_job_finish(void *data, ngx_log_t *log);
/* ngx_http_oxmigrate_admin_jobcheck.c: before enable (thread) */
ngx_int_t ngx_http_oxmigrate_admin_job_checks(ngx_http_oxmigrate_job_t *job,
    ngx_pool_t *pool, MYSQL *m, MYSQL *sm, const char *schema, uint64_t seq,
    char **why);
/* the checks' options of a request body or a job's stored options */
void ngx_http_oxmigrate_admin_job_check_opts(ngx_http_oxmigrate_job_t *job,
    yajl_val opts);

/* the job's control and parallel (a poll of the driver, thread) */
void ngx_http_oxmigrate_admin_job_poll(void *data, ngx_log_t *log);


/* ngx_http_oxmigrate_admin_jobwindow.c: time windows */

/* minute inside the window start to end (one may span midnight) */
ngx_uint_t ngx_http_oxmigrate_admin_job_inside(ngx_int_t start,
    ngx_int_t end, ngx_int_t minute);
/* the job's window of "HH:MM-HH:MM" (thread); NULL, invalid: none */
void ngx_http_oxmigrate_admin_job_set_window(ngx_http_oxmigrate_job_t *job,
    const char *w);


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_JOB_H_INCLUDED_ */
