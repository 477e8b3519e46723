
/*
 * oxmigrate admin API: one schema after a job (thread pool).
 *
 *   POST /schemas/{s}/revert   back to the server it had before the last
 *                              upgrade job that touched it, enabled there;
 *                              refused while update tasks of the new
 *                              version ran on it, unless force
 *   GET /schemas/{s}           a diagnosis: contexts by state, server ids,
 *                              OX's lock row, the last job, inconsistencies
 *                              and the call that fixes each
 */


#include "ngx_http_oxmigrate_admin_job.h"


/* the last upgrade job's row of the schema; NULL: none (or answered) */

typedef struct {
    uint64_t    job_id;
    char       *job_state;
    char       *state;
    char       *message;
    uint64_t    server_id;       /* the job's target */
    uint64_t    from_server_id;  /* 0: unknown */
    int64_t     disabled_at;     /* 0: never disabled */
    ngx_uint_t  live;            /* the job runs (live heartbeat) */
} ngx_http_oxmigrate_last_job_t;


static ngx_int_t
ngx_http_oxmigrate_admin_last_job(ngx_http_oxmigrate_admin_op_t *op, MYSQL *m,
    ngx_http_oxmigrate_last_job_t *lj)
{
    MYSQL_ROW   row;
    MYSQL_RES  *res;

    ngx_memzero(lj, sizeof(ngx_http_oxmigrate_last_job_t));

    res = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
              "SELECT s.job_id, j.state, s.state, s.message, j.server_id,"
              " s.from_server_id, s.disabled_at,"
              " j.state = 'running' AND j.heartbeat >= %D"
              " FROM oxmigrate_job_schema s JOIN oxmigrate_job j"
              " ON j.id = s.job_id WHERE s.name = %s AND j.kind = 'upgrade'"
              " ORDER BY s.job_id DESC LIMIT 1",
              ngx_http_oxmigrate_admin_job_stale(op->conn.alcf), op->args.path[0]);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);

    if (row) {
        lj->job_id = ngx_http_oxmigrate_admin_job_col(row[0], 0);
        lj->job_state = ngx_http_oxmigrate_admin_strndup(op->conn.pool, row[1],
                                                        ngx_strlen(row[1]));
        lj->state = ngx_http_oxmigrate_admin_strndup(op->conn.pool, row[2],
                                                    ngx_strlen(row[2]));
        lj->message = row[3]
                      ? ngx_http_oxmigrate_admin_strndup(op->conn.pool, row[3],
                                                         ngx_strlen(row[3]))
                      : NULL;
        lj->server_id = ngx_http_oxmigrate_admin_job_col(row[4], 0);
        lj->from_server_id = ngx_http_oxmigrate_admin_job_col(row[5], 0);
        lj->disabled_at = ngx_http_oxmigrate_admin_job_col(row[6], 0);
        lj->live = (row[7] && row[7][0] == '1');
    }

    mysql_free_result(res);

    return row ? NGX_OK : NGX_DECLINED;
}


/* the schema's database; NULL: none (the caller goes on without it) */

static MYSQL *
ngx_http_oxmigrate_admin_schema_db(ngx_http_oxmigrate_admin_op_t *op,
    MYSQL *m, uint64_t *pool_id)
{
    char                         *pname, err[256];
    ngx_http_oxmigrate_dbhost_t   h;

    if (ngx_http_oxmigrate_admin_schema_pool(m, op->conn.pool, op->args.path[0], pool_id)
        != NGX_OK
        || ngx_http_oxmigrate_admin_pool_host(op->conn.pool, m, *pool_id, &h,
                                              &pname)
           != NGX_OK)
    {
        return NULL;
    }

    return ngx_http_oxmigrate_admin_connect(&h, op->args.path[0], 0, err,
                                            sizeof(err));
}


/* POST /schemas/{s}/revert {"force": false} */

void
ngx_http_oxmigrate_admin_schema_revert(ngx_http_oxmigrate_admin_op_t *op)
{
    MYSQL                          *m, *sm;
    yajl_gen                        g;
    uint64_t                        pool_id;
    ngx_uint_t                      force, status, n;
    MYSQL_ROW                       row;
    MYSQL_RES                      *tasks;
    ngx_http_oxmigrate_step_t       st;
    ngx_http_oxmigrate_last_job_t   lj;

    force = ngx_http_oxmigrate_admin_body_flag(op, "force", 0);

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_known_schema(op, m) != NGX_OK) {
        return;
    }

    switch (ngx_http_oxmigrate_admin_last_job(op, m, &lj)) {

    case NGX_ERROR:
        ngx_http_oxmigrate_admin_db_error(op, m);
        return;

    case NGX_DECLINED:
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT, "no_job",
                                       "no upgrade job touched schema '%s'",
                                       op->args.path[0]);
        return;
    }

    if (lj.live && ngx_strcmp(lj.state, "running") == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT, "job_running",
                                       "job %uL works on schema '%s'",
                                       lj.job_id, op->args.path[0]);
        return;
    }

    if (lj.from_server_id == 0) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_CONFLICT,
                   "unknown_server", "job %uL did not record the server "
                   "schema '%s' had before: POST /schemas/%s/changeserver "
                   "and /enable by hand", lj.job_id, op->args.path[0], op->args.path[0]);
        return;
    }

    /* the update tasks that ran since the job disabled it */

    tasks = NULL;
    sm = ngx_http_oxmigrate_admin_schema_db(op, m, &pool_id);

    if (sm && lj.disabled_at) {
        tasks = ngx_http_oxmigrate_admin_select(sm, op->conn.pool,
                    "SELECT taskName FROM updateTask WHERE lastModified >= %D"
                    " AND taskName NOT IN ('LOCKED', 'BACKGROUND')"
                    " ORDER BY lastModified, taskName", lj.disabled_at);
    }

    if (sm) {
        mysql_close(sm);
    }

    n = tasks ? mysql_num_rows(tasks) : 0;

    if (n && !force) {
        ngx_http_oxmigrate_admin_error_open(op, NGX_HTTP_CONFLICT,
                "tasks_ran", "%ui update task(s) of the new version ran on "
                "schema '%s' since job %uL disabled it; they are rarely "
                "reversible: send \"force\": true to revert anyway", n,
                op->args.path[0], lj.job_id);
        if (op->gen) {
            ngx_http_oxmigrate_admin_json_str(op->gen, "tasks");
            yajl_gen_array_open(op->gen);
            while ((row = mysql_fetch_row(tasks))) {
                ngx_http_oxmigrate_admin_json_str(op->gen, row[0]);
            }
            yajl_gen_array_close(op->gen);
        }

        ngx_http_oxmigrate_admin_error_close(op);
        mysql_free_result(tasks);
        return;
    }

    /* disable, changeserver back, enable there */

    ngx_http_oxmigrate_admin_step_init(&st, op->conn.alcf, op->conn.pool, op->conn.log, m,
                                       op->args.path[0]);

    status = st.steps->disable(&st);
    if (status == 0) {
        st.cache = ngx_http_oxmigrate_admin_invalidate(m, op->conn.omcf->redis,
                                                       op->conn.log, st.cache_why,
                                                       sizeof(st.cache_why));
        status = st.steps->changeserver(&st, lj.from_server_id);
    }

    if (status == 0) {
        status = st.steps->enable(&st);
    }

    if (status) {
        if (tasks) {
            mysql_free_result(tasks);
        }

        ngx_http_oxmigrate_admin_step_error(op, &st, status);
        return;
    }

    st.cache = ngx_http_oxmigrate_admin_invalidate(m, op->conn.omcf->redis,
                                                   op->conn.log, st.cache_why,
                                                   sizeof(st.cache_why));

    (void) ngx_http_oxmigrate_admin_exec(m, op->conn.pool,
              "UPDATE oxmigrate_job_schema SET message = CONCAT("
              "'reverted to server ', %U, ' by ', %s) WHERE job_id = %U"
              " AND name = %s", lj.from_server_id, op->conn.user, lj.job_id,
              op->args.path[0]);

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "schema");
        ngx_http_oxmigrate_admin_json_str(g, op->args.path[0]);
        ngx_http_oxmigrate_admin_json_str(g, "reverted");
        ngx_http_oxmigrate_admin_json_bool(g, 1);
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, lj.from_server_id);
        ngx_http_oxmigrate_admin_json_str(g, "job");
        ngx_http_oxmigrate_admin_json_int(g, lj.job_id);
        ngx_http_oxmigrate_admin_json_str(g, "forced");
        ngx_http_oxmigrate_admin_json_bool(g, n && force);
        ngx_http_oxmigrate_admin_json_str(g, "tasks");
        yajl_gen_array_open(g);
        while (tasks && (row = mysql_fetch_row(tasks))) {
            ngx_http_oxmigrate_admin_json_str(g, row[0]);
        }
        yajl_gen_array_close(g);
        ngx_http_oxmigrate_admin_step_json(g, &st);
        yajl_gen_map_close(g);
    }

    if (tasks) {
        mysql_free_result(tasks);
    }
}


/* an inconsistency and the call that fixes it */

static void
ngx_http_oxmigrate_admin_problem(yajl_gen g, const char *what,
    const char *fix)
{
    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "problem");
    ngx_http_oxmigrate_admin_json_str(g, what);
    ngx_http_oxmigrate_admin_json_str(g, "fix");
    ngx_http_oxmigrate_admin_json_str(g, fix);
    yajl_gen_map_close(g);
}


/* GET /schemas/{s} */

void
ngx_http_oxmigrate_admin_schema_get(ngx_http_oxmigrate_admin_op_t *op)
{
    char                           buf[512], fix[512];
    MYSQL                         *m, *sm;
    int64_t                        locked, age;
    yajl_gen                       g;
    uint64_t                       pool_id, sid, nsid, last_sid;
    ngx_int_t                      rc;
    ngx_uint_t                     enabled, disabled, total;
    MYSQL_ROW                      row;
    MYSQL_RES                     *res, *servers;
    ngx_http_oxmigrate_last_job_t  lj;

    m = ngx_http_oxmigrate_admin_configdb(op);
    if (m == NULL) {
        return;
    }

    if (ngx_http_oxmigrate_admin_known_schema(op, m) != NGX_OK) {
        return;
    }

    res = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
              "SELECT c.enabled, c.reason_id, p.server_id, COUNT(*)"
              " FROM context c JOIN context_server2db_pool p USING (cid)"
              " WHERE p.db_schema = %s GROUP BY 1, 2, 3 ORDER BY 3, 1, 2",
              op->args.path[0]);
    servers = ngx_http_oxmigrate_admin_select(m, op->conn.pool,
              "SELECT p.server_id, s.name, COUNT(*)"
              " FROM context_server2db_pool p LEFT JOIN server s"
              " USING (server_id) WHERE p.db_schema = %s GROUP BY 1, 2"
              " ORDER BY 1", op->args.path[0]);
    rc = ngx_http_oxmigrate_admin_last_job(op, m, &lj);

    if (res == NULL || servers == NULL || rc == NGX_ERROR) {
        if (res) {
            mysql_free_result(res);
        }

        if (servers) {
            mysql_free_result(servers);
        }

        ngx_http_oxmigrate_admin_db_error(op, m);
        return;
    }

    /* OX's lock row in the schema */

    locked = -1;
    pool_id = 0;
    sm = ngx_http_oxmigrate_admin_schema_db(op, m, &pool_id);

    if (sm) {
        MYSQL_RES  *lr;

        lr = ngx_http_oxmigrate_admin_select(sm, op->conn.pool,
                 "SELECT lastModified FROM updateTask WHERE cid = 0"
                 " AND taskName = 'LOCKED'");
        locked = 0;

        if (lr) {
            row = mysql_fetch_row(lr);
            if (row && row[0]) {
                locked = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));
            }

            mysql_free_result(lr);
        }

        mysql_close(sm);
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);
    if (g == NULL) {
        mysql_free_result(res);
        mysql_free_result(servers);
        return;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "schema");
    ngx_http_oxmigrate_admin_json_str(g, op->args.path[0]);
    ngx_http_oxmigrate_admin_json_str(g, "db_pool_id");
    ngx_http_oxmigrate_admin_json_int(g, pool_id);

    ngx_http_oxmigrate_admin_json_str(g, "contexts");
    yajl_gen_array_open(g);

    enabled = 0;
    disabled = 0;

    while ((row = mysql_fetch_row(res))) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "enabled");
        ngx_http_oxmigrate_admin_json_bool(g, row[0] && row[0][0] == '1');
        ngx_http_oxmigrate_admin_job_json_int(g, "reason_id", row[1]);
        ngx_http_oxmigrate_admin_job_json_int(g, "server_id", row[2]);
        ngx_http_oxmigrate_admin_job_json_int(g, "count", row[3]);
        yajl_gen_map_close(g);

        if (row[0] && row[0][0] == '1') {
            enabled++;

        } else {
            disabled++;
        }
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "servers");
    yajl_gen_array_open(g);

    nsid = 0;
    sid = 0;
    last_sid = 0;
    total = 0;

    while ((row = mysql_fetch_row(servers))) {
        last_sid = ngx_atoof((u_char *) row[0], ngx_strlen(row[0]));

        if (ngx_atoof((u_char *) row[2], ngx_strlen(row[2]))
            > (off_t) total)
        {
            total = ngx_atoof((u_char *) row[2], ngx_strlen(row[2]));
            sid = last_sid;
        }

        nsid++;
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, last_sid);
        ngx_http_oxmigrate_admin_json_str(g, "name");
        ngx_http_oxmigrate_admin_json_str(g, row[1]);
        ngx_http_oxmigrate_admin_json_str(g, "contexts");
        ngx_http_oxmigrate_admin_json_int(g,
                           ngx_atoof((u_char *) row[2], ngx_strlen(row[2])));
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    ngx_http_oxmigrate_admin_json_str(g, "ox_lock");
    if (locked < 0) {
        yajl_gen_null(g);

    } else if (locked == 0) {
        ngx_http_oxmigrate_admin_json_str(g, "none");

    } else {
        age = ngx_http_oxmigrate_admin_now_ms() - locked;
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "last_modified");
        ngx_http_oxmigrate_admin_json_int(g, locked);
        ngx_http_oxmigrate_admin_json_str(g, "age_ms");
        ngx_http_oxmigrate_admin_json_int(g, age);
        ngx_http_oxmigrate_admin_json_str(g, "live");
        ngx_http_oxmigrate_admin_json_bool(g,
                !ngx_http_oxmigrate_admin_lock_dead(op->conn.alcf, locked,
                                                    locked + age));
        yajl_gen_map_close(g);
    }

    ngx_http_oxmigrate_admin_json_str(g, "last_job");
    if (rc == NGX_OK) {
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "id");
        ngx_http_oxmigrate_admin_json_int(g, lj.job_id);
        ngx_http_oxmigrate_admin_job_json_str(g, "job_state",
                       ngx_http_oxmigrate_admin_job_shown(lj.job_state,
                                                          !lj.live));
        ngx_http_oxmigrate_admin_json_str(g, "state");
        ngx_http_oxmigrate_admin_json_str(g, lj.state);
        ngx_http_oxmigrate_admin_json_str(g, "message");
        ngx_http_oxmigrate_admin_json_str(g, lj.message && lj.message[0]
                                             ? lj.message : NULL);
        ngx_http_oxmigrate_admin_json_str(g, "server_id");
        ngx_http_oxmigrate_admin_json_int(g, lj.server_id);
        ngx_http_oxmigrate_admin_json_str(g, "from_server_id");
        if (lj.from_server_id) {
            ngx_http_oxmigrate_admin_json_int(g, lj.from_server_id);
        } else {
            yajl_gen_null(g);
        }

        yajl_gen_map_close(g);

    } else {
        yajl_gen_null(g);
    }

    /* what does not fit together, and the call that fixes it */

    ngx_http_oxmigrate_admin_json_str(g, "inconsistencies");
    yajl_gen_array_open(g);

    if (lj.live && ngx_strcmp(lj.state, "running") == 0) {
        /* a job works on it: whatever is half-way is its business */

    } else {
        if (enabled && disabled) {
            ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "half-enabled:"
                         " %ui context state(s) enabled, %ui disabled (to"
                         " keep it down: POST /schemas/%s/disable)%Z",
                         enabled, disabled, op->args.path[0]);
            ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                         "POST /schemas/%s/enable%Z", op->args.path[0]);
            ngx_http_oxmigrate_admin_problem(g, buf, fix);
        }

        if (nsid > 1) {
            ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "server id mix:"
                         " its contexts are on %uL servers%Z", nsid);
            ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                         "POST /schemas/%s/disable, POST /schemas/%s/"
                         "changeserver {\"server_id\":%uL}, POST /schemas/%s"
                         "/enable%Z", op->args.path[0], op->args.path[0],
                         (rc == NGX_OK && lj.server_id) ? lj.server_id : sid,
                         op->args.path[0]);
            ngx_http_oxmigrate_admin_problem(g, buf, fix);
        }

        if (locked > 0
            && ngx_http_oxmigrate_admin_lock_dead(op->conn.alcf, locked,
                                         ngx_http_oxmigrate_admin_now_ms()))
        {
            ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "dead OX lock:"
                         " LOCKED row not refreshed for %L s%Z",
                         (ngx_http_oxmigrate_admin_now_ms() - locked) / 1000);
            ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                         "POST /databases/%uL/unblock {\"schema\":\"%s\"}%Z",
                         pool_id, op->args.path[0]);
            ngx_http_oxmigrate_admin_problem(g, buf, fix);
        }

        if (disabled && !enabled && rc == NGX_OK
            && ngx_strcmp(lj.state, "done") == 0)
        {
            ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                         "POST /schemas/%s/enable%Z", op->args.path[0]);
            ngx_http_oxmigrate_admin_problem(g, "disabled although its job"
                                             " finished it", fix);
        }

        if (rc == NGX_OK && ngx_strcmp(lj.state, "done") == 0
            && nsid == 1 && lj.server_id && last_sid != lj.server_id
            && !(lj.message && ngx_strstr(lj.message, "reverted")))
        {
            ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                         "POST /schemas/%s/disable, POST /schemas/%s/"
                         "changeserver {\"server_id\":%uL}, POST /schemas/%s"
                         "/enable%Z", op->args.path[0], op->args.path[0], lj.server_id,
                         op->args.path[0]);
            ngx_http_oxmigrate_admin_problem(g, "its job finished it but it"
                                             " is not on the job's server",
                                             fix);
        }

        if (disabled && rc == NGX_OK
            && ngx_strcmp(lj.state, "failed") == 0)
        {
            ngx_snprintf((u_char *) buf, sizeof(buf) - 1, "disabled: job"
                         " %uL failed on it (%s)%Z", lj.job_id,
                         lj.message ? lj.message : "");
            ngx_snprintf((u_char *) fix, sizeof(fix) - 1,
                         "fix the cause, then POST /schemas/%s/update,"
                         " /changeserver {\"server_id\":%uL} and /enable;"
                         " or POST /schemas/%s/revert%Z", op->args.path[0],
                         lj.server_id, op->args.path[0]);
            ngx_http_oxmigrate_admin_problem(g, buf, fix);
        }
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    mysql_free_result(res);
    mysql_free_result(servers);
}
