/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the endpoints (method, path, audit action,
 * handler, body fields) and the routing of a request to one of them.
 * Event loop.
 */


#include "ngx_http_oxmigrate_admin.h"


#define NGX_HTTP_OXMIGRATE_ARG(f)  offsetof(ngx_http_oxmigrate_admin_args_t, f)


static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_none[] = {
    { NULL, 0, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_server[] = {
    { "name", NGX_HTTP_OXMIGRATE_FIELD_STRING, 255,
      NGX_HTTP_OXMIGRATE_ARG(name) },
    { NULL, 0, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_change[] = {
    { "server_id", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U,
      NGX_HTTP_OXMIGRATE_ARG(server_id) },
    { "server", NGX_HTTP_OXMIGRATE_FIELD_STRING, 255,
      NGX_HTTP_OXMIGRATE_ARG(server) },
    { NULL, 0, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_unblock[] = {
    { "schema", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 64,
      NGX_HTTP_OXMIGRATE_ARG(schema) },
    { NULL, 0, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_upgrade[] = {
    { "server", NGX_HTTP_OXMIGRATE_FIELD_STRING, 255,
      NGX_HTTP_OXMIGRATE_ARG(server) },
    { "continue", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0,
      NGX_HTTP_OXMIGRATE_ARG(cont) },
    { "force", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0,
      NGX_HTTP_OXMIGRATE_ARG(force) },
    { "resume_after", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 64,
      NGX_HTTP_OXMIGRATE_ARG(resume_after) },
    { "skip", NGX_HTTP_OXMIGRATE_FIELD_STRINGS, 64,
      NGX_HTTP_OXMIGRATE_ARG(skip) },
    { "parallel", NGX_HTTP_OXMIGRATE_FIELD_COUNT, 64,
      NGX_HTTP_OXMIGRATE_ARG(parallel) },
    { "dry_run", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0,
      NGX_HTTP_OXMIGRATE_ARG(dry_run) },
    { "only", NGX_HTTP_OXMIGRATE_FIELD_STRINGS, 64,
      NGX_HTTP_OXMIGRATE_ARG(only) },
    { "limit", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U,
      NGX_HTTP_OXMIGRATE_ARG(limit) },
    { "pause_after", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U,
      NGX_HTTP_OXMIGRATE_ARG(pause_after) },
    { "window", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 16,
      NGX_HTTP_OXMIGRATE_ARG(window) },
    { "max_downtime", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U,
      NGX_HTTP_OXMIGRATE_ARG(max_downtime) },
    { "check_tasks", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0,
      NGX_HTTP_OXMIGRATE_ARG(check_tasks) },
    { "max_replica_lag", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U,
      NGX_HTTP_OXMIGRATE_ARG(max_replica_lag) },
    { "health_url", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 1024,
      NGX_HTTP_OXMIGRATE_ARG(health_url) },
    { NULL, 0, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_revert[] = {
    { "force", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0,
      NGX_HTTP_OXMIGRATE_ARG(force) },
    { NULL, 0, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_jobpatch[] = {
    { "parallel", NGX_HTTP_OXMIGRATE_FIELD_COUNT, 64,
      NGX_HTTP_OXMIGRATE_ARG(parallel) },
    { "window", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 16,
      NGX_HTTP_OXMIGRATE_ARG(window) },
    { NULL, 0, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_updates[] = {
    { "stop_on_error", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0,
      NGX_HTTP_OXMIGRATE_ARG(stop_on_error) },
    { "only", NGX_HTTP_OXMIGRATE_FIELD_STRINGS, 64,
      NGX_HTTP_OXMIGRATE_ARG(only) },
    { "limit", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U,
      NGX_HTTP_OXMIGRATE_ARG(limit) },
    { "pause_after", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U,
      NGX_HTTP_OXMIGRATE_ARG(pause_after) },
    { "window", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 16,
      NGX_HTTP_OXMIGRATE_ARG(window) },
    { NULL, 0, 0, 0 }
};


/*
 * { method, path, audit action, service, answer, body fields, work };
 * "*" matches one path segment; the first two become op->args.path[0..1]
 */
static ngx_http_oxmigrate_admin_route_t  ngx_http_oxmigrate_admin_routes[] = {

    { NGX_HTTP_GET, "servers", NULL,
      ngx_http_oxmigrate_admin_servers_list,
      ngx_http_oxmigrate_admin_answer_servers,
      NULL, 0 },

    { NGX_HTTP_POST, "servers", "registerserver",
      ngx_http_oxmigrate_admin_servers_add,
      ngx_http_oxmigrate_admin_answer_registered,
      ngx_http_oxmigrate_admin_f_server, 0 },

    { NGX_HTTP_GET, "schemas", NULL,
      ngx_http_oxmigrate_admin_schemas_list,
      ngx_http_oxmigrate_admin_answer_schemas,
      NULL, 0 },

    { NGX_HTTP_GET, "schemas/*", NULL,
      ngx_http_oxmigrate_admin_schema_get,
      ngx_http_oxmigrate_admin_answer_diagnosis,
      NULL, 0 },

    { NGX_HTTP_POST, "schemas/*/revert", "revertschema",
      ngx_http_oxmigrate_admin_schema_revert,
      ngx_http_oxmigrate_admin_answer_reverted,
      ngx_http_oxmigrate_admin_f_revert, 1 },

    { NGX_HTTP_POST, "schemas/*/disable", "disableschema",
      ngx_http_oxmigrate_admin_schema_disable,
      ngx_http_oxmigrate_admin_answer_schema_op,
      ngx_http_oxmigrate_admin_f_none, 0 },

    { NGX_HTTP_POST, "schemas/*/enable", "enableschema",
      ngx_http_oxmigrate_admin_schema_enable,
      ngx_http_oxmigrate_admin_answer_schema_op,
      ngx_http_oxmigrate_admin_f_none, 0 },

    { NGX_HTTP_POST, "schemas/*/changeserver", "changeserver",
      ngx_http_oxmigrate_admin_schema_changeserver,
      ngx_http_oxmigrate_admin_answer_schema_op,
      ngx_http_oxmigrate_admin_f_change, 0 },

    { NGX_HTTP_POST, "schemas/*/update", "runupdate",
      ngx_http_oxmigrate_admin_schema_update,
      ngx_http_oxmigrate_admin_answer_update,
      ngx_http_oxmigrate_admin_f_none, 1 },

    { NGX_HTTP_GET, "schemas/*/updatetasks", NULL,
      ngx_http_oxmigrate_admin_tasks_list,
      ngx_http_oxmigrate_admin_answer_tasks,
      NULL, 0 },

    { NGX_HTTP_POST, "schemas/*/updatetasks/*/force", "forceupdatetask",
      ngx_http_oxmigrate_admin_task_force,
      ngx_http_oxmigrate_admin_answer_force,
      ngx_http_oxmigrate_admin_f_none, 1 },

    { NGX_HTTP_GET, "updatetasks/namespaces", NULL,
      ngx_http_oxmigrate_admin_namespaces,
      ngx_http_oxmigrate_admin_answer_namespaces,
      NULL, 0 },

    { NGX_HTTP_POST, "updatetasks/*/force", "forceupdatetask",
      ngx_http_oxmigrate_admin_task_force_all,
      ngx_http_oxmigrate_admin_answer_force_all,
      ngx_http_oxmigrate_admin_f_none, 1 },

    { NGX_HTTP_GET, "databases/check", NULL,
      ngx_http_oxmigrate_admin_db_check,
      ngx_http_oxmigrate_admin_answer_check,
      NULL, 0 },

    { NGX_HTTP_POST, "databases/*/unblock", "unblockdatabase",
      ngx_http_oxmigrate_admin_db_unblock,
      ngx_http_oxmigrate_admin_answer_unblock,
      ngx_http_oxmigrate_admin_f_unblock, 0 },

    { NGX_HTTP_POST, "upgrade", "upgradeschemata",
      ngx_http_oxmigrate_admin_upgrade,
      ngx_http_oxmigrate_admin_answer_started,
      ngx_http_oxmigrate_admin_f_upgrade, 0 },

    { NGX_HTTP_POST, "updates", "runallupdate",
      ngx_http_oxmigrate_admin_updates,
      ngx_http_oxmigrate_admin_answer_started,
      ngx_http_oxmigrate_admin_f_updates, 0 },

    { NGX_HTTP_GET, "jobs", NULL,
      ngx_http_oxmigrate_admin_jobs_list,
      ngx_http_oxmigrate_admin_answer_jobs,
      NULL, 0 },

    { NGX_HTTP_GET, "jobs/*", NULL,
      ngx_http_oxmigrate_admin_job_get,
      ngx_http_oxmigrate_admin_answer_job,
      NULL, 0 },

    { NGX_HTTP_POST, "jobs/*/resume", "resumejob",
      ngx_http_oxmigrate_admin_job_resume,
      ngx_http_oxmigrate_admin_answer_started,
      ngx_http_oxmigrate_admin_f_none, 0 },

    { NGX_HTTP_POST, "jobs/*/pause", "pausejob",
      ngx_http_oxmigrate_admin_job_pause,
      ngx_http_oxmigrate_admin_answer_steered,
      ngx_http_oxmigrate_admin_f_none, 0 },

    { NGX_HTTP_POST, "jobs/*/continue", "continuejob",
      ngx_http_oxmigrate_admin_job_continue,
      ngx_http_oxmigrate_admin_answer_steered,
      ngx_http_oxmigrate_admin_f_none, 0 },

    { NGX_HTTP_POST, "jobs/*/cancel", "canceljob",
      ngx_http_oxmigrate_admin_job_cancel,
      ngx_http_oxmigrate_admin_answer_steered,
      ngx_http_oxmigrate_admin_f_none, 0 },

    { NGX_HTTP_PATCH, "jobs/*", "patchjob",
      ngx_http_oxmigrate_admin_job_patch,
      ngx_http_oxmigrate_admin_answer_patched,
      ngx_http_oxmigrate_admin_f_jobpatch, 0 },

    { NGX_HTTP_GET, "audit", NULL,
      ngx_http_oxmigrate_admin_audit_list,
      ngx_http_oxmigrate_admin_answer_audit,
      NULL, 0 },

    { NGX_HTTP_GET, "lookup", NULL,
      ngx_http_oxmigrate_admin_lookup,
      ngx_http_oxmigrate_admin_answer_lookup,
      NULL, 0 },

    { 0, NULL, NULL, NULL, NULL, NULL, 0 }
};


/*
 * The path below the location: "/oxmigrate/v1/schemas/x/disable" in
 * "location /oxmigrate/v1/" is "schemas/x/disable".  nginx has already
 * percent-decoded r->uri, so a schema name arrives as plain data.
 */

ngx_http_oxmigrate_admin_route_t *
ngx_http_oxmigrate_admin_route(ngx_http_request_t *r,
    ngx_http_oxmigrate_admin_op_t *op, ngx_uint_t *status)
{
    u_char                            *p, *end, *seg, *segs[8];
    size_t                             lens[8];
    ngx_uint_t                         n, i, a, path_ok;
    const char                        *q, *qe;
    ngx_http_core_loc_conf_t          *clcf;
    ngx_http_oxmigrate_admin_route_t  *rt;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    p = r->uri.data;
    end = r->uri.data + r->uri.len;

    if (!clcf->regex && clcf->name.len <= r->uri.len
        && ngx_strncmp(p, clcf->name.data, clcf->name.len) == 0)
    {
        p += clcf->name.len;
    }

    while (p < end && *p == '/') {
        p++;
    }

    if (end > p && end[-1] == '/') {
        end--;
    }

    /* split into segments */

    n = 0;

    while (p < end) {
        if (n == 8) {
            *status = NGX_HTTP_NOT_FOUND;
            return NULL;
        }

        seg = p;
        while (p < end && *p != '/') {
            p++;
        }

        segs[n] = seg;
        lens[n] = p - seg;
        n++;

        if (p < end) {
            p++;
        }
    }

    path_ok = 0;

    for (rt = ngx_http_oxmigrate_admin_routes; rt->path; rt++) {

        q = rt->path;
        a = 0;

        for (i = 0; i < n; i++) {
            if (*q == '\0') {
                break;
            }

            qe = q;
            while (*qe && *qe != '/') {
                qe++;
            }

            if (qe - q == 1 && *q == '*') {
                if (lens[i] == 0) {
                    break;
                }

            } else if ((size_t) (qe - q) != lens[i]
                       || ngx_strncmp(q, segs[i], lens[i]) != 0)
            {
                break;
            }

            q = (*qe == '/') ? qe + 1 : qe;
        }

        if (i != n || *q != '\0') {
            continue;
        }

        path_ok = 1;

        if (rt->method != r->method) {
            continue;
        }

        /* capture the "*" segments */

        q = rt->path;

        for (i = 0; i < n; i++) {
            if (q[0] == '*' && (q[1] == '/' || q[1] == '\0')) {
                if (a < 2) {
                    op->args.path[a] = ngx_pnalloc(r->pool, lens[i] + 1);
                    if (op->args.path[a] == NULL) {
                        *status = NGX_HTTP_INTERNAL_SERVER_ERROR;
                        return NULL;
                    }

                    ngx_memcpy(op->args.path[a], segs[i], lens[i]);
                    op->args.path[a][lens[i]] = '\0';
                    a++;
                }
            }

            while (*q && *q != '/') {
                q++;
            }

            if (*q == '/') {
                q++;
            }
        }

        return rt;
    }

    *status = path_ok ? NGX_HTTP_NOT_ALLOWED : NGX_HTTP_NOT_FOUND;

    return NULL;
}


/*
 * For oxmigrate_metrics: the i-th endpoint's action (the OX tool it
 * stands for, or its path for a reading call); NULL past the last.
 */

const char *
ngx_http_oxmigrate_admin_route_name(ngx_uint_t i)
{
    ngx_http_oxmigrate_admin_route_t  *rt;

    if (i >= sizeof(ngx_http_oxmigrate_admin_routes)
             / sizeof(ngx_http_oxmigrate_admin_route_t) - 1)
    {
        return NULL;
    }

    rt = &ngx_http_oxmigrate_admin_routes[i];

    return rt->action ? rt->action : rt->path;
}


ngx_uint_t
ngx_http_oxmigrate_admin_route_index(ngx_http_oxmigrate_admin_route_t *rt)
{
    return rt - ngx_http_oxmigrate_admin_routes;
}
