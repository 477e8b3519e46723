/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: JSON in (yajl_tree, strictly validated against the
 * route's field list) and JSON out (yajl_gen).  Runs on the thread pool
 * except where the module builds an early error answer.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_arg_set(
    ngx_http_oxmigrate_admin_op_t *op, ngx_http_oxmigrate_field_t *f,
    yajl_val v);


/* a "string or null" field given as null */
char  ngx_http_oxmigrate_admin_arg_null_mark[] = "";


/* the arguments before the route table fills them: nothing given */

void
ngx_http_oxmigrate_admin_args_init(ngx_http_oxmigrate_admin_args_t *a)
{
    ngx_memzero(a, sizeof(ngx_http_oxmigrate_admin_args_t));

    a->rows = 50;
    a->server_id = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->parallel = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->limit = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->pause_after = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->max_downtime = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->max_replica_lag = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->cont = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->force = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->dry_run = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->check_tasks = NGX_HTTP_OXMIGRATE_ARG_UNSET;
    a->stop_on_error = NGX_HTTP_OXMIGRATE_ARG_UNSET;
}


ngx_int_t
ngx_http_oxmigrate_admin_body_parse(ngx_http_oxmigrate_admin_op_t *op)
{
    char                        errbuf[128], *p;
    size_t                      i, j, n;
    ngx_int_t                   lo;
    yajl_val                    v, e;
    const char                 *key;
    ngx_http_oxmigrate_field_t *f;

    if (op->args.body == NULL || op->route->fields == NULL) {
        return NGX_OK;
    }

    for (p = (char *) op->args.body; *p == ' ' || *p == '\t' || *p == '\r'
                                || *p == '\n'; p++) { /* void */ }

    if (*p == '\0' && (size_t) (p - (char *) op->args.body) == op->args.body_len) {
        /* no body: all fields take their defaults */
        return NGX_OK;
    }

    if (ngx_strlen(op->args.body) != op->args.body_len) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_json",
                                       "the body contains a NUL byte");
        return NGX_ERROR;
    }

    /*
     * yajl_tree hands strings out NUL-terminated without their length: a
     * "\u0000" would silently cut a name short ("a\u0000b" registering
     * "a").  Backslashes only occur inside strings of valid JSON, so one
     * pass over the escapes finds it.
     */

    for (p = (char *) op->args.body; *p; p++) {
        if (*p != '\\') {
            continue;
        }

        if (p[1] == 'u' && ngx_strncmp(p + 2, "0000", 4) == 0) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                           "invalid_argument",
                                           "strings must not contain "
                                           "U+0000");
            return NGX_ERROR;
        }

        if (p[1] == '\0') {
            break;
        }

        p++;
    }

    errbuf[0] = '\0';
    op->json = yajl_tree_parse((char *) op->args.body, errbuf, sizeof(errbuf));

    if (op->json == NULL) {
        /* yajl's message spans lines; keep its first one */
        for (i = 0; errbuf[i]; i++) {
            if (errbuf[i] == '\n') {
                errbuf[i] = '\0';
                break;
            }
        }

        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_json", "malformed JSON: %s",
                                       errbuf[0] ? errbuf : "parse error");
        return NGX_ERROR;
    }

    if (!YAJL_IS_OBJECT(op->json)) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_json",
                                       "the body must be a JSON object");
        return NGX_ERROR;
    }

    n = op->json->u.object.len;

    for (i = 0; i < n; i++) {
        key = op->json->u.object.keys[i];
        v = op->json->u.object.values[i];

        for (j = 0; j < i; j++) {
            if (ngx_strcmp(key, op->json->u.object.keys[j]) == 0) {
                ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                               "invalid_json",
                                               "duplicate field \"%s\"", key);
                return NGX_ERROR;
            }
        }

        for (f = op->route->fields; f->name; f++) {
            if (ngx_strcmp(f->name, key) == 0) {
                break;
            }
        }

        if (f->name == NULL) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                           "unknown_field",
                                           "unknown field \"%s\"", key);
            return NGX_ERROR;
        }

        switch (f->type) {

        case NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL:
            if (YAJL_IS_NULL(v)) {
                break;
            }

            /* fall through */

        case NGX_HTTP_OXMIGRATE_FIELD_STRING:
            if (!YAJL_IS_STRING(v)) {
                goto wrong;
            }

            if (v->u.string[0] == '\0' || ngx_strlen(v->u.string) > f->max) {
                ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                   "invalid_argument",
                                   "field \"%s\" must have 1 to %ui bytes",
                                   key, f->max);
                return NGX_ERROR;
            }

            break;

        case NGX_HTTP_OXMIGRATE_FIELD_UINT:
        case NGX_HTTP_OXMIGRATE_FIELD_COUNT:
            if (!YAJL_IS_INTEGER(v)) {
                goto wrong;
            }

            lo = (f->type == NGX_HTTP_OXMIGRATE_FIELD_COUNT) ? 1 : 0;

            if (YAJL_GET_INTEGER(v) < lo
                || (f->max && (uint64_t) YAJL_GET_INTEGER(v) > f->max))
            {
                ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                   "invalid_argument",
                                   "field \"%s\" must be %i to %ui",
                                   key, lo, f->max);
                return NGX_ERROR;
            }

            break;

        case NGX_HTTP_OXMIGRATE_FIELD_BOOL:
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
                goto wrong;
            }

            break;

        case NGX_HTTP_OXMIGRATE_FIELD_STRINGS:
            if (!YAJL_IS_ARRAY(v)) {
                goto wrong;
            }

            for (j = 0; j < v->u.array.len; j++) {
                e = v->u.array.values[j];

                if (!YAJL_IS_STRING(e) || e->u.string[0] == '\0'
                    || ngx_strlen(e->u.string) > f->max)
                {
                    ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                   "invalid_argument",
                                   "field \"%s\" must be an array of "
                                   "non-empty strings", key);
                    return NGX_ERROR;
                }
            }

            break;
        }

        if (ngx_http_oxmigrate_admin_arg_set(op, f, v) != NGX_OK) {
            ngx_http_oxmigrate_admin_error(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                           "internal", "out of memory");
            return NGX_ERROR;
        }

        op->args.body_fields++;

        continue;

    wrong:

        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                   "invalid_type", "field \"%s\" must be %s", key,
                   f->type == NGX_HTTP_OXMIGRATE_FIELD_STRING ? "a string"
                   : f->type == NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL
                     ? "a string or null"
                   : f->type == NGX_HTTP_OXMIGRATE_FIELD_UINT
                     ? "a non-negative integer"
                   : f->type == NGX_HTTP_OXMIGRATE_FIELD_COUNT
                     ? "a positive integer"
                   : f->type == NGX_HTTP_OXMIGRATE_FIELD_BOOL
                     ? "true or false" : "an array of strings");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a valid field into its typed argument, copied to the call's pool */

static ngx_int_t
ngx_http_oxmigrate_admin_arg_set(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_field_t *f, yajl_val v)
{
    char         **s;
    size_t         i;
    u_char        *arg;
    ngx_array_t  **a;

    arg = (u_char *) &op->args + f->offset;

    switch (f->type) {

    case NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL:
        if (YAJL_IS_NULL(v)) {
            *(char **) arg = NGX_HTTP_OXMIGRATE_ARG_NULL;
            return NGX_OK;
        }

        /* fall through */

    case NGX_HTTP_OXMIGRATE_FIELD_STRING:
        *(char **) arg = ngx_http_oxmigrate_admin_strndup(op->conn.pool,
                                  v->u.string, ngx_strlen(v->u.string));
        return *(char **) arg ? NGX_OK : NGX_ERROR;

    case NGX_HTTP_OXMIGRATE_FIELD_UINT:
    case NGX_HTTP_OXMIGRATE_FIELD_COUNT:
        *(int64_t *) arg = YAJL_GET_INTEGER(v);
        return NGX_OK;

    case NGX_HTTP_OXMIGRATE_FIELD_BOOL:
        *(ngx_int_t *) arg = YAJL_IS_TRUE(v) ? 1 : 0;
        return NGX_OK;

    case NGX_HTTP_OXMIGRATE_FIELD_STRINGS:
        a = (ngx_array_t **) arg;
        *a = ngx_array_create(op->conn.pool, v->u.array.len + 1,
                              sizeof(char *));
        if (*a == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < v->u.array.len; i++) {
            s = ngx_array_push(*a);
            if (s == NULL) {
                return NGX_ERROR;
            }

            *s = ngx_http_oxmigrate_admin_strndup(op->conn.pool,
                     v->u.array.values[i]->u.string,
                     ngx_strlen(v->u.array.values[i]->u.string));
            if (*s == NULL) {
                return NGX_ERROR;
            }
        }

        return NGX_OK;
    }

    return NGX_ERROR;
}


yajl_gen
ngx_http_oxmigrate_admin_reply(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status)
{
    if (op->gen) {
        yajl_gen_free(op->gen);
    }

    op->status = status;
    op->gen = yajl_gen_alloc(NULL);

    if (op->gen) {
        yajl_gen_config(op->gen, yajl_gen_validate_utf8, 1);
    }

    return op->gen;
}


/*
 * The one error body of the API, {"error":{"code":...,"message":...}, with
 * the outer object left open for extra fields: from a thread into op->gen,
 * and from the event loop for what is refused before a thread runs.
 */

void
ngx_http_oxmigrate_admin_error_body(yajl_gen g, const char *code,
    const u_char *msg, size_t len)
{
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "error");
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "code");
    ngx_http_oxmigrate_admin_json_str(g, code);
    ngx_http_oxmigrate_admin_json_str(g, "message");
    ngx_http_oxmigrate_admin_json_strn(g, msg, len);
    yajl_gen_map_close(g);
}


static void
ngx_http_oxmigrate_admin_verror(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status, const char *code, const char *fmt, va_list args)
{
    u_char    msg[1024], *last;
    yajl_gen  g;

    last = ngx_vslprintf(msg, msg + sizeof(msg), fmt, args);

    g = ngx_http_oxmigrate_admin_reply(op, status);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_error_body(g, code, msg, last - msg);
}


void
ngx_http_oxmigrate_admin_error(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status, const char *code, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_http_oxmigrate_admin_verror(op, status, code, fmt, args);
    va_end(args);

    if (op->gen) {
        yajl_gen_map_close(op->gen);
    }
}


void
ngx_http_oxmigrate_admin_error_open(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t status, const char *code, const char *fmt, ...)
{
    va_list  args;

    va_start(args, fmt);
    ngx_http_oxmigrate_admin_verror(op, status, code, fmt, args);
    va_end(args);
}


void
ngx_http_oxmigrate_admin_error_close(ngx_http_oxmigrate_admin_op_t *op)
{
    if (op->gen) {
        yajl_gen_map_close(op->gen);
    }
}


/* re-emit a parsed tree; NULL (text that is not JSON): the text itself */

void
ngx_http_oxmigrate_admin_json_tree(yajl_gen g, yajl_val v,
    const char *fallback)
{
    size_t  i;

    if (v == NULL) {
        ngx_http_oxmigrate_admin_json_str(g, fallback);
        return;
    }

    switch (v->type) {

    case yajl_t_string:
        ngx_http_oxmigrate_admin_json_str(g, v->u.string);
        break;

    case yajl_t_number:
        yajl_gen_number(g, v->u.number.r, ngx_strlen(v->u.number.r));
        break;

    case yajl_t_object:
        yajl_gen_map_open(g);
        for (i = 0; i < v->u.object.len; i++) {
            ngx_http_oxmigrate_admin_json_str(g, v->u.object.keys[i]);
            ngx_http_oxmigrate_admin_json_tree(g, v->u.object.values[i], "");
        }
        yajl_gen_map_close(g);
        break;

    case yajl_t_array:
        yajl_gen_array_open(g);
        for (i = 0; i < v->u.array.len; i++) {
            ngx_http_oxmigrate_admin_json_tree(g, v->u.array.values[i], "");
        }
        yajl_gen_array_close(g);
        break;

    case yajl_t_true:
        yajl_gen_bool(g, 1);
        break;

    case yajl_t_false:
        yajl_gen_bool(g, 0);
        break;

    default:
        yajl_gen_null(g);
        break;
    }
}
