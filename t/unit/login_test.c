/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * Unit tests of src/oxm_login.c.  No framework: every check prints its
 * failure with the line, and the last line is "N passed, M failed".
 */


#include <stdio.h>
#include <string.h>

#include "oxm_login.h"


static unsigned  passed;
static unsigned  failed;


#define CHECK(cond)                                                           \
    do {                                                                      \
        if (cond) {                                                           \
            passed++;                                                         \
        } else {                                                              \
            failed++;                                                         \
            printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
        }                                                                     \
    } while (0)


/* a form given as a C string literal; lengths exclude the final NUL */
#define FIELD(form, name, expect_rc, expect)                                  \
    field(__LINE__, (const unsigned char *) form, sizeof(form) - 1, name,     \
          sizeof(name) - 1, 64, expect_rc, expect, sizeof(expect) - 1)


static const char *
rc_name(int rc)
{
    switch (rc) {
    case OXM_LOGIN_OK:
        return "OK";
    case OXM_LOGIN_NOT_FOUND:
        return "NOT_FOUND";
    case OXM_LOGIN_MALFORMED:
        return "MALFORMED";
    case OXM_LOGIN_TOO_LONG:
        return "TOO_LONG";
    default:
        return "?";
    }
}


static void split(int line, const unsigned char *form, size_t len,
    const char *name, size_t name_len, size_t cap, int expect_rc,
    const unsigned char *expect, size_t expect_len);


static void
field(int line, const unsigned char *form, size_t len, const char *name,
    size_t name_len, size_t cap, int expect_rc, const char *expect,
    size_t expect_len)
{
    int            rc;
    size_t         out_len, i;
    unsigned char  out[256];

    /* poison the bytes past cap to see that nothing writes there */
    memset(out, 0xa5, sizeof(out));
    out_len = 12345;

    rc = oxm_form_field(form, len, name, name_len, out, cap, &out_len);

    for (i = cap; i < sizeof(out); i++) {
        if (out[i] != 0xa5) {
            failed++;
            printf("FAIL line %d: write past out_cap at %zu\n", line, i);
            return;
        }
    }

    if (rc != expect_rc) {
        failed++;
        printf("FAIL line %d: rc %s, expected %s\n", line, rc_name(rc),
               rc_name(expect_rc));
        return;
    }

    if (rc != OXM_LOGIN_OK) {
        if (out_len != 0) {
            failed++;
            printf("FAIL line %d: out_len %zu on error\n", line, out_len);
            return;
        }

        passed++;
        split(line, form, len, name, name_len, cap, rc, out, 0);
        return;
    }

    if (out_len != expect_len || memcmp(out, expect, expect_len) != 0) {
        failed++;
        printf("FAIL line %d: got \"%.*s\" (%zu), expected \"%.*s\" (%zu)\n",
               line, (int) out_len, out, out_len, (int) expect_len, expect,
               expect_len);
        return;
    }

    passed++;

    split(line, form, len, name, name_len, cap, rc, out, out_len);
}


/*
 * The same form fed in pieces, as a body arrives in buffers and file
 * reads: cut once at every byte, and one byte at a time.  Every way gives
 * the answer of the whole form.
 */

static void
split(int line, const unsigned char *form, size_t len, const char *name,
    size_t name_len, size_t cap, int expect_rc, const unsigned char *expect,
    size_t expect_len)
{
    int              rc;
    size_t           k, i, out_len;
    unsigned char    out[256];
    oxm_form_scan_t  s;

    for (k = 0; k <= len + 1; k++) {
        oxm_form_scan_init(&s, name, name_len, out, cap);

        if (k <= len) {
            rc = oxm_form_scan(&s, form, k);
            if (rc == OXM_LOGIN_AGAIN) {
                rc = oxm_form_scan(&s, form + k, len - k);
            }

        } else {
            for (i = 0, rc = OXM_LOGIN_AGAIN;
                 i < len && rc == OXM_LOGIN_AGAIN; i++)
            {
                rc = oxm_form_scan(&s, form + i, 1);
            }
        }

        rc = oxm_form_scan_end(&s, &out_len);

        if (rc != expect_rc || out_len != expect_len
            || memcmp(out, expect, out_len) != 0)
        {
            failed++;
            printf("FAIL line %d: split at %zu: rc %s, expected %s\n", line,
                   k, rc_name(rc), rc_name(expect_rc));
            return;
        }
    }

    passed++;
}


static void
context(int line, const char *login, const char *expect)
{
    size_t                len, ctx_len;
    const unsigned char  *ctx;

    len = strlen(login);
    ctx = NULL;
    ctx_len = 99;

    oxm_login_context((const unsigned char *) login, len, &ctx, &ctx_len);

    if (ctx == NULL || ctx_len != strlen(expect)
        || memcmp(ctx, expect, ctx_len) != 0)
    {
        failed++;
        printf("FAIL line %d: context of \"%s\": \"%.*s\", expected \"%s\"\n",
               line, login, ctx ? (int) ctx_len : 0,
               ctx ? (const char *) ctx : "", expect);
        return;
    }

    passed++;
}


#define UTF8(s, expect)                                                       \
    CHECK(oxm_utf8_valid((const unsigned char *) s, sizeof(s) - 1) == expect)


static void
test_form(void)
{
    /* plain values, in any position */
    FIELD("name=alice&password=secret", "name", OXM_LOGIN_OK, "alice");
    FIELD("password=secret&name=alice", "name", OXM_LOGIN_OK, "alice");
    FIELD("a=1&name=bob&b=2", "name", OXM_LOGIN_OK, "bob");
    FIELD("name=alice", "password", OXM_LOGIN_NOT_FOUND, "");
    FIELD("", "name", OXM_LOGIN_NOT_FOUND, "");
    FIELD("&&&", "name", OXM_LOGIN_NOT_FOUND, "");

    /* a key is compared whole, not as a prefix or suffix */
    FIELD("username=x&name=y", "name", OXM_LOGIN_OK, "y");
    FIELD("nam=x&names=z&name=y", "name", OXM_LOGIN_OK, "y");
    FIELD("Name=x", "name", OXM_LOGIN_NOT_FOUND, "");

    /* decoding */
    FIELD("name=alice%40ctx5.example.com", "name", OXM_LOGIN_OK,
          "alice@ctx5.example.com");
    FIELD("name=alice@ctx5", "name", OXM_LOGIN_OK, "alice@ctx5");
    FIELD("name=john+doe", "name", OXM_LOGIN_OK, "john doe");
    FIELD("name=a%2Bb", "name", OXM_LOGIN_OK, "a+b");
    FIELD("name=jos%C3%A9", "name", OXM_LOGIN_OK, "jos\xc3\xa9");
    FIELD("name=jos%c3%a9", "name", OXM_LOGIN_OK, "jos\xc3\xa9");
    FIELD("name=x%27y", "name", OXM_LOGIN_OK, "x'y");
    FIELD("name=dom%5Cuser", "name", OXM_LOGIN_OK, "dom\\user");
    FIELD("name=100%25", "name", OXM_LOGIN_OK, "100%");
    FIELD("name=%2541", "name", OXM_LOGIN_OK, "%41");
    FIELD("name=first_last", "name", OXM_LOGIN_OK, "first_last");
    FIELD("name=a%26b%3Dc", "name", OXM_LOGIN_OK, "a&b=c");
    FIELD("name=a=b", "name", OXM_LOGIN_OK, "a=b");

    /* empty values */
    FIELD("name=&password=x", "name", OXM_LOGIN_OK, "");
    FIELD("name", "name", OXM_LOGIN_OK, "");
    FIELD("name&password=x", "name", OXM_LOGIN_OK, "");
    FIELD("a=1&name", "name", OXM_LOGIN_OK, "");

    /* only '&' separates fields */
    FIELD("a=1;name=x", "name", OXM_LOGIN_NOT_FOUND, "");
    FIELD("name=x;a=1", "name", OXM_LOGIN_OK, "x;a=1");

    /* the first field with the name wins, even when it is empty or bad */
    FIELD("name=first&name=second", "name", OXM_LOGIN_OK, "first");
    FIELD("name=&name=second", "name", OXM_LOGIN_OK, "");
    FIELD("name=%zz&name=second", "name", OXM_LOGIN_MALFORMED, "");

    /* keys are compared decoded */
    FIELD("n%61me=alice", "name", OXM_LOGIN_OK, "alice");
    FIELD("%6E%41%6d%45=x", "nAmE", OXM_LOGIN_OK, "x");
    FIELD("client+ip=1", "client ip", OXM_LOGIN_OK, "1");
    FIELD("n%61me=first&name=second", "name", OXM_LOGIN_OK, "first");

    /* a malformed key elsewhere is only "not equal" */
    FIELD("n%6=x&name=alice", "name", OXM_LOGIN_OK, "alice");
    FIELD("%zz=x&name=alice", "name", OXM_LOGIN_OK, "alice");
    FIELD("name%=x&name=alice", "name", OXM_LOGIN_OK, "alice");
    FIELD("a=%zz&name=alice", "name", OXM_LOGIN_OK, "alice");
    FIELD("name=alice&a=%", "name", OXM_LOGIN_OK, "alice");
    FIELD("%", "name", OXM_LOGIN_NOT_FOUND, "");

    /* malformed escapes in our value */
    FIELD("name=%", "name", OXM_LOGIN_MALFORMED, "");
    FIELD("name=%4", "name", OXM_LOGIN_MALFORMED, "");
    FIELD("name=%4&x=1", "name", OXM_LOGIN_MALFORMED, "");
    FIELD("name=a%G1", "name", OXM_LOGIN_MALFORMED, "");
    FIELD("name=a%1G", "name", OXM_LOGIN_MALFORMED, "");
    FIELD("name=ok%20then%", "name", OXM_LOGIN_MALFORMED, "");
    FIELD("name=%%41", "name", OXM_LOGIN_MALFORMED, "");

    /* output bounds */
    field(__LINE__, (const unsigned char *) "name=abcd", 9, "name", 4, 4,
          OXM_LOGIN_OK, "abcd", 4);
    field(__LINE__, (const unsigned char *) "name=abcde", 10, "name", 4, 4,
          OXM_LOGIN_TOO_LONG, "", 0);
    field(__LINE__, (const unsigned char *) "name=%41%42%43%44", 17, "name",
          4, 4, OXM_LOGIN_OK, "ABCD", 4);
    field(__LINE__, (const unsigned char *) "name=%41%42%43%44%45", 20,
          "name", 4, 4, OXM_LOGIN_TOO_LONG, "", 0);
    field(__LINE__, (const unsigned char *) "name=", 5, "name", 4, 0,
          OXM_LOGIN_OK, "", 0);
    field(__LINE__, (const unsigned char *) "name=a", 6, "name", 4, 0,
          OXM_LOGIN_TOO_LONG, "", 0);
    /* a malformed value is reported as malformed even when too long */
    field(__LINE__, (const unsigned char *) "name=abcdef%", 12, "name", 4,
          2, OXM_LOGIN_MALFORMED, "", 0);

    /* NUL bytes are data, on both sides */
    field(__LINE__, (const unsigned char *) "x=\0&name=a\0b", 12, "name", 4,
          64, OXM_LOGIN_OK, "a\0b", 3);
    field(__LINE__, (const unsigned char *) "name=a%00b", 10, "name", 4,
          64, OXM_LOGIN_OK, "a\0b", 3);
    field(__LINE__, (const unsigned char *) "na\0me=x&name=y", 14, "name",
          4, 64, OXM_LOGIN_OK, "y", 1);
    field(__LINE__, (const unsigned char *) "na\0me=x&name=y", 14, "na\0me",
          5, 64, OXM_LOGIN_OK, "x", 1);
    field(__LINE__, (const unsigned char *) "na%00me=x", 9, "na\0me",
          5, 64, OXM_LOGIN_OK, "x", 1);

    /* the input length is obeyed: nothing past len is read */
    field(__LINE__, (const unsigned char *) "name=alice", 7, "name", 4, 64,
          OXM_LOGIN_OK, "al", 2);
    field(__LINE__, (const unsigned char *) "name=%41", 7, "name", 4, 64,
          OXM_LOGIN_MALFORMED, "", 0);
    field(__LINE__, (const unsigned char *) "name=alice", 3, "name", 4, 64,
          OXM_LOGIN_NOT_FOUND, "", 0);
}


static void
test_big(void)
{
    int            rc;
    size_t         n, out_len;
    unsigned char  out[8];
    static unsigned char  form[1 << 20];

    /* a megabyte of empty fields, then ours */
    n = sizeof(form) - sizeof("name=bob") + 1;
    memset(form, '&', n);
    memcpy(form + n, "name=bob", sizeof("name=bob") - 1);

    rc = oxm_form_field(form, sizeof(form), "name", 4, out, sizeof(out),
                        &out_len);
    CHECK(rc == OXM_LOGIN_OK && out_len == 3 && memcmp(out, "bob", 3) == 0);

    /* a megabyte value into an 8 byte buffer */
    memcpy(form, "name=", 5);
    memset(form + 5, 'x', sizeof(form) - 5);

    rc = oxm_form_field(form, sizeof(form), "name", 4, out, sizeof(out),
                        &out_len);
    CHECK(rc == OXM_LOGIN_TOO_LONG && out_len == 0);
}


static void
test_context(void)
{
    size_t                ctx_len;
    const unsigned char  *ctx;
    static const char     login[] = "alice@ctx5";

    context(__LINE__, "alice@ctx5.example.com", "ctx5.example.com");
    context(__LINE__, "a@b@ctx", "ctx");
    context(__LINE__, "alice", "defaultcontext");
    context(__LINE__, "", "defaultcontext");
    context(__LINE__, "alice@", "");
    context(__LINE__, "@", "");
    context(__LINE__, "@ctx", "ctx");
    context(__LINE__, "x@y@", "");

    /* the context part points into the login itself */
    oxm_login_context((const unsigned char *) login, sizeof(login) - 1, &ctx,
                      &ctx_len);
    CHECK(ctx == (const unsigned char *) login + 6 && ctx_len == 4);

    /* an empty context part points at the end of the login, not elsewhere */
    oxm_login_context((const unsigned char *) login, 6, &ctx, &ctx_len);
    CHECK(ctx == (const unsigned char *) login + 6 && ctx_len == 0);

    /* NUL bytes and length bounds */
    oxm_login_context((const unsigned char *) "a\0@c\0d", 6, &ctx, &ctx_len);
    CHECK(ctx_len == 3 && memcmp(ctx, "c\0d", 3) == 0);

    oxm_login_context((const unsigned char *) "ab@cd", 2, &ctx, &ctx_len);
    CHECK(ctx_len == 14 && memcmp(ctx, "defaultcontext", 14) == 0);
}


static void
test_utf8(void)
{
    UTF8("", 1);
    UTF8("plain ascii", 1);
    UTF8("\0", 1);
    UTF8("jos\xc3\xa9", 1);                  /* U+00E9 */
    UTF8("\xc2\x80", 1);                     /* U+0080, smallest 2 byte */
    UTF8("\xdf\xbf", 1);                     /* U+07FF */
    UTF8("\xe0\xa0\x80", 1);                 /* U+0800 */
    UTF8("\xe2\x82\xac", 1);                 /* U+20AC euro */
    UTF8("\xed\x9f\xbf", 1);                 /* U+D7FF, below surrogates */
    UTF8("\xee\x80\x80", 1);                 /* U+E000, above surrogates */
    UTF8("\xef\xbf\xbf", 1);                 /* U+FFFF */
    UTF8("\xf0\x90\x80\x80", 1);             /* U+10000 */
    UTF8("\xf0\x9f\x98\x80", 1);             /* U+1F600 */
    UTF8("\xf4\x8f\xbf\xbf", 1);             /* U+10FFFF */

    /* overlongs */
    UTF8("\xc0\x80", 0);
    UTF8("\xc1\xbf", 0);
    UTF8("\xe0\x80\x80", 0);
    UTF8("\xe0\x9f\xbf", 0);
    UTF8("\xf0\x80\x80\x80", 0);
    UTF8("\xf0\x8f\xbf\xbf", 0);

    /* surrogates */
    UTF8("\xed\xa0\x80", 0);                 /* U+D800 */
    UTF8("\xed\xbf\xbf", 0);                 /* U+DFFF */
    UTF8("\xed\xa0\xbd\xed\xb8\x80", 0);     /* CESU-8 pair */

    /* above U+10FFFF and invalid lead bytes */
    UTF8("\xf4\x90\x80\x80", 0);
    UTF8("\xf5\x80\x80\x80", 0);
    UTF8("\xf8\x88\x80\x80\x80", 0);
    UTF8("\xff", 0);
    UTF8("\xfe", 0);

    /* lone continuation bytes and truncated sequences */
    UTF8("\x80", 0);
    UTF8("a\xbf", 0);
    UTF8("\xc3", 0);
    UTF8("jos\xc3", 0);
    UTF8("\xe2\x82", 0);
    UTF8("\xf0\x9f\x98", 0);
    UTF8("\xc3\x41", 0);                     /* continuation not 10xxxxxx */
    UTF8("\xe2\x41\xac", 0);
    UTF8("\xf0\x9f\xc0\x80", 0);

    /* the length is obeyed */
    CHECK(oxm_utf8_valid((const unsigned char *) "\xc3\xa9", 1) == 0);
    CHECK(oxm_utf8_valid((const unsigned char *) "a\xff", 1) == 1);
}


#define NORM(key, expect)                                                     \
    do {                                                                      \
        unsigned char  k[] = key;                                             \
        size_t         n;                                                     \
        n = oxm_login_key_normalize(k, sizeof(key) - 1);                      \
        CHECK(n == sizeof(expect) - 1 && memcmp(k, expect, n) == 0);          \
    } while (0)


/* the configdb collation: ASCII case and trailing spaces do not count */

static void
test_normalize(void)
{
    NORM("ctx5.example.com", "ctx5.example.com");
    NORM("CTX5.Example.COM", "ctx5.example.com");
    NORM("ctx5.example.com   ", "ctx5.example.com");
    NORM("Ctx5.Example.Com \t", "ctx5.example.com \t");   /* only spaces */
    NORM("  ctx5", "  ctx5");                            /* leading stay */
    NORM("a b ", "a b");
    NORM("    ", "");
    NORM("", "");
    NORM("Jos\xc3\x89", "jose");                 /* the collation: E */
    NORM("@[`{AZaz", "@[`{azaz");              /* only A-Z change */

    /* bytes utf8mb4_unicode_ci ignores (issue 17) */
    NORM("ctx\x01""5.ex\x08""ample.com", "ctx5.example.com");
    NORM("\x00""ctx5\x0e\x1f\x7f", "ctx5");
    NORM("ctx5 \x02", "ctx5");                 /* a space before it trails */
    NORM("ctx5\t\n\r", "ctx5\t\n\r");           /* 0x09-0x0d weigh */
    NORM("ctx\xe2\x80\x8b""5", "ctx5");            /* U+200B */
    NORM("\xe2\x81\xa0""ctx5\xef\xbb\xbf", "ctx5");   /* U+2060, U+FEFF */
    NORM("c\xc2\xad""tx5", "c\xc2\xad""tx5");      /* U+00AD weighs */
    NORM("M\xc3\x9cLLER", "muller");                /* Ü: case, accent */
    NORM("ctx5\xc2\xa0\xc2\xa0", "ctx5");           /* NBSP is a space */
    NORM("\xce\xa3\xcf\x83", "\xce\xa3\xce\xa3");   /* Greek Σ σ */
    NORM("stra\xc3\x9f""e", "stra\xc3\x9f""e");      /* ß = ss: kept */
    NORM("a\xf0\x9f\x98\x80", "a\xf0\x90\x80\x80"); /* 4 bytes: one */
    NORM("a\xff""B", "a\xff""B");                   /* not UTF-8: kept */
    NORM("\xc3\x07\x80", "\xc3\x07\x80");           /* not joined: À */
    NORM("a\xc3", "a\xc3");                         /* cut short: kept */
    CHECK(oxm_login_key_ascii((unsigned char *) "ctx5.example.com", 16));
    CHECK(!oxm_login_key_ascii((unsigned char *) "ctx5\xe2\x80\x8b", 7));
}


#define BASIC(value, expect_rc, expect)                                       \
    do {                                                                      \
        unsigned char  o[64];                                                 \
        size_t         n = 99;                                                \
        int            rc;                                                    \
        memset(o, 0xa5, sizeof(o));                                           \
        rc = oxm_basic_user((const unsigned char *) value,                    \
                            sizeof(value) - 1, o, 16, &n);                    \
        CHECK(rc == expect_rc);                                               \
        CHECK(rc != OXM_LOGIN_OK || (n == sizeof(expect) - 1                  \
                                     && memcmp(o, expect, n) == 0));          \
        CHECK(rc == OXM_LOGIN_OK || n == 0);                                  \
        CHECK(o[16] == 0xa5);                                                 \
    } while (0)


static void
test_basic(void)
{
    /* alice@ctx5.example.com:secret */
    BASIC("Basic YWxpY2VAY3R4NTpzZWNyZXQ=", OXM_LOGIN_OK, "alice@ctx5");
    BASIC("basic YWxpY2VAY3R4NTpzZWNyZXQ=", OXM_LOGIN_OK, "alice@ctx5");
    BASIC("BASIC   YWxpY2VAY3R4NTpzZWNyZXQ=  ", OXM_LOGIN_OK, "alice@ctx5");
    BASIC("Basic YWxpY2VAY3R4NTpzZWNyZXQ", OXM_LOGIN_OK, "alice@ctx5");
    BASIC("Basic YTpi", OXM_LOGIN_OK, "a");                 /* a:b */
    BASIC("Basic OnB3", OXM_LOGIN_OK, "");                  /* :pw */
    BASIC("Basic YTo=", OXM_LOGIN_OK, "a");                 /* a: */
    BASIC("Basic YTpiOmM=", OXM_LOGIN_OK, "a");             /* a:b:c */
    /* the password may be anything, it is never kept */
    BASIC("Basic dTpw/w==", OXM_LOGIN_OK, "u");             /* u:p\xff */
    /* a user name longer than out */
    BASIC("Basic YWFhYWFhYWFhYWFhYWFhYWFhOng=", OXM_LOGIN_TOO_LONG, "");

    BASIC("Bearer YWxpY2U6eA==", OXM_LOGIN_NOT_FOUND, "");
    BASIC("Digest username=\"a\"", OXM_LOGIN_NOT_FOUND, "");
    BASIC("Basic", OXM_LOGIN_NOT_FOUND, "");
    BASIC("Basicx YTpi", OXM_LOGIN_NOT_FOUND, "");
    BASIC("", OXM_LOGIN_NOT_FOUND, "");

    BASIC("Basic ", OXM_LOGIN_MALFORMED, "");               /* no ':' */
    BASIC("Basic YWxpY2U=", OXM_LOGIN_MALFORMED, "");       /* alice */
    BASIC("Basic YTpi!", OXM_LOGIN_MALFORMED, "");
    BASIC("Basic YT pi", OXM_LOGIN_MALFORMED, "");
    BASIC("Basic YTpi=", OXM_LOGIN_MALFORMED, "");          /* bad pad */
    BASIC("Basic YTo==", OXM_LOGIN_MALFORMED, "");
    BASIC("Basic YT=pi", OXM_LOGIN_MALFORMED, "");
    BASIC("Basic YTpiY", OXM_LOGIN_MALFORMED, "");          /* 1 char left */
    BASIC("Basic YTpi-_", OXM_LOGIN_MALFORMED, "");         /* url alphabet */
}


#define SHARE(path, expect_rc, expect)                                        \
    do {                                                                      \
        unsigned long  cid = 0;                                               \
        int            rc;                                                    \
        rc = oxm_share_cid((const unsigned char *) path, sizeof(path) - 1,    \
                           &cid);                                             \
        CHECK(rc == expect_rc);                                               \
        CHECK(rc != OXM_LOGIN_OK || cid == (unsigned long) (expect));         \
    } while (0)


static void
test_share(void)
{
    /* t[0:8] = 00000005, t[16:23] = 0000000: cid 5 */
    SHARE("/ajax/share/00000005000000030000000000000000000000000000000000",
          OXM_LOGIN_OK, 5);
    /* XOR: 0x1234567f ^ 0x1234560 = 0x1317311f */
    SHARE("/appsuite/api/share/1234567fdeadbeef1234560aaaaaaaaaaaaaaaaaaaaaaaaa"
          "/some/file.txt", OXM_LOGIN_OK, 0x1234567fUL ^ 0x1234560UL);
    SHARE("/ajax/share/1234567FDEADBEEF1234560AAAAAAAAAAAAAAAAAAAAAAAAA",
          OXM_LOGIN_OK, 0x1234567fUL ^ 0x1234560UL);
    /* t[16:23] is 7 digits: the 8th (t[23]) does not count */
    SHARE("/ajax/share/000000ff0000000000000001000000000000000000000000",
          OXM_LOGIN_OK, 0xff);
    SHARE("/ajax/share/0000000000000000000000000000000000000000000000", 
          OXM_LOGIN_MALFORMED, 0);                          /* cid 0 */
    SHARE("/ajax/share/00000005000000030000000000000000000000000000000",
          OXM_LOGIN_MALFORMED, 0);                          /* 47 chars */
    SHARE("/ajax/share/0000000500000003000000000000000000000000000000zz",
          OXM_LOGIN_MALFORMED, 0);
    SHARE("/ajax/share/", OXM_LOGIN_MALFORMED, 0);
    SHARE("/ajax/share", OXM_LOGIN_NOT_FOUND, 0);
    SHARE("/ajax/shared/00000005000000030000000000000000000000000000000000",
          OXM_LOGIN_NOT_FOUND, 0);
    SHARE("/ajax/login", OXM_LOGIN_NOT_FOUND, 0);
}


int
main(void)
{
    test_form();
    test_big();
    test_context();
    test_utf8();
    test_normalize();
    test_basic();
    test_share();

    printf("%u passed, %u failed\n", passed, failed);

    return failed ? 1 : 0;
}
