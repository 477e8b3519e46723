/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: blocking MariaDB and Redis helpers.  Thread pool
 * only: every function here may wait on the network.
 *
 * SQL is built with ngx_http_oxmigrate_admin_sql(): every value is escaped
 * by mysql_real_escape_string() on the connection it runs on (utf8mb4), and
 * every identifier is back-quoted, so names are data, never SQL.
 */


#include "ngx_http_oxmigrate_admin.h"

#include <sys/time.h>
#include <hiredis/hiredis.h>




static __thread ngx_uint_t    ngx_http_oxmigrate_admin_thread_ready;
static __thread unsigned int  ngx_http_oxmigrate_admin_connect_errno;


/* the wall clock of heartbeats, idle times and lock ages (the tests') */

int64_t
ngx_http_oxmigrate_admin_now_ms(void)
{
    return ngx_http_oxmigrate_clock_wall_ms();
}


void
ngx_http_oxmigrate_admin_thread_init(void)
{
    /* nginx's pool threads live as long as the worker: no thread_end */
    if (!ngx_http_oxmigrate_admin_thread_ready) {
        mysql_thread_init();
        ngx_http_oxmigrate_admin_thread_ready = 1;
    }
}


MYSQL *
ngx_http_oxmigrate_admin_connect(ngx_http_oxmigrate_dbhost_t *h,
    const char *db, unsigned long flags, char *err, size_t errlen)
{
    MYSQL         *m;
    my_bool        off;
    unsigned int   t;

    m = mysql_init(NULL);
    if (m == NULL) {
        ngx_cpystrn((u_char *) err, (u_char *) "mysql_init() failed", errlen);
        return NULL;
    }

    t = h->connect_timeout ? h->connect_timeout : 5;
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &t);

    if (h->read_timeout) {
        t = h->read_timeout;
        mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &t);
        mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &t);
    }

    off = 0;
    mysql_options(m, MYSQL_OPT_RECONNECT, &off);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");

    if (mysql_real_connect(m, h->host, h->user, h->password, db, h->port,
                           h->socket, flags)
        == NULL)
    {
        ngx_http_oxmigrate_admin_connect_errno = mysql_errno(m);
        ngx_cpystrn((u_char *) err, (u_char *) mysql_error(m), errlen);
        mysql_close(m);
        return NULL;
    }

    ngx_http_oxmigrate_admin_connect_errno = 0;

    return m;
}


unsigned int
ngx_http_oxmigrate_admin_connect_error(void)
{
    return ngx_http_oxmigrate_admin_connect_errno;
}


/*
 * The server went away or the connection broke: a client error (cannot
 * connect, gone away, lost during a query), the server shutting down
 * (1053) or killing the connection (1927, 4031).  A restart or a kill -9
 * of MariaDB ends a statement with one of these; an error of the
 * statement itself (a syntax error, a deadlock, access denied) does not.
 */

ngx_uint_t
ngx_http_oxmigrate_admin_gone(unsigned int e)
{
    return (e >= 2000 && e < 3000) || e == 1053 || e == 1927 || e == 4031;
}


char *
ngx_http_oxmigrate_admin_strndup(ngx_pool_t *pool, const void *s, size_t n)
{
    char  *p;

    p = ngx_pnalloc(pool, n + 1);
    if (p == NULL) {
        return NULL;
    }

    if (n) {
        ngx_memcpy(p, s, n);
    }

    p[n] = '\0';

    return p;
}


char *
ngx_http_oxmigrate_admin_host_port(ngx_pool_t *pool,
    ngx_http_oxmigrate_dbhost_t *h)
{
    char  *p;

    p = ngx_pnalloc(pool, ngx_strlen(h->host) + sizeof(":65535"));
    if (p) {
        ngx_sprintf((u_char *) p, "%s:%ud%Z", h->host, h->port);
    }

    return p;
}


/*
 * The handlers, the job steps and the lock refresher's job heartbeat all
 * reach configdb this way: oxmigrate_db's address and credentials, but the
 * admin read timeout.
 */

MYSQL *
ngx_http_oxmigrate_admin_configdb_connect(ngx_http_oxmigrate_db_conf_t *dcf,
    ngx_pool_t *pool, char *err, size_t errlen)
{
    return ngx_http_oxmigrate_admin_configdb_open(dcf, pool, 0, err, errlen);
}


MYSQL *
ngx_http_oxmigrate_admin_configdb_open(ngx_http_oxmigrate_db_conf_t *dcf,
    ngx_pool_t *pool, unsigned long flags, char *err, size_t errlen)
{
    char                         *db;
    ngx_http_oxmigrate_dbhost_t   h;

    ngx_memzero(&h, sizeof(ngx_http_oxmigrate_dbhost_t));

    h.host = ngx_http_oxmigrate_admin_strndup(pool, dcf->host.data,
                                              dcf->host.len);
    h.port = dcf->port;
    h.socket = dcf->socket.len
               ? ngx_http_oxmigrate_admin_strndup(pool, dcf->socket.data,
                                                  dcf->socket.len)
               : NULL;
    h.user = ngx_http_oxmigrate_admin_strndup(pool, dcf->user.data,
                                              dcf->user.len);
    h.password = ngx_http_oxmigrate_admin_strndup(pool, dcf->password.data,
                                                  dcf->password.len);
    h.connect_timeout = (dcf->connect_timeout + 999) / 1000;

    /* admin statements touch thousands of rows: not the login timeout */
    h.read_timeout = 300;

    db = ngx_http_oxmigrate_admin_strndup(pool, dcf->database.data,
                                          dcf->database.len);

    if (h.host == NULL || (dcf->socket.len && h.socket == NULL)
        || h.user == NULL || h.password == NULL || db == NULL)
    {
        ngx_cpystrn((u_char *) err, (u_char *) "out of memory", errlen);
        return NULL;
    }

    return ngx_http_oxmigrate_admin_connect(&h, db, flags, err, errlen);
}


/* the SQL builder */

typedef struct {
    char        *buf;
    size_t       len;
    size_t       size;
    ngx_pool_t  *pool;
} ngx_http_oxmigrate_admin_sqlbuf_t;


static char *
ngx_http_oxmigrate_admin_sql_reserve(ngx_http_oxmigrate_admin_sqlbuf_t *sb,
    size_t n)
{
    char    *nb;
    size_t   size;

    if (sb->len + n + 1 <= sb->size) {
        return sb->buf + sb->len;
    }

    size = ngx_max(sb->size * 2, sb->len + n + 1);

    nb = ngx_pnalloc(sb->pool, size);
    if (nb == NULL) {
        return NULL;
    }

    ngx_memcpy(nb, sb->buf, sb->len);
    sb->buf = nb;
    sb->size = size;

    return sb->buf + sb->len;
}


char *
ngx_http_oxmigrate_admin_vsql(MYSQL *m, ngx_pool_t *pool, const char *fmt,
    va_list args)
{
    char                               *p, *s, num[32];
    size_t                              n, i;
    ngx_str_t                          *v;
    const char                         *f;
    ngx_http_oxmigrate_admin_sqlbuf_t   sb;

    sb.pool = pool;
    sb.len = 0;
    sb.size = 256;
    sb.buf = ngx_pnalloc(pool, sb.size);
    if (sb.buf == NULL) {
        return NULL;
    }

    for (f = fmt; *f; f++) {

        if (*f != '%') {
            p = ngx_http_oxmigrate_admin_sql_reserve(&sb, 1);
            if (p == NULL) {
                return NULL;
            }

            *p = *f;
            sb.len++;
            continue;
        }

        f++;

        switch (*f) {

        case 's':
        case 'V':
            if (*f == 's') {
                s = va_arg(args, char *);
                n = ngx_strlen(s);

            } else {
                v = va_arg(args, ngx_str_t *);
                s = (char *) v->data;
                n = v->len;
            }

            p = ngx_http_oxmigrate_admin_sql_reserve(&sb, 2 * n + 3);
            if (p == NULL) {
                return NULL;
            }

            *p++ = '\'';
            p += mysql_real_escape_string(m, p, s, n);
            *p++ = '\'';
            sb.len = p - sb.buf;
            break;

        case 'I':
            s = va_arg(args, char *);
            n = ngx_strlen(s);

            p = ngx_http_oxmigrate_admin_sql_reserve(&sb, 2 * n + 3);
            if (p == NULL) {
                return NULL;
            }

            *p++ = '`';
            for (i = 0; i < n; i++) {
                if (s[i] == '`') {
                    *p++ = '`';
                }

                *p++ = s[i];
            }
            *p++ = '`';
            sb.len = p - sb.buf;
            break;

        case 'U':
        case 'D':
        case 'R':
            if (*f == 'U') {
                ngx_snprintf((u_char *) num, sizeof(num), "%uL%Z",
                             (uint64_t) va_arg(args, uint64_t));
                s = num;

            } else if (*f == 'D') {
                ngx_snprintf((u_char *) num, sizeof(num), "%L%Z",
                             (int64_t) va_arg(args, int64_t));
                s = num;

            } else {
                s = va_arg(args, char *);
            }

            n = ngx_strlen(s);

            p = ngx_http_oxmigrate_admin_sql_reserve(&sb, n);
            if (p == NULL) {
                return NULL;
            }

            ngx_memcpy(p, s, n);
            sb.len += n;
            break;

        default:
            p = ngx_http_oxmigrate_admin_sql_reserve(&sb, 1);
            if (p == NULL) {
                return NULL;
            }

            *p = '%';
            sb.len++;
            f--;
            break;
        }
    }

    sb.buf[sb.len] = '\0';

    return sb.buf;
}


char *
ngx_http_oxmigrate_admin_sql(MYSQL *m, ngx_pool_t *pool, const char *fmt,
    ...)
{
    char     *sql;
    va_list   args;

    va_start(args, fmt);
    sql = ngx_http_oxmigrate_admin_vsql(m, pool, fmt, args);
    va_end(args);

    return sql;
}


MYSQL_RES *
ngx_http_oxmigrate_admin_vselect(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, va_list args)
{
    char  *sql;

    sql = ngx_http_oxmigrate_admin_vsql(m, pool, fmt, args);

    if (sql == NULL || mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
        return NULL;
    }

    return mysql_store_result(m);
}


MYSQL_RES *
ngx_http_oxmigrate_admin_select(MYSQL *m, ngx_pool_t *pool,
    const char *fmt, ...)
{
    va_list     args;
    MYSQL_RES  *res;

    va_start(args, fmt);
    res = ngx_http_oxmigrate_admin_vselect(m, pool, fmt, args);
    va_end(args);

    return res;
}


int64_t
ngx_http_oxmigrate_admin_exec(MYSQL *m, ngx_pool_t *pool, const char *fmt,
    ...)
{
    char       *sql;
    va_list     args;
    MYSQL_RES  *res;

    va_start(args, fmt);
    sql = ngx_http_oxmigrate_admin_vsql(m, pool, fmt, args);
    va_end(args);

    if (sql == NULL || mysql_real_query(m, sql, ngx_strlen(sql)) != 0) {
        return -1;
    }

    res = mysql_store_result(m);
    if (res) {
        mysql_free_result(res);
    }

    return (int64_t) mysql_affected_rows(m);
}


MYSQL *
ngx_http_oxmigrate_admin_conn_db(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_http_oxmigrate_admin_res_t *res)
{
    char  err[256];

    if (c->db) {
        return c->db;
    }

    c->db = ngx_http_oxmigrate_admin_configdb_connect(
                ngx_http_oxmigrate_admin_dcf(c->omcf), c->pool, err,
                sizeof(err));

    if (c->db == NULL) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "oxmigrate admin: configdb connect failed: %s", err);
        (void) ngx_http_oxmigrate_admin_fail(res, NGX_ERROR,
                                             "configdb_unavailable",
                                             "configdb: %s", err);
    }

    return c->db;
}


ngx_int_t
ngx_http_oxmigrate_admin_db_fail(ngx_http_oxmigrate_admin_res_t *res,
    MYSQL *m)
{
    ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                  "oxmigrate admin: MariaDB error %ud: %s",
                  mysql_errno(m), mysql_error(m));

    return ngx_http_oxmigrate_admin_fail(res, NGX_ERROR, "db_error",
                                         "MariaDB error %ud: %s",
                                         mysql_errno(m), mysql_error(m));
}


ngx_int_t
ngx_http_oxmigrate_admin_parse_jdbc(const char *url, ngx_pool_t *pool,
    char **host, unsigned int *port)
{
    size_t       n;
    ngx_int_t    p;
    const char  *s, *e, *c;

    if (ngx_strncasecmp((u_char *) url, (u_char *) "jdbc:", 5) == 0) {
        url += 5;
    }

    s = ngx_strstr(url, "://");
    if (s == NULL) {
        return NGX_ERROR;
    }

    s += 3;

    /* skip user[:password]@ */
    for (e = s; *e && *e != '/' && *e != '?'; e++) { /* void */ }

    for (c = s; c < e; c++) {
        if (*c == '@') {
            s = c + 1;
        }
    }

    *port = 3306;

    if (*s == '[') {
        /* [::1]:3306 */
        c = (const char *) ngx_strlchr((u_char *) s, (u_char *) e, ']');
        if (c == NULL) {
            return NGX_ERROR;
        }

        n = c - s - 1;
        s++;
        c++;

    } else {
        c = (const char *) ngx_strlchr((u_char *) s, (u_char *) e, ':');
        if (c == NULL) {
            c = e;
        }

        n = c - s;
    }

    if (n == 0) {
        return NGX_ERROR;
    }

    if (c < e && *c == ':') {
        p = ngx_atoi((u_char *) c + 1, e - c - 1);
        if (p <= 0 || p > 65535) {
            return NGX_ERROR;
        }

        *port = p;
    }

    *host = ngx_pnalloc(pool, n + 1);
    if (*host == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(*host, s, n);
    (*host)[n] = '\0';

    /* libmariadb takes "localhost" as the default unix socket */
    if (ngx_strcmp(*host, "localhost") == 0) {
        *host = "127.0.0.1";
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_oxmigrate_admin_pool_host(ngx_pool_t *pool, MYSQL *m,
    ngx_uint_t pool_id, ngx_http_oxmigrate_dbhost_t *h, char **name)
{
    size_t      n;
    MYSQL_ROW   row;
    MYSQL_RES  *res;
    ngx_int_t   rc;

    res = ngx_http_oxmigrate_admin_select(m, pool,
              "SELECT url, login, password, name FROM db_pool"
              " WHERE db_pool_id = %U", (uint64_t) pool_id);
    if (res == NULL) {
        return NGX_ERROR;
    }

    row = mysql_fetch_row(res);
    if (row == NULL) {
        mysql_free_result(res);
        return NGX_DECLINED;
    }

    ngx_memzero(h, sizeof(ngx_http_oxmigrate_dbhost_t));

    rc = ngx_http_oxmigrate_admin_parse_jdbc(row[0], pool, &h->host,
                                             &h->port);

    n = ngx_strlen(row[1]) + ngx_strlen(row[2]) + ngx_strlen(row[3]) + 3;
    h->user = ngx_pnalloc(pool, n);

    if (rc != NGX_OK || h->user == NULL) {
        mysql_free_result(res);
        return NGX_ERROR;
    }

    h->password = (char *) ngx_cpystrn((u_char *) h->user, (u_char *) row[1],
                                       n) + 1;
    *name = (char *) ngx_cpystrn((u_char *) h->password, (u_char *) row[2],
                                 n) + 1;
    ngx_cpystrn((u_char *) *name, (u_char *) row[3], n);

    h->connect_timeout = 5;

    mysql_free_result(res);

    return NGX_OK;
}


/* natural order: digit runs compare as numbers */

int
ngx_http_oxmigrate_admin_natcmp(const char *a, const char *b)
{
    size_t       la, lb;
    const char  *sa, *sb;

    while (*a && *b) {

        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            while (*a == '0') {
                a++;
            }

            while (*b == '0') {
                b++;
            }

            for (sa = a; *a >= '0' && *a <= '9'; a++) { /* void */ }
            for (sb = b; *b >= '0' && *b <= '9'; b++) { /* void */ }

            la = a - sa;
            lb = b - sb;

            if (la != lb) {
                return la < lb ? -1 : 1;
            }

            if (la && ngx_strncmp(sa, sb, la) != 0) {
                return ngx_strncmp(sa, sb, la);
            }

            continue;
        }

        if (*a != *b) {
            return (u_char) *a < (u_char) *b ? -1 : 1;
        }

        a++;
        b++;
    }

    return *a ? 1 : (*b ? -1 : 0);
}
