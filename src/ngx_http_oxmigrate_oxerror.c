/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * OX middleware error objects (ox-facts section 3).  Every OX client parses
 * this exact shape, so the balancer's answers look like a node's own.
 */


#include "ngx_http_oxmigrate.h"
#include "oxm_login.h"


/*
 * error_id is "<random>-<counter>" as the middleware prints it: the random
 * part is drawn per worker, the counter makes each occurrence unique.
 */
static ngx_uint_t  ngx_http_oxmigrate_error_random;
static ngx_uint_t  ngx_http_oxmigrate_error_counter;


/*
 * JSON string escaping.  Text from a request (a URL built from variables)
 * may hold bytes that are not UTF-8: those are written as \u00XX, so the
 * answer stays valid JSON whatever came in; valid UTF-8 passes unchanged.
 */

size_t
ngx_http_oxmigrate_json_escape(u_char *dst, u_char *src, size_t len)
{
    u_char         ch;
    size_t         n, seq;
    static u_char  hex[] = "0123456789abcdef";

    n = 0;

    while (len) {
        ch = *src;

        if (ch >= 0x80) {
            seq = (ch >= 0xf0) ? 4 : (ch >= 0xe0) ? 3 : (ch >= 0xc0) ? 2 : 0;

            if (seq && seq <= len && oxm_utf8_valid(src, seq)) {
                if (dst) {
                    dst = ngx_cpymem(dst, src, seq);
                }

                n += seq;
                src += seq;
                len -= seq;
                continue;
            }
        }

        src++;
        len--;

        if (ch == '"' || ch == '\\') {
            if (dst) {
                *dst++ = '\\';
                *dst++ = ch;
            }
            n += 2;

        } else if (ch < 0x20 || ch >= 0x7f) {
            if (dst) {
                *dst++ = '\\';
                *dst++ = 'u';
                *dst++ = '0';
                *dst++ = '0';
                *dst++ = hex[ch >> 4];
                *dst++ = hex[ch & 0xf];
            }
            n += 6;

        } else {
            if (dst) {
                *dst++ = ch;
            }
            n++;
        }
    }

    return n;
}


ngx_int_t
ngx_http_oxmigrate_send_oxerror(ngx_http_request_t *r,
    ngx_http_oxmigrate_oxerror_t *err, ngx_uint_t status)
{
    size_t        len;
    u_char       *p;
    ngx_str_t     type = ngx_string("application/json; charset=UTF-8");
    ngx_buf_t    *b;

    if (ngx_http_oxmigrate_error_random == 0) {
        ngx_http_oxmigrate_error_random = (ngx_uint_t) ngx_random() + 1;
    }

    len = sizeof("{\"error\":\"\",\"error_params\":,\"categories\":\"\","
                 "\"category\":,\"code\":\"\",\"error_id\":\"-\","
                 "\"error_desc\":\"\"}" CRLF) - 1
          + ngx_http_oxmigrate_json_escape(NULL, err->error.data,
                                           err->error.len)
          + err->params.len
          + ngx_strlen(err->category) + NGX_INT_T_LEN
          + ngx_strlen(err->code) + 2 * NGX_INT_T_LEN
          + ngx_http_oxmigrate_json_escape(NULL, err->error_desc.data,
                                           err->error_desc.len);

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_cpymem(b->last, "{\"error\":\"", sizeof("{\"error\":\"") - 1);
    p += ngx_http_oxmigrate_json_escape(p, err->error.data, err->error.len);
    p = ngx_sprintf(p, "\",\"error_params\":%V,\"categories\":\"%s\","
                    "\"category\":%ui,\"code\":\"%s\",\"error_id\":\"%ui-%ui\","
                    "\"error_desc\":\"",
                    &err->params, err->category, err->category_num,
                    err->code, ngx_http_oxmigrate_error_random,
                    ++ngx_http_oxmigrate_error_counter);
    p += ngx_http_oxmigrate_json_escape(p, err->error_desc.data,
                                        err->error_desc.len);
    p = ngx_cpymem(p, "\"}" CRLF, sizeof("\"}" CRLF) - 1);

    b->last = p;

    return ngx_http_oxmigrate_send_buf(r, status, &type,
                                       sizeof("application/json") - 1, b);
}


/* status, Content-Type and one buffer: a whole answer, any body dropped */

ngx_int_t
ngx_http_oxmigrate_send_buf(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *type, size_t type_len, ngx_buf_t *b)
{
    ngx_int_t    rc;
    ngx_chain_t  out;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type = *type;
    r->headers_out.content_type_len = type_len;
    r->headers_out.content_type_lowcase = NULL;

    /* a request may carry a body nobody read: drop it before answering */
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}
