
/*
 * oxmigrate admin API: GET /lookup?login=NAME[&primary=A,B][&secondary=C]
 * "where does this login go, and why" (as `doveadm director status USER`
 * answers for Dovecot): the context part as the router keys it, what
 * configdb says, the decision a primary and a secondary balancer would
 * give (their oxmigrate_server names given as arguments), and per cache
 * tier whether an entry exists, its age and epoch.  It reads the caches
 * and never changes them.  Thread pool.
 */


#include "ngx_http_oxmigrate_admin.h"
#include "oxm_login.h"

#include <hiredis/hiredis.h>


#define NGX_HTTP_OXMIGRATE_LOOKUP_NAMES  512


static const char *ngx_http_oxmigrate_admin_lookup_decision(
    ngx_http_oxmigrate_info_t *info, const char *names, ngx_uint_t primary);
static void ngx_http_oxmigrate_admin_lookup_info(yajl_gen g,
    ngx_http_oxmigrate_info_t *info);
static void ngx_http_oxmigrate_admin_lookup_shm(
    ngx_http_oxmigrate_admin_op_t *op, yajl_gen g, ngx_str_t *key);
static void ngx_http_oxmigrate_admin_lookup_redis(
    ngx_http_oxmigrate_admin_op_t *op, yajl_gen g, ngx_str_t *key);


void
ngx_http_oxmigrate_admin_lookup(ngx_http_oxmigrate_admin_op_t *op)
{
    u_char                     login[NGX_HTTP_OXMIGRATE_KEY_MAX];
    u_char                     prim[NGX_HTTP_OXMIGRATE_LOOKUP_NAMES];
    u_char                     sec[NGX_HTTP_OXMIGRATE_LOOKUP_NAMES];
    size_t                     len, plen, slen, klen;
    MYSQL                     *m;
    yajl_gen                   g;
    ngx_str_t                  key;
    const u_char              *kp;
    ngx_http_oxmigrate_info_t  info;

    if (oxm_form_field(op->args.query.data, op->args.query.len, "login", 5, login,
                       sizeof(login), &len)
        != OXM_LOGIN_OK || len == 0)
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "login= is missing or malformed");
        return;
    }

    if (oxm_form_field(op->args.query.data, op->args.query.len, "primary", 7, prim,
                       sizeof(prim) - 1, &plen)
        != OXM_LOGIN_OK)
    {
        plen = 0;
    }

    if (oxm_form_field(op->args.query.data, op->args.query.len, "secondary", 9, sec,
                       sizeof(sec) - 1, &slen)
        != OXM_LOGIN_OK)
    {
        slen = 0;
    }

    prim[plen] = '\0';
    sec[slen] = '\0';

    /* the key exactly as the router makes it */

    oxm_login_context(login, len, &kp, &klen);

    key.data = ngx_pnalloc(op->conn.pool, klen + 1);
    if (key.data == NULL) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_INTERNAL_SERVER_ERROR,
                                       "internal", "out of memory");
        return;
    }

    ngx_memcpy(key.data, kp, klen);
    key.len = oxm_login_key_normalize(key.data, klen);
    key.data[key.len] = '\0';

    if (key.len == 0 || !oxm_utf8_valid(key.data, key.len)) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                                       "invalid_argument",
                                       "the login names no context (empty "
                                       "or not UTF-8): the router lets it "
                                       "pass as unknown");
        return;
    }

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_store_login(m, op->conn.pool, (char *) key.data,
                                             &info)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "login");
    ngx_http_oxmigrate_admin_json_strn(g, login, len);
    ngx_http_oxmigrate_admin_json_str(g, "key");
    ngx_http_oxmigrate_admin_json_strn(g, key.data, key.len);

    ngx_http_oxmigrate_admin_lookup_info(g, &info);

    ngx_http_oxmigrate_admin_json_str(g, "decision");
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "primary");
    ngx_http_oxmigrate_admin_json_str(g,
        plen ? ngx_http_oxmigrate_admin_lookup_decision(&info, (char *) prim,
                                                        1)
             : "give primary=SERVER[,SERVER]");
    ngx_http_oxmigrate_admin_json_str(g, "secondary");
    ngx_http_oxmigrate_admin_json_str(g,
        slen ? ngx_http_oxmigrate_admin_lookup_decision(&info, (char *) sec,
                                                        0)
             : "give secondary=SERVER[,SERVER]");
    yajl_gen_map_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "cache");
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_lookup_shm(op, g, &key);
    ngx_http_oxmigrate_admin_lookup_redis(op, g, &key);
    yajl_gen_map_close(g);

    yajl_gen_map_close(g);
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


/* "shm": this balancer's shared zone, read without changing it */

static void
ngx_http_oxmigrate_admin_lookup_shm(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, ngx_str_t *key)
{
    u_char                         buf[NGX_HTTP_OXMIGRATE_VALUE_MAX];
    size_t                         len;
    ngx_str_t                      value;
    ngx_http_oxmigrate_info_t      info;
    ngx_http_oxmigrate_shm_peek_t  pk;

    ngx_http_oxmigrate_admin_json_str(g, "shm");

    if (op->conn.omcf->shm_zone == NULL) {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_map_open(g);

    if (ngx_http_oxmigrate_shm_peek(op->conn.omcf->shm_zone, key, buf, &len, &pk)
        != NGX_OK)
    {
        ngx_http_oxmigrate_admin_json_str(g, "present");
        ngx_http_oxmigrate_admin_json_bool(g, 0);

    } else {
        ngx_http_oxmigrate_admin_json_str(g, "present");
        ngx_http_oxmigrate_admin_json_bool(g, 1);
        ngx_http_oxmigrate_admin_json_str(g, "age_ms");
        ngx_http_oxmigrate_admin_json_int(g, pk.age);
        ngx_http_oxmigrate_admin_json_str(g, "expires_in_ms");
        ngx_http_oxmigrate_admin_json_int(g, pk.expires_in);
        ngx_http_oxmigrate_admin_json_str(g, "epoch");
        ngx_http_oxmigrate_admin_json_int(g, pk.epoch);
        ngx_http_oxmigrate_admin_json_str(g, "current");
        ngx_http_oxmigrate_admin_json_bool(g, pk.epoch == pk.zone_epoch
                                              && pk.expires_in > 0);

        value.data = buf;
        value.len = len;

        if (ngx_http_oxmigrate_info_parse(&value, &info) == NGX_OK) {
            ngx_http_oxmigrate_admin_lookup_info(g, &info);
        }
    }

    ngx_http_oxmigrate_admin_json_str(g, "zone_epoch");
    ngx_http_oxmigrate_admin_json_int(g, pk.zone_epoch);
    ngx_http_oxmigrate_admin_json_str(g, "change_log_position");
    ngx_http_oxmigrate_admin_json_int(g, (int64_t) pk.position);

    yajl_gen_map_close(g);
}


/* "redis": the entry under the current epoch, GET and PTTL */

static void
ngx_http_oxmigrate_admin_lookup_redis(ngx_http_oxmigrate_admin_op_t *op,
    yajl_gen g, ngx_str_t *key)
{
    char                              why[160], k[NGX_HTTP_OXMIGRATE_KEY_MAX
                                                  + 128];
    u_char                           *sp;
    int64_t                           epoch;
    redisReply                       *r1, *r2;
    redisContext                     *c;
    ngx_http_oxmigrate_redis_conf_t  *rcf;

    ngx_http_oxmigrate_admin_json_str(g, "redis");

    rcf = op->conn.omcf->redis;

    if (rcf == NULL) {
        yajl_gen_null(g);
        return;
    }

    yajl_gen_map_open(g);

    c = ngx_http_oxmigrate_admin_redis(rcf, why, sizeof(why));
    if (c == NULL) {
        ngx_http_oxmigrate_admin_json_str(g, "error");
        ngx_http_oxmigrate_admin_json_str(g, why);
        yajl_gen_map_close(g);
        return;
    }

    epoch = 0;

    r1 = redisCommand(c, "GET %b%s", rcf->prefix.data, rcf->prefix.len,
                      "epoch");
    if (r1 && r1->type == REDIS_REPLY_STRING) {
        epoch = ngx_atoof((u_char *) r1->str, r1->len);
    }

    if (r1) {
        freeReplyObject(r1);
    }

    ngx_snprintf((u_char *) k, sizeof(k) - 1, "%Vv%L:%V%Z", &rcf->prefix,
                 epoch < 0 ? 0 : epoch, key);

    ngx_http_oxmigrate_admin_json_str(g, "key");
    ngx_http_oxmigrate_admin_json_str(g, k);
    ngx_http_oxmigrate_admin_json_str(g, "epoch");
    ngx_http_oxmigrate_admin_json_int(g, epoch);

    r1 = redisCommand(c, "GET %s", k);
    r2 = redisCommand(c, "PTTL %s", k);

    ngx_http_oxmigrate_admin_json_str(g, "present");
    ngx_http_oxmigrate_admin_json_bool(g, r1 && r1->type == REDIS_REPLY_STRING);

    if (r1 && r1->type == REDIS_REPLY_STRING) {
        if (r2 && r2->type == REDIS_REPLY_INTEGER && r2->integer >= 0) {
            ngx_http_oxmigrate_admin_json_str(g, "ttl_ms");
            ngx_http_oxmigrate_admin_json_int(g, r2->integer);
        }

        /* "<expiry>[/<position>] <info>": the stamp says as of when */
        sp = (u_char *) strchr(r1->str, ' ');

        ngx_http_oxmigrate_admin_json_str(g, "stamp");
        ngx_http_oxmigrate_admin_json_strn(g, (u_char *) r1->str,
                                           sp ? (size_t) (sp - (u_char *)
                                                          r1->str)
                                              : r1->len);
    }

    if (r1) {
        freeReplyObject(r1);
    }

    if (r2) {
        freeReplyObject(r2);
    }

    redisFree(c);

    yajl_gen_map_close(g);
}
