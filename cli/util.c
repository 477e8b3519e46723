/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: memory, messages and our own errors, JSON access, request
 * bodies.
 */


#include "oxmigrate.h"


/* ------------------------------------------------------------ memory */

void
die_oom(void)
{
    fputs("oxmigrate: out of memory\n", stderr);
    exit(EX_REMOTE);
}


void *
xmalloc(size_t n)
{
    void  *p = malloc(n ? n : 1);

    if (p == NULL) {
        die_oom();
    }
    return p;
}


char *
xstrdup(const char *s)
{
    char  *p = strdup(s ? s : "");

    if (p == NULL) {
        die_oom();
    }
    return p;
}


char *
xstrndup(const char *s, size_t n)
{
    char  *p = strndup(s, n);

    if (p == NULL) {
        die_oom();
    }
    return p;
}


void
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


char *
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


/* ------------------------------------------------------------ messages, errors */

settings_t  g;


void
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
void
json_error(const char *code, const char *message)
{
    body_t   b;
    char    *s;

    body_open(&b);
    body_key(&b, "error");
    yajl_gen_map_open(b.gen);
    body_str(&b, "code", code);
    body_str(&b, "message", message);
    yajl_gen_map_close(b.gen);
    s = body_close(&b);
    printf("%s\n", s);
    free(s);
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


int
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
int
cli_error(int rc, const char *code, const char *fmt, ...)
{
    va_list  ap;

    va_start(ap, fmt);
    rc = verror(rc, code, 0, fmt, ap);
    va_end(ap);
    return rc;
}


/* ------------------------------------------------------------ JSON */

yajl_val
jget(yajl_val v, const char *key)
{
    const char  *path[2] = { key, NULL };

    if (v == NULL || !YAJL_IS_OBJECT(v)) {
        return NULL;
    }
    return yajl_tree_get(v, path, yajl_t_any);
}


const char *
jstr(yajl_val v, const char *key)
{
    v = jget(v, key);
    return (v && YAJL_IS_STRING(v)) ? YAJL_GET_STRING(v) : NULL;
}


/* a string member, else def */
const char *
jstr_or(yajl_val v, const char *key, const char *def)
{
    const char  *s;

    s = jstr(v, key);
    return s ? s : def;
}


long long
jint(yajl_val v, const char *key, long long def)
{
    v = jget(v, key);
    return (v && YAJL_IS_INTEGER(v)) ? YAJL_GET_INTEGER(v) : def;
}


/* a scalar as table text ("-" for null/absent) */
char *
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


size_t
jlen(yajl_val arr)
{
    return (arr && YAJL_IS_ARRAY(arr)) ? arr->u.array.len : 0;
}


yajl_val
jat(yajl_val arr, size_t i)
{
    return arr->u.array.values[i];
}


/* ------------------------------------------------------------ request bodies */

void
body_open(body_t *b)
{
    b->gen = yajl_gen_alloc(NULL);
    yajl_gen_map_open(b->gen);
}


void
body_key(body_t *b, const char *k)
{
    yajl_gen_string(b->gen, (const unsigned char *) k, strlen(k));
}


void
body_str(body_t *b, const char *k, const char *v)
{
    body_key(b, k);
    yajl_gen_string(b->gen, (const unsigned char *) v, strlen(v));
}


void
body_bool(body_t *b, const char *k, int v)
{
    body_key(b, k);
    yajl_gen_bool(b->gen, v);
}


void
body_int(body_t *b, const char *k, long long v)
{
    body_key(b, k);
    yajl_gen_integer(b->gen, v);
}


char *
body_close(body_t *b)
{
    const unsigned char  *out;
    size_t                len;
    char                 *s;

    yajl_gen_map_close(b->gen);
    yajl_gen_get_buf(b->gen, &out, &len);
    s = xstrndup((const char *) out, len);
    yajl_gen_free(b->gen);
    return s;
}
