/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: GET /lookup?login=NAME[&primary=A,B][&secondary=C]
 * "where does this login go, and why" (as `doveadm director status USER`
 * answers for Dovecot): the context part as the router keys it, what
 * configdb says, the decision a primary and a secondary balancer would
 * give (their oxmigrate_server names given as arguments), and per cache
 * tier whether an entry exists, its age and epoch.  It reads the caches
 * and never changes them.  Thread pool; the answer is in
 * http/ngx_http_oxmigrate_admin_answer_lookup.c.
 */


#include "ngx_http_oxmigrate_admin.h"
#include "oxm_login.h"

#include <hiredis/hiredis.h>


#define NGX_HTTP_OXMIGRATE_LOOKUP_NAMES  512


static const char *ngx_http_oxmigrate_admin_lookup_decision(
    ngx_http_oxmigrate_info_t *info, const char *names, ngx_uint_t primary);
static void ngx_http_oxmigrate_admin_lookup_shm(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_lookup_t *lk);


/* data is an ngx_http_oxmigrate_lookup_t */

ngx_int_t
ngx_http_oxmigrate_admin_lookup(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    u_char                       prim[NGX_HTTP_OXMIGRATE_LOOKUP_NAMES];
    u_char                       sec[NGX_HTTP_OXMIGRATE_LOOKUP_NAMES];
    size_t                       len, plen, slen, klen;
    MYSQL                       *m;
    const u_char                *kp;
    ngx_http_oxmigrate_lookup_t *lk;

    lk = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_lookup_t)
                              + NGX_HTTP_OXMIGRATE_KEY_MAX);
    if (lk == NULL) {
        return NGX_ERROR;
    }

    lk->login.data = (u_char *) (lk + 1);

    if (oxm_form_field(a->query.data, a->query.len, "login", 5,
                       lk->login.data, NGX_HTTP_OXMIGRATE_KEY_MAX, &len)
        != OXM_LOGIN_OK || len == 0)
    {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "invalid_argument",
                                             "login= is missing or "
                                             "malformed");
    }

    lk->login.len = len;

    if (oxm_form_field(a->query.data, a->query.len, "primary", 7, prim,
                       sizeof(prim) - 1, &plen)
        != OXM_LOGIN_OK)
    {
        plen = 0;
    }

    if (oxm_form_field(a->query.data, a->query.len, "secondary", 9, sec,
                       sizeof(sec) - 1, &slen)
        != OXM_LOGIN_OK)
    {
        slen = 0;
    }

    prim[plen] = '\0';
    sec[slen] = '\0';

    /* the key exactly as the router makes it */

    oxm_login_context(lk->login.data, len, &kp, &klen);

    lk->key.data = ngx_pnalloc(c->pool, klen + 1);
    if (lk->key.data == NULL) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR, "internal",
                                             "out of memory");
    }

    ngx_memcpy(lk->key.data, kp, klen);
    lk->key.len = oxm_login_key_normalize(lk->key.data, klen);
    lk->key.data[lk->key.len] = '\0';

    if (lk->key.len == 0 || !oxm_utf8_valid(lk->key.data, lk->key.len)) {
        return ngx_http_oxmigrate_admin_fail(res, NGX_DECLINED,
                                             "invalid_argument",
                                             "the login names no context "
                                             "(empty or not UTF-8): the "
                                             "router lets it pass as "
                                             "unknown");
    }

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_store_login(m, c->pool,
                                             (char *) lk->key.data, &lk->info)
        != NGX_OK)
    {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    lk->primary = plen ? ngx_http_oxmigrate_admin_lookup_decision(&lk->info,
                                                          (char *) prim, 1)
                       : "give primary=SERVER[,SERVER]";
    lk->secondary = slen ? ngx_http_oxmigrate_admin_lookup_decision(&lk->info,
                                                          (char *) sec, 0)
                         : "give secondary=SERVER[,SERVER]";

    ngx_http_oxmigrate_admin_lookup_shm(c, lk);

    lk->redis.configured = (c->omcf->redis != NULL);

    if (lk->redis.configured) {
        ngx_http_oxmigrate_admin_store_redis_entry(c->omcf->redis, c->pool,
                                                   &lk->key, &lk->redis);
    }

    res->data = lk;

    return NGX_OK;
}


/* the router's decision table (src/ngx_http_oxmigrate_answer.c) */

static const char *
ngx_http_oxmigrate_admin_lookup_decision(ngx_http_oxmigrate_info_t *info,
    const char *names, ngx_uint_t primary)
{
    size_t       n;
    const char  *p, *e;

    if (!info->found) {
        return "unknown";
    }

    if (!info->enabled) {
        return info->reason_id == ngx_http_oxmigrate_admin_reason
               ? "maintenance" : "pass";
    }

    for (p = names; *p; p = *e ? e + 1 : e) {
        e = strchr(p, ',');
        if (e == NULL) {
            e = p + strlen(p);
        }

        n = e - p;

        if (n == info->server.len
            && ngx_strncmp(p, info->server.data, n) == 0)
        {
            return "pass";
        }
    }

    return primary ? "redirect" : "ctx0012";
}


/* "shm": this balancer's shared zone, read without changing it */

static void
ngx_http_oxmigrate_admin_lookup_shm(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_lookup_t *lk)
{
    u_char     *buf;
    size_t      len;
    ngx_str_t   value;

    lk->shm = (c->omcf->shm_zone != NULL);

    if (!lk->shm) {
        return;
    }

    /* the parsed entry points into it: it lives as long as the answer */
    buf = ngx_pnalloc(c->pool, NGX_HTTP_OXMIGRATE_VALUE_MAX);
    if (buf == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_shm_peek(c->omcf->shm_zone, &lk->key, buf, &len,
                                    &lk->pk)
        != NGX_OK)
    {
        return;
    }

    lk->shm_present = 1;

    value.data = buf;
    value.len = len;

    lk->shm_info_ok = (ngx_http_oxmigrate_info_parse(&value, &lk->shm_info)
                       == NGX_OK);
}
