/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, jobs: making a job for its driver
 * (jobs/ngx_http_oxmigrate_admin_jobmake.c).  Thread pool.
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_JOBMAKE_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_JOBMAKE_H_INCLUDED_


#include "ngx_http_oxmigrate_admin_store_jobs.h"


/* a job of kind in its own pool (not started), with its driver's claim */
ngx_http_oxmigrate_job_t *ngx_http_oxmigrate_admin_job_make(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_uint_t kind, uint64_t id);
/* what a job's row says of it: the request's options, PATCHed values */
void ngx_http_oxmigrate_admin_job_restore(ngx_http_oxmigrate_job_t *job,
    ngx_http_oxmigrate_job_stored_t *row);


#endif
