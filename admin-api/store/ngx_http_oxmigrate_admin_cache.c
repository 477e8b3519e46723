
/*
 * oxmigrate admin API, store: the balancers' Redis cache, read for
 * GET /lookup without changing it.  Thread pool (blocking hiredis).
 */


#include "ngx_http_oxmigrate_admin.h"

#include <hiredis/hiredis.h>


/* the entry of key under the current epoch: GET <prefix>epoch, GET, PTTL */

void
ngx_http_oxmigrate_admin_store_redis_entry(
    ngx_http_oxmigrate_redis_conf_t *rcf, ngx_pool_t *pool, ngx_str_t *key,
    ngx_http_oxmigrate_redis_entry_t *re)
{
    char          why[160], *sp;
    size_t        n;
    redisReply   *r1, *r2;
    redisContext *c;

    re->ttl = -1;

    c = ngx_http_oxmigrate_admin_redis(rcf, why, sizeof(why));
    if (c == NULL) {
        re->error = ngx_http_oxmigrate_admin_strndup(pool, why,
                                                     ngx_strlen(why));
        return;
    }

    r1 = redisCommand(c, "GET %b%s", rcf->prefix.data, rcf->prefix.len,
                      "epoch");
    if (r1 && r1->type == REDIS_REPLY_STRING) {
        re->epoch = ngx_atoof((u_char *) r1->str, r1->len);
    }

    if (r1) {
        freeReplyObject(r1);
    }

    n = rcf->prefix.len + NGX_INT64_LEN + 2 + key->len + 1;

    re->key = ngx_pnalloc(pool, n);
    if (re->key == NULL) {
        redisFree(c);
        re->error = "out of memory";
        return;
    }

    ngx_snprintf((u_char *) re->key, n - 1, "%Vv%L:%V%Z", &rcf->prefix,
                 re->epoch < 0 ? 0 : re->epoch, key);

    r1 = redisCommand(c, "GET %s", re->key);
    r2 = redisCommand(c, "PTTL %s", re->key);

    re->present = (r1 && r1->type == REDIS_REPLY_STRING);

    if (re->present) {
        if (r2 && r2->type == REDIS_REPLY_INTEGER && r2->integer >= 0) {
            re->ttl = r2->integer;
        }

        /* "<expiry>[/<position>] <info>": the stamp says as of when */
        sp = strchr(r1->str, ' ');
        n = sp ? (size_t) (sp - r1->str) : r1->len;

        re->stamp.data = (u_char *) ngx_http_oxmigrate_admin_strndup(pool,
                                                                 r1->str, n);
        re->stamp.len = re->stamp.data ? n : 0;
    }

    if (r1) {
        freeReplyObject(r1);
    }

    if (r2) {
        freeReplyObject(r2);
    }

    redisFree(c);
}
