
/*
 * oxmigrate admin API: the update-task endpoints through OX's own tools
 * (oxmigrate_ox_tools), on a node of the new cluster: listUpdateTasks,
 * listUpdateTaskNamespaces, checkdatabase, unblockdatabase
 * (forceupdatetask: ngx_http_oxmigrate_admin_oxforce.c).  The answers are the JSON of the SQL implementation
 * (ngx_http_oxmigrate_admin_updates.c, _check.c) plus "ox" (what the tool
 * said).  Thread pool only.
 */


#include "ngx_http_oxmigrate_admin.h"


/* runs the call; NGX_ERROR: the failure is answered (502, 503, 504) */

ngx_int_t
ngx_http_oxmigrate_admin_oxt_run(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_ox_call_t *call)
{
    if (ngx_http_oxmigrate_admin_ox_run(call) != NGX_OK) {
        ngx_http_oxmigrate_admin_ox_fail(op, call);
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_oxt_safe(ngx_http_oxmigrate_admin_op_t *op,
    const char *what, const char *s)
{
    if (ngx_http_oxmigrate_admin_ox_safe((u_char *) s, ngx_strlen(s))) {
        return NGX_OK;
    }

    ngx_http_oxmigrate_admin_error(op, NGX_HTTP_BAD_REQUEST,
                   "invalid_argument", "a%s %s consists of letters, digits "
                   "and _.-:@%%+=,/ (not starting with \"-\")",
                   what[0] == 'u' ? "n" : "", what);
    return NGX_ERROR;
}


/*
 * A tool that exited with 0 but printed none of what it always prints
 * (its table's header or its message) is not believed: 502.  The words
 * are compared, not the blanks: OX pads its tables' columns.
 */

static ngx_int_t
ngx_http_oxmigrate_admin_oxt_expect(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_ox_call_t *call, const char *one, const char *other)
{
    u_char  *p, *q, *text;

    text = ngx_pnalloc(op->conn.pool, call->out.len + 1);
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
    ngx_http_oxmigrate_admin_ox_fail(op, call);

    return NGX_ERROR;
}


/* runs the call, then a 200 answer {, left open; NULL: answered */

static yajl_gen
ngx_http_oxmigrate_admin_oxt_answer(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_ox_call_t *call, const char *one, const char *other)
{
    yajl_gen  g;

    if (ngx_http_oxmigrate_admin_oxt_run(op, call) != NGX_OK
        || (one && ngx_http_oxmigrate_admin_oxt_expect(op, call, one, other)
                   != NGX_OK))
    {
        return NULL;
    }

    g = ngx_http_oxmigrate_admin_reply(op, NGX_HTTP_OK);

    if (g) {
        yajl_gen_map_open(g);
    }

    return g;
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

typedef ngx_uint_t (*ngx_http_oxmigrate_admin_oxt_row_pt)(yajl_gen g,
    ngx_uint_t want, ngx_str_t *line, ngx_str_t *w, ngx_uint_t n);

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_rows(ngx_str_t *out, const char *after,
    ngx_uint_t words, ngx_uint_t cr, yajl_gen g, ngx_uint_t want,
    ngx_http_oxmigrate_admin_oxt_row_pt cb)
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

        if (n == words && cb(g, want, &line, w, n)) {
            rows++;
        }
    }

    return rows;
}


/* "id name hostname scheme [status]": checkdatabase, unblockdatabase */

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_db(yajl_gen g, ngx_uint_t want, ngx_str_t *line,
    ngx_str_t *w, ngx_uint_t n)
{
    /* a row starts with the database id: not the header, no message */
    if (ngx_atoof(w[0].data, w[0].len) == NGX_ERROR) {
        return 0;
    }

    yajl_gen_map_open(g);
    ngx_http_oxmigrate_admin_json_str(g, "id");
    ngx_http_oxmigrate_admin_json_int(g, ngx_atoof(w[0].data, w[0].len));
    ngx_http_oxmigrate_admin_json_str(g, "name");
    ngx_http_oxmigrate_admin_json_strn(g, w[1].data, w[1].len);
    ngx_http_oxmigrate_admin_json_str(g, "hostname");
    ngx_http_oxmigrate_admin_json_strn(g, w[2].data, w[2].len);
    ngx_http_oxmigrate_admin_json_str(g, "scheme");
    ngx_http_oxmigrate_admin_json_strn(g, w[3].data, w[3].len);

    if (n > 4) {
        ngx_http_oxmigrate_admin_json_str(g, "status");
        ngx_http_oxmigrate_admin_json_strn(g, w[4].data, w[4].len);
    }

    yajl_gen_map_close(g);

    return 1;
}


/* GET /databases/check: checkdatabase -A u -P p */

void
ngx_http_oxmigrate_admin_ox_db_check(ngx_http_oxmigrate_admin_op_t *op)
{
    yajl_gen                      g;
    ngx_uint_t                    rows;
    ngx_http_oxmigrate_ox_call_t  call;

    ngx_http_oxmigrate_admin_ox_init(&call, op->conn.alcf, op->conn.pool, op->conn.log,
                                     "checkdatabase",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);

    g = ngx_http_oxmigrate_admin_oxt_answer(op, &call,
                  "id name hostname scheme status",
                  "Neither pending, blocking nor stale schemas found");
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "schemas");
    yajl_gen_array_open(g);
    rows = ngx_http_oxmigrate_admin_oxt_rows(&call.out, NULL, 5, 1, g, 0,
                                             ngx_http_oxmigrate_admin_oxt_db);
    yajl_gen_array_close(g);

    if (rows == 0) {
        ngx_http_oxmigrate_admin_json_str(g, "message");
        ngx_http_oxmigrate_admin_json_str(g, "Neither pending, blocking nor "
                                             "stale schemas found");
    }

    ngx_http_oxmigrate_admin_ox_json(g, &call);
    yajl_gen_map_close(g);
}


/* POST /databases/{id}/unblock: unblockdatabase -A u -P p -i ID [--schema] */

void
ngx_http_oxmigrate_admin_ox_db_unblock(ngx_http_oxmigrate_admin_op_t *op)
{
    u_char                        *p;
    char                          *schema;
    yajl_gen                       g;
    ngx_int_t                      id;
    ngx_str_t                      line;
    ngx_http_oxmigrate_ox_call_t   call;

    id = ngx_atoi((u_char *) op->args.path[0], ngx_strlen(op->args.path[0]));
    if (id == NGX_ERROR) {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_FOUND,
                                       "unknown_database",
                                       "database '%s' not found",
                                       op->args.path[0]);
        return;
    }

    schema = ngx_http_oxmigrate_admin_body_str(op, "schema");
    if (schema
        && ngx_http_oxmigrate_admin_oxt_safe(op, "schema", schema) != NGX_OK)
    {
        return;
    }

    ngx_http_oxmigrate_admin_ox_init(&call, op->conn.alcf, op->conn.pool, op->conn.log,
                                     "unblockdatabase",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);
    call.args[0] = "-i";
    call.args[1] = op->args.path[0];

    if (schema) {
        call.args[2] = "--schema";
        call.args[3] = schema;
    }

    /*
     * Every answer is success (ox-facts 6): "unblocked the following
     * schemas from database N:" and a table, "database N is already
     * unblocked", "schema S unblocked", "schema S is already unblocked".
     */
    g = ngx_http_oxmigrate_admin_oxt_answer(op, &call, "unblocked", NULL);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "database");
    ngx_http_oxmigrate_admin_json_int(g, id);
    ngx_http_oxmigrate_admin_json_str(g, "unblocked");
    yajl_gen_array_open(g);

    if (ngx_strstr(call.out.data, "unblocked the following schemas")) {
        (void) ngx_http_oxmigrate_admin_oxt_rows(&call.out,
                                   "unblocked the following schemas", 4, 1,
                                   g, 0, ngx_http_oxmigrate_admin_oxt_db);

    } else if (schema && ngx_strstr(call.out.data, "is already") == NULL) {
        /* "schema S unblocked": the row as the table would give it */
        yajl_gen_map_open(g);
        ngx_http_oxmigrate_admin_json_str(g, "id");
        ngx_http_oxmigrate_admin_json_int(g, id);
        ngx_http_oxmigrate_admin_json_str(g, "scheme");
        ngx_http_oxmigrate_admin_json_str(g, schema);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);

    /* the tool's first line, its own words */
    p = call.out.data;
    (void) ngx_http_oxmigrate_admin_oxt_line(&p, call.out.data + call.out.len,
                                             &line);
    ngx_http_oxmigrate_admin_json_str(g, "message");
    ngx_http_oxmigrate_admin_json_strn(g, line.data, line.len);
    ngx_http_oxmigrate_admin_ox_json(g, &call);
    yajl_gen_map_close(g);
}


/* a row "<task> pending" or "<task> excluded via ..." of listUpdateTasks */

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_task(yajl_gen g, ngx_uint_t want,
    ngx_str_t *line, ngx_str_t *w, ngx_uint_t n)
{
    u_char     *q, *e;
    ngx_str_t   ns;

    /* a task's name starts its line; not the header "taskName state" */
    if (w[0].data != line->data
        || (w[0].len == 8 && ngx_strncmp(w[0].data, "taskName", 8) == 0))
    {
        return 0;
    }

    if (w[1].len >= 7 && ngx_strncmp(w[1].data, "pending", 7) == 0) {
        ngx_http_oxmigrate_admin_task_json(g, want, &w[0], NULL, NULL, NULL);
        return 1;
    }

    if (w[1].len < 8 || ngx_strncmp(w[1].data, "excluded", 8) != 0) {
        return 0;
    }

    q = ngx_strlcasestrn(w[1].data, w[1].data + w[1].len,
                         (u_char *) "namespace '", 11 - 1);
    e = q ? ngx_strlchr(q + 11, w[1].data + w[1].len, '\'') : NULL;

    if (e) {
        ns.data = q + 11;
        ns.len = e - q - 11;
    }

    ngx_http_oxmigrate_admin_task_json(g, want, &w[0], e ? &ns : NULL, NULL,
                                       &w[1]);
    return 1;
}


/*
 * Whether a row "<task> excluded ..." of listUpdateTasks is true: OX's -xn
 * (and so -x and -a) lists every namespace-aware task "excluded via
 * namespace '<ns>'", excluded or not; only the namespaces of
 * oxmigrate_excluded_namespaces are.
 */

static ngx_uint_t
ngx_http_oxmigrate_admin_oxt_excluded(ngx_http_oxmigrate_admin_op_t *op,
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

    return ngx_http_oxmigrate_admin_excluded(op->conn.alcf, &t, op->conn.pool) != NULL;
}


/*
 * listUpdateTasks -a of 7.10.x lists an excluded task that never ran
 * twice, "pending" and "excluded via ...", and every namespace-aware task
 * as excluded.  out becomes the true lines: a task's pending line is
 * dropped when it is excluded, an exclusion line when it is not true.
 */

static void
ngx_http_oxmigrate_admin_oxt_drop_excluded(ngx_http_oxmigrate_admin_op_t *op,
    ngx_str_t *out)
{
    u_char       *p, *q, *end, *copy;
    ngx_str_t     line, name, *x;
    ngx_uint_t    i, pass, ex;
    ngx_array_t  *excluded;

    excluded = ngx_array_create(op->conn.pool, 4, sizeof(ngx_str_t));
    copy = ngx_pnalloc(op->conn.pool, out->len + 1);
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

            ex = ngx_http_oxmigrate_admin_oxt_excluded(op, &line, name.len);

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
 * GET /schemas/{s}/updatetasks: executed tasks are OX's rows in the
 * schema's updateTask (as without the tools), pending and excluded ones
 * what "listUpdateTasks -A u -P p -a -n S" says (OX knows its tasks).
 */

void
ngx_http_oxmigrate_admin_ox_tasks_list(ngx_http_oxmigrate_admin_op_t *op,
    ngx_http_oxmigrate_dbhost_t *h, ngx_uint_t want)
{
    yajl_gen                           g;
    ngx_uint_t                         tool;
    ngx_http_oxmigrate_ox_call_t       call;
    ngx_http_oxmigrate_schema_state_t  st;

    tool = want & (NGX_HTTP_OXMIGRATE_TASKS_PENDING
                   | NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED);

    ngx_memzero(&st, sizeof(ngx_http_oxmigrate_schema_state_t));
    ngx_http_oxmigrate_admin_ox_init(&call, op->conn.alcf, op->conn.pool, op->conn.log,
                                     "listUpdateTasks",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);
    call.mode = "-a";
    call.args[0] = "-n";
    call.args[1] = op->args.path[0];

    if (tool && op->conn.alcf->ox[NGX_HTTP_OXMIGRATE_OX_NEW]->version
                < NGX_HTTP_OXMIGRATE_OX_LIST_TOOL)
    {
        ngx_http_oxmigrate_admin_error(op, NGX_HTTP_NOT_IMPLEMENTED,
                   "ox_tool_unavailable", "listUpdateTasks exists from OX "
                   "7.10.2 on; the new cluster is configured as an older "
                   "version (version= of oxmigrate_ox_tools new): ask for "
                   "?state=executed, or GET /databases/check");
        return;
    }

    if (tool
        && (ngx_http_oxmigrate_admin_oxt_run(op, &call) != NGX_OK
            || ngx_http_oxmigrate_admin_oxt_expect(op, &call, "taskName",
                                                   NULL)
               != NGX_OK))
    {
        return;
    }

    /* executed: OX's rows, read as without the tools */
    g = ngx_http_oxmigrate_admin_tasks_open(op,
                 (want & NGX_HTTP_OXMIGRATE_TASKS_EXECUTED) ? h : NULL, &st);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_tasks_executed(g, want, &st, NULL);

    if (tool) {
        ngx_http_oxmigrate_admin_oxt_drop_excluded(op, &call.out);

        /* a CR in a task's line stays part of its words */
        (void) ngx_http_oxmigrate_admin_oxt_rows(&call.out, NULL, 2, 0, g,
                                           want,
                                           ngx_http_oxmigrate_admin_oxt_task);
    }

    yajl_gen_array_close(g);

    if (tool) {
        ngx_http_oxmigrate_admin_ox_json(g, &call);
    }

    yajl_gen_map_close(g);
}


/*
 * GET /updatetasks/namespaces: listUpdateTaskNamespaces ("+- <ns>" and
 * "|--- <task>" lines); "excluded" is oxmigrate_excluded_namespaces.
 */

void
ngx_http_oxmigrate_admin_ox_namespaces(ngx_http_oxmigrate_admin_op_t *op)
{
    u_char                        *p;
    yajl_gen                       g;
    ngx_str_t                      line, ns;
    ngx_uint_t                     open;
    ngx_http_oxmigrate_ox_call_t   call;

    ngx_http_oxmigrate_admin_ox_init(&call, op->conn.alcf, op->conn.pool, op->conn.log,
                                     "listUpdateTaskNamespaces",
                                     NGX_HTTP_OXMIGRATE_OX_NEW);

    g = ngx_http_oxmigrate_admin_oxt_answer(op, &call, NULL, NULL);
    if (g == NULL) {
        return;
    }

    ngx_http_oxmigrate_admin_json_str(g, "namespaces");
    yajl_gen_array_open(g);

    open = 0;
    p = call.out.data;

    while (ngx_http_oxmigrate_admin_oxt_line(&p, call.out.data + call.out.len,
                                             &line))
    {
        if (line.len > 3 && ngx_strncmp(line.data, "+- ", 3) == 0) {
            if (open) {
                yajl_gen_array_close(g);
                yajl_gen_map_close(g);
            }

            ns.data = line.data + 3;
            ns.len = line.len - 3;
            ngx_http_oxmigrate_admin_ns_open(op, g, &ns);
            open = 1;

        } else if (open && line.len > 5
                   && ngx_strncmp(line.data, "|--- ", 5) == 0)
        {
            ngx_http_oxmigrate_admin_json_strn(g, line.data + 5,
                                               line.len - 5);
        }
    }

    if (open) {
        yajl_gen_array_close(g);
        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    ngx_http_oxmigrate_admin_ox_json(g, &call);
    yajl_gen_map_close(g);
}
