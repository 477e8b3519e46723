
/*
 * STUB: to be replaced by the hiredis async client.
 */


#include "ngx_http_oxmigrate.h"


ngx_int_t
ngx_http_oxmigrate_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_redis_conf_t *rcf)
{
    return NGX_OK;
}


void
ngx_http_oxmigrate_redis_exit_worker(ngx_cycle_t *cycle)
{
}


ngx_uint_t
ngx_http_oxmigrate_redis_epoch(void)
{
    return 0;
}


ngx_int_t
ngx_http_oxmigrate_redis_get(ngx_str_t *key, ngx_uint_t epoch,
    ngx_http_oxmigrate_redis_get_pt handler, void *data)
{
    return NGX_DECLINED;
}


void
ngx_http_oxmigrate_redis_set(ngx_str_t *key, ngx_uint_t epoch,
    ngx_str_t *value, time_t ttl)
{
}
