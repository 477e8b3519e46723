/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the steps of an upgrade as one interface with two
 * implementations (thread pool only):
 *
 *   OX tools   oxmigrate_ox_tools configured: disableschema, enableschema,
 *              changeserver and registerserver on a node of the old
 *              cluster, runupdate on a node of the new one, with exactly
 *              the flags of the OX documentation.  OX drops its caches and
 *              sessions and runs its own (Java) update tasks.
 *   SQL        the same effects on configdb by SQL and the *.sql tasks of
 *              oxmigrate_update_tasks; the OX nodes' caches are NOT
 *              invalidated ("ox_caches":"not invalidated").
 *
 * Every step returns NGX_OK (done), NGX_DECLINED (refused, st->reason
 * "schema_empty" or "schema_not_disabled") or NGX_ERROR (st->reason
 * "db_error": configdb; or why the tool failed, st->call says how);
 * st->res.msg says it in words.  No step speaks HTTP.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_sql_disable(
    ngx_http_oxmigrate_step_t *st);
static ngx_int_t ngx_http_oxmigrate_admin_sql_enable(
    ngx_http_oxmigrate_step_t *st);
static ngx_int_t ngx_http_oxmigrate_admin_sql_changeserver(
    ngx_http_oxmigrate_step_t *st, uint64_t server_id);
static ngx_int_t ngx_http_oxmigrate_admin_sql_update(
    ngx_http_oxmigrate_step_t *st, ngx_http_oxmigrate_update_t *u);
static int64_t ngx_http_oxmigrate_admin_sql_register(
    ngx_http_oxmigrate_step_t *st, const char *name);

static ngx_int_t ngx_http_oxmigrate_admin_ox_disable(
    ngx_http_oxmigrate_step_t *st);
static ngx_int_t ngx_http_oxmigrate_admin_ox_enable(
    ngx_http_oxmigrate_step_t *st);
static ngx_int_t ngx_http_oxmigrate_admin_ox_changeserver(
    ngx_http_oxmigrate_step_t *st, uint64_t server_id);
static int64_t ngx_http_oxmigrate_admin_ox_register(
    ngx_http_oxmigrate_step_t *st, const char *name);


static ngx_http_oxmigrate_steps_t  ngx_http_oxmigrate_admin_sql_steps = {
    "sql",
    ngx_http_oxmigrate_admin_sql_disable,
    ngx_http_oxmigrate_admin_sql_enable,
    ngx_http_oxmigrate_admin_sql_changeserver,
    ngx_http_oxmigrate_admin_sql_update,
    ngx_http_oxmigrate_admin_sql_register
};


static ngx_http_oxmigrate_steps_t  ngx_http_oxmigrate_admin_ox_steps = {
    "ox tools",
    ngx_http_oxmigrate_admin_ox_disable,
    ngx_http_oxmigrate_admin_ox_enable,
    ngx_http_oxmigrate_admin_ox_changeserver,
    ngx_http_oxmigrate_admin_ox_update,
    ngx_http_oxmigrate_admin_ox_register
};


ngx_http_oxmigrate_steps_t *
ngx_http_oxmigrate_admin_steps(ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    return alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD]
           ? &ngx_http_oxmigrate_admin_ox_steps
           : &ngx_http_oxmigrate_admin_sql_steps;
}


/* "ox_caches": who drops the contexts' caches and sessions */

const char *
ngx_http_oxmigrate_admin_caches(ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    return alcf->ox[NGX_HTTP_OXMIGRATE_OX_OLD] ? alcf->ox_caches
                                               : "not invalidated";
}


void
ngx_http_oxmigrate_admin_step_init(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, MYSQL *m, const char *schema)
{
    ngx_memzero(st, sizeof(ngx_http_oxmigrate_step_t));
    st->alcf = alcf;
    st->pool = pool;
    st->log = log;
    st->m = m;
    st->schema = schema;
    st->steps = ngx_http_oxmigrate_admin_steps(alcf);
}


/*
 * SQL.  Concurrent disable, enable and changeserver of one schema lock the
 * same rows in different orders and MariaDB may pick one as a deadlock
 * victim (1213) or time it out (1205); the statement (or changeserver's
 * transaction) is rolled back whole, so it is simply run again, a few
 * times, after a short random pause.
 */

#define NGX_HTTP_OXMIGRATE_SQL_TRIES  8

static ngx_uint_t
ngx_http_oxmigrate_admin_sql_retry(ngx_http_oxmigrate_step_t *st,
    ngx_int_t rc, ngx_uint_t try)
{
    if (rc != NGX_ERROR
        || (st->res.db_errno != 1213 && st->res.db_errno != 1205)
        || try + 1 >= NGX_HTTP_OXMIGRATE_SQL_TRIES)
    {
        return 0;
    }

    ngx_log_error(NGX_LOG_INFO, st->log, 0,
                  "oxmigrate admin: schema %s: %s, trying again",
                  st->schema, st->res.msg);

    ngx_msleep(5 + (ngx_random() % (20 << try)));
    st->res.db_errno = 0;

    return 1;
}


/* configdb failed: NGX_ERROR, "db_error" */

static ngx_int_t
ngx_http_oxmigrate_admin_step_db(ngx_http_oxmigrate_step_t *st)
{
    st->reason = "db_error";
    return NGX_ERROR;
}


/* configdb refused: NGX_DECLINED, an empty schema or enabled contexts */

static ngx_int_t
ngx_http_oxmigrate_admin_step_refused(ngx_http_oxmigrate_step_t *st)
{
    st->reason = st->res.empty ? "schema_empty" : "schema_not_disabled";
    return NGX_DECLINED;
}


/* the store's result, with its reason */

static ngx_int_t
ngx_http_oxmigrate_admin_sql_rc(ngx_http_oxmigrate_step_t *st, ngx_int_t rc)
{
    return (rc == NGX_OK) ? NGX_OK
           : (rc == NGX_DECLINED) ? ngx_http_oxmigrate_admin_step_refused(st)
           : ngx_http_oxmigrate_admin_step_db(st);
}


static ngx_int_t
ngx_http_oxmigrate_admin_sql_disable(ngx_http_oxmigrate_step_t *st)
{
    ngx_int_t   rc;
    ngx_uint_t  try;

    for (try = 0; /* void */; try++) {
        rc = ngx_http_oxmigrate_admin_sql_rc(st,
                     ngx_http_oxmigrate_admin_do_disable(st->m, st->pool,
                                                         st->schema,
                                                         &st->res));
        if (!ngx_http_oxmigrate_admin_sql_retry(st, rc, try)) {
            return rc;
        }
    }
}


static ngx_int_t
ngx_http_oxmigrate_admin_sql_enable(ngx_http_oxmigrate_step_t *st)
{
    ngx_int_t   rc;
    ngx_uint_t  try;

    for (try = 0; /* void */; try++) {
        rc = ngx_http_oxmigrate_admin_sql_rc(st,
                     ngx_http_oxmigrate_admin_do_enable(st->m, st->pool,
                                                        st->schema,
                                                        &st->res));
        if (!ngx_http_oxmigrate_admin_sql_retry(st, rc, try)) {
            return rc;
        }
    }
}


static ngx_int_t
ngx_http_oxmigrate_admin_sql_changeserver(ngx_http_oxmigrate_step_t *st,
    uint64_t server_id)
{
    ngx_int_t   rc;
    ngx_uint_t  try;

    for (try = 0; /* void */; try++) {
        ngx_memzero(&st->res, sizeof(ngx_http_oxmigrate_schema_res_t));

        rc = ngx_http_oxmigrate_admin_sql_rc(st,
                     ngx_http_oxmigrate_admin_do_changeserver(st->m,
                                                              st->pool,
                                                              st->schema,
                                                              server_id,
                                                              !st->job,
                                                              &st->res));
        if (!ngx_http_oxmigrate_admin_sql_retry(st, rc, try)) {
            return rc;
        }
    }
}


static ngx_int_t
ngx_http_oxmigrate_admin_sql_update(ngx_http_oxmigrate_step_t *st,
    ngx_http_oxmigrate_update_t *u)
{
    return ngx_http_oxmigrate_admin_update_run(u);
}


static int64_t
ngx_http_oxmigrate_admin_sql_register(ngx_http_oxmigrate_step_t *st,
    const char *name)
{
    uint64_t  id;

    id = ngx_http_oxmigrate_admin_register(st->m, st->pool, name,
                                           st->res.msg, sizeof(st->res.msg));
    if (id == 0) {
        /* a duplicate name: registered meanwhile */
        st->rc = (mysql_errno(st->m) == 1062) ? NGX_DECLINED : NGX_ERROR;
        st->reason = (st->rc == NGX_DECLINED) ? "server_exists" : "db_error";
        return 0;
    }

    return id;
}


/* OX tools */

/* runs st->call; NGX_OK when it exited with 0, else NGX_ERROR */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_exec(ngx_http_oxmigrate_step_t *st)
{
    if (ngx_http_oxmigrate_admin_ox_run(st->call) == NGX_OK) {
        return NGX_OK;
    }

    ngx_cpystrn((u_char *) st->res.msg, (u_char *) st->call->error,
                sizeof(st->res.msg));
    st->ox_failed = 1;
    st->reason = ngx_http_oxmigrate_admin_ox_reason(st->call);

    return NGX_ERROR;
}


/* the schema's contexts and how many are enabled, as configdb says */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_count(ngx_http_oxmigrate_step_t *st,
    uint64_t *total, uint64_t *enabled)
{
    if (ngx_http_oxmigrate_admin_count_enabled(st->m, st->pool, st->schema,
                                               total, enabled)
        != NGX_OK)
    {
        ngx_snprintf((u_char *) st->res.msg, sizeof(st->res.msg) - 1, "%s%Z",
                     mysql_error(st->m));
        return ngx_http_oxmigrate_admin_step_db(st);
    }

    return NGX_OK;
}


/*
 * disableschema / enableschema -A u -m SCHEMA [-r RMI,...] (old cluster,
 * the password in ADMIN_PASSWORD)
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_toggle(ngx_http_oxmigrate_step_t *st,
    const char *tool)
{
    uint64_t                       total, before, after;
    ngx_int_t                      rc;
    ngx_http_oxmigrate_ox_call_t  *call;

    /* a job reads no counts: one SELECT before and after less per call */
    before = 0;

    if (!st->job) {
        rc = ngx_http_oxmigrate_admin_ox_count(st, &total, &before);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    call = ngx_http_oxmigrate_admin_ox_call(st, tool,
                                            NGX_HTTP_OXMIGRATE_OX_OLD);
    if (call == NULL) {
        return ngx_http_oxmigrate_admin_step_db(st);
    }

    call->args[0] = "-m";
    call->args[1] = st->schema;

    /* the nodes of both clusters drop the contexts (ox-facts 7) */
    if (st->alcf->ox[0]->rmi && st->alcf->ox[1]->rmi) {
        call->args[2] = "-r";
        call->args[3] = ngx_pnalloc(st->pool,
                                    ngx_strlen(st->alcf->ox[0]->rmi)
                                    + ngx_strlen(st->alcf->ox[1]->rmi) + 2);
        if (call->args[3] == NULL) {
            return ngx_http_oxmigrate_admin_step_db(st);
        }

        ngx_sprintf((u_char *) call->args[3], "%s,%s%Z",
                    st->alcf->ox[0]->rmi, st->alcf->ox[1]->rmi);
    }

    rc = ngx_http_oxmigrate_admin_ox_exec(st);
    if (rc != NGX_OK || st->job) {
        return rc;
    }

    rc = ngx_http_oxmigrate_admin_ox_count(st, &total, &after);
    if (rc != NGX_OK) {
        return rc;
    }

    st->res.changed = (before > after) ? before - after : after - before;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oxmigrate_admin_ox_disable(ngx_http_oxmigrate_step_t *st)
{
    return ngx_http_oxmigrate_admin_ox_toggle(st, "disableschema");
}


static ngx_int_t
ngx_http_oxmigrate_admin_ox_enable(ngx_http_oxmigrate_step_t *st)
{
    return ngx_http_oxmigrate_admin_ox_toggle(st, "enableschema");
}


/*
 * changeserver -A u -P p -s ID -m SCHEMA (old cluster).  Its refusal of a
 * schema with enabled contexts ("The schema '<s>' is not disabled. The
 * following contexts are still enabled: [1, 2]") is a 409 as in the SQL
 * implementation, with the listed contexts.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_changeserver(ngx_http_oxmigrate_step_t *st,
    uint64_t server_id)
{
    u_char                        *p, *last;
    size_t                         len;
    uint64_t                       total, enabled, *cid;
    ngx_int_t                      rc;
    ngx_str_t                     *said;
    ngx_http_oxmigrate_ox_call_t  *call;

    st->res.changed = 0;
    st->res.enabled = ngx_array_create(st->pool, 8, sizeof(uint64_t));
    if (st->res.enabled == NULL) {
        return ngx_http_oxmigrate_admin_step_db(st);
    }

    rc = ngx_http_oxmigrate_admin_ox_count(st, &total, &enabled);
    if (rc != NGX_OK) {
        return rc;
    }

    if (total == 0) {
        st->res.empty = 1;
        ngx_snprintf((u_char *) st->res.msg, sizeof(st->res.msg) - 1,
                     "The schema '%s' contains no contexts.%Z", st->schema);
        return ngx_http_oxmigrate_admin_step_refused(st);
    }

    call = ngx_http_oxmigrate_admin_ox_call(st, "changeserver",
                                            NGX_HTTP_OXMIGRATE_OX_OLD);
    if (call == NULL) {
        return ngx_http_oxmigrate_admin_step_db(st);
    }

    call->args[0] = "-s";
    call->args[1] = ngx_pnalloc(st->pool, NGX_INT64_LEN + 1);
    if (call->args[1] == NULL) {
        return ngx_http_oxmigrate_admin_step_db(st);
    }

    ngx_sprintf((u_char *) call->args[1], "%uL%Z", server_id);
    call->args[2] = "-m";
    call->args[3] = st->schema;

    rc = ngx_http_oxmigrate_admin_ox_exec(st);

    if (rc == NGX_OK) {
        st->res.changed = total;
        return NGX_OK;
    }

    said = call->err.len ? &call->err : &call->out;

    if (call->exit_code <= 0 || said->data == NULL
        || ngx_strstr(said->data, "is not disabled") == NULL)
    {
        return rc;
    }

    /* OX's refusal: the contexts in its brackets, and its words */

    p = (u_char *) ngx_strchr(said->data, '[');
    last = p ? (u_char *) ngx_strchr(p, ']') : NULL;

    while (p && last && p < last && st->res.enabled->nelts < 10) {
        while (p < last && (*p < '0' || *p > '9')) {
            p++;
        }

        if (p == last) {
            break;
        }

        cid = ngx_array_push(st->res.enabled);
        if (cid == NULL) {
            break;
        }

        *cid = 0;
        while (p < last && *p >= '0' && *p <= '9') {
            *cid = *cid * 10 + (*p++ - '0');
        }
    }

    /* "server could not be changed: \nServer response:\n The schema ..." */
    p = ngx_http_oxmigrate_admin_ox_said(said, &len);
    len = ngx_min(len, sizeof(st->res.msg) - 1);

    ngx_memcpy(st->res.msg, p, len);
    st->res.msg[len] = '\0';
    st->ox_failed = 0;

    return ngx_http_oxmigrate_admin_step_refused(st);
}


/*
 * registerserver -A u -P p -n NAME (old cluster): "server <id> registered".
 * 0 on failure, st->rc and st->reason say why.
 */

static int64_t
ngx_http_oxmigrate_admin_ox_register(ngx_http_oxmigrate_step_t *st,
    const char *name)
{
    u_char                        *p;
    int64_t                        id;
    ngx_http_oxmigrate_ox_call_t  *call;

    call = ngx_http_oxmigrate_admin_ox_call(st, "registerserver",
                                            NGX_HTTP_OXMIGRATE_OX_OLD);
    if (call == NULL) {
        st->rc = ngx_http_oxmigrate_admin_step_db(st);
        return 0;
    }

    call->args[0] = "-n";
    call->args[1] = name;

    st->rc = ngx_http_oxmigrate_admin_ox_exec(st);
    if (st->rc != NGX_OK) {
        return 0;
    }

    p = (u_char *) ngx_strstr(call->out.data, "server ");
    id = 0;

    if (p) {
        for (p += 7; *p >= '0' && *p <= '9'; p++) {
            id = id * 10 + (*p - '0');
            if (id > 0xffffffffLL) {
                break;
            }
        }
    }

    if (p == NULL || id <= 0 || id > 0xffffffffLL
        || ngx_strncmp(p, " registered", 11) != 0)
    {
        ngx_snprintf((u_char *) st->res.msg, sizeof(st->res.msg) - 1,
                     "registerserver (old cluster) exited with code 0 but "
                     "its output is not \"server <id> registered\"%Z");
        ngx_cpystrn((u_char *) call->error, (u_char *) st->res.msg,
                    sizeof(call->error));
        st->ox_failed = 1;
        st->rc = NGX_ERROR;
        st->reason = ngx_http_oxmigrate_admin_ox_reason(call);
        return 0;
    }

    return id;
}
