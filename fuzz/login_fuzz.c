/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * libFuzzer target for src/oxm_login.c.
 *
 * Input layout: byte 0 is out_cap, byte 1 (mod 16) is the name length,
 * then the name, then the form.  The form is also fed whole to
 * oxm_login_context and oxm_utf8_valid.  Every result is checked against
 * a slow, obviously written reference (which may allocate; the code under
 * test may not), so the fuzzer finds wrong answers, not only crashes.
 *
 * The form is also fed to the incremental scanner the module uses on
 * request bodies, in pieces whose lengths come from the input itself (as
 * nginx hands a body over in memory buffers and file reads split anywhere),
 * once cut at every byte for short forms: every way must give the answer
 * of the whole form.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oxm_login.h"


/* abort() even when built with -DNDEBUG */
#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) {                                                        \
            abort();                                                          \
        }                                                                     \
    } while (0)


/*
 * Exact-size copies: ASan then reports any access past them.  malloc(0)
 * gives a distinct pointer that may not be dereferenced at all.
 */

static void *
xmalloc(size_t n)
{
    void  *p;

    p = malloc(n);
    CHECK(p != NULL || n == 0);

    return p;
}


static int
ref_hex(unsigned char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }

    return -1;
}


/* decodes [p, p + n) into a fresh buffer; -1 on a bad escape */

static long
ref_decode(const unsigned char *p, size_t n, unsigned char **dst)
{
    size_t          i, k;
    unsigned char  *d;

    d = malloc(n + 1);
    CHECK(d != NULL);

    for (i = 0, k = 0; i < n; i++) {
        if (p[i] == '%') {
            if (n - i < 3) {
                free(d);
                return -1;
            }

            if (ref_hex(p[i + 1]) < 0 || ref_hex(p[i + 2]) < 0) {
                free(d);
                return -1;
            }

            d[k++] = (unsigned char) (ref_hex(p[i + 1]) * 16
                                      + ref_hex(p[i + 2]));
            i += 2;

        } else if (p[i] == '+') {
            d[k++] = ' ';

        } else {
            d[k++] = p[i];
        }
    }

    *dst = d;
    return (long) k;
}


static int
ref_form_field(const unsigned char *form, size_t len, const unsigned char *name,
    size_t name_len, unsigned char **val, size_t *val_len)
{
    long            n;
    size_t          start, end, eq;
    unsigned char  *key;

    start = 0;

    for ( ;; ) {
        end = start;
        while (end < len && form[end] != '&') {
            end++;
        }

        eq = start;
        while (eq < end && form[eq] != '=') {
            eq++;
        }

        n = ref_decode(form + start, eq - start, &key);

        if (n >= 0) {
            if ((size_t) n == name_len && memcmp(key, name, name_len) == 0) {
                free(key);

                if (eq == end) {
                    *val = malloc(1);
                    CHECK(*val != NULL);
                    *val_len = 0;
                    return OXM_LOGIN_OK;
                }

                n = ref_decode(form + eq + 1, end - eq - 1, val);
                if (n < 0) {
                    return OXM_LOGIN_MALFORMED;
                }

                *val_len = (size_t) n;
                return OXM_LOGIN_OK;
            }

            free(key);
        }

        if (end >= len) {
            return OXM_LOGIN_NOT_FOUND;
        }

        start = end + 1;
    }
}


/* decodes code points and checks their ranges, unlike the table approach */

static int
ref_utf8_valid(const unsigned char *p, size_t len)
{
    size_t    i, n, k;
    uint32_t  cp, min;

    for (i = 0; i < len; i += n) {
        if (p[i] < 0x80) {
            n = 1;
            continue;
        }

        if ((p[i] & 0xe0) == 0xc0) {
            n = 2; cp = p[i] & 0x1f; min = 0x80;

        } else if ((p[i] & 0xf0) == 0xe0) {
            n = 3; cp = p[i] & 0x0f; min = 0x800;

        } else if ((p[i] & 0xf8) == 0xf0) {
            n = 4; cp = p[i] & 0x07; min = 0x10000;

        } else {
            return 0;
        }

        if (len - i < n) {
            return 0;
        }

        for (k = 1; k < n; k++) {
            if ((p[i + k] & 0xc0) != 0x80) {
                return 0;
            }

            cp = cp << 6 | (p[i + k] & 0x3f);
        }

        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
    }

    return 1;
}


static void
fuzz_form(const uint8_t *data, size_t size)
{
    int             rc, ref_rc;
    size_t          out_cap, name_len, len, out_len, ref_len;
    unsigned char  *out, *form, *name, *ref;

    if (size < 2) {
        return;
    }

    out_cap = data[0];
    name_len = data[1] % 16;
    data += 2;
    size -= 2;

    if (name_len > size) {
        name_len = size;
    }

    /* exact-size heap copies, so ASan sees any read or write past them */
    name = xmalloc(name_len);
    len = size - name_len;
    form = xmalloc(len);
    out = xmalloc(out_cap);

    memcpy(name, data, name_len);
    memcpy(form, data + name_len, len);

    out_len = (size_t) -1;
    rc = oxm_form_field(form, len, (const char *) name, name_len, out,
                        out_cap, &out_len);

    CHECK(rc == OXM_LOGIN_OK || rc == OXM_LOGIN_NOT_FOUND
          || rc == OXM_LOGIN_MALFORMED || rc == OXM_LOGIN_TOO_LONG);
    CHECK(out_len <= out_cap);
    CHECK(out_len <= len);
    CHECK(rc == OXM_LOGIN_OK || out_len == 0);

    ref = NULL;
    ref_len = 0;
    ref_rc = ref_form_field(form, len, name, name_len, &ref, &ref_len);

    if (ref_rc == OXM_LOGIN_OK) {
        if (ref_len > out_cap) {
            CHECK(rc == OXM_LOGIN_TOO_LONG);

        } else {
            CHECK(rc == OXM_LOGIN_OK);
            CHECK(out_len == ref_len);
            CHECK(memcmp(out, ref, ref_len) == 0);
        }

        free(ref);

    } else {
        CHECK(rc == ref_rc);
    }

    /* with room for the whole form, a found field never is too long */
    free(out);
    out = xmalloc(len);

    rc = oxm_form_field(form, len, (const char *) name, name_len, out, len,
                        &out_len);
    CHECK(rc != OXM_LOGIN_TOO_LONG);
    CHECK(rc == ref_rc);

    free(out);
    free(form);
    free(name);
}


/* feeds form in pieces: lengths cycle through cuts[] (0 = one byte) */

static int
scan_pieces(const unsigned char *form, size_t len, const unsigned char *name,
    size_t name_len, unsigned char *out, size_t out_cap, size_t *out_len,
    const uint8_t *cuts, size_t ncuts)
{
    int              rc;
    size_t           off, n, i;
    unsigned char   *piece;
    oxm_form_scan_t  s;

    oxm_form_scan_init(&s, (const char *) name, name_len, out, out_cap);

    rc = OXM_LOGIN_AGAIN;

    for (off = 0, i = 0; off < len && rc == OXM_LOGIN_AGAIN; off += n, i++) {
        n = ncuts ? cuts[i % ncuts] : 1;
        n = n ? n : 1;
        n = (n > len - off) ? len - off : n;

        /* an exact-size copy per piece: ASan sees a read past its end */
        piece = xmalloc(n);
        memcpy(piece, form + off, n);
        rc = oxm_form_scan(&s, piece, n);
        free(piece);
    }

    return oxm_form_scan_end(&s, out_len);
}


static void
fuzz_split(const uint8_t *data, size_t size)
{
    int             rc, whole_rc;
    size_t          out_cap, name_len, ncuts, len, k, out_len, whole_len;
    unsigned char  *out, *whole;
    const uint8_t  *name, *cuts, *form;

    if (size < 3) {
        return;
    }

    out_cap = data[0];
    name_len = data[1] % 16;
    ncuts = data[2] % 8;
    data += 3;
    size -= 3;

    if (name_len + ncuts > size) {
        return;
    }

    name = data;
    cuts = data + name_len;
    form = cuts + ncuts;
    len = size - name_len - ncuts;

    whole = xmalloc(out_cap);
    out = xmalloc(out_cap);

    whole_rc = oxm_form_field(form, len, (const char *) name, name_len, whole,
                              out_cap, &whole_len);

    rc = scan_pieces(form, len, name, name_len, out, out_cap, &out_len,
                     cuts, ncuts);
    CHECK(rc == whole_rc && out_len == whole_len);
    CHECK(memcmp(out, whole, out_len) == 0);

    for (k = 0; len <= 256 && k <= len; k++) {
        uint8_t  two[2];

        two[0] = (uint8_t) (k ? k : 1);
        two[1] = 255;

        rc = scan_pieces(form, len, name, name_len, out, out_cap, &out_len,
                         k ? two : NULL, k ? 2 : 0);
        CHECK(rc == whole_rc && out_len == whole_len);
        CHECK(memcmp(out, whole, out_len) == 0);
    }

    free(out);
    free(whole);
}


static void
fuzz_context(const uint8_t *data, size_t size)
{
    size_t                ctx_len;
    unsigned char        *login;
    const unsigned char  *ctx, *at;

    login = xmalloc(size);
    memcpy(login, data, size);

    ctx = NULL;
    ctx_len = (size_t) -1;
    oxm_login_context(login, size, &ctx, &ctx_len);

    CHECK(ctx != NULL);

    at = size ? memchr(login, '@', size) : NULL;

    if (at == NULL) {
        CHECK(ctx_len == sizeof("defaultcontext") - 1);
        CHECK(memcmp(ctx, "defaultcontext", ctx_len) == 0);

    } else {
        /* within the login, right after an '@', with no '@' after it */
        CHECK(ctx > login && ctx <= login + size);
        CHECK(ctx_len == (size_t) (login + size - ctx));
        CHECK(ctx[-1] == '@');
        CHECK(ctx_len == 0 || memchr(ctx, '@', ctx_len) == NULL);
    }

    free(login);
}


static void
fuzz_utf8(const uint8_t *data, size_t size)
{
    int             v;
    unsigned char  *p;

    p = xmalloc(size);
    memcpy(p, data, size);

    v = oxm_utf8_valid(p, size);
    CHECK(v == 0 || v == 1);
    CHECK(v == ref_utf8_valid(p, size));

    free(p);
}


/* a strict base64 decoder written for clarity; -1 on anything odd */

static long
ref_b64(const unsigned char *p, size_t n, unsigned char *out)
{
    size_t         i, pad;
    long           len;
    unsigned long  acc;
    int            v, bits;

    for (pad = 0; pad < n && pad < 3 && p[n - 1 - pad] == '='; pad++) {
        /* void */
    }

    if (pad > 2) {
        return -1;
    }

    n -= pad;

    if (n % 4 == 1 || (pad == 1 && n % 4 != 3) || (pad == 2 && n % 4 != 2)) {
        return -1;
    }

    acc = 0;
    bits = 0;
    len = 0;

    for (i = 0; i < n; i++) {
        v = -1;

        if (p[i] >= 'A' && p[i] <= 'Z') v = p[i] - 'A';
        else if (p[i] >= 'a' && p[i] <= 'z') v = p[i] - 'a' + 26;
        else if (p[i] >= '0' && p[i] <= '9') v = p[i] - '0' + 52;
        else if (p[i] == '+') v = 62;
        else if (p[i] == '/') v = 63;

        if (v < 0) {
            return -1;
        }

        acc = (acc << 6) | (unsigned long) v;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            out[len++] = (unsigned char) (acc >> bits);
        }
    }

    return len;
}


static void
fuzz_basic(const uint8_t *data, size_t size)
{
    int             rc;
    long            n;
    size_t          cap, out_len, i, s, e, user;
    unsigned char  *value, *out, *ref;

    if (size < 1) {
        return;
    }

    cap = data[0];
    value = xmalloc(size + 5);
    memcpy(value, "Basic", 5);
    memcpy(value + 5, data + 1, size - 1);
    out = xmalloc(cap);

    out_len = (size_t) -1;
    rc = oxm_basic_user(value, size + 4, out, cap, &out_len);

    CHECK(rc == OXM_LOGIN_OK || rc == OXM_LOGIN_NOT_FOUND
          || rc == OXM_LOGIN_MALFORMED || rc == OXM_LOGIN_TOO_LONG);
    CHECK(out_len <= cap);
    CHECK(rc == OXM_LOGIN_OK || out_len == 0);
    CHECK(rc != OXM_LOGIN_OK || memchr(out, ':', out_len) == NULL);

    /* the reference: "Basic" + spaces, base64, trailing blanks */

    if (size + 4 >= 6 && value[5] == ' ') {
        for (s = 6; s < size + 4 && value[s] == ' '; s++) { /* void */ }
        for (e = size + 4; e > s && (value[e - 1] == ' '
                                     || value[e - 1] == '\t'); e--)
        {
            /* void */
        }

        ref = xmalloc(e - s + 1);
        n = ref_b64(value + s, e - s, ref);

        if (n < 0) {
            CHECK(rc != OXM_LOGIN_OK);

        } else {
            for (user = 0; user < (size_t) n && ref[user] != ':'; user++) {
                /* void */
            }

            if (user == (size_t) n) {
                /* no ':': malformed, or too long before that is known */
                CHECK(rc == OXM_LOGIN_MALFORMED
                      || (rc == OXM_LOGIN_TOO_LONG && user > cap));

            } else if (user > cap) {
                CHECK(rc == OXM_LOGIN_TOO_LONG);

            } else {
                CHECK(rc == OXM_LOGIN_OK && out_len == user);
                CHECK(memcmp(out, ref, user) == 0);
            }
        }

        free(ref);

    } else {
        CHECK(rc == OXM_LOGIN_NOT_FOUND);
    }

    free(out);
    free(value);
}


static void
fuzz_share(const uint8_t *data, size_t size)
{
    int             rc;
    size_t          i, t, len;
    unsigned long   cid, want;
    unsigned char  *path;
    char            a[9], b[8];

    path = xmalloc(size);
    memcpy(path, data, size);

    cid = 0;
    rc = oxm_share_cid(path, size, &cid);

    CHECK(rc == OXM_LOGIN_OK || rc == OXM_LOGIN_NOT_FOUND
          || rc == OXM_LOGIN_MALFORMED);

    /* the reference: the first "/share/", the segment after it */

    for (t = 0; t + 7 <= size; t++) {
        if (memcmp(path + t, "/share/", 7) == 0) {
            break;
        }
    }

    if (t + 7 > size) {
        CHECK(rc == OXM_LOGIN_NOT_FOUND);

    } else {
        t += 7;
        for (len = 0; t + len < size && path[t + len] != '/'; len++) {
            /* void */
        }

        for (i = 0; i < 48 && i < len && ref_hex(path[t + i]) >= 0; i++) {
            /* void */
        }

        if (i < 48) {
            CHECK(rc == OXM_LOGIN_MALFORMED);

        } else {
            memcpy(a, path + t, 8);
            a[8] = '\0';
            memcpy(b, path + t + 16, 7);
            b[7] = '\0';
            want = strtoul(a, NULL, 16) ^ strtoul(b, NULL, 16);

            CHECK(want == 0 ? rc == OXM_LOGIN_MALFORMED
                            : (rc == OXM_LOGIN_OK && cid == want));
        }
    }

    free(path);
}


/*
 * The cache key (issue 17): never longer, valid UTF-8 stays valid, and a
 * key folds to itself (a class's representative is its own).
 */

static void
fuzz_normalize(const uint8_t *data, size_t size)
{
    size_t          n, m;
    unsigned char  *k, *k2;

    k = xmalloc(size);
    if (size) {
        memcpy(k, data, size);
    }

    n = oxm_login_key_normalize(k, size);
    CHECK(n <= size);

    if (oxm_utf8_valid(data, size)) {
        CHECK(oxm_utf8_valid(k, n));
    }

    k2 = xmalloc(n);
    if (n) {
        memcpy(k2, k, n);
    }

    m = oxm_login_key_normalize(k2, n);
    CHECK(m == n && (n == 0 || memcmp(k, k2, n) == 0));

    free(k2);
    free(k);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_normalize(data, size);
    fuzz_form(data, size);
    fuzz_split(data, size);
    fuzz_basic(data, size);
    fuzz_share(data, size);
    fuzz_context(data, size);
    fuzz_utf8(data, size);

    return 0;
}
