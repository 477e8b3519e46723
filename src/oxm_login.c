
/*
 * Login name parsing for oxmigrate.
 *
 * Everything here runs on untrusted bytes straight from a request, inside
 * an nginx worker: no allocation, no recursion, one pass (or two bounded
 * passes) over the input, and never a write past out_cap.  NUL bytes are
 * ordinary data: every length is explicit.
 */


#include "oxm_login.h"


static int oxm_hex(unsigned char c);
static int oxm_key_equal(const unsigned char *p, const unsigned char *last,
    const unsigned char *name, size_t name_len);
static int oxm_value_valid(const unsigned char *p, const unsigned char *last);
static size_t oxm_find(const unsigned char *p, const unsigned char *last,
    unsigned char c);


/* the value of a hex digit, or -1 */

static int
oxm_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


/* offset of the first c in [p, last), or last - p when there is none */

static size_t
oxm_find(const unsigned char *p, const unsigned char *last, unsigned char c)
{
    const unsigned char  *s;

    for (s = p; s < last; s++) {
        if (*s == c) {
            break;
        }
    }

    return (size_t) (s - p);
}


/*
 * Compares the decoded key [p, last) with name without decoding it into a
 * buffer.  A malformed escape makes the key "not equal": another field's
 * broken key must not stop us from finding ours further on.
 */

static int
oxm_key_equal(const unsigned char *p, const unsigned char *last,
    const unsigned char *name, size_t name_len)
{
    int     hi, lo;
    size_t  n;

    n = 0;

    while (p < last) {

        if (n == name_len) {
            return 0;
        }

        if (*p == '%') {
            if (last - p < 3) {
                return 0;
            }

            hi = oxm_hex(p[1]);
            lo = oxm_hex(p[2]);

            if (hi < 0 || lo < 0) {
                return 0;
            }

            if (name[n] != (unsigned char) (hi << 4 | lo)) {
                return 0;
            }

            p += 3;

        } else {
            if (name[n] != (*p == '+' ? ' ' : *p)) {
                return 0;
            }

            p++;
        }

        n++;
    }

    return n == name_len;
}


/* 1 when every '%' in [p, last) starts a two hex digit escape */

static int
oxm_value_valid(const unsigned char *p, const unsigned char *last)
{
    for ( /* void */ ; p < last; p++) {

        if (*p != '%') {
            continue;
        }

        if (last - p < 3 || oxm_hex(p[1]) < 0 || oxm_hex(p[2]) < 0) {
            return 0;
        }

        p += 2;
    }

    return 1;
}


int
oxm_form_field(const unsigned char *form, size_t len, const char *name,
    size_t name_len, unsigned char *out, size_t out_cap, size_t *out_len)
{
    size_t                n;
    const unsigned char  *p, *last, *end, *key_end;

    *out_len = 0;

    if (form == NULL) {
        return OXM_LOGIN_NOT_FOUND;
    }

    p = form;
    last = form + len;

    for ( ;; ) {
        end = p + oxm_find(p, last, '&');
        key_end = p + oxm_find(p, end, '=');

        if (oxm_key_equal(p, key_end, (const unsigned char *) name, name_len))
        {
            break;
        }

        if (end == last) {
            return OXM_LOGIN_NOT_FOUND;
        }

        p = end + 1;
    }

    /* the first field with our name wins, whatever its value looks like */

    p = (key_end < end) ? key_end + 1 : end;

    /*
     * Validate the whole value before decoding it, so a malformed value is
     * reported as such even when it is also too long.
     */

    if (!oxm_value_valid(p, end)) {
        return OXM_LOGIN_MALFORMED;
    }

    n = 0;

    while (p < end) {

        if (n == out_cap) {
            return OXM_LOGIN_TOO_LONG;
        }

        if (*p == '%') {
            out[n++] = (unsigned char) (oxm_hex(p[1]) << 4 | oxm_hex(p[2]));
            p += 3;

        } else {
            out[n++] = (*p == '+') ? ' ' : *p;
            p++;
        }
    }

    *out_len = n;

    return OXM_LOGIN_OK;
}


void
oxm_login_context(const unsigned char *login, size_t len,
    const unsigned char **ctx, size_t *ctx_len)
{
    size_t  i;

    /* the user part may itself contain '@': only the last one splits */

    for (i = len; i > 0; i--) {
        if (login[i - 1] == '@') {
            *ctx = login + i;
            *ctx_len = len - i;
            return;
        }
    }

    *ctx = (const unsigned char *) "defaultcontext";
    *ctx_len = sizeof("defaultcontext") - 1;
}


/*
 * Well-formed UTF-8 as in Unicode table 3-7: the second byte's range
 * depends on the lead byte, which is what rules out overlongs (C0, C1,
 * E0 80-9F, F0 80-8F), surrogates (ED A0-BF) and code points above
 * U+10FFFF (F4 90-BF, F5-FF).
 */

int
oxm_utf8_valid(const unsigned char *p, size_t len)
{
    size_t          i, n, k;
    unsigned char   c, lo, hi;

    i = 0;

    while (i < len) {
        c = p[i];

        if (c < 0x80) {
            i++;
            continue;
        }

        lo = 0x80;
        hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;

            if (c == 0xe0) {
                lo = 0xa0;

            } else if (c == 0xed) {
                hi = 0x9f;
            }

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;

            if (c == 0xf0) {
                lo = 0x90;

            } else if (c == 0xf4) {
                hi = 0x8f;
            }

        } else {
            return 0;
        }

        if (len - i - 1 < n) {
            return 0;
        }

        if (p[i + 1] < lo || p[i + 1] > hi) {
            return 0;
        }

        for (k = 2; k <= n; k++) {
            if (p[i + k] < 0x80 || p[i + k] > 0xbf) {
                return 0;
            }
        }

        i += n + 1;
    }

    return 1;
}
