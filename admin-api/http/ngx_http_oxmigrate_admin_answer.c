/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the answer layer.  A service says NGX_OK with its
 * result, or NGX_DECLINED / NGX_ERROR with a reason; this file is where a
 * reason becomes a status, as the login path's decide() picks an answer
 * and respond() writes it.  The endpoints' own answers (the JSON of their
 * results) live beside it, one file per family (answer_*.c).
 */


#include "ngx_http_oxmigrate_admin.h"


typedef struct {
    const char                 *reason;
    ngx_uint_t                  status;
} ngx_http_oxmigrate_admin_reason_t;


/*
 * Every reason a service gives.  The code the client reads is the reason
 * up to a '#': "unknown_server#revert" is "unknown_server" with the
 * status the revert has always answered.
 */

static ngx_http_oxmigrate_admin_reason_t  ngx_http_oxmigrate_admin_reasons[] =
{
    { "missing_field",             NGX_HTTP_BAD_REQUEST },
    { "invalid_argument",          NGX_HTTP_BAD_REQUEST },
    { "invalid_json",              NGX_HTTP_BAD_REQUEST },
    { "invalid_type",              NGX_HTTP_BAD_REQUEST },
    { "unknown_field",             NGX_HTTP_BAD_REQUEST },
    { "body_too_large",            NGX_HTTP_BAD_REQUEST },

    { "unknown_schema",            NGX_HTTP_NOT_FOUND },
    { "unknown_server",            NGX_HTTP_NOT_FOUND },
    { "unknown_task",              NGX_HTTP_NOT_FOUND },
    { "unknown_job",               NGX_HTTP_NOT_FOUND },
    { "unknown_database",          NGX_HTTP_NOT_FOUND },

    { "server_exists",             NGX_HTTP_CONFLICT },
    { "schema_empty",              NGX_HTTP_CONFLICT },
    { "schema_not_disabled",       NGX_HTTP_CONFLICT },
    { "job_running",               NGX_HTTP_CONFLICT },
    { "job_cancelling",            NGX_HTTP_CONFLICT },
    { "job_not_resumable",         NGX_HTTP_CONFLICT },
    { "job_not_running",           NGX_HTTP_CONFLICT },
    { "no_job",                    NGX_HTTP_CONFLICT },
    { "tasks_ran",                 NGX_HTTP_CONFLICT },
    { "unknown_server#revert",     NGX_HTTP_CONFLICT },
    { "UPD-0003",                  NGX_HTTP_CONFLICT },

    { "unknown_database#internal", NGX_HTTP_INTERNAL_SERVER_ERROR },
    { "db_error",                  NGX_HTTP_INTERNAL_SERVER_ERROR },
    { "update_error",              NGX_HTTP_INTERNAL_SERVER_ERROR },
    { "internal",                  NGX_HTTP_INTERNAL_SERVER_ERROR },

    { "ox_tool_unavailable#version", NGX_HTTP_NOT_IMPLEMENTED },

    { "ox_tool_failed",            NGX_HTTP_BAD_GATEWAY },
    { "ox_update_failed",          NGX_HTTP_BAD_GATEWAY },

    { "configdb_unavailable",      NGX_HTTP_SERVICE_UNAVAILABLE },
    { "database_unavailable",      NGX_HTTP_SERVICE_UNAVAILABLE },
    { "db_unavailable",            NGX_HTTP_SERVICE_UNAVAILABLE },
    { "busy",                      NGX_HTTP_SERVICE_UNAVAILABLE },
    { "ox_tool_unavailable",       NGX_HTTP_SERVICE_UNAVAILABLE },

    { "ox_tool_timeout",           NGX_HTTP_GATEWAY_TIME_OUT },
    { "ox_update_running",         NGX_HTTP_GATEWAY_TIME_OUT },

    { NULL, 0 }
};


/* the status of a reason; an unknown one is a 500 (and logged) */

static ngx_uint_t
ngx_http_oxmigrate_admin_reason_status(ngx_http_oxmigrate_admin_op_t *op,
    const char *reason)
{
    ngx_http_oxmigrate_admin_reason_t  *rs;

    for (rs = ngx_http_oxmigrate_admin_reasons; rs->reason; rs++) {
        if (ngx_strcmp(rs->reason, reason) == 0) {
            return rs->status;
        }
    }

    ngx_log_error(NGX_LOG_ALERT, op->conn.log, 0,
                  "oxmigrate admin: no status for reason \"%s\"", reason);

    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}


/*
 * The error answer of op->res, its object left open for the fields an
 * endpoint adds; close it with ngx_http_oxmigrate_admin_error_close().
 */

void
ngx_http_oxmigrate_admin_answer_open(ngx_http_oxmigrate_admin_op_t *op)
{
    char         code[48];
    size_t       n;
    const char  *reason, *hash;

    reason = op->res.reason ? op->res.reason : "internal";

    hash = ngx_strchr(reason, '#');
    n = hash ? (size_t) (hash - reason) : ngx_strlen(reason);
    n = ngx_min(n, sizeof(code) - 1);
    ngx_memcpy(code, reason, n);
    code[n] = '\0';

    ngx_http_oxmigrate_admin_error_open(op,
                       ngx_http_oxmigrate_admin_reason_status(op, reason),
                       code, "%s", op->res.reason ? op->res.msg
                                   : "the call failed, see the error log");
}


/*
 * The 200 answer {"key":[ of a listing, left open (close the array and
 * the map); NULL: rc was no success and its error is answered, or no
 * generator could be made
 */

yajl_gen
ngx_http_oxmigrate_admin_answer_list(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc, const char *key)
{
    yajl_gen  g;

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_answer_fail(op);
        return NULL;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, key);
    yajl_gen_array_open(g);

    return g;
}


/* the error answer of op->res, as it is */

void
ngx_http_oxmigrate_admin_answer_fail(ngx_http_oxmigrate_admin_op_t *op)
{
    ngx_http_oxmigrate_admin_answer_open(op);
    ngx_http_oxmigrate_admin_error_close(op);
}


/* "ox":{"tool","cluster","argv","exit_code","stdout","stderr",...} */

void
ngx_http_oxmigrate_admin_ox_json(yajl_gen g, ngx_http_oxmigrate_ox_call_t *call)
{
    char       **a;
    ngx_uint_t   i;

    ngx_http_oxmigrate_admin_json_str(g, "ox");
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "tool");
    ngx_http_oxmigrate_admin_json_str(g, call->tool);
    ngx_http_oxmigrate_admin_json_str(g, "cluster");
    ngx_http_oxmigrate_admin_json_str(g,
                                 (call->cluster ? "new" : "old"));
    ngx_http_oxmigrate_admin_json_str(g, "argv");
    yajl_gen_array_open(g);

    for (a = call->argv; a && *a; a++) {
        ngx_http_oxmigrate_admin_json_str(g, *a);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "exit_code");
    if (call->exit_code >= 0) {
        ngx_http_oxmigrate_admin_json_int(g, call->exit_code);

    } else {
        yajl_gen_null(g);
    }

    if (call->signo) {
        ngx_http_oxmigrate_admin_json_str(g, "signal");
        ngx_http_oxmigrate_admin_json_int(g, call->signo);
    }

    if (call->timed_out || call->aborted || call->not_started) {
        ngx_http_oxmigrate_admin_json_str(g, call->timed_out ? "timed_out"
                                          : call->aborted ? "aborted"
                                          : "not_started");
        ngx_http_oxmigrate_admin_json_bool(g, 1);
    }

    ngx_http_oxmigrate_admin_json_str(g, "ms");
    ngx_http_oxmigrate_admin_json_int(g, call->elapsed);

    for (i = 0; i < 2; i++) {
        ngx_http_oxmigrate_admin_json_str(g, i ? "stderr" : "stdout");
        ngx_http_oxmigrate_admin_json_strn(g,
                            i ? call->err.data : call->out.data,
                            i ? call->err.len : call->out.len);
    }

    if (call->truncated) {
        ngx_http_oxmigrate_admin_json_str(g, "truncated");
        ngx_http_oxmigrate_admin_json_bool(g, 1);
    }

    yajl_gen_map_close(g);
}


/* the answer to a tool that failed: 502, 504 or 503, with its words */

void
ngx_http_oxmigrate_admin_ox_fail(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_ox_call_t *call)
{
    ngx_log_error(NGX_LOG_ERR, op->conn.log, 0, "oxmigrate admin: %s",
                  call->error);

    (void) ngx_http_oxmigrate_admin_fail(&op->res, NGX_ERROR,
                                         ngx_http_oxmigrate_admin_ox_reason(call),
                                         "%s", call->error);

    ngx_http_oxmigrate_admin_answer_open(op);

    if (op->gen) {
        ngx_http_oxmigrate_admin_ox_json(op->gen, call);
    }

    ngx_http_oxmigrate_admin_error_close(op);
}
