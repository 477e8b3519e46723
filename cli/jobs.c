/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: following a job (upgradeschemata, runallupdate, jobs watch)
 * and the jobs command.
 */


#include "oxmigrate.h"


/* ------------------------------------------------------------ following a job */

static void
sleep_ms(long ms)
{
    struct timespec  ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* again */
    }
}


static long long
now_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);
    return (long long) tv.tv_sec * 1000 + tv.tv_usec / 1000;
}


static char *
fmt_duration(long long ms)
{
    long long  s = (ms + 999) / 1000;

    if (s >= 3600) {
        return xasprintf("%lldh%02lldm%02llds", s / 3600, s / 60 % 60,
                         s % 60);
    }
    if (s >= 60) {
        return xasprintf("%lldm%02llds", s / 60, s % 60);
    }
    return xasprintf("%llds", s);
}


/*
 * A failed update task as OX's tools print it, under a heading printed
 * once (*head).
 */
void
print_failed(int *head, const char *task, const char *schema)
{
    if (!*head) {
        printf("The following update task(s) failed:\n");
        *head = 1;
    }
    printf("%s (schema=%s)\n", task, schema);
}


/* print_failed() for each task (a JSON array) of one schema */
void
print_failed_tasks(int *head, yajl_val tasks, const char *schema)
{
    size_t   i;
    char    *t;

    for (i = 0; i < jlen(tasks); i++) {
        t = jtext(jat(tasks, i));
        print_failed(head, t, schema);
        free(t);
    }
}


/* the failed schemas of a finished job, as OX's tools print them */
static void
print_failures(yajl_val job)
{
    yajl_val  schemas, s, tasks;
    size_t    i;
    int       head = 0;

    schemas = jget(job, "schemas");
    for (i = 0; i < jlen(schemas); i++) {
        s = jat(schemas, i);
        if (strcmp(jstr_or(s, "state", ""), "failed")) {
            continue;
        }
        tasks = jget(s, "failed_tasks");
        if (jlen(tasks) > 0) {
            print_failed_tasks(&head, tasks, jstr_or(s, "name", "?"));
        } else {
            printf("%s\n", jstr_or(s, "message", "failed"));
        }
    }
}


/* what follow() keeps from one poll of a job to the next */
typedef struct {
    long long   id;
    int         tty;
    char       *last;       /* W_WATCH, no terminal: the last line printed */
    char       *done;       /* W_UPGRADE: a flag per schema reported */
    size_t      seen;       /* ... of so many schemas (the first poll's) */
} follow_t;


/*
 * One poll of the job at path.  A job runs for hours: an API that is
 * briefly away (a restart, a proxy's 502/503/504, a full thread pool) is
 * asked again, quietly, for up to RETRIES polls in a row; then once more,
 * loudly.  Returns 0 (r holds the job) or the exit code.
 */
static int
poll_job(follow_t *f, const char *path, resp_t *r)
{
    int  rc, errors = 0;

    for ( ;; ) {
        g.quiet = 1;
        rc = api("GET", path, NULL, r);
        g.quiet = 0;
        if (rc == 0 && (r->status < 502 || r->status > 504)) {
            return check(r);
        }
        resp_free(r);
        if (++errors >= OXM_RETRIES) {
            return call("GET", path, NULL, r);
        }
        if (errors == 1 && !g.json) {
            msg("job %lld: the admin API does not answer, asking again",
                f->id);
        }
        sleep_ms(g.poll_ms);
    }
}


/*
 * The ETA part of a watch line: the API's own estimate (weighted by
 * contexts), else the time per schema so far times the schemas left.
 */
static char *
watch_eta(yajl_val job, const char *state, long long left, const char *cur)
{
    yajl_val    e;
    long long   processed, started;
    char       *d, *eta;

    if (strcmp(state, "running") != 0) {
        return xstrdup("");
    }
    e = jget(job, "eta_seconds");
    processed = jint(job, "processed", 0);
    started = jint(job, "started", 0);
    if (e && YAJL_IS_INTEGER(e)) {
        d = fmt_duration(YAJL_GET_INTEGER(e) * 1000);
    } else if (processed > 0 && started > 0) {
        d = fmt_duration((now_ms() - started) * left / processed);
    } else {
        return xasprintf(", ETA unknown, current %s", cur);
    }
    eta = xasprintf(", ETA %s, current %s", d, cur);
    free(d);
    return eta;
}


/*
 * W_WATCH: one progress line, rewritten in place on a terminal, else
 * printed when it changed.
 */
static void
watch_line(follow_t *f, yajl_val job, const char *state)
{
    long long   total, processed, left;
    char       *line, *eta, *cur;

    total = jint(job, "total", 0);
    processed = jint(job, "processed", 0);
    left = total - processed;
    cur = cell_text(job, "current");
    eta = watch_eta(job, state, left, cur);
    line = xasprintf("job %lld %s %s: %lld/%lld schemas, %lld failed,"
                     " %lld left%s", f->id, jstr_or(job, "kind", ""), state,
                     processed, total, jint(job, "failed", 0), left, eta);
    free(eta);
    free(cur);

    if (f->tty) {
        printf("\r\033[K%s", line);
        fflush(stdout);
        free(line);
    } else if (f->last == NULL || strcmp(f->last, line) != 0) {
        printf("%s\n", line);
        fflush(stdout);
        free(f->last);
        f->last = line;
    } else {
        free(line);
    }
}


/* W_UPGRADE: a line for each schema that finished since the last poll */
static void
print_finished(follow_t *f, yajl_val job)
{
    yajl_val     schemas, s;
    size_t       i, n;
    const char  *st;
    char        *d;

    schemas = jget(job, "schemas");
    n = jlen(schemas);
    if (f->done == NULL) {
        f->done = xmalloc(n + 1);
        memset(f->done, 0, n + 1);
        f->seen = n;
    }
    for (i = 0; i < n && i < f->seen; i++) {
        s = jat(schemas, i);
        st = jstr(s, "state");
        if (f->done[i] || st == NULL
            || (strcmp(st, "done") && strcmp(st, "failed")))
        {
            continue;
        }
        f->done[i] = 1;
        if (strcmp(st, "done") == 0) {
            d = jtext(jget(s, "downtime_ms"));
            printf("Schema %s upgraded (downtime %s ms).\n",
                   jstr(s, "name"), d);
            free(d);
        } else {
            printf("Schema %s failed: %s\n", jstr(s, "name"),
                   jstr_or(s, "message", "failed"));
        }
    }
}


/* the exit code of a job's end, with what to do next on stderr */
static int
job_end(yajl_val job, long long id, const char *state)
{
    int  rc;

    if (strcmp(state, "done") == 0) {
        rc = EX_OK;
    } else if (strcmp(state, "interrupted") == 0) {
        msg("job %lld was interrupted (its worker stopped);"
            " resume it with: oxmigrate jobs resume %lld", id, id);
        rc = EX_INTERRUPTED;
    } else if (strcmp(state, "paused") == 0) {
        msg("job %lld is paused; go on with: oxmigrate jobs continue %lld",
            id, id);
        rc = EX_PAUSED;
    } else if (strcmp(state, "cancelled") == 0) {
        msg("job %lld was cancelled: %lld of %lld schemas processed", id,
            jint(job, "processed", 0), jint(job, "total", 0));
        rc = EX_CANCELLED;
    } else {
        if (!g.json) {
            msg("job %lld %s: %lld of %lld schemas failed", id, state,
                jint(job, "failed", 0), jint(job, "total", 0));
        }
        rc = EX_FAILED;
    }
    return rc;
}


/*
 * Follows job id until it is no longer running.  W_OX: "Processed N of M
 * schemas." at every poll, as runallupdate; W_UPGRADE: that plus a line per
 * finished schema; W_WATCH: one progress line with an ETA.  Returns the exit
 * code of the job's end (done 0, failed 111, interrupted 113).
 */
static int
follow(long long id, int style)
{
    resp_t       r;
    follow_t     f = { 0 };
    char        *path;
    const char  *state = "?";
    int          rc;

    f.id = id;
    f.tty = isatty(1);
    path = xasprintf("jobs/%lld", id);

    for ( ;; ) {
        rc = poll_job(&f, path, &r);
        if (rc) {
            break;
        }
        state = jstr_or(r.json, "state", "?");

        if (g.json) {
            /* only the final state */

        } else if (style == W_WATCH) {
            watch_line(&f, r.json, state);

        } else {
            if (style == W_UPGRADE) {
                print_finished(&f, r.json);
            }
            printf("Processed %lld of %lld schemas.\n",
                   jint(r.json, "processed", 0), jint(r.json, "total", 0));
            fflush(stdout);
        }

        if (strcmp(state, "running") != 0) {
            break;
        }
        resp_free(&r);
        sleep_ms(g.poll_ms);
    }

    free(f.last);
    free(f.done);
    free(path);
    if (rc) {
        return rc;
    }

    if (f.tty && style == W_WATCH && !g.json) {
        fputc('\n', stdout);
    }
    if (g.json) {
        print_json(&r);
    } else if (strcmp(state, "failed") == 0) {
        print_failures(r.json);
    }
    rc = job_end(r.json, id, state);
    resp_free(&r);
    return rc;
}


/* after a 202 {"job":N,...}: follow the job unless --no-wait */
int
started(resp_t *r, got_t *o, int style, const char *verb)
{
    long long  id;

    id = jint(r->json, "job", -1);
    if (o->val[O_NO_WAIT]) {
        if (g.json) {
            print_json(r);
        } else {
            printf("job %lld started\n", id);
        }
        return EX_OK;
    }
    if (!g.json && style != W_WATCH) {
        printf("Attempting to %s %lld schemas in total...\n", verb,
               jint(r->json, "schemas", jint(r->json, "remaining", 0)));
        fflush(stdout);
    }
    return follow(id, style);
}


/* ------------------------------------------------------------ jobs */

/* jobs SUB ID */
typedef struct {
    long long    id;
    const char  *sub;
} job_arg_t;


static const list_t  l_jobs = { NULL, "jobs",
    "id kind state processed total failed user started:time finished:time",
    NULL, NULL };


/* jobs [list] [--limit N] */
static int
jobs_list(got_t *o)
{
    long long   limit = 0;
    char       *path;
    int         rc;

    if ((rc = max_args(o, 1))) {
        return rc;
    }
    if (o->val[O_LIMIT]) {
        limit = num_in(o->val[O_LIMIT], "--limit", 1, 1000, &rc);
        if (rc) {
            return rc;
        }
    }
    path = limit ? xasprintf("jobs?limit=%lld", limit) : xstrdup("jobs");
    rc = request("GET", path, NULL, list_text, NULL, &l_jobs);
    free(path);
    return rc;
}


static const list_t  l_job_schemas = { NULL, "schemas",
    "scheme=name state downtime_ms failed_tasks:list message", NULL, NULL };


/* arg: the job id */
static void
job_text(yajl_val json, const void *arg)
{
    char  *st, *fi, *cu, *sv;

    st = cell_time(json, "started");
    fi = cell_time(json, "finished");
    cu = cell_text(json, "current");
    sv = cell_text(json, "server_id");

    printf("job:       %lld\n", *(const long long *) arg);
    printf("kind:      %s\n", jstr_or(json, "kind", "-"));
    printf("state:     %s\n", jstr_or(json, "state", "-"));
    printf("progress:  %lld of %lld schemas, %lld failed\n",
           jint(json, "processed", 0), jint(json, "total", 0),
           jint(json, "failed", 0));
    printf("current:   %s\n", cu);
    printf("server id: %s\n", sv);
    printf("user:      %s\n", jstr_or(json, "user", "-"));
    printf("started:   %s\n", st);
    printf("finished:  %s\n", fi);
    printf("\n");
    free(st);
    free(fi);
    free(cu);
    free(sv);

    print_list(&l_job_schemas, json);
}


static int
jobs_show(got_t *o, const job_arg_t *j)
{
    char  *path;
    int    rc;

    path = xasprintf("jobs/%lld", j->id);
    rc = request("GET", path, NULL, job_text, NULL, &j->id);
    free(path);
    return rc;
}


static int
jobs_watch(got_t *o, const job_arg_t *j)
{
    return follow(j->id, W_WATCH);
}


/* pause, cancel */
static void
control_text(yajl_val json, const void *arg)
{
    const job_arg_t  *j = arg;

    if (jstr(json, "control")) {
        /* 202: the driver does it when its schemas in flight are through */
        printf("job %lld: %s requested (%s)\n", j->id, j->sub,
               jstr_or(json, "message", "no further schema starts"));
    } else {
        printf("job %lld %s\n", j->id, jstr_or(json, "state", "?"));
    }
}


static int
jobs_control(got_t *o, const job_arg_t *j)
{
    char  *path;
    int    rc;

    path = xasprintf("jobs/%lld/%s", j->id, j->sub);
    rc = request("POST", path, NULL, control_text, NULL, j);
    free(path);
    return rc;
}


/* resume, continue: then watched unless --no-wait */
static int
jobs_resume(got_t *o, const job_arg_t *j)
{
    resp_t   r;
    char    *path;
    int      rc;

    path = xasprintf("jobs/%lld/%s", j->id, j->sub);
    rc = call("POST", path, NULL, &r);
    free(path);
    if (rc) {
        return rc;
    }
    if (!g.json && !o->val[O_NO_WAIT]) {
        if (jget(r.json, "remaining")) {
            printf("job %lld %s, %lld schemas remaining\n", j->id,
                   j->sub[0] == 'r' ? "resumed" : "continued",
                   jint(r.json, "remaining", 0));
        } else {
            printf("job %lld: the pause asked is withdrawn\n", j->id);
        }
    }
    rc = started(&r, o, W_WATCH, "upgrade");
    resp_free(&r);
    return rc;
}


static const struct {
    const char  *name;
    int        (*run)(got_t *o, const job_arg_t *j);
} job_cmds[] = {
    { "show", jobs_show },
    { "watch", jobs_watch },
    { "resume", jobs_resume },
    { "continue", jobs_resume },
    { "pause", jobs_control },
    { "cancel", jobs_control },
    { NULL, NULL }
};


/* jobs [list | SUB ID] */
int
run_jobs(const cmd_t *c, got_t *o)
{
    const char  *sub;
    job_arg_t    j;
    size_t       i;
    int          rc;

    sub = o->nargs > 0 ? o->args[0] : "list";
    if (strcmp(sub, "list") == 0) {
        return jobs_list(o);
    }

    for (i = 0; job_cmds[i].name && strcmp(job_cmds[i].name, sub); i++) {
        /* void */
    }
    if (job_cmds[i].name == NULL) {
        return usage_error(EX_ILLEGAL_VALUE, "unknown jobs command '%s'"
                           " (list, show ID, watch ID, resume ID, pause ID,"
                           " continue ID, cancel ID)", sub);
    }
    if (o->nargs < 2) {
        return usage_error(EX_MISSING_OPTION, "jobs %s needs a job id", sub);
    }
    if ((rc = max_args(o, 2))) {
        return rc;
    }
    j.id = num(o->args[1], "ID", &rc);
    if (rc) {
        return rc;
    }
    j.sub = sub;
    return job_cmds[i].run(o, &j);
}
