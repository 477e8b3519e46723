/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the configdb store of the steps: servers
 * (registerserver as OX takes ids), whether a schema exists, and the SQL
 * implementation of disableschema, enableschema and changeserver (ox-facts
 * 5), every schema in order and a walk over their databases.  Knows
 * nothing about HTTP: NGX_OK, NGX_DECLINED (refused, res says
 * why) or NGX_ERROR (MariaDB's error in res); the steps map them to
 * statuses (ngx_http_oxmigrate_admin_steps.c).  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"
#include "ngx_http_oxmigrate_admin_store_steps.h"


ngx_uint_t  ngx_http_oxmigrate_admin_reason = NGX_HTTP_OXMIGRATE_SCHEMA_REASON;


/* listservers: every server, by id */

ngx_int_t
ngx_http_oxmigrate_admin_store_servers(MYSQL *m, ngx_pool_t *pool,
    ngx_array_t **servers)
{
    MYSQL_ROW                     row;
    MYSQL_RES                    *res;
    ngx_http_oxmigrate_server_t  *srv;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT server_id, name FROM server ORDER BY server_id");
    if (res == NULL) {
        return NGX_ERROR;
    }

    *servers = ngx_array_create(pool, mysql_num_rows(res) + 1,
                                sizeof(ngx_http_oxmigrate_server_t));
    if (*servers == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        srv = ngx_array_push(*servers);
        if (srv == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        srv->id = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
        srv->name = ngx_http_oxmigrate_admin_strndup(pool, row[1],
                                                     ngx_strlen(row[1]));
        if (srv->name == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_store_server_known(MYSQL *m, ngx_pool_t *pool,
    uint64_t id)
{
    ngx_int_t   rc;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT 1 FROM server WHERE server_id = %U", id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    rc = mysql_num_rows(res) ? NGX_OK : NGX_DECLINED;
    mysql_free_result(res);

    return rc;
}


int64_t
ngx_http_oxmigrate_admin_server_id(MYSQL *m, ngx_pool_t *pool,
    const char *name)
{
    int64_t     id;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT server_id FROM server WHERE name = %s", name);
    if (res == NULL) {
        return -1;
    }

    row = mysql_fetch_row(res);
    id = row ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0])) : 0;

    mysql_free_result(res);

    return id;
}

/*
 * registerserver: the id comes from configdb_sequence the way the OX
 * tools take it, so ids never collide with ones OX hands out.
 */

uint64_t
ngx_http_oxmigrate_admin_register(MYSQL *m, ngx_pool_t *pool,
    const char *name, char *msg, size_t len)
{
    int64_t     rc;
    uint64_t    id;

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "UPDATE configdb_sequence SET id = LAST_INSERT_ID(id + 1)")
        != 1)
    {
        ngx_snprintf((u_char *) msg, len - 1, "configdb_sequence: %s%Z",
                     mysql_errno(m) ? mysql_error(m) : "no row");
        return 0;
    }

    id = mysql_insert_id(m);

    rc = ngx_http_oxmigrate_admin_exec(m, pool,
             "INSERT INTO server (server_id, name, uuid)"
             " VALUES (%U, %s, UNHEX(REPLACE(UUID(), '-', '')))", id, name);

    if (rc < 0 && mysql_errno(m) == 1054) {
        /* 7.x configdb: no server.uuid column */
        rc = ngx_http_oxmigrate_admin_exec(m, pool,
                 "INSERT INTO server (server_id, name) VALUES (%U, %s)",
                 id, name);
    }

    if (rc < 0) {
        ngx_snprintf((u_char *) msg, len - 1, "%s%Z", mysql_error(m));
        return 0;
    }

    return id;
}

/*
 * 1: known schema, 0: unknown, -1: error.
 *
 * Schema names match byte for byte everywhere.  configdb's collation
 * ignores case and trailing spaces, database names on the schema's host do
 * not: "OXDATABASE_5" must not pass for oxdatabase_5 and then run update
 * tasks in some other database.  The plain "=" keeps the index on
 * db_schema, the BINARY one makes the match exact.
 */

ngx_int_t
ngx_http_oxmigrate_admin_schema_exists(MYSQL *m, ngx_pool_t *pool,
    const char *schema)
{
    ngx_int_t   rc;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT 1 FROM context_server2db_pool WHERE db_schema = %s"
              " AND BINARY db_schema = %s LIMIT 1", schema, schema);
    if (res == NULL) {
        return -1;
    }

    rc = mysql_num_rows(res) ? 1 : 0;
    mysql_free_result(res);

    if (rc) {
        return 1;
    }

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT 1 FROM contexts_per_dbschema WHERE schemaname = %s"
              " AND BINARY schemaname = %s LIMIT 1", schema, schema);
    if (res == NULL) {
        return mysql_errno(m) == 1146 ? 0 : -1;
    }

    rc = mysql_num_rows(res) ? 1 : 0;
    mysql_free_result(res);

    return rc;
}

ngx_int_t
ngx_http_oxmigrate_admin_do_disable(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_res_t *res)
{
    res->changed = ngx_http_oxmigrate_admin_exec(m, pool,
        "UPDATE context c JOIN context_server2db_pool p ON p.cid = c.cid"
        " SET c.enabled = 0, c.reason_id = %U"
        " WHERE p.db_schema = %s AND BINARY p.db_schema = %s"
        " AND c.enabled = 1", (uint64_t) ngx_http_oxmigrate_admin_reason,
        schema, schema);

    if (res->changed < 0) {
        res->db_errno = mysql_errno(m);
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1, "%s%Z",
                     mysql_error(m));
        return NGX_ERROR;
    }

    return NGX_OK;
}

/* only contexts disabled for the schema move: other reasons stay */

ngx_int_t
ngx_http_oxmigrate_admin_do_enable(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_res_t *res)
{
    res->changed = ngx_http_oxmigrate_admin_exec(m, pool,
        "UPDATE context c JOIN context_server2db_pool p ON p.cid = c.cid"
        " SET c.enabled = 1, c.reason_id = NULL"
        " WHERE p.db_schema = %s AND BINARY p.db_schema = %s"
        " AND c.enabled = 0 AND c.reason_id = %U",
        schema, schema, (uint64_t) ngx_http_oxmigrate_admin_reason);

    if (res->changed < 0) {
        res->db_errno = mysql_errno(m);
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1, "%s%Z",
                     mysql_error(m));
        return NGX_ERROR;
    }

    return NGX_OK;
}

/*
 * changeserver.  The move and the check for enabled contexts are one
 * transaction, and the move comes first: it locks the schema's
 * context_server2db_pool rows, which every enable or disable (an UPDATE
 * joined with them) must lock too, so no enable can slip in between the
 * check and the commit, and the check (a plain read after the move) sees
 * every enable committed before.  Cheaper than locking all rows with a
 * SELECT ... FOR UPDATE first; a refused move is rolled back.
 */

ngx_int_t
ngx_http_oxmigrate_admin_count_enabled(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t *total, uint64_t *enabled)
{
    MYSQL_ROW   row;
    MYSQL_RES  *rs;

    rs = ngx_http_oxmigrate_admin_select(m, pool,
             "SELECT COUNT(*), COALESCE(SUM(c.enabled = 1), 0) FROM context c"
             " JOIN context_server2db_pool p ON p.cid = c.cid"
             " WHERE p.db_schema = %s AND BINARY p.db_schema = %s",
             schema, schema);
    if (rs == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(rs);
    *total = row ? ngx_atoof((u_char *) row[0], ngx_strlen(row[0])) : 0;
    *enabled = row ? ngx_atoof((u_char *) row[1], ngx_strlen(row[1])) : 0;
    mysql_free_result(rs);

    return NGX_OK;
}

/*
 * changeserver refused: up to 10 enabled contexts, in OX's words.
 * NGX_DECLINED; NGX_ERROR when they were disabled meanwhile (the caller
 * tries again, db_errno says deadlock) or the read failed.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_refused(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t enabled, ngx_http_oxmigrate_schema_res_t *res)
{
    u_char      *p, *last;
    uint64_t    *cid;
    MYSQL_ROW    row;
    MYSQL_RES   *rs;
    ngx_uint_t   i;

    rs = ngx_http_oxmigrate_admin_select(m, pool,
             "SELECT c.cid FROM context c"
             " JOIN context_server2db_pool p ON p.cid = c.cid"
             " WHERE p.db_schema = %s AND BINARY p.db_schema = %s"
             " AND c.enabled = 1 ORDER BY c.cid LIMIT 10", schema, schema);
    if (rs == NULL) {
        res->db_errno = mysql_errno(m);
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1, "%s%Z",
                     mysql_error(m));
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(rs))) {
        cid = ngx_array_push(res->enabled);
        if (cid) {
            *cid = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
        }
    }

    mysql_free_result(rs);

    if (res->enabled->nelts == 0) {
        /* disabled meanwhile: the caller tries again */
        res->db_errno = 1213;
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1,
                     "the contexts of schema '%s' changed during the "
                     "move%Z", schema);
        return NGX_ERROR;
    }

    p = (u_char *) res->msg;
    last = p + sizeof(res->msg) - 8;

    p = ngx_slprintf(p, last, "The schema '%s' is not disabled. The "
                     "following contexts are still enabled: [", schema);

    cid = res->enabled->elts;
    for (i = 0; i < res->enabled->nelts; i++) {
        p = ngx_slprintf(p, last, "%s%uL", i ? ", " : "", cid[i]);
    }

    if (enabled > res->enabled->nelts) {
        p = ngx_slprintf(p, last, ", ... (%uL in all)", enabled);
    }

    *p++ = ']';
    *p = '\0';

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_oxmigrate_admin_do_changeserver(MYSQL *m, ngx_pool_t *pool,
    const char *schema, uint64_t server_id, ngx_uint_t look,
    ngx_http_oxmigrate_schema_res_t *res)
{
    uint64_t  total, enabled;

    res->changed = 0;
    res->enabled = ngx_array_create(pool, 8, sizeof(uint64_t));
    if (res->enabled == NULL) {
        return NGX_ERROR;
    }

    /*
     * a plain look first: a refused call should not move and roll back;
     * not for a job's step, which disabled the schema itself just before
     * (a refusal is rolled back all the same)
     */
    total = 1;
    enabled = 0;

    if (look
        && ngx_http_oxmigrate_admin_count_enabled(m, pool, schema, &total,
                                                  &enabled)
           != NGX_OK)
    {
        goto failed;
    }

    if (total && enabled == 0) {
        if (ngx_http_oxmigrate_admin_store_step_move(m, pool, schema,
                                                     server_id, &res->changed,
                                                     &total, &enabled)
            != NGX_OK)
        {
            goto failed;
        }

        if (total && enabled == 0) {
            if (mysql_commit(m) != 0) {
                goto failed;
            }

            return NGX_OK;
        }

        res->changed = 0;
        (void) mysql_query(m, "ROLLBACK");
    }

    if (total == 0) {
        res->empty = 1;
        ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1,
                     "The schema '%s' contains no contexts.%Z", schema);
        return NGX_DECLINED;
    }

    return ngx_http_oxmigrate_admin_refused(m, pool, schema, enabled, res);

failed:

    res->db_errno = mysql_errno(m);
    ngx_snprintf((u_char *) res->msg, sizeof(res->msg) - 1, "%s%Z",
                 mysql_error(m));
    (void) mysql_query(m, "ROLLBACK");

    return NGX_ERROR;
}


/*
 * GET /lookup: what the router's lookup reads for a context part (the
 * same joins); info's strings live in pool.  NGX_ERROR: see mysql_error().
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_login(MYSQL *m, ngx_pool_t *pool,
    const char *key, ngx_http_oxmigrate_info_t *info)
{
    MYSQL_ROW       row;
    MYSQL_RES      *res;
    unsigned long  *len;

    ngx_memzero(info, sizeof(ngx_http_oxmigrate_info_t));

    res = ngx_http_oxmigrate_admin_select(m, pool,
        "SELECT l.cid, c.enabled, c.reason_id, p.server_id, p.db_schema,"
        " s.name FROM login2context l"
        " JOIN context c ON c.cid = l.cid"
        " JOIN context_server2db_pool p ON p.cid = l.cid"
        " LEFT JOIN server s ON s.server_id = p.server_id"
        " WHERE l.login_info = %s LIMIT 1", key);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row) {
        len = mysql_fetch_lengths(res);

        info->found = 1;
        info->cid = ngx_atoi((u_char *) row[0], len[0]);
        info->enabled = (row[1] && row[1][0] != '0');
        info->reason_id = row[2] ? ngx_atoi((u_char *) row[2], len[2]) : 0;
        info->server_id = ngx_atoi((u_char *) row[3], len[3]);
        info->schema.len = len[4];
        info->server.len = row[5] ? len[5] : 0;
        info->server.data = ngx_pnalloc(pool, info->server.len + 1);

        if (info->server.data && row[5]) {
            ngx_memcpy(info->server.data, row[5], info->server.len);
        }

        if (info->schema.len) {
            info->schema.data = ngx_pnalloc(pool, len[4]);
            if (info->schema.data) {
                ngx_memcpy(info->schema.data, row[4], len[4]);
            }
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}


/* the schemas with contexts, by context_server2db_pool */
#define NGX_HTTP_OXMIGRATE_SCHEMAS_SQL                                        \
    "SELECT p.db_schema, p.write_db_pool_id, COUNT(*),"                       \
    " SUM(c.enabled = 1),"                                                    \
    " SUM(c.enabled = 0 AND c.reason_id = %U),"                               \
    " GROUP_CONCAT(DISTINCT p.server_id ORDER BY p.server_id)"                \
    " FROM context_server2db_pool p JOIN context c ON c.cid = p.cid"          \
    " GROUP BY p.db_schema, p.write_db_pool_id"


/*
 * listdatabaseschema: configdb's schemas with their contexts, as
 * ngx_http_oxmigrate_schema_row_t in configdb's order; NGX_ERROR: see
 * mysql_errno(m) (0: out of memory)
 */

ngx_int_t
ngx_http_oxmigrate_admin_store_schemas(MYSQL *m, ngx_pool_t *pool,
    ngx_array_t *rows)
{
    MYSQL_ROW                         row;
    MYSQL_RES                        *res;
    unsigned long                    *lens;
    ngx_http_oxmigrate_schema_row_t  *s;

    /* with contexts, and those without (contexts_per_dbschema) */
    res = ngx_http_oxmigrate_admin_select(m, pool,
        NGX_HTTP_OXMIGRATE_SCHEMAS_SQL
        " UNION ALL"
        " SELECT s.schemaname, s.db_pool_id, 0, 0, 0, ''"
        " FROM contexts_per_dbschema s WHERE NOT EXISTS"
        " (SELECT 1 FROM context_server2db_pool q"
        " WHERE q.db_schema = s.schemaname)",
        (uint64_t) ngx_http_oxmigrate_admin_reason);

    if (res == NULL && mysql_errno(m) == 1146) {
        /* a configdb without contexts_per_dbschema */
        res = ngx_http_oxmigrate_admin_select(m, pool,
                  NGX_HTTP_OXMIGRATE_SCHEMAS_SQL,
                  (uint64_t) ngx_http_oxmigrate_admin_reason);
    }

    if (res == NULL) {
        return NGX_ERROR;
    }

    if (ngx_array_init(rows, pool, 64,
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

        s->ref.name = ngx_http_oxmigrate_admin_strndup(pool, row[0],
                                                       lens[0]);
        s->ref.pool_id = row[1] ? ngx_atoof((u_char *) row[1], lens[1]) : 0;
        s->ref.contexts = ngx_atoof((u_char *) row[2], lens[2]);
        s->ref.not_on = 0;
        s->enabled = row[3] ? ngx_atoof((u_char *) row[3],
                                        ngx_strlen(row[3])) : 0;
        s->maintenance = row[4] ? ngx_atoof((u_char *) row[4],
                                            ngx_strlen(row[4])) : 0;
        s->server_ids = ngx_http_oxmigrate_admin_strndup(pool, row[5],
                                                         lens[5]);
        s->host = NULL;
        s->status = "unknown";
    }

    mysql_free_result(res);

    return NGX_OK;
}


/*
 * Every schema of configdb, database by database (the order of
 * GET /schemas and of every walk over the schemas).
 */

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
    pw->known = (ngx_http_oxmigrate_admin_pool_host(pw->conn->pool,
                                                    pw->conn->db, pool_id,
                                                    &pw->h, &pw->pname)
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


/*
 * The heartbeat of the job a runner (or runupdate) works for, while it
 * works: 1, 0 (the job is not this driver's any more), -1: see m
 */

int64_t
ngx_http_oxmigrate_admin_store_heartbeat(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, int64_t now)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job SET heartbeat = %D"
               " WHERE id = %U AND claim = %U", now, job_id, claim);
}


/* the progress GET /jobs/{id} shows of a running schema; -1: see m */

int64_t
ngx_http_oxmigrate_admin_store_job_message(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, const char *schema, const char *message)
{
    return ngx_http_oxmigrate_admin_exec(m, pool,
               "UPDATE oxmigrate_job_schema SET message = %s"
               " WHERE job_id = %U AND name = %s AND state = 'running'",
               message, job_id, schema);
}
