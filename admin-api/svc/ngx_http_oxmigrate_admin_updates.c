
/*
 * oxmigrate admin API: the update endpoints (runupdate, forceupdatetask,
 * listupdatetasknamespaces) and what the update-task endpoints share:
 * every schema in order, database by database, and a schema's database
 * host.  A schema's task list is in ngx_http_oxmigrate_admin_tasklist.c,
 * checkdatabase and unblockdatabase in ngx_http_oxmigrate_admin_check.c.
 * Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


static void ngx_http_oxmigrate_admin_names(yajl_gen g, const char *key,
    ngx_array_t *a);


ngx_int_t
ngx_http_oxmigrate_admin_all_schemas(MYSQL *m, ngx_pool_t *pool,
    uint64_t server_id, ngx_array_t **out)
{
    MYSQL_ROW                         row;
    MYSQL_RES                        *res;
    unsigned long                    *lens;
    ngx_http_oxmigrate_schema_ref_t  *s;

    /*
     * not_on: contexts not yet upgraded onto server_id: on another server,
     * or on it but still disabled for the schema move (OX's order moves a
     * schema before its update tasks: one whose tasks failed is there)
     */
    res = ngx_http_oxmigrate_admin_select(m, pool,
        "SELECT p.db_schema, p.write_db_pool_id, COUNT(*),"
        " SUM(p.server_id <> %U OR (c.enabled = 0 AND c.reason_id = %U))"
        " FROM context_server2db_pool p JOIN context c ON c.cid = p.cid"
        " GROUP BY p.db_schema, p.write_db_pool_id"
        " UNION ALL"
        " SELECT s.schemaname, s.db_pool_id, 0, 0"
        " FROM contexts_per_dbschema s WHERE NOT EXISTS"
        " (SELECT 1 FROM context_server2db_pool q"
        " WHERE q.db_schema = s.schemaname)", server_id,
        (uint64_t) ngx_http_oxmigrate_admin_reason);

    if (res == NULL && mysql_errno(m) == 1146) {
        res = ngx_http_oxmigrate_admin_select(m, pool,
            "SELECT p.db_schema, p.write_db_pool_id, COUNT(*),"
            " SUM(p.server_id <> %U OR (c.enabled = 0 AND c.reason_id = %U))"
            " FROM context_server2db_pool p JOIN context c ON c.cid = p.cid"
            " GROUP BY p.db_schema, p.write_db_pool_id", server_id,
            (uint64_t) ngx_http_oxmigrate_admin_reason);
    }

    if (res == NULL) {
        return NGX_ERROR;
    }

    *out = ngx_array_create(pool, mysql_num_rows(res) + 1,
                            sizeof(ngx_http_oxmigrate_schema_ref_t));
    if (*out == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        lens = mysql_fetch_lengths(res);

        s = ngx_array_push(*out);
        if (s == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        s->name = ngx_http_oxmigrate_admin_strndup(pool, row[0], lens[0]);
        if (s->name == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        s->pool_id = row[1] ? ngx_atoof((u_char *) row[1], lens[1]) : 0;
        s->contexts = ngx_atoof((u_char *) row[2], lens[2]);
        s->not_on = row[3] ? ngx_atoof((u_char *) row[3], lens[3]) : 0;
    }

    mysql_free_result(res);

    qsort((*out)->elts, (*out)->nelts,
          sizeof(ngx_http_oxmigrate_schema_ref_t),
          ngx_http_oxmigrate_admin_schema_order);

    return NGX_OK;
}


ngx_array_t *
ngx_http_oxmigrate_admin_op_schemas(ngx_http_oxmigrate_admin_op_t *op,
    uint64_t server_id)
{
    MYSQL        *m;
    ngx_array_t  *all;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return NULL;
    }

    if (ngx_http_oxmigrate_admin_all_schemas(m, op->conn.pool, server_id, &all)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NULL;
    }

    return all;
}


int ngx_libc_cdecl
ngx_http_oxmigrate_admin_schema_order(const void *a, const void *b)
{
    const ngx_http_oxmigrate_schema_ref_t  *x = a, *y = b;

    if (x->pool_id != y->pool_id) {
        return x->pool_id < y->pool_id ? -1 : 1;
    }

    return ngx_http_oxmigrate_admin_natcmp(x->name, y->name);
}


ngx_int_t
ngx_http_oxmigrate_admin_schema_pool(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *pool_id)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT write_db_pool_id FROM context_server2db_pool"
              " WHERE db_schema = %s AND BINARY db_schema = %s LIMIT 1",
              schema, schema);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row == NULL) {
        mysql_free_result(res);

        res = ngx_http_oxmigrate_admin_select(m, pool,
                  "SELECT db_pool_id FROM contexts_per_dbschema"
                  " WHERE schemaname = %s AND BINARY schemaname = %s"
                  " LIMIT 1", schema, schema);
        if (res == NULL) {
            return mysql_errno(m) == 1146 ? NGX_DECLINED : NGX_ERROR;
        }

        row = mysql_fetch_row(res);
        if (row == NULL) {
            mysql_free_result(res);
            return NGX_DECLINED;
        }
    }

    *pool_id = row[0] ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0])) : 0;
    mysql_free_result(res);

    return NGX_OK;
}


void
ngx_http_oxmigrate_admin_pool_walk_init(ngx_http_oxmigrate_pool_walk_t *pw,
    ngx_http_oxmigrate_admin_conn_t *c, ngx_uint_t connect, ngx_uint_t warn)
{
    ngx_memzero(pw, sizeof(ngx_http_oxmigrate_pool_walk_t));
    pw->conn = c;
    pw->pool_id = (uint64_t) -1;
    pw->connect = connect;
    pw->warn = warn;
}


/* another database: the last one's connection is closed before the next */

ngx_uint_t
ngx_http_oxmigrate_admin_pool_walk(ngx_http_oxmigrate_pool_walk_t *pw,
    uint64_t pool_id)
{
    char  err[256];

    if (pool_id == pw->pool_id) {
        return 0;
    }

    ngx_http_oxmigrate_admin_pool_walk_done(pw);

    pw->pool_id = pool_id;
    pw->known = (ngx_http_oxmigrate_admin_pool_host(pw->conn->pool, pw->conn->db,
                                                    pool_id, &pw->h,
                                                    &pw->pname)
                 == NGX_OK);

    if (!pw->known || !pw->connect) {
        return 1;
    }

    pw->sm = ngx_http_oxmigrate_admin_connect(&pw->h, NULL, 0, err,
                                              sizeof(err));
    if (pw->sm == NULL && pw->warn) {
        ngx_log_error(NGX_LOG_WARN, pw->conn->log, 0,
                      "oxmigrate admin: database %uL: %s", pool_id, err);
    }

    return 1;
}


void
ngx_http_oxmigrate_admin_pool_walk_done(ngx_http_oxmigrate_pool_walk_t *pw)
{
    if (pw->sm) {
        mysql_close(pw->sm);
        pw->sm = NULL;
    }
}


/* the schema -> its write db_pool -> that pool's host, all on configdb */

ngx_int_t
ngx_http_oxmigrate_admin_resolve(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h)
{
    char        *pname;
    const char  *schema;
    MYSQL       *m;
    uint64_t     pool_id;
    ngx_int_t    rc;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return NGX_ERROR;
    }

    schema = op->args.path[0];
    rc = ngx_http_oxmigrate_admin_schema_pool(m, op->conn.pool, schema, &pool_id);

    if (rc == NGX_OK) {
        rc = ngx_http_oxmigrate_admin_pool_host(op->conn.pool, m, pool_id, h,
                                                &pname);

        if (rc == NGX_DECLINED) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                           "unknown_database",
                           "schema '%s' names db_pool %uL, which does not "
                           "exist", schema, pool_id);
            return NGX_ERROR;
        }
    }

    if (rc == NGX_DECLINED) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND,
                                       "unknown_schema",
                                       "schema '%s' not found", schema);
        return NGX_ERROR;
    }

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_oxmigrate_admin_names(yajl_gen g, const char *key, ngx_array_t *a)
{
    char       **s;
    ngx_uint_t   i;

    ngx_http_oxmigrate_admin_json_str(g, key);
    yajl_gen_array_open(g);

    if (a) {
        s = a->elts;
        for (i = 0; i < a->nelts; i++) {
            ngx_http_oxmigrate_admin_json_str(g, s[i]);
        }
    }

    yajl_gen_array_close(g);
}


/* the runner's work for op: the tasks of schema on h, or only task */

static void
ngx_http_oxmigrate_admin_update_init(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h, const char *schema,
    ngx_http_oxmigrate_task_t *task, ngx_http_oxmigrate_update_t *u)
{
    ngx_memzero(u, sizeof(ngx_http_oxmigrate_update_t));
    u->alcf = op->conn.alcf;
    u->configdb = ngx_http_oxmigrate_admin_dcf(op->conn.omcf);
    u->pool = op->conn.pool;
    u->log = op->conn.log;
    u->host = h;
    u->schema = schema;
    u->only = task;
}


/* a configured update task; NULL: answered 404 */

static ngx_http_oxmigrate_task_t *
ngx_http_oxmigrate_admin_known_task(ngx_http_oxmigrate_admin_op_t *op,
    const char *name)
{
    ngx_http_oxmigrate_task_t  *task;

    task = ngx_http_oxmigrate_admin_find_task(op->conn.alcf, name);

    if (task == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_task",
                                       "update task '%s' not found", name);
    }

    return task;
}


yajl_gen
ngx_http_oxmigrate_admin_reply_schema(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status)
{
    yajl_gen  g;

    g = ngx_http_oxmigrate_admin_reply(op, status);

    if (g) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "schema");
        ngx_http_oxmigrate_admin_json_str(g, op->args.path[0]);
    }

    return g;
}


/* POST /schemas/{schema}/update (runupdate) */

void
ngx_http_oxmigrate_admin_schema_update(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                      g;
    ngx_int_t                     rc;
    ngx_uint_t                    gone;
    ngx_http_oxmigrate_step_t     st;
    ngx_http_oxmigrate_dbhost_t   h;
    ngx_http_oxmigrate_update_t   u;

    if (ngx_http_oxmigrate_admin_resolve(op, &h) != NGX_OK) {
        return;
    }

    ngx_http_oxmigrate_admin_update_init(op, &h, op->args.path[0], NULL, &u);
    ngx_http_oxmigrate_admin_step_init(&st, op->conn.alcf, op->conn.pool, op->conn.log,
                                       op->conn.db, op->args.path[0]);

    rc = st.steps->update(&st, &u);

    if (rc == NGX_OK) {
        ngx_http_oxmigrate_metrics_tasks(u.executed ? u.executed->nelts : 0,
                                         u.failed ? u.failed->nelts : 0);
    }

    if (rc == NGX_BUSY) {
        ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT,
                                            "UPD-0003", "%s", u.error);
        if (op->gen) {
            ngx_http_oxmigrate_admin_step_json(op->gen, &st);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        return;
    }

    if (rc == NGX_AGAIN) {
        /* OX's update goes on inside the node, or the schema's db is gone */
        gone = u.gone || op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW] == NULL;
        ngx_http_oxmigrate_admin_error_open(op,
                                 gone ? NGX_HTTP_SERVICE_UNAVAILABLE
                                      : NGX_HTTP_GATEWAY_TIME_OUT,
                                 gone ? "db_unavailable" : "ox_update_running",
                                 "%s", u.error);
        if (op->gen) {
            ngx_http_oxmigrate_admin_step_json(op->gen, &st);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        return;
    }

    if (rc != NGX_OK && st.ox_failed) {
        ngx_http_oxmigrate_admin_ox_fail(op, st.call);
        return;
    }

    if (rc != NGX_OK) {
        /* with the tools: OX did not update it (the schema's state says) */
        ngx_http_oxmigrate_admin_error_open(op,
                               op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]
                               ? NGX_HTTP_BAD_GATEWAY
                               : NGX_HTTP_INTERNAL_SERVER_ERROR,
                               op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]
                               ? "ox_update_failed" : "update_error",
                               "%s", u.error);
        if (op->gen) {
            ngx_http_oxmigrate_admin_names(op->gen, "executed", u.executed);
            ngx_http_oxmigrate_admin_names(op->gen, "failed", u.failed);
            ngx_http_oxmigrate_admin_step_json(op->gen, &st);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply_schema(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_names(g, "executed", u.executed);
    ngx_http_oxmigrate_admin_names(g, "failed", u.failed);
    ngx_http_oxmigrate_admin_step_json(g, &st);
    yajl_gen_map_close(g);
}


static void
ngx_http_oxmigrate_admin_force_result(yajl_gen g, ngx_int_t rc,
    ngx_http_oxmigrate_update_t *u)
{
    ngx_http_oxmigrate_admin_json_str(g, "successful");
    ngx_http_oxmigrate_admin_json_bool(g, rc == NGX_OK && u->failed
                                          && u->failed->nelts == 0);
    ngx_http_oxmigrate_admin_json_str(g, "error");

    if (rc == NGX_OK && u->failed && u->failed->nelts) {
        ngx_http_oxmigrate_admin_json_str(g, "the task failed, see the "
                                             "error log");
    } else if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_json_str(g, u->error);
    } else {
        yajl_gen_null(g);
    }
}


/* POST /schemas/{schema}/updatetasks/{task}/force */

void
ngx_http_oxmigrate_admin_task_force(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                      g;
    ngx_int_t                     rc;
    ngx_http_oxmigrate_task_t    *task;
    ngx_http_oxmigrate_dbhost_t   h;
    ngx_http_oxmigrate_update_t   u;

    if (op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        if (ngx_http_oxmigrate_admin_resolve(op, &h) == NGX_OK) {
            ngx_http_oxmigrate_admin_ox_task_force(op, &h);
        }

        return;
    }

    task = ngx_http_oxmigrate_admin_known_task(op, op->args.path[1]);
    if (task == NULL
        || ngx_http_oxmigrate_admin_resolve(op, &h) != NGX_OK)
    {
        return;
    }

    ngx_http_oxmigrate_admin_update_init(op, &h, op->args.path[0], task, &u);
    rc = ngx_http_oxmigrate_admin_update_run(&u);

    if (rc == NGX_BUSY) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT, "UPD-0003",
                                       "%s", u.error);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply_schema(op,
                         rc == NGX_OK ? NGX_HTTP_OK
                                      : NGX_HTTP_INTERNAL_SERVER_ERROR);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "task");
    ngx_http_oxmigrate_admin_json_str(g, op->args.path[1]);
    ngx_http_oxmigrate_admin_force_result(g, rc, &u);
    yajl_gen_map_close(g);
}


yajl_gen
ngx_http_oxmigrate_admin_force_all_json(ngx_http_oxmigrate_admin_op_t *op,
    ngx_array_t *all, ngx_uint_t connect,
    ngx_http_oxmigrate_admin_forced_pt forced, void *data)
{
    yajl_gen                          g;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_pool_walk_t    pw;
    ngx_http_oxmigrate_schema_ref_t  *s;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "task");
    ngx_http_oxmigrate_admin_json_str(g, op->args.path[0]);
    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    ngx_http_oxmigrate_admin_pool_walk_init(&pw, &op->conn, connect, 0);
    s = all->elts;

    for (i = 0; i < all->nelts; i++) {
        (void) ngx_http_oxmigrate_admin_pool_walk(&pw, s[i].pool_id);

        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, s[i].name);
        forced(op, g, &pw, s[i].name, data);
        yajl_gen_map_close(g);
    }

    ngx_http_oxmigrate_admin_pool_walk_done(&pw);

    yajl_gen_array_close(g);

    return g;
}


/* the runner connects by itself: the database's host is enough */

static void
ngx_http_oxmigrate_admin_forced(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, ngx_http_oxmigrate_pool_walk_t *pw, const char *schema,
    void *data)
{
    ngx_int_t                    rc;
    ngx_http_oxmigrate_update_t  u;

    if (!pw->known) {
        ngx_http_oxmigrate_admin_json_str(g, "successful");
        ngx_http_oxmigrate_admin_json_bool(g, 0);
        ngx_http_oxmigrate_admin_json_str(g, "error");
        ngx_http_oxmigrate_admin_json_str(g, "unknown db_pool");
        return;
    }

    ngx_http_oxmigrate_admin_update_init(op, &pw->h, schema, data, &u);
    rc = ngx_http_oxmigrate_admin_update_run(&u);
    ngx_http_oxmigrate_admin_force_result(g, rc, &u);
}


/* POST /updatetasks/{task}/force: every schema */

void
ngx_http_oxmigrate_admin_task_force_all(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                    g;
    ngx_array_t                *all;
    ngx_http_oxmigrate_task_t  *task;

    if (op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        ngx_http_oxmigrate_admin_ox_task_force_all(op);
        return;
    }

    task = ngx_http_oxmigrate_admin_known_task(op, op->args.path[0]);
    if (task == NULL) {
        return;
    }

    all = ngx_http_oxmigrate_admin_op_schemas(op, 0);
    if (all == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_force_all_json(op, all, 0,
                                           ngx_http_oxmigrate_admin_forced,
                                           task);
    if (g) {
        yajl_gen_map_close(g);
    }
}


void
ngx_http_oxmigrate_admin_ns_open(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, ngx_str_t *ns)
{
    ngx_http_oxmigrate_task_t  t;

    /* a nameless task of the namespace: excluded by namespace only */
    ngx_str_null(&t.name);
    t.ns = *ns;

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "name");
    ngx_http_oxmigrate_admin_json_strn(g, ns->data, ns->len);
    ngx_http_oxmigrate_admin_json_str(g, "excluded");
    ngx_http_oxmigrate_admin_json_bool(g,
             ngx_http_oxmigrate_admin_excluded(op->conn.alcf, &t, op->conn.pool)
             != NULL);
    ngx_http_oxmigrate_admin_json_str(g, "tasks");
    yajl_gen_array_open(g);
}


/* GET /updatetasks/namespaces (listupdatetasknamespaces) */

void
ngx_http_oxmigrate_admin_namespaces(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                    g;
    ngx_uint_t                  i, j, n, seen;
    ngx_http_oxmigrate_task_t  *t;

    if (op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        ngx_http_oxmigrate_admin_ox_namespaces(op);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "namespaces");
    yajl_gen_array_open(g);

    t = op->conn.alcf->tasks ? op->conn.alcf->tasks->elts : NULL;
    n = op->conn.alcf->tasks ? op->conn.alcf->tasks->nelts : 0;

    for (i = 0; i < n; i++) {
        if (t[i].ns.len == 0) {
            continue;
        }

        seen = 0;
        for (j = 0; j < i; j++) {
            if (t[j].ns.len == t[i].ns.len
                && ngx_strncmp(t[j].ns.data, t[i].ns.data, t[i].ns.len) == 0)
            {
                seen = 1;
                break;
            }
        }

        if (seen) {
            continue;
        }

        ngx_http_oxmigrate_admin_ns_open(op, g, &t[i].ns);

        for (j = i; j < n; j++) {
            if (t[j].ns.len == t[i].ns.len
                && ngx_strncmp(t[j].ns.data, t[i].ns.data, t[i].ns.len) == 0)
            {
                ngx_http_oxmigrate_admin_json_strn(g, t[j].name.data,
                                                   t[j].name.len);
            }
        }

        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}

