
/*
 * Prometheus metrics of the login router (oxmigrate_metrics).
 *
 * The counters live in one small shared zone, created when any location
 * has oxmigrate_metrics; every worker adds to them with atomic adds (no
 * lock), so any worker can print all of them.  Without the directive the
 * zone does not exist and counting costs one pointer test.  No label
 * carries a context id, a login or a schema name.
 */


#include "ngx_http_oxmigrate_router.h"


#define NGX_HTTP_OXMIGRATE_M_DECISIONS  6
#define NGX_HTTP_OXMIGRATE_M_SOURCES    5
#define NGX_HTTP_OXMIGRATE_M_BUCKETS    9
#define NGX_HTTP_OXMIGRATE_M_LOOP_BUCKETS  7


typedef struct {
    ngx_atomic_t   decisions[NGX_HTTP_OXMIGRATE_M_DECISIONS];
    ngx_atomic_t   kinds[3];
    ngx_atomic_t   lookups[NGX_HTTP_OXMIGRATE_M_SOURCES];
    ngx_atomic_t   buckets[NGX_HTTP_OXMIGRATE_M_SOURCES]
                          [NGX_HTTP_OXMIGRATE_M_BUCKETS];
    ngx_atomic_t   sum_ms[NGX_HTTP_OXMIGRATE_M_SOURCES];
    ngx_atomic_t   errors[NGX_HTTP_OXMIGRATE_M_BACKENDS]
                         [NGX_HTTP_OXMIGRATE_M_KINDS];
    ngx_atomic_t   up[NGX_HTTP_OXMIGRATE_M_BACKENDS];   /* 0, 1, 2 unknown */
    ngx_atomic_t   admin[NGX_HTTP_OXMIGRATE_M_ROUTES][4];  /* 2xx .. 5xx */
    ngx_atomic_t   loop[NGX_HTTP_OXMIGRATE_M_LOOP_BUCKETS];
    ngx_atomic_t   loop_sum_us;
    ngx_atomic_t   loop_count;
    ngx_atomic_t   loop_max_us;
    ngx_atomic_t   job_seen;
    ngx_atomic_t   job_eta;                  /* seconds + 1; 0: unknown */
    ngx_atomic_t   job_running_ms;           /* its longest running schema */
    ngx_atomic_t   job[NGX_HTTP_OXMIGRATE_M_JOB_STATES];
    ngx_atomic_t   down[NGX_HTTP_OXMIGRATE_M_DOWN_BUCKETS];
    ngx_atomic_t   down_sum_ms;
    ngx_atomic_t   down_count;
    ngx_atomic_t   tasks[2];                 /* executed, failed */
    ngx_atomic_t   locks[2][2];              /* blocking, bg x held, stale */
    ngx_atomic_t   lock_oldest_ms;
    ngx_atomic_t   lock_scan_time;           /* 0: never complete */
    ngx_atomic_t   lock_scan_failures;
} ngx_http_oxmigrate_metrics_sh_t;


static ngx_int_t ngx_http_oxmigrate_metrics_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_int_t ngx_http_oxmigrate_metrics_handler(ngx_http_request_t *r);
static u_char *ngx_http_oxmigrate_metrics_print(u_char *p, u_char *last,
    ngx_http_oxmigrate_metrics_sh_t *m, ngx_http_oxmigrate_main_conf_t *omcf);
static u_char *ngx_http_oxmigrate_metrics_print_locks(u_char *p,
    u_char *last, ngx_http_oxmigrate_metrics_sh_t *m);
static u_char *ngx_http_oxmigrate_metrics_print_loop(u_char *p,
    u_char *last, ngx_http_oxmigrate_metrics_sh_t *m);
static u_char *ngx_http_oxmigrate_metrics_seconds(u_char *p, u_char *last,
    const char *name, const char *help, ngx_uint_t present,
    ngx_atomic_uint_t ms);


/* le bounds of oxmigrate_lookup_duration_seconds, in ms */
static ngx_msec_t  ngx_http_oxmigrate_metrics_le[] = {
    1, 2, 5, 10, 25, 50, 100, 500, 1000
};

static const char  *ngx_http_oxmigrate_metrics_le_text[] = {
    "0.001", "0.002", "0.005", "0.01", "0.025", "0.05", "0.1", "0.5", "1"
};

static const char  *ngx_http_oxmigrate_metrics_decision_names[] = {
    "pass", "redirect", "ctx0012", "maintenance", "unknown", "error"
};

static const char  *ngx_http_oxmigrate_metrics_kind[] = {
    "login", "basic", "share"
};

static const char  *ngx_http_oxmigrate_metrics_source[] = {
    "none", "shm", "redis", "db", "stale"
};

/* le bounds of oxmigrate_schema_downtime_seconds */
static ngx_msec_t  ngx_http_oxmigrate_metrics_down_le[] = {
    1000, 5000, 10000, 30000, 60000, 300000, 900000, 3600000
};

static const char  *ngx_http_oxmigrate_metrics_down_text[] = {
    "1", "5", "10", "30", "60", "300", "900", "3600"
};

/* le bounds of oxmigrate_admin_event_loop_seconds, in microseconds */
static ngx_uint_t  ngx_http_oxmigrate_metrics_loop_le[] = {
    50, 100, 250, 500, 1000, 2500, 10000
};

static const char  *ngx_http_oxmigrate_metrics_loop_text[] = {
    "0.00005", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.01"
};

static const char  *ngx_http_oxmigrate_metrics_job_states[] = {
    "pending", "running", "done", "failed", "cancelled"
};

static const char  *ngx_http_oxmigrate_metrics_backend_names[] = {
    "configdb", "redis"
};

static const char  *ngx_http_oxmigrate_metrics_error_kind[] = {
    "connect", "query", "timeout", "pool"
};


/* this worker's pointer into the zone; NULL: no oxmigrate_metrics */
static ngx_http_oxmigrate_metrics_sh_t  *ngx_http_oxmigrate_metrics_sh;

/* the admin API's endpoint names (it registers them; src/ knows no API) */
static ngx_http_oxmigrate_metrics_name_pt  ngx_http_oxmigrate_metrics_route;


char *
ngx_http_oxmigrate_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t                         name;
    ngx_http_core_loc_conf_t         *clcf;
    ngx_http_oxmigrate_main_conf_t   *omcf;

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_oxmigrate_module);

    if (omcf->metrics_zone == NULL) {
        ngx_str_set(&name, "oxmigrate_metrics");

        omcf->metrics_zone = ngx_shared_memory_add(cf, &name,
                                 8 * ngx_pagesize, &ngx_http_oxmigrate_module);
        if (omcf->metrics_zone == NULL) {
            return NGX_CONF_ERROR;
        }

        omcf->metrics_zone->init = ngx_http_oxmigrate_metrics_init_zone;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_oxmigrate_metrics_handler;

    return NGX_CONF_OK;
}


/* counters survive a reload with the zone; a new zone starts at zero */

static ngx_int_t
ngx_http_oxmigrate_metrics_init_zone(ngx_shm_zone_t *zone, void *data)
{
    ngx_uint_t        i;
    ngx_slab_pool_t  *shpool;
    ngx_http_oxmigrate_metrics_sh_t  *m;

    if (data) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_oxmigrate_metrics_sh_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_OXMIGRATE_M_BACKENDS; i++) {
        m->up[i] = 2;
    }

    shpool->data = m;
    zone->data = m;

    return NGX_OK;
}


void
ngx_http_oxmigrate_metrics_init_worker(ngx_http_oxmigrate_main_conf_t *omcf)
{
    ngx_http_oxmigrate_metrics_sh =
        omcf->metrics_zone ? omcf->metrics_zone->data : NULL;
}


void
ngx_http_oxmigrate_metrics_decision(ngx_uint_t kind, ngx_uint_t decision)
{
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL || decision >= NGX_HTTP_OXMIGRATE_M_DECISIONS || kind > 2) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->decisions[decision], 1);
    (void) ngx_atomic_fetch_add(&m->kinds[kind], 1);
}


void
ngx_http_oxmigrate_metrics_lookup(ngx_uint_t source, ngx_msec_t ms)
{
    ngx_uint_t                        b;
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL || source >= NGX_HTTP_OXMIGRATE_M_SOURCES) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->lookups[source], 1);
    (void) ngx_atomic_fetch_add(&m->sum_ms[source], ms);

    /* the first bucket that holds it; cumulated when printed */

    for (b = 0; b < NGX_HTTP_OXMIGRATE_M_BUCKETS; b++) {
        if (ms <= ngx_http_oxmigrate_metrics_le[b]) {
            (void) ngx_atomic_fetch_add(&m->buckets[source][b], 1);
            break;
        }
    }
}


void
ngx_http_oxmigrate_metrics_admin_names(ngx_http_oxmigrate_metrics_name_pt name)
{
    ngx_http_oxmigrate_metrics_route = name;
}


void
ngx_http_oxmigrate_metrics_admin(ngx_uint_t route, ngx_uint_t status)
{
    ngx_uint_t                        cls;
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    cls = status / 100;

    if (m == NULL || route >= NGX_HTTP_OXMIGRATE_M_ROUTES || cls < 2
        || cls > 5)
    {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->admin[route][cls - 2], 1);
}


/* a piece of the admin API's work on the event loop took usec */

void
ngx_http_oxmigrate_metrics_admin_loop(ngx_uint_t usec)
{
    ngx_uint_t                        b;
    ngx_atomic_uint_t                 max;
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->loop_count, 1);
    (void) ngx_atomic_fetch_add(&m->loop_sum_us, usec);

    for (b = 0; b < NGX_HTTP_OXMIGRATE_M_LOOP_BUCKETS; b++) {
        if (usec <= ngx_http_oxmigrate_metrics_loop_le[b]) {
            (void) ngx_atomic_fetch_add(&m->loop[b], 1);
            break;
        }
    }

    do {
        max = m->loop_max_us;
        if (usec <= max) {
            break;
        }
    } while (!ngx_atomic_cmp_set(&m->loop_max_us, max, usec));
}


/* the schemas of the job this worker drives, by state (a gauge) */

void
ngx_http_oxmigrate_metrics_job(ngx_uint_t *counts, ngx_msec_t running,
    ngx_int_t eta)
{
    ngx_uint_t                        i;
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL) {
        return;
    }

    for (i = 0; i < NGX_HTTP_OXMIGRATE_M_JOB_STATES; i++) {
        m->job[i] = counts[i];
    }

    m->job_eta = (eta < 0) ? 0 : (ngx_atomic_uint_t) eta + 1;
    m->job_running_ms = running;
    m->job_seen = 1;
}


/* update tasks a runupdate reported: executed (SQL runner), failed */

void
ngx_http_oxmigrate_metrics_tasks(ngx_uint_t executed, ngx_uint_t failed)
{
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->tasks[0], executed);
    (void) ngx_atomic_fetch_add(&m->tasks[1], failed);
}


/*
 * oxmigrate_update_lock_watch's last scan; the gauges change only when it
 * saw every database, the failures count in any case
 */

void
ngx_http_oxmigrate_metrics_locks(ngx_uint_t *held, ngx_uint_t *stale,
    ngx_msec_t oldest, ngx_uint_t failures, ngx_uint_t complete)
{
    ngx_uint_t                        k;
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->lock_scan_failures, failures);

    if (!complete) {
        return;
    }

    for (k = 0; k < 2; k++) {
        m->locks[k][0] = held[k];
        m->locks[k][1] = stale[k];
    }

    m->lock_oldest_ms = oldest;
    m->lock_scan_time = ngx_time();
}


/* a schema enabled again after ms disabled */

void
ngx_http_oxmigrate_metrics_downtime(ngx_msec_t ms)
{
    ngx_uint_t                        b;
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&m->down_count, 1);
    (void) ngx_atomic_fetch_add(&m->down_sum_ms, ms);

    for (b = 0; b < NGX_HTTP_OXMIGRATE_M_DOWN_BUCKETS; b++) {
        if (ms <= ngx_http_oxmigrate_metrics_down_le[b]) {
            (void) ngx_atomic_fetch_add(&m->down[b], 1);
            break;
        }
    }
}


void
ngx_http_oxmigrate_metrics_backend(ngx_uint_t backend, ngx_int_t kind)
{
    ngx_http_oxmigrate_metrics_sh_t  *m = ngx_http_oxmigrate_metrics_sh;

    if (m == NULL || backend >= NGX_HTTP_OXMIGRATE_M_BACKENDS) {
        return;
    }

    if (kind < 0) {
        m->up[backend] = 1;
        return;
    }

    if (kind < NGX_HTTP_OXMIGRATE_M_KINDS) {
        (void) ngx_atomic_fetch_add(&m->errors[backend][kind], 1);
    }

    if (kind != NGX_HTTP_OXMIGRATE_M_POOL) {
        m->up[backend] = 0;
    }
}


static ngx_int_t
ngx_http_oxmigrate_metrics_handler(ngx_http_request_t *r)
{
    size_t                            size;
    ngx_str_t                         type = ngx_string("text/plain; "
                                                        "version=0.0.4");
    ngx_buf_t                        *b;
    ngx_http_oxmigrate_main_conf_t   *omcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_oxmigrate_module);

    if (omcf->metrics_zone == NULL || omcf->metrics_zone->data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * the fixed part is under 12 kB; each admin action and status class
     * that was seen adds a line of at most ~100 bytes
     */
    size = 16384 + NGX_HTTP_OXMIGRATE_M_ROUTES * 4 * 128;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_oxmigrate_metrics_print(b->pos, b->end,
                                               omcf->metrics_zone->data,
                                               omcf);

    return ngx_http_oxmigrate_send_buf(r, NGX_HTTP_OK, &type,
                                       sizeof("text/plain") - 1, b);
}


#define oxm_printf(...)  p = ngx_slprintf(p, last, __VA_ARGS__)

static u_char *
ngx_http_oxmigrate_metrics_print(u_char *p, u_char *last,
    ngx_http_oxmigrate_metrics_sh_t *m, ngx_http_oxmigrate_main_conf_t *omcf)
{
    ngx_uint_t   i, k, cum, entries, evictions, invalidated;
    const char  *name;

    oxm_printf("# HELP oxmigrate_build_info The module's version and the "
               "nginx it runs in.\n"
               "# TYPE oxmigrate_build_info gauge\n"
               "oxmigrate_build_info{version=\"%s\",nginx=\"%s\"} 1\n",
               NGX_HTTP_OXMIGRATE_VERSION, NGINX_VERSION);

    oxm_printf("# HELP oxmigrate_login_decisions_total Decisions of the "
               "router, by decision.\n"
               "# TYPE oxmigrate_login_decisions_total counter\n");
    for (i = 0; i < NGX_HTTP_OXMIGRATE_M_DECISIONS; i++) {
        oxm_printf("oxmigrate_login_decisions_total{decision=\"%s\"} %uA\n",
                   ngx_http_oxmigrate_metrics_decision_names[i],
                   m->decisions[i]);
    }

    oxm_printf("# HELP oxmigrate_requests_identified_total Requests that "
               "named a context, by what named it.\n"
               "# TYPE oxmigrate_requests_identified_total counter\n");
    for (i = 0; i < 3; i++) {
        oxm_printf("oxmigrate_requests_identified_total{by=\"%s\"} %uA\n",
                   ngx_http_oxmigrate_metrics_kind[i], m->kinds[i]);
    }

    oxm_printf("# HELP oxmigrate_lookups_total Context lookups, by the tier "
               "that answered.\n"
               "# TYPE oxmigrate_lookups_total counter\n");
    for (i = 1; i < NGX_HTTP_OXMIGRATE_M_SOURCES; i++) {
        oxm_printf("oxmigrate_lookups_total{source=\"%s\"} %uA\n",
                   ngx_http_oxmigrate_metrics_source[i], m->lookups[i]);
    }

    oxm_printf("# HELP oxmigrate_lookup_duration_seconds Time a lookup "
               "took (event-loop clock, 1 ms resolution).\n"
               "# TYPE oxmigrate_lookup_duration_seconds histogram\n");
    for (i = 1; i < NGX_HTTP_OXMIGRATE_M_SOURCES; i++) {
        cum = 0;
        for (k = 0; k < NGX_HTTP_OXMIGRATE_M_BUCKETS; k++) {
            cum += m->buckets[i][k];
            oxm_printf("oxmigrate_lookup_duration_seconds_bucket{source="
                       "\"%s\",le=\"%s\"} %ui\n",
                       ngx_http_oxmigrate_metrics_source[i],
                       ngx_http_oxmigrate_metrics_le_text[k], cum);
        }
        oxm_printf("oxmigrate_lookup_duration_seconds_bucket{source=\"%s\","
                   "le=\"+Inf\"} %uA\n"
                   "oxmigrate_lookup_duration_seconds_sum{source=\"%s\"} "
                   "%uA.%03uA\n"
                   "oxmigrate_lookup_duration_seconds_count{source=\"%s\"} "
                   "%uA\n",
                   ngx_http_oxmigrate_metrics_source[i], m->lookups[i],
                   ngx_http_oxmigrate_metrics_source[i],
                   m->sum_ms[i] / 1000, m->sum_ms[i] % 1000,
                   ngx_http_oxmigrate_metrics_source[i], m->lookups[i]);
    }

    oxm_printf("# HELP oxmigrate_backend_errors_total Failures of configdb "
               "and Redis, by kind.\n"
               "# TYPE oxmigrate_backend_errors_total counter\n");
    for (i = 0; i < NGX_HTTP_OXMIGRATE_M_BACKENDS; i++) {
        for (k = 0; k < NGX_HTTP_OXMIGRATE_M_KINDS; k++) {
            oxm_printf("oxmigrate_backend_errors_total{backend=\"%s\","
                       "kind=\"%s\"} %uA\n",
                       ngx_http_oxmigrate_metrics_backend_names[i],
                       ngx_http_oxmigrate_metrics_error_kind[k],
                       m->errors[i][k]);
        }
    }

    oxm_printf("# HELP oxmigrate_configdb_up 1 when the last configdb "
               "query or connection succeeded, 0 when it failed.\n"
               "# TYPE oxmigrate_configdb_up gauge\n");
    if (m->up[0] != 2) {
        oxm_printf("oxmigrate_configdb_up %uA\n", m->up[0]);
    }

    oxm_printf("# HELP oxmigrate_redis_up 1 when the Redis connection is "
               "up, 0 when it was lost.\n"
               "# TYPE oxmigrate_redis_up gauge\n");
    if (m->up[1] != 2) {
        oxm_printf("oxmigrate_redis_up %uA\n", m->up[1]);
    }

    if (ngx_http_oxmigrate_metrics_route) {
        oxm_printf("# HELP oxmigrate_admin_requests_total Admin API calls, "
                   "by action (the OX tool, or the endpoint) and status "
                   "class.\n"
                   "# TYPE oxmigrate_admin_requests_total counter\n");

        for (i = 0; i < NGX_HTTP_OXMIGRATE_M_ROUTES; i++) {
            name = ngx_http_oxmigrate_metrics_route(i);
            if (name == NULL) {
                break;
            }

            for (k = 0; k < 4; k++) {
                if (m->admin[i][k]) {
                    oxm_printf("oxmigrate_admin_requests_total{action=\"%s\","
                               "status=\"%uixx\"} %uA\n",
                               name, k + 2, m->admin[i][k]);
                }
            }
        }
    }

    if (ngx_http_oxmigrate_metrics_route) {
        p = ngx_http_oxmigrate_metrics_print_loop(p, last, m);
    }

    oxm_printf("# HELP oxmigrate_job_schemas Schemas of the last job "
               "driven by a worker of this nginx, by state.\n"
               "# TYPE oxmigrate_job_schemas gauge\n");

    if (m->job_seen) {
        for (i = 0; i < NGX_HTTP_OXMIGRATE_M_JOB_STATES; i++) {
            oxm_printf("oxmigrate_job_schemas{state=\"%s\"} %uA\n",
                       ngx_http_oxmigrate_metrics_job_states[i], m->job[i]);
        }
    }

    oxm_printf("# HELP oxmigrate_job_eta_seconds Time left of the job this "
               "nginx drives: its contexts left at the rate of its schemas "
               "done, over the steps that run at once.\n"
               "# TYPE oxmigrate_job_eta_seconds gauge\n");

    if (m->job_seen && m->job_eta) {
        oxm_printf("oxmigrate_job_eta_seconds %uA\n", m->job_eta - 1);
    }

    p = ngx_http_oxmigrate_metrics_seconds(p, last,
            "oxmigrate_job_schema_running_seconds",
            "How long the schema of the job that has run longest is running "
            "now (it is disabled for most of that time), 0: none runs.",
            m->job_seen, m->job_running_ms);

    oxm_printf("# HELP oxmigrate_update_tasks_total Update tasks a "
               "runupdate executed (the updateTask rows it wrote) or "
               "reported failed.\n"
               "# TYPE oxmigrate_update_tasks_total counter\n"
               "oxmigrate_update_tasks_total{result=\"executed\"} %uA\n"
               "oxmigrate_update_tasks_total{result=\"failed\"} %uA\n",
               m->tasks[0], m->tasks[1]);

    p = ngx_http_oxmigrate_metrics_print_locks(p, last, m);

    oxm_printf("# HELP oxmigrate_schema_downtime_seconds How long a schema "
               "of a job was disabled (disable to enable).\n"
               "# TYPE oxmigrate_schema_downtime_seconds histogram\n");
    cum = 0;
    for (k = 0; k < NGX_HTTP_OXMIGRATE_M_DOWN_BUCKETS; k++) {
        cum += m->down[k];
        oxm_printf("oxmigrate_schema_downtime_seconds_bucket{le=\"%s\"} "
                   "%ui\n", ngx_http_oxmigrate_metrics_down_text[k], cum);
    }
    oxm_printf("oxmigrate_schema_downtime_seconds_bucket{le=\"+Inf\"} %uA\n"
               "oxmigrate_schema_downtime_seconds_sum %uA.%03uA\n"
               "oxmigrate_schema_downtime_seconds_count %uA\n",
               m->down_count, m->down_sum_ms / 1000, m->down_sum_ms % 1000,
               m->down_count);

    if (omcf->shm_zone) {
        ngx_http_oxmigrate_shm_stats(omcf->shm_zone, &entries, &evictions,
                                     &invalidated);

        oxm_printf("# HELP oxmigrate_cache_entries Entries in the shared "
                   "cache.\n"
                   "# TYPE oxmigrate_cache_entries gauge\n"
                   "oxmigrate_cache_entries %ui\n"
                   "# HELP oxmigrate_cache_evictions_total Entries evicted "
                   "because the zone was full.\n"
                   "# TYPE oxmigrate_cache_evictions_total counter\n"
                   "oxmigrate_cache_evictions_total %ui\n"
                   "# HELP oxmigrate_invalidations_total Entries deleted "
                   "because configdb changed (change log).\n"
                   "# TYPE oxmigrate_invalidations_total counter\n"
                   "oxmigrate_invalidations_total %ui\n",
                   entries, evictions, invalidated);
    }

    return p;
}


/* oxmigrate_update_lock_watch: printed once a scan saw every database */

static u_char *
ngx_http_oxmigrate_metrics_print_locks(u_char *p, u_char *last,
    ngx_http_oxmigrate_metrics_sh_t *m)
{
    ngx_uint_t  k;

    static const char  *lock[] = { "blocking", "background" };

    oxm_printf("# HELP oxmigrate_update_locks Schemas whose OX update lock "
               "row (updateTask LOCKED, BACKGROUND) was held or stale (not "
               "refreshed within oxmigrate_update_lock_idle) at the last "
               "scan.\n"
               "# TYPE oxmigrate_update_locks gauge\n");

    if (m->lock_scan_time) {
        for (k = 0; k < 2; k++) {
            oxm_printf("oxmigrate_update_locks{lock=\"%s\",state=\"held\"} "
                       "%uA\n"
                       "oxmigrate_update_locks{lock=\"%s\",state=\"stale\"} "
                       "%uA\n", lock[k], m->locks[k][0], lock[k],
                       m->locks[k][1]);
        }
    }

    p = ngx_http_oxmigrate_metrics_seconds(p, last,
            "oxmigrate_update_lock_oldest_seconds",
            "Age of the oldest OX update lock row at the last scan, 0: none.",
            m->lock_scan_time != 0, m->lock_oldest_ms);

    oxm_printf("# HELP oxmigrate_update_lock_scan_timestamp_seconds When "
               "the last scan of every schema's update locks ended.\n"
               "# TYPE oxmigrate_update_lock_scan_timestamp_seconds gauge\n");

    if (m->lock_scan_time) {
        oxm_printf("oxmigrate_update_lock_scan_timestamp_seconds %uA\n",
                   m->lock_scan_time);
    }

    oxm_printf("# HELP oxmigrate_update_lock_scan_failures_total Databases "
               "or schemas a scan of the update locks could not read.\n"
               "# TYPE oxmigrate_update_lock_scan_failures_total counter\n"
               "oxmigrate_update_lock_scan_failures_total %uA\n",
               m->lock_scan_failures);

    return p;
}


/* a gauge in seconds kept in ms; the sample only when present */

static u_char *
ngx_http_oxmigrate_metrics_seconds(u_char *p, u_char *last, const char *name,
    const char *help, ngx_uint_t present, ngx_atomic_uint_t ms)
{
    oxm_printf("# HELP %s %s\n# TYPE %s gauge\n", name, help, name);

    if (present) {
        oxm_printf("%s %uA.%03uA\n", name, ms / 1000, ms % 1000);
    }

    return p;
}


/* the admin API's event-loop time: a histogram and its longest piece */

static u_char *
ngx_http_oxmigrate_metrics_print_loop(u_char *p, u_char *last,
    ngx_http_oxmigrate_metrics_sh_t *m)
{
    ngx_uint_t  k, cum;

    oxm_printf("# HELP oxmigrate_admin_event_loop_seconds Time the admin "
               "API held a worker's event loop, per piece of work (a "
               "request's handler, a thread's answer, a job's event).\n"
               "# TYPE oxmigrate_admin_event_loop_seconds histogram\n");
    cum = 0;
    for (k = 0; k < NGX_HTTP_OXMIGRATE_M_LOOP_BUCKETS; k++) {
        cum += m->loop[k];
        oxm_printf("oxmigrate_admin_event_loop_seconds_bucket{le=\"%s\"} "
                   "%ui\n", ngx_http_oxmigrate_metrics_loop_text[k], cum);
    }
    oxm_printf("oxmigrate_admin_event_loop_seconds_bucket{le=\"+Inf\"} %uA\n"
               "oxmigrate_admin_event_loop_seconds_sum %uA.%06uA\n"
               "oxmigrate_admin_event_loop_seconds_count %uA\n"
               "# HELP oxmigrate_admin_event_loop_max_seconds The longest "
               "such piece since nginx started.\n"
               "# TYPE oxmigrate_admin_event_loop_max_seconds gauge\n"
               "oxmigrate_admin_event_loop_max_seconds %uA.%06uA\n",
               m->loop_count, m->loop_sum_us / 1000000,
               m->loop_sum_us % 1000000, m->loop_count,
               m->loop_max_us / 1000000, m->loop_max_us % 1000000);

    return p;
}
