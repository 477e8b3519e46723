/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: one call of the admin API (paths, credentials, proxy), the
 * exit code and message of an error answer, and an answer printed: as it
 * is with --json, else as its command says.
 */


#include "oxmigrate.h"


static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    buf_add(arg, p, size * n);
    return size * n;
}


void
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
void
query(buf_t *b, const char *name, const char *v)
{
    if (v) {
        buf_add(b, name, strlen(name));
        buf_esc(b, v);
    }
}


/* an API path: fmt with each "%s" replaced by its argument, URL-escaped */
char *
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
int
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

    if (rc != CURLE_OK) {
        if (!g.quiet) {
            cli_error(EX_COMMUNICATION, "unreachable",
                      "cannot reach the admin API at %s: %s", url,
                      r->err[0] ? r->err : curl_easy_strerror(rc));
        }
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
void
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
int
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
int
call(const char *method, const char *path, const char *body, resp_t *r)
{
    int  rc;

    rc = api(method, path, body, r);
    return rc ? rc : check(r);
}


/*
 * A 2xx answer: unchanged with --json, else as text() prints it (NULL:
 * nothing).  Frees it; returns its exit code, status() (NULL: 0).
 */
int
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
int
request(const char *method, const char *path, const char *body,
        text_pt text, status_pt status, const void *arg)
{
    resp_t  r;
    int     rc;

    rc = call(method, path, body, &r);
    return rc ? rc : show(&r, text, status, arg);
}
