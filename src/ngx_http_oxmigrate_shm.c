
/*
 * STUB: to be replaced by the shared-memory cache.
 */


#include "ngx_http_oxmigrate.h"


ngx_int_t
ngx_http_oxmigrate_shm_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_shm_get(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    ngx_uint_t epoch, u_char *buf, size_t *len)
{
    return NGX_DECLINED;
}


void
ngx_http_oxmigrate_shm_set(ngx_shm_zone_t *shm_zone, ngx_str_t *key,
    ngx_uint_t epoch, ngx_str_t *value, ngx_msec_t ttl)
{
}
