/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * The one text form of a resolved context, stored alike in shared memory and
 * in Redis:
 *
 *     "<cid> <server_id> <enabled> <reason_id> <schema_len> <schema><server>"
 *
 * or "-" for a context part that configdb does not know (negative entry).
 * The schema is length-prefixed because MariaDB allows any byte in a quoted
 * schema name; the server name is the rest of the value.
 */


#include "ngx_http_oxmigrate.h"


size_t
ngx_http_oxmigrate_info_serialize(ngx_http_oxmigrate_info_t *info,
    u_char *buf)
{
    u_char  *p, *last;

    if (!info->found) {
        *buf = '-';
        return 1;
    }

    last = buf + NGX_HTTP_OXMIGRATE_VALUE_MAX;

    p = ngx_slprintf(buf, last, "%ui %ui %ui %ui %uz %V%V",
                     info->cid, info->server_id, info->enabled ? 1 : 0,
                     info->reason_id, info->schema.len, &info->schema,
                     &info->server);

    return p - buf;
}


static u_char *
ngx_http_oxmigrate_info_number(u_char *p, u_char *last, ngx_uint_t *n)
{
    u_char  *start;

    start = p;

    while (p < last && *p >= '0' && *p <= '9') {
        p++;
    }

    if (p == start || p == last || *p != ' ' || p - start > 10) {
        return NULL;
    }

    *n = ngx_atoi(start, p - start);

    return p + 1;
}


ngx_int_t
ngx_http_oxmigrate_info_parse(ngx_str_t *value,
    ngx_http_oxmigrate_info_t *info)
{
    u_char      *p, *last;
    ngx_uint_t   schema_len;

    ngx_memzero(info, sizeof(ngx_http_oxmigrate_info_t));

    if (value->len == 1 && value->data[0] == '-') {
        return NGX_OK;
    }

    p = value->data;
    last = p + value->len;

    p = ngx_http_oxmigrate_info_number(p, last, &info->cid);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_oxmigrate_info_number(p, last, &info->server_id);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_oxmigrate_info_number(p, last, &info->enabled);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_oxmigrate_info_number(p, last, &info->reason_id);
    if (p == NULL) {
        return NGX_ERROR;
    }

    p = ngx_http_oxmigrate_info_number(p, last, &schema_len);
    if (p == NULL || (size_t) (last - p) < schema_len) {
        return NGX_ERROR;
    }

    info->schema.data = p;
    info->schema.len = schema_len;

    info->server.data = p + schema_len;
    info->server.len = last - info->server.data;

    info->found = 1;

    return NGX_OK;
}
