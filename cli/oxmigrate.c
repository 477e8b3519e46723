/*
 * oxmigrate: the OX upgrade tools (upgradeschemata, registerserver,
 * listdatabaseschema, disableschema, changeserver, runupdate, enableschema,
 * runallupdate, listUpdateTasks, forceupdatetask, listupdatetasknamespaces,
 * checkdatabase, unblockdatabase) with their flags, output formats and exit
 * codes, as a thin client of the oxmigrate admin API (docs/admin-api.md).
 * See docs/cli.md.
 *
 *   oxmigrate COMMAND [OPTIONS]
 *   oxmigrate --help
 *
 * A link named like a command (e.g. /usr/sbin/disableschema -> oxmigrate)
 * runs that command.
 */

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

#define OXM_VERSION  "0.1"
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


/* ------------------------------------------------------------ utilities */

typedef struct {
    char    *data;
    size_t   len;
    size_t   cap;
} buf_t;


static void
die_oom(void)
{
    fputs("oxmigrate: out of memory\n", stderr);
    exit(EX_REMOTE);
}


static void *
xmalloc(size_t n)
{
    void  *p = malloc(n ? n : 1);

    if (p == NULL) {
        die_oom();
    }
    return p;
}


static char *
xstrdup(const char *s)
{
    char  *p = strdup(s ? s : "");

    if (p == NULL) {
        die_oom();
    }
    return p;
}


static char *
xstrndup(const char *s, size_t n)
{
    char  *p = strndup(s, n);

    if (p == NULL) {
        die_oom();
    }
    return p;
}


static void
buf_add(buf_t *b, const char *p, size_t n)
{
    char  *d;

    if (b->len + n + 1 > b->cap) {
        b->cap = (b->len + n + 1) * 2;
        d = realloc(b->data, b->cap);
        if (d == NULL) {
            die_oom();
        }
        b->data = d;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}


static char *
xasprintf(const char *fmt, ...)
{
    char     *s;
    va_list   ap;

    va_start(ap, fmt);
    if (vasprintf(&s, fmt, ap) < 0) {
        die_oom();
    }
    va_end(ap);
    return s;
}


/* ------------------------------------------------------------ settings */

static struct {
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
} g;


static void
msg(const char *fmt, ...)
{
    va_list  ap;

    fprintf(stderr, "%s: ", g.prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}


/* --json: stdout is always one JSON document, also for our own errors */
static void
json_error(const char *code, const char *message)
{
    yajl_gen              gen;
    const unsigned char  *out;
    size_t                len;

    gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(gen);
    yajl_gen_string(gen, (const unsigned char *) "error", 5);
    yajl_gen_map_open(gen);
    yajl_gen_string(gen, (const unsigned char *) "code", 4);
    yajl_gen_string(gen, (const unsigned char *) code, strlen(code));
    yajl_gen_string(gen, (const unsigned char *) "message", 7);
    yajl_gen_string(gen, (const unsigned char *) message, strlen(message));
    yajl_gen_map_close(gen);
    yajl_gen_map_close(gen);
    yajl_gen_get_buf(gen, &out, &len);
    fwrite(out, 1, len, stdout);
    fputc('\n', stdout);
    yajl_gen_free(gen);
}


/*
 * An error of ours (not an answer of the API): the message on stderr, for
 * a usage error (hint) with a pointer to --help, and with --json also as
 * the JSON error document on stdout.  Returns rc, the exit code.
 */
static int
verror(int rc, const char *code, int hint, const char *fmt, va_list ap)
{
    char  *m;

    if (vasprintf(&m, fmt, ap) < 0) {
        die_oom();
    }
    msg("%s", m);
    if (hint) {
        fprintf(stderr, "Try '%s --help'.\n", g.prog);
    }
    if (g.json) {
        json_error(code, m);
    }
    free(m);
    return rc;
}


static int
usage_error(int code, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    code = verror(code, code == EX_MISSING_OPTION ? "missing_option"
                                                  : "illegal_option",
                  1, fmt, ap);
    va_end(ap);
    return code;
}


/* an error that is no usage error; code names it in the JSON document */
static int
cli_error(int rc, const char *code, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    rc = verror(rc, code, 0, fmt, ap);
    va_end(ap);
    return rc;
}


/* ------------------------------------------------------------ JSON */

static yajl_val
jget(yajl_val v, const char *key)
{
    const char  *path[2] = { key, NULL };

    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        return NULL;
    }
    return yajl_tree_get(v, path, yajl_t_any);
}


static const char *
jstr(yajl_val v, const char *key)
{
    v = jget(v, key);
    return (v && YAJL_IS_STRING(v)) ? YAJL_GET_STRING(v) : NULL;
}


/* a string member, else def */
static const char *
jstr_or(yajl_val v, const char *key, const char *def)
{
    const char  *s;

    s = jstr(v, key);
    return s ? s : def;
}


static long long
jint(yajl_val v, const char *key, long long def)
{
    v = jget(v, key);
    return (v && YAJL_IS_INTEGER(v)) ? YAJL_GET_INTEGER(v) : def;
}


/* a scalar as table text ("-" for null/absent) */
static char *
jtext(yajl_val v)
{
    if (v == NULL || YAJL_IS_NULL(v)) {
        return xstrdup("-");
    }
    if (YAJL_IS_STRING(v)) {
        return xstrdup(YAJL_GET_STRING(v));
    }
    if (YAJL_IS_NUMBER(v)) {
        return xstrdup(v->u.number.r);
    }
    if (YAJL_IS_TRUE(v)) {
        return xstrdup("true");
    }
    if (YAJL_IS_FALSE(v)) {
        return xstrdup("false");
    }
    if (YAJL_IS_ARRAY(v)) {
        buf_t   b = { 0 };
        size_t  i;
        char   *s;

        for (i = 0; i < v->u.array.len; i++) {
            s = jtext(v->u.array.values[i]);
            if (i) {
                buf_add(&b, ",", 1);
            }
            buf_add(&b, s, strlen(s));
            free(s);
        }
        return b.data ? b.data : xstrdup("");
    }
    return xstrdup("{...}");
}


static size_t
jlen(yajl_val arr)
{
    return (arr && YAJL_IS_ARRAY(arr)) ? arr->u.array.len : 0;
}


static yajl_val
jat(yajl_val arr, size_t i)
{
    return arr->u.array.values[i];
}


/* request bodies */

typedef struct {
    yajl_gen  gen;
} body_t;


static void
body_open(body_t *b)
{
    b->gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(b->gen);
}


static void
body_key(body_t *b, const char *k)
{
    yajl_gen_string(b->gen, (const unsigned char *) k, strlen(k));
}


static void
body_str(body_t *b, const char *k, const char *v)
{
    body_key(b, k);
    yajl_gen_string(b->gen, (const unsigned char *) v, strlen(v));
}


static void
body_bool(body_t *b, const char *k, int v)
{
    body_key(b, k);
    yajl_gen_bool(b->gen, v);
}


static void
body_int(body_t *b, const char *k, long long v)
{
    body_key(b, k);
    yajl_gen_integer(b->gen, v);
}


static char *
body_close(body_t *b)
{
    const unsigned char  *out;
    size_t                len;
    char                 *s;

    yajl_gen_map_close(b->gen);
    yajl_gen_get_buf(b->gen, &out, &len);
    s = xmalloc(len + 1);
    memcpy(s, out, len);
    s[len] = '\0';
    yajl_gen_free(b->gen);
    return s;
}


/* ------------------------------------------------------------ HTTP */

typedef struct {
    long      status;       /* 0: no answer */
    buf_t     body;
    yajl_val  json;         /* NULL: not JSON */
    char      err[CURL_ERROR_SIZE];
} resp_t;


static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    buf_add(arg, p, size * n);
    return size * n;
}


static void
resp_free(resp_t *r)
{
    free(r->body.data);
    if (r->json) {
        yajl_tree_free(r->json);
    }
    memset(r, 0, sizeof(*r));
}


/* s URL-escaped onto b */
static void
buf_esc(buf_t *b, const char *s)
{
    char  *e;

    e = curl_easy_escape(g.curl, s, 0);
    if (e == NULL) {
        die_oom();
    }
    buf_add(b, e, strlen(e));
    curl_free(e);
}


/* a query parameter ("&name=") and its value, unless the value is NULL */
static void
query(buf_t *b, const char *name, const char *v)
{
    if (v) {
        buf_add(b, name, strlen(name));
        buf_esc(b, v);
    }
}


/* an API path: fmt with each "%s" replaced by its argument, URL-escaped */
static char *
epath(const char *fmt, ...)
{
    va_list      ap;
    buf_t        b = { 0 };
    const char  *p;

    va_start(ap, fmt);
    for (p = fmt; *p; p++) {
        if (p[0] == '%' && p[1] == 's') {
            buf_esc(&b, va_arg(ap, const char *));
            p++;
        } else {
            buf_add(&b, p, 1);
        }
    }
    va_end(ap);
    return b.data;
}


/*
 * One call of the API.  Returns 0 with r->status set when the API answered
 * (any status), EX_COMMUNICATION (and the message printed) when it did not.
 */
static int
api(const char *method, const char *path, const char *body, resp_t *r)
{
    char               *url;
    CURLcode            rc;
    struct curl_slist  *hdr = NULL;

    memset(r, 0, sizeof(*r));
    url = xasprintf("%s/%s", g.url, path);

    curl_easy_reset(g.curl);
    curl_easy_setopt(g.curl, CURLOPT_URL, url);
    curl_easy_setopt(g.curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(g.curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(g.curl, CURLOPT_TIMEOUT, g.timeout);
    curl_easy_setopt(g.curl, CURLOPT_ERRORBUFFER, r->err);
    curl_easy_setopt(g.curl, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(g.curl, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(g.curl, CURLOPT_USERAGENT, "oxmigrate/" OXM_VERSION);
    curl_easy_setopt(g.curl, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(g.curl, CURLOPT_PROTOCOLS_STR, "http,https");
    /* $http_proxy is honoured, but never for the loopback API */
    curl_easy_setopt(g.curl, CURLOPT_NOPROXY, getenv("no_proxy")
                     ? getenv("no_proxy") : "127.0.0.1,localhost,::1");

    if (g.user) {
        curl_easy_setopt(g.curl, CURLOPT_USERNAME, g.user);
    }
    if (g.pass) {
        curl_easy_setopt(g.curl, CURLOPT_PASSWORD, g.pass);
    }
    if (g.netrc && g.pass == NULL) {
        /* -P wins; -A alone takes that login's password from the file */
        curl_easy_setopt(g.curl, CURLOPT_NETRC, (long) CURL_NETRC_OPTIONAL);
        curl_easy_setopt(g.curl, CURLOPT_NETRC_FILE, g.netrc);
    }

    hdr = curl_slist_append(hdr, "Accept: application/json");
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(g.curl, CURLOPT_POST, 1L);
        curl_easy_setopt(g.curl, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(g.curl, CURLOPT_POSTFIELDSIZE,
                         (long) (body ? strlen(body) : 0));
        if (body) {
            hdr = curl_slist_append(hdr, "Content-Type: application/json");
        }
    }
    curl_easy_setopt(g.curl, CURLOPT_HTTPHEADER, hdr);

    rc = curl_easy_perform(g.curl);
    curl_slist_free_all(hdr);

    if (rc != CURLE_OK && g.quiet) {
        free(url);
        resp_free(r);
        return EX_COMMUNICATION;
    }
    if (rc != CURLE_OK) {
        cli_error(EX_COMMUNICATION, "unreachable",
                  "cannot reach the admin API at %s: %s", url,
                  r->err[0] ? r->err : curl_easy_strerror(rc));
        free(url);
        resp_free(r);
        return EX_COMMUNICATION;
    }
    free(url);

    curl_easy_getinfo(g.curl, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->body.data) {
        r->json = yajl_tree_parse(r->body.data, NULL, 0);
    }
    return 0;
}


/* --json: the API's answer unchanged; a non-JSON answer as our error */
static void
print_json(resp_t *r)
{
    char  *m;

    if (r->json) {
        fwrite(r->body.data, 1, r->body.len, stdout);
        if (r->body.len == 0 || r->body.data[r->body.len - 1] != '\n') {
            fputc('\n', stdout);
        }
        return;
    }
    m = xasprintf("HTTP %ld without a JSON body", r->status);
    json_error(r->status == 401 ? "unauthorized" : "invalid_response", m);
    free(m);
}


/* the exit code of an API error answer */
static int
exit_code(resp_t *r)
{
    const char  *code;
    yajl_val     e;

    e = jget(r->json, "error");
    code = jstr(e, "code");
    code = code ? code : "";

    switch (r->status) {
    case 401:
        return EX_CREDENTIALS;
    case 400:
        return EX_INVALID_DATA;
    case 404:
        return strncmp(code, "unknown_", 8) == 0 ? EX_INVALID_DATA
                                                 : EX_REMOTE;
    case 409:
        return EX_STORAGE;
    case 500:
        return strcmp(code, "internal") == 0 ? EX_REMOTE : EX_STORAGE;
    case 503:
        return strcmp(code, "busy") == 0 ? EX_REMOTE : EX_STORAGE;
    default:
        return EX_REMOTE;
    }
}


/* an error answer: its message on stderr (or its JSON), its exit code */
static int
fail(resp_t *r)
{
    yajl_val     e;
    const char  *m, *code;

    if (g.json) {
        print_json(r);
    }

    e = jget(r->json, "error");
    m = jstr(e, "message");
    code = jstr(e, "code");

    if (r->status == 401) {
        msg("Invalid credentials (HTTP 401 from %s)", g.url);
    } else if (m) {
        msg("%s (HTTP %ld %s)", m, r->status, code ? code : "");
    } else {
        msg("unexpected answer of the admin API: HTTP %ld%s", r->status,
            r->json ? "" : ", not JSON");
    }
    return exit_code(r);
}


/*
 * An answer that must be 2xx with a JSON body: 0, or the exit code of
 * fail() (the answer then freed: callers use r only after a success).
 */
static int
check(resp_t *r)
{
    int  rc;

    if (r->status >= 200 && r->status <= 299 && r->json != NULL) {
        return 0;
    }
    rc = fail(r);
    resp_free(r);
    return rc;
}


/* a call whose answer must be 2xx; returns 0 or the exit code */
static int
call(const char *method, const char *path, const char *body, resp_t *r)
{
    int  rc;

    rc = api(method, path, body, r);
    return rc ? rc : check(r);
}


/* ------------------------------------------------------------ tables */

/* a cell of a table: the member key of a row (a JSON object) as text */
typedef char *(*cell_pt)(yajl_val row, const char *key);

#define TABLE_COLS  16

typedef struct {
    size_t    ncols;
    char     *keys[TABLE_COLS];
    cell_pt   cells[TABLE_COLS];
    char    **rows;     /* nrows * ncols cells, row 0 is the header */
    size_t    nrows;
    size_t    cap;
} table_t;


static char *
cell_text(yajl_val row, const char *key)
{
    return jtext(jget(row, key));
}


/* epoch ms as OX prints lastModified: "2016-12-23 10:43:51 CET" */
static char *
cell_time(yajl_val row, const char *key)
{
    char       out[64];
    time_t     t;
    struct tm  tm;
    yajl_val   v;

    v = jget(row, key);
    if (v == NULL || !YAJL_IS_INTEGER(v)) {
        return xstrdup("-");
    }
    t = (time_t) (YAJL_GET_INTEGER(v) / 1000);
    localtime_r(&t, &tm);
    strftime(out, sizeof(out), "%Y-%m-%d %H:%M:%S %Z", &tm);
    return xstrdup(out);
}


/* the length of an array */
static char *
cell_count(yajl_val row, const char *key)
{
    return xasprintf("%zu", jlen(jget(row, key)));
}


/* an array, "-" when empty */
static char *
cell_list(yajl_val row, const char *key)
{
    return jlen(jget(row, key)) ? cell_text(row, key) : xstrdup("-");
}


/* listUpdateTasks: an excluded task says what excluded it */
static char *
cell_taskstate(yajl_val row, const char *key)
{
    const char  *st;

    st = jstr_or(row, key, "");
    if (strcmp(st, "excluded") == 0 && jstr(row, "excluded_by")) {
        return xstrdup(jstr(row, "excluded_by"));
    }
    return xstrdup(st);
}


static const struct {
    const char  *name;
    cell_pt      cell;
} cell_kinds[] = {
    { "time", cell_time },
    { "count", cell_count },
    { "list", cell_list },
    { "taskstate", cell_taskstate },
    { NULL, NULL }
};


/* the cell of a column's KIND (n bytes at name) */
static cell_pt
cell_kind(const char *name, size_t n)
{
    size_t  i;

    for (i = 0; cell_kinds[i].name; i++) {
        if (strncmp(cell_kinds[i].name, name, n) == 0
            && cell_kinds[i].name[n] == '\0')
        {
            return cell_kinds[i].cell;
        }
    }
    abort();        /* our table specs are fixed: a bug, any test finds it */
}


/*
 * A table with the columns of spec, "HEADER[=KEY][:KIND] ...": the cell of
 * a row is its member KEY (default: HEADER) as text, or as KIND says
 * (cell_kinds).
 */
static void
table_init(table_t *t, const char *spec)
{
    const char  *p, *key;
    size_t       n, c;

    memset(t, 0, sizeof(*t));
    t->cap = 16;
    t->rows = xmalloc(sizeof(char *) * TABLE_COLS * t->cap);

    for (p = spec, c = 0; *p && c < TABLE_COLS; p += strspn(p, " "), c++) {
        n = strcspn(p, "=: ");
        t->rows[c] = xstrndup(p, n);
        key = p;
        p += n;
        if (*p == '=') {
            key = ++p;
            n = strcspn(p, ": ");
            p += n;
        }
        t->keys[c] = xstrndup(key, n);
        t->cells[c] = cell_text;
        if (*p == ':') {
            n = strcspn(++p, " ");
            t->cells[c] = cell_kind(p, n);
            p += n;
        }
    }
    t->ncols = c;
    t->nrows = 1;
}


/* a row of the table from a JSON object */
static void
table_add(table_t *t, yajl_val row)
{
    size_t   i;
    char   **n;

    if (t->nrows == t->cap) {
        t->cap *= 2;
        n = realloc(t->rows, sizeof(char *) * t->ncols * t->cap);
        if (n == NULL) {
            die_oom();
        }
        t->rows = n;
    }
    for (i = 0; i < t->ncols; i++) {
        t->rows[t->nrows * t->ncols + i] = t->cells[i](row, t->keys[i]);
    }
    t->nrows++;
}


static void
csv_cell(const char *s)
{
    fputc('"', stdout);
    for (; *s; s++) {
        if (*s == '"') {
            fputc('"', stdout);
        }
        fputc(*s, stdout);
    }
    fputc('"', stdout);
}


/*
 * The OX tools' tables: a header line, then one line per row, the columns
 * separated by spaces (padded to a common width, the last one not).  --csv:
 * every cell quoted, comma-separated, header first (as OX's --csv).
 */
static void
table_print(table_t *t)
{
    size_t   r, c, *w, l;
    char    *s;

    w = xmalloc(sizeof(size_t) * t->ncols);
    memset(w, 0, sizeof(size_t) * t->ncols);
    for (r = 0; r < t->nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            l = strlen(t->rows[r * t->ncols + c]);
            if (l > w[c]) {
                w[c] = l;
            }
        }
    }

    for (r = 0; r < t->nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            s = t->rows[r * t->ncols + c];
            if (g.csv) {
                if (c) {
                    fputc(',', stdout);
                }
                csv_cell(s);
            } else if (c + 1 < t->ncols) {
                printf("%-*s ", (int) w[c], s);
            } else {
                fputs(s, stdout);
            }
        }
        fputc('\n', stdout);
    }

    for (r = 0; r < t->nrows * t->ncols; r++) {
        free(t->rows[r]);
    }
    for (c = 0; c < t->ncols; c++) {
        free(t->keys[c]);
    }
    free(t->rows);
    free(w);
}


/* a table of an answer's array */
typedef struct {
    const char   *path;         /* a list command's GET */
    const char   *key;          /* the array */
    const char   *cols;         /* the columns (table_init()) */
    const char   *none;         /* instead of no rows, but with --csv */
    int         (*skip)(yajl_val row);     /* rows left out, or NULL */
} list_t;


static void
print_list(const list_t *l, yajl_val json)
{
    table_t   t;
    yajl_val  a, row;
    size_t    i;

    a = jget(json, l->key);
    if (l->none && jlen(a) == 0 && !g.csv) {
        printf("%s\n", l->none);
        return;
    }
    table_init(&t, l->cols);
    for (i = 0; i < jlen(a); i++) {
        row = jat(a, i);
        if (l->skip == NULL || !l->skip(row)) {
            table_add(&t, row);
        }
    }
    table_print(&t);
}


/* ------------------------------------------------------------ options */

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

struct cmd_s {
    const char   *name;
    int         (*run)(const cmd_t *c, got_t *o);
    const opt_t  *opts;
    int           csv;      /* has --csv */
    int           jmx;      /* takes OX's JMX -l/-s for -A/-P */
    const char   *args;     /* positional synopsis */
    const char   *what;
    const void   *data;     /* what run() needs beyond its code */
};

static const opt_t  common_opts[] = {
    { "help", 'h', 0, O_HELP, "this text" },
    { "adminuser", 'A', 1, O_USER, "admin user (or from the credentials file)" },
    { "adminpass", 'P', 1, O_PASS, "admin password (visible in ps: prefer the credentials file)" },
    { "url", 0, 1, O_URL, "the admin API (default $OXMIGRATE_URL, else " OXM_DEFAULT_URL ")" },
    { "credentials", 0, 1, O_CRED, "netrc file with the credentials (default $OXMIGRATE_CREDENTIALS)" },
    { "json", 0, 0, O_JSON, "print the API's JSON answer unchanged" },
    { "responsetimeout", 0, 1, O_TIMEOUT, "seconds to wait for an answer (default 0: infinite)" },
    { NULL, 0, 0, 0, NULL }
};

static const opt_t  csv_opt = { "csv", 0, 0, O_CSV, "CSV output" };
static const opt_t  jmx_opts[] = {
    { "login", 'l', 1, O_USER, "same as -A (OX's JMX login)" },
    { "password", 's', 1, O_PASS, "same as -P (OX's JMX password)" },
};


static const cmd_t *find_cmd(const char *name);
static int usage(const cmd_t *c, FILE *f);


/*
 * Parses argv for the command c into o.  Returns 0, or the exit code of a
 * usage error (printed).
 */
static int
parse(const cmd_t *c, int argc, char **argv, got_t *o)
{
    struct option   lo[64];
    const opt_t    *all[64];
    char            so[160], *p;
    size_t          n = 0, i;
    int             ch, idx;
    const opt_t    *op;

    for (op = common_opts; op->lng; op++) {
        all[n++] = op;
    }
    if (c->csv) {
        all[n++] = &csv_opt;
    }
    if (c->jmx) {
        all[n++] = &jmx_opts[0];
        all[n++] = &jmx_opts[1];
    }
    for (op = c->opts; op && op->lng; op++) {
        all[n++] = op;
    }

    p = so;
    *p++ = ':';
    for (i = 0; i < n; i++) {
        lo[i].name = all[i]->lng;
        lo[i].has_arg = all[i]->arg ? required_argument : no_argument;
        lo[i].flag = NULL;
        lo[i].val = 1000 + (int) i;
        if (all[i]->shrt) {
            *p++ = (char) all[i]->shrt;
            if (all[i]->arg) {
                *p++ = ':';
            }
        }
    }
    *p = '\0';
    memset(&lo[n], 0, sizeof(lo[n]));

    memset(o, 0, sizeof(*o));
    o->cmd = c;
    for (i = 1; i < (size_t) argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            g.json = 1;     /* usage errors before it are JSON too */
        }
    }
    opterr = 0;
    optind = 1;

    while ((ch = getopt_long(argc, argv, so, lo, &idx)) != -1) {
        if (ch == '?') {
            if (optopt && optopt < 1000) {
                return usage_error(EX_ILLEGAL_VALUE, "unknown option '-%c'",
                                   optopt);
            }
            return usage_error(EX_ILLEGAL_VALUE, "unknown option '%s'",
                               argv[optind - 1]);
        }
        if (ch == ':') {
            return usage_error(EX_MISSING_OPTION,
                               "option '%s' needs a value",
                               argv[optind - 1]);
        }
        if (ch >= 1000) {
            op = all[ch - 1000];
        } else {
            op = NULL;
            for (i = 0; i < n; i++) {
                if (all[i]->shrt == ch) {
                    op = all[i];
                    break;
                }
            }
            if (op == NULL) {
                return usage_error(EX_ILLEGAL_VALUE, "unknown option '-%c'",
                                   ch);
            }
        }
        if (op->id == O_HELP) {
            usage(c, stdout);
            exit(EX_OK);
        }
        if (op->id == O_JSON) {
            g.json = 1;
        }
        o->val[op->id] = op->arg ? optarg : "";

        /* -P/-s: keep the password out of ps as far as we can */
        if (op->id == O_PASS && optarg) {
            o->val[op->id] = xstrdup(optarg);
            memset(optarg, 'x', strlen(optarg));
        }
    }

    o->args = argv + optind;
    o->nargs = argc - optind;
    return 0;
}


/* at most n positional arguments */
static int
max_args(got_t *o, int n)
{
    if (o->nargs > n) {
        return usage_error(EX_ILLEGAL_VALUE, "unexpected argument '%s'",
                           o->args[n]);
    }
    return 0;
}


/*
 * What every command checks first: the options it cannot do without
 * (OPT_NEED, in their order), then that there are no positional arguments
 * unless it takes some (c->args).
 */
static int
check_args(const cmd_t *c, got_t *o)
{
    const opt_t  *op;

    for (op = c->opts; op && op->lng; op++) {
        if (op->arg == OPT_NEED
            && (o->val[op->id] == NULL || o->val[op->id][0] == '\0'))
        {
            return usage_error(EX_MISSING_OPTION, "missing option -%c/--%s",
                               op->shrt, op->lng);
        }
    }
    return c->args ? 0 : max_args(o, 0);
}


/* a positive integer option value; -1 on error (printed) */
static long long
num(const char *s, const char *flag, int *rc)
{
    char       *end;
    long long   v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || !isdigit((unsigned char) *s)) {
        *rc = usage_error(EX_ILLEGAL_VALUE,
                          "option %s: '%s' is not a number", flag, s);
        return -1;
    }
    *rc = 0;
    return v;
}


/* num() from lo to hi */
static long long
num_in(const char *s, const char *flag, long long lo, long long hi, int *rc)
{
    long long  v;

    v = num(s, flag, rc);
    if (*rc == 0 && (v < lo || v > hi)) {
        *rc = usage_error(EX_ILLEGAL_VALUE, "%s must be %lld to %lld", flag,
                          lo, hi);
    }
    return v;
}


/* settings from the options and the environment */
static int
setup(got_t *o)
{
    const char   *e;
    struct stat   st;
    size_t        l;
    int           rc;

    e = o->val[O_URL] ? o->val[O_URL] : getenv("OXMIGRATE_URL");
    g.url = xstrdup(e && *e ? e : OXM_DEFAULT_URL);
    l = strlen(g.url);
    while (l > 0 && g.url[l - 1] == '/') {
        g.url[--l] = '\0';
    }

    g.user = o->val[O_USER];
    g.pass = o->val[O_PASS];

    e = o->val[O_CRED] ? o->val[O_CRED] : getenv("OXMIGRATE_CREDENTIALS");
    if (e && *e) {
        if (stat(e, &st) != 0 || access(e, R_OK) != 0) {
            return usage_error(EX_ILLEGAL_VALUE,
                               "cannot read the credentials file %s: %s",
                               e, strerror(errno ? errno : EACCES));
        }
        if (st.st_mode & (S_IRWXG | S_IRWXO)) {
            msg("warning: the credentials file %s is readable by others"
                " (chmod 600 it)", e);
        }
        g.netrc = xstrdup(e);
    }

    if (o->val[O_TIMEOUT]) {
        g.timeout = (long) num(o->val[O_TIMEOUT], "--responsetimeout", &rc);
        if (rc) {
            return rc;
        }
    }

    e = getenv("OXMIGRATE_POLL_MS");
    g.poll_ms = (e && atol(e) > 0) ? atol(e) : 1000;
    g.csv = o->val[O_CSV] != NULL;
    return 0;
}


/* ------------------------------------------------------------ jobs */

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
static void
print_failed(int *head, const char *task, const char *schema)
{
    if (!*head) {
        printf("The following update task(s) failed:\n");
        *head = 1;
    }
    printf("%s (schema=%s)\n", task, schema);
}


/* print_failed() for each task (a JSON array) of one schema */
static void
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
    yajl_val     schemas, s, tasks;
    size_t       i;
    int          head = 0;
    const char  *name, *m;

    schemas = jget(job, "schemas");
    for (i = 0; i < jlen(schemas); i++) {
        s = jat(schemas, i);
        if (strcmp(jstr(s, "state") ? jstr(s, "state") : "", "failed")) {
            continue;
        }
        name = jstr(s, "name");
        tasks = jget(s, "failed_tasks");
        if (jlen(tasks) > 0) {
            print_failed_tasks(&head, tasks, name ? name : "?");
        } else {
            m = jstr(s, "message");
            printf("%s\n", m ? m : "failed");
        }
    }
}


enum { W_OX = 0, W_UPGRADE, W_WATCH };

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
    long long    total, processed, left;
    char        *line, *eta, *cur;
    const char  *kind;

    total = jint(job, "total", 0);
    processed = jint(job, "processed", 0);
    left = total - processed;
    kind = jstr(job, "kind");
    cur = jtext(jget(job, "current"));
    eta = watch_eta(job, state, left, cur);
    line = xasprintf("job %lld %s %s: %lld/%lld schemas, %lld failed,"
                     " %lld left%s", f->id, kind ? kind : "", state,
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
                   jstr(s, "message") ? jstr(s, "message") : "failed");
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
        state = jstr(r.json, "state");
        state = state ? state : "?";

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


/* ------------------------------------------------------------ commands */

/* the text of a 2xx answer without --json; arg: the command's */
typedef void (*text_pt)(yajl_val json, const void *arg);

/* the exit code of a 2xx answer, with or without --json */
typedef int (*status_pt)(yajl_val json, const void *arg);


/*
 * A 2xx answer: unchanged with --json, else as text() prints it (NULL:
 * nothing).  Frees it; returns its exit code, status() (NULL: 0).
 */
static int
show(resp_t *r, text_pt text, status_pt status, const void *arg)
{
    int  rc;

    if (g.json) {
        print_json(r);
    } else if (text) {
        text(r->json, arg);
    }
    rc = status ? status(r->json, arg) : EX_OK;
    resp_free(r);
    return rc;
}


/* a call whose answer must be 2xx, shown; returns the exit code */
static int
request(const char *method, const char *path, const char *body,
        text_pt text, status_pt status, const void *arg)
{
    resp_t  r;
    int     rc;

    rc = call(method, path, body, &r);
    return rc ? rc : show(&r, text, status, arg);
}


/* text_pt of a list_t */
static void
list_text(yajl_val json, const void *arg)
{
    print_list(arg, json);
}


/* listserver, listdatabaseschema, checkdatabase: c->data, a list_t */
static int
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


static int
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


/* disableschema, enableschema: c->data */
typedef struct {
    const char  *action;        /* the POST's last path segment */
    const char  *done;          /* ... in the message */
} switch_t;


static void
switched_text(yajl_val json, const void *arg)
{
    const got_t     *o = arg;
    const switch_t  *sw = o->cmd->data;

    printf("schema %s %s (%lld contexts changed)\n", o->val[O_SCHEMA],
           sw->done, jint(json, "contexts", 0));
}


static int
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


static int
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


static int
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


/* forceupdatetask: the answer for one schema, or an entry of all */
static int
forced(yajl_val v)
{
    return YAJL_IS_TRUE(jget(v, "successful"));
}


static void
forced_text(yajl_val json, const void *arg)
{
    const got_t  *o = arg;
    yajl_val      a, e;
    size_t        i;
    int           head = 0;

    if (o->val[O_NAME]) {
        if (!forced(json)) {
            print_failed(&head, o->val[O_TASK], o->val[O_NAME]);
            if (jstr(json, "error")) {
                msg("%s", jstr(json, "error"));
            }
        }
        return;
    }
    a = jget(json, "schemas");
    for (i = 0; i < jlen(a); i++) {
        e = jat(a, i);
        if (!forced(e)) {
            print_failed(&head, o->val[O_TASK], jstr_or(e, "name", "?"));
            if (jstr(e, "error")) {
                msg("%s: %s", jstr(e, "name"), jstr(e, "error"));
            }
        }
    }
}


static int
forced_status(yajl_val json, const void *arg)
{
    const got_t  *o = arg;
    yajl_val      a;
    size_t        i;

    if (o->val[O_NAME]) {
        return forced(json) ? EX_OK : EX_FAILED;
    }
    a = jget(json, "schemas");
    for (i = 0; i < jlen(a); i++) {
        if (!forced(jat(a, i))) {
            return EX_FAILED;
        }
    }
    return EX_OK;
}


static int
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


static int
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


static int
run_namespaces(const cmd_t *c, got_t *o)
{
    return request("GET", "updatetasks/namespaces", NULL, namespaces_text,
                   NULL, NULL);
}


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


static int
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


/* after a 202 {"job":N,...}: follow the job unless --no-wait */
static int
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


static int
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
        if (g.json) {
            print_json(&r);
            resp_free(&r);
            return EX_EXISTS;
        }
        if (ask_continue(jint(r.json, "id", -1))) {
            cont = 1;
            resp_free(&r);
            goto again;
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


static int
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


/* ------------------------------------------------------------ jobs */

/* jobs SUB ID */
typedef struct {
    long long    id;
    const char  *sub;
} job_arg_t;


static const list_t  l_jobs = { NULL, "jobs",
    "id kind state processed total failed user started:time finished:time",
    NULL, NULL };


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


static int
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


/* ------------------------------------------------------------ lookup */

/* an object as "a.b.c: value" lines, in the API's order */
static void
print_flat(const char *prefix, yajl_val v)
{
    size_t   i;
    char    *k, *t;

    if (v && YAJL_IS_OBJECT(v)) {
        for (i = 0; i < v->u.object.len; i++) {
            k = prefix[0] ? xasprintf("%s.%s", prefix, v->u.object.keys[i])
                          : xstrdup(v->u.object.keys[i]);
            print_flat(k, v->u.object.values[i]);
            free(k);
        }
        return;
    }
    t = jtext(v);
    printf("%s: %s\n", prefix, t);
    free(t);
}


static void
lookup_text(yajl_val json, const void *arg)
{
    print_flat("", json);
}


/* no context of that name: OX's "no such context" */
static int
lookup_status(yajl_val json, const void *arg)
{
    return YAJL_IS_FALSE(jget(json, "found")) ? EX_NO_CONTEXT : EX_OK;
}


static int
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


/* ------------------------------------------------------------ the table */

static const opt_t  o_name_server[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the server's name (its SERVER_NAME)" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_schema[] = {
    { "schema", 'm', OPT_NEED, O_SCHEMA, "the database schema" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_changeserver[] = {
    { "server-id", 's', OPT_NEED, O_SERVER_ID, "the id of the new server" },
    { "schema", 'm', OPT_NEED, O_SCHEMA, "the database schema" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_name_schema[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the schema's name" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_runallupdate[] = {
    { "error", 'e', 0, O_ERROR, "stop at the first schema that fails" },
    { "no-wait", 0, 0, O_NO_WAIT, "print the job id and return" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_listupdatetasks[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the schema's name" },
    { "all", 'a', 0, O_ALL, "pending and excluded tasks (default)" },
    { "executed", 'e', 0, O_EXECUTED, "executed tasks" },
    { "pending", 'g', 0, O_PENDING, "pending tasks" },
    { "excluded", 'x', 0, O_EXCLUDED, "excluded tasks" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_force[] = {
    { "task", 't', OPT_NEED, O_TASK, "the update task's name" },
    { "name", 'n', 1, O_NAME, "the schema (default: all schemas)" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_unblock[] = {
    { "id", 'i', 1, O_ID, "the id of the database" },
    { "name", 'n', 1, O_NAME, "the name of the database" },
    { "schema", 0, 1, O_SCHEMA, "only this schema of the database" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_upgrade[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the upgraded server's name (registered when missing)" },
    { "force", 'f', 0, O_FORCE, "go on past schemas whose update fails" },
    { "schema", 'm', 1, O_SCHEMA, "start after this schema (skipping it)" },
    { "skip", 'k', 1, O_SKIP, "comma-separated schemas to leave out" },
    { "continue", 0, 0, O_CONTINUE, "use an already registered server without asking" },
    { "parallel", 0, 1, O_PARALLEL, "up to N schemas at once, one per database host (1-64)" },
    { "dry-run", 0, 0, O_DRY_RUN, "print the plan, change nothing" },
    { "no-wait", 0, 0, O_NO_WAIT, "print the job id and return" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_lookup[] = {
    { "primary", 0, 1, O_PRIMARY, "server names of a primary balancer: its decision" },
    { "secondary", 0, 1, O_SECONDARY, "server names of a secondary balancer: its decision" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_jobs[] = {
    { "limit", 0, 1, O_LIMIT, "list: at most N jobs (default 50)" },
    { "no-wait", 0, 0, O_NO_WAIT, "resume, continue: return at once" },
    { NULL, 0, 0, 0, NULL }
};

/* the data of the commands that differ from others only in it */

static const list_t  l_servers = { "servers", "servers", "id name",
    NULL, NULL };

static const list_t  l_schemas = { "schemas", "schemas",
    "id=db_pool_id hostname=host scheme=name contexts enabled maintenance"
    " server=server_ids status", NULL, NULL };

static const list_t  l_check = { "databases/check", "schemas",
    "id name hostname scheme status",
    "Neither pending, blocking nor stale schemas found", NULL };

static const switch_t  sw_disable = { "disable", "disabled" };
static const switch_t  sw_enable = { "enable", "enabled" };

static const cmd_t  cmds[] = {
    { "upgradeschemata", run_upgradeschemata, o_upgrade, 0, 0, NULL,
      "register the server and upgrade every schema onto it (a job)", NULL },
    { "registerserver", run_registerserver, o_name_server, 0, 0, NULL,
      "register a server", NULL },
    { "listserver", run_list, NULL, 1, 0, NULL,
      "list the registered servers", &l_servers },
    { "listdatabaseschema", run_list, NULL, 1, 0, NULL,
      "list the database schemas", &l_schemas },
    { "disableschema", run_schema_switch, o_schema, 0, 0, NULL,
      "disable every context of a schema", &sw_disable },
    { "changeserver", run_changeserver, o_changeserver, 0, 0, NULL,
      "point a disabled schema's contexts to a server", NULL },
    { "runupdate", run_runupdate, o_name_schema, 0, 1, NULL,
      "run the pending update tasks of a schema", NULL },
    { "enableschema", run_schema_switch, o_schema, 0, 0, NULL,
      "enable the contexts disableschema disabled", &sw_enable },
    { "runallupdate", run_runallupdate, o_runallupdate, 0, 1, NULL,
      "run the pending update tasks of every schema (a job)", NULL },
    { "listUpdateTasks", run_listupdatetasks, o_listupdatetasks, 1, 0, NULL,
      "list the executed, pending or excluded update tasks of a schema",
      NULL },
    { "forceupdatetask", run_forceupdatetask, o_force, 0, 1, NULL,
      "(re-)run one update task", NULL },
    { "listupdatetasknamespaces", run_namespaces, NULL, 0, 0, NULL,
      "list the update task namespaces", NULL },
    { "checkdatabase", run_list, NULL, 1, 0, NULL,
      "list pending, blocked and stale schemas", &l_check },
    { "unblockdatabase", run_unblockdatabase, o_unblock, 1, 0, NULL,
      "remove the dead update locks of a database", NULL },
    { "jobs", run_jobs, o_jobs, 1, 0,
      "[list | show ID | watch ID | resume ID | pause ID | continue ID | cancel ID]",
      "the jobs of upgradeschemata and runallupdate", NULL },
    { "lookup", run_lookup, o_lookup, 0, 0, "LOGIN",
      "where a login's context is routed, and what the caches hold", NULL },
    { NULL, NULL, NULL, 0, 0, NULL, NULL, NULL }
};


static const cmd_t *
find_cmd(const char *name)
{
    const cmd_t  *c;

    for (c = cmds; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    /* OX spells it listUpdateTasks; the seed also says listupdatetasks */
    if (strcasecmp(name, "listupdatetasks") == 0) {
        return find_cmd("listUpdateTasks");
    }
    return NULL;
}


static void
print_opt(FILE *f, const opt_t *op)
{
    char  flag[64];

    if (op->shrt) {
        snprintf(flag, sizeof(flag), "-%c,--%s%s", op->shrt, op->lng,
                 op->arg ? " <arg>" : "");
    } else {
        snprintf(flag, sizeof(flag), "--%s%s", op->lng,
                 op->arg ? " <arg>" : "");
    }
    fprintf(f, "  %-28s %s\n", flag, op->help);
}


static int
usage(const cmd_t *c, FILE *f)
{
    const opt_t  *op;

    if (c == NULL) {
        fprintf(f, "usage: oxmigrate COMMAND [OPTIONS]   (oxmigrate COMMAND"
                   " --help)\n\nThe OX upgrade tools as a client of the"
                   " oxmigrate admin API.\n\ncommands:\n");
        for (c = cmds; c->name; c++) {
            fprintf(f, "  %-26s %s\n", c->name, c->what);
        }
        fprintf(f, "\nThe API: --url, else $OXMIGRATE_URL, else %s.\n"
                   "Credentials: -A/-P, or a netrc file (--credentials,"
                   " $OXMIGRATE_CREDENTIALS;\n  recommended: -P shows in"
                   " ps):  machine 127.0.0.1 login oxadminmaster password"
                   " ...\nExit codes: 0 ok, 101 invalid credentials, 103"
                   " invalid data (unknown name),\n  104 missing option, 105"
                   " API unreachable, 106 storage error or conflict,\n  107"
                   " remote error, 109 illegal option or value, 110 server"
                   " exists (not continued),\n  111 failed (job or update"
                   " tasks), 112 not supported by the API, 113 job"
                   " interrupted,\n  114 job paused, 115 job cancelled; lookup: 102 no such"
                   " context.\n", OXM_DEFAULT_URL);
        return 0;
    }

    fprintf(f, "usage: oxmigrate %s [OPTIONS]%s%s\n\n%s\n\n", c->name,
            c->args ? " " : "", c->args ? c->args : "", c->what);
    for (op = c->opts; op && op->lng; op++) {
        print_opt(f, op);
    }
    for (op = common_opts; op->lng; op++) {
        print_opt(f, op);
    }
    if (c->csv) {
        print_opt(f, &csv_opt);
    }
    if (c->jmx) {
        print_opt(f, &jmx_opts[0]);
        print_opt(f, &jmx_opts[1]);
    }
    return 0;
}


int
main(int argc, char **argv)
{
    const cmd_t  *c;
    const char   *base;
    got_t         o;
    int           rc;

    base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    g.prog = "oxmigrate";

    /* run as a link named like a command, or "oxmigrate COMMAND ..." */
    c = find_cmd(base);
    if (c == NULL) {
        if (argc < 2) {
            usage(NULL, stderr);
            return EX_MISSING_OPTION;
        }
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0
            || strcmp(argv[1], "help") == 0)
        {
            usage(NULL, stdout);
            return EX_OK;
        }
        if (strcmp(argv[1], "--version") == 0) {
            printf("oxmigrate %s\n", OXM_VERSION);
            return EX_OK;
        }
        c = find_cmd(argv[1]);
        if (c == NULL) {
            int i;

            for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0) {
                    g.json = 1;
                }
            }
            return usage_error(EX_ILLEGAL_VALUE, "unknown command '%s'",
                               argv[1]);
        }
        argv++;
        argc--;
        g.prog = xasprintf("oxmigrate %s", c->name);
    } else {
        g.prog = c->name;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        msg("curl_global_init failed");
        return EX_REMOTE;
    }

    rc = parse(c, argc, argv, &o);
    if (rc) {
        return rc;
    }
    rc = setup(&o);
    if (rc) {
        return rc;
    }

    g.curl = curl_easy_init();
    if (g.curl == NULL) {
        msg("curl_easy_init failed");
        return EX_REMOTE;
    }

    signal(SIGPIPE, SIG_IGN);
    rc = check_args(c, &o);
    if (rc == 0) {
        rc = c->run(c, &o);
    }
    fflush(stdout);

    curl_easy_cleanup(g.curl);
    curl_global_cleanup();
    return rc;
}
