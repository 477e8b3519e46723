
/*
 * oxmigrate admin API: forceupdatetask through OX's own tools, on a node
 * of the new cluster (POST /schemas/{s}/updatetasks/{t}/force, POST
 * /updatetasks/{t}/force).  Whether the task succeeded is the row OX
 * wrote into the schema's updateTask.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/* the newest updateTask row of a task in a schema: 1, 0, -1 (none) */

static ngx_int_t
ngx_http_oxmigrate_admin_oxt_result(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *sm, const char *schema, const char *task, int64_t since)
{
    ngx_int_t   rc;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(sm, op->conn.pool,
              "SELECT successful FROM %I.updateTask WHERE cid = 0"
              " AND taskName = %s AND lastModified >= %D"
              " ORDER BY lastModified DESC LIMIT 1", schema, task, since);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    rc = (row && row[0]) ? (row[0][0] == '1') : -1;
    mysql_free_result(res);

    return rc;
}


static void
ngx_http_oxmigrate_admin_oxt_success(yajl_gen g, ngx_int_t rc)
{
    ngx_http_oxmigrate_admin_json_str(g, "successful");
    ngx_http_oxmigrate_admin_json_bool(g, rc == 1);
    ngx_http_oxmigrate_admin_json_str(g, "error");
    ngx_http_oxmigrate_admin_json_str(g, rc == 1 ? NULL
                                      : rc == 0 ? "the task failed, see OX's "
                                                  "log"
                                      : "the task did not run");
}


/*
 * forceupdatetask [-n S] -t T (its JMX credentials -l/-s are optional and
 * not passed).  Returns the time the rows OX writes for it are newer than:
 * just before it runs, less a second of clock skew.
 */

static int64_t
ngx_http_oxmigrate_admin_oxt_force(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_ox_call_t *call, const char *schema, const char *task)
{
    ngx_uint_t  i;

    ngx_http_oxmigrate_admin_ox_init(call, op->conn.alcf, op->conn.pool, op->conn.log,
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

    return ngx_http_oxmigrate_admin_now_ms() - 1000;
}


/*
 * POST /schemas/{s}/updatetasks/{t}/force: forceupdatetask -n S -t T.
 * Whether the task succeeded is the row OX wrote into the schema's
 * updateTask.
 */

void
ngx_http_oxmigrate_admin_ox_task_force(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h)
{
    char                          err[256];
    MYSQL                        *sm;
    int64_t                       since;
    yajl_gen                      g;
    ngx_int_t                     rc;
    ngx_http_oxmigrate_ox_call_t  call;

    if (ngx_http_oxmigrate_admin_oxt_safe(op, "update task", op->args.path[1])
        != NGX_OK)
    {
        return;
    }

    since = ngx_http_oxmigrate_admin_oxt_force(op, &call, op->args.path[0],
                                               op->args.path[1]);

    if (ngx_http_oxmigrate_admin_oxt_run(op, &call) != NGX_OK) {
        return;
    }

    if (ngx_strstr(call.out.data, "Update conflict detected")
        || ngx_strstr(call.err.data, "Update conflict detected"))
    {
        ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT,
                           "UPD-0003", "Update conflict detected. Another "
                           "process is currently updating schema %s.",
                           op->args.path[0]);
        if (op->gen) {
            ngx_http_oxmigrate_admin_ox_json(op->gen, &call);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        return;
    }

    rc = -1;
    sm = ngx_http_oxmigrate_admin_connect(h, NULL, 0, err, sizeof(err));

    if (sm) {
        rc = ngx_http_oxmigrate_admin_oxt_result(op, sm, op->args.path[0],
                                                 op->args.path[1], since);
        mysql_close(sm);
    }

    g = ngx_http_oxmigrate_admin_reply_schema(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "task");
    ngx_http_oxmigrate_admin_json_str(g, op->args.path[1]);
    ngx_http_oxmigrate_admin_oxt_success(g, rc);
    ngx_http_oxmigrate_admin_ox_json(g, &call);
    yajl_gen_map_close(g);
}


/* what OX wrote into each schema: one connection per database */

static void
ngx_http_oxmigrate_admin_oxt_forced(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, ngx_http_oxmigrate_pool_walk_t *pw, const char *schema,
    void *data)
{
    int64_t  *since = data;

    ngx_http_oxmigrate_admin_oxt_success(g, pw->sm
             ? ngx_http_oxmigrate_admin_oxt_result(op, pw->sm, schema,
                                                   op->args.path[0], *since)
             : -1);
}


/* POST /updatetasks/{t}/force: forceupdatetask -t T (every schema) */

void
ngx_http_oxmigrate_admin_ox_task_force_all(ngx_http_oxmigrate_admin_op_t *op)
{
    int64_t                        since;
    yajl_gen                       g;
    ngx_array_t                   *all;
    ngx_http_oxmigrate_ox_call_t   call;

    if (ngx_http_oxmigrate_admin_oxt_safe(op, "update task", op->args.path[0])
        != NGX_OK)
    {
        return;
    }

    all = ngx_http_oxmigrate_admin_op_schemas(op, 0);
    if (all == NULL) {
        return;
    }

    since = ngx_http_oxmigrate_admin_oxt_force(op, &call, NULL, op->args.path[0]);

    if (ngx_http_oxmigrate_admin_oxt_run(op, &call) != NGX_OK) {
        return;
    }

    g = ngx_http_oxmigrate_admin_force_all_json(op, all, 1,
                                       ngx_http_oxmigrate_admin_oxt_forced,
                                       &since);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_ox_json(g, &call);
    yajl_gen_map_close(g);
}
