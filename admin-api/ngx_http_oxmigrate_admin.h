
/*
 * oxmigrate admin REST API: shared declarations of admin-api/.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_H_INCLUDED_


#include "ngx_http_oxmigrate.h"


extern ngx_module_t  ngx_http_oxmigrate_admin_module;


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_H_INCLUDED_ */
