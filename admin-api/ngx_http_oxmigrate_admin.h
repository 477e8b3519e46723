/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin REST API: shared declarations of admin-api/.
 *
 * The layers, one folder each; a file calls only into its own folder and
 * the folders below it, never up (ngx_http_oxmigrate_admin_call.h says
 * what crosses between them):
 *
 *   http/   the nginx module (auth, body, a thread per call, the reply),
 *           the directives, the route table that parses a request once
 *           into typed arguments, and the answer layer: (rc, reason,
 *           result) to a status and JSON.  Only here: statuses and yajl.
 *   svc/    the services of the endpoints, one file per family, on the
 *           thread pool: (connection, arguments) -> rc, reason, result.
 *   jobs/   upgrade and update jobs: the driver (event loop), a schema's
 *           steps in OX's order, the checks before enable, the lock watch;
 *           steps.c: one step interface over OX's tools or SQL.
 *   ox/     OX's command-line tools: running one (spawn, timeout, reap),
 *           reading their answers per version, runupdate's proof.
 *   tasks/  the SQL update-task runner: *.sql tasks, OX's lock, one task
 *           and its updateTask row in one transaction.
 *   store/  SQL, by table family: configdb (server, context, db_pool),
 *           the audit, the job tables (store_jobs.c for the endpoints,
 *           store_steps.c for the job engine's bookkeeping), a schema's
 *           updateTask; db.c: connections and the SQL builder.
 *   core/   below everything: posting work to a thread pool, a reason,
 *           the event-loop timing, JSON values (answers and JSON columns).
 *
 *   ox/ and tasks/ stand side by side: ox/ reads the update tasks and
 *   exclusions tasks/tasks.c loaded from the configuration.
 *
 * Threading rule: every function marked "thread" runs on an nginx thread
 * pool and may block; it never touches a request, r->pool or an event.
 * Everything else runs on the event loop and never blocks.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_H_INCLUDED_


#include "ngx_http_oxmigrate.h"

#if !(NGX_THREADS)
#error "the oxmigrate admin API needs nginx built --with-threads"
#endif

#include <ngx_thread_pool.h>
#include <mysql.h>
#include <hiredis/hiredis.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>


/* OX's lock rows in updateTask (ox-facts 6) */
#define NGX_HTTP_OXMIGRATE_LOCKED_UUID  "8d8b93e559794baca39daef8f87087a1"
#define NGX_HTTP_OXMIGRATE_BG_UUID      "5b7a2847985a49aa874c17df79af48b3"

/* the thread pool of job steps without oxmigrate_job_thread_pool */
#define NGX_HTTP_OXMIGRATE_JOB_POOL     "oxmigrate_jobs"

/* the schema-move maintenance reason of context.reason_id (ox-facts 5) */
/*
 * context.reason_id of a schema move: oxmigrate_maintenance_reason (OX's
 * SCHEMA_MOVE_MAINTENANCE_REASON), set per worker before any thread runs
 */
extern ngx_uint_t  ngx_http_oxmigrate_admin_reason;

#define NGX_HTTP_OXMIGRATE_EXCLUDED_FILE                                      \
    "excluded via file 'excludedupdatetask.properties'"


extern ngx_module_t  ngx_http_oxmigrate_admin_module;


/* one update task: a *.sql file of oxmigrate_update_tasks DIR */
typedef struct {
    ngx_str_t                   name;      /* "-- task:" or the file name */
    ngx_str_t                   ns;        /* "-- namespace:", may be empty */
    ngx_str_t                   sql;       /* NUL-terminated; len 0: no-op */
} ngx_http_oxmigrate_task_t;


/*
 * oxmigrate_ox_tools old|new DIR [via=COMMAND] [version=X.Y.Z]
 *     [rmi=HOST:PORT,...] [password_wrapper=PATH] [lock_idle=TIME]
 */
typedef struct {
    ngx_str_t                   dir;       /* no trailing slash */
    ngx_array_t                *via;       /* char *, the wrapper's words */
    ngx_uint_t                  version;   /* 7.10.1 is 71001 */
    char                       *rmi;       /* "h:p,h:p", NULL: none */
    char                       *wrapper;   /* node-side, NULL: -P */
    ngx_msec_t                  lock_idle; /* OX's lock counts dead */
} ngx_http_oxmigrate_ox_tools_t;

/* the RMI generation of the update-task tools (ox-facts 7) */
#define NGX_HTTP_OXMIGRATE_OX_RMI_TOOLS  71001
/* listUpdateTasks, with its mode switches */
#define NGX_HTTP_OXMIGRATE_OX_LIST_TOOL  71002
/* locked.idleMillis, takeover of a dead lock (ox-facts 6) */
#define NGX_HTTP_OXMIGRATE_OX_V8         80000

#define NGX_HTTP_OXMIGRATE_OX_OLD  0
#define NGX_HTTP_OXMIGRATE_OX_NEW  1


typedef struct {
    ngx_flag_t                  enable;
    ngx_str_t                   thread_pool_name;
    ngx_thread_pool_t          *thread_pool;
    ngx_str_t                   job_pool_name;
    ngx_thread_pool_t          *job_pool;      /* job steps */
    size_t                      max_body;
    ngx_msec_t                  lock_refresh;
    ngx_msec_t                  lock_idle;
    ngx_msec_t                  lock_watch;     /* 0: off */
    ngx_array_t                *tasks;          /* ngx_http_oxmigrate_task_t */
    ngx_array_t                *excluded_tasks; /* ngx_str_t */
    ngx_array_t                *excluded_ns;    /* ngx_str_t */

    /* the OX connector (ngx_http_oxmigrate_admin_ox.c) */
    ngx_http_oxmigrate_ox_tools_t  *ox[2];      /* old, new; NULL: SQL */
    ngx_str_t                   ox_user;        /* -A */
    ngx_str_t                   ox_pass;        /* never logged */
    char                       *ox_env;         /* "ADMIN_PASSWORD=..." */
    char                       *ox_passarg;     /* "--adminpass=..." */
    const char                 *ox_caches;      /* who OX invalidates */
    ngx_msec_t                  ox_timeout;     /* runupdate & co */
    ngx_msec_t                  ox_quick_timeout;  /* the schema tools */

    /* the URLs a job's health_url may name (jobcheck.c), char * */
    ngx_array_t                *health_urls;

    /* jobs' time windows (jobs/ngx_http_oxmigrate_admin_jobwindow.c) */
    ngx_int_t                   job_utc_offset; /* seconds */
    ngx_str_t                   job_clock;      /* tests: "HH:MM" file */
} ngx_http_oxmigrate_admin_loc_conf_t;


/* the admin module's main conf */
typedef struct {
    /* the one location with oxmigrate_update_lock_watch, NULL: none */
    ngx_http_oxmigrate_admin_loc_conf_t  *watch;
} ngx_http_oxmigrate_admin_main_conf_t;


#include "ngx_http_oxmigrate_admin_call.h"


typedef enum {
    NGX_HTTP_OXMIGRATE_FIELD_STRING = 0,
    NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL,
    NGX_HTTP_OXMIGRATE_FIELD_UINT,
    NGX_HTTP_OXMIGRATE_FIELD_COUNT,     /* an integer, 1 to max */
    NGX_HTTP_OXMIGRATE_FIELD_BOOL,
    NGX_HTTP_OXMIGRATE_FIELD_STRINGS
} ngx_http_oxmigrate_field_type_e;


/* a body field an endpoint accepts; any other field is a 400 */
typedef struct {
    const char                 *name;
    ngx_http_oxmigrate_field_type_e  type;
    ngx_uint_t                  max;       /* UINT: upper bound, 0: none */
    size_t                      offset;    /* in the arguments */
} ngx_http_oxmigrate_field_t;


typedef struct ngx_http_oxmigrate_admin_op_s  ngx_http_oxmigrate_admin_op_t;



/* a service (svc/, thread): see ngx_http_oxmigrate_admin_call.h */
typedef ngx_int_t (*ngx_http_oxmigrate_admin_service_pt)(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);

/* its answer (http/, thread): rc and res to a status and a body */
typedef void (*ngx_http_oxmigrate_admin_answer_pt)(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);


typedef struct {
    ngx_uint_t                  method;    /* NGX_HTTP_GET, NGX_HTTP_POST */
    const char                 *path;      /* "servers", "jobs/ * /resume" */
    const char                 *action;    /* audit name; NULL: read-only */
    ngx_http_oxmigrate_admin_service_pt  service;  /* thread */
    ngx_http_oxmigrate_admin_answer_pt   answer;
    ngx_http_oxmigrate_field_t *fields;    /* NULL: no body fields at all */
    ngx_uint_t                  work;      /* runs tasks: the job pool */
} ngx_http_oxmigrate_admin_route_t;


/* a connection target: configdb or a schema's database host */
typedef struct {
    char                       *host;
    unsigned int                port;
    char                       *socket;    /* NULL: TCP */
    char                       *user;
    char                       *password;
    unsigned int                connect_timeout;  /* seconds */
    unsigned int                read_timeout;     /* seconds, 0: none */
} ngx_http_oxmigrate_dbhost_t;


/*
 * One admin call.  Allocated from r->pool on the event loop; while the
 * thread runs, the event loop does not touch it.  The thread allocates
 * from its private op->conn.pool only.
 */
struct ngx_http_oxmigrate_admin_op_s {
    ngx_http_oxmigrate_admin_conn_t       conn;     /* what services get */
    ngx_http_oxmigrate_admin_args_t       args;     /* parsed once */
    ngx_http_oxmigrate_admin_res_t        res;      /* a service's word */

    ngx_http_oxmigrate_admin_route_t     *route;
    ngx_http_request_t                   *request;  /* event loop only */

    yajl_val                              json;     /* parsed body */

    ngx_uint_t                            status;
    yajl_gen                              gen;
    char                                  preset_code[32];
    char                                  preset_msg[128];

    void                                 *job;      /* start after reply */
    uint64_t                              audit_id; /* its "started" row */
    ngx_msec_t                            loop_ms;  /* event-loop work */

    unsigned                              preset:1;  /* error known */
    unsigned                              no_audit:1;
};


/* ngx_http_oxmigrate_admin_json.c */

void ngx_http_oxmigrate_admin_args_init(ngx_http_oxmigrate_admin_args_t *a);
/* the body into op->args (thread); NGX_ERROR: answered 400 */
ngx_int_t ngx_http_oxmigrate_admin_body_parse(
    ngx_http_oxmigrate_admin_op_t *op);
/* core/ngx_http_oxmigrate_admin_json_value.c */
void ngx_http_oxmigrate_admin_json_str(yajl_gen g, const char *s);
void ngx_http_oxmigrate_admin_json_strn(yajl_gen g, const u_char *s,
    size_t len);
void ngx_http_oxmigrate_admin_json_int(yajl_gen g, int64_t n);
void ngx_http_oxmigrate_admin_json_bool(yajl_gen g, ngx_uint_t b);
/* "key": [ the char * of a ] ([] when a is NULL) */
void ngx_http_oxmigrate_admin_json_names(yajl_gen g, const char *key,
    ngx_array_t *a);
void ngx_http_oxmigrate_admin_json_tree(yajl_gen g, yajl_val v,
    const char *fallback);
/* {"error":{"code","message"}, the outer object left open */
void ngx_http_oxmigrate_admin_error_body(yajl_gen g, const char *code,
    const u_char *msg, size_t len);
/* a fresh body: status and {"error":{"code","message"}} */
void ngx_http_oxmigrate_admin_error(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status, const char *code, const char *fmt, ...);
/* like _error, but leaves the error object open for extra fields */
void ngx_http_oxmigrate_admin_error_open(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status, const char *code, const char *fmt, ...);
void ngx_http_oxmigrate_admin_error_close(ngx_http_oxmigrate_admin_op_t *op);
/* a fresh generator for the answer body */
yajl_gen ngx_http_oxmigrate_admin_reply(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status);


/* http/ngx_http_oxmigrate_admin_answer.c: op->res as an error answer,
   left open for an endpoint's own fields, or closed */
void ngx_http_oxmigrate_admin_answer_open(ngx_http_oxmigrate_admin_op_t *op);
void ngx_http_oxmigrate_admin_answer_fail(ngx_http_oxmigrate_admin_op_t *op);
/* {"key":[ of a 200 listing, left open; NULL: answered (rc) or no memory */
yajl_gen ngx_http_oxmigrate_admin_answer_list(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc, const char *key);


/* ngx_http_oxmigrate_admin_db.c (thread) */

int64_t ngx_http_oxmigrate_admin_now_ms(void);
void ngx_http_oxmigrate_admin_thread_init(void);
MYSQL *ngx_http_oxmigrate_admin_connect(ngx_http_oxmigrate_dbhost_t *h,
    const char *db, unsigned long flags, char *err, size_t errlen);
/* MariaDB's error of this thread's last failed connect (0: it connected) */
unsigned int ngx_http_oxmigrate_admin_connect_error(void);
/* an error number that means the server went away or the connection
   broke (a restart, a kill), not that the statement failed */
ngx_uint_t ngx_http_oxmigrate_admin_gone(unsigned int e);
/* a NUL-terminated copy of n bytes (s may be NULL when n is 0) */
char *ngx_http_oxmigrate_admin_strndup(ngx_pool_t *pool, const void *s,
    size_t n);
/* "host:port", as GET /schemas and the jobs show a database host */
char *ngx_http_oxmigrate_admin_host_port(ngx_pool_t *pool,
    ngx_http_oxmigrate_dbhost_t *h);
/* a new configdb connection; NULL: err says why */
MYSQL *ngx_http_oxmigrate_admin_configdb_connect(
    ngx_http_oxmigrate_db_conf_t *dcf, ngx_pool_t *pool, char *err,
    size_t errlen);
/* the same with client flags (CLIENT_MULTI_STATEMENTS) */
MYSQL *ngx_http_oxmigrate_admin_configdb_open(
    ngx_http_oxmigrate_db_conf_t *dcf, ngx_pool_t *pool, unsigned long flags,
    char *err, size_t errlen);
/*
 * printf-like SQL: %s C string and %V ngx_str_t * as escaped literals,
 * %I C string as `identifier`, %U uint64_t, %D int64_t, %R raw C string.
 */
char *ngx_http_oxmigrate_admin_sql(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, ...);
char *ngx_http_oxmigrate_admin_vsql(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, va_list args);
/* SELECT: the stored result, NULL on error (mysql_errno(m) != 0) */
MYSQL_RES *ngx_http_oxmigrate_admin_vselect(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, va_list args);
MYSQL_RES *ngx_http_oxmigrate_admin_select(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, ...);
/* other statements: affected rows, -1 on error */
int64_t ngx_http_oxmigrate_admin_exec(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, ...);
/* a service's configdb (c->db), connected on first use; NULL: res says
   configdb_unavailable */
MYSQL *ngx_http_oxmigrate_admin_conn_db(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_res_t *res);
/* a failed statement as a service's reason (db_error); NGX_ERROR */
ngx_int_t ngx_http_oxmigrate_admin_db_fail(ngx_http_oxmigrate_admin_res_t *res,
    MYSQL *m);
/* jdbc:mysql://host[:port]/... -> host, port */
ngx_int_t ngx_http_oxmigrate_admin_parse_jdbc(const char *url,
    ngx_pool_t *pool, char **host, unsigned int *port);
/* the database host of a db_pool row; NGX_DECLINED: no such pool */
ngx_int_t ngx_http_oxmigrate_admin_pool_host(ngx_pool_t *pool, MYSQL *m,
    ngx_uint_t pool_id, ngx_http_oxmigrate_dbhost_t *h, char **name);
/* INCR <prefix>epoch; NGX_DECLINED without Redis; *why on NGX_ERROR */
ngx_int_t ngx_http_oxmigrate_admin_epoch_incr(
    ngx_http_oxmigrate_redis_conf_t *rcf, ngx_log_t *log, char *why,
    size_t why_len);
/* a blocking Redis connection as oxmigrate_redis says; NULL: *why */
redisContext *ngx_http_oxmigrate_admin_redis(
    ngx_http_oxmigrate_redis_conf_t *rcf, char *why, size_t why_len);
/* tell the balancers: "change log", "redis epoch", "failed" (why), "ttl" */
const char *ngx_http_oxmigrate_admin_invalidate(MYSQL *m,
    ngx_http_oxmigrate_redis_conf_t *rcf, ngx_log_t *log, char *why,
    size_t why_len);
/* store/ngx_http_oxmigrate_admin_audit.c: a call's row */
ngx_int_t ngx_http_oxmigrate_admin_store_audit_started(MYSQL *m,
    ngx_pool_t *pool, const char *user, const char *action, ngx_str_t *args,
    uint64_t *id);
ngx_int_t ngx_http_oxmigrate_admin_store_audit_done(MYSQL *m,
    ngx_pool_t *pool, uint64_t id, ngx_uint_t status, ngx_str_t *result);
ngx_int_t ngx_http_oxmigrate_admin_store_audit_row(MYSQL *m,
    ngx_pool_t *pool, const char *user, const char *action, ngx_str_t *args,
    ngx_uint_t status, ngx_str_t *result);
void ngx_http_oxmigrate_admin_store_audit_drop(MYSQL *m, ngx_pool_t *pool,
    uint64_t id);
/* http/ngx_http_oxmigrate_admin_audit.c: "started" before the handler
   runs, completed (or written) after it */
void ngx_http_oxmigrate_admin_audit_start(ngx_http_oxmigrate_admin_op_t *op);
void ngx_http_oxmigrate_admin_audit(ngx_http_oxmigrate_admin_op_t *op);

/* the audit row of a job's step (disableschema, changeserver, runupdate,
   enableschema of one schema), user "job N" (thread) */
typedef struct {
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;
    ngx_log_t                            *log;
    uint64_t                              job_id;
    const char                           *action;
    const char                           *schema;
    ngx_uint_t                            status;   /* HTTP-like */
    const char                           *state;    /* done, failed, ... */
    const char                           *message;
    uint64_t                              server_id; /* 0: none */
    ngx_array_t                          *executed;  /* char *, or NULL */
    ngx_array_t                          *failed;
} ngx_http_oxmigrate_audit_step_t;

void ngx_http_oxmigrate_admin_audit_step(MYSQL *m, ngx_pool_t *pool,
    ngx_http_oxmigrate_audit_step_t *a, char **rows);
void ngx_http_oxmigrate_admin_audit_flush(MYSQL *m, ngx_pool_t *pool,
    ngx_log_t *log, char *rows);
/* natural order of schema names: oxdatabase_2 before oxdatabase_10 */
int ngx_http_oxmigrate_admin_natcmp(const char *a, const char *b);


/* ngx_http_oxmigrate_admin_configdb.c (thread) */


/* ngx_http_oxmigrate_admin_routes.c: names and indexes for the metrics */
const char *ngx_http_oxmigrate_admin_route_name(ngx_uint_t i);
ngx_uint_t ngx_http_oxmigrate_admin_route_index(
    ngx_http_oxmigrate_admin_route_t *rt);

/* ngx_http_oxmigrate_admin_store.c: the router's lookup, for GET /lookup */
ngx_int_t ngx_http_oxmigrate_admin_store_login(MYSQL *m, ngx_pool_t *pool,
    const char *key, ngx_http_oxmigrate_info_t *info);

/* store/ngx_http_oxmigrate_admin_store_updatetask.c: a schema's OX lock
 * rows (lastModified, 0: none); NGX_DECLINED: no updateTask there */
ngx_int_t ngx_http_oxmigrate_admin_store_locks(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t *locked, int64_t *background);

/* ngx_http_oxmigrate_admin_lockwatch.c: oxmigrate_update_lock_watch */
ngx_int_t ngx_http_oxmigrate_admin_lockwatch_init_process(
    ngx_cycle_t *cycle, ngx_http_oxmigrate_admin_loc_conf_t *alcf);

/* svc/ngx_http_oxmigrate_admin_lookup.c (thread): GET /lookup?login= */

/* store/ngx_http_oxmigrate_admin_cache.c: a Redis entry as it is */
typedef struct {
    ngx_uint_t                  configured;  /* oxmigrate_redis is set */
    char                       *error;       /* not reached: why */
    char                       *key;
    int64_t                     epoch;
    ngx_uint_t                  present;
    int64_t                     ttl;         /* ms, -1: none */
    ngx_str_t                   stamp;
} ngx_http_oxmigrate_redis_entry_t;

typedef struct {
    ngx_str_t                       login;
    ngx_str_t                       key;       /* as the router keys it */
    ngx_http_oxmigrate_info_t       info;      /* configdb */
    const char                     *primary;   /* decision, or a hint */
    const char                     *secondary;
    ngx_uint_t                      shm;       /* a zone is configured */
    ngx_uint_t                      shm_present;
    ngx_uint_t                      shm_info_ok;
    ngx_http_oxmigrate_shm_peek_t   pk;
    ngx_http_oxmigrate_info_t       shm_info;
    ngx_http_oxmigrate_redis_entry_t  redis;
} ngx_http_oxmigrate_lookup_t;

ngx_int_t ngx_http_oxmigrate_admin_lookup(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res);
void ngx_http_oxmigrate_admin_store_redis_entry(
    ngx_http_oxmigrate_redis_conf_t *rcf, ngx_pool_t *pool, ngx_str_t *key,
    ngx_http_oxmigrate_redis_entry_t *re);
/* http/ngx_http_oxmigrate_admin_answer_lookup.c */
void ngx_http_oxmigrate_admin_answer_lookup(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);

/* shared by handlers and jobs; return HTTP status, 0 = done */
typedef struct {
    int64_t                     changed;   /* contexts changed */
    char                        msg[512];
    ngx_array_t                *enabled;   /* changeserver: cids, uint64 */
    ngx_uint_t                  empty;     /* changeserver: no contexts */
    unsigned int                db_errno;  /* MariaDB's error, 0: none */
} ngx_http_oxmigrate_schema_res_t;

ngx_int_t ngx_http_oxmigrate_admin_schema_exists(MYSQL *m, ngx_pool_t *pool,
    const char *schema);
/* ngx_http_oxmigrate_admin_store.c: NGX_OK, NGX_DECLINED (changeserver
 * refused: res->empty or res->enabled), NGX_ERROR (res->msg, db_errno) */
ngx_int_t ngx_http_oxmigrate_admin_do_disable(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_do_enable(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_do_changeserver(MYSQL *m,
    ngx_pool_t *pool, const char *schema, uint64_t server_id,
    ngx_uint_t look, ngx_http_oxmigrate_schema_res_t *res);
/* registerserver; returns the id, 0 on error (msg set) */
uint64_t ngx_http_oxmigrate_admin_register(MYSQL *m, ngx_pool_t *pool,
    const char *name, char *msg, size_t len);
/* the schema's contexts and how many of them are enabled */
ngx_int_t ngx_http_oxmigrate_admin_count_enabled(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *total, uint64_t *enabled);
/* every server, ngx_http_oxmigrate_server_t by id; NGX_ERROR: see m */
ngx_int_t ngx_http_oxmigrate_admin_store_servers(MYSQL *m, ngx_pool_t *pool,
    ngx_array_t **servers);
/* NGX_OK: a server of that id exists, NGX_DECLINED: none, NGX_ERROR */
ngx_int_t ngx_http_oxmigrate_admin_store_server_known(MYSQL *m,
    ngx_pool_t *pool, uint64_t id);
/* server id by name, 0: none; -1 on error */
int64_t ngx_http_oxmigrate_admin_server_id(MYSQL *m, ngx_pool_t *pool,
    const char *name);


#include "ngx_http_oxmigrate_admin_tasks.h"


/* store/ngx_http_oxmigrate_admin_store.c: every schema (thread) */

/* a schema as configdb knows it */
typedef struct {
    char                       *name;
    uint64_t                    pool_id;
    uint64_t                    contexts;
    uint64_t                    not_on;    /* contexts on other servers */
} ngx_http_oxmigrate_schema_ref_t;

/*
 * Every schema of configdb, in the documented order: database (db_pool_id)
 * first, then the name with digit runs compared as numbers.  not_on counts
 * contexts whose server is not server_id.  NGX_ERROR: see mysql_error().
 */
ngx_int_t ngx_http_oxmigrate_admin_all_schemas(MYSQL *m, ngx_pool_t *pool,
    uint64_t server_id, ngx_array_t **out);
/* qsort() in that order: schema_refs, or structs that begin with one */
int ngx_libc_cdecl ngx_http_oxmigrate_admin_schema_order(const void *a,
    const void *b);
/* the write pool of a schema; NGX_DECLINED: unknown schema */
ngx_int_t ngx_http_oxmigrate_admin_schema_pool(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *pool_id);

/*
 * Schemas in that order, database after database: the database (db_pool)
 * of the schema at hand and, with connect, one connection to it for all
 * its schemas, not one per schema.
 */
typedef struct {
    ngx_http_oxmigrate_admin_conn_t  *conn;   /* pool_host on conn->db */
    uint64_t                        pool_id;  /* (uint64_t) -1: none yet */
    ngx_uint_t                      known;    /* pool_host found it */
    char                           *pname;
    ngx_http_oxmigrate_dbhost_t     h;
    MYSQL                          *sm;       /* NULL: not connected */
    unsigned                        connect:1;
    unsigned                        warn:1;   /* log a failed connect */
} ngx_http_oxmigrate_pool_walk_t;

void ngx_http_oxmigrate_admin_pool_walk_init(
    ngx_http_oxmigrate_pool_walk_t *pw, ngx_http_oxmigrate_admin_conn_t *c,
    ngx_uint_t connect, ngx_uint_t warn);
/* at the database of pool_id; 1: another one than the last schema's */
ngx_uint_t ngx_http_oxmigrate_admin_pool_walk(
    ngx_http_oxmigrate_pool_walk_t *pw, uint64_t pool_id);
void ngx_http_oxmigrate_admin_pool_walk_done(
    ngx_http_oxmigrate_pool_walk_t *pw);



#include "ngx_http_oxmigrate_admin_ox.h"


/* svc/ngx_http_oxmigrate_admin_configdb.c: servers and the schema tools */

typedef struct {
    uint64_t                    id;
    char                       *name;
} ngx_http_oxmigrate_server_t;

/* POST /servers */
typedef struct {
    int64_t                     id;
    char                       *name;
    ngx_uint_t                  created;
    ngx_http_oxmigrate_step_t   st;       /* st.call: the tool, if run */
} ngx_http_oxmigrate_registered_t;

/* disable, enable, changeserver of one schema */
typedef struct {
    char                       *schema;
    int64_t                     server_id;  /* changeserver; -1: none */
    ngx_uint_t                  stepped;    /* st was run */
    ngx_http_oxmigrate_step_t   st;
} ngx_http_oxmigrate_schema_op_t;

ngx_int_t ngx_http_oxmigrate_admin_servers_list(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_servers_add(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_schema_disable(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_schema_enable(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_schema_changeserver(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
/* the schema exists in configdb; NGX_DECLINED: unknown_schema */
ngx_int_t ngx_http_oxmigrate_admin_schema_known(
    ngx_http_oxmigrate_admin_conn_t *c, MYSQL *m, const char *schema,
    ngx_http_oxmigrate_admin_res_t *res);

/* svc/ngx_http_oxmigrate_admin_listing.c: GET /schemas, GET /audit */

/* a row of GET /schemas; ref first, so that it sorts as a schema_ref */
typedef struct {
    ngx_http_oxmigrate_schema_ref_t   ref;
    uint64_t                          enabled;
    uint64_t                          maintenance;
    char                             *server_ids;   /* "1,8" */
    char                             *host;
    const char                       *status;
} ngx_http_oxmigrate_schema_row_t;

/* a row of oxmigrate_audit */
typedef struct {
    uint64_t                          id;
    int64_t                           ts;          /* ms */
    char                             *user;
    char                             *action;
    char                             *arguments;   /* JSON, or not */
    ngx_int_t                         status;
    char                             *result;      /* JSON, or not */
} ngx_http_oxmigrate_audit_row_t;

ngx_int_t ngx_http_oxmigrate_admin_schemas_list(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_audit_list(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
/* store.c, audit.c: their rows; NGX_ERROR: mysql_errno(m), 0: no memory */
ngx_int_t ngx_http_oxmigrate_admin_store_schemas(MYSQL *m, ngx_pool_t *pool,
    ngx_array_t *rows);
ngx_int_t ngx_http_oxmigrate_admin_store_audit_rows(MYSQL *m,
    ngx_pool_t *pool, ngx_uint_t limit, ngx_array_t **rows);

/* http/ngx_http_oxmigrate_admin_answer_listing.c */
void ngx_http_oxmigrate_admin_answer_schemas(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_audit(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);

/* http/ngx_http_oxmigrate_admin_answer_configdb.c */
void ngx_http_oxmigrate_admin_answer_servers(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_registered(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_schema_op(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
/* a failed step's error answer, op->res giving the reason */
void ngx_http_oxmigrate_admin_step_fail(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_step_t *st);
/* ox/ngx_http_oxmigrate_admin_ox.c: why a tool failed, as a reason */
const char *ngx_http_oxmigrate_admin_ox_reason(
    ngx_http_oxmigrate_ox_call_t *call);


/* ngx_http_oxmigrate_admin_conf.c and the handler it installs */

char *ngx_http_oxmigrate_admin_tasks_dir(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oxmigrate_admin_excluded_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
void *ngx_http_oxmigrate_admin_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_oxmigrate_admin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
ngx_int_t ngx_http_oxmigrate_admin_handler(ngx_http_request_t *r);


/* ngx_http_oxmigrate_admin_routes.c (event loop) */

/* the endpoint of the request, its path parameters in op->arg; NULL:
 * *status is 404 or 405 */
ngx_http_oxmigrate_admin_route_t *ngx_http_oxmigrate_admin_route(
    ngx_http_request_t *r, ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t *status);


/* core/ngx_http_oxmigrate_admin_core.c */

/* http/ngx_http_oxmigrate_admin_request.c: a call (event loop) */
ngx_int_t ngx_http_oxmigrate_admin_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_oxmigrate_admin_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
extern ngx_http_request_body_filter_pt  ngx_http_oxmigrate_admin_next_body_filter;

/* event loop: the admin API's time on it, in oxmigrate_metrics */
uint64_t ngx_http_oxmigrate_admin_loop_start(void);
void ngx_http_oxmigrate_admin_loop_end(uint64_t start, const char *what,
    ngx_log_t *log);
/* event loop: run handler on the thread pool, detached from any request */
ngx_int_t ngx_http_oxmigrate_admin_post(ngx_thread_pool_t *tp,
    ngx_pool_t *pool, void (*handler)(void *data, ngx_log_t *log),
    void (*done)(ngx_event_t *ev), void *data);


/* the families that moved to services keep their declarations apart */
#include "ngx_http_oxmigrate_admin_updates.h"
#include "ngx_http_oxmigrate_admin_jobsvc.h"


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_H_INCLUDED_ */
