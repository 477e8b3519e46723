/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: OX's command-line tools (ox/) and the step interface
 * over them or SQL (jobs/ngx_http_oxmigrate_admin_steps.c).
 * Included by ngx_http_oxmigrate_admin.h where these declarations stood.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_OX_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_OX_H_INCLUDED_


/* ngx_http_oxmigrate_admin_ox.c: the OX command-line tools */

typedef struct ngx_http_oxmigrate_ox_call_s  ngx_http_oxmigrate_ox_call_t;

/* called every tick_ms while the tool runs; NGX_ABORT kills it */
typedef ngx_int_t (*ngx_http_oxmigrate_ox_tick_pt)(
    ngx_http_oxmigrate_ox_call_t *call);

struct ngx_http_oxmigrate_ox_call_s {
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;
    ngx_pool_t                           *pool;
    ngx_log_t                            *log;
    const char                           *tool;     /* "disableschema" */
    ngx_uint_t                            cluster;  /* OX_OLD, OX_NEW */
    ngx_uint_t                            creds;    /* -A user, password */
    ngx_uint_t                            quick;    /* the short timeout */
    const char                           *mode;     /* "-g", NULL: none */
    const char                           *args[9];  /* flag, value, NULL */

    ngx_http_oxmigrate_ox_tick_pt         tick;
    ngx_msec_t                            tick_ms;
    void                                 *data;
    const char                           *abort_reason;

    /* what it did */
    char                                **argv;     /* password masked */
    int                                   exit_code;  /* -1: none */
    int                                   signo;
    ngx_msec_t                            elapsed;
    ngx_str_t                             out;      /* NUL-terminated */
    ngx_str_t                             err;
    char                                  error[512];

    unsigned                              timed_out:1;
    unsigned                              aborted:1;
    unsigned                              not_started:1;
    unsigned                              truncated:1;
};

char *ngx_http_oxmigrate_admin_ox_tools(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/*
 * The configdb the admin API reads and writes: oxmigrate_admin_db, else
 * the router's oxmigrate_db.
 */
static ngx_inline ngx_http_oxmigrate_db_conf_t *
ngx_http_oxmigrate_admin_dcf(ngx_http_oxmigrate_main_conf_t *omcf)
{
    return omcf->admin_db ? omcf->admin_db : omcf->db;
}

/* oxmigrate_health_url URL (ngx_http_oxmigrate_admin_jobcheck.c) */
char *ngx_http_oxmigrate_admin_health_url(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* NULL: url is one the location allows; else why not (a 400's text) */
const char *ngx_http_oxmigrate_admin_health_allowed(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, const char *url);
char *ngx_http_oxmigrate_admin_ox_credentials(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_oxmigrate_admin_ox_timeout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_oxmigrate_admin_ox_merge(ngx_conf_t *cf,
    ngx_http_oxmigrate_admin_loc_conf_t *prev,
    ngx_http_oxmigrate_admin_loc_conf_t *conf);
void ngx_http_oxmigrate_admin_ox_init_process(ngx_cycle_t *cycle);
/* a name that may become an argument: [A-Za-z0-9_.:@%+=,/-], no "-" first */
ngx_uint_t ngx_http_oxmigrate_admin_ox_safe(const u_char *s, size_t len);
void ngx_http_oxmigrate_admin_ox_init(ngx_http_oxmigrate_ox_call_t *call,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, const char *tool, ngx_uint_t cluster);
/* thread: NGX_OK exit 0, NGX_DECLINED failed, NGX_ERROR not run/killed */
ngx_int_t ngx_http_oxmigrate_admin_ox_run(ngx_http_oxmigrate_ox_call_t *call);
u_char *ngx_http_oxmigrate_admin_ox_said(ngx_str_t *out, size_t *len);
void ngx_http_oxmigrate_admin_ox_json(yajl_gen g,
    ngx_http_oxmigrate_ox_call_t *call);
void ngx_http_oxmigrate_admin_ox_fail(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_ox_call_t *call);


/* ngx_http_oxmigrate_admin_steps.c: OX tools or SQL (thread) */

typedef struct ngx_http_oxmigrate_steps_s  ngx_http_oxmigrate_steps_t;

typedef struct {
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;
    ngx_pool_t                           *pool;
    ngx_log_t                            *log;
    MYSQL                                *m;        /* configdb */
    const char                           *schema;
    ngx_http_oxmigrate_steps_t           *steps;
    ngx_http_oxmigrate_ox_call_t         *call;     /* the last tool run */
    ngx_http_oxmigrate_schema_res_t       res;
    ngx_int_t                             rc;       /* registerserver:
                                                       NGX_DECLINED taken */
    const char                           *reason;   /* why a step failed */
    ngx_uint_t                            ox_failed;
    const char                           *cache;    /* invalidation */
    char                                  cache_why[160];
    ngx_uint_t                            job;      /* a job's: no counts,
                                                       res.changed unread */
} ngx_http_oxmigrate_step_t;

struct ngx_http_oxmigrate_steps_s {
    const char                 *name;       /* "ox tools", "sql" */
    /* NGX_OK, NGX_DECLINED (refused) or NGX_ERROR; st->reason: why */
    ngx_int_t                 (*disable)(ngx_http_oxmigrate_step_t *st);
    ngx_int_t                 (*enable)(ngx_http_oxmigrate_step_t *st);
    ngx_int_t                 (*changeserver)(ngx_http_oxmigrate_step_t *st,
                                   uint64_t server_id);
    ngx_int_t                 (*update)(ngx_http_oxmigrate_step_t *st,
                                   ngx_http_oxmigrate_update_t *u);
    int64_t                   (*registerserver)(ngx_http_oxmigrate_step_t *st,
                                   const char *name);
};

ngx_http_oxmigrate_ox_call_t *ngx_http_oxmigrate_admin_ox_call(
    ngx_http_oxmigrate_step_t *st, const char *tool, ngx_uint_t cluster);
/* oxupdate.c: runupdate, and the schema's state after it */
ngx_int_t ngx_http_oxmigrate_admin_ox_update(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_update_t *u);
ngx_int_t ngx_http_oxmigrate_admin_ox_pending(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, const char *schema, ngx_array_t *pending,
    ngx_http_oxmigrate_ox_excluded_t **cache, char *err, size_t err_len);
void ngx_http_oxmigrate_admin_ox_excluded_free(
    ngx_http_oxmigrate_ox_excluded_t *x);
const char *ngx_http_oxmigrate_admin_ox_pending_mode(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf);
ngx_uint_t ngx_http_oxmigrate_admin_ox_word(u_char **p, u_char *end,
    u_char **w, u_char **eol);
void ngx_http_oxmigrate_admin_ox_name(ngx_array_t *a, ngx_pool_t *pool,
    u_char *s, size_t len);
const char *ngx_http_oxmigrate_admin_caches(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf);

/* answer_configdb.c: "ox_caches" and "ox" of a step */
void ngx_http_oxmigrate_admin_step_json(yajl_gen g,
    ngx_http_oxmigrate_step_t *st);
ngx_http_oxmigrate_steps_t *ngx_http_oxmigrate_admin_steps(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf);
void ngx_http_oxmigrate_admin_step_init(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, MYSQL *m, const char *schema);


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_OX_H_INCLUDED_ */
