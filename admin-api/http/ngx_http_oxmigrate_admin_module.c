/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin REST API: the nginx module: its directives, its
 * configuration merged, the access and content handlers installed, the
 * workers' start and end.  A call itself: http/..._request.c.
 */


#include "ngx_http_oxmigrate_admin.h"



char *ngx_http_oxmigrate_admin_tasks_dir(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
char *ngx_http_oxmigrate_admin_excluded_file(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
void *ngx_http_oxmigrate_admin_create_main_conf(ngx_conf_t *cf);
void *ngx_http_oxmigrate_admin_create_loc_conf(ngx_conf_t *cf);
char *ngx_http_oxmigrate_admin_merge_loc_conf(ngx_conf_t *cf,
    void *parent, void *child);
static char *ngx_http_oxmigrate_admin_merge(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_oxmigrate_admin_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_oxmigrate_admin_access(ngx_http_request_t *r);
static ngx_int_t ngx_http_oxmigrate_admin_init_process(ngx_cycle_t *cycle);
static void ngx_http_oxmigrate_admin_exit_process(ngx_cycle_t *cycle);




static ngx_command_t  ngx_http_oxmigrate_admin_commands[] = {

    { ngx_string("oxmigrate_admin"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, enable),
      NULL },

    { ngx_string("oxmigrate_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, thread_pool_name),
      NULL },

    { ngx_string("oxmigrate_job_thread_pool"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, job_pool_name),
      NULL },

    { ngx_string("oxmigrate_admin_max_body"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, max_body),
      NULL },

    { ngx_string("oxmigrate_update_tasks"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oxmigrate_admin_tasks_dir,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_excluded_update_tasks"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oxmigrate_admin_excluded_file,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_excluded_namespaces"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_names_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, excluded_ns),
      NULL },

    { ngx_string("oxmigrate_update_lock_refresh"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, lock_refresh),
      NULL },

    { ngx_string("oxmigrate_update_lock_idle"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, lock_idle),
      NULL },

    { ngx_string("oxmigrate_update_lock_watch"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, lock_watch),
      NULL },

    { ngx_string("oxmigrate_job_utc_offset"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oxmigrate_admin_job_utc_offset,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, job_utc_offset),
      NULL },

    { ngx_string("oxmigrate_job_clock"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_admin_loc_conf_t, job_clock),
      NULL },

    { ngx_string("oxmigrate_health_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oxmigrate_admin_health_url,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_ox_tools"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_oxmigrate_admin_ox_tools,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_ox_credentials"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_oxmigrate_admin_ox_credentials,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_ox_tools_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_oxmigrate_admin_ox_timeout,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_oxmigrate_admin_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_oxmigrate_admin_init,         /* postconfiguration */

    ngx_http_oxmigrate_admin_create_main_conf, /* create main conf */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_oxmigrate_admin_create_loc_conf,  /* create location conf */
    ngx_http_oxmigrate_admin_merge             /* merge location conf */
};


ngx_module_t  ngx_http_oxmigrate_admin_module = {
    NGX_MODULE_V1,
    &ngx_http_oxmigrate_admin_module_ctx,  /* module context */
    ngx_http_oxmigrate_admin_commands,     /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_oxmigrate_admin_init_process, /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_oxmigrate_admin_exit_process, /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the directives merged (http/..._conf.c), an API location answers here */

static char *
ngx_http_oxmigrate_admin_merge(ngx_conf_t *cf, void *parent, void *child)
{
    char                                 *rv;
    ngx_http_core_loc_conf_t             *clcf;
    ngx_http_oxmigrate_admin_loc_conf_t  *conf = child;

    rv = ngx_http_oxmigrate_admin_merge_loc_conf(cf, parent, child);

    if (rv == NGX_CONF_OK && conf->enable) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
        clcf->handler = ngx_http_oxmigrate_admin_handler;
    }

    return rv;
}


static ngx_int_t
ngx_http_oxmigrate_admin_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    ngx_http_oxmigrate_admin_next_body_filter = ngx_http_top_request_body_filter;
    ngx_http_top_request_body_filter = ngx_http_oxmigrate_admin_body_filter;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_oxmigrate_admin_access;

    return NGX_OK;
}


/*
 * The content handler trusts r->headers_in.user only because auth_basic
 * checked it.  But nginx also fills it, unchecked, from the Authorization
 * header whenever $remote_user is evaluated (an "if", "set" or "map" in a
 * rewrite phase, a limit_req key): in a location that lost its auth_basic
 * lines any password would do.  Access handlers run in the reverse order
 * of their registration, and a dynamic module registers after nginx's own,
 * so this runs before auth_basic: it forgets what was parsed so far, and
 * only auth_basic's own check can set the user again.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_access(ngx_http_request_t *r)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_admin_module);

    if (alcf->enable && r == r->main) {
        ngx_str_null(&r->headers_in.user);
        ngx_str_null(&r->headers_in.passwd);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_oxmigrate_admin_init_process(ngx_cycle_t *cycle)
{
    ngx_http_oxmigrate_main_conf_t        *omcf;
    ngx_http_oxmigrate_admin_main_conf_t  *amcf;

    /* not thread-safe; must run before any thread calls mysql_init() */
    if (mysql_library_init(0, NULL, NULL) != 0) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "oxmigrate admin: mysql_library_init() failed");
        return NGX_ERROR;
    }

    ngx_http_oxmigrate_admin_ox_init_process(cycle);

    ngx_http_oxmigrate_metrics_admin_names(
                                      ngx_http_oxmigrate_admin_route_name);

    /* oxmigrate_maintenance_reason of this configuration, for the SQL */
    omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_oxmigrate_module);
    if (omcf) {
        ngx_http_oxmigrate_admin_reason = omcf->maintenance_reason;
    }

    amcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_oxmigrate_admin_module);

    return ngx_http_oxmigrate_admin_lockwatch_init_process(cycle,
                                                amcf ? amcf->watch : NULL);
}


static void
ngx_http_oxmigrate_admin_exit_process(ngx_cycle_t *cycle)
{
    /*
     * The thread pools (a core module) and the login router (before us in
     * "config") have exited already: their threads are joined and their
     * connections closed, so no connector call runs any more.  Frees what
     * mysql_library_init() set up.
     */
    mysql_library_end();
}
