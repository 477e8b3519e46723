/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the balancers' oxmigrate_hold, seen from a job
 * (src/ngx_http_oxmigrate_hold.c is the balancers' side).
 *
 * Both go through the Redis every balancer already reads (oxmigrate_redis):
 *
 *   <prefix>window:<schema>   the unix time in ms by which the job expects
 *                             the schema back, written just before the job
 *                             disables it: now + the mean downtime (disable
 *                             to enable) of the schemas this job has
 *                             finished so far.  Nothing is written before
 *                             the first schema is done.  A balancer holds
 *                             no request of the schema whose hold time
 *                             would end before that (answered at once,
 *                             oxmigrate_held_total{outcome="window"}).
 *                             Expires by itself a minute after that time.
 *   <prefix>hold:<schema>     a hash the balancers count into: "held"
 *                             (requests held), "answered" (requests that
 *                             got CTX-0007 / 503 all the same).  Reset
 *                             when the job disables the schema, read by
 *                             GET /jobs/{id} per schema.
 *
 * Without Redis neither exists: every request of a schema in maintenance
 * is held (up to the hold time) and the job view shows null counts.
 * Thread pool only (blocking hiredis and MariaDB).
 */


#include "ngx_http_oxmigrate_admin.h"
#include "ngx_http_oxmigrate_admin_job.h"


#define NGX_HTTP_OXMIGRATE_ADMIN_HOLD_KEY  512


static redisContext *ngx_http_oxmigrate_admin_hold_redis(
    ngx_http_oxmigrate_redis_conf_t *rcf, ngx_log_t *log);


/*
 * A job is about to disable the schema: its counts start again and the
 * balancers learn the expected window.  Failures are logged; the job goes
 * on.
 */

void
ngx_http_oxmigrate_admin_hold_disabled(ngx_http_oxmigrate_job_run_t *run,
    int64_t mean)
{
    char                              key[NGX_HTTP_OXMIGRATE_ADMIN_HOLD_KEY];
    redisReply                       *reply;
    redisContext                     *c;
    ngx_http_oxmigrate_redis_conf_t  *rcf;

    rcf = run->job->omcf->redis;

    if (rcf == NULL) {
        return;
    }

    c = ngx_http_oxmigrate_admin_hold_redis(rcf, run->job->log);
    if (c == NULL) {
        return;
    }

    ngx_snprintf((u_char *) key, sizeof(key) - 1, "%Vhold:%s%Z",
                 &rcf->prefix, run->js->name);

    reply = redisCommand(c, "DEL %s", key);
    if (reply) {
        freeReplyObject(reply);
    }

    if (mean > 0) {
        ngx_snprintf((u_char *) key, sizeof(key) - 1, "%Vwindow:%s%Z",
                     &rcf->prefix, run->js->name);

        reply = redisCommand(c, "SET %s %lld PX %lld", key,
                             (long long) (ngx_http_oxmigrate_admin_now_ms()
                                          + mean),
                             (long long) (mean + 60000));
        if (reply) {
            freeReplyObject(reply);
        }

        ngx_log_error(NGX_LOG_INFO, run->job->log, 0,
                      "oxmigrate admin: job %uL: schema %s expected back "
                      "in %L ms", run->job->id, run->js->name, mean);
    }

    redisFree(c);
}


/*
 * GET /jobs/{id}: "held" and "maintenance_answers" of each schema
 * (ngx_http_oxmigrate_job_schema_row_t), one Redis connection for all;
 * counted stays 0 (null in the answer) without Redis or an answer from it
 */

void
ngx_http_oxmigrate_admin_hold_counts(ngx_http_oxmigrate_redis_conf_t *rcf,
    ngx_log_t *log, ngx_array_t *schemas)
{
    char                                  key[NGX_HTTP_OXMIGRATE_ADMIN_HOLD_KEY];
    ngx_uint_t                            i, k;
    redisReply                           *reply;
    redisContext                         *c;
    ngx_http_oxmigrate_job_schema_row_t  *s;

    if (rcf == NULL || schemas == NULL || schemas->nelts == 0) {
        return;
    }

    c = ngx_http_oxmigrate_admin_hold_redis(rcf, log);
    if (c == NULL) {
        return;
    }

    s = schemas->elts;

    for (i = 0; i < schemas->nelts; i++) {
        ngx_snprintf((u_char *) key, sizeof(key) - 1, "%Vhold:%s%Z",
                     &rcf->prefix, s[i].name);

        reply = redisCommand(c, "HMGET %s held answered", key);

        if (reply && reply->type == REDIS_REPLY_ARRAY
            && reply->elements == 2)
        {
            for (k = 0; k < 2; k++) {
                s[i].hold[k] = (reply->element[k]->type == REDIS_REPLY_STRING)
                     ? ngx_http_oxmigrate_admin_job_col(
                                              reply->element[k]->str, 0)
                     : 0;
            }

            s[i].counted = 1;
        }

        if (reply) {
            freeReplyObject(reply);
        }
    }

    redisFree(c);
}


static redisContext *
ngx_http_oxmigrate_admin_hold_redis(ngx_http_oxmigrate_redis_conf_t *rcf,
    ngx_log_t *log)
{
    char           why[256];
    redisContext  *c;

    c = ngx_http_oxmigrate_admin_redis(rcf, why, sizeof(why));

    if (c == NULL) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oxmigrate admin: hold counts and windows: %s", why);
    }

    return c;
}
