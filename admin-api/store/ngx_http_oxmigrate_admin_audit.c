/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, store: oxmigrate_audit.  A call's row ("started"
 * before it, completed after it: http/ngx_http_oxmigrate_admin_audit.c
 * says what goes in), a job's steps, GET /audit.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


#define NGX_HTTP_OXMIGRATE_AUDIT_MAX  4000


/* the "started" row of a call; *id: its id (0: not written) */

ngx_int_t
ngx_http_oxmigrate_admin_store_audit_started(MYSQL *m, ngx_pool_t *pool,
    const char *user, const char *action, ngx_str_t *args, uint64_t *id)
{
    *id = 0;

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "INSERT INTO oxmigrate_audit (ts, user, action, arguments,"
            " status, result) VALUES (%D, %s, %s, %V, 0,"
            " '{\"state\":\"started\"}')",
            ngx_http_oxmigrate_admin_now_ms(), user, action, args)
        < 0)
    {
        return NGX_ERROR;
    }

    *id = mysql_insert_id(m);

    return NGX_OK;
}


/* its status and result; NGX_DECLINED: the row is not there (any more) */

ngx_int_t
ngx_http_oxmigrate_admin_store_audit_done(MYSQL *m, ngx_pool_t *pool,
    uint64_t id, ngx_uint_t status, ngx_str_t *result)
{
    int64_t  rc;

    rc = ngx_http_oxmigrate_admin_exec(m, pool,
             "UPDATE oxmigrate_audit SET status = %U, result = %V"
             " WHERE id = %U", (uint64_t) status, result, id);

    return (rc == 1) ? NGX_OK : (rc < 0) ? NGX_ERROR : NGX_DECLINED;
}


/* a whole row, when the "started" one could not be written */

ngx_int_t
ngx_http_oxmigrate_admin_store_audit_row(MYSQL *m, ngx_pool_t *pool,
    const char *user, const char *action, ngx_str_t *args, ngx_uint_t status,
    ngx_str_t *result)
{
    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "INSERT INTO oxmigrate_audit (ts, user, action, arguments,"
            " status, result) VALUES (%D, %s, %s, %V, %U, %V)",
            ngx_http_oxmigrate_admin_now_ms(), user, action, args,
            (uint64_t) status, result)
        < 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a dry run changed nothing: its "started" row goes */

void
ngx_http_oxmigrate_admin_store_audit_drop(MYSQL *m, ngx_pool_t *pool,
    uint64_t id)
{
    (void) ngx_http_oxmigrate_admin_exec(m, pool,
                       "DELETE FROM oxmigrate_audit WHERE id = %U", id);
}


/* the OX master password masked, should a tool's message echo it */

static void
ngx_http_oxmigrate_admin_audit_mask(ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    u_char *p, size_t len)
{
    size_t   n;
    u_char  *end;

    n = alcf->ox_pass.len;
    if (n == 0 || n > len) {
        return;
    }

    end = p + len - n;

    while (p <= end) {
        if (ngx_memcmp(p, alcf->ox_pass.data, n) == 0) {
            ngx_memset(p, '*', n);
            p += n;

        } else {
            p++;
        }
    }
}


/*
 * A step of a job (thread): a row per disable, changeserver, runupdate,
 * enable of each schema, user "job N" (as the job's checkschema rows).
 * status: 200 done, 409 refused (a live lock), 500 failed, 503
 * interrupted (a database went away; the job resumes it).  arguments
 * {"params":[schema],"body":""}, result {"job","schema","state",
 * "message", and "server_id" or "executed" and "failed" where they
 * apply}.  No password: messages are MariaDB's and the tools', the OX
 * master password masked.  The row is added to *rows (escaped on m),
 * written by audit_flush: a schema's steps cost one commit, not four.
 */

void
ngx_http_oxmigrate_admin_audit_step(MYSQL *m, ngx_pool_t *pool,
    ngx_http_oxmigrate_audit_step_t *a, char **rows)
{
    char                 *row;
    size_t                len;
    yajl_gen              g;
    ngx_str_t             result, msg;
    ngx_uint_t            i, k;
    ngx_array_t          *names[2];
    const char           *keys[2] = { "executed", "failed" };
    const unsigned char  *buf;

    if (m == NULL) {
        return;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return;
    }

    yajl_gen_config(g, yajl_gen_validate_utf8, 1);

    msg.len = a->message ? ngx_strlen(a->message) : 0;
    msg.data = ngx_pnalloc(pool, msg.len + 1);
    if (msg.data == NULL) {
        yajl_gen_free(g);
        return;
    }

    ngx_memcpy(msg.data, a->message ? a->message : "", msg.len);
    ngx_http_oxmigrate_admin_audit_mask(a->alcf, msg.data, msg.len);

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "job");
    ngx_http_oxmigrate_admin_json_int(g, a->job_id);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, a->schema);
    ngx_http_oxmigrate_admin_json_str(g, "state");
    ngx_http_oxmigrate_admin_json_str(g, a->state);
    ngx_http_oxmigrate_admin_json_str(g, "message");
    ngx_http_oxmigrate_admin_json_strn(g, msg.data,
                                       ngx_min(msg.len,
                                               NGX_HTTP_OXMIGRATE_AUDIT_MAX
                                               / 2));

    if (a->server_id) {
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, a->server_id);
    }

    names[0] = a->executed;
    names[1] = a->failed;

    for (k = 0; k < 2; k++) {
        if (names[k] == NULL) {
            continue;
        }

        ngx_http_oxmigrate_admin_json_str(g, keys[k]);
        yajl_gen_array_open(g);
        for (i = 0; i < names[k]->nelts; i++) {
            ngx_http_oxmigrate_admin_json_str(g,
                                          ((char **) names[k]->elts)[i]);
        }
        yajl_gen_array_close(g);
    }

    yajl_gen_map_close(g);

    yajl_gen_get_buf(g, &buf, &len);
    result.data = (u_char *) buf;
    result.len = ngx_min(len, NGX_HTTP_OXMIGRATE_AUDIT_MAX);

    row = ngx_http_oxmigrate_admin_sql(m, pool,
              "%R%R(%D, CONCAT('job ', %U), %s,"
              " JSON_OBJECT('params', JSON_ARRAY(%s), 'body', ''), %U, %V)",
              *rows ? *rows : "", *rows ? ", " : "",
              ngx_http_oxmigrate_admin_now_ms(), a->job_id, a->action,
              a->schema, (uint64_t) a->status, &result);
    if (row) {
        *rows = row;
    }

    yajl_gen_free(g);
}


/* the rows of audit_step in one INSERT (one commit); rows NULL: none */

void
ngx_http_oxmigrate_admin_audit_flush(MYSQL *m, ngx_pool_t *pool,
    ngx_log_t *log, char *rows)
{
    if (m == NULL || rows == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_exec(m, pool,
            "INSERT INTO oxmigrate_audit (ts, user, action, arguments,"
            " status, result) VALUES %R", rows)
        < 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "oxmigrate admin: audit of a job's steps not written: "
                      "%s", mysql_error(m));
    }
}


/* GET /audit: the newest rows first, ngx_http_oxmigrate_audit_row_t */

ngx_int_t
ngx_http_oxmigrate_admin_store_audit_rows(MYSQL *m, ngx_pool_t *pool,
    ngx_uint_t limit, ngx_array_t **rows)
{
    MYSQL_ROW                        row;
    MYSQL_RES                       *res;
    unsigned long                   *lens;
    ngx_http_oxmigrate_audit_row_t  *a;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT id, ts, user, action, arguments, status, result"
              " FROM oxmigrate_audit ORDER BY id DESC LIMIT %U",
              (uint64_t) limit);
    if (res == NULL) {
        return NGX_ERROR;
    }

    *rows = ngx_array_create(pool, mysql_num_rows(res) + 1,
                             sizeof(ngx_http_oxmigrate_audit_row_t));
    if (*rows == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    while ((row = mysql_fetch_row(res))) {
        lens = mysql_fetch_lengths(res);

        a = ngx_array_push(*rows);
        if (a == NULL) {
            mysql_free_result(res);
            return NGX_ERROR;
        }

        a->id = ngx_atoof((u_char *) row[0], lens[0]);
        a->ts = ngx_atoof((u_char *) row[1], lens[1]);
        a->user = ngx_http_oxmigrate_admin_strndup(pool, row[2], lens[2]);
        a->action = ngx_http_oxmigrate_admin_strndup(pool, row[3], lens[3]);
        a->arguments = ngx_http_oxmigrate_admin_strndup(pool, row[4],
                                                        lens[4]);
        a->status = ngx_atoi((u_char *) row[5], lens[5]);
        a->result = ngx_http_oxmigrate_admin_strndup(pool, row[6], lens[6]);

        if (a->user == NULL || a->action == NULL || a->arguments == NULL
            || a->result == NULL)
        {
            mysql_free_result(res);
            return NGX_ERROR;
        }
    }

    mysql_free_result(res);

    return NGX_OK;
}
