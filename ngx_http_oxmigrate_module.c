/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * ngx_http_oxmigrate_module: routes Open-Xchange logins during a
 * zero-downtime, schema-by-schema middleware upgrade.
 *
 * On a login (a request whose "action" argument is one of
 * oxmigrate_login_actions) the access handler takes the login name from the
 * form body (the query string for GET), resolves its context part to the
 * context's server through shared memory, Redis and the configdb, and lets
 * the login pass, redirects it to the upgraded cluster, or answers with the
 * OX error a node would give (CTX-0012, CTX-0007, LGI-0005).  Nothing here
 * blocks: the body is read and the lookup runs on nginx's event loop while
 * the request is suspended.
 */


#include "ngx_http_oxmigrate_router.h"
#include "oxm_login.h"


#define NGX_HTTP_OXMIGRATE_LOGIN_MAX  4096
#define NGX_HTTP_OXMIGRATE_READ_SIZE  4096    /* a temp file, per read */



static ngx_int_t ngx_http_oxmigrate_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_oxmigrate_start(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx);
static void ngx_http_oxmigrate_body_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_oxmigrate_body_login(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, u_char *out, size_t *out_len);
static ngx_uint_t ngx_http_oxmigrate_login_action(ngx_http_request_t *r,
    ngx_http_oxmigrate_loc_conf_t *olcf, u_char *action, size_t *n);
static ngx_http_oxmigrate_ctx_t *ngx_http_oxmigrate_new_ctx(
    ngx_http_request_t *r, ngx_http_oxmigrate_kind_e kind);
static ngx_int_t ngx_http_oxmigrate_start_login(ngx_http_request_t *r,
    u_char *action, size_t n);
static ngx_int_t ngx_http_oxmigrate_start_share(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t **ctxp);
static ngx_int_t ngx_http_oxmigrate_start_basic(ngx_http_request_t *r);
static ngx_int_t ngx_http_oxmigrate_resolve(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, u_char *login, size_t len);
static ngx_int_t ngx_http_oxmigrate_lookup_key(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx);
static void ngx_http_oxmigrate_lookup_done(ngx_http_oxmigrate_waiter_t *w);
static void ngx_http_oxmigrate_cleanup(void *data);

static ngx_int_t ngx_http_oxmigrate_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_oxmigrate_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static void *ngx_http_oxmigrate_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_oxmigrate_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_oxmigrate_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_oxmigrate_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_oxmigrate_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_oxmigrate_init_process(ngx_cycle_t *cycle);
static void ngx_http_oxmigrate_exit_process(ngx_cycle_t *cycle);


static ngx_conf_enum_t  ngx_http_oxmigrate_on_error[] = {
    { ngx_string("pass"), NGX_HTTP_OXMIGRATE_ON_ERROR_PASS },
    { ngx_string("fail"), NGX_HTTP_OXMIGRATE_ON_ERROR_FAIL },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oxmigrate_nonascii[] = {
    { ngx_string("pass"), 0 },
    { ngx_string("lookup"), 1 },
    { ngx_null_string, 0 }
};


static ngx_conf_enum_t  ngx_http_oxmigrate_redirect_statuses[] = {
    { ngx_string("301"), NGX_HTTP_MOVED_PERMANENTLY },
    { ngx_string("302"), NGX_HTTP_MOVED_TEMPORARILY },
    { ngx_string("303"), NGX_HTTP_SEE_OTHER },
    { ngx_string("307"), NGX_HTTP_TEMPORARY_REDIRECT },
    { ngx_string("308"), NGX_HTTP_PERMANENT_REDIRECT },
    { ngx_null_string, 0 }
};


static ngx_conf_bitmask_t  ngx_http_oxmigrate_identify[] = {
    { ngx_string("login"), NGX_HTTP_OXMIGRATE_ID_LOGIN },
    { ngx_string("basic"), NGX_HTTP_OXMIGRATE_ID_BASIC },
    { ngx_string("share"), NGX_HTTP_OXMIGRATE_ID_SHARE },
    { ngx_null_string, 0 }
};


static ngx_command_t  ngx_http_oxmigrate_commands[] = {

    { ngx_string("oxmigrate_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_db,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_main_conf_t, db),
      NULL },

    /* the admin API's own configdb user (admin-api/), same syntax */
    { ngx_string("oxmigrate_admin_db"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_db,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_main_conf_t, admin_db),
      NULL },

    { ngx_string("oxmigrate_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_cache,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_oxmigrate_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate_maintenance_reason"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_main_conf_t, maintenance_reason),
      NULL },

    { ngx_string("oxmigrate_nonascii_names"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_main_conf_t, nonascii),
      &ngx_http_oxmigrate_nonascii },

    { ngx_string("oxmigrate_changes_hole_time"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_main_conf_t, hole_time),
      NULL },

    { ngx_string("oxmigrate_test_clock"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_oxmigrate_test_clock,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("oxmigrate"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, enable),
      NULL },

    { ngx_string("oxmigrate_server"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_names_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, servers),
      NULL },

    { ngx_string("oxmigrate_redirect_url"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, redirect_url),
      NULL },

    { ngx_string("oxmigrate_redirect_status"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, redirect_status),
      &ngx_http_oxmigrate_redirect_statuses },

    { ngx_string("oxmigrate_redirect_json"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, redirect_json),
      NULL },

    { ngx_string("oxmigrate_maintenance"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, maintenance),
      NULL },

    { ngx_string("oxmigrate_on_error"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, on_error),
      &ngx_http_oxmigrate_on_error },

    { ngx_string("oxmigrate_login_actions"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_names_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, actions),
      NULL },

    { ngx_string("oxmigrate_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, retry_after),
      NULL },

    { ngx_string("oxmigrate_identify"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_conf_set_bitmask_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_oxmigrate_loc_conf_t, identify),
      &ngx_http_oxmigrate_identify },

    { ngx_string("oxmigrate_hold"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_oxmigrate_conf_hold,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_oxmigrate_module_ctx = {
    ngx_http_oxmigrate_add_variables,      /* preconfiguration */
    ngx_http_oxmigrate_init,               /* postconfiguration */

    ngx_http_oxmigrate_create_main_conf,   /* create main configuration */
    ngx_http_oxmigrate_init_main_conf,     /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_oxmigrate_create_loc_conf,    /* create location configuration */
    ngx_http_oxmigrate_merge_loc_conf      /* merge location configuration */
};


ngx_module_t  ngx_http_oxmigrate_module = {
    NGX_MODULE_V1,
    &ngx_http_oxmigrate_module_ctx,        /* module context */
    ngx_http_oxmigrate_commands,           /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_oxmigrate_init_process,       /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_oxmigrate_exit_process,       /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


enum {
    NGX_HTTP_OXMIGRATE_VAR_CONTEXT_ID = 0,
    NGX_HTTP_OXMIGRATE_VAR_SERVER_ID,
    NGX_HTTP_OXMIGRATE_VAR_SCHEMA,
    NGX_HTTP_OXMIGRATE_VAR_DECISION,
    NGX_HTTP_OXMIGRATE_VAR_CACHE,
    NGX_HTTP_OXMIGRATE_VAR_HELD
};


static ngx_http_variable_t  ngx_http_oxmigrate_vars[] = {

    { ngx_string("oxmigrate_context_id"), NULL, ngx_http_oxmigrate_variable,
      NGX_HTTP_OXMIGRATE_VAR_CONTEXT_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oxmigrate_server_id"), NULL, ngx_http_oxmigrate_variable,
      NGX_HTTP_OXMIGRATE_VAR_SERVER_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oxmigrate_schema"), NULL, ngx_http_oxmigrate_variable,
      NGX_HTTP_OXMIGRATE_VAR_SCHEMA, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oxmigrate_decision"), NULL, ngx_http_oxmigrate_variable,
      NGX_HTTP_OXMIGRATE_VAR_DECISION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oxmigrate_cache"), NULL, ngx_http_oxmigrate_variable,
      NGX_HTTP_OXMIGRATE_VAR_CACHE, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("oxmigrate_held"), NULL, ngx_http_oxmigrate_variable,
      NGX_HTTP_OXMIGRATE_VAR_HELD, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_oxmigrate_decisions[] = {
    ngx_string("pass"),
    ngx_string("redirect"),
    ngx_string("ctx0012"),
    ngx_string("maintenance"),
    ngx_string("unknown"),
    ngx_string("error")
};


static ngx_str_t  ngx_http_oxmigrate_sources[] = {
    ngx_null_string,
    ngx_string("shm"),
    ngx_string("redis"),
    ngx_string("db"),
    ngx_string("stale")
};


/* the access handler: re-entered on every run of the phases */

static ngx_int_t
ngx_http_oxmigrate_handler(ngx_http_request_t *r)
{
    u_char                          login[NGX_HTTP_OXMIGRATE_LOGIN_MAX];
    size_t                          len;
    ngx_int_t                       rc;
    ngx_http_oxmigrate_ctx_t       *ctx;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    if (!olcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_module);

    if (ctx == NULL) {
        return ngx_http_oxmigrate_start(r, ctx);
    }

    switch (ctx->state) {

    case NGX_HTTP_OXMIGRATE_STATE_BODY_DONE:
        rc = ngx_http_oxmigrate_body_login(r, ctx, login, &len);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_oxmigrate_resolve(r, ctx, login, len);

    case NGX_HTTP_OXMIGRATE_STATE_DONE:
        return ngx_http_oxmigrate_respond(r, ctx);

    case NGX_HTTP_OXMIGRATE_STATE_AGAIN:
        /* released by oxmigrate_hold: decided as if it had just come */
        return ngx_http_oxmigrate_lookup_key(r, ctx);

    default: /* still waiting for the body, the lookup or held */
        return NGX_AGAIN;
    }
}


/*
 * What names the context (oxmigrate_identify): a login action, else a
 * share link's token, else an HTTP Basic user.  Anything else passes
 * untouched, its body unread.
 */

static ngx_int_t
ngx_http_oxmigrate_start(ngx_http_request_t *r, ngx_http_oxmigrate_ctx_t *ctx)
{
    u_char                          action[64];
    size_t                          n;
    ngx_http_oxmigrate_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_oxmigrate_module);

    if ((olcf->identify & NGX_HTTP_OXMIGRATE_ID_LOGIN)
        && ngx_http_oxmigrate_login_action(r, olcf, action, &n))
    {
        return ngx_http_oxmigrate_start_login(r, action, n);
    }

    if (olcf->identify & NGX_HTTP_OXMIGRATE_ID_SHARE) {
        switch (ngx_http_oxmigrate_start_share(r, &ctx)) {
        case NGX_OK:
            return ngx_http_oxmigrate_lookup_key(r, ctx);
        case NGX_ERROR:
            return NGX_ERROR;
        default:  /* NGX_DECLINED: not a share link */
            break;
        }
    }

    if ((olcf->identify & NGX_HTTP_OXMIGRATE_ID_BASIC)
        && r->headers_in.authorization)
    {
        return ngx_http_oxmigrate_start_basic(r);
    }

    return NGX_DECLINED;
}


/* 1 when the request is a login: its "action" is a login action */

static ngx_uint_t
ngx_http_oxmigrate_login_action(ngx_http_request_t *r,
    ngx_http_oxmigrate_loc_conf_t *olcf, u_char *action, size_t *n)
{
    ngx_str_t   *a;
    ngx_uint_t   i;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_POST))) {
        return 0;
    }

    if (oxm_form_field(r->args.data, r->args.len, "action", 6,
                       action, 64, n)
        != OXM_LOGIN_OK)
    {
        return 0;
    }

    a = olcf->actions->elts;
    for (i = 0; i < olcf->actions->nelts; i++) {
        if (a[i].len == *n && ngx_strncmp(a[i].data, action, *n) == 0) {
            return 1;
        }
    }

    return 0;
}


static ngx_http_oxmigrate_ctx_t *
ngx_http_oxmigrate_new_ctx(ngx_http_request_t *r,
    ngx_http_oxmigrate_kind_e kind)
{
    ngx_http_oxmigrate_ctx_t  *ctx;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_oxmigrate_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    ctx->request = r;
    ctx->kind = kind;
    ngx_http_set_ctx(r, ctx, ngx_http_oxmigrate_module);

    return ctx;
}


/*
 * A share link: the token's cid is looked up by cid, under its own key
 * kind.  NGX_OK: *ctxp is the request's ctx; NGX_DECLINED: not a share
 * link; NGX_ERROR: no memory.  A path that is not a token is "unknown"
 * (ctx->key empty: it passes).
 */

static ngx_int_t
ngx_http_oxmigrate_start_share(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t **ctxp)
{
    int                        rc;
    unsigned long              cid;
    ngx_http_oxmigrate_ctx_t  *ctx;

    rc = oxm_share_cid(r->uri.data, r->uri.len, &cid);

    if (rc == OXM_LOGIN_NOT_FOUND) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_oxmigrate_new_ctx(r, NGX_HTTP_OXMIGRATE_KIND_SHARE);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    *ctxp = ctx;

    if (rc != OXM_LOGIN_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "oxmigrate: share path without a valid token");
        return NGX_OK;     /* ctx->key empty: unknown */
    }

    ctx->key.data = ngx_pnalloc(r->pool, NGX_HTTP_OXMIGRATE_CID_KEY_LEN
                                         + NGX_INT_T_LEN);
    if (ctx->key.data == NULL) {
        return NGX_ERROR;
    }

    ctx->key.len = ngx_sprintf(ngx_cpymem(ctx->key.data,
                                          NGX_HTTP_OXMIGRATE_CID_KEY,
                                          NGX_HTTP_OXMIGRATE_CID_KEY_LEN),
                               "%ul", cid)
                   - ctx->key.data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: share link of context %ul", cid);

    return NGX_OK;
}


/*
 * HTTP Basic (DAV, ActiveSync): the user name before the colon names the
 * context like a login name.  The password is never decoded into memory;
 * the body is never read.  Another scheme (Bearer, ...) passes untouched.
 */

static ngx_int_t
ngx_http_oxmigrate_start_basic(ngx_http_request_t *r)
{
    u_char                     user[NGX_HTTP_OXMIGRATE_LOGIN_MAX];
    int                        rc;
    size_t                     len;
    ngx_str_t                 *v;
    ngx_http_oxmigrate_ctx_t  *ctx;

    v = &r->headers_in.authorization->value;

    rc = oxm_basic_user(v->data, v->len, user, sizeof(user), &len);

    if (rc == OXM_LOGIN_NOT_FOUND) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_oxmigrate_new_ctx(r, NGX_HTTP_OXMIGRATE_KIND_BASIC);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: basic credentials: %s",
                   rc == OXM_LOGIN_OK ? "a user name" : "malformed");

    return ngx_http_oxmigrate_resolve(r, ctx, user,
                                      rc == OXM_LOGIN_OK ? len : 0);
}


static ngx_int_t
ngx_http_oxmigrate_start_login(ngx_http_request_t *r, u_char *action,
    size_t n)
{
    u_char                     login[NGX_HTTP_OXMIGRATE_LOGIN_MAX];
    size_t                     len;
    ngx_int_t                  rc;
    ngx_str_t                  type;
    ngx_http_oxmigrate_ctx_t  *ctx;

    ctx = ngx_http_oxmigrate_new_ctx(r, NGX_HTTP_OXMIGRATE_KIND_LOGIN);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    /* the App Suite UI's JSON login names the user "name", forms "login" */

    if (n == 9 && ngx_strncmp(action, "formlogin", 9) == 0) {
        ngx_str_set(&ctx->field, "login");

    } else {
        ngx_str_set(&ctx->field, "name");
        ctx->json_client = (n == 5 && ngx_strncmp(action, "login", 5) == 0);
    }

    if (r->method == NGX_HTTP_GET) {
        rc = oxm_form_field(r->args.data, r->args.len,
                            (char *) ctx->field.data, ctx->field.len,
                            login, sizeof(login), &len);

        return ngx_http_oxmigrate_resolve(r, ctx, login,
                                          rc == OXM_LOGIN_OK ? len : 0);
    }

    /*
     * POST: the credentials are in the body, never trusted from the query
     * string (ox-facts 1); only a form body names a login.
     */

    type.len = 0;

    if (r->headers_in.content_type) {
        type = r->headers_in.content_type->value;
    }

    n = sizeof("application/x-www-form-urlencoded") - 1;

    /* the media type whole, optionally followed by parameters */
    if (type.len < n
        || ngx_strncasecmp(type.data,
                           (u_char *) "application/x-www-form-urlencoded", n)
           != 0
        || (type.len > n && type.data[n] != ';' && type.data[n] != ' '
            && type.data[n] != '\t'))
    {
        return ngx_http_oxmigrate_resolve(r, ctx, login, 0);
    }

    ctx->state = NGX_HTTP_OXMIGRATE_STATE_BODY;

    rc = ngx_http_read_client_request_body(r,
                                           ngx_http_oxmigrate_body_handler);

    if (rc == NGX_ERROR || rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /*
     * Give back the reference the body reader took, as the mirror module
     * does, here and not in the body handler: when the body fails later (a
     * bad chunk, too large, a timeout, the client gone) nginx finalizes the
     * request with 400/408/413 itself and never calls the body handler; a
     * reference kept until then would keep the connection open forever.
     */

    ngx_http_finalize_request(r, NGX_DONE);

    if (ctx->state == NGX_HTTP_OXMIGRATE_STATE_BODY) {
        ctx->suspended = 1;
        return NGX_DONE;
    }

    /* the whole body was there already */

    rc = ngx_http_oxmigrate_body_login(r, ctx, login, &len);
    if (rc != NGX_OK) {
        return rc;
    }

    return ngx_http_oxmigrate_resolve(r, ctx, login, len);
}


static void
ngx_http_oxmigrate_body_handler(ngx_http_request_t *r)
{
    ngx_http_oxmigrate_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_module);

    ctx->state = NGX_HTTP_OXMIGRATE_STATE_BODY_DONE;

    if (ctx->suspended) {
        ctx->suspended = 0;
        r->write_event_handler = ngx_http_core_run_phases;
        ngx_http_core_run_phases(r);
    }
}


/*
 * Finds the login field in the body.  The body may be split over several
 * buffers or lie in a temporary file; proxy_pass sends the same buffers
 * later, so they are only read, never consumed.  The search is incremental
 * (oxm_form_scan): memory buffers are scanned where they are, a file is read
 * in pieces of NGX_HTTP_OXMIGRATE_READ_SIZE, and the search stops as soon as
 * the field is decided.  A login costs the scanner's state and the login
 * buffer, whatever the size of the body.
 */

static ngx_int_t
ngx_http_oxmigrate_body_login(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, u_char *out, size_t *out_len)
{
    u_char           buf[NGX_HTTP_OXMIGRATE_READ_SIZE];
    int              rc;
    off_t            off;
    size_t           size;
    ssize_t          n;
    ngx_buf_t       *b;
    ngx_chain_t     *cl;
    oxm_form_scan_t  scan;

    *out_len = 0;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        return NGX_OK;
    }

    oxm_form_scan_init(&scan, (char *) ctx->field.data, ctx->field.len, out,
                       NGX_HTTP_OXMIGRATE_LOGIN_MAX);
    rc = OXM_LOGIN_AGAIN;

    for (cl = r->request_body->bufs; cl && rc == OXM_LOGIN_AGAIN;
         cl = cl->next)
    {
        b = cl->buf;

        if (ngx_buf_in_memory(b)) {
            rc = oxm_form_scan(&scan, b->pos, b->last - b->pos);
            continue;
        }

        if (!b->in_file) {
            /* a special buffer: the empty last one of a chunked body */
            continue;
        }

        for (off = b->file_pos; off < b->file_last && rc == OXM_LOGIN_AGAIN;
             off += n)
        {
            size = (size_t) ngx_min(b->file_last - off, (off_t) sizeof(buf));

            n = ngx_read_file(b->file, buf, size, off);

            if (n != (ssize_t) size) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "oxmigrate: cannot read the body from \"%V\"",
                              &b->file->name);
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            rc = oxm_form_scan(&scan, buf, size);
        }
    }

    if (oxm_form_scan_end(&scan, out_len) != OXM_LOGIN_OK) {
        /* missing, malformed or absurdly long: the node judges it */
        *out_len = 0;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: body field \"%V\": %uz bytes",
                   &ctx->field, *out_len);

    return NGX_OK;
}


/*
 * Turns a login name into a lookup.  Anything that cannot name a context
 * (no name, an empty, overlong or non-UTF-8 context part) is "unknown" and
 * passes: the node answers it as it always did.
 */

static ngx_int_t
ngx_http_oxmigrate_resolve(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, u_char *login, size_t len)
{
    size_t                           klen;
    const u_char                    *key;
    ngx_http_oxmigrate_main_conf_t  *omcf;

    if (len == 0) {
        return ngx_http_oxmigrate_lookup_key(r, ctx);
    }

    oxm_login_context(login, len, &key, &klen);

    /*
     * The configdb finds "CTX5.example.com  " as "ctx5.example.com": the
     * caches must too, or case and space variants of one name would each
     * cost a query and a cache entry (issue 6), and so would names with
     * characters the collation ignores or folds (issue 17).  With
     * oxmigrate_nonascii_names pass a name beyond ASCII is not looked up.
     */

    ctx->key.data = ngx_pnalloc(r->pool, klen ? klen : 1);
    if (ctx->key.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ctx->key.data, key, klen);
    ctx->key.len = oxm_login_key_normalize(ctx->key.data, klen);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "oxmigrate: login context \"%*s\"",
                   ctx->key.len, ctx->key.data);

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oxmigrate_module);

    if (ctx->key.len == 0 || ctx->key.len > NGX_HTTP_OXMIGRATE_KEY_MAX
        || !oxm_utf8_valid(ctx->key.data, ctx->key.len)
        || (!omcf->nonascii
            && !oxm_login_key_ascii(ctx->key.data, ctx->key.len)))
    {
        ctx->key.len = 0;
    }

    return ngx_http_oxmigrate_lookup_key(r, ctx);
}


/*
 * Looks ctx->key up (shm, Redis, configdb) and answers, at once or when
 * the lookup ends.  An empty key is "unknown": answered at once.
 */

static ngx_int_t
ngx_http_oxmigrate_lookup_key(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx)
{
    ngx_int_t                        rc;
    ngx_pool_cleanup_t              *cln;
    ngx_http_oxmigrate_waiter_t     *w;
    ngx_http_oxmigrate_main_conf_t  *omcf;

    ctx->state = NGX_HTTP_OXMIGRATE_STATE_DONE;
    ctx->decision = NGX_HTTP_OXMIGRATE_UNKNOWN;

    if (ctx->key.len == 0) {
        return ngx_http_oxmigrate_respond(r, ctx);
    }

    /*
     * Not from the request pool: a request that waits (a lookup, or held
     * by oxmigrate_hold) keeps its pool, and 2 kB each add up.
     */

    w = ngx_calloc(sizeof(ngx_http_oxmigrate_waiter_t), r->connection->log);
    if (w == NULL) {
        return NGX_ERROR;
    }

    w->handler = ngx_http_oxmigrate_lookup_done;
    w->data = ctx;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oxmigrate_module);

    ctx->lookup_start = ngx_current_msec;

    rc = ngx_http_oxmigrate_lookup(omcf, &ctx->key, w);

    if (rc == NGX_OK) {
        ctx->source = w->source;
        ngx_http_oxmigrate_metrics_lookup(w->source, 0);
        ngx_http_oxmigrate_decide(r, ctx, w->rc, &w->info);
        ngx_free(w);
        return ngx_http_oxmigrate_respond(r, ctx);
    }

    if (rc != NGX_AGAIN) {
        ngx_free(w);
        ngx_http_oxmigrate_decide(r, ctx, NGX_ERROR, NULL);
        return ngx_http_oxmigrate_respond(r, ctx);
    }

    /*
     * If the client goes away while the lookup runs, the cleanup takes the
     * waiter off the lookup and frees it before the pool is freed, so the
     * answer never touches a freed request.
     */

    if (!ctx->cleanup_set) {
        cln = ngx_pool_cleanup_add(r->pool, 0);
        if (cln == NULL) {
            ngx_http_oxmigrate_lookup_cancel(w);
            ngx_free(w);
            return NGX_ERROR;
        }

        cln->handler = ngx_http_oxmigrate_cleanup;
        cln->data = ctx;
        ctx->cleanup_set = 1;
    }

    ctx->waiter = w;
    ctx->state = NGX_HTTP_OXMIGRATE_STATE_LOOKUP;
    ctx->suspended = 1;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


static void
ngx_http_oxmigrate_lookup_done(ngx_http_oxmigrate_waiter_t *w)
{
    ngx_connection_t          *c;
    ngx_http_request_t        *r;
    ngx_http_oxmigrate_ctx_t  *ctx;

    ctx = w->data;
    r = ctx->request;
    c = r->connection;

    ctx->waiter = NULL;
    ctx->source = w->source;

    if (w->rc == NGX_OK) {
        ngx_http_oxmigrate_metrics_lookup(w->source,
                                          ngx_current_msec - ctx->lookup_start);
    }

    ngx_http_oxmigrate_decide(r, ctx, w->rc, &w->info);
    ngx_free(w);

    ctx->state = NGX_HTTP_OXMIGRATE_STATE_DONE;
    ctx->suspended = 0;

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_oxmigrate_cleanup(void *data)
{
    ngx_http_oxmigrate_ctx_t  *ctx = data;

    if (ctx->waiter) {
        ngx_http_oxmigrate_lookup_cancel(ctx->waiter);
        ngx_free(ctx->waiter);
        ctx->waiter = NULL;
    }
}


static ngx_int_t
ngx_http_oxmigrate_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                    *p;
    ngx_str_t                  s;
    ngx_http_oxmigrate_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_oxmigrate_module);

    if (data == NGX_HTTP_OXMIGRATE_VAR_HELD) {
        if (ngx_http_oxmigrate_hold_variable(r, ctx, &s) != NGX_OK) {
            return NGX_ERROR;
        }

        goto value;
    }

    if (ctx == NULL || ctx->state != NGX_HTTP_OXMIGRATE_STATE_DONE) {
        v->not_found = 1;
        return NGX_OK;
    }

    switch (data) {

    case NGX_HTTP_OXMIGRATE_VAR_CONTEXT_ID:
    case NGX_HTTP_OXMIGRATE_VAR_SERVER_ID:
        if (!ctx->found) {
            v->not_found = 1;
            return NGX_OK;
        }

        p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        s.data = p;
        s.len = ngx_sprintf(p, "%ui",
                            data == NGX_HTTP_OXMIGRATE_VAR_CONTEXT_ID
                            ? ctx->cid : ctx->server_id)
                - p;
        break;

    case NGX_HTTP_OXMIGRATE_VAR_SCHEMA:
        s = ctx->schema;
        break;

    case NGX_HTTP_OXMIGRATE_VAR_DECISION:
        s = ngx_http_oxmigrate_decisions[ctx->decision];
        break;

    default: /* NGX_HTTP_OXMIGRATE_VAR_CACHE */
        s = ngx_http_oxmigrate_sources[ctx->source];
        break;
    }

value:

    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oxmigrate_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_oxmigrate_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/* configuration */

static void *
ngx_http_oxmigrate_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_oxmigrate_main_conf_t  *omcf;

    omcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_main_conf_t));
    if (omcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     omcf->db = NULL;
     *     omcf->redis = NULL;
     *     omcf->shm_zone = NULL;
     */

    omcf->cache_ttl = NGX_CONF_UNSET_MSEC;
    omcf->negative_ttl = NGX_CONF_UNSET_MSEC;
    omcf->cache_stale = NGX_CONF_UNSET_MSEC;
    omcf->maintenance_reason = NGX_CONF_UNSET_UINT;
    omcf->hole_time = NGX_CONF_UNSET_MSEC;
    omcf->nonascii = NGX_CONF_UNSET_UINT;

    return omcf;
}


static char *
ngx_http_oxmigrate_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_oxmigrate_main_conf_t  *omcf = conf;

    ngx_conf_init_msec_value(omcf->cache_ttl, 10000);
    ngx_conf_init_msec_value(omcf->negative_ttl, 2000);
    ngx_conf_init_msec_value(omcf->cache_stale, 0);
    ngx_conf_init_uint_value(omcf->maintenance_reason,
                             NGX_HTTP_OXMIGRATE_SCHEMA_REASON);
    ngx_conf_init_msec_value(omcf->hole_time, 300000);
    ngx_conf_init_uint_value(omcf->nonascii, 1);

    return NGX_CONF_OK;
}


static void *
ngx_http_oxmigrate_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_oxmigrate_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->enable = NGX_CONF_UNSET;
    conf->servers = NGX_CONF_UNSET_PTR;
    conf->redirect_url = NGX_CONF_UNSET_PTR;
    conf->redirect_status = NGX_CONF_UNSET_UINT;
    conf->redirect_json = NGX_CONF_UNSET;
    conf->maintenance = NGX_CONF_UNSET;
    conf->on_error = NGX_CONF_UNSET_UINT;
    conf->actions = NGX_CONF_UNSET_PTR;
    conf->retry_after = NGX_CONF_UNSET;
    conf->hold_time = NGX_CONF_UNSET_MSEC;
    conf->hold_max = NGX_CONF_UNSET_UINT;
    conf->hold_per_context = NGX_CONF_UNSET_UINT;

    return conf;
}


static char *
ngx_http_oxmigrate_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_oxmigrate_loc_conf_t *prev = parent;
    ngx_http_oxmigrate_loc_conf_t *conf = child;

    ngx_str_t                       *s;
    ngx_http_oxmigrate_main_conf_t  *omcf;

    ngx_conf_merge_value(conf->enable, prev->enable, 0);
    ngx_conf_merge_ptr_value(conf->servers, prev->servers, NULL);
    ngx_conf_merge_ptr_value(conf->redirect_url, prev->redirect_url, NULL);
    ngx_conf_merge_uint_value(conf->redirect_status, prev->redirect_status,
                              NGX_HTTP_MOVED_TEMPORARILY);
    ngx_conf_merge_value(conf->redirect_json, prev->redirect_json, 1);
    ngx_conf_merge_value(conf->maintenance, prev->maintenance, 1);
    ngx_conf_merge_uint_value(conf->on_error, prev->on_error,
                              NGX_HTTP_OXMIGRATE_ON_ERROR_PASS);
    ngx_conf_merge_ptr_value(conf->actions, prev->actions, NULL);
    ngx_conf_merge_sec_value(conf->retry_after, prev->retry_after, 30);
    ngx_conf_merge_bitmask_value(conf->identify, prev->identify,
                                 (NGX_CONF_BITMASK_SET
                                  |NGX_HTTP_OXMIGRATE_ID_LOGIN));

    if (conf->hold_time == NGX_CONF_UNSET_MSEC) {
        conf->hold_time = (prev->hold_time == NGX_CONF_UNSET_MSEC)
                          ? 0 : prev->hold_time;
        conf->hold_max = prev->hold_max;
        conf->hold_per_context = prev->hold_per_context;
    }

    if (conf->actions == NULL) {
        conf->actions = ngx_array_create(cf->pool, 2, sizeof(ngx_str_t));
        if (conf->actions == NULL) {
            return NGX_CONF_ERROR;
        }

        s = ngx_array_push_n(conf->actions, 2);
        if (s == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_str_set(&s[0], "login");
        ngx_str_set(&s[1], "formlogin");
    }

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oxmigrate_module);

    if (omcf->db == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oxmigrate on\" needs \"oxmigrate_db\" "
                           "at the http level");
        return NGX_CONF_ERROR;
    }

    if (conf->servers == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oxmigrate on\" needs \"oxmigrate_server\": "
                           "the names of the servers this balancer serves");
        return NGX_CONF_ERROR;
    }

    if (conf->hold_time && omcf->shm_zone == NULL && omcf->redis == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oxmigrate_hold\" needs \"oxmigrate_cache\" "
                           "(the change log) or \"oxmigrate_redis\" (the "
                           "epoch): nothing else tells it a context is back");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_oxmigrate_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_oxmigrate_handler;

    return NGX_OK;
}


static ngx_int_t
ngx_http_oxmigrate_init_process(ngx_cycle_t *cycle)
{
    ngx_http_oxmigrate_main_conf_t  *omcf;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_oxmigrate_module);
    if (omcf == NULL) {
        return NGX_OK;
    }

    ngx_http_oxmigrate_metrics_init_worker(omcf);

    if (ngx_http_oxmigrate_clock_init_worker(cycle, omcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if (omcf->db
        && ngx_http_oxmigrate_db_init_worker(cycle, omcf->db) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (omcf->redis
        && ngx_http_oxmigrate_redis_init_worker(cycle, omcf->redis) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_oxmigrate_changes_init_worker(cycle, omcf);
}


static void
ngx_http_oxmigrate_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_oxmigrate_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_oxmigrate_module);
    if (omcf == NULL) {
        return;
    }

    if (omcf->redis) {
        ngx_http_oxmigrate_redis_exit_worker(cycle);
    }

    if (omcf->db) {
        ngx_http_oxmigrate_db_exit_worker(cycle);
    }
}
