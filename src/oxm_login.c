
/*
 * STUB: to be replaced by the login parser.
 */


#include "oxm_login.h"


int
oxm_form_field(const unsigned char *form, size_t len, const char *name,
    size_t name_len, unsigned char *out, size_t out_cap, size_t *out_len)
{
    return OXM_LOGIN_NOT_FOUND;
}


void
oxm_login_context(const unsigned char *login, size_t len,
    const unsigned char **ctx, size_t *ctx_len)
{
    *ctx = (const unsigned char *) "defaultcontext";
    *ctx_len = sizeof("defaultcontext") - 1;
}


int
oxm_utf8_valid(const unsigned char *p, size_t len)
{
    return 1;
}
