/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, jobs: a job's row in configdb as the job services
 * and the driver read it: its integer columns, its shown state, and when
 * its driver counts as gone.
 */


#include "ngx_http_oxmigrate_admin_job.h"


/*
 * A driver refreshes its job's heartbeat at least every
 * oxmigrate_update_lock_refresh: a heartbeat before this time (ms) is
 * stale, its driver is gone.  The SQL of the job endpoints compares with
 * it as NGX_HTTP_OXMIGRATE_JOB_DEAD (store_jobs.c) does.
 */

int64_t
ngx_http_oxmigrate_admin_job_stale(ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    return ngx_http_oxmigrate_admin_now_ms() - (int64_t) alcf->lock_idle;
}


/* the state GET /jobs shows: a "running" job without a driver is not */

const char *
ngx_http_oxmigrate_admin_job_shown(const char *state, ngx_uint_t dead)
{
    return (dead && ngx_strcmp(state, "running") == 0) ? "interrupted"
                                                       : state;
}


/* running, paused or interrupted: not over, so it can still be steered */

ngx_uint_t
ngx_http_oxmigrate_admin_job_unfinished(const char *state)
{
    return ngx_strcmp(state, "running") == 0
           || ngx_strcmp(state, "paused") == 0
           || ngx_strcmp(state, "interrupted") == 0;
}


/* an integer column of a row; dflt for SQL NULL */

off_t
ngx_http_oxmigrate_admin_job_col(const char *v, off_t dflt)
{
    return v ? ngx_atoof((u_char *) v, ngx_strlen(v)) : dflt;
}
