/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: what a call carries between the layers.
 *
 *   http/    the route table parses a request ONCE into an argument
 *            struct (ngx_http_oxmigrate_admin_args_t): path, query, body
 *            fields, typed.  The only layer that knows statuses and yajl.
 *   svc/     a service runs on the thread pool with (connection,
 *            arguments) and returns NGX_OK, NGX_DECLINED or NGX_ERROR with
 *            a reason and a result struct (ngx_http_oxmigrate_admin_res_t).
 *   http/    the answer layer (answer.c and the family answer files) maps
 *            (rc, reason, result) to a status and a JSON body, as the login
 *            path's decide()/respond() do.
 *
 * A service never sees the request: no r, no status, no yajl_gen.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_CALL_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_CALL_H_INCLUDED_


/* a number or flag of the body that was not given */
#define NGX_HTTP_OXMIGRATE_ARG_UNSET  -1


/*
 * The arguments of a call.  Strings are NUL-terminated, never empty when
 * given (the route table refuses ""); a "string or null" field given as
 * null is NGX_HTTP_OXMIGRATE_ARG_NULL (test it with
 * ngx_http_oxmigrate_admin_arg_null()), absent is NULL.
 */
typedef struct {
    /* the path's "*" segments: {schema}, {job id}, {database}, {task} */
    char                       *path[2];

    /* the query */
    char                       *state;        /* ?state= */
    ngx_str_t                   query;        /* the whole query string */
    ngx_uint_t                  rows;         /* ?limit=, 1..1000, 50 */

    /* the body as it came (the audit, a job's options); NULL: none */
    u_char                     *body;         /* NUL-terminated */
    size_t                      body_len;
    ngx_uint_t                  body_fields;  /* fields given */

    /* its fields; see the route table for who accepts which */
    char                       *name;         /* POST /servers */
    char                       *server;       /* changeserver, upgrade */
    char                       *schema;       /* unblock */
    char                       *resume_after;
    char                       *window;
    char                       *health_url;
    int64_t                     server_id;
    int64_t                     parallel;
    int64_t                     limit;
    int64_t                     pause_after;
    int64_t                     max_downtime;
    int64_t                     max_replica_lag;
    ngx_int_t                   cont;         /* "continue" */
    ngx_int_t                   force;
    ngx_int_t                   dry_run;
    ngx_int_t                   check_tasks;
    ngx_int_t                   stop_on_error;
    ngx_array_t                *skip;         /* char * */
    ngx_array_t                *only;         /* char * */
} ngx_http_oxmigrate_admin_args_t;


extern char  ngx_http_oxmigrate_admin_arg_null_mark[];

#define NGX_HTTP_OXMIGRATE_ARG_NULL  ngx_http_oxmigrate_admin_arg_null_mark

#define ngx_http_oxmigrate_admin_arg_null(s)                                 \
    ((s) == ngx_http_oxmigrate_admin_arg_null_mark)

/* a string argument, or NULL when absent or given as null */
#define ngx_http_oxmigrate_admin_arg_str(s)                                  \
    (ngx_http_oxmigrate_admin_arg_null(s) ? NULL : (s))

/* a flag argument, or dflt when absent */
#define ngx_http_oxmigrate_admin_arg_flag(f, dflt)                           \
    ((f) == NGX_HTTP_OXMIGRATE_ARG_UNSET ? (dflt) : (f))


/*
 * The connection a service works with: the configuration, its private
 * pool and log, and configdb, connected on first use (store/db.c:
 * ngx_http_oxmigrate_admin_conn_db()).
 */
typedef struct {
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;
    ngx_http_oxmigrate_main_conf_t       *omcf;
    ngx_pool_t                           *pool;     /* thread-private */
    ngx_log_t                            *log;
    MYSQL                                *db;       /* configdb, lazily */
    const char                           *user;     /* who calls */
} ngx_http_oxmigrate_admin_conn_t;


/*
 * What a service says.  NGX_OK: data holds the service's result.
 * NGX_DECLINED or NGX_ERROR: reason is the error code of the answer
 * ("unknown_schema"; the answer layer's table gives its status) and msg
 * the words.
 */
typedef struct {
    const char                 *reason;
    char                        msg[1024];
    void                       *data;      /* the service's result */
    void                       *job;       /* a job to start after it */
    unsigned                    no_audit:1; /* changed nothing (dry run) */
} ngx_http_oxmigrate_admin_res_t;


/* reason and printf-like message; returns rc */
ngx_int_t ngx_http_oxmigrate_admin_fail(ngx_http_oxmigrate_admin_res_t *res,
    ngx_int_t rc, const char *reason, const char *fmt, ...);


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_CALL_H_INCLUDED_ */
