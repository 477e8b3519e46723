/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, store: what the balancers cache.  Telling them
 * that configdb changed (the change log, else the Redis epoch), and the
 * Redis entry of a context as GET /lookup shows it.  Thread pool
 * (blocking hiredis).
 */


#include "ngx_http_oxmigrate_admin.h"
#include "ngx_http_oxmigrate_admin_store_steps.h"

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


/*
 * Tells the balancers that configdb changed, and says how (the answer's
 * and the job's "cache_invalidation"):
 *
 *   "change log"  sql/changelog.sql is installed: its triggers recorded the
 *                 change, every balancer drops exactly the entries it
 *                 touches within a second; no global flush.
 *   "redis epoch" INCR <prefix>epoch: every balancer drops every entry.
 *   "failed"      the INCR failed after 3 tries (*why says why): cached
 *                 decisions live until their ttl.
 *   "ttl"         no Redis configured: until their ttl.
 */

const char *
ngx_http_oxmigrate_admin_invalidate(MYSQL *m,
    ngx_http_oxmigrate_redis_conf_t *rcf, ngx_log_t *log, char *why,
    size_t why_len)
{
    ngx_uint_t   i;
    MYSQL_ROW    row;
    MYSQL_RES   *res;

    why[0] = '\0';

    /* the change log's table (NGX_HTTP_OXMIGRATE_CHANGELOG_EXISTS) */

    if (m
        && mysql_query(m, NGX_HTTP_OXMIGRATE_CHANGELOG_EXISTS) == 0
        && (res = mysql_store_result(m)) != NULL)
    {
        row = mysql_fetch_row(res);
        i = (row && row[0] && row[0][0] != '0');
        mysql_free_result(res);

        if (i) {
            return "change log";
        }
    }

    if (rcf == NULL) {
        return "ttl";
    }

    for (i = 0; i < 3; i++) {
        if (i) {
            ngx_msleep(200);
        }

        if (ngx_http_oxmigrate_admin_epoch_incr(rcf, log, why, why_len)
            == NGX_OK)
        {
            return "redis epoch";
        }
    }

    return "failed";
}


/*
 * The routing module's freshness contract: every balancer worker polls
 * <prefix>epoch twice a second and drops its cached decisions when it
 * changes.  Called after the configdb change is committed.  Speaks to
 * Redis as oxmigrate_redis does: TCP or unix:PATH, AUTH, SELECT.
 */

ngx_int_t
ngx_http_oxmigrate_admin_epoch_incr(ngx_http_oxmigrate_redis_conf_t *rcf,
    ngx_log_t *log, char *why, size_t why_len)
{
    char           key[256];
    ngx_int_t      rc;
    redisReply    *reply;
    redisContext  *rc_ctx;

    if (rcf == NULL) {
        return NGX_DECLINED;
    }

    ngx_snprintf((u_char *) key, sizeof(key) - 1, "%Vepoch%Z", &rcf->prefix);

    rc_ctx = ngx_http_oxmigrate_admin_redis(rcf, why, why_len);
    if (rc_ctx == NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oxmigrate admin: %s, cached decisions expire by "
                      "their ttl", why);
        return NGX_ERROR;
    }

    rc = NGX_OK;

    reply = redisCommand(rc_ctx, "INCR %s", key);
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        rc = NGX_ERROR;

        /* the server's words (OOM, ...), never the password */
        ngx_snprintf((u_char *) why, why_len - 1, "INCR %s failed: %s%Z",
                     key,
                     rc_ctx->err ? rc_ctx->errstr
                     : (reply && reply->type == REDIS_REPLY_ERROR
                        && reply->str) ? reply->str : "unexpected reply");
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oxmigrate admin: %s, cached decisions expire by "
                      "their ttl", why);
    }

    if (reply) {
        freeReplyObject(reply);
    }

    redisFree(rc_ctx);

    return rc;
}


/*
 * A blocking connection to the routers' Redis (thread pool only), as
 * oxmigrate_redis configures it: TCP or unix:PATH, AUTH, SELECT, 1 s
 * timeouts.  NULL with *why set.
 */

redisContext *
ngx_http_oxmigrate_admin_redis(ngx_http_oxmigrate_redis_conf_t *rcf,
    char *why, size_t why_len)
{
    char            host[NGX_SOCKADDRLEN + 1];
    ngx_int_t       rc;
    redisReply     *reply;
    redisContext   *c;
    struct timeval  tv;

    ngx_cpystrn((u_char *) host, rcf->host.data,
                ngx_min(rcf->host.len + 1, sizeof(host)));

    tv.tv_sec = 1;
    tv.tv_usec = 0;

    if (ngx_strncmp(host, "unix:", 5) == 0) {
        c = redisConnectUnixWithTimeout(host + 5, tv);

    } else {
        c = redisConnectWithTimeout(host, (int) rcf->port, tv);
    }

    if (c == NULL || c->err) {
        ngx_snprintf((u_char *) why, why_len - 1, "Redis %s:%ui "
                     "unreachable: %s%Z", host, rcf->port,
                     c ? c->errstr : "no memory");
        if (c) {
            redisFree(c);
        }

        return NULL;
    }

    redisSetTimeout(c, tv);
    rc = NGX_OK;
    reply = NULL;

    if (rcf->password.len) {
        reply = redisCommand(c, "AUTH %b", rcf->password.data,
                             rcf->password.len);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc == NGX_OK && rcf->db) {
        if (reply) {
            freeReplyObject(reply);
        }

        reply = redisCommand(c, "SELECT %d", (int) rcf->db);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            rc = NGX_ERROR;
        }
    }

    if (rc != NGX_OK) {
        ngx_snprintf((u_char *) why, why_len - 1, "Redis %s:%ui: %s%Z",
                     host, rcf->port,
                     c->err ? c->errstr
                     : (reply && reply->type == REDIS_REPLY_ERROR
                        && reply->str) ? reply->str : "unexpected reply");
    }

    if (reply) {
        freeReplyObject(reply);
    }

    if (rc != NGX_OK) {
        redisFree(c);
        return NULL;
    }

    return c;
}
