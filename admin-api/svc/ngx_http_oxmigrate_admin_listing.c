
/*
 * oxmigrate admin API: the listings of configdb: GET /schemas
 * (listdatabaseschema, with each schema's update state) and GET /audit.
 * Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/* a row of GET /schemas; ref first, so that it sorts as a schema_ref */
typedef struct {
    ngx_http_oxmigrate_schema_ref_t   ref;
    uint64_t                          enabled;
    uint64_t                          maintenance;
    char                             *server_ids;   /* "1,8" */
    char                             *host;
    const char                       *status;
} ngx_http_oxmigrate_schema_row_t;


/* GET /schemas' words, in the order of ngx_http_oxmigrate_update_state_e */
static const char  *ngx_http_oxmigrate_admin_schema_status[] = {
    "ok", "needs update", "blocked", "stale"
};


/* the schemas with contexts, by context_server2db_pool */
#define NGX_HTTP_OXMIGRATE_SCHEMAS_SQL                                        \
    "SELECT p.db_schema, p.write_db_pool_id, COUNT(*),"                       \
    " SUM(c.enabled = 1),"                                                    \
    " SUM(c.enabled = 0 AND c.reason_id = %U),"                               \
    " GROUP_CONCAT(DISTINCT p.server_id ORDER BY p.server_id)"                \
    " FROM context_server2db_pool p JOIN context c ON c.cid = p.cid"          \
    " GROUP BY p.db_schema, p.write_db_pool_id"


/*
 * configdb's schemas with their contexts, in the documented order;
 * NGX_ERROR: answered, or out of memory
 */

static ngx_int_t
ngx_http_oxmigrate_admin_schemas_read(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_array_t *rows)
{
    MYSQL_ROW                         row;
    MYSQL_RES                        *res;
    unsigned long                    *lens;
    ngx_http_oxmigrate_schema_row_t  *s;

    /* with contexts, and those without (contexts_per_dbschema) */
    res = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
        NGX_HTTP_OXMIGRATE_SCHEMAS_SQL
        " UNION ALL"
        " SELECT s.schemaname, s.db_pool_id, 0, 0, 0, ''"
        " FROM contexts_per_dbschema s WHERE NOT EXISTS"
        " (SELECT 1 FROM context_server2db_pool q"
        " WHERE q.db_schema = s.schemaname)",
        (uint64_t) ngx_http_oxmigrate_admin_reason);

    if (res == NULL && mysql_errno(m) == 1146) {
        /* a configdb without contexts_per_dbschema */
        res = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
                  NGX_HTTP_OXMIGRATE_SCHEMAS_SQL,
                  (uint64_t) ngx_http_oxmigrate_admin_reason);
    }

    if (res == NULL) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NGX_ERROR;
    }

    if (ngx_array_init(rows, op->conn.pool, 64,
                       sizeof(ngx_http_oxmigrate_schema_row_t))
        != NGX_OK)
    {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        lens = mysql_fetch_lengths(res);

        s = ngx_array_push(rows);
        if (s == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        s->ref.name = ngx_http_oxmigrate_admin_strndup(op->conn.pool, row[0],
                                                       lens[0]);
        s->ref.pool_id = row[1] ? ngx_atoof((u_char *) row[1], lens[1]) : 0;
        s->ref.contexts = ngx_atoof((u_char *) row[2], lens[2]);
        s->ref.not_on = 0;
        s->enabled = row[3] ? ngx_atoof((u_char *) row[3],
                                        ngx_strlen(row[3])) : 0;
        s->maintenance = row[4] ? ngx_atoof((u_char *) row[4],
                                            ngx_strlen(row[4])) : 0;
        s->server_ids = ngx_http_oxmigrate_admin_strndup(op->conn.pool, row[5],
                                                         lens[5]);
        s->host = NULL;
        s->status = "unknown";
    }

    mysql_free_result(res);

    qsort(rows->elts, rows->nelts, sizeof(ngx_http_oxmigrate_schema_row_t),
          ngx_http_oxmigrate_admin_schema_order);

    return NGX_OK;
}


/* the update state: one connection per database (pool), not schema */

static void
ngx_http_oxmigrate_admin_schemas_state(ngx_http_oxmigrate_admin_op_t *op,
    ngx_array_t *rows)
{
    char                              *host;
    int64_t                            now;
    ngx_uint_t                         i;
    ngx_http_oxmigrate_pool_walk_t     pw;
    ngx_http_oxmigrate_schema_row_t   *s;
    ngx_http_oxmigrate_schema_state_t  st;

    now = ngx_http_oxmigrate_admin_now_ms();
    ngx_http_oxmigrate_admin_pool_walk_init(&pw, &op->conn, 1, 1);
    host = NULL;
    s = rows->elts;

    for (i = 0; i < rows->nelts; i++) {
        if (ngx_http_oxmigrate_admin_pool_walk(&pw, s[i].ref.pool_id)) {
            host = pw.known ? ngx_http_oxmigrate_admin_host_port(op->conn.pool,
                                                                 &pw.h)
                            : NULL;
        }

        s[i].host = host;

        if (pw.sm == NULL
            || ngx_http_oxmigrate_admin_schema_state(op->conn.alcf, pw.sm,
                                                     op->conn.pool, s[i].ref.name,
                                                     &st)
               != NGX_OK)
        {
            continue;
        }

        s[i].status = ngx_http_oxmigrate_admin_schema_status[
                          ngx_http_oxmigrate_admin_update_state(op->conn.alcf,
                                                                &st, now)];
    }

    ngx_http_oxmigrate_admin_pool_walk_done(&pw);
}


/* GET /schemas (listdatabaseschema, with state) */

void
ngx_http_oxmigrate_admin_schemas_list(ngx_http_oxmigrate_admin_op_t *op)
{
    char                             *p;
    MYSQL                            *m;
    yajl_gen                          g;
    ngx_uint_t                        i;
    ngx_array_t                       rows;
    ngx_http_oxmigrate_schema_row_t  *s;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL
        || ngx_http_oxmigrate_admin_schemas_read(op, m, &rows) != NGX_OK)
    {
        return;
    }

    ngx_http_oxmigrate_admin_schemas_state(op, &rows);
    s = rows.elts;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);

    for (i = 0; i < rows.nelts; i++) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, s[i].ref.name);
        ngx_http_oxmigrate_admin_json_str(g, "db_pool_id");
        ngx_http_oxmigrate_admin_json_int(g, s[i].ref.pool_id);
        ngx_http_oxmigrate_admin_json_str(g, "host");
        ngx_http_oxmigrate_admin_json_str(g, s[i].host);
        ngx_http_oxmigrate_admin_json_str(g, "contexts");
        ngx_http_oxmigrate_admin_json_int(g, s[i].ref.contexts);
        ngx_http_oxmigrate_admin_json_str(g, "enabled");
        ngx_http_oxmigrate_admin_json_int(g, s[i].enabled);
        ngx_http_oxmigrate_admin_json_str(g, "maintenance");
        ngx_http_oxmigrate_admin_json_int(g, s[i].maintenance);
        ngx_http_oxmigrate_admin_json_str(g, "server_ids");
        yajl_gen_array_open(g);

        for (p = s[i].server_ids; p && *p; /* void */) {
            ngx_http_oxmigrate_admin_json_int(g,
                                     ngx_atoof((u_char *) p, strcspn(p, ",")));
            p += strcspn(p, ",");
            if (*p == ',') {
                p++;
            }
        }

        yajl_gen_array_close(g);
        ngx_http_oxmigrate_admin_json_str(g, "status");
        ngx_http_oxmigrate_admin_json_str(g, s[i].status);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);
}


/* GET /audit?limit=N */

void
ngx_http_oxmigrate_admin_audit_list(ngx_http_oxmigrate_admin_op_t *op)
{
    time_t      t;
    int64_t     ts;
    u_char      iso[64];
    yajl_gen    g;
    yajl_val    v;
    ngx_tm_t    tm;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_op_select(op,
              "SELECT id, ts, user, action, arguments, status, result"
              " FROM oxmigrate_audit ORDER BY id DESC LIMIT %U",
              (uint64_t) op->args.rows);
    if (res == NULL) {
        return;
    }

    g = ngx_http_oxmigrate_admin_reply_list(op, res, "audit");
    if (g == NULL) {
        return;
    }

    while ((row = mysql_fetch_row(res))) {
        ts = ngx_atoof((u_char *) row[1], ngx_strlen(row[1]));
        t = ts / 1000;
        ngx_libc_gmtime(t, &tm);
        ngx_sprintf(iso, "%4d-%02d-%02dT%02d:%02d:%02d.%03dZ%Z",
                    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    tm.tm_hour, tm.tm_min, tm.tm_sec, (int) (ts % 1000));

        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "id");
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoof((u_char *) row[0],
                                                      ngx_strlen(row[0])));
        ngx_http_oxmigrate_admin_json_str(g, "time");
        ngx_http_oxmigrate_admin_json_str(g, (char *) iso);
        ngx_http_oxmigrate_admin_json_str(g, "user");
        ngx_http_oxmigrate_admin_json_str(g, row[2]);
        ngx_http_oxmigrate_admin_json_str(g, "action");
        ngx_http_oxmigrate_admin_json_str(g, row[3]);

        ngx_http_oxmigrate_admin_json_str(g, "arguments");
        v = yajl_tree_parse(row[4], NULL, 0);
        ngx_http_oxmigrate_admin_json_tree(g, v, row[4]);
        if (v) {
            yajl_tree_free(v);
        }

        ngx_http_oxmigrate_admin_json_str(g, "status");
        ngx_http_oxmigrate_admin_json_int(g, ngx_atoi((u_char *) row[5],
                                                      ngx_strlen(row[5])));

        ngx_http_oxmigrate_admin_json_str(g, "result");
        v = yajl_tree_parse(row[6], NULL, 0);
        ngx_http_oxmigrate_admin_json_tree(g, v, row[6]);
        if (v) {
            yajl_tree_free(v);
        }

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    mysql_free_result(res);
}
