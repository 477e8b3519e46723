
/*
 * oxmigrate admin API: the declarations of the update-task family (updates, update tasks, databases) (issue 18).
 * Included by ngx_http_oxmigrate_admin.h at its end.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_UPDATES_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_UPDATES_H_INCLUDED_


#endif
