/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the lock refresher of the SQL runner, a thread of
 * its own next to the one that runs the tasks (one task may run far
 * longer than oxmigrate_update_lock_idle): OX's refreshIntervalMillis on
 * the LOCKED row, always conditional on the value it wrote last, and the
 * job's heartbeat.  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"

#include <pthread.h>


struct ngx_http_oxmigrate_refresher_s {
    pthread_t                      tid;
    pthread_mutex_t                mtx;
    pthread_cond_t                 cond;
    ngx_uint_t                     stop;
    ngx_uint_t                     lost;
    pthread_mutex_t                dbmtx;      /* the LOCKED row, last */
    int64_t                        last;       /* our lastModified */
    ngx_msec_t                     refresh;
    MYSQL                         *m;          /* own connection */
    ngx_http_oxmigrate_dbhost_t   *host;
    const char                    *schema;
    ngx_pool_t                    *pool;
    ngx_log_t                     *log;
    uint64_t                       job_id;
    uint64_t                       job_claim;
    ngx_http_oxmigrate_db_conf_t  *configdb;
    MYSQL                         *cdb;        /* job heartbeat */
};


static void *ngx_http_oxmigrate_admin_refresher(void *data);


/* a refresher of the lock we took at "last"; NULL: none (do not run) */

ngx_http_oxmigrate_refresher_t *
ngx_http_oxmigrate_admin_refresher_start(ngx_http_oxmigrate_update_t *u,
    int64_t last)
{
    ngx_pool_t                      *pool;
    ngx_http_oxmigrate_refresher_t  *rf;

    /* its own pool (the runner's is not thread-safe), reset at every
     * refresh: the struct itself is not in it */
    rf = ngx_calloc(sizeof(ngx_http_oxmigrate_refresher_t), u->log);
    if (rf == NULL) {
        return NULL;
    }

    pool = ngx_create_pool(4096, u->log);
    if (pool == NULL) {
        ngx_free(rf);
        return NULL;
    }

    rf->pool = pool;
    rf->last = last;
    rf->refresh = u->alcf->lock_refresh;
    rf->schema = u->schema;
    rf->log = u->log;
    rf->job_id = u->job_id;
    rf->job_claim = u->job_claim;
    rf->configdb = u->configdb;

    /* it connects when its first refresh is due: most runs are over
     * before that */
    rf->host = u->host;

    pthread_mutex_init(&rf->mtx, NULL);
    pthread_mutex_init(&rf->dbmtx, NULL);
    pthread_cond_init(&rf->cond, NULL);

    if (pthread_create(&rf->tid, NULL, ngx_http_oxmigrate_admin_refresher, rf)
        != 0)
    {
        pthread_mutex_destroy(&rf->mtx);
        pthread_mutex_destroy(&rf->dbmtx);
        pthread_cond_destroy(&rf->cond);
        ngx_destroy_pool(pool);
        ngx_free(rf);
        return NULL;
    }

    return rf;
}


/* the lock was taken over (a refresh found another's value) */

ngx_uint_t
ngx_http_oxmigrate_admin_refresher_lost(ngx_http_oxmigrate_refresher_t *rf)
{
    ngx_uint_t  lost;

    pthread_mutex_lock(&rf->mtx);
    lost = rf->lost;
    pthread_mutex_unlock(&rf->mtx);

    return lost;
}


/*
 * A refresh on the runner's new connection after its server went away
 * (never at the same time as the refresher's own).  1: still ours, 0:
 * taken over (lost from now on), -1: MariaDB error on m.
 */

int64_t
ngx_http_oxmigrate_admin_refresher_reclaim(ngx_http_oxmigrate_refresher_t *rf,
    MYSQL *m, ngx_pool_t *pool)
{
    int64_t  now, rc;

    pthread_mutex_lock(&rf->dbmtx);

    now = ngx_http_oxmigrate_admin_now_ms();
    if (now <= rf->last) {
        now = rf->last + 1;
    }

    rc = ngx_http_oxmigrate_admin_store_lock_refresh(m, pool, rf->schema,
                                                     now, rf->last);
    if (rc == 1) {
        rf->last = now;
    }

    pthread_mutex_unlock(&rf->dbmtx);

    if (rc == 0) {
        pthread_mutex_lock(&rf->mtx);
        rf->lost = 1;
        pthread_mutex_unlock(&rf->mtx);
    }

    return rc;
}


/*
 * Stopped, joined and freed: the lock's lastModified as we wrote it last;
 * *lost set when it was taken over.
 */

int64_t
ngx_http_oxmigrate_admin_refresher_stop(ngx_http_oxmigrate_refresher_t *rf,
    ngx_uint_t *lost)
{
    int64_t  last;

    pthread_mutex_lock(&rf->mtx);
    rf->stop = 1;
    pthread_cond_signal(&rf->cond);
    pthread_mutex_unlock(&rf->mtx);

    pthread_join(rf->tid, NULL);
    pthread_mutex_destroy(&rf->mtx);
    pthread_mutex_destroy(&rf->dbmtx);
    pthread_cond_destroy(&rf->cond);

    *lost = rf->lost;
    last = rf->last;

    if (rf->m) {
        mysql_close(rf->m);
    }

    if (rf->cdb) {
        mysql_close(rf->cdb);
    }

    ngx_destroy_pool(rf->pool);
    ngx_free(rf);

    return last;
}


static void *
ngx_http_oxmigrate_admin_refresher(void *data)
{
    ngx_http_oxmigrate_refresher_t  *rf = data;

    char             err[256];
    int64_t          now, next, rc;
    struct timespec  ts;

    ngx_http_oxmigrate_admin_thread_init();

    pthread_mutex_lock(&rf->mtx);

    while (!rf->stop) {

        next = ngx_http_oxmigrate_admin_now_ms() + rf->refresh;
        ts.tv_sec = next / 1000;
        ts.tv_nsec = (next % 1000) * 1000000;

        while (!rf->stop
               && ngx_http_oxmigrate_admin_now_ms() < next)
        {
            (void) pthread_cond_timedwait(&rf->cond, &rf->mtx, &ts);
        }

        if (rf->stop) {
            break;
        }

        pthread_mutex_unlock(&rf->mtx);

        ngx_reset_pool(rf->pool);

        /* one writer of our lastModified at a time (runner_back too) */
        pthread_mutex_lock(&rf->dbmtx);

        now = ngx_http_oxmigrate_admin_now_ms();
        if (now <= rf->last) {
            now = rf->last + 1;
        }

        if (rf->m == NULL) {
            rf->m = ngx_http_oxmigrate_admin_connect(rf->host, rf->schema,
                                                     CLIENT_FOUND_ROWS, err,
                                                     sizeof(err));
            if (rf->m == NULL) {
                ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                              "oxmigrate admin: the update lock of schema "
                              "%s cannot be refreshed: %s", rf->schema, err);
            }
        }

        rc = (rf->m == NULL) ? -1
             : ngx_http_oxmigrate_admin_store_lock_refresh(rf->m, rf->pool,
                                                           rf->schema, now,
                                                           rf->last);

        if (rc < 0 && rf->m) {
            ngx_log_error(NGX_LOG_WARN, rf->log, 0,
                          "oxmigrate admin: refreshing the update lock of "
                          "schema %s failed: %s", rf->schema,
                          mysql_error(rf->m));
            mysql_close(rf->m);
            rf->m = NULL;
        }

        if (rc == 1) {
            rf->last = now;
        }

        pthread_mutex_unlock(&rf->dbmtx);

        if (rf->job_id) {
            if (rf->cdb == NULL) {
                rf->cdb = ngx_http_oxmigrate_admin_configdb_connect(
                              rf->configdb, rf->pool, err, sizeof(err));
            }

            if (rf->cdb
                && ngx_http_oxmigrate_admin_store_heartbeat(rf->cdb, rf->pool,
                       rf->job_id, rf->job_claim, now)
                   < 0)
            {
                mysql_close(rf->cdb);
                rf->cdb = NULL;
            }
        }

        pthread_mutex_lock(&rf->mtx);

        if (rc == 0) {
            ngx_log_error(NGX_LOG_ERR, rf->log, 0,
                          "oxmigrate admin: the update lock of schema %s "
                          "was taken over by another process", rf->schema);
            rf->lost = 1;
            break;
        }
    }

    pthread_mutex_unlock(&rf->mtx);

    /* our own thread: its connections are closed by the runner, which
     * joins it; free what the connector keeps per thread */
    mysql_thread_end();

    return NULL;
}
