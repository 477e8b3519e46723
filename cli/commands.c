/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: the commands but jobs (jobs.c): each one but lookup is the OX
 * tool of its name.
 */


#include "oxmigrate.h"


/* ------------------------------------------------------------ servers, schemas */

/* listserver, listdatabaseschema, checkdatabase: c->data, a list_t */
int
run_list(const cmd_t *c, got_t *o)
{
    const list_t  *l = c->data;

    return request("GET", l->path, NULL, list_text, NULL, l);
}


static void
registered_text(yajl_val json, const void *arg)
{
    printf("server %lld registered\n", jint(json, "id", 0));
}


int
run_registerserver(const cmd_t *c, got_t *o)
{
    body_t   b;
    char    *body;
    int      rc;

    body_open(&b);
    body_str(&b, "name", o->val[O_NAME]);
    body = body_close(&b);
    rc = request("POST", "servers", body, registered_text, NULL, NULL);
    free(body);
    return rc;
}


static void
switched_text(yajl_val json, const void *arg)
{
    const got_t     *o = arg;
    const switch_t  *sw = o->cmd->data;

    printf("schema %s %s (%lld contexts changed)\n", o->val[O_SCHEMA],
           sw->done, jint(json, "contexts", 0));
}


int
run_schema_switch(const cmd_t *c, got_t *o)
{
    const switch_t  *sw = c->data;
    char            *path;
    int              rc;

    path = epath("schemas/%s/%s", o->val[O_SCHEMA], sw->action);
    rc = request("POST", path, NULL, switched_text, NULL, o);
    free(path);
    return rc;
}


static void
changed_text(yajl_val json, const void *arg)
{
    const got_t  *o = arg;

    /* the server id asked for (num() checked it) unless the API says */
    printf("schema %s changed to server %lld (%lld contexts)\n",
           o->val[O_SCHEMA],
           jint(json, "server_id", atoll(o->val[O_SERVER_ID])),
           jint(json, "contexts", 0));
}


int
run_changeserver(const cmd_t *c, got_t *o)
{
    body_t      b;
    char       *path, *body;
    long long   id;
    int         rc;

    id = num(o->val[O_SERVER_ID], "-s/--server-id", &rc);
    if (rc) {
        return rc;
    }
    body_open(&b);
    body_int(&b, "server_id", id);
    body = body_close(&b);
    path = epath("schemas/%s/changeserver", o->val[O_SCHEMA]);
    rc = request("POST", path, body, changed_text, NULL, o);
    free(path);
    free(body);
    return rc;
}


/* ------------------------------------------------------------ update tasks */

/* arg: the schema's name */
static void
updated_text(yajl_val json, const void *arg)
{
    int  head = 0;

    print_failed_tasks(&head, jget(json, "failed"), arg);
}


/* update tasks that failed make OX's runupdate fail */
static int
updated_status(yajl_val json, const void *arg)
{
    return jlen(jget(json, "failed")) > 0 ? EX_FAILED : EX_OK;
}


int
run_runupdate(const cmd_t *c, got_t *o)
{
    char  *path;
    int    rc;

    path = epath("schemas/%s/update", o->val[O_NAME]);
    rc = request("POST", path, NULL, updated_text, updated_status,
                 o->val[O_NAME]);
    free(path);
    return rc;
}


/*
 * forceupdatetask: the number of schemas the task failed on (the answer
 * itself with -n, else its entries for all schemas); print: as OX prints
 * them.
 */
static int
force_failures(const got_t *o, yajl_val json, int print)
{
    yajl_val  a, e;
    size_t    i, n;
    int       bad = 0, head = 0;

    a = jget(json, "schemas");
    n = o->val[O_NAME] ? 1 : jlen(a);
    for (i = 0; i < n; i++) {
        e = o->val[O_NAME] ? json : jat(a, i);
        if (YAJL_IS_TRUE(jget(e, "successful"))) {
            continue;
        }
        bad++;
        if (!print) {
            continue;
        }
        if (o->val[O_NAME]) {
            print_failed(&head, o->val[O_TASK], o->val[O_NAME]);
            if (jstr(e, "error")) {
                msg("%s", jstr(e, "error"));
            }
        } else {
            print_failed(&head, o->val[O_TASK], jstr_or(e, "name", "?"));
            if (jstr(e, "error")) {
                msg("%s: %s", jstr(e, "name"), jstr(e, "error"));
            }
        }
    }
    return bad;
}


static void
forced_text(yajl_val json, const void *arg)
{
    force_failures(arg, json, 1);
}


static int
forced_status(yajl_val json, const void *arg)
{
    return force_failures(arg, json, 0) ? EX_FAILED : EX_OK;
}


int
run_forceupdatetask(const cmd_t *c, got_t *o)
{
    char  *path;
    int    rc;

    path = o->val[O_NAME]
           ? epath("schemas/%s/updatetasks/%s/force", o->val[O_NAME],
                   o->val[O_TASK])
           : epath("updatetasks/%s/force", o->val[O_TASK]);
    rc = request("POST", path, NULL, forced_text, forced_status, o);
    free(path);
    return rc;
}


static int
task_executed(yajl_val row)
{
    return strcmp(jstr_or(row, "state", ""), "executed") == 0;
}


static const list_t  l_executed = { NULL, "tasks",
    "taskName=name successful lastModified=last_modified:time", NULL, NULL };

/* -a: the pending and excluded ones, as OX's -a */
static const list_t  l_tasks = { NULL, "tasks",
    "taskName=name state:taskstate", NULL, task_executed };


int
run_listupdatetasks(const cmd_t *c, got_t *o)
{
    char        *path;
    const char  *state;
    int          rc, modes;

    modes = !!o->val[O_ALL] + !!o->val[O_EXECUTED] + !!o->val[O_PENDING]
            + !!o->val[O_EXCLUDED];
    if (modes > 1) {
        return usage_error(EX_ILLEGAL_VALUE,
                           "give only one of -a, -e, -g and -x");
    }
    state = o->val[O_EXECUTED] ? "executed"
          : o->val[O_PENDING] ? "pending"
          : o->val[O_EXCLUDED] ? "excluded" : "all";

    path = epath("schemas/%s/updatetasks?state=%s", o->val[O_NAME], state);
    rc = request("GET", path, NULL, list_text, NULL,
                 o->val[O_EXECUTED] ? &l_executed : &l_tasks);
    free(path);
    return rc;
}


static void
namespaces_text(yajl_val json, const void *arg)
{
    yajl_val   a, n, tasks;
    size_t     i, j;
    char      *t;

    a = jget(json, "namespaces");
    for (i = 0; i < jlen(a); i++) {
        n = jat(a, i);
        printf("+- %s\n", jstr_or(n, "name", "?"));
        tasks = jget(n, "tasks");
        for (j = 0; j < jlen(tasks); j++) {
            t = jtext(jat(tasks, j));
            printf("|--- %s\n", t);
            free(t);
        }
    }
}


int
run_namespaces(const cmd_t *c, got_t *o)
{
    return request("GET", "updatetasks/namespaces", NULL, namespaces_text,
                   NULL, NULL);
}


/* ------------------------------------------------------------ databases */

/*
 * The API knows databases by id: the id of the database named name among
 * those checkdatabase reports (only those have schemas to unblock).
 */
static int
database_id(const char *name, long long *id)
{
    resp_t       r;
    yajl_val     a, s;
    size_t       i;
    int          rc;
    const char  *nm;

    if ((rc = call("GET", "databases/check", NULL, &r))) {
        return rc;
    }
    *id = -1;
    a = jget(r.json, "schemas");
    for (i = 0; i < jlen(a); i++) {
        s = jat(a, i);
        nm = jstr(s, "name");
        if (nm && strcmp(nm, name) == 0) {
            *id = jint(s, "id", -1);
            break;
        }
    }
    resp_free(&r);
    if (*id < 0) {
        return cli_error(EX_INVALID_DATA, "unknown_database",
                         "no database named '%s' has a pending,"
                         " blocked or stale schema (checkdatabase)", name);
    }
    return 0;
}


static const list_t  l_unblocked = { NULL, "unblocked",
    "id name hostname scheme", NULL, NULL };


/* arg: the database id */
static void
unblocked_text(yajl_val json, const void *arg)
{
    yajl_val  a, s;
    size_t    i;

    if (!g.csv) {
        printf("unblocked the following schemas from database %lld:\n",
               *(const long long *) arg);
    }
    print_list(&l_unblocked, json);

    a = jget(json, "kept");
    for (i = 0; i < jlen(a); i++) {
        s = jat(a, i);
        msg("kept %s: %s", jstr_or(s, "scheme", "?"),
            jstr_or(s, "status", "lock is live"));
    }
}


int
run_unblockdatabase(const cmd_t *c, got_t *o)
{
    body_t      b;
    int         rc;
    long long   id;
    char       *path, *body;

    if (o->val[O_ID] && o->val[O_NAME]) {
        return usage_error(EX_ILLEGAL_VALUE, "give either -i or -n, not both");
    }
    if (!o->val[O_ID] && !o->val[O_NAME]) {
        return usage_error(EX_MISSING_OPTION, "missing option -i/--id or"
                           " -n/--name");
    }
    if (o->val[O_ID]) {
        id = num(o->val[O_ID], "-i/--id", &rc);
    } else {
        rc = database_id(o->val[O_NAME], &id);
    }
    if (rc) {
        return rc;
    }

    body_open(&b);
    if (o->val[O_SCHEMA]) {
        body_str(&b, "schema", o->val[O_SCHEMA]);
    }
    body = body_close(&b);
    path = xasprintf("databases/%lld/unblock", id);
    rc = request("POST", path, body, unblocked_text, NULL, &id);
    free(path);
    free(body);
    return rc;
}


/* ------------------------------------------------------------ upgradeschemata, runallupdate */

static int
ask_continue(long long id)
{
    char  line[64];
    int   tty = isatty(0) && isatty(1);

    printf("WARNING: The specified server is already registered with id"
           " '%lld'.\n", id);
    printf("         If that shouldn't be the case, type 'abort' to abort the"
           " upgrade process, otherwise, type 'continue' to proceed.\n");
    printf("         If you continue the already existing server will be used"
           " to point the updated schemata after the update tasks"
           " complete.\n");
    fflush(stdout);

    if (!tty) {
        msg("no terminal to answer on: run again with --continue to use"
            " server %lld", id);
        return 0;
    }
    for ( ;; ) {
        if (fgets(line, sizeof(line), stdin) == NULL) {
            return 0;
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (strcmp(line, "continue") == 0) {
            return 1;
        }
        if (strcmp(line, "abort") == 0) {
            return 0;
        }
        printf("Type 'abort' or 'continue': ");
        fflush(stdout);
    }
}


/* a JSON array of the comma-separated names in list, blanks trimmed */
static void
body_list(body_t *b, const char *k, const char *list)
{
    char  *l, *tok, *save, *p;

    body_key(b, k);
    yajl_gen_array_open(b->gen);
    l = xstrdup(list);
    for (tok = strtok_r(l, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save))
    {
        while (*tok == ' ') {
            tok++;
        }
        p = tok + strlen(tok);
        while (p > tok && p[-1] == ' ') {
            *--p = '\0';
        }
        if (*tok) {
            yajl_gen_string(b->gen, (const unsigned char *) tok,
                            strlen(tok));
        }
    }
    free(l);
    yajl_gen_array_close(b->gen);
}


/* the body of POST /upgrade */
static char *
upgrade_body(got_t *o, int cont, long long par)
{
    body_t  b;

    body_open(&b);
    body_str(&b, "server", o->val[O_NAME]);
    if (cont) {
        body_bool(&b, "continue", 1);
    }
    if (o->val[O_FORCE]) {
        body_bool(&b, "force", 1);
    }
    if (o->val[O_SCHEMA]) {
        body_str(&b, "resume_after", o->val[O_SCHEMA]);
    }
    if (o->val[O_SKIP]) {
        body_list(&b, "skip", o->val[O_SKIP]);
    }
    if (par) {
        body_int(&b, "parallel", par);
    }
    if (o->val[O_DRY_RUN]) {
        body_bool(&b, "dry_run", 1);
    }
    return body_close(&b);
}


static const list_t  l_plan = { NULL, "schemas",
    "id=db_pool_id hostname=host scheme=name contexts pending:count",
    NULL, NULL };


/* --dry-run */
static void
plan_text(yajl_val json, const void *arg)
{
    yajl_val   s;
    char      *id;

    s = jget(json, "server_id");
    id = s && YAJL_IS_INTEGER(s) ? xasprintf("id %lld", YAJL_GET_INTEGER(s))
                                 : xstrdup("not registered yet");
    printf("Would upgrade onto server '%s' (%s): %s\n",
           jstr_or(json, "server", "?"), id, jstr_or(json, "steps", ""));
    free(id);
    print_list(&l_plan, json);
}


int
run_upgradeschemata(const cmd_t *c, got_t *o)
{
    resp_t       r;
    char        *body;
    int          rc, cont;
    long long    par = 0;
    const char  *code;

    if (o->val[O_PARALLEL]) {
        par = num_in(o->val[O_PARALLEL], "--parallel", 1, 64, &rc);
        if (rc) {
            return rc;
        }
    }
    cont = o->val[O_CONTINUE] != NULL;

again:
    body = upgrade_body(o, cont, par);
    rc = api("POST", "upgrade", body, &r);
    free(body);
    if (rc) {
        return rc;
    }

    code = jstr(jget(r.json, "error"), "code");
    if (r.status == 409 && code && strcmp(code, "server_exists") == 0
        && !cont)
    {
        if (!g.json && ask_continue(jint(r.json, "id", -1))) {
            cont = 1;
            resp_free(&r);
            goto again;
        }
        if (g.json) {
            print_json(&r);
        }
        resp_free(&r);
        return EX_EXISTS;
    }

    if ((rc = check(&r))) {
        return rc;
    }
    if (o->val[O_DRY_RUN]) {
        return show(&r, plan_text, NULL, NULL);
    }
    rc = started(&r, o, W_UPGRADE, "upgrade");
    resp_free(&r);
    return rc;
}


int
run_runallupdate(const cmd_t *c, got_t *o)
{
    resp_t   r;
    body_t   b;
    char    *body;
    int      rc;

    /* OX: without -e errors are only logged and the run goes on */
    body_open(&b);
    body_bool(&b, "stop_on_error", o->val[O_ERROR] != NULL);
    body = body_close(&b);
    rc = call("POST", "updates", body, &r);
    free(body);
    if (rc == 0) {
        rc = started(&r, o, W_OX, "update");
    }
    resp_free(&r);
    return rc;
}


/* ------------------------------------------------------------ lookup */

static void
lookup_text(yajl_val json, const void *arg)
{
    size_t     i;
    char      *api[2] = { NULL, NULL };
    yajl_val   v;

    static const char  *side[] = { "primary", "secondary" };

    /* the API's hint names its query parameter: name the CLI's flag */
    for (i = 0; i < 2; i++) {
        v = jget(jget(json, "decision"), side[i]);
        if (v && YAJL_IS_STRING(v) && strncmp(v->u.string, "give ", 5) == 0) {
            api[i] = v->u.string;
            v->u.string = xasprintf("give --%s SERVER[,SERVER]", side[i]);
        }
    }
    print_flat("", json);
    for (i = 0; i < 2; i++) {
        if (api[i]) {
            v = jget(jget(json, "decision"), side[i]);
            free(v->u.string);
            v->u.string = api[i];
        }
    }
}


/* no context of that name: OX's "no such context" */
static int
lookup_status(yajl_val json, const void *arg)
{
    return YAJL_IS_FALSE(jget(json, "found")) ? EX_NO_CONTEXT : EX_OK;
}


int
run_lookup(const cmd_t *c, got_t *o)
{
    resp_t       r;
    buf_t        path = { 0 };
    int          rc;
    const char  *code;

    if (o->nargs < 1) {
        return usage_error(EX_MISSING_OPTION, "lookup needs a login");
    }
    if ((rc = max_args(o, 1))) {
        return rc;
    }
    query(&path, "lookup?login=", o->args[0]);
    query(&path, "&primary=", o->val[O_PRIMARY]);
    query(&path, "&secondary=", o->val[O_SECONDARY]);
    rc = api("GET", path.data, NULL, &r);
    free(path.data);
    if (rc) {
        return rc;
    }

    code = jstr(jget(r.json, "error"), "code");
    if ((r.status == 404 || r.status == 405) && code
        && (strcmp(code, "not_found") == 0
            || strcmp(code, "method_not_allowed") == 0))
    {
        resp_free(&r);
        return cli_error(EX_UNSUPPORTED, "unsupported",
                         "the admin API at %s has no lookup endpoint"
                         " (GET /lookup): it needs a newer oxmigrate"
                         " module", g.url);
    }
    if ((rc = check(&r))) {
        return rc;
    }
    return show(&r, lookup_text, lookup_status, NULL);
}
