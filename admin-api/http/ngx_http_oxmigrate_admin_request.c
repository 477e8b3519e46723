/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin REST API: a call, from the content handler to the
 * answer.  It goes: content handler (event loop) -> authenticated user?
 * -> route -> body read (size-limited) -> the route's service on the
 * thread pool (blocking MariaDB is fine there) -> the JSON answer back on
 * the event loop.  While the thread owns the call the request is
 * "blocked", so nginx cannot free it under the thread's feet.  Each piece
 * on the event loop is timed (oxmigrate_admin_event_loop_seconds).
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_handle(ngx_http_request_t *r);
static void ngx_http_oxmigrate_admin_body_handler(ngx_http_request_t *r);
static void ngx_http_oxmigrate_admin_body_read(ngx_http_request_t *r);
static ngx_int_t ngx_http_oxmigrate_admin_dispatch(ngx_http_request_t *r,
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t *rc);
static void ngx_http_oxmigrate_admin_thread(void *data, ngx_log_t *log);
static void ngx_http_oxmigrate_admin_thread_done(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_answered(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_wait_handler(ngx_http_request_t *r);
static void ngx_http_oxmigrate_admin_keepalive(ngx_event_t *ev);
static void ngx_http_oxmigrate_admin_reply_handler(ngx_http_request_t *r);
static void ngx_http_oxmigrate_admin_cleanup(void *data);
static ngx_int_t ngx_http_oxmigrate_admin_send(ngx_http_request_t *r,
    ngx_uint_t status, const u_char *body, size_t len, ngx_uint_t copy);
static ngx_int_t ngx_http_oxmigrate_admin_send_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *code, const char *msg);


/* the ctx of a request: its op */
typedef struct {
    ngx_http_oxmigrate_admin_op_t  *op;
    ngx_thread_task_t              *task;
    off_t                           received;
    ngx_uint_t                      done;
    ngx_uint_t                      too_large;
    ngx_event_t                     keepalive;  /* while a thread works */
} ngx_http_oxmigrate_admin_ctx_t;




/* the next request body filter (the module installs ours) */
ngx_http_request_body_filter_pt   ngx_http_oxmigrate_admin_next_body_filter;


/* the content handler, timed: the admin API's time on the event loop */

ngx_int_t
ngx_http_oxmigrate_admin_handler(ngx_http_request_t *r)
{
    uint64_t   t0;
    ngx_int_t  rc;

    t0 = ngx_http_oxmigrate_admin_loop_start();
    rc = ngx_http_oxmigrate_admin_handle(r);
    ngx_http_oxmigrate_admin_loop_end(t0, "a request", r->connection->log);

    return rc;
}


static ngx_int_t
ngx_http_oxmigrate_admin_handle(ngx_http_request_t *r)
{
    u_char                               *user;
    ngx_int_t                             rc, rows;
    ngx_str_t                             v;
    ngx_uint_t                            status;
    ngx_pool_cleanup_t                   *cln;
    ngx_thread_task_t                    *task;
    ngx_http_oxmigrate_admin_op_t        *op;
    ngx_http_oxmigrate_admin_ctx_t       *ctx;
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf;

    alcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_admin_module);

    if (r != r->main) {
        return NGX_DECLINED;
    }

    /*
     * The user is set when auth_basic checked the credentials in the access
     * phase.  We deliberately do not parse the Authorization header
     * ourselves: without auth_basic the API stays closed, even if a site
     * forgot those lines.
     */

    if (r->headers_in.user.len == 0) {
        r->headers_out.www_authenticate =
                                     ngx_list_push(&r->headers_out.headers);
        if (r->headers_out.www_authenticate == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        r->headers_out.www_authenticate->hash = 1;
        ngx_str_set(&r->headers_out.www_authenticate->key,
                    "WWW-Authenticate");
        ngx_str_set(&r->headers_out.www_authenticate->value,
                    "Basic realm=\"oxmigrate\"");

        return ngx_http_oxmigrate_admin_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                   "unauthorized", "authentication required");
    }

    task = ngx_thread_task_alloc(r->pool,
                                 sizeof(ngx_http_oxmigrate_admin_op_t));
    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_oxmigrate_admin_ctx_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (task == NULL || ctx == NULL || cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    op = task->ctx;
    ctx->op = op;
    ctx->task = task;
    ngx_http_set_ctx(r, ctx, ngx_http_oxmigrate_admin_module);

    cln->handler = ngx_http_oxmigrate_admin_cleanup;
    cln->data = op;

    op->conn.alcf = alcf;
    op->conn.omcf = ngx_http_get_module_main_conf(r, ngx_http_oxmigrate_module);
    op->request = r;
    op->conn.log = ngx_cycle->log;
    ngx_http_oxmigrate_admin_args_init(&op->args);

    op->route = ngx_http_oxmigrate_admin_route(r, op, &status);
    if (op->route == NULL) {
        return ngx_http_oxmigrate_admin_send_error(r, status,
                   status == NGX_HTTP_NOT_ALLOWED ? "method_not_allowed"
                                                  : "not_found",
                   status == NGX_HTTP_NOT_ALLOWED ? "method not allowed"
                                                  : "no such endpoint");
    }

    user = ngx_pnalloc(r->pool, r->headers_in.user.len + 1);
    if (user == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_cpystrn(user, r->headers_in.user.data, r->headers_in.user.len + 1);
    op->conn.user = (char *) user;

    op->args.query = r->args;

    if (ngx_http_arg(r, (u_char *) "state", 5, &v) == NGX_OK) {
        op->args.state = ngx_pnalloc(r->pool, v.len + 1);
        if (op->args.state == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_cpystrn((u_char *) op->args.state, v.data, v.len + 1);
    }

    /* the lists (GET /jobs, GET /audit): 50 rows unless told, 1000 at most */

    if (ngx_http_arg(r, (u_char *) "limit", 5, &v) == NGX_OK) {
        rows = ngx_atoi(v.data, v.len);
        if (rows == NGX_ERROR || rows == 0) {
            return ngx_http_oxmigrate_admin_send_error(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_argument", "limit must be a positive number");
        }

        op->args.rows = ngx_min((ngx_uint_t) rows, 1000);
    }

    if (op->route->fields == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        if (ngx_http_oxmigrate_admin_dispatch(r, op, &rc) != NGX_OK) {
            return rc;
        }

        r->main->count++;
        return NGX_DONE;
    }

    /*
     * Refuse an announced oversized body before reading a byte of it; a
     * chunked one is counted while read (client_max_body_size caps it).
     */

    if (r->headers_in.content_length_n > (off_t) alcf->max_body) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        op->preset = 1;
        ngx_cpystrn((u_char *) op->preset_code, (u_char *) "body_too_large",
                    sizeof(op->preset_code));
        ngx_snprintf((u_char *) op->preset_msg, sizeof(op->preset_msg) - 1,
                     "request body larger than %uz bytes%Z", alcf->max_body);

        if (ngx_http_oxmigrate_admin_dispatch(r, op, &rc) != NGX_OK) {
            return rc;
        }

        r->main->count++;
        return NGX_DONE;
    }

    rc = ngx_http_read_client_request_body(r,
                                       ngx_http_oxmigrate_admin_body_handler);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_oxmigrate_admin_body_handler(ngx_http_request_t *r)
{
    uint64_t  t0;

    t0 = ngx_http_oxmigrate_admin_loop_start();
    ngx_http_oxmigrate_admin_body_read(r);
    /* the request may be finalized and freed by now */
    ngx_http_oxmigrate_admin_loop_end(t0, "a request's body",
                                      ngx_cycle->log);
}


static void
ngx_http_oxmigrate_admin_body_read(ngx_http_request_t *r)
{
    off_t                            len;
    size_t                           n;
    ssize_t                          got;
    ngx_int_t                        rc;
    ngx_buf_t                       *b;
    ngx_chain_t                     *cl;
    ngx_http_oxmigrate_admin_op_t   *op;
    ngx_http_oxmigrate_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_admin_module);
    op = ctx->op;

    len = 0;

    if (!ctx->too_large && r->request_body && r->request_body->bufs) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            len += ngx_buf_size(cl->buf);
        }
    }

    if (ctx->too_large || len > (off_t) op->conn.alcf->max_body) {
        op->preset = 1;
        ngx_cpystrn((u_char *) op->preset_code, (u_char *) "body_too_large",
                    sizeof(op->preset_code));
        ngx_snprintf((u_char *) op->preset_msg, sizeof(op->preset_msg) - 1,
                     "request body larger than %uz bytes%Z",
                     op->conn.alcf->max_body);
        len = 0;
    }

    op->args.body = ngx_pnalloc(r->pool, (size_t) len + 1);
    if (op->args.body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    n = 0;

    if (len) {
        for (cl = r->request_body->bufs; cl; cl = cl->next) {
            b = cl->buf;

            if (b->in_file) {
                /* a body beyond client_body_buffer_size, at most max_body */
                got = ngx_read_file(b->file, op->args.body + n,
                                    (size_t) (b->file_last - b->file_pos),
                                    b->file_pos);
                if (got != b->file_last - b->file_pos) {
                    ngx_http_finalize_request(r,
                                           NGX_HTTP_INTERNAL_SERVER_ERROR);
                    return;
                }

                n += got;
                continue;
            }

            /* the end mark of a chunked body is empty, its pos NULL */
            if (b->last > b->pos) {
                n = ngx_cpymem(op->args.body + n, b->pos, b->last - b->pos)
                    - op->args.body;
            }
        }
    }

    op->args.body[n] = '\0';
    op->args.body_len = n;

    if (ngx_http_oxmigrate_admin_dispatch(r, op, &rc) != NGX_OK) {
        ngx_http_finalize_request(r, rc);
    }
}


/*
 * NGX_OK: posted, the thread answers.  NGX_DECLINED: answered here (*rc is
 * what the content handler returns or the request is finalized with).
 */

static ngx_int_t
ngx_http_oxmigrate_admin_dispatch(ngx_http_request_t *r,
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t *rc)
{
    ngx_http_oxmigrate_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_admin_module);

    ctx->task->handler = ngx_http_oxmigrate_admin_thread;
    ctx->task->event.handler = ngx_http_oxmigrate_admin_thread_done;
    ctx->task->event.data = r;
    ctx->task->event.log = r->connection->log;

    /*
     * An update (runupdate, force, revert) holds its thread as long as
     * its tasks run: on the job pool, with the job steps, so that the
     * API's threads stay free for GET /jobs/{id}, pause and cancel.
     */

    if (ngx_thread_task_post(op->route->work
                             ? op->conn.alcf->job_pool : op->conn.alcf->thread_pool,
                             ctx->task)
        != NGX_OK)
    {
        *rc = ngx_http_oxmigrate_admin_send_error(r,
                         NGX_HTTP_SERVICE_UNAVAILABLE, "busy",
                         "the oxmigrate thread pool queue is full");
        return NGX_DECLINED;
    }

    r->main->blocked++;
    r->write_event_handler = ngx_http_oxmigrate_admin_wait_handler;

    /*
     * A timer that is not cancelable keeps a worker that is told to quit
     * gracefully (reload, -s quit) alive until the call is answered: a
     * request waiting for a thread has no timer of its own, and the worker
     * would exit under it ("open socket left").
     */
    ctx->keepalive.handler = ngx_http_oxmigrate_admin_keepalive;
    ctx->keepalive.data = r;
    ctx->keepalive.log = r->connection->log;
    ngx_add_timer(&ctx->keepalive, 1000);

    return NGX_OK;
}


static void
ngx_http_oxmigrate_admin_keepalive(ngx_event_t *ev)
{
    ngx_add_timer(ev, 1000);
}


/* thread: the call itself */

static void
ngx_http_oxmigrate_admin_thread(void *data, ngx_log_t *log)
{
    ngx_int_t                       rc;
    ngx_http_oxmigrate_admin_op_t  *op = data;

    ngx_http_oxmigrate_admin_thread_init();

    op->conn.pool = ngx_create_pool(16384, op->conn.log);
    if (op->conn.pool == NULL) {
        op->status = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return;
    }

    if (op->preset) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       op->preset_code, "%s", op->preset_msg);

    } else if (ngx_http_oxmigrate_admin_body_parse(op) == NGX_OK) {
        if (op->route->action) {
            ngx_http_oxmigrate_admin_audit_start(op);
        }

        rc = op->route->service(&op->conn, &op->args, &op->res);
        op->route->answer(op, rc);

        op->job = op->res.job;
        op->no_audit = op->res.no_audit;
    }

    if (op->job) {
        /* its database hosts by address: a lookup, never on the loop */
        ngx_http_oxmigrate_admin_job_prepare(op->job);
    }

    if (op->route->action) {
        ngx_http_oxmigrate_admin_audit(op);
    }

    if (op->conn.db) {
        mysql_close(op->conn.db);
        op->conn.db = NULL;
    }

    if (op->json) {
        yajl_tree_free(op->json);
        op->json = NULL;
    }

    ngx_destroy_pool(op->conn.pool);
    op->conn.pool = NULL;
}


static void
ngx_http_oxmigrate_admin_thread_done(ngx_event_t *ev)
{
    uint64_t  t0;

    t0 = ngx_http_oxmigrate_admin_loop_start();
    ngx_http_oxmigrate_admin_answered(ev);

    /* ev was in the request's pool: it may be gone */
    ngx_http_oxmigrate_admin_loop_end(t0, "an answer", ngx_cycle->log);
}


static void
ngx_http_oxmigrate_admin_answered(ngx_event_t *ev)
{
    void                            *job;
    ngx_connection_t                *c;
    ngx_http_request_t              *r;
    ngx_http_oxmigrate_admin_ctx_t  *ctx;

    r = ev->data;
    c = r->connection;

    ngx_http_set_log_request(c->log, r);

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_admin_module);

    r->main->blocked--;
    ctx->done = 1;

    if (ctx->keepalive.timer_set) {
        ngx_del_timer(&ctx->keepalive);
    }

    /* the request may be freed below; the job outlives it */
    job = ctx->op->job;
    ctx->op->job = NULL;

    if (r->write_event_handler == ngx_http_oxmigrate_admin_wait_handler) {
        r->write_event_handler = ngx_http_oxmigrate_admin_reply_handler;
    }

    r->write_event_handler(r);

    if (job) {
        ngx_http_oxmigrate_admin_job_start(job);
    }

    ngx_http_run_posted_requests(c);
}


static void
ngx_http_oxmigrate_admin_wait_handler(ngx_http_request_t *r)
{
    /* a write event while the thread works: nothing to write yet */
}


static void
ngx_http_oxmigrate_admin_reply_handler(ngx_http_request_t *r)
{
    size_t                           len;
    ngx_int_t                        rc;
    const unsigned char             *buf;
    ngx_http_oxmigrate_admin_op_t   *op;
    ngx_http_oxmigrate_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_admin_module);
    op = ctx->op;

    r->write_event_handler = ngx_http_request_empty_handler;

    if (op->gen == NULL
        || yajl_gen_get_buf(op->gen, &buf, &len) != yajl_gen_status_ok)
    {
        rc = ngx_http_oxmigrate_admin_send_error(r,
                         NGX_HTTP_INTERNAL_SERVER_ERROR, "internal",
                         "the call failed, see the error log");

    } else {
        /* op->gen lives until the request's pool goes: sent in place */
        rc = ngx_http_oxmigrate_admin_send(r, op->status, buf, len, 0);
    }

    ngx_http_oxmigrate_metrics_admin(
        ngx_http_oxmigrate_admin_route_index(op->route),
        op->gen ? op->status : NGX_HTTP_INTERNAL_SERVER_ERROR);

    ngx_http_finalize_request(r, rc);
}


static void
ngx_http_oxmigrate_admin_cleanup(void *data)
{
    ngx_http_oxmigrate_admin_op_t  *op = data;

    if (op->gen) {
        yajl_gen_free(op->gen);
        op->gen = NULL;
    }

    if (op->job) {
        ngx_http_oxmigrate_admin_job_free(op->job);
        op->job = NULL;
    }
}


/*
 * The answer: BODY and a newline.  COPY: BODY goes away once this
 * returns; else it lives as long as the request (op->gen, 650 kB for a
 * job of 5000 schemas, is sent where it is: no copy on the event loop).
 */

static ngx_int_t
ngx_http_oxmigrate_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    const u_char *body, size_t len, ngx_uint_t copy)
{
    ngx_int_t     rc;
    ngx_buf_t    *b, *nl;
    ngx_chain_t   out[2];

    r->headers_out.status = status;
    r->headers_out.content_length_n = len + 1;
    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    if (copy) {
        b = ngx_create_temp_buf(r->pool, len + 1);
        if (b == NULL) {
            return NGX_ERROR;
        }

        b->last = ngx_cpymem(b->last, body, len);
        *b->last++ = '\n';
        b->last_buf = 1;
        b->last_in_chain = 1;

        out[0].buf = b;
        out[0].next = NULL;

        return ngx_http_output_filter(r, &out[0]);
    }

    b = ngx_calloc_buf(r->pool);
    nl = ngx_calloc_buf(r->pool);
    if (b == NULL || nl == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) body;
    b->last = (u_char *) body + len;
    b->memory = len ? 1 : 0;

    nl->pos = (u_char *) "\n";
    nl->last = nl->pos + 1;
    nl->memory = 1;
    nl->last_buf = 1;
    nl->last_in_chain = 1;

    out[0].buf = b;
    out[0].next = &out[1];
    out[1].buf = nl;
    out[1].next = NULL;

    return ngx_http_output_filter(r, len ? &out[0] : &out[1]);
}


static ngx_int_t
ngx_http_oxmigrate_admin_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *msg)
{
    size_t                len;
    yajl_gen              g;
    ngx_int_t             rc;
    const unsigned char  *buf;

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_oxmigrate_admin_error_body(g, code, (u_char *) msg,
                                        ngx_strlen(msg));
    yajl_gen_map_close(g);

    yajl_gen_get_buf(g, &buf, &len);
    rc = ngx_http_oxmigrate_admin_send(r, status, buf, len, 1);
    yajl_gen_free(g);

    return rc;
}


/*
 * Counts a request body of an admin call while it is read.  Past
 * oxmigrate_admin_max_body (a chunked body, or one that lied about its
 * length) the rest is read and dropped, never buffered; only the end mark
 * goes on, so nginx finishes the body and the handler answers 400.
 */

ngx_int_t
ngx_http_oxmigrate_admin_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t                       *b;
    ngx_uint_t                       last;
    ngx_chain_t                     *cl, out;
    ngx_http_oxmigrate_admin_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_admin_module);

    if (ctx == NULL || in == NULL) {
        return ngx_http_oxmigrate_admin_next_body_filter(r, in);
    }

    if (!ctx->too_large) {
        for (cl = in; cl; cl = cl->next) {
            ctx->received += ngx_buf_size(cl->buf);
        }

        if (ctx->received > (off_t) ctx->op->conn.alcf->max_body) {
            ctx->too_large = 1;

        } else {
            return ngx_http_oxmigrate_admin_next_body_filter(r, in);
        }
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        if (cl->buf->last_buf) {
            last = 1;
        }

        cl->buf->pos = cl->buf->last;
    }

    if (!last) {
        return NGX_OK;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last_buf = 1;
    out.buf = b;
    out.next = NULL;

    return ngx_http_oxmigrate_admin_next_body_filter(r, &out);
}


