/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the location configuration (create, merge) and
 * the update-task directives.  The OX connector's directives are in
 * ngx_http_oxmigrate_admin_oxconf.c.
 */


#include "ngx_http_oxmigrate_admin.h"


char *
ngx_http_oxmigrate_admin_tasks_dir(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf = conf;

    ngx_str_t  *value;

    if (alcf->tasks != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_oxmigrate_admin_load_tasks(cf, &value[1], &alcf->tasks);
}


char *
ngx_http_oxmigrate_admin_excluded_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf = conf;

    ngx_str_t  *value;

    if (alcf->excluded_tasks != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    return ngx_http_oxmigrate_admin_load_excluded(cf, &value[1],
                                                  &alcf->excluded_tasks);
}


/*
 * oxmigrate_update_lock_watch is not inherited: one location of the
 * configuration scans (ngx_http_oxmigrate_admin_lockwatch.c), with its
 * thread pool and oxmigrate_update_lock_idle.
 */

#define NGX_HTTP_OXMIGRATE_ADMIN_SEND_CHUNK  (64 * 1024)


static char *
ngx_http_oxmigrate_admin_watch_merge(ngx_conf_t *cf,
    ngx_http_oxmigrate_admin_loc_conf_t *conf)
{
    ngx_http_oxmigrate_admin_main_conf_t  *amcf;

    if (conf->lock_watch == NGX_CONF_UNSET_MSEC || conf->lock_watch == 0) {
        conf->lock_watch = 0;
        return NGX_CONF_OK;
    }

    if (conf->lock_watch < 1000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oxmigrate_update_lock_watch must be 1s or more");
        return NGX_CONF_ERROR;
    }

    amcf = ngx_http_conf_get_module_main_conf(cf,
                                              ngx_http_oxmigrate_admin_module);

    if (amcf->watch && amcf->watch != conf) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oxmigrate_update_lock_watch\" is set in two "
                           "locations; one scan is enough");
        return NGX_CONF_ERROR;
    }

    amcf->watch = conf;

    return NGX_CONF_OK;
}


void *
ngx_http_oxmigrate_admin_create_main_conf(ngx_conf_t *cf)
{
    return ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_admin_main_conf_t));
}


void *
ngx_http_oxmigrate_admin_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_admin_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     conf->thread_pool_name = { 0, NULL };
     *     conf->thread_pool = NULL;
     */

    conf->enable = NGX_CONF_UNSET;
    conf->max_body = NGX_CONF_UNSET_SIZE;
    conf->lock_refresh = NGX_CONF_UNSET_MSEC;
    conf->lock_idle = NGX_CONF_UNSET_MSEC;
    conf->lock_watch = NGX_CONF_UNSET_MSEC;
    conf->tasks = NGX_CONF_UNSET_PTR;
    conf->excluded_tasks = NGX_CONF_UNSET_PTR;
    conf->excluded_ns = NGX_CONF_UNSET_PTR;
    conf->health_urls = NGX_CONF_UNSET_PTR;
    conf->ox[0] = NGX_CONF_UNSET_PTR;
    conf->ox[1] = NGX_CONF_UNSET_PTR;
    conf->ox_timeout = NGX_CONF_UNSET_MSEC;
    conf->ox_quick_timeout = NGX_CONF_UNSET_MSEC;
    conf->job_utc_offset = NGX_CONF_UNSET;

    return conf;
}


/*
 * The pool job steps run on (a step holds its thread for a whole update,
 * hours with real tasks), never the one that answers the API
 * (oxmigrate_thread_pool): GET /jobs/{id}, pause and cancel must not wait
 * behind them.  oxmigrate_job_thread_pool names one ("thread_pool" in the
 * main context); without it, "oxmigrate_jobs" as declared there, else
 * declared here with 64 threads (the most "parallel" allows), as if
 * nginx.conf said "thread_pool oxmigrate_jobs threads=64;".
 */

static ngx_thread_pool_t *
ngx_http_oxmigrate_admin_job_pool(ngx_conf_t *cf, ngx_str_t *name)
{
    char               *rv;
    ngx_str_t          *value, dflt;
    ngx_uint_t          i;
    ngx_array_t        *saved, args;
    ngx_module_t       *tpm;
    ngx_command_t      *cmd;
    ngx_thread_pool_t  *tp;

    if (name->len) {
        return ngx_thread_pool_add(cf, name);
    }

    ngx_str_set(&dflt, NGX_HTTP_OXMIGRATE_JOB_POOL);

    tp = ngx_thread_pool_get(cf->cycle, &dflt);
    if (tp) {
        return tp;
    }

    tpm = NULL;

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name, "ngx_thread_pool_module")
            == 0)
        {
            tpm = cf->cycle->modules[i];
            break;
        }
    }

    cmd = tpm ? tpm->commands : NULL;

    while (cmd && cmd->name.len
           && ngx_strcmp(cmd->name.data, "thread_pool") != 0)
    {
        cmd++;
    }

    if (cmd == NULL || cmd->name.len == 0
        || ngx_array_init(&args, cf->temp_pool, 3, sizeof(ngx_str_t))
           != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cannot declare the thread "
                           "pool \"%V\": name one with "
                           "\"oxmigrate_job_thread_pool\"", &dflt);
        return NULL;
    }

    value = ngx_array_push_n(&args, 3);
    if (value == NULL) {
        return NULL;
    }

    ngx_str_set(&value[0], "thread_pool");
    ngx_str_set(&value[2], "threads=64");

    /* the pool keeps the name: in the cycle's pool, not in this module */
    value[1].len = dflt.len;
    value[1].data = ngx_pstrdup(cf->pool, &dflt);
    if (value[1].data == NULL) {
        return NULL;
    }

    saved = cf->args;
    cf->args = &args;
    rv = cmd->set(cf, cmd, (void *) cf->cycle->conf_ctx[tpm->index]);
    cf->args = saved;

    if (rv != NGX_CONF_OK) {
        return NULL;
    }

    return ngx_thread_pool_get(cf->cycle, &dflt);
}


char *
ngx_http_oxmigrate_admin_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child)
{
    ngx_http_oxmigrate_admin_loc_conf_t *prev = parent;
    ngx_http_oxmigrate_admin_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t        *clcf;
    ngx_http_oxmigrate_main_conf_t  *omcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_str_value(conf->thread_pool_name, prev->thread_pool_name,
                             "");
    ngx_conf_merge_str_value(conf->job_pool_name, prev->job_pool_name, "");
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 64 * 1024);
    ngx_conf_merge_msec_value(conf->lock_refresh, prev->lock_refresh, 20000);
    ngx_conf_merge_msec_value(conf->lock_idle, prev->lock_idle, 60000);
    ngx_conf_merge_ptr_value(conf->tasks, prev->tasks, NULL);
    ngx_conf_merge_ptr_value(conf->excluded_tasks, prev->excluded_tasks,
                             NULL);
    ngx_conf_merge_ptr_value(conf->excluded_ns, prev->excluded_ns, NULL);
    ngx_conf_merge_ptr_value(conf->health_urls, prev->health_urls, NULL);
    ngx_conf_merge_value(conf->job_utc_offset, prev->job_utc_offset, 0);
    ngx_conf_merge_str_value(conf->job_clock, prev->job_clock, "");

    if (ngx_http_oxmigrate_admin_ox_merge(cf, prev, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (!conf->enable) {
        if (conf->lock_watch != NGX_CONF_UNSET_MSEC && conf->lock_watch) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"oxmigrate_update_lock_watch\" needs "
                               "\"oxmigrate_admin on\" in its location");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    if (ngx_http_oxmigrate_admin_watch_merge(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->lock_refresh >= conf->lock_idle) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "oxmigrate_update_lock_refresh must be lower "
                           "than oxmigrate_update_lock_idle");
        return NGX_CONF_ERROR;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oxmigrate_module);
    if (omcf == NULL || (omcf->db == NULL && omcf->admin_db == NULL)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oxmigrate_admin\" needs \"oxmigrate_admin_db\" "
                           "or \"oxmigrate_db\"");
        return NGX_CONF_ERROR;
    }

    omcf->admin = 1;    /* oxmigrate_metrics prints the admin metrics */

    /* "default" is nginx's own default pool: 32 threads */
    conf->thread_pool = ngx_thread_pool_add(cf,
                                 conf->thread_pool_name.len
                                 ? &conf->thread_pool_name : NULL);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    conf->job_pool = ngx_http_oxmigrate_admin_job_pool(cf,
                                                       &conf->job_pool_name);
    if (conf->job_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the content handler is the module's (http/..._module.c) */
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /*
     * The body limit is oxmigrate_admin_max_body, answered with a JSON 400:
     * nginx's own check would answer an HTML 413 before our handler runs.
     */
    clcf->client_max_body_size = 0;

    /* a body within the limit stays in memory: no temp file to read back */
    if (clcf->client_body_buffer_size < conf->max_body) {
        clcf->client_body_buffer_size = conf->max_body;
    }

    /*
     * A large answer (GET /jobs/{id} of 5000 schemas is 650 kB) goes out
     * 64 kB per turn of the event loop: nginx's write filter takes
     * sendfile_max_chunk as its limit for every send and posts the rest
     * to the next turn.  One writev() of 650 kB over loopback held the
     * worker 2-4 ms (the kernel's TCP work counts as the worker's).
     */
    if (clcf->sendfile_max_chunk == 0
        || clcf->sendfile_max_chunk > NGX_HTTP_OXMIGRATE_ADMIN_SEND_CHUNK)
    {
        clcf->sendfile_max_chunk = NGX_HTTP_OXMIGRATE_ADMIN_SEND_CHUNK;
    }

    return NGX_CONF_OK;
}
