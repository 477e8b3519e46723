/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: what the files of the command share (oxmigrate.c says what
 * the command is; docs/cli.md).
 *
 *   util.c      memory, messages and our own errors, JSON, request bodies
 *   http.c      one call of the admin API, its errors, printing its answer
 *   format.c    the OX tools' tables (--csv), flat objects
 *   options.c   options, settings, --help
 *   jobs.c      following a job, the jobs command
 *   commands.c  the other commands
 *   oxmigrate.c the command table, main()
 */

#ifndef OXMIGRATE_H
#define OXMIGRATE_H

#define _GNU_SOURCE

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#ifndef OXM_VERSION
#error "OXM_VERSION: cli/Makefile passes debian/changelog's version"
#endif
#define OXM_DEFAULT_URL  "http://127.0.0.1:8080/oxmigrate/v1"
#define OXM_RETRIES      60     /* polls in a row a job's API may be away */

/* exit codes: the OX admin tools' (ox-facts section 7), then ours */
#define EX_OK             0
#define EX_CREDENTIALS    101   /* 401 */
#define EX_NO_CONTEXT     102
#define EX_INVALID_DATA   103   /* 400, unknown schema/server/task/db/job */
#define EX_MISSING_OPTION 104
#define EX_COMMUNICATION  105   /* API unreachable, timeout */
#define EX_STORAGE        106   /* 409 conflicts, 500 db_error, 503 */
#define EX_REMOTE         107   /* other answers of the API */
#define EX_ILLEGAL_VALUE  109   /* unknown option or command, bad value */
#define EX_EXISTS         110   /* server registered, upgrade not continued */
#define EX_FAILED         111   /* job ended failed, update tasks failed */
#define EX_UNSUPPORTED    112   /* the API has no such endpoint */
#define EX_INTERRUPTED    113   /* job interrupted (its worker died) */
#define EX_PAUSED         114   /* job paused (jobs pause, a canary) */
#define EX_CANCELLED      115   /* job cancelled (jobs cancel) */


typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
} buf_t;

/* the settings (options, environment) */
typedef struct {
    const char  *prog;          /* the command's name, for messages */
    char        *url;
    char        *user;
    char        *pass;
    char        *netrc;
    int          json;
    int          csv;
    long         timeout;       /* --responsetimeout, seconds, 0 infinite */
    long         poll_ms;
    int          quiet;         /* api(): no message on a failed transfer */
    CURL        *curl;
} settings_t;

extern settings_t  g;

/* a request body */
typedef struct {
    yajl_gen  gen;
} body_t;

/* an answer of the API */
typedef struct {
    long      status;       /* 0: no answer */
    buf_t     body;
    yajl_val  json;         /* NULL: not JSON */
    char      err[CURL_ERROR_SIZE];
} resp_t;

/* the text of a 2xx answer without --json; arg: the command's */
typedef void (*text_pt)(yajl_val json, const void *arg);

/* the exit code of a 2xx answer, with or without --json */
typedef int (*status_pt)(yajl_val json, const void *arg);

/* a table of an answer's array */
typedef struct {
    const char   *path;         /* a list command's GET */
    const char   *key;          /* the array */
    const char   *cols;         /* the columns (format.c, table_init()) */
    const char   *none;         /* instead of no rows, but with --csv */
    int         (*skip)(yajl_val row);     /* rows left out, or NULL */
} list_t;

/* option ids */
enum {
    O_HELP = 1, O_USER, O_PASS, O_URL, O_CRED, O_JSON, O_CSV, O_TIMEOUT,
    O_NAME, O_SCHEMA, O_SERVER_ID, O_FORCE, O_SKIP, O_CONTINUE, O_PARALLEL,
    O_DRY_RUN, O_NO_WAIT, O_ERROR, O_ALL, O_EXECUTED, O_PENDING, O_EXCLUDED,
    O_TASK, O_ID, O_LIMIT, O_PRIMARY, O_SECONDARY
};

/* opt_t.arg of an option the command cannot do without (check_args()) */
#define OPT_NEED  3

typedef struct {
    const char  *lng;
    int          shrt;      /* 0: long only */
    int          arg;       /* 1: takes a value, OPT_NEED: must be given */
    int          id;
    const char  *help;
} opt_t;

typedef struct cmd_s cmd_t;

/* what a command got */
typedef struct {
    const cmd_t  *cmd;
    char         *val[32];  /* by option id; "" for flags */
    char        **args;     /* positional */
    int           nargs;
} got_t;

/* a command: returns its exit code */
typedef int run_pt(const cmd_t *c, got_t *o);

struct cmd_s {
    const char   *name;
    run_pt       *run;
    const opt_t  *opts;
    int           csv;      /* has --csv */
    int           jmx;      /* takes OX's JMX -l/-s for -A/-P */
    const char   *args;     /* positional synopsis */
    const char   *what;
    const void   *data;     /* what run() needs beyond its code */
};

/* disableschema, enableschema: cmd_t.data */
typedef struct {
    const char  *action;        /* the POST's last path segment */
    const char  *done;          /* ... in the message */
} switch_t;

/* how follow() shows a job (jobs.c) */
enum { W_OX = 0, W_UPGRADE, W_WATCH };


/* util.c */
void die_oom(void);
void *xmalloc(size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void buf_add(buf_t *b, const char *p, size_t n);
char *xasprintf(const char *fmt, ...);
void msg(const char *fmt, ...);
void json_error(const char *code, const char *message);
int usage_error(int code, const char *fmt, ...);
int cli_error(int rc, const char *code, const char *fmt, ...);
yajl_val jget(yajl_val v, const char *key);
const char *jstr(yajl_val v, const char *key);
const char *jstr_or(yajl_val v, const char *key, const char *def);
long long jint(yajl_val v, const char *key, long long def);
char *jtext(yajl_val v);
size_t jlen(yajl_val arr);
yajl_val jat(yajl_val arr, size_t i);
void body_open(body_t *b);
void body_key(body_t *b, const char *k);
void body_str(body_t *b, const char *k, const char *v);
void body_bool(body_t *b, const char *k, int v);
void body_int(body_t *b, const char *k, long long v);
char *body_close(body_t *b);

/* http.c */
void resp_free(resp_t *r);
void query(buf_t *b, const char *name, const char *v);
char *epath(const char *fmt, ...);
int api(const char *method, const char *path, const char *body, resp_t *r);
void print_json(resp_t *r);
int check(resp_t *r);
int call(const char *method, const char *path, const char *body, resp_t *r);
int show(resp_t *r, text_pt text, status_pt status, const void *arg);
int request(const char *method, const char *path, const char *body,
    text_pt text, status_pt status, const void *arg);

/* format.c */
char *cell_text(yajl_val row, const char *key);
char *cell_time(yajl_val row, const char *key);
void print_list(const list_t *l, yajl_val json);
void list_text(yajl_val json, const void *arg);
void print_flat(const char *prefix, yajl_val v);

/* options.c */
int parse(const cmd_t *c, int argc, char **argv, got_t *o);
int max_args(got_t *o, int n);
int check_args(const cmd_t *c, got_t *o);
long long num(const char *s, const char *flag, int *rc);
long long num_in(const char *s, const char *flag, long long lo, long long hi,
    int *rc);
int setup(got_t *o);
int usage(const cmd_t *c, FILE *f);

/* jobs.c */
void print_failed(int *head, const char *task, const char *schema);
void print_failed_tasks(int *head, yajl_val tasks, const char *schema);
int started(resp_t *r, got_t *o, int style, const char *verb);
extern run_pt  run_jobs;

/* commands.c */
extern run_pt  run_list, run_registerserver, run_schema_switch,
    run_changeserver, run_runupdate, run_forceupdatetask,
    run_listupdatetasks, run_namespaces, run_unblockdatabase,
    run_upgradeschemata, run_runallupdate, run_lookup;

/* oxmigrate.c */
extern const cmd_t  cmds[];

#endif /* OXMIGRATE_H */
