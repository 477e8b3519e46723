
/*
 * oxmigrate admin API: the endpoints (method, path, audit action,
 * handler, body fields) and the routing of a request to one of them.
 * Event loop.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_none[] = {
    { NULL, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_server[] = {
    { "name", NGX_HTTP_OXMIGRATE_FIELD_STRING, 255 },
    { NULL, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_change[] = {
    { "server_id", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U },
    { "server", NGX_HTTP_OXMIGRATE_FIELD_STRING, 255 },
    { NULL, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_unblock[] = {
    { "schema", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 64 },
    { NULL, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_upgrade[] = {
    { "server", NGX_HTTP_OXMIGRATE_FIELD_STRING, 255 },
    { "continue", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0 },
    { "force", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0 },
    { "resume_after", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 64 },
    { "skip", NGX_HTTP_OXMIGRATE_FIELD_STRINGS, 64 },
    { "parallel", NGX_HTTP_OXMIGRATE_FIELD_COUNT, 64 },
    { "dry_run", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0 },
    { "only", NGX_HTTP_OXMIGRATE_FIELD_STRINGS, 64 },
    { "limit", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U },
    { "pause_after", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U },
    { "window", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 16 },
    { "max_downtime", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U },
    { "check_tasks", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0 },
    { "max_replica_lag", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U },
    { "health_url", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 1024 },
    { NULL, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_revert[] = {
    { "force", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0 },
    { NULL, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_jobpatch[] = {
    { "parallel", NGX_HTTP_OXMIGRATE_FIELD_COUNT, 64 },
    { "window", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 16 },
    { NULL, 0, 0 }
};

static ngx_http_oxmigrate_field_t  ngx_http_oxmigrate_admin_f_updates[] = {
    { "stop_on_error", NGX_HTTP_OXMIGRATE_FIELD_BOOL, 0 },
    { "only", NGX_HTTP_OXMIGRATE_FIELD_STRINGS, 64 },
    { "limit", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U },
    { "pause_after", NGX_HTTP_OXMIGRATE_FIELD_UINT, 4294967295U },
    { "window", NGX_HTTP_OXMIGRATE_FIELD_STRING_NULL, 16 },
    { NULL, 0, 0 }
};


/* "*" matches one path segment; the first two become op->arg[0..1] */
static ngx_http_oxmigrate_admin_route_t  ngx_http_oxmigrate_admin_routes[] = {

    { NGX_HTTP_GET, "servers", NULL,
      ngx_http_oxmigrate_admin_servers_list, NULL },

    { NGX_HTTP_POST, "servers", "registerserver",
      ngx_http_oxmigrate_admin_servers_add,
      ngx_http_oxmigrate_admin_f_server },

    { NGX_HTTP_GET, "schemas", NULL,
      ngx_http_oxmigrate_admin_schemas_list, NULL },

    { NGX_HTTP_GET, "schemas/*", NULL,
      ngx_http_oxmigrate_admin_schema_get, NULL },

    { NGX_HTTP_POST, "schemas/*/revert", "revertschema",
      ngx_http_oxmigrate_admin_schema_revert,
      ngx_http_oxmigrate_admin_f_revert },

    { NGX_HTTP_POST, "schemas/*/disable", "disableschema",
      ngx_http_oxmigrate_admin_schema_disable,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_POST, "schemas/*/enable", "enableschema",
      ngx_http_oxmigrate_admin_schema_enable,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_POST, "schemas/*/changeserver", "changeserver",
      ngx_http_oxmigrate_admin_schema_changeserver,
      ngx_http_oxmigrate_admin_f_change },

    { NGX_HTTP_POST, "schemas/*/update", "runupdate",
      ngx_http_oxmigrate_admin_schema_update,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_GET, "schemas/*/updatetasks", NULL,
      ngx_http_oxmigrate_admin_tasks_list, NULL },

    { NGX_HTTP_POST, "schemas/*/updatetasks/*/force", "forceupdatetask",
      ngx_http_oxmigrate_admin_task_force,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_GET, "updatetasks/namespaces", NULL,
      ngx_http_oxmigrate_admin_namespaces, NULL },

    { NGX_HTTP_POST, "updatetasks/*/force", "forceupdatetask",
      ngx_http_oxmigrate_admin_task_force_all,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_GET, "databases/check", NULL,
      ngx_http_oxmigrate_admin_db_check, NULL },

    { NGX_HTTP_POST, "databases/*/unblock", "unblockdatabase",
      ngx_http_oxmigrate_admin_db_unblock,
      ngx_http_oxmigrate_admin_f_unblock },

    { NGX_HTTP_POST, "upgrade", "upgradeschemata",
      ngx_http_oxmigrate_admin_upgrade,
      ngx_http_oxmigrate_admin_f_upgrade },

    { NGX_HTTP_POST, "updates", "runallupdate",
      ngx_http_oxmigrate_admin_updates,
      ngx_http_oxmigrate_admin_f_updates },

    { NGX_HTTP_GET, "jobs", NULL,
      ngx_http_oxmigrate_admin_jobs_list, NULL },

    { NGX_HTTP_GET, "jobs/*", NULL,
      ngx_http_oxmigrate_admin_job_get, NULL },

    { NGX_HTTP_POST, "jobs/*/resume", "resumejob",
      ngx_http_oxmigrate_admin_job_resume,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_POST, "jobs/*/pause", "pausejob",
      ngx_http_oxmigrate_admin_job_pause,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_POST, "jobs/*/continue", "continuejob",
      ngx_http_oxmigrate_admin_job_continue,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_POST, "jobs/*/cancel", "canceljob",
      ngx_http_oxmigrate_admin_job_cancel,
      ngx_http_oxmigrate_admin_f_none },

    { NGX_HTTP_PATCH, "jobs/*", "patchjob",
      ngx_http_oxmigrate_admin_job_patch,
      ngx_http_oxmigrate_admin_f_jobpatch },

    { NGX_HTTP_GET, "audit", NULL,
      ngx_http_oxmigrate_admin_audit_list, NULL },

    { NGX_HTTP_GET, "lookup", NULL,
      ngx_http_oxmigrate_admin_lookup, NULL },

    { 0, NULL, NULL, NULL, NULL }
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
                    op->arg[a] = ngx_pnalloc(r->pool, lens[i] + 1);
                    if (op->arg[a] == NULL) {
                        *status = NGX_HTTP_INTERNAL_SERVER_ERROR;
                        return NULL;
                    }

                    ngx_memcpy(op->arg[a], segs[i], lens[i]);
                    op->arg[a][lens[i]] = '\0';
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
