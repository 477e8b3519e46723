
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


/*
 * Finds the first field called name (compared after decoding the key) in an
 * application/x-www-form-urlencoded string (a body or a query string) and
 * writes its value, percent-decoded and with '+' as space, to out.
 */
int oxm_form_field(const unsigned char *form, size_t len, const char *name,
    size_t name_len, unsigned char *out, size_t out_cap, size_t *out_len);

/*
 * The context part of a login name: after its last '@', or the literal
 * "defaultcontext" when there is no '@' (ox-facts 1).
 */
void oxm_login_context(const unsigned char *login, size_t len,
    const unsigned char **ctx, size_t *ctx_len);

/* 1 when p is well-formed UTF-8 (no overlongs, surrogates or > U+10FFFF) */
int oxm_utf8_valid(const unsigned char *p, size_t len);


#endif /* _OXM_LOGIN_H_INCLUDED_ */
