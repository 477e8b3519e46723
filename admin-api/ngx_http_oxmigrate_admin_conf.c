
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

    /* "default" is nginx's own default pool: 32 threads */
    conf->thread_pool = ngx_thread_pool_add(cf,
                                 conf->thread_pool_name.len
                                 ? &conf->thread_pool_name : NULL);
    if (conf->thread_pool == NULL) {
        return NGX_CONF_ERROR;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_oxmigrate_admin_handler;

    /*
     * The body limit is oxmigrate_admin_max_body, answered with a JSON 400:
     * nginx's own check would answer an HTML 413 before our handler runs.
     */
    clcf->client_max_body_size = 0;

    /* a body within the limit stays in memory: no temp file to read back */
    if (clcf->client_body_buffer_size < conf->max_body) {
        clcf->client_body_buffer_size = conf->max_body;
    }

    return NGX_CONF_OK;
}
