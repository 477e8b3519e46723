/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * Login name parsing for oxmigrate.  Plain C without nginx headers, so the
 * unit tests (t/unit) and the libFuzzer target (fuzz/) link it alone.
 */


#ifndef _OXM_LOGIN_H_INCLUDED_
#define _OXM_LOGIN_H_INCLUDED_


#include <stddef.h>


#define OXM_LOGIN_OK          0
#define OXM_LOGIN_NOT_FOUND   1   /* no such field */
#define OXM_LOGIN_MALFORMED   2   /* bad %-escape in the field */
#define OXM_LOGIN_TOO_LONG    3   /* decoded value does not fit out */
#define OXM_LOGIN_AGAIN       4   /* oxm_form_scan: not decided yet */


/*
 * The state of one incremental search for a form field: the form may
 * arrive in any number of pieces (memory buffers, reads from a temporary
 * file), split at any byte, and costs this struct plus out, whatever its
 * size.  Feed the pieces in order to oxm_form_scan() while it answers
 * OXM_LOGIN_AGAIN, then call oxm_form_scan_end() once.  The answer is the
 * one oxm_form_field() gives for the concatenation of the pieces.
 */
typedef struct {
    const unsigned char  *name;
    size_t                name_len;
    unsigned char        *out;
    size_t                out_cap;
    size_t                out_len;
    size_t                matched;     /* decoded key bytes equal so far */
    int                   state;
    int                   rc;          /* once decided */
    unsigned              key_ok:1;    /* the key can still equal name */
    unsigned              too_long:1;
    unsigned              esc:2;       /* 0, or 1/2 after '%' and a digit */
    unsigned              hi:4;        /* the first digit of an escape */
} oxm_form_scan_t;


/*
 * Finds the first field called name (compared after decoding the key) in an
 * application/x-www-form-urlencoded string (a body or a query string) and
 * writes its value, percent-decoded and with '+' as space, to out.
 */
int oxm_form_field(const unsigned char *form, size_t len, const char *name,
    size_t name_len, unsigned char *out, size_t out_cap, size_t *out_len);

void oxm_form_scan_init(oxm_form_scan_t *s, const char *name,
    size_t name_len, unsigned char *out, size_t out_cap);
int oxm_form_scan(oxm_form_scan_t *s, const unsigned char *p, size_t len);
/* the end of the form; *out_len is the value's length when OXM_LOGIN_OK */
int oxm_form_scan_end(oxm_form_scan_t *s, size_t *out_len);

/*
 * A context part as configdb's collation (utf8mb4_unicode_ci) compares it,
 * so that names MariaDB finds equal share one cache entry, in place: each
 * character replaced by its class's representative (oxm_collation.h, asked
 * of MariaDB: case and accents fold, A-Z to a-z, "Ä" to "a"), the ~470
 * characters it ignores removed (0x00-0x08, U+00AD, U+200B, ...), every
 * supplementary character made one, trailing spaces (PAD SPACE) dropped.
 * Two names that give one key are equal there.  Not folded: a character
 * equal to a sequence (an expansion, "ß" = "ss", "æ" = "ae"), so such
 * spellings stay separate entries.  A key that is not UTF-8 is left as
 * it is (the callers refuse it).  Returns the new length.
 */
size_t oxm_login_key_normalize(unsigned char *key, size_t len);

/* 1 when key is ASCII only (oxmigrate_nonascii_names pass) */
int oxm_login_key_ascii(const unsigned char *key, size_t len);

/*
 * The user name of an "Authorization: Basic ..." header value (RFC 7617):
 * the base64 credentials decoded up to the first ':'.  The password is
 * validated as base64 but never written anywhere.  OXM_LOGIN_NOT_FOUND:
 * another scheme; OXM_LOGIN_MALFORMED: bad base64 or no ':'.
 */
int oxm_basic_user(const unsigned char *value, size_t len,
    unsigned char *out, size_t out_cap, size_t *out_len);

/* the hex digits a share token starts with (ox-facts 8) */
#define OXM_SHARE_TOKEN_HEX  48

/*
 * The context id of a share link: the first path segment after "/share/"
 * is the token; cid = int(t[0:8], 16) XOR int(t[16:23], 16).
 * OXM_LOGIN_NOT_FOUND: no "/share/"; OXM_LOGIN_MALFORMED: not a token (too
 * short, not hex, cid 0).
 */
int oxm_share_cid(const unsigned char *path, size_t len, unsigned long *cid);

/*
 * The context part of a login name: after its last '@', or the literal
 * "defaultcontext" when there is no '@' (ox-facts 1).
 */
void oxm_login_context(const unsigned char *login, size_t len,
    const unsigned char **ctx, size_t *ctx_len);

/* 1 when p is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF) */
int oxm_utf8_valid(const unsigned char *p, size_t len);


#endif /* _OXM_LOGIN_H_INCLUDED_ */
