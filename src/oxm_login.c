/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

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
#include "oxm_collation.h"


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


/* the class of a BMP character: its representative, 0: it weighs nothing */

static unsigned
oxm_collation_fold(unsigned cp)
{
    size_t  lo, hi, mid;

    lo = 0;
    hi = OXM_COLLATION_N;

    while (lo < hi) {
        mid = (lo + hi) / 2;

        if (oxm_collation[mid][0] == cp) {
            return oxm_collation[mid][1];
        }

        if (oxm_collation[mid][0] < cp) {
            lo = mid + 1;

        } else {
            hi = mid;
        }
    }

    return cp;
}


size_t
oxm_login_key_normalize(unsigned char *key, size_t len)
{
    size_t         i, n, k;
    unsigned       cp;
    unsigned char  c;

    /*
     * Not UTF-8: left as it is, for the caller to refuse; dropping a byte
     * could join its neighbours into a valid character.
     */

    if (!oxm_utf8_valid(key, len)) {
        return len;
    }

    for (i = 0, n = 0; i < len; /* void */) {
        c = key[i];

        if (c < 0x80) {
            i++;

            /* the control bytes the collation ignores go, A-Z are lowered */

            if (c <= 0x08 || (c >= 0x0e && c <= 0x1f) || c == 0x7f) {
                continue;
            }

            key[n++] = (c >= 'A' && c <= 'Z') ? (c | 0x20) : c;
            continue;
        }

        k = (c >= 0xf0) ? 4 : (c >= 0xe0) ? 3 : (c >= 0xc0) ? 2 : 0;

        if (k == 0 || i + k > len) {
            key[n++] = key[i++];        /* not reached: valid UTF-8 */
            continue;
        }

        if (k == 4) {
            /* every supplementary character weighs the same (0xFFFD) */
            i += 4;
            key[n++] = 0xf0;
            key[n++] = 0x90;
            key[n++] = 0x80;
            key[n++] = 0x80;
            continue;
        }

        cp = (k == 2) ? ((c & 0x1fu) << 6 | (key[i + 1] & 0x3fu))
                      : ((c & 0x0fu) << 12 | (key[i + 1] & 0x3fu) << 6
                         | (key[i + 2] & 0x3fu));
        i += k;

        /* the class's representative never has a longer encoding */

        cp = oxm_collation_fold(cp);

        if (cp == 0) {
            continue;

        } else if (cp < 0x80) {
            key[n++] = (unsigned char) cp;

        } else if (cp < 0x800) {
            key[n++] = (unsigned char) (0xc0 | cp >> 6);
            key[n++] = (unsigned char) (0x80 | (cp & 0x3f));

        } else {
            key[n++] = (unsigned char) (0xe0 | cp >> 12);
            key[n++] = (unsigned char) (0x80 | ((cp >> 6) & 0x3f));
            key[n++] = (unsigned char) (0x80 | (cp & 0x3f));
        }
    }

    /* PAD SPACE: trailing spaces (and what folds to one) do not count */

    while (n && key[n - 1] == ' ') {
        n--;
    }

    return n;
}


int
oxm_login_key_ascii(const unsigned char *key, size_t len)
{
    size_t  i;

    for (i = 0; i < len; i++) {
        if (key[i] >= 0x80) {
            return 0;
        }
    }

    return 1;
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


/* the value of a base64 digit (RFC 4648, standard alphabet), or -1 */

static int
oxm_b64(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '+') {
        return 62;
    }

    if (c == '/') {
        return 63;
    }

    return -1;
}


int
oxm_basic_user(const unsigned char *value, size_t len, unsigned char *out,
    size_t out_cap, size_t *out_len)
{
    int                   d, colon;
    size_t                n, pad;
    unsigned int          acc, bits;
    unsigned char         c;
    const unsigned char  *p, *last;

    *out_len = 0;

    p = value;
    last = value + len;

    /* the scheme is case-insensitive, then one or more spaces */

    if (len < 6
        || (p[0] | 0x20) != 'b' || (p[1] | 0x20) != 'a'
        || (p[2] | 0x20) != 's' || (p[3] | 0x20) != 'i'
        || (p[4] | 0x20) != 'c' || p[5] != ' ')
    {
        return OXM_LOGIN_NOT_FOUND;
    }

    for (p += 6; p < last && *p == ' '; p++) { /* void */ }

    while (last > p && (last[-1] == ' ' || last[-1] == '\t')) {
        last--;
    }

    /*
     * Decoded byte by byte; only the bytes before the first ':' are kept:
     * the password is checked for valid base64 but never stored anywhere.
     */

    acc = 0;
    bits = 0;
    n = 0;
    pad = 0;
    colon = 0;

    for ( /* void */ ; p < last; p++) {

        if (*p == '=') {
            pad++;
            continue;
        }

        d = oxm_b64(*p);

        if (d < 0 || pad) {
            return OXM_LOGIN_MALFORMED;
        }

        acc = (acc << 6 | (unsigned int) d) & 0xffffff;
        bits += 6;

        if (bits < 8) {
            continue;
        }

        bits -= 8;
        c = (unsigned char) (acc >> bits);

        if (colon) {
            continue;
        }

        if (c == ':') {
            colon = 1;
            continue;
        }

        if (n == out_cap) {
            return OXM_LOGIN_TOO_LONG;
        }

        out[n++] = c;
    }

    /*
     * Left-over bits: 0, 4 (2 chars of the last quantum) or 2 (3 chars);
     * 6 is never valid.  Padding is optional, but when present it must
     * complete the quantum: "==" after 2 chars, "=" after 3.
     */

    if (bits == 6 || (pad == 1 && bits != 2) || (pad == 2 && bits != 4)
        || pad > 2)
    {
        return OXM_LOGIN_MALFORMED;
    }

    if (!colon) {
        return OXM_LOGIN_MALFORMED;
    }

    *out_len = n;

    return OXM_LOGIN_OK;
}


/* the value of n hex digits, or -1 when one is not a hex digit */

static long
oxm_hexnum(const unsigned char *p, size_t n)
{
    int     d;
    long    v;
    size_t  i;

    v = 0;

    for (i = 0; i < n; i++) {
        d = oxm_hex(p[i]);

        if (d < 0) {
            return -1;
        }

        v = v << 4 | d;
    }

    return v;
}


int
oxm_share_cid(const unsigned char *path, size_t len, unsigned long *cid)
{
    long                  a, b;
    size_t                i, tlen;
    const unsigned char  *t, *last;

    last = path + len;

    for (t = path; t + 7 <= last; t++) {
        if (t[0] == '/' && t[1] == 's' && t[2] == 'h' && t[3] == 'a'
            && t[4] == 'r' && t[5] == 'e' && t[6] == '/')
        {
            break;
        }
    }

    if (t + 7 > last) {
        return OXM_LOGIN_NOT_FOUND;
    }

    t += 7;

    for (tlen = 0; t + tlen < last && t[tlen] != '/'; tlen++) { /* void */ }

    if (tlen < OXM_SHARE_TOKEN_HEX) {
        return OXM_LOGIN_MALFORMED;
    }

    for (i = 0; i < OXM_SHARE_TOKEN_HEX; i++) {
        if (oxm_hex(t[i]) < 0) {
            return OXM_LOGIN_MALFORMED;
        }
    }

    /* ox-facts 8: cid = int(t[0:8], 16) XOR int(t[16:23], 16) */

    a = oxm_hexnum(t, 8);
    b = oxm_hexnum(t + 16, 7);

    *cid = (unsigned long) (a ^ b);

    return *cid ? OXM_LOGIN_OK : OXM_LOGIN_MALFORMED;
}
