
/*
 * oxmigrate admin API: the declarations of the job endpoints (jobs, a schema after a job) (issue 18).
 * Included by ngx_http_oxmigrate_admin.h at its end.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_JOBSVC_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_JOBSVC_H_INCLUDED_


#endif
