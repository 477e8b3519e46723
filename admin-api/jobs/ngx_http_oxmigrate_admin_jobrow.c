
/*
 * oxmigrate admin API: a job's row in configdb as the job endpoints read
 * it (GET /jobs, resume, steering, GET /schemas/{s}): the job of the
 * path, its integer columns, and when its driver counts as gone.
 */


#include "ngx_http_oxmigrate_admin_job.h"


/* the {id} of jobs/{id}; NGX_ERROR: not a number, answered 404 */

ngx_int_t
ngx_http_oxmigrate_admin_job_id(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_int_t  id;

    id = ngx_atoi((u_char *) op->args.path[0], ngx_strlen(op->args.path[0]));
    if (id == NGX_ERROR) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_job",
                                       "job '%s' not found", op->args.path[0]);
    }

    return id;
}


/*
 * The row of job id in the result of a handler's SELECT on configdb
 * (NULL: it failed, answered 503 or 500).  NULL: answered, also 404
 * unknown_job when there is no row (res freed).
 */

MYSQL_ROW
ngx_http_oxmigrate_admin_job_fetch(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL_RES *res, ngx_int_t id)
{
    MYSQL_ROW  row;

    if (res == NULL) {
        return NULL;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_job",
                                       "job %i not found", id);
    }

    return row;
}


/*
 * A driver refreshes its job's heartbeat at least every
 * oxmigrate_update_lock_refresh: a heartbeat before this time (ms) is
 * stale, its driver is gone.  The SQL of the job endpoints compares with
 * it as NGX_HTTP_OXMIGRATE_JOB_DEAD does.
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


/* "key": a string column of a row, null for SQL NULL */

void
ngx_http_oxmigrate_admin_job_json_str(yajl_gen g, const char *key,
    const char *v)
{
    ngx_http_oxmigrate_admin_json_str(g, key);
    ngx_http_oxmigrate_admin_json_str(g, v);
}


/* "key": an integer column of a row, null for SQL NULL */

void
ngx_http_oxmigrate_admin_job_json_int(yajl_gen g, const char *key,
    const char *v)
{
    ngx_http_oxmigrate_admin_json_str(g, key);

    if (v) {
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) v,
                                                      ngx_strlen(v)));
    } else {
        yajl_gen_null(g);
    }
}
