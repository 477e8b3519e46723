/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: forceupdatetask through OX's own tools, on a node
 * of the new cluster (POST /schemas/{s}/updatetasks/{t}/force, POST
 * /updatetasks/{t}/force).  Whether the task succeeded is the row OX
 * wrote into the schema's updateTask.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/*
 * forceupdatetask [-n S] -t T (its JMX credentials -l/-s are optional and
 * not passed).  *since: the time the rows OX writes for it are newer
 * than: just before it runs, less a second of clock skew.
 */

ngx_int_t
ngx_http_oxmigrate_admin_ox_force(ngx_http_oxmigrate_admin_conn_t *c,
    const char *schema, const char *task, ngx_http_oxmigrate_ox_ran_t *ox,
    int64_t *since)
{
    ngx_uint_t                     i;
    ngx_http_oxmigrate_ox_call_t  *call;

    call = ngx_palloc(c->pool, sizeof(ngx_http_oxmigrate_ox_call_t));
    if (call == NULL) {
        return NGX_ERROR;
    }

    ox->call = call;

    ngx_http_oxmigrate_admin_ox_init(call, c->alcf, c->pool, c->log,
                                     "forceupdatetask",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);
    call->quick = 0;
    i = 0;

    if (schema) {
        call->args[i++] = "-n";
        call->args[i++] = schema;
    }

    call->args[i++] = "-t";
    call->args[i] = task;

    *since = ngx_http_oxmigrate_admin_now_ms() - 1000;

    if (ngx_http_oxmigrate_admin_oxt_run(call, NULL, NULL) != NGX_OK) {
        ox->failed = 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_uint_t
ngx_http_oxmigrate_admin_ox_force_conflict(ngx_http_oxmigrate_ox_call_t *call)
{
    return ngx_strstr(call->out.data, "Update conflict detected")
           || ngx_strstr(call->err.data, "Update conflict detected");
}


/* what OX wrote into the schema's updateTask for the task */

void
ngx_http_oxmigrate_admin_ox_forced(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *sm, const char *task, int64_t since,
    ngx_http_oxmigrate_forced_t *f)
{
    ngx_int_t  rc;

    rc = sm ? ngx_http_oxmigrate_admin_store_task_result(sm, c->pool,
                                                         f->schema, task,
                                                         since)
            : -1;

    f->successful = (rc == 1);
    f->error = (rc == 1) ? NULL
               : (rc == 0) ? "the task failed, see OX's log"
               : "the task did not run";
}
