/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the update-task endpoints' OX tools, on a node of
 * the new cluster (oxmigrate_ox_tools): checkdatabase, unblockdatabase,
 * listUpdateTasks, listUpdateTaskNamespaces (forceupdatetask:
 * ngx_http_oxmigrate_admin_oxforce.c).  Runs a tool and reads what it
 * printed into the result of the endpoint's service (svc/); the answer
 * writes it as the SQL path's JSON plus "ox" (what the tool said).
 * Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


static ngx_int_t ngx_http_oxmigrate_admin_oxt_expect(
    ngx_http_oxmigrate_ox_call_t *call, const char *one, const char *other);


/* a call of tool on the new cluster, from the pool; NULL: no memory */

static ngx_http_oxmigrate_ox_call_t *
ngx_http_oxmigrate_admin_oxt_call(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_ox_ran_t *ox, const char *tool)
{
    ox->call = ngx_palloc(c->pool, sizeof(ngx_http_oxmigrate_ox_call_t));
    if (ox->call == NULL) {
        return NULL;
    }

    ngx_http_oxmigrate_admin_ox_init(ox->call, c->alcf, c->pool, c->log,
                                     tool, NGX_HTTP_OXMIGRATE_OX_NEW);

    return ox->call;
}


ngx_int_t
ngx_http_oxmigrate_admin_oxt_run(ngx_http_oxmigrate_ox_call_t *call,
    const char *one, const char *other)
{
    if (ngx_http_oxmigrate_admin_ox_run(call) != NGX_OK) {
        return NGX_ERROR;
    }

    if (one) {
        return ngx_http_oxmigrate_admin_oxt_expect(call, one, other);
    }

    return NGX_OK;
}


/*
 * A tool that exited with 0 but printed none of what it always prints
 * (its table's header or its message) is not believed: 502.  The words
 * are compared, not the blanks: OX pads its tables' columns.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_oxt_expect(ngx_http_oxmigrate_ox_call_t *call,
    const char *one, const char *other)
{
    u_char  *p, *q, *text;

    text = ngx_pnalloc(call->pool, call->out.len + 1);
    if (text == NULL) {
        return NGX_ERROR;
    }

    /* one blank between words, none at a line's end */
    for (p = call->out.data, q = text; p < call->out.data + call->out.len;
         p++)
    {
        if (*p == ' ' || *p == '\t' || *p == '\r') {
            if (q > text && q[-1] != ' ' && q[-1] != '\n') {
                *q++ = ' ';
            }

            continue;
        }

        if (*p == '\n' && q > text && q[-1] == ' ') {
            q--;
        }

        *q++ = *p;
    }

    *q = '\0';

    if (ngx_strstr(text, one) || (other && ngx_strstr(text, other))) {
        return NGX_OK;
    }

    ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                 "%s (new cluster) exited with code 0 but its output has "
                 "no \"%s\"%Z", call->tool, one);

    return NGX_ERROR;
}


/*
 * The tools print tables: a header ("id name ...", "taskName state"), rows
 * of words between blanks, and messages.  oxt_line gives the next line of
 * the output without its trailing blanks (the CR of CRLF, padding).
 */

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_line(u_char **p, u_char *end, ngx_str_t *line)
{
    u_char  *eol, *q;

    if (*p >= end) {
        return 0;
    }

    eol = ngx_strlchr(*p, end, '\n');
    if (eol == NULL) {
        eol = end;
    }

    for (q = eol; q > *p && (q[-1] == '\r' || q[-1] == ' '); q--) {
        /* void */
    }

    line->data = *p;
    line->len = q - *p;
    *p = (eol < end) ? eol + 1 : end;

    return 1;
}


/*
 * The rows of a table: the lines (after the one with "after", when given)
 * split in "words" words at blanks (spaces, tabs and, with cr, CRs), the
 * last one holding the rest of the line; a line with fewer is none.  The
 * callback says whether it took the row; returns how many it took.
 */

typedef ngx_uint_t (*ngx_http_oxmigrate_admin_oxt_row_pt)(void *data,
    ngx_str_t *line, ngx_str_t *w, ngx_uint_t n);

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_rows(ngx_str_t *out, const char *after,
    ngx_uint_t words, ngx_uint_t cr, ngx_http_oxmigrate_admin_oxt_row_pt cb,
    void *data)
{
    u_char      *p, *q, *end, *eol;
    ngx_str_t    line, w[8];
    ngx_uint_t   n, rows;

    p = out->data;
    end = out->data + out->len;
    rows = 0;

    if (after) {
        p = (u_char *) ngx_strstr(out->data, after);
        p = p ? ngx_strlchr(p, end, '\n') : NULL;

        if (p == NULL) {
            return 0;
        }
    }

    while (ngx_http_oxmigrate_admin_oxt_line(&p, end, &line)) {
        q = line.data;
        eol = line.data + line.len;

        for (n = 0; n < words; n++) {
            while (q < eol
                   && (*q == ' ' || *q == '\t' || (cr && *q == '\r')))
            {
                q++;
            }

            if (q == eol) {
                break;
            }

            w[n].data = q;

            if (n == words - 1) {
                q = eol;

            } else {
                while (q < eol && *q != ' ' && *q != '\t') {
                    q++;
                }
            }

            w[n].len = q - w[n].data;
        }

        if (n == words && cb(data, &line, w, n)) {
            rows++;
        }
    }

    return rows;
}


/* "id name hostname scheme [status]": checkdatabase, unblockdatabase */

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_db(void *data, ngx_str_t *line, ngx_str_t *w,
    ngx_uint_t n)
{
    ngx_array_t                  *rows = data;
    ngx_http_oxmigrate_db_row_t  *r;

    /* a row starts with the database id: not the header, no message */
    if (ngx_atoof(w[0].data, w[0].len) == NGX_ERROR) {
        return 0;
    }

    r = ngx_array_push(rows);
    if (r == NULL) {
        return 0;
    }

    ngx_memzero(r, sizeof(ngx_http_oxmigrate_db_row_t));
    r->id = ngx_atoof(w[0].data, w[0].len);
    r->name = w[1];
    r->hostname = w[2];
    r->scheme = w[3];

    if (n > 4) {
        r->status = w[4];
    }

    return 1;
}


/* GET /databases/check: checkdatabase -A u -P p */

ngx_int_t
ngx_http_oxmigrate_admin_ox_db_check(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_db_check_t *ck)
{
    ngx_http_oxmigrate_ox_call_t  *call;

    call = ngx_http_oxmigrate_admin_oxt_call(c, &ck->ox, "checkdatabase");
    if (call == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_oxt_run(call,
                  "id name hostname scheme status",
                  "Neither pending, blocking nor stale schemas found")
        != NGX_OK)
    {
        ck->ox.failed = 1;
        return NGX_ERROR;
    }

    (void) ngx_http_oxmigrate_admin_oxt_rows(&call->out, NULL, 5, 1,
                                             ngx_http_oxmigrate_admin_oxt_db,
                                             ck->rows);
    return NGX_OK;
}


/*
 * POST /databases/{id}/unblock: unblockdatabase -A u -P p -i ID
 * [--schema S]
 */

ngx_int_t
ngx_http_oxmigrate_admin_ox_db_unblock(ngx_http_oxmigrate_admin_conn_t *c,
    char *id, const char *schema, ngx_http_oxmigrate_db_unblock_t *ub)
{
    u_char                        *p;
    ngx_http_oxmigrate_db_row_t   *r;
    ngx_http_oxmigrate_ox_call_t  *call;

    call = ngx_http_oxmigrate_admin_oxt_call(c, &ub->ox, "unblockdatabase");
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->args[0] = "-i";
    call->args[1] = id;

    if (schema) {
        call->args[2] = "--schema";
        call->args[3] = schema;
    }

    /*
     * Every answer is success (ox-facts 6): "unblocked the following
     * schemas from database N:" and a table, "database N is already
     * unblocked", "schema S unblocked", "schema S is already unblocked".
     */
    if (ngx_http_oxmigrate_admin_oxt_run(call, "unblocked", NULL) != NGX_OK) {
        ub->ox.failed = 1;
        return NGX_ERROR;
    }

    if (ngx_strstr(call->out.data, "unblocked the following schemas")) {
        (void) ngx_http_oxmigrate_admin_oxt_rows(&call->out,
                                   "unblocked the following schemas", 4, 1,
                                   ngx_http_oxmigrate_admin_oxt_db,
                                   ub->unblocked);

    } else if (schema && ngx_strstr(call->out.data, "is already") == NULL) {
        /* "schema S unblocked": the row as the table would give it */
        r = ngx_array_push(ub->unblocked);
        if (r == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(r, sizeof(ngx_http_oxmigrate_db_row_t));
        r->id = ub->database;
        r->scheme.data = (u_char *) schema;
        r->scheme.len = ngx_strlen(schema);
        r->short_row = 1;
    }

    /* the tool's first line, its own words */
    p = call->out.data;
    (void) ngx_http_oxmigrate_admin_oxt_line(&p, call->out.data
                                                 + call->out.len,
                                             &ub->message);
    return NGX_OK;
}


/* a row "<task> pending" or "<task> excluded via ..." of listUpdateTasks */

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_task(void *data, ngx_str_t *line, ngx_str_t *w,
    ngx_uint_t n)
{
    u_char       *q, *e;
    ngx_str_t    *ns, *by;
    ngx_array_t  *tasks = data;

    /* a task's name starts its line; not the header "taskName state" */
    if (w[0].data != line->data
        || (w[0].len == 8 && ngx_strncmp(w[0].data, "taskName", 8) == 0))
    {
        return 0;
    }

    if (w[1].len >= 7 && ngx_strncmp(w[1].data, "pending", 7) == 0) {
        return ngx_http_oxmigrate_admin_task_entry(tasks, &w[0], NULL, NULL,
                                                   NULL)
               == NGX_OK;
    }

    if (w[1].len < 8 || ngx_strncmp(w[1].data, "excluded", 8) != 0) {
        return 0;
    }

    q = ngx_strlcasestrn(w[1].data, w[1].data + w[1].len,
                         (u_char *) "namespace '", 11 - 1);
    e = q ? ngx_strlchr(q + 11, w[1].data + w[1].len, '\'') : NULL;

    ns = NULL;
    by = ngx_palloc(tasks->pool, sizeof(ngx_str_t));
    if (by == NULL) {
        return 0;
    }

    *by = w[1];

    if (e) {
        ns = ngx_palloc(tasks->pool, sizeof(ngx_str_t));
        if (ns == NULL) {
            return 0;
        }

        ns->data = q + 11;
        ns->len = e - q - 11;
    }

    return ngx_http_oxmigrate_admin_task_entry(tasks, &w[0], ns, NULL, by)
           == NGX_OK;
}


/*
 * Whether a row "<task> excluded ..." of listUpdateTasks is true: OX's -xn
 * (and so -x and -a) lists every namespace-aware task "excluded via
 * namespace '<ns>'", excluded or not; only the namespaces of
 * oxmigrate_excluded_namespaces are.
 */

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_excluded(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_str_t *line, size_t name_len)
{
    u_char                     *q, *e, *end;
    ngx_http_oxmigrate_task_t   t;

    end = line->data + line->len;

    if (ngx_strlcasestrn(line->data + name_len, end, (u_char *) " excluded",
                         9 - 1)
        == NULL)
    {
        return 0;
    }

    q = ngx_strlcasestrn(line->data + name_len, end,
                         (u_char *) "namespace '", 11 - 1);
    e = q ? ngx_strlchr(q + 11, end, '\'') : NULL;

    if (e == NULL) {
        return 1;       /* via file */
    }

    ngx_memzero(&t, sizeof(ngx_http_oxmigrate_task_t));
    t.ns.data = q + 11;
    t.ns.len = e - q - 11;

    return ngx_http_oxmigrate_admin_excluded(c->alcf, &t, c->pool) != NULL;
}


/*
 * listUpdateTasks -a of 7.10.x lists an excluded task that never ran
 * twice, "pending" and "excluded via ...", and every namespace-aware task
 * as excluded.  out becomes the true lines: a task's pending line is
 * dropped when it is excluded, an exclusion line when it is not true.
 */

static void
ngx_http_oxmigrate_admin_oxt_drop_excluded(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_str_t *out)
{
    u_char       *p, *q, *end, *copy;
    ngx_str_t     line, name, *x;
    ngx_uint_t    i, pass, ex;
    ngx_array_t  *excluded;

    excluded = ngx_array_create(c->pool, 4, sizeof(ngx_str_t));
    copy = ngx_pnalloc(c->pool, out->len + 1);
    if (excluded == NULL || copy == NULL) {
        return;
    }

    q = copy;
    end = out->data + out->len;

    for (pass = 0; pass < 2; pass++) {
        p = out->data;

        while (ngx_http_oxmigrate_admin_oxt_line(&p, end, &line)) {
            name.data = line.data;
            for (name.len = 0; name.len < line.len
                               && line.data[name.len] != ' '
                               && line.data[name.len] != '\t'; name.len++)
            {
                /* void */
            }

            ex = ngx_http_oxmigrate_admin_oxt_excluded(c, &line, name.len);

            if (pass == 0) {
                if (ex && (x = ngx_array_push(excluded))) {
                    *x = name;
                }

                continue;
            }

            if (!ex && ngx_strlcasestrn(line.data + name.len,
                                        line.data + line.len,
                                        (u_char *) " excluded", 9 - 1))
            {
                continue;       /* a namespace OX lists, not excluded */
            }

            x = excluded->elts;

            for (i = 0; !ex && i < excluded->nelts; i++) {
                if (x[i].len == name.len
                    && ngx_strncmp(x[i].data, name.data, name.len) == 0)
                {
                    break;      /* the pending line of an excluded task */
                }
            }

            if (ex || i == excluded->nelts) {
                q = ngx_cpymem(q, line.data, line.len);
                *q++ = '\n';
            }
        }
    }

    *q = '\0';
    out->data = copy;
    out->len = q - copy;
}


/*
 * GET /schemas/{s}/updatetasks: the pending and excluded tasks, what
 * "listUpdateTasks -A u -P p -a -n S" says (OX knows its tasks).
 */

ngx_int_t
ngx_http_oxmigrate_admin_ox_tasks(ngx_http_oxmigrate_admin_conn_t *c,
    const char *schema, ngx_http_oxmigrate_ox_ran_t *ox, ngx_array_t *tasks)
{
    ngx_http_oxmigrate_ox_call_t  *call;

    call = ngx_http_oxmigrate_admin_oxt_call(c, ox, "listUpdateTasks");
    if (call == NULL) {
        return NGX_ERROR;
    }

    call->mode = "-a";
    call->args[0] = "-n";
    call->args[1] = schema;

    if (ngx_http_oxmigrate_admin_oxt_run(call, "taskName", NULL) != NGX_OK) {
        ox->failed = 1;
        return NGX_ERROR;
    }

    ngx_http_oxmigrate_admin_oxt_drop_excluded(c, &call->out);

    /* a CR in a task's line stays part of its words */
    (void) ngx_http_oxmigrate_admin_oxt_rows(&call->out, NULL, 2, 0,
                                             ngx_http_oxmigrate_admin_oxt_task,
                                             tasks);
    return NGX_OK;
}


/*
 * GET /updatetasks/namespaces: listUpdateTaskNamespaces ("+- <ns>" and
 * "|--- <task>" lines)
 */

ngx_int_t
ngx_http_oxmigrate_admin_ox_namespaces(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_namespaces_t *nss)
{
    u_char                          *p;
    ngx_str_t                        line, *t;
    ngx_http_oxmigrate_ox_call_t    *call;
    ngx_http_oxmigrate_namespace_t  *ns;

    call = ngx_http_oxmigrate_admin_oxt_call(c, &nss->ox,
                                             "listUpdateTaskNamespaces");
    if (call == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_oxmigrate_admin_oxt_run(call, NULL, NULL) != NGX_OK) {
        nss->ox.failed = 1;
        return NGX_ERROR;
    }

    ns = NULL;
    p = call->out.data;

    while (ngx_http_oxmigrate_admin_oxt_line(&p, call->out.data
                                                 + call->out.len,
                                             &line))
    {
        if (line.len > 3 && ngx_strncmp(line.data, "+- ", 3) == 0) {
            ns = ngx_array_push(nss->namespaces);
            if (ns == NULL) {
                return NGX_ERROR;
            }

            ns->name.data = line.data + 3;
            ns->name.len = line.len - 3;
            ns->excluded = 0;
            ns->tasks = ngx_array_create(c->pool, 8, sizeof(ngx_str_t));
            if (ns->tasks == NULL) {
                return NGX_ERROR;
            }

        } else if (ns && line.len > 5
                   && ngx_strncmp(line.data, "|--- ", 5) == 0)
        {
            t = ngx_array_push(ns->tasks);
            if (t == NULL) {
                return NGX_ERROR;
            }

            t->data = line.data + 5;
            t->len = line.len - 5;
        }
    }

    return NGX_OK;
}
