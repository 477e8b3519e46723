/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: update tasks.
 *
 * Configuration time: the *.sql files of oxmigrate_update_tasks DIR, the
 * excludedupdatetasks.properties keys, the excluded namespaces.
 *
 * Thread pool: the runner.  It holds OX's blocking-update lock, the row
 * (cid 0, 'LOCKED', uuid 8d8b93e5...) in the schema's updateTask table, the
 * way the OX middleware does (ox-facts 6): inserting it is the atomic
 * acquire (the uuid is the primary key), a lock idle longer than
 * oxmigrate_update_lock_idle is dead and may be taken over, and the holder
 * refreshes lastModified every oxmigrate_update_lock_refresh.  A task is
 * one statement batch that may run for hours, so the refresh runs in a
 * helper thread with its own connection.  Every refresh and the final
 * delete are conditional on the lastModified we wrote last: if another
 * process took the lock over, we notice and never delete its lock.
 */


#include "ngx_http_oxmigrate_admin.h"

#include <pthread.h>




static ngx_int_t ngx_http_oxmigrate_admin_read_file(ngx_conf_t *cf,
    ngx_str_t *name, ngx_str_t *out);
static void ngx_http_oxmigrate_admin_task_headers(ngx_str_t *text,
    ngx_http_oxmigrate_task_t *task);
static ngx_uint_t ngx_http_oxmigrate_admin_sql_empty(ngx_str_t *text);
static int ngx_libc_cdecl ngx_http_oxmigrate_admin_str_cmp(const void *a,
    const void *b);



/* configuration */

char *
ngx_http_oxmigrate_admin_load_tasks(ngx_conf_t *cf, ngx_str_t *dir,
    ngx_array_t **tasks)
{
    size_t                      len;
    ngx_dir_t                   d;
    ngx_str_t                  *names, *name, path, text;
    ngx_uint_t                  i, j;
    ngx_array_t                 files;
    ngx_http_oxmigrate_task_t  *t, *all;

    if (ngx_conf_full_name(cf->cycle, dir, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_array_init(&files, cf->temp_pool, 16, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_open_dir(dir, &d) == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_dir_n " \"%V\" failed", dir);
        return NGX_CONF_ERROR;
    }

    for ( ;; ) {
        ngx_set_errno(0);

        if (ngx_read_dir(&d) == NGX_ERROR) {
            if (ngx_errno != NGX_ENOMOREFILES) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                                   ngx_read_dir_n " \"%V\" failed", dir);
                ngx_close_dir(&d);
                return NGX_CONF_ERROR;
            }

            break;
        }

        len = ngx_de_namelen(&d);

        if (len <= 4 || ngx_de_name(&d)[0] == '.'
            || ngx_strncmp(ngx_de_name(&d) + len - 4, ".sql", 4) != 0)
        {
            continue;
        }

        name = ngx_array_push(&files);
        if (name == NULL) {
            ngx_close_dir(&d);
            return NGX_CONF_ERROR;
        }

        name->len = len;
        name->data = ngx_pnalloc(cf->pool, len + 1);
        if (name->data == NULL) {
            ngx_close_dir(&d);
            return NGX_CONF_ERROR;
        }

        ngx_cpystrn(name->data, ngx_de_name(&d), len + 1);
    }

    ngx_close_dir(&d);

    names = files.elts;
    qsort(names, files.nelts, sizeof(ngx_str_t),
          ngx_http_oxmigrate_admin_str_cmp);

    *tasks = ngx_array_create(cf->pool, files.nelts + 1,
                              sizeof(ngx_http_oxmigrate_task_t));
    if (*tasks == NULL) {
        return NGX_CONF_ERROR;
    }

    for (i = 0; i < files.nelts; i++) {
        path.len = dir->len + 1 + names[i].len;
        path.data = ngx_pnalloc(cf->pool, path.len + 1);
        if (path.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_sprintf(path.data, "%V/%V%Z", dir, &names[i]);

        if (ngx_http_oxmigrate_admin_read_file(cf, &path, &text) != NGX_OK) {
            return NGX_CONF_ERROR;
        }

        t = ngx_array_push(*tasks);
        if (t == NULL) {
            return NGX_CONF_ERROR;
        }

        /* default name: the file name without ".sql" */
        t->name.data = names[i].data;
        t->name.len = names[i].len - 4;
        ngx_str_null(&t->ns);

        ngx_http_oxmigrate_admin_task_headers(&text, t);

        t->sql = text;
        if (ngx_http_oxmigrate_admin_sql_empty(&text)) {
            t->sql.len = 0;
        }

        all = (*tasks)->elts;
        for (j = 0; j + 1 < (*tasks)->nelts; j++) {
            if (all[j].name.len == t->name.len
                && ngx_strncmp(all[j].name.data, t->name.data, t->name.len)
                   == 0)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "update task \"%V\" is defined twice "
                                   "(\"%V\")", &t->name, &path);
                return NGX_CONF_ERROR;
            }
        }

        if (t->name.len > 1024) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "update task name too long in \"%V\"", &path);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static int ngx_libc_cdecl
ngx_http_oxmigrate_admin_str_cmp(const void *a, const void *b)
{
    const ngx_str_t  *x = a, *y = b;

    return ngx_strcmp(x->data, y->data);
}


static ngx_int_t
ngx_http_oxmigrate_admin_read_file(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *out)
{
    ssize_t          n;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.name = *name;
    file.log = cf->log;

    file.fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    out->len = ngx_file_size(&fi);
    out->data = ngx_pnalloc(cf->pool, out->len + 1);
    if (out->data == NULL) {
        ngx_close_file(file.fd);
        return NGX_ERROR;
    }

    n = ngx_read_file(&file, out->data, out->len, 0);
    ngx_close_file(file.fd);

    if (n != (ssize_t) out->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cannot read \"%V\"", name);
        return NGX_ERROR;
    }

    out->data[out->len] = '\0';

    return NGX_OK;
}


/* "-- task: NAME" and "-- namespace: NS" in the leading comment lines */

static void
ngx_http_oxmigrate_admin_task_headers(ngx_str_t *text,
    ngx_http_oxmigrate_task_t *task)
{
    u_char     *p, *end, *eol, *v, *ve;
    ngx_str_t  *dst;

    p = text->data;
    end = text->data + text->len;

    while (p < end) {
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        for (v = p; v < eol && (*v == ' ' || *v == '\t' || *v == '\r'); v++) {
            /* void */
        }

        if (v == eol) {
            p = eol + 1;
            continue;
        }

        if (eol - v < 2 || v[0] != '-' || v[1] != '-') {
            break;
        }

        for (v += 2; v < eol && (*v == ' ' || *v == '\t'); v++) { /* void */ }

        dst = NULL;

        if (eol - v >= 5 && ngx_strncasecmp(v, (u_char *) "task:", 5) == 0) {
            dst = &task->name;
            v += 5;

        } else if (eol - v >= 10
                   && ngx_strncasecmp(v, (u_char *) "namespace:", 10) == 0)
        {
            dst = &task->ns;
            v += 10;
        }

        if (dst) {
            for ( /* void */ ; v < eol && (*v == ' ' || *v == '\t'); v++) {
                /* void */
            }

            for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'
                                      || ve[-1] == '\r'); ve--)
            {
                /* void */
            }

            if (ve > v) {
                dst->data = v;
                dst->len = ve - v;
            }
        }

        p = eol + 1;
    }
}


/* a file of comments only is a no-op task (it only gets its row) */

static ngx_uint_t
ngx_http_oxmigrate_admin_sql_empty(ngx_str_t *text)
{
    u_char  *p, *end;

    p = text->data;
    end = text->data + text->len;

    while (p < end) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == ';') {
            p++;
            continue;
        }

        if (*p == '#' || (p + 1 < end && p[0] == '-' && p[1] == '-')) {
            while (p < end && *p != '\n') {
                p++;
            }

            continue;
        }

        if (p + 1 < end && p[0] == '/' && p[1] == '*') {
            p += 2;
            while (p + 1 < end && !(p[0] == '*' && p[1] == '/')) {
                p++;
            }

            p += 2;
            continue;
        }

        return 0;
    }

    return 1;
}


/* excludedupdatetasks.properties: every key is a task name */

char *
ngx_http_oxmigrate_admin_load_excluded(ngx_conf_t *cf, ngx_str_t *file,
    ngx_array_t **names)
{
    u_char     *p, *end, *eol, *k, *ke;
    ngx_str_t   text, *key;

    if (ngx_conf_full_name(cf->cycle, file, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_oxmigrate_admin_read_file(cf, file, &text) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    *names = ngx_array_create(cf->pool, 8, sizeof(ngx_str_t));
    if (*names == NULL) {
        return NGX_CONF_ERROR;
    }

    p = text.data;
    end = text.data + text.len;

    while (p < end) {
        eol = ngx_strlchr(p, end, '\n');
        if (eol == NULL) {
            eol = end;
        }

        for (k = p; k < eol && (*k == ' ' || *k == '\t'); k++) { /* void */ }

        p = eol + 1;

        if (k == eol || *k == '#' || *k == '!' || *k == '\r') {
            continue;
        }

        for (ke = k; ke < eol && *ke != '=' && *ke != ':' && *ke != ' '
                     && *ke != '\t' && *ke != '\r'; ke++)
        {
            /* void */
        }

        key = ngx_array_push(*names);
        if (key == NULL) {
            return NGX_CONF_ERROR;
        }

        key->data = k;
        key->len = ke - k;
    }

    return NGX_CONF_OK;
}


char *
ngx_http_oxmigrate_admin_excluded(ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    ngx_http_oxmigrate_task_t *task, ngx_pool_t *pool)
{
    u_char      *p, *q, *end;
    ngx_str_t   *s;
    ngx_uint_t   i;

    if (alcf->excluded_tasks) {
        s = alcf->excluded_tasks->elts;

        for (i = 0; i < alcf->excluded_tasks->nelts; i++) {
            if (s[i].len == task->name.len
                && ngx_strncmp(s[i].data, task->name.data, s[i].len) == 0)
            {
                return NGX_HTTP_OXMIGRATE_EXCLUDED_FILE;
            }
        }
    }

    if (alcf->excluded_ns == NULL || task->ns.len == 0) {
        return NULL;
    }

    s = alcf->excluded_ns->elts;

    for (i = 0; i < alcf->excluded_ns->nelts; i++) {

        /* OX takes a comma-separated list; so do we, in any argument */

        p = s[i].data;
        end = s[i].data + s[i].len;

        while (p < end) {
            q = ngx_strlchr(p, end, ',');
            if (q == NULL) {
                q = end;
            }

            while (p < q && *p == ' ') {
                p++;
            }

            if ((size_t) (q - p) == task->ns.len
                && ngx_strncmp(p, task->ns.data, task->ns.len) == 0)
            {
                p = ngx_pnalloc(pool, task->ns.len + 32);
                if (p == NULL) {
                    return "excluded via namespace";
                }

                ngx_sprintf(p, "excluded via namespace '%V'%Z", &task->ns);
                return (char *) p;
            }

            p = q + 1;
        }
    }

    return NULL;
}


ngx_http_oxmigrate_task_t *
ngx_http_oxmigrate_admin_find_task(ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    const char *name)
{
    size_t                      len;
    ngx_uint_t                  i;
    ngx_http_oxmigrate_task_t  *t;

    if (alcf->tasks == NULL) {
        return NULL;
    }

    len = ngx_strlen(name);
    t = alcf->tasks->elts;

    for (i = 0; i < alcf->tasks->nelts; i++) {
        if (t[i].name.len == len
            && ngx_strncmp(t[i].name.data, name, len) == 0)
        {
            return &t[i];
        }
    }

    return NULL;
}


/* what updateTask of a schema says (thread) */

ngx_int_t
ngx_http_oxmigrate_admin_schema_state(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_http_oxmigrate_schema_state_t *st)
{
    ngx_uint_t                   i;
    ngx_http_oxmigrate_task_t   *t;

    if (ngx_http_oxmigrate_admin_store_task_rows(m, pool, schema, st)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (alcf->tasks) {
        t = alcf->tasks->elts;

        for (i = 0; i < alcf->tasks->nelts; i++) {
            if (ngx_http_oxmigrate_admin_executed(st, &t[i].name) == NULL
                && ngx_http_oxmigrate_admin_excluded(alcf, &t[i], pool)
                   == NULL)
            {
                st->pending++;
            }
        }
    }

    return NGX_OK;
}


/*
 * The rule for a lock row (LOCKED, BACKGROUND): refreshed longer ago than
 * the idle time, its holder is dead.  With the OX tools the idle time is
 * the upgraded node's (lock_idle= of oxmigrate_ox_tools new, by default
 * 15 min on 7.10.x, which refreshes every 5 min and never takes a lock
 * over, 60 s on 8.x: locked.idleMillis); on the SQL path it is
 * oxmigrate_update_lock_idle, oxmigrate's own runner's (ox-facts 6).
 */

ngx_uint_t
ngx_http_oxmigrate_admin_lock_dead(ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    int64_t last_modified, int64_t now)
{
    ngx_msec_t  idle;

    idle = alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]
           ? alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]->lock_idle : alcf->lock_idle;

    return now - last_modified > (int64_t) idle;
}


ngx_http_oxmigrate_update_state_e
ngx_http_oxmigrate_admin_update_state(
    ngx_http_oxmigrate_admin_loc_conf_t *alcf,
    ngx_http_oxmigrate_schema_state_t *st, int64_t now)
{
    if (st->locked) {
        return ngx_http_oxmigrate_admin_lock_dead(alcf, st->locked, now)
               ? NGX_HTTP_OXMIGRATE_STALE : NGX_HTTP_OXMIGRATE_BLOCKED;
    }

    if (st->pending || st->missing) {
        return NGX_HTTP_OXMIGRATE_NEEDS_UPDATE;
    }

    return NGX_HTTP_OXMIGRATE_UPDATED;
}


ngx_http_oxmigrate_executed_t *
ngx_http_oxmigrate_admin_executed(ngx_http_oxmigrate_schema_state_t *st,
    ngx_str_t *name)
{
    ngx_uint_t                      i;
    ngx_http_oxmigrate_executed_t  *e;

    e = st->executed->elts;

    for (i = 0; i < st->executed->nelts; i++) {
        if (ngx_strlen(e[i].name) == name->len
            && ngx_strncmp(e[i].name, name->data, name->len) == 0)
        {
            return &e[i];
        }
    }

    return NULL;
}


/* an entry of a schema's task list (GET /schemas/{s}/updatetasks) */

ngx_int_t
ngx_http_oxmigrate_admin_task_entry(ngx_array_t *tasks, ngx_str_t *name,
    ngx_str_t *ns, ngx_http_oxmigrate_executed_t *e, ngx_str_t *by)
{
    ngx_http_oxmigrate_task_entry_t  *te;

    te = ngx_array_push(tasks);
    if (te == NULL) {
        return NGX_ERROR;
    }

    te->name = *name;
    te->ns = ns;
    te->e = e;
    te->by = by;

    return NGX_OK;
}
