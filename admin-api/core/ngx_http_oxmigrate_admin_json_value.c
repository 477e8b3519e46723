/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, core: JSON values written with yajl_gen: the
 * answers (http/), and the JSON columns a job writes (a step's audit row,
 * a schema's checks).  A string that is not UTF-8 is written with its bad
 * bytes replaced, never refused.
 */


#include "ngx_http_oxmigrate_admin.h"


static u_char *ngx_http_oxmigrate_admin_utf8_fix(const u_char *s, size_t len);


void
ngx_http_oxmigrate_admin_json_str(yajl_gen g, const char *s)
{
    if (s == NULL) {
        yajl_gen_null(g);
        return;
    }

    ngx_http_oxmigrate_admin_json_strn(g, (const u_char *) s, ngx_strlen(s));
}


void
ngx_http_oxmigrate_admin_json_strn(yajl_gen g, const u_char *s, size_t len)
{
    u_char  *fixed;

    if (yajl_gen_string(g, s, len) != yajl_gen_invalid_string) {
        return;
    }

    /* names echoed from a request may be any bytes: never emit bad UTF-8 */

    fixed = ngx_http_oxmigrate_admin_utf8_fix(s, len);
    if (fixed == NULL) {
        yajl_gen_string(g, (const u_char *) "?", 1);
        return;
    }

    yajl_gen_string(g, fixed, len);
    ngx_free(fixed);
}


static u_char *
ngx_http_oxmigrate_admin_utf8_fix(const u_char *s, size_t len)
{
    u_char        *d;
    size_t         i, k, n;
    const u_char  *p;

    d = ngx_alloc(len + 1, ngx_cycle->log);
    if (d == NULL) {
        return NULL;
    }

    for (i = 0; i < len; /* void */) {
        p = s + i;

        n = (*p < 0x80) ? 1
            : ((*p & 0xe0) == 0xc0 && *p >= 0xc2) ? 2
            : ((*p & 0xf0) == 0xe0) ? 3
            : ((*p & 0xf8) == 0xf0 && *p <= 0xf4) ? 4 : 0;

        if (n == 0 || i + n > len) {
            d[i++] = '?';
            continue;
        }

        for (k = 1; k < n; k++) {
            if ((p[k] & 0xc0) != 0x80) {
                break;
            }
        }

        if (k != n) {
            d[i++] = '?';
            continue;
        }

        ngx_memcpy(d + i, p, n);
        i += n;
    }

    return d;
}


void
ngx_http_oxmigrate_admin_json_int(yajl_gen g, int64_t n)
{
    yajl_gen_integer(g, (long long) n);
}


void
ngx_http_oxmigrate_admin_json_bool(yajl_gen g, ngx_uint_t b)
{
    yajl_gen_bool(g, b ? 1 : 0);
}


/* "key": [ the char * of a, ... ] ([] when a is NULL) */

void
ngx_http_oxmigrate_admin_json_names(yajl_gen g, const char *key,
    ngx_array_t *a)
{
    char       **s;
    ngx_uint_t   i;

    ngx_http_oxmigrate_admin_json_str(g, key);
    yajl_gen_array_open(g);

    s = a ? a->elts : NULL;
    for (i = 0; a && i < a->nelts; i++) {
        ngx_http_oxmigrate_admin_json_str(g, s[i]);
    }

    yajl_gen_array_close(g);
}
