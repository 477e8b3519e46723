/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: what OX says is still to do on a schema, on a node
 * of the new cluster (thread pool only): the tasks of the new version
 * pending there, minus the exclusions, read with the tool of the node's
 * version (listUpdateTasks from 7.10.2, whose switches changed meaning in
 * 8.0; checkdatabase before), and a list of task names.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_uint_t ngx_http_oxmigrate_admin_ox_has(ngx_array_t *a, u_char *s,
    size_t len);


/* a task name into a list, once */

void
ngx_http_oxmigrate_admin_ox_name(ngx_array_t *a, ngx_pool_t *pool, u_char *s,
    size_t len)
{
    char        **name;
    ngx_uint_t    i;

    name = a->elts;

    for (i = 0; i < a->nelts; i++) {
        if (ngx_strlen(name[i]) == len && ngx_strncmp(name[i], s, len) == 0) {
            return;
        }
    }

    name = ngx_array_push(a);
    if (name) {
        *name = ngx_http_oxmigrate_admin_strndup(pool, s, len);
    }
}


/*
 * The next line of a tool's output from *p: its first word is [*p, *w)
 * (leading blanks skipped), the line ends at *eol (past it: eol + 1 is
 * where the caller goes on).  0: no line left.
 */

ngx_uint_t
ngx_http_oxmigrate_admin_ox_word(u_char **p, u_char *end, u_char **w,
    u_char **eol)
{
    u_char  *q;

    if (*p >= end) {
        return 0;
    }

    *eol = ngx_strlchr(*p, end, '\n');
    if (*eol == NULL) {
        *eol = end;
    }

    while (*p < *eol && (**p == ' ' || **p == '\t')) {
        (*p)++;
    }

    for (q = *p; q < *eol && *q != ' ' && *q != '\t' && *q != '\r'; q++) {
        /* void */
    }

    *w = q;

    return 1;
}


/*
 * The first word of each line of a tool's output that names a task (a Java
 * class name: it has a dot; not the header "taskName", not "No entries
 * found."), into names: of the lines that say "excluded" (excluded = 1)
 * or of those that do not (0), unless the name is in skip.
 */

static void
ngx_http_oxmigrate_admin_ox_task_words(ngx_str_t *out, ngx_array_t *names,
    ngx_uint_t excluded, ngx_array_t *skip, ngx_pool_t *pool)
{
    u_char  *p, *eol, *end, *w;

    p = out->data;
    end = p + out->len;

    while (ngx_http_oxmigrate_admin_ox_word(&p, end, &w, &eol)) {
        if (w == p || ngx_strlchr(p, w, '.') == NULL || w[-1] == '.'
            || (ngx_strlcasestrn(w, eol, (u_char *) "excluded", 8 - 1)
                == NULL) == excluded
            || (skip && ngx_http_oxmigrate_admin_ox_has(skip, p, w - p)))
        {
            p = eol + 1;
            continue;
        }

        ngx_http_oxmigrate_admin_ox_name(names, pool, p, w - p);
        p = eol + 1;
    }
}


/* whether a list of names has this one */

static ngx_uint_t
ngx_http_oxmigrate_admin_ox_has(ngx_array_t *a, u_char *s, size_t len)
{
    char        **x;
    ngx_uint_t    i;

    x = a->elts;

    for (i = 0; i < a->nelts; i++) {
        if (ngx_strlen(x[i]) == len && ngx_strncmp(x[i], s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * The tasks of the namespaces this site excludes
 * (oxmigrate_excluded_namespaces, as OX's excludedupdatetask namespaces):
 * listUpdateTaskNamespaces' "+- <ns>" and "|--- <task>" lines.  Its
 * "listUpdateTasks -xn" cannot say it: it lists every namespace-aware
 * task, excluded or not.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_ns_tasks(ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    ngx_pool_t *pool, ngx_log_t *log, ngx_array_t *excluded, char *err,
    size_t err_len)
{
    u_char                        *p, *eol, *end;
    ngx_str_t                      ns;
    ngx_uint_t                     in;
    ngx_http_oxmigrate_task_t      t;
    ngx_http_oxmigrate_ox_call_t   call;

    if (alcf->excluded_ns == NULL || alcf->excluded_ns->nelts == 0) {
        return NGX_OK;
    }

    ngx_http_oxmigrate_admin_ox_init(&call, alcf, pool, log,
                                     "listUpdateTaskNamespaces",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);

    if (ngx_http_oxmigrate_admin_ox_run(&call) != NGX_OK) {
        ngx_snprintf((u_char *) err, err_len - 1, "%s%Z", call.error);
        return NGX_ERROR;
    }

    in = 0;
    p = call.out.data;
    end = p + call.out.len;

    for ( /* void */ ; p < end; p = eol + 1) {
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        ns.data = p;
        for (ns.len = eol - p; ns.len && (p[ns.len - 1] == ' '
                                          || p[ns.len - 1] == '\r'); ns.len--)
        {
            /* void */
        }

        if (ns.len > 3 && ngx_strncmp(p, "+- ", 3) == 0) {
            ngx_memzero(&t, sizeof(ngx_http_oxmigrate_task_t));
            t.ns.data = ns.data + 3;
            t.ns.len = ns.len - 3;
            in = (ngx_http_oxmigrate_admin_excluded(alcf, &t, pool) != NULL);

        } else if (in && ns.len > 5 && ngx_strncmp(p, "|--- ", 5) == 0) {
            ngx_http_oxmigrate_admin_ox_name(excluded, pool, p + 5,
                                             ns.len - 5);
        }
    }

    return NGX_OK;
}


/* listUpdateTasks MODE -n SCHEMA on the new cluster */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_list(ngx_http_oxmigrate_ox_call_t *call,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, const char *mode, const char *schema, char *err,
    size_t err_len)
{
    ngx_http_oxmigrate_admin_ox_init(call, alcf, pool, log, "listUpdateTasks",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);
    call->mode = mode;
    call->args[0] = "-n";
    call->args[1] = schema;

    if (ngx_http_oxmigrate_admin_ox_run(call) != NGX_OK) {
        ngx_snprintf((u_char *) err, err_len - 1, "%s%Z", call->error);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Before 7.10.2 there is no listUpdateTasks: checkdatabase on the new
 * cluster says "Needs update" for a schema with pending tasks (it knows
 * the exclusions).  Its rows: id name hostname scheme status.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_needs_update(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, const char *schema, ngx_array_t *pending, char *err,
    size_t err_len)
{
    u_char                        *p, *eol, *end, *w[5];
    size_t                         len;
    ngx_uint_t                     n;
    ngx_http_oxmigrate_ox_call_t   call;

    static const char  nu[] = "(checkdatabase: Needs update)";

    ngx_http_oxmigrate_admin_ox_init(&call, alcf, pool, log, "checkdatabase",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);

    if (ngx_http_oxmigrate_admin_ox_run(&call) != NGX_OK) {
        ngx_snprintf((u_char *) err, err_len - 1, "%s%Z", call.error);
        return NGX_ERROR;
    }

    len = ngx_strlen(schema);
    p = call.out.data;
    end = p + call.out.len;

    for ( /* void */ ; p < end; p = eol + 1) {
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        for (n = 0; n < 5 && p < eol; n++) {
            while (p < eol && (*p == ' ' || *p == '\t')) {
                p++;
            }

            w[n] = p;

            while (n < 4 && p < eol && *p != ' ' && *p != '\t') {
                p++;
            }
        }

        if (n == 5 && (size_t) (w[4] - w[3]) > len
            && ngx_strncmp(w[3], schema, len) == 0
            && (w[3][len] == ' ' || w[3][len] == '\t')
            && ngx_strncmp(w[4], "Needs update", 12) == 0)
        {
            ngx_http_oxmigrate_admin_ox_name(pending, pool, (u_char *) nu,
                                             sizeof(nu) - 1);
        }
    }

    return NGX_OK;
}


/*
 * The exclusions: -xf (the file), and the tasks of excluded namespaces.
 * With a cache, a copy goes into a pool of its own that *cache keeps:
 * they are the same for every schema, a job reads them once.  NULL: err
 * says why.
 */

static ngx_array_t *
ngx_http_oxmigrate_admin_ox_exclusions(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, const char *schema,
    ngx_http_oxmigrate_ox_excluded_t **cache, char *err, size_t err_len)
{
    char                              **name, *s;
    ngx_uint_t                          i;
    ngx_array_t                        *excluded;
    ngx_http_oxmigrate_ox_call_t        call;
    ngx_http_oxmigrate_ox_excluded_t   *x;

    excluded = ngx_array_create(pool, 4, sizeof(char *));
    if (excluded == NULL) {
        return NULL;
    }

    if (ngx_http_oxmigrate_admin_ox_list(&call, alcf, pool, log, "-xf",
                                         schema, err, err_len)
        != NGX_OK
        || ngx_http_oxmigrate_admin_ox_ns_tasks(alcf, pool, log, excluded,
                                                err, err_len)
           != NGX_OK)
    {
        return NULL;
    }

    ngx_http_oxmigrate_admin_ox_task_words(&call.out, excluded, 1, NULL, pool);

    if (cache == NULL) {
        return excluded;
    }

    /* not kept when out of memory: read again next time */

    x = NULL;
    i = 0;

    if (*cache == NULL) {
        x = ngx_alloc(sizeof(ngx_http_oxmigrate_ox_excluded_t), log);
    }

    if (x) {
        x->pool = ngx_create_pool(1024, log);
        x->names = x->pool ? ngx_array_create(x->pool, excluded->nelts + 1,
                                              sizeof(char *))
                           : NULL;

        for (i = 0; x->names && i < excluded->nelts; i++) {
            s = ((char **) excluded->elts)[i];
            name = ngx_array_push(x->names);
            *name = ngx_http_oxmigrate_admin_strndup(x->pool, s,
                                                     ngx_strlen(s));
            if (*name == NULL) {
                break;
            }
        }

        if (x->names && i == excluded->nelts) {
            *cache = x;

        } else {
            ngx_http_oxmigrate_admin_ox_excluded_free(x);
        }
    }

    return excluded;
}


/* a cache of ox_exclusions, freed; NULL: none */

void
ngx_http_oxmigrate_admin_ox_excluded_free(ngx_http_oxmigrate_ox_excluded_t *x)
{
    if (x == NULL) {
        return;
    }

    if (x->pool) {
        ngx_destroy_pool(x->pool);
    }

    ngx_free(x);
}


/*
 * The tasks of the new version still pending on the schema, as OX says:
 * listUpdateTasks (7.10.2+) in its pending mode (-e on 7.10.x, -g on
 * 8.x: the letters changed meaning), which lists excluded tasks as
 * pending too, minus the excluded ones: -xf and the tasks of the
 * namespaces the site excludes (from *cache when a job read them
 * before, cache NULL: read now); before 7.10.2 checkdatabase.
 */

ngx_int_t
ngx_http_oxmigrate_admin_ox_pending(ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    ngx_pool_t *pool, ngx_log_t *log, const char *schema,
    ngx_array_t *pending, ngx_http_oxmigrate_ox_excluded_t **cache,
    char *err, size_t err_len)
{
    ngx_uint_t                     v;
    ngx_array_t                   *excluded;
    ngx_http_oxmigrate_ox_call_t   call;

    v = alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]->version;

    if (v < NGX_HTTP_OXMIGRATE_OX_LIST_TOOL) {
        return ngx_http_oxmigrate_admin_ox_needs_update(alcf, pool, log,
                                                        schema, pending, err,
                                                        err_len);
    }

    excluded = (cache && *cache) ? (*cache)->names
               : ngx_http_oxmigrate_admin_ox_exclusions(alcf, pool, log,
                                                        schema, cache, err,
                                                        err_len);
    if (excluded == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_ox_list(&call, alcf, pool, log,
                                  ngx_http_oxmigrate_admin_ox_pending_mode(alcf),
                                  schema, err, err_len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_oxmigrate_admin_ox_task_words(&call.out, pending, 0, excluded,
                                           pool);

    return NGX_OK;
}


/* listUpdateTasks' pending mode: -e on 7.10.x, -g on 8.x */

const char *
ngx_http_oxmigrate_admin_ox_pending_mode(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    return alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]->version
           >= NGX_HTTP_OXMIGRATE_OX_V8 ? "-g" : "-e";
}
