
/*
 * STUB: the admin REST API module (issue 3).
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_http_module_t  ngx_http_oxmigrate_admin_module_ctx = {
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};


ngx_module_t  ngx_http_oxmigrate_admin_module = {
    NGX_MODULE_V1,
    &ngx_http_oxmigrate_admin_module_ctx,
    NULL,
    NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL,
    NGX_MODULE_V1_PADDING
};
