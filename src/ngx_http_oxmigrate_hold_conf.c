/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate_hold as seen from outside (src/ngx_http_oxmigrate_hold.c holds
 * the requests): the directive, $oxmigrate_held, and the per-schema counts
 * the job view shows.
 */


#include "ngx_http_oxmigrate_router.h"


#define NGX_HTTP_OXMIGRATE_HOLD_MAX      10000
#define NGX_HTTP_OXMIGRATE_HOLD_PER_CTX  1000


/* oxmigrate_hold TIME [max=N] [per_context=N] | off */

char *
ngx_http_oxmigrate_conf_hold(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oxmigrate_loc_conf_t *olcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i;
    ngx_msec_t   t;

    if (olcf->hold_time != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0 && cf->args->nelts == 2) {
        olcf->hold_time = 0;
        return NGX_CONF_OK;
    }

    t = ngx_parse_time(&value[1], 0);
    if (t == (ngx_msec_t) NGX_ERROR || t == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid hold time \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    olcf->hold_time = t;
    olcf->hold_max = NGX_HTTP_OXMIGRATE_HOLD_MAX;
    olcf->hold_per_context = NGX_HTTP_OXMIGRATE_HOLD_PER_CTX;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "max=", 4) == 0) {
            n = ngx_atoi(value[i].data + 4, value[i].len - 4);
            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            olcf->hold_max = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "per_context=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);
            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            olcf->hold_per_context = n;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}


/* $oxmigrate_held: the time held, in seconds with milliseconds */

ngx_int_t
ngx_http_oxmigrate_hold_variable(ngx_http_request_t *r,
    ngx_http_oxmigrate_ctx_t *ctx, ngx_str_t *s)
{
    if (ctx == NULL || !ctx->was_held
        || ctx->state != NGX_HTTP_OXMIGRATE_STATE_DONE)
    {
        s->len = 0;
        return NGX_OK;
    }

    s->data = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (s->data == NULL) {
        return NGX_ERROR;
    }

    s->len = ngx_sprintf(s->data, "%M.%03M", ctx->held_ms / 1000,
                         ctx->held_ms % 1000)
             - s->data;

    return NGX_OK;
}


/*
 * Per schema, for the job view (GET /jobs/{id}): HINCRBY
 * "<prefix>hold:<schema>" "held" or "answered" (a maintenance answer,
 * CTX-0007 / 503), kept for a week after the last one.  Without Redis
 * nothing is counted.
 */

void
ngx_http_oxmigrate_hold_report(ngx_str_t *schema, ngx_uint_t answered)
{
    u_char      buf[NGX_HTTP_OXMIGRATE_KEY_MAX];
    ngx_str_t   name;

    if (schema->len == 0 || schema->len > sizeof(buf) - sizeof("hold:")) {
        return;
    }

    name.data = buf;
    name.len = ngx_cpymem(ngx_cpymem(buf, "hold:", sizeof("hold:") - 1),
                          schema->data, schema->len)
               - buf;

    ngx_http_oxmigrate_redis_hincr(&name, answered ? "answered" : "held",
                                   7 * 86400);
}
