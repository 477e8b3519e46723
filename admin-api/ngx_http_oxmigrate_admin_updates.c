
/*
 * oxmigrate admin API: the update-task endpoints (runupdate,
 * listUpdateTasks, forceupdatetask, listupdatetasknamespaces,
 * checkdatabase, unblockdatabase).  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_resolve(
    ngx_http_oxmigrate_admin_op_t *op, MYSQL *m, const char *schema,
    ngx_http_oxmigrate_dbhost_t *h);
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

    res = ngx_http_oxmigrate_admin_select(m, pool,
        "SELECT db_schema, write_db_pool_id, COUNT(*),"
        " SUM(server_id <> %U) FROM context_server2db_pool"
        " GROUP BY db_schema, write_db_pool_id"
        " UNION ALL"
        " SELECT s.schemaname, s.db_pool_id, 0, 0"
        " FROM contexts_per_dbschema s WHERE NOT EXISTS"
        " (SELECT 1 FROM context_server2db_pool q"
        " WHERE q.db_schema = s.schemaname)", server_id);

    if (res == NULL && mysql_errno(m) == 1146) {
        res = ngx_http_oxmigrate_admin_select(m, pool,
            "SELECT db_schema, write_db_pool_id, COUNT(*),"
            " SUM(server_id <> %U) FROM context_server2db_pool"
            " GROUP BY db_schema, write_db_pool_id", server_id);
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

    if (ngx_http_oxmigrate_admin_all_schemas(m, op->pool, server_id, &all)
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
    ngx_http_oxmigrate_admin_op_t *op, ngx_uint_t connect, ngx_uint_t warn)
{
    ngx_memzero(pw, sizeof(ngx_http_oxmigrate_pool_walk_t));
    pw->op = op;
    pw->pool_id = (uint64_t) -1;
    pw->connect = connect;
    pw->warn = warn;
}


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
    pw->known = (ngx_http_oxmigrate_admin_pool_host(pw->op->pool, pw->op->db,
                                                    pool_id, &pw->h,
                                                    &pw->pname)
                 == NGX_OK);

    if (!pw->known || !pw->connect) {
        return 1;
    }

    pw->sm = ngx_http_oxmigrate_admin_connect(&pw->h, NULL, 0, err,
                                              sizeof(err));
    if (pw->sm == NULL && pw->warn) {
        ngx_log_error(NGX_LOG_WARN, pw->op->log, 0,
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


/* schema -> its database host; answers 404/500 itself */

static ngx_int_t
ngx_http_oxmigrate_admin_resolve(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, const char *schema, ngx_http_oxmigrate_dbhost_t *h)
{
    char       *pname;
    uint64_t    pool_id;
    ngx_int_t   rc;

    rc = ngx_http_oxmigrate_admin_schema_pool(m, op->pool, schema, &pool_id);

    if (rc == NGX_OK) {
        rc = ngx_http_oxmigrate_admin_pool_host(op->pool, m, pool_id, h,
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


yajl_gen
ngx_http_oxmigrate_admin_reply_schema(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status)
{
    yajl_gen  g;

    g = ngx_http_oxmigrate_admin_reply(op, status);

    if (g) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "schema");
        ngx_http_oxmigrate_admin_json_str(g, op->arg[0]);
    }

    return g;
}


/* POST /schemas/{schema}/update (runupdate) */

void
ngx_http_oxmigrate_admin_schema_update(ngx_http_oxmigrate_admin_op_t *op)
{
    MYSQL                        *m;
    yajl_gen                      g;
    ngx_int_t                     rc;
    ngx_http_oxmigrate_step_t     st;
    ngx_http_oxmigrate_dbhost_t   h;
    ngx_http_oxmigrate_update_t   u;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL
        || ngx_http_oxmigrate_admin_resolve(op, m, op->arg[0], &h) != NGX_OK)
    {
        return;
    }

    ngx_memzero(&u, sizeof(ngx_http_oxmigrate_update_t));
    u.alcf = op->alcf;
    u.configdb = op->omcf->db;
    u.pool = op->pool;
    u.log = op->log;
    u.host = &h;
    u.schema = op->arg[0];

    ngx_http_oxmigrate_admin_step_init(&st, op->alcf, op->pool, op->log, m,
                                       op->arg[0]);

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

    if (rc != NGX_OK && st.ox_failed) {
        ngx_http_oxmigrate_admin_ox_fail(op, st.call);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_error_open(op,
                                       NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "update_error", "%s", u.error);
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


ngx_int_t
ngx_http_oxmigrate_admin_tasks_state(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h, ngx_http_oxmigrate_schema_state_t *st)
{
    char    err[256];
    MYSQL  *sm;

    sm = ngx_http_oxmigrate_admin_connect(h, NULL, 0, err, sizeof(err));
    if (sm == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_SERVICE_UNAVAILABLE,
                                       "database_unavailable", "%s:%ud: %s",
                                       h->host, h->port, err);
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_schema_state(op->alcf, sm, op->pool,
                                              op->arg[0], st)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_db_error(op, sm);
        mysql_close(sm);
        return NGX_ERROR;
    }

    mysql_close(sm);

    return NGX_OK;
}


void
ngx_http_oxmigrate_admin_task_json(yajl_gen g, ngx_uint_t want,
    ngx_str_t *name, ngx_str_t *ns, ngx_http_oxmigrate_executed_t *e,
    ngx_str_t *by)
{
    if (!(want & (e ? NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
                    : by ? NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED
                         : NGX_HTTP_OXMIGRATE_TASKS_PENDING)))
    {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "name");
    ngx_http_oxmigrate_admin_json_strn(g, name->data, name->len);
    ngx_http_oxmigrate_admin_json_str(g, "namespace");
    if (ns) {
        ngx_http_oxmigrate_admin_json_strn(g, ns->data, ns->len);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g, e ? "executed"
                                            : by ? "excluded" : "pending");
    ngx_http_oxmigrate_admin_json_str(g, "successful");
    if (e) {
        ngx_http_oxmigrate_admin_json_bool(g, e->successful);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "last_modified");
    if (e) {
        ngx_http_oxmigrate_admin_json_int(g, e->last_modified);
    } else {
        yajl_gen_null(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "excluded_by");
    if (by) {
        ngx_http_oxmigrate_admin_json_strn(g, by->data, by->len);
    } else {
        yajl_gen_null(g);
    }

    yajl_gen_map_close(g);
}


void
ngx_http_oxmigrate_admin_tasks_executed(yajl_gen g, ngx_uint_t want,
    ngx_http_oxmigrate_schema_state_t *st,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    ngx_str_t                       name;
    ngx_uint_t                      i;
    ngx_http_oxmigrate_executed_t  *e;

    if (!(want & NGX_HTTP_OXMIGRATE_TASKS_EXECUTED)) {
        return;
    }

    e = st->executed->elts;

    for (i = 0; i < st->executed->nelts; i++) {
        if (alcf && ngx_http_oxmigrate_admin_find_task(alcf, e[i].name)) {
            continue;
        }

        name.data = (u_char *) e[i].name;
        name.len = ngx_strlen(e[i].name);

        ngx_http_oxmigrate_admin_task_json(g, want, &name, NULL, &e[i], NULL);
    }
}


/* GET /schemas/{schema}/updatetasks?state=executed|pending|excluded|all */

void
ngx_http_oxmigrate_admin_tasks_list(ngx_http_oxmigrate_admin_op_t *op)
{
    char                              *by;
    MYSQL                             *m;
    yajl_gen                           g;
    ngx_str_t                          why;
    ngx_uint_t                         i, want;
    ngx_http_oxmigrate_task_t         *t;
    ngx_http_oxmigrate_dbhost_t        h;
    ngx_http_oxmigrate_executed_t     *e;
    ngx_http_oxmigrate_schema_state_t  st;

    want = NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
           | NGX_HTTP_OXMIGRATE_TASKS_PENDING
           | NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED;

    if (op->q_state && ngx_strcmp(op->q_state, "all") != 0) {
        want = (ngx_strcmp(op->q_state, "executed") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_EXECUTED
               : (ngx_strcmp(op->q_state, "pending") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_PENDING
               : (ngx_strcmp(op->q_state, "excluded") == 0)
               ? NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED : 0;

        if (want == 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                   "invalid_argument",
                                   "state must be executed, pending, "
                                   "excluded or all");
            return;
        }
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL
        || ngx_http_oxmigrate_admin_resolve(op, m, op->arg[0], &h) != NGX_OK)
    {
        return;
    }

    if (op->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        ngx_http_oxmigrate_admin_ox_tasks_list(op, &h, want);
        return;
    }

    if (ngx_http_oxmigrate_admin_tasks_state(op, &h, &st) != NGX_OK) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply_schema(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "tasks");
    yajl_gen_array_open(g);

    /* the configured tasks in run order, then rows of unknown tasks */

    t = op->alcf->tasks ? op->alcf->tasks->elts : NULL;

    for (i = 0; t && i < op->alcf->tasks->nelts; i++) {
        e = ngx_http_oxmigrate_admin_executed(&st, &t[i].name);
        by = e ? NULL
               : ngx_http_oxmigrate_admin_excluded(op->alcf, &t[i], op->pool);

        if (by) {
            why.data = (u_char *) by;
            why.len = ngx_strlen(by);
        }

        ngx_http_oxmigrate_admin_task_json(g, want, &t[i].name,
                                           t[i].ns.len ? &t[i].ns : NULL, e,
                                           by ? &why : NULL);
    }

    ngx_http_oxmigrate_admin_tasks_executed(g, want, &st, op->alcf);

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* run one task on one schema; answers nothing */

static ngx_int_t
ngx_http_oxmigrate_admin_force_one(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h, const char *schema,
    ngx_http_oxmigrate_task_t *task, ngx_http_oxmigrate_update_t *u)
{
    ngx_memzero(u, sizeof(ngx_http_oxmigrate_update_t));
    u->alcf = op->alcf;
    u->configdb = op->omcf->db;
    u->pool = op->pool;
    u->log = op->log;
    u->host = h;
    u->schema = schema;
    u->only = task;

    return ngx_http_oxmigrate_admin_update_run(u);
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
    MYSQL                        *m;
    yajl_gen                      g;
    ngx_int_t                     rc;
    ngx_http_oxmigrate_task_t    *task;
    ngx_http_oxmigrate_dbhost_t   h;
    ngx_http_oxmigrate_update_t   u;

    if (op->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        m = ngx_http_oxmigrate_admin_configdb(op);
        if (m && ngx_http_oxmigrate_admin_resolve(op, m, op->arg[0], &h)
                 == NGX_OK)
        {
            ngx_http_oxmigrate_admin_ox_task_force(op, &h);
        }

        return;
    }

    task = ngx_http_oxmigrate_admin_find_task(op->alcf, op->arg[1]);
    if (task == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_task",
                                       "update task '%s' not found",
                                       op->arg[1]);
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL
        || ngx_http_oxmigrate_admin_resolve(op, m, op->arg[0], &h) != NGX_OK)
    {
        return;
    }

    rc = ngx_http_oxmigrate_admin_force_one(op, &h, op->arg[0], task, &u);

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
    ngx_http_oxmigrate_admin_json_str(g, op->arg[1]);
    ngx_http_oxmigrate_admin_force_result(g, rc, &u);
    yajl_gen_map_close(g);
}


/* POST /updatetasks/{task}/force: every schema */

void
ngx_http_oxmigrate_admin_task_force_all(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                          g;
    ngx_int_t                         rc;
    ngx_uint_t                        i;
    ngx_array_t                      *all;
    ngx_http_oxmigrate_task_t        *task;
    ngx_http_oxmigrate_update_t       u;
    ngx_http_oxmigrate_pool_walk_t    pw;
    ngx_http_oxmigrate_schema_ref_t  *s;

    if (op->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
        ngx_http_oxmigrate_admin_ox_task_force_all(op);
        return;
    }

    task = ngx_http_oxmigrate_admin_find_task(op->alcf, op->arg[0]);
    if (task == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND, "unknown_task",
                                       "update task '%s' not found",
                                       op->arg[0]);
        return;
    }

    all = ngx_http_oxmigrate_admin_op_schemas(op, 0);
    if (all == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "task");
    ngx_http_oxmigrate_admin_json_str(g, op->arg[0]);
    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    /* the runner connects by itself: the database's host is enough */
    ngx_http_oxmigrate_admin_pool_walk_init(&pw, op, 0, 0);
    s = all->elts;

    for (i = 0; i < all->nelts; i++) {
        (void) ngx_http_oxmigrate_admin_pool_walk(&pw, s[i].pool_id);

        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, s[i].name);

        if (!pw.known) {
            ngx_http_oxmigrate_admin_json_str(g, "successful");
            ngx_http_oxmigrate_admin_json_bool(g, 0);
            ngx_http_oxmigrate_admin_json_str(g, "error");
            ngx_http_oxmigrate_admin_json_str(g, "unknown db_pool");

        } else {
            rc = ngx_http_oxmigrate_admin_force_one(op, &pw.h, s[i].name,
                                                    task, &u);
            ngx_http_oxmigrate_admin_force_result(g, rc, &u);
        }

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* GET /updatetasks/namespaces (listupdatetasknamespaces) */

void
ngx_http_oxmigrate_admin_namespaces(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                    g;
    ngx_uint_t                  i, j, n, seen;
    ngx_http_oxmigrate_task_t  *t, ns;

    if (op->alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]) {
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

    t = op->alcf->tasks ? op->alcf->tasks->elts : NULL;
    n = op->alcf->tasks ? op->alcf->tasks->nelts : 0;

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

        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_strn(g, t[i].ns.data, t[i].ns.len);
        ngx_http_oxmigrate_admin_json_str(g, "excluded");
        /* a nameless task of the namespace: excluded by namespace only */
        ngx_str_null(&ns.name);
        ns.ns = t[i].ns;
        ngx_http_oxmigrate_admin_json_bool(g,
                 ngx_http_oxmigrate_admin_excluded(op->alcf, &ns, op->pool)
                 != NULL);
        ngx_http_oxmigrate_admin_json_str(g, "tasks");
        yajl_gen_array_open(g);

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


