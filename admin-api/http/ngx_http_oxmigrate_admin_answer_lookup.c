/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, answers: GET /lookup
 * (svc/ngx_http_oxmigrate_admin_lookup.c).  Thread pool.
 */


#include "ngx_http_oxmigrate_admin.h"


static void ngx_http_oxmigrate_admin_lookup_info(yajl_gen g,
    ngx_http_oxmigrate_info_t *info);
static void ngx_http_oxmigrate_admin_lookup_shm(yajl_gen g,
    ngx_http_oxmigrate_lookup_t *lk);
static void ngx_http_oxmigrate_admin_lookup_redis(yajl_gen g,
    ngx_http_oxmigrate_lookup_t *lk);


void
ngx_http_oxmigrate_admin_answer_lookup(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc)
{
    yajl_gen                      g;
    ngx_http_oxmigrate_lookup_t  *lk;

    if (rc != NGX_OK) {
        ngx_http_oxmigrate_admin_answer_fail(op);
        return;
    }

    lk = op->res.data;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "login");
    ngx_http_oxmigrate_admin_json_strn(g, lk->login.data, lk->login.len);
    ngx_http_oxmigrate_admin_json_str(g, "key");
    ngx_http_oxmigrate_admin_json_strn(g, lk->key.data, lk->key.len);

    ngx_http_oxmigrate_admin_lookup_info(g, &lk->info);

    ngx_http_oxmigrate_admin_json_str(g, "decision");
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "primary");
    ngx_http_oxmigrate_admin_json_str(g, lk->primary);
    ngx_http_oxmigrate_admin_json_str(g, "secondary");
    ngx_http_oxmigrate_admin_json_str(g, lk->secondary);
    yajl_gen_map_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "cache");
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_lookup_shm(g, lk);
    ngx_http_oxmigrate_admin_lookup_redis(g, lk);
    yajl_gen_map_close(g);

    yajl_gen_map_close(g);
}


static void
ngx_http_oxmigrate_admin_lookup_info(yajl_gen g,
    ngx_http_oxmigrate_info_t *info)
{
    ngx_http_oxmigrate_admin_json_str(g, "found");
    ngx_http_oxmigrate_admin_json_bool(g, info->found);

    if (!info->found) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "cid");
    ngx_http_oxmigrate_admin_json_int(g, info->cid);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_strn(g, info->schema.data,
                                       info->schema.len);
    ngx_http_oxmigrate_admin_json_str(g, "server_id");
    ngx_http_oxmigrate_admin_json_int(g, info->server_id);
    ngx_http_oxmigrate_admin_json_str(g, "server");
    ngx_http_oxmigrate_admin_json_strn(g, info->server.data,
                                       info->server.len);
    ngx_http_oxmigrate_admin_json_str(g, "enabled");
    ngx_http_oxmigrate_admin_json_bool(g, info->enabled);
    ngx_http_oxmigrate_admin_json_str(g, "reason_id");

    if (info->reason_id) {
        ngx_http_oxmigrate_admin_json_int(g, info->reason_id);

    } else {
        yajl_gen_null(g);
    }
}


static void
ngx_http_oxmigrate_admin_lookup_shm(yajl_gen g,
    ngx_http_oxmigrate_lookup_t *lk)
{
    ngx_http_oxmigrate_admin_json_str(g, "shm");

    if (!lk->shm) {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_map_open(g);

    ngx_http_oxmigrate_admin_json_str(g, "present");
    ngx_http_oxmigrate_admin_json_bool(g, lk->shm_present);

    if (lk->shm_present) {
        ngx_http_oxmigrate_admin_json_str(g, "age_ms");
        ngx_http_oxmigrate_admin_json_int(g, lk->pk.age);
        ngx_http_oxmigrate_admin_json_str(g, "expires_in_ms");
        ngx_http_oxmigrate_admin_json_int(g, lk->pk.expires_in);
        ngx_http_oxmigrate_admin_json_str(g, "epoch");
        ngx_http_oxmigrate_admin_json_int(g, lk->pk.epoch);
        ngx_http_oxmigrate_admin_json_str(g, "current");
        ngx_http_oxmigrate_admin_json_bool(g,
                                           lk->pk.epoch == lk->pk.zone_epoch
                                           && lk->pk.expires_in > 0);

        if (lk->shm_info_ok) {
            ngx_http_oxmigrate_admin_lookup_info(g, &lk->shm_info);
        }
    }

    ngx_http_oxmigrate_admin_json_str(g, "zone_epoch");
    ngx_http_oxmigrate_admin_json_int(g, lk->pk.zone_epoch);
    ngx_http_oxmigrate_admin_json_str(g, "change_log_position");
    ngx_http_oxmigrate_admin_json_int(g, (int64_t) lk->pk.position);

    yajl_gen_map_close(g);
}


/* "redis": the entry under the current epoch, GET and PTTL */

static void
ngx_http_oxmigrate_admin_lookup_redis(yajl_gen g,
    ngx_http_oxmigrate_lookup_t *lk)
{
    ngx_http_oxmigrate_redis_entry_t  *re;

    ngx_http_oxmigrate_admin_json_str(g, "redis");

    re = &lk->redis;

    if (!re->configured) {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_map_open(g);

    if (re->error) {
        ngx_http_oxmigrate_admin_json_str(g, "error");
        ngx_http_oxmigrate_admin_json_str(g, re->error);
        yajl_gen_map_close(g);
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "key");
    ngx_http_oxmigrate_admin_json_str(g, re->key);
    ngx_http_oxmigrate_admin_json_str(g, "epoch");
    ngx_http_oxmigrate_admin_json_int(g, re->epoch);
    ngx_http_oxmigrate_admin_json_str(g, "present");
    ngx_http_oxmigrate_admin_json_bool(g, re->present);

    if (re->present) {
        if (re->ttl >= 0) {
            ngx_http_oxmigrate_admin_json_str(g, "ttl_ms");
            ngx_http_oxmigrate_admin_json_int(g, re->ttl);
        }

        ngx_http_oxmigrate_admin_json_str(g, "stamp");
        ngx_http_oxmigrate_admin_json_strn(g, re->stamp.data, re->stamp.len);
    }

    yajl_gen_map_close(g);
}
