/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * The login router's decision and its answer: the decision table (which
 * the admin API's lookup repeats), and how each decision is answered for
 * what named the context: the OX JSON errors and redirects a login client
 * expects (ox-facts 2, 3), and for DAV, ActiveSync and share links what
 * those clients can follow (ox-facts 8).
 */


#include "ngx_http_oxmigrate_router.h"


static ngx_int_t ngx_http_oxmigrate_respond_other(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx);
static ngx_int_t ngx_http_oxmigrate_send(ngx_http_request_t *r,
    ngx_http_oxmigrate_oxerror_t *err, ngx_uint_t status);
static ngx_int_t ngx_http_oxmigrate_send_text(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *text);
static ngx_int_t ngx_http_oxmigrate_retry_after(ngx_http_request_t *r);
static ngx_int_t ngx_http_oxmigrate_redirect(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx);
static ngx_int_t ngx_http_oxmigrate_redirect_share(ngx_http_request_t *r);
static ngx_int_t ngx_http_oxmigrate_redirect_url(ngx_http_request_t *r,
    ngx_str_t *url);
static ngx_int_t ngx_http_oxmigrate_location(ngx_http_request_t *r,
    ngx_str_t *url, ngx_uint_t status);


/* the decision table of the login routing issue */

void
ngx_http_oxmigrate_decide(ngx_http_request_t *r, ngx_http_oxmigrate_ctx_t *ctx,
    ngx_int_t rc, ngx_http_oxmigrate_info_t *info)
{
    ngx_str_t                       *name;
    ngx_uint_t                       i;
    ngx_http_oxmigrate_loc_conf_t   *olcf;
    ngx_http_oxmigrate_main_conf_t  *omcf;

    if (rc != NGX_OK) {
        ctx->decision = NGX_HTTP_OXMIGRATE_ERROR;
        return;
    }

    if (!info->found) {
        ctx->decision = NGX_HTTP_OXMIGRATE_UNKNOWN;
        return;
    }

    ctx->found = 1;
    ctx->cid = info->cid;
    ctx->server_id = info->server_id;

    ctx->schema.data = ngx_pnalloc(r->pool, info->schema.len);
    if (ctx->schema.data) {
        ngx_memcpy(ctx->schema.data, info->schema.data, info->schema.len);
        ctx->schema.len = info->schema.len;
    }

    if (!info->enabled) {
        /* only the schema move is ours; other reasons the node explains */
        omcf = ngx_http_get_module_main_conf(r, ngx_http_oxmigrate_module);
        ctx->decision = (info->reason_id == omcf->maintenance_reason)
                        ? NGX_HTTP_OXMIGRATE_MAINTENANCE
                        : NGX_HTTP_OXMIGRATE_PASS;
        return;
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    name = olcf->servers->elts;
    for (i = 0; i < olcf->servers->nelts; i++) {
        if (name[i].len == info->server.len
            && ngx_strncmp(name[i].data, info->server.data, name[i].len) == 0)
        {
            ctx->decision = NGX_HTTP_OXMIGRATE_PASS;
            return;
        }
    }

    /*
     * The context lives on another server.  The primary balancer sends the
     * user over (as migrationRedirectURL does on the old nodes); the
     * secondary never redirects, which could loop, and answers CTX-0012.
     */

    ctx->decision = olcf->redirect_url ? NGX_HTTP_OXMIGRATE_REDIRECT
                                       : NGX_HTTP_OXMIGRATE_CTX0012;
}


ngx_int_t
ngx_http_oxmigrate_respond(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx)
{
    u_char                          params[2 * NGX_INT_T_LEN + 4];
    u_char                          desc[128];
    ngx_http_oxmigrate_oxerror_t    err;
    ngx_int_t                       rc;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    if (ctx->decision == NGX_HTTP_OXMIGRATE_MAINTENANCE) {
        /* oxmigrate_hold: wait for the context to come back */
        rc = ngx_http_oxmigrate_hold(r, ctx);
        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    if (ctx->held_pending) {
        /* a released request is counted once, by the answer it gets */
        ngx_http_oxmigrate_hold_counted(ctx);
    }

    ngx_http_oxmigrate_metrics_decision(ctx->kind, ctx->decision);

    if (ctx->kind != NGX_HTTP_OXMIGRATE_KIND_LOGIN) {
        return ngx_http_oxmigrate_respond_other(r, ctx);
    }

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: login decision %ui", (ngx_uint_t) ctx->decision);

    switch (ctx->decision) {

    case NGX_HTTP_OXMIGRATE_REDIRECT:
        return ngx_http_oxmigrate_redirect(r, ctx);

    case NGX_HTTP_OXMIGRATE_CTX0012:
        err.code = "CTX-0012";
        err.category = "ERROR";
        err.category_num = 8;
        ngx_str_set(&err.error, "An error occurred inside the server which "
                    "prevented it from fulfilling the request.");
        err.error_desc.data = desc;
        err.error_desc.len = ngx_snprintf(desc, sizeof(desc),
                                 "The context %ui is located in server with "
                                 "id %ui", ctx->cid, ctx->server_id)
                             - desc;
        err.params.data = params;
        err.params.len = ngx_sprintf(params, "[%ui,%ui]", ctx->cid,
                                     ctx->server_id)
                         - params;

        return ngx_http_oxmigrate_send(r, &err, NGX_HTTP_OK);

    case NGX_HTTP_OXMIGRATE_MAINTENANCE:
        if (!olcf->maintenance) {
            return NGX_DECLINED;
        }

        if (ngx_http_oxmigrate_retry_after(r) != NGX_OK) {
            return NGX_ERROR;
        }

        err.code = "CTX-0007";
        err.category = "TRY_AGAIN";
        err.category_num = 4;
        ngx_str_set(&err.error, "The server is currently down for "
                    "maintenance. Please try again later.");
        ngx_str_set(&err.error_desc, "Updating database ... Try again later.");
        ngx_str_set(&err.params, "[]");

        return ngx_http_oxmigrate_send(r, &err, NGX_HTTP_OK);

    case NGX_HTTP_OXMIGRATE_ERROR:
        if (olcf->on_error == NGX_HTTP_OXMIGRATE_ON_ERROR_PASS) {
            return NGX_DECLINED;
        }

        err.code = "LGI-0005";
        err.category = "SERVICE_DOWN";
        err.category_num = 5;
        ngx_str_set(&err.error, "Login not possible at the moment. "
                    "Please try again later.");
        ngx_str_set(&err.error_desc, "Login not possible at the moment.");
        ngx_str_set(&err.params, "[]");

        return ngx_http_oxmigrate_send(r, &err,
                                       NGX_HTTP_SERVICE_UNAVAILABLE);

    default: /* pass, unknown */
        return NGX_DECLINED;
    }
}


/* answers from the access phase and ends the request there */

static ngx_int_t
ngx_http_oxmigrate_send(ngx_http_request_t *r,
    ngx_http_oxmigrate_oxerror_t *err, ngx_uint_t status)
{
    ngx_http_finalize_request(r, ngx_http_oxmigrate_send_oxerror(r, err,
                                                                 status));
    return NGX_DONE;
}


static ngx_int_t
ngx_http_oxmigrate_redirect(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx)
{
    u_char                         *p;
    ngx_int_t                       rc;
    ngx_str_t                       url;
    ngx_http_oxmigrate_oxerror_t    err;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    rc = ngx_http_oxmigrate_redirect_url(r, &url);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ctx->json_client && olcf->redirect_json) {

        /*
         * The App Suite UI follows LGI-0016 like a 302 when it carries
         * exactly one parameter, the bare URL.
         */

        err.code = "LGI-0016";
        err.category = "USER_INPUT";
        err.category_num = 1;
        err.error = url;
        err.error_desc = url;

        err.params.len = sizeof("[\"\"]") - 1
                         + ngx_http_oxmigrate_json_escape(NULL, url.data,
                                                          url.len);
        err.params.data = ngx_pnalloc(r->pool, err.params.len);
        if (err.params.data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_cpymem(err.params.data, "[\"", 2);
        p += ngx_http_oxmigrate_json_escape(p, url.data, url.len);
        ngx_memcpy(p, "\"]", 2);

        return ngx_http_oxmigrate_send(r, &err, NGX_HTTP_OK);
    }

    return ngx_http_oxmigrate_location(r, &url, olcf->redirect_status);
}


/*
 * A share link of a moved context: 302 to the redirect URL plus the
 * path, as OX's share servlet answers with migrationRedirectURL +
 * servletPath + pathInfo (never the query string: it may carry a session
 * or a password).  A URL without variables is taken as it is (a trailing
 * '/' dropped); one with variables ("https://host$request_uri", the form
 * logins want) gives only its origin, scheme://host[:port], so neither
 * the path nor the query comes twice, whatever the variables were.
 */

static ngx_int_t
ngx_http_oxmigrate_redirect_share(ngx_http_request_t *r)
{
    u_char                         *p, *q, *end;
    size_t                          plen;
    ngx_int_t                       rc;
    ngx_str_t                       url, full;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    rc = ngx_http_oxmigrate_redirect_url(r, &url);
    if (rc != NGX_OK) {
        return rc;
    }

    end = url.data + url.len;
    p = ngx_strlcasestrn(url.data, end, (u_char *) "://", 3 - 1);

    if (olcf->redirect_url->lengths && p) {
        /* the origin: up to the path, query or fragment */
        for (p += 3; p < end && *p != '/' && *p != '?' && *p != '#'; p++) {
            /* void */
        }

        url.len = p - url.data;

    } else {
        q = ngx_strlchr(url.data, end, '?');
        if (q) {
            url.len = q - url.data;
        }
    }

    while (url.len && url.data[url.len - 1] == '/') {
        url.len--;
    }

    /* the path as the client sent it, still percent-encoded */

    p = r->unparsed_uri.data;
    q = ngx_strlchr(p, p + r->unparsed_uri.len, '?');
    plen = (q ? q : p + r->unparsed_uri.len) - p;

    full.len = url.len + plen;
    full.data = ngx_pnalloc(r->pool, full.len);
    if (full.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(full.data, url.data, url.len), p, plen);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: share link moved: \"%V\"", &full);

    return ngx_http_oxmigrate_location(r, &full, NGX_HTTP_MOVED_TEMPORARILY);
}


/*
 * oxmigrate_redirect_url evaluated.  A variable such as $uri is decoded:
 * "%0d%0a" in the path would split the Location header.  A URL with any
 * control byte is refused, in the JSON answer too (a browser would not
 * follow it anyway).
 */

static ngx_int_t
ngx_http_oxmigrate_redirect_url(ngx_http_request_t *r, ngx_str_t *url)
{
    u_char                         *p;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    if (ngx_http_complex_value(r, olcf->redirect_url, url) != NGX_OK) {
        return NGX_ERROR;
    }

    for (p = url->data; p < url->data + url->len; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "oxmigrate: \"oxmigrate_redirect_url\" gave a URL "
                          "with the control byte 0x%02xui at offset %uz, "
                          "refused (use $request_uri, never $uri)",
                          (ngx_uint_t) *p, (size_t) (p - url->data));
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_OK;
}


/* an HTTP redirect: the access phase answers with status and Location */

static ngx_int_t
ngx_http_oxmigrate_location(ngx_http_request_t *r, ngx_str_t *url,
    ngx_uint_t status)
{
    ngx_table_elt_t  *location;

    ngx_http_clear_location(r);

    location = ngx_list_push(&r->headers_out.headers);
    if (location == NULL) {
        return NGX_ERROR;
    }

    location->hash = 1;
    ngx_str_set(&location->key, "Location");
    location->value = *url;

    r->headers_out.location = location;

    return status;
}


/*
 * DAV, ActiveSync (HTTP Basic) and share links (ox-facts 8): these clients
 * read no OX JSON and rarely follow redirects.  A moved Basic request
 * passes with $oxmigrate_decision "redirect" (primary) or "ctx0012"
 * (secondary), for the site to route it (map + proxy_pass); a moved share
 * link on the primary gets OX's 302; maintenance and a failed lookup
 * (on_error fail) get 503 with Retry-After and a line of text, which DAV
 * and EAS clients retry.
 */

static ngx_int_t
ngx_http_oxmigrate_respond_other(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx)
{
    ngx_str_t                       text;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: %s decision %ui",
                   ctx->kind == NGX_HTTP_OXMIGRATE_KIND_SHARE ? "share"
                                                               : "basic",
                   (ngx_uint_t) ctx->decision);

    switch (ctx->decision) {

    case NGX_HTTP_OXMIGRATE_REDIRECT:
        if (ctx->kind == NGX_HTTP_OXMIGRATE_KIND_SHARE) {
            return ngx_http_oxmigrate_redirect_share(r);
        }

        return NGX_DECLINED;

    case NGX_HTTP_OXMIGRATE_MAINTENANCE:
        if (!olcf->maintenance) {
            return NGX_DECLINED;
        }

        ngx_str_set(&text, "The server is currently down for maintenance. "
                    "Please try again later.\n");
        break;

    case NGX_HTTP_OXMIGRATE_ERROR:
        if (olcf->on_error == NGX_HTTP_OXMIGRATE_ON_ERROR_PASS) {
            return NGX_DECLINED;
        }

        ngx_str_set(&text, "The service is not available at the moment. "
                    "Please try again later.\n");
        break;

    default: /* pass, unknown, ctx0012: the site decides */
        return NGX_DECLINED;
    }

    if (ngx_http_oxmigrate_retry_after(r) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_oxmigrate_send_text(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        &text);
}


static ngx_int_t
ngx_http_oxmigrate_retry_after(ngx_http_request_t *r)
{
    ngx_table_elt_t                *h;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Retry-After");
    h->value.data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
    if (h->value.data == NULL) {
        return NGX_ERROR;
    }

    h->value.len = ngx_sprintf(h->value.data, "%T", olcf->retry_after)
                   - h->value.data;

    return NGX_OK;
}


/* a short text/plain answer from the access phase; ends the request */

static ngx_int_t
ngx_http_oxmigrate_send_text(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *text)
{
    ngx_str_t   type = ngx_string("text/plain; charset=UTF-8");
    ngx_buf_t  *b;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        ngx_http_finalize_request(r, NGX_ERROR);
        return NGX_DONE;
    }

    b->pos = text->data;
    b->last = text->data + text->len;
    b->memory = 1;

    ngx_http_finalize_request(r, ngx_http_oxmigrate_send_buf(r, status,
                                     &type, sizeof("text/plain") - 1, b));
    return NGX_DONE;
}
