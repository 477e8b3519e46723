/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, services: GET /schemas/{s}, a schema's diagnosis
 * (thread pool): its contexts by state, server ids, OX's lock row, the
 * last job, the inconsistencies and the call that fixes each.
 */


#include "ngx_http_oxmigrate_admin_store_jobs.h"


/* an inconsistency and the call that fixes it */

static ngx_int_t
ngx_http_oxmigrate_admin_problem(ngx_http_oxmigrate_diagnosis_t *dg,
    ngx_pool_t *pool, const char *what, const char *fix)
{
    ngx_http_oxmigrate_problem_t  *p;

    p = ngx_array_push(dg->problems);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p->problem = ngx_http_oxmigrate_admin_strndup(pool, what,
                                                  ngx_strlen(what));
    p->fix = ngx_http_oxmigrate_admin_strndup(pool, fix, ngx_strlen(fix));

    return (p->problem && p->fix) ? NGX_OK : NGX_ERROR;
}


/* what does not fit together, and the call that fixes it */

static ngx_int_t
ngx_http_oxmigrate_admin_diagnose(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_diagnosis_t *dg, ngx_uint_t enabled,
    ngx_uint_t disabled, ngx_uint_t nsid, uint64_t sid, uint64_t last_sid)
{
    char                           buf[512], fix[512];
    const char                    *s;
    ngx_http_oxmigrate_last_job_t *lj;

    s = dg->schema;
    lj = &dg->lj;

    if (dg->has_job && lj->live && ngx_strcmp(lj->state, "running") == 0) {
        /* a job works on it: whatever is half-way is its business */
        return NGX_OK;
    }

    if (enabled && disabled) {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "half-enabled:"
                     " %ui context state(s) enabled, %ui disabled (to"
                     " keep it down: POST /schemas/%s/disable)%Z",
                     enabled, disabled, s);
        ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                     "POST /schemas/%s/enable%Z", s);
        if (ngx_http_oxmigrate_admin_problem(dg, c->pool, buf, fix)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (nsid > 1) {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "server id mix:"
                     " its contexts are on %uL servers%Z", (uint64_t) nsid);
        ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                     "POST /schemas/%s/disable, POST /schemas/%s/"
                     "changeserver {\"server_id\":%uL}, POST /schemas/%s"
                     "/enable%Z", s, s,
                     (dg->has_job && lj->server_id) ? lj->server_id : sid,
                     s);
        if (ngx_http_oxmigrate_admin_problem(dg, c->pool, buf, fix)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (dg->locked > 0
        && ngx_http_oxmigrate_admin_lock_dead(c->alcf, dg->locked,
                                         ngx_http_oxmigrate_admin_now_ms()))
    {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "dead OX lock:"
                     " LOCKED row not refreshed for %L s%Z",
                     (ngx_http_oxmigrate_admin_now_ms() - dg->locked) / 1000);
        ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                     "POST /databases/%uL/unblock {\"schema\":\"%s\"}%Z",
                     dg->pool_id, s);
        if (ngx_http_oxmigrate_admin_problem(dg, c->pool, buf, fix)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (disabled && !enabled && dg->has_job
        && ngx_strcmp(lj->state, "done") == 0)
    {
        ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                     "POST /schemas/%s/enable%Z", s);
        if (ngx_http_oxmigrate_admin_problem(dg, c->pool, "disabled although"
                                             " its job finished it", fix)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (dg->has_job && ngx_strcmp(lj->state, "done") == 0
        && nsid == 1 && lj->server_id && last_sid != lj->server_id
        && !(lj->message && ngx_strstr(lj->message, "reverted")))
    {
        ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                     "POST /schemas/%s/disable, POST /schemas/%s/"
                     "changeserver {\"server_id\":%uL}, POST /schemas/%s"
                     "/enable%Z", s, s, lj->server_id, s);
        if (ngx_http_oxmigrate_admin_problem(dg, c->pool, "its job finished"
                                             " it but it is not on the job's"
                                             " server", fix)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    if (disabled && dg->has_job && ngx_strcmp(lj->state, "failed") == 0) {
        ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "disabled: job"
                     " %uL failed on it (%s)%Z", lj->job_id,
                     lj->message ? lj->message : "");
        ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                     "fix the cause, then POST /schemas/%s/update,"
                     " /changeserver {\"server_id\":%uL} and /enable;"
                     " or POST /schemas/%s/revert%Z", s, lj->server_id, s);
        if (ngx_http_oxmigrate_admin_problem(dg, c->pool, buf, fix)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* data is a diagnosis_t */

ngx_int_t
ngx_http_oxmigrate_admin_schema_get(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_args_t *a, ngx_http_oxmigrate_admin_res_t *res)
{
    MYSQL                            *m, *sm;
    uint64_t                          sid, last_sid;
    ngx_int_t                         rc, rs, rv;
    ngx_uint_t                        i, enabled, disabled, nsid, total;
    ngx_http_oxmigrate_diagnosis_t   *dg;
    ngx_http_oxmigrate_ctx_state_t   *cs;
    ngx_http_oxmigrate_ctx_server_t  *sv;

    dg = ngx_pcalloc(c->pool, sizeof(ngx_http_oxmigrate_diagnosis_t));
    if (dg == NULL) {
        return NGX_ERROR;
    }

    res->data = dg;
    dg->schema = a->path[0];

    m = ngx_http_oxmigrate_admin_conn_db(c, res);
    if (m == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_oxmigrate_admin_schema_known(c, m, dg->schema, res);
    if (rc != NGX_OK) {
        return rc;
    }

    rs = ngx_http_oxmigrate_admin_store_schema_contexts(m, c->pool,
                                                        dg->schema,
                                                        &dg->contexts);
    rv = ngx_http_oxmigrate_admin_store_schema_servers(m, c->pool,
                                                       dg->schema,
                                                       &dg->servers);
    rc = ngx_http_oxmigrate_admin_store_job_last(m, c->pool, dg->schema,
                                 ngx_http_oxmigrate_admin_job_stale(c->alcf),
                                 &dg->lj);

    if (rs != NGX_OK || rv != NGX_OK || rc == NGX_ERROR) {
        return ngx_http_oxmigrate_admin_db_fail(res, m);
    }

    dg->has_job = (rc == NGX_OK);

    if (dg->has_job) {
        dg->job_state = ngx_http_oxmigrate_admin_job_shown(dg->lj.job_state,
                                                           !dg->lj.live);
    }

    /* OX's lock row in the schema */

    dg->locked = -1;
    sm = ngx_http_oxmigrate_admin_store_schema_db(m, c->pool, dg->schema,
                                                  &dg->pool_id);

    if (sm) {
        dg->locked = ngx_http_oxmigrate_admin_store_ox_locked(sm, c->pool);
        mysql_close(sm);
    }

    if (dg->locked > 0) {
        dg->age = ngx_http_oxmigrate_admin_now_ms() - dg->locked;
        dg->live = !ngx_http_oxmigrate_admin_lock_dead(c->alcf, dg->locked,
                                                       dg->locked + dg->age);
    }

    enabled = 0;
    disabled = 0;

    cs = dg->contexts->elts;
    for (i = 0; i < dg->contexts->nelts; i++) {
        if (cs[i].enabled) {
            enabled++;

        } else {
            disabled++;
        }
    }

    nsid = 0;
    sid = 0;
    last_sid = 0;
    total = 0;

    sv = dg->servers->elts;
    for (i = 0; i < dg->servers->nelts; i++) {
        last_sid = sv[i].server_id;

        if (sv[i].contexts > total) {
            total = sv[i].contexts;
            sid = last_sid;
        }

        nsid++;
    }

    dg->problems = ngx_array_create(c->pool, 4,
                                    sizeof(ngx_http_oxmigrate_problem_t));
    if (dg->problems == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_diagnose(c, dg, enabled, disabled, nsid, sid,
                                          last_sid)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}
