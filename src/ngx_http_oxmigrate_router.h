/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * The login router's own types, shared by ngx_http_oxmigrate_module.c
 * (directives, reading the request, the lookup) and
 * src/ngx_http_oxmigrate_answer.c (the decision and the answer).
 */


#ifndef _NGX_HTTP_OXMIGRATE_ROUTER_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ROUTER_H_INCLUDED_


#include "ngx_http_oxmigrate.h"


typedef enum {
    NGX_HTTP_OXMIGRATE_PASS = 0,
    NGX_HTTP_OXMIGRATE_REDIRECT,
    NGX_HTTP_OXMIGRATE_CTX0012,
    NGX_HTTP_OXMIGRATE_MAINTENANCE,
    NGX_HTTP_OXMIGRATE_UNKNOWN,
    NGX_HTTP_OXMIGRATE_ERROR
} ngx_http_oxmigrate_decision_e;


typedef enum {
    NGX_HTTP_OXMIGRATE_STATE_BODY = 0,    /* reading the request body */
    NGX_HTTP_OXMIGRATE_STATE_BODY_DONE,
    NGX_HTTP_OXMIGRATE_STATE_LOOKUP,      /* waiting for Redis/MariaDB */
    NGX_HTTP_OXMIGRATE_STATE_DONE,
    NGX_HTTP_OXMIGRATE_STATE_HELD,        /* oxmigrate_hold: waiting */
    NGX_HTTP_OXMIGRATE_STATE_AGAIN        /* released: decide again */
} ngx_http_oxmigrate_state_e;


#define NGX_HTTP_OXMIGRATE_ON_ERROR_PASS  0
#define NGX_HTTP_OXMIGRATE_ON_ERROR_FAIL  1


/* oxmigrate_identify: which requests of a location are resolved */
#define NGX_HTTP_OXMIGRATE_ID_LOGIN       0x0002
#define NGX_HTTP_OXMIGRATE_ID_BASIC       0x0004
#define NGX_HTTP_OXMIGRATE_ID_SHARE       0x0008


/* what named the context: decides how a decision is answered */
typedef enum {
    NGX_HTTP_OXMIGRATE_KIND_LOGIN = 0,    /* action=login, formlogin, ... */
    NGX_HTTP_OXMIGRATE_KIND_BASIC,        /* Authorization: Basic */
    NGX_HTTP_OXMIGRATE_KIND_SHARE         /* a share link's token */
} ngx_http_oxmigrate_kind_e;


typedef struct {
    ngx_flag_t                    enable;
    ngx_array_t                  *servers;        /* ngx_str_t */
    ngx_http_complex_value_t     *redirect_url;
    ngx_uint_t                    redirect_status;
    ngx_flag_t                    redirect_json;
    ngx_flag_t                    maintenance;
    ngx_uint_t                    on_error;
    ngx_array_t                  *actions;        /* ngx_str_t */
    time_t                        retry_after;
    ngx_uint_t                    identify;       /* ID_* bits */
    ngx_msec_t                    hold_time;      /* 0: oxmigrate_hold off */
    ngx_uint_t                    hold_max;       /* per worker */
    ngx_uint_t                    hold_per_context;
} ngx_http_oxmigrate_loc_conf_t;


typedef struct {
    ngx_http_request_t           *request;
    ngx_http_oxmigrate_state_e    state;
    ngx_http_oxmigrate_decision_e decision;
    ngx_http_oxmigrate_source_e   source;
    ngx_str_t                     field;          /* "name" or "login" */
    ngx_str_t                     key;            /* context part */
    ngx_http_oxmigrate_waiter_t  *waiter;
    ngx_uint_t                    found;
    ngx_uint_t                    cid;
    ngx_uint_t                    server_id;
    ngx_str_t                     schema;
    ngx_http_oxmigrate_kind_e     kind;
    ngx_msec_t                    lookup_start;
    void                         *hold;           /* hold.c's entry */
    ngx_msec_t                    hold_start;
    ngx_msec_t                    held_ms;
    ngx_uint_t                    held_outcome;   /* the last release's */
    unsigned                      json_client:1;  /* action=login */
    unsigned                      suspended:1;
    unsigned                      cleanup_set:1;  /* the waiter's cleanup */
    unsigned                      was_held:1;
    unsigned                      hold_over:1;    /* never held again */
    unsigned                      held_told:1;    /* counted in Redis */
    unsigned                      held_pending:1; /* released, not counted */
} ngx_http_oxmigrate_ctx_t;


/* ngx_http_oxmigrate_answer.c */

/* the decision table: ctx->decision from a lookup's result */
void ngx_http_oxmigrate_decide(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, ngx_int_t rc,
    ngx_http_oxmigrate_info_t *info);
/*
 * The answer to ctx->decision, from the access phase: NGX_DECLINED passes
 * the request on, NGX_DONE when it was answered here, or an HTTP status.
 */
ngx_int_t ngx_http_oxmigrate_respond(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx);


/* ngx_http_oxmigrate_hold.c: oxmigrate_hold */

char *ngx_http_oxmigrate_conf_hold(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* a maintenance decision: NGX_DONE held, NGX_DECLINED answer it now */
void ngx_http_oxmigrate_hold_counted(ngx_http_oxmigrate_ctx_t *ctx);
ngx_int_t ngx_http_oxmigrate_hold(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx);
/* $oxmigrate_held: s->len 0 when the request was not held */
ngx_int_t ngx_http_oxmigrate_hold_variable(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, ngx_str_t *s);
/* per schema, in Redis: a request held (answered 0) or given CTX-0007/503 */
void ngx_http_oxmigrate_hold_report(ngx_str_t *schema, ngx_uint_t answered);


#endif /* _NGX_HTTP_OXMIGRATE_ROUTER_H_INCLUDED_ */
