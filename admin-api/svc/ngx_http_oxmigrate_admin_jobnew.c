
/*
 * oxmigrate admin API: a new job (thread pool).  Its owner and claim, its
 * own pool, the job of a plan and its rows in configdb, the
 * one-job-at-a-time guard, and the answer 202 after which it starts.
 * POST /upgrade and POST /updates (ngx_http_oxmigrate_admin_jobs.c) plan
 * one; a resume (ngx_http_oxmigrate_admin_jobview.c) takes one over.
 */


#include "ngx_http_oxmigrate_admin_job.h"

#include <netdb.h>
#include <arpa/inet.h>


static ngx_int_t ngx_http_oxmigrate_admin_job_schemas(
    ngx_http_oxmigrate_admin_op_t *op, MYSQL *m, ngx_http_oxmigrate_job_t *job,
    ngx_array_t *plan);


char *
ngx_http_oxmigrate_admin_owner(ngx_pool_t *pool)
{
    char  host[256], *p;

    if (gethostname(host, sizeof(host) - 1) != 0) {
        ngx_cpystrn((u_char *) host, (u_char *) "localhost", sizeof(host));
    }

    host[sizeof(host) - 1] = '\0';

    p = ngx_pnalloc(pool, ngx_strlen(host) + NGX_INT64_LEN + 2);
    if (p) {
        ngx_sprintf((u_char *) p, "%s:%P%Z", host, ngx_pid);
    }

    return p;
}


/*
 * Every driver of a job (the worker that created it, each one that resumed
 * it) has its own claim, written with the job.  A driver whose steps were
 * stuck (a thread pool busy with long calls) can see its heartbeat go
 * stale and the job resumed elsewhere: its next step finds another claim
 * and stops instead of driving the job a second time.
 */

uint64_t
ngx_http_oxmigrate_admin_job_claim(void)
{
    return ((uint64_t) ngx_http_oxmigrate_admin_now_ms() << 16)
           ^ (uint64_t) (ngx_random() & 0xffff);
}


ngx_http_oxmigrate_job_t *
ngx_http_oxmigrate_admin_job_new(ngx_http_oxmigrate_admin_op_t *op,
    ngx_uint_t kind, uint64_t id)
{
    ngx_pool_t                *pool;
    ngx_http_oxmigrate_job_t  *job;

    /* the job outlives the request: its own pool, freed when it ends */
    pool = ngx_create_pool(4096, op->conn.log);
    if (pool == NULL) {
        return NULL;
    }

    job = ngx_pcalloc(pool, sizeof(ngx_http_oxmigrate_job_t));
    if (job == NULL
        || ngx_array_init(&job->schemas, pool, 16,
                          sizeof(ngx_http_oxmigrate_job_schema_t))
           != NGX_OK
        || ngx_array_init(&job->conns, pool, 4, sizeof(MYSQL *)) != NGX_OK
        || ngx_array_init(&job->hosts, pool, 4,
                          sizeof(ngx_http_oxmigrate_job_host_t))
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NULL;
    }

    job->pool = pool;
    job->log = op->conn.log;
    job->id = id;
    job->kind = kind;
    job->parallel = 1;
    job->win_start = -1;
    job->win_end = -1;
    job->max_replica_lag = -1;
    job->alcf = op->conn.alcf;
    job->omcf = op->conn.omcf;
    job->claim = ngx_http_oxmigrate_admin_job_claim();

    return job;
}


/*
 * A new job of the schemas of a plan (schema_refs, in their order), with
 * their database hosts (thread).  NULL: no job (answered when configdb
 * failed).
 */

ngx_http_oxmigrate_job_t *
ngx_http_oxmigrate_admin_job_plan(ngx_http_oxmigrate_admin_op_t *op, MYSQL *m,
    ngx_uint_t kind, ngx_array_t *plan)
{
    ngx_http_oxmigrate_job_t  *job;

    job = ngx_http_oxmigrate_admin_job_new(op, kind, 0);
    if (job == NULL) {
        return NULL;
    }

    if (ngx_http_oxmigrate_admin_job_schemas(op, m, job, plan) != NGX_OK) {
        ngx_http_oxmigrate_admin_job_free(job);
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NULL;
    }

    return job;
}


static ngx_int_t
ngx_http_oxmigrate_admin_job_schemas(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job, ngx_array_t *plan)
{
    char                             *pname, *host;
    uint64_t                          pool_id;
    ngx_uint_t                        i;
    ngx_http_oxmigrate_dbhost_t       h;
    ngx_http_oxmigrate_job_schema_t  *js;
    ngx_http_oxmigrate_schema_ref_t   *s;

    s = plan->elts;
    pool_id = (uint64_t) -1;
    host = "";

    for (i = 0; i < plan->nelts; i++) {

        if (s[i].pool_id != pool_id) {
            pool_id = s[i].pool_id;

            if (ngx_http_oxmigrate_admin_pool_host(op->conn.pool, m, pool_id, &h,
                                                   &pname)
                == NGX_OK)
            {
                host = ngx_http_oxmigrate_admin_host_port(job->pool, &h);
                if (host == NULL) {
                    return NGX_ERROR;
                }

            } else {
                host = "";
            }
        }

        js = ngx_array_push(&job->schemas);
        if (js == NULL) {
            return NGX_ERROR;
        }

        js->name = ngx_http_oxmigrate_admin_strndup(job->pool, s[i].name,
                                                    ngx_strlen(s[i].name));
        if (js->name == NULL) {
            return NGX_ERROR;
        }

        js->pool_id = pool_id;
        js->host = host;
        js->seq = i;
        js->contexts = s[i].contexts;
        js->state = NGX_HTTP_OXMIGRATE_S_PENDING;
    }

    return NGX_OK;
}


/* INSERT the job and its schemas; returns the job id, 0 on error */

static uint64_t
ngx_http_oxmigrate_admin_job_insert(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job)
{
    char                             *owner, *sql, *p, *kind, sidbuf[32],
                                      pabuf[32], mdbuf[32], *window;
    yajl_val                          v;
    int64_t                           now;
    uint64_t                          id;
    ngx_str_t                         body;
    ngx_uint_t                        i, j;
    ngx_http_oxmigrate_job_schema_t  *js;

    owner = ngx_http_oxmigrate_admin_owner(op->conn.pool);
    now = ngx_http_oxmigrate_admin_now_ms();

    /* no JSON (an empty or blank body): the defaults */
    if (op->json) {
        body.data = op->args.body;
        body.len = op->args.body_len;

    } else {
        ngx_str_set(&body, "{}");
    }

    kind = (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) ? "upgrade"
                                                         : "updates";

    window = ngx_http_oxmigrate_admin_body_str(op, "window");
    v = ngx_http_oxmigrate_admin_body_get(op, "max_downtime");

    if (v && YAJL_IS_INTEGER(v) && YAJL_GET_INTEGER(v) > 0) {
        ngx_sprintf((u_char *) mdbuf, "%L%Z", YAJL_GET_INTEGER(v));

    } else {
        ngx_cpystrn((u_char *) mdbuf, (u_char *) "NULL", sizeof(mdbuf));
    }

    if (job->pause_after) {
        ngx_sprintf((u_char *) pabuf, "%uL%Z", job->pause_after);

    } else {
        ngx_cpystrn((u_char *) pabuf, (u_char *) "NULL", sizeof(pabuf));
    }

    if (job->server_id) {
        ngx_sprintf((u_char *) sidbuf, "%uL%Z", job->server_id);

    } else {
        ngx_cpystrn((u_char *) sidbuf, (u_char *) "NULL", sizeof(sidbuf));
    }

    if (ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
            "INSERT INTO oxmigrate_job (kind, state, options, server_id,"
            " user, owner, claim, ox_caches, started, heartbeat,"
            " pause_after, time_window, max_downtime)"
            " VALUES (%s, 'running', %V, %R, %s, %s, %U, %s, %D, %D, %R,"
            " NULLIF(%s, ''), %R)",
            kind, &body, sidbuf, op->conn.user, owner ? owner : "?", job->claim,
            ngx_http_oxmigrate_admin_caches(op->conn.alcf), now, now,
            pabuf, window ? window : "", mdbuf)
        < 0)
    {
        return 0;
    }

    id = mysql_insert_id(m);

    js = job->schemas.elts;

    for (i = 0; i < job->schemas.nelts; i = j) {

        /* 200 rows per INSERT */

        sql = ngx_http_oxmigrate_admin_sql(m, op->conn.pool,
                  "INSERT INTO oxmigrate_job_schema"
                  " (job_id, seq, name, db_pool_id, host, state, contexts)"
                  " VALUES ");
        if (sql == NULL) {
            return 0;
        }

        for (j = i; j < job->schemas.nelts && j < i + 200; j++) {
            p = ngx_http_oxmigrate_admin_sql(m, op->conn.pool,
                    "%R%R(%U, %U, %s, %U, %s, 'pending', %U)", sql,
                    j > i ? ", " : "", id, (uint64_t) js[j].seq, js[j].name,
                    js[j].pool_id, js[j].host, js[j].contexts);
            if (p == NULL) {
                return 0;
            }

            sql = p;
        }

        if (mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
            return 0;
        }
    }

    return id;
}


/*
 * One job at a time, whatever its kind: an upgrade and a runallupdate (or
 * two of either, or a resumed one next to any) would run the updates of
 * the same schemas at once, and the loser's schemas would fail with
 * UPD-0003.  "except" is the job being resumed (0: none), which may still
 * be "running" with a stale heartbeat.  NGX_OK: no other job runs;
 * NGX_ERROR: answered (409 job_running, or 500).
 */

ngx_int_t
ngx_http_oxmigrate_admin_job_none_running(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, uint64_t except)
{
    uint64_t    id;
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    res = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
              "SELECT id, kind, state FROM oxmigrate_job"
              " WHERE ((state = 'running' AND heartbeat >= %D)"
              " OR state = 'paused') AND id <> %U"
              " ORDER BY id LIMIT 1",
              ngx_http_oxmigrate_admin_job_stale(op->conn.alcf), except);
    if (res == NULL) {
        ngx_http_oxmigrate_admin_db_error(op, m);
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NGX_OK;
    }

    id = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));

    ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT, "job_running",
                                        "%s job %uL is %s", row[1], id,
                                        ngx_strcmp(row[2], "paused") == 0
                                        ? "paused (continue or cancel it)"
                                        : "still running");
    if (op->gen) {
        ngx_http_oxmigrate_admin_json_str(op->gen, "job");
        ngx_http_oxmigrate_admin_json_int(op->gen, id);
    }

    ngx_http_oxmigrate_admin_error_close(op);
    mysql_free_result(res);

    return NGX_ERROR;
}


/*
 * The answer 202 to a request that starts job (with a new id): {"job":
 * id, left open.  NULL: no answer possible, the job freed.
 */

yajl_gen
ngx_http_oxmigrate_admin_job_accepted(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_job_t *job)
{
    yajl_gen  g;

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_ACCEPTED);

    if (g) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "job");
        ngx_http_oxmigrate_admin_json_int(g, job->id);

    } else {
        /* no answer: the job does not start */
        ngx_http_oxmigrate_admin_job_free(job);
    }

    return g;
}


/* INSERT a planned job and answer 202; it starts once the answer is out */

void
ngx_http_oxmigrate_admin_job_launch(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, ngx_http_oxmigrate_job_t *job)
{
    yajl_gen  g;

    job->id = ngx_http_oxmigrate_admin_job_insert(op, m, job);
    if (job->id == 0) {
        ngx_http_oxmigrate_admin_job_free(job);
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    g = ngx_http_oxmigrate_admin_job_accepted(op, job);
    if (g == NULL) {
        return;
    }

    if (job->kind == NGX_HTTP_OXMIGRATE_JOB_UPGRADE) {
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, job->server_id);
    }

    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    ngx_http_oxmigrate_admin_json_int(g, job->schemas.nelts);
    yajl_gen_map_close(g);

    op->job = job;
}


/*
 * "One step per database host" compares addresses: the host part of a
 * schema's "host:port" is looked up (getaddrinfo, on the thread: never on
 * the event loop) and the smallest of its addresses, with the port, is
 * the key, so 127.1, 127.0.0.1 and a name of that address are one host.
 * A name that does not resolve keys by itself.  Each distinct "host:port"
 * is looked up once.
 */

static char *
ngx_http_oxmigrate_admin_job_addr(ngx_pool_t *pool, const char *hostport)
{
    char              *host, *key, best[INET6_ADDRSTRLEN], a[INET6_ADDRSTRLEN];
    void              *in;
    const char        *port;
    size_t             n;
    struct addrinfo    hints, *res, *ai;

    port = strrchr(hostport, ':');
    if (port == NULL || port == hostport) {
        return (char *) hostport;
    }

    host = ngx_http_oxmigrate_admin_strndup(pool, hostport, port - hostport);
    if (host == NULL) {
        return (char *) hostport;
    }

    /* an IPv6 literal in brackets */
    n = ngx_strlen(host);
    if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
        host[n - 1] = '\0';
        host++;
    }

    ngx_memzero(&hints, sizeof(struct addrinfo));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        return (char *) hostport;
    }

    best[0] = '\0';

    for (ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            in = &((struct sockaddr_in *) ai->ai_addr)->sin_addr;

        } else if (ai->ai_family == AF_INET6) {
            in = &((struct sockaddr_in6 *) ai->ai_addr)->sin6_addr;

        } else {
            continue;
        }

        if (inet_ntop(ai->ai_family, in, a, sizeof(a)) != NULL
            && (best[0] == '\0' || ngx_strcmp(a, best) < 0))
        {
            ngx_cpystrn((u_char *) best, (u_char *) a, sizeof(best));
        }
    }

    freeaddrinfo(res);

    if (best[0] == '\0') {
        return (char *) hostport;
    }

    key = ngx_pnalloc(pool, ngx_strlen(best) + ngx_strlen(port) + 1);
    if (key == NULL) {
        return (char *) hostport;
    }

    ngx_sprintf((u_char *) key, "%s%s%Z", best, port);

    return key;
}


void
ngx_http_oxmigrate_admin_job_resolve(void *data)
{
    ngx_http_oxmigrate_job_t  *job = data;

    ngx_uint_t                        i, k;
    ngx_http_oxmigrate_job_schema_t  *js;

    js = job->schemas.elts;

    for (i = 0; i < job->schemas.nelts; i++) {

        /* schemas of one host mostly follow each other */
        for (k = i; k > 0; k--) {
            if (ngx_strcmp(js[k - 1].host, js[i].host) == 0) {
                break;
            }
        }

        js[i].addr = (k > 0) ? js[k - 1].addr
                             : ngx_http_oxmigrate_admin_job_addr(job->pool,
                                                                 js[i].host);
    }
}
