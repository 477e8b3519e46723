
/*
 * Login name parsing for oxmigrate.
 *
 * Everything here runs on untrusted bytes straight from a request, inside
 * an nginx worker: no allocation, no recursion, one pass over the input,
 * which may come in pieces split anywhere (oxm_form_scan), and never a
 * write past out_cap.  NUL bytes are ordinary data: every length is
 * explicit.
 */


#include "oxm_login.h"


enum {
    OXM_SCAN_KEY = 0,      /* in a key, comparing it with the name */
    OXM_SCAN_SKIP,         /* in another field's value: up to the next '&' */
    OXM_SCAN_VALUE,        /* in our field's value: decoding it */
    OXM_SCAN_DONE
};


static int oxm_hex(unsigned char c);
static void oxm_scan_key(oxm_form_scan_t *s, unsigned char c);
static void oxm_scan_value(oxm_form_scan_t *s, unsigned char c);
static void oxm_scan_key_end(oxm_form_scan_t *s, int eq);
static void oxm_scan_value_end(oxm_form_scan_t *s);


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


void
oxm_form_scan_init(oxm_form_scan_t *s, const char *name, size_t name_len,
    unsigned char *out, size_t out_cap)
{
    s->name = (const unsigned char *) name;
    s->name_len = name_len;
    s->out = out;
    s->out_cap = out_cap;
    s->out_len = 0;
    s->matched = 0;
    s->state = OXM_SCAN_KEY;
    s->rc = OXM_LOGIN_AGAIN;
    s->key_ok = 1;
    s->too_long = 0;
    s->esc = 0;
    s->hi = 0;
}


int
oxm_form_scan(oxm_form_scan_t *s, const unsigned char *p, size_t len)
{
    const unsigned char  *last;

    if (p == NULL) {
        return s->rc;
    }

    for (last = p + len; p < last && s->state != OXM_SCAN_DONE; p++) {

        switch (s->state) {

        case OXM_SCAN_KEY:
            if (*p == '&' || *p == '=') {
                oxm_scan_key_end(s, *p == '=');

            } else if (s->key_ok) {
                oxm_scan_key(s, *p);
            }

            break;

        case OXM_SCAN_SKIP:
            if (*p == '&') {
                s->state = OXM_SCAN_KEY;
                s->key_ok = 1;
                s->matched = 0;
                s->esc = 0;
            }

            break;

        default: /* OXM_SCAN_VALUE */
            if (*p == '&') {
                oxm_scan_value_end(s);

            } else {
                oxm_scan_value(s, *p);
            }

            break;
        }
    }

    return s->rc;
}


int
oxm_form_scan_end(oxm_form_scan_t *s, size_t *out_len)
{
    switch (s->state) {

    case OXM_SCAN_KEY:
        oxm_scan_key_end(s, 0);

        if (s->state == OXM_SCAN_DONE) {
            break;
        }

        /* fall through */

    case OXM_SCAN_SKIP:
        s->state = OXM_SCAN_DONE;
        s->rc = OXM_LOGIN_NOT_FOUND;
        break;

    case OXM_SCAN_VALUE:
        oxm_scan_value_end(s);
        break;

    default:
        break;
    }

    *out_len = (s->rc == OXM_LOGIN_OK) ? s->out_len : 0;

    return s->rc;
}


/*
 * One byte of a key, compared decoded with the name without decoding the
 * key into a buffer.  A malformed escape or one byte too many makes the key
 * "not equal": another field's broken key must not stop us from finding
 * ours further on.
 */

static void
oxm_scan_key(oxm_form_scan_t *s, unsigned char c)
{
    int  d;

    if (s->esc) {
        d = oxm_hex(c);

        if (d < 0) {
            s->key_ok = 0;

        } else if (s->esc == 1) {
            s->hi = (unsigned) d;
            s->esc = 2;

        } else {
            s->esc = 0;
            s->key_ok = (s->name[s->matched++] == (s->hi << 4 | d));
        }

        return;
    }

    if (s->matched == s->name_len) {
        s->key_ok = 0;

    } else if (c == '%') {
        s->esc = 1;

    } else {
        s->key_ok = (s->name[s->matched++] == (c == '+' ? ' ' : c));
    }
}


/* a key ends at '=' (eq) or at '&' or the end of the form (no value) */

static void
oxm_scan_key_end(oxm_form_scan_t *s, int eq)
{
    if (!s->key_ok || s->esc || s->matched != s->name_len) {
        if (eq) {
            s->state = OXM_SCAN_SKIP;

        } else {
            s->key_ok = 1;
            s->matched = 0;
            s->esc = 0;
        }

        return;
    }

    /* the first field with our name wins, whatever its value looks like */

    if (eq) {
        s->state = OXM_SCAN_VALUE;
        return;
    }

    s->state = OXM_SCAN_DONE;
    s->rc = OXM_LOGIN_OK;
}


/*
 * One byte of our value.  The whole value is checked for bad escapes even
 * when it no longer fits out, so a malformed value is reported as such
 * even when it is also too long.
 */

static void
oxm_scan_value(oxm_form_scan_t *s, unsigned char c)
{
    int  d;

    if (s->esc) {
        d = oxm_hex(c);

        if (d < 0) {
            s->state = OXM_SCAN_DONE;
            s->rc = OXM_LOGIN_MALFORMED;
            return;
        }

        if (s->esc == 1) {
            s->hi = (unsigned) d;
            s->esc = 2;
            return;
        }

        s->esc = 0;
        c = (unsigned char) (s->hi << 4 | d);

    } else if (c == '%') {
        s->esc = 1;
        return;

    } else if (c == '+') {
        c = ' ';
    }

    if (s->out_len == s->out_cap) {
        s->too_long = 1;
        return;
    }

    s->out[s->out_len++] = c;
}


static void
oxm_scan_value_end(oxm_form_scan_t *s)
{
    s->state = OXM_SCAN_DONE;

    if (s->esc) {
        s->rc = OXM_LOGIN_MALFORMED;

    } else if (s->too_long) {
        s->rc = OXM_LOGIN_TOO_LONG;

    } else {
        s->rc = OXM_LOGIN_OK;
    }
}


int
oxm_form_field(const unsigned char *form, size_t len, const char *name,
    size_t name_len, unsigned char *out, size_t out_cap, size_t *out_len)
{
    oxm_form_scan_t  s;

    oxm_form_scan_init(&s, name, name_len, out, out_cap);

    if (form == NULL) {
        *out_len = 0;
        return OXM_LOGIN_NOT_FOUND;
    }

    (void) oxm_form_scan(&s, form, len);

    return oxm_form_scan_end(&s, out_len);
}


size_t
oxm_login_key_normalize(unsigned char *key, size_t len)
{
    size_t  i;

    while (len && key[len - 1] == ' ') {
        len--;
    }

    for (i = 0; i < len; i++) {
        if (key[i] >= 'A' && key[i] <= 'Z') {
            key[i] |= 0x20;
        }
    }

    return len;
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
