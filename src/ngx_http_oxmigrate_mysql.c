/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * The configdb lookup on nginx's event loop: MariaDB Connector/C's
 * non-blocking API (MYSQL_OPT_NONBLOCK, the _start() and _cont() calls),
 * a per-worker pool of at most "pool" connections, and nginx timers for
 * every wait.
 *
 * The library owns the socket: we wrap its descriptor in an
 * ngx_connection_t only to receive events, and give it back without
 * closing it.  A connection that missed its timeout is dropped, never
 * reused: its protocol state is unknown.
 *
 * Several servers (host=, then each server=: a replica first, the primary
 * after it, or Galera nodes): new connections go to the first server that
 * is not marked down.  A server whose connect fails or times out is marked
 * down for NGX_HTTP_OXMIGRATE_DB_DOWN and the lookup is asked again on the
 * next one.  With the change log installed every lookup also reads the
 * server's change-log position: a server behind the position this balancer
 * has already applied (a lagging replica) is skipped like a down one, for
 * NGX_HTTP_OXMIGRATE_DB_BEHIND, so a decision never goes back in time.
 */


#include "ngx_http_oxmigrate.h"

#include <mysql.h>
#include <errmsg.h>


#define NGX_HTTP_OXMIGRATE_QUERY_MAX  (2 * NGX_HTTP_OXMIGRATE_KEY_MAX + 2048)
#define NGX_HTTP_OXMIGRATE_DB_DOWN    5000     /* ms */
#define NGX_HTTP_OXMIGRATE_DB_BEHIND  1000     /* ms */


typedef enum {
    NGX_HTTP_OXMIGRATE_DB_CONNECT = 0,
    NGX_HTTP_OXMIGRATE_DB_IDLE,
    NGX_HTTP_OXMIGRATE_DB_QUERY,
    NGX_HTTP_OXMIGRATE_DB_STORE
} ngx_http_oxmigrate_db_state_e;


typedef struct ngx_http_oxmigrate_db_conn_s  ngx_http_oxmigrate_db_conn_t;


typedef struct {
    ngx_queue_t                        queue;    /* waiting for a connection */
    ngx_event_t                        event;    /* queue timeout; deferral */
    ngx_http_oxmigrate_db_row_pt       row_handler;  /* NULL: a lookup */
    ngx_uint_t                         tries;        /* servers asked */
    uint64_t                           min_pos;
    ngx_http_oxmigrate_db_handler_pt   handler;
    void                              *data;
    ngx_int_t                          rc;
    ngx_http_oxmigrate_info_t          info;
    u_char                             row[NGX_HTTP_OXMIGRATE_VALUE_MAX];
    size_t                             query_len;
    u_char                             query[NGX_HTTP_OXMIGRATE_QUERY_MAX];
} ngx_http_oxmigrate_db_req_t;


struct ngx_http_oxmigrate_db_conn_s {
    ngx_queue_t                        queue;    /* idle or busy list */
    MYSQL                             *mysql;
    ngx_connection_t                  *connection;
    ngx_http_oxmigrate_db_state_e      state;
    int                                waiting;  /* MYSQL_WAIT_* */
    ngx_uint_t                         server;   /* index in servers */
    ngx_http_oxmigrate_db_req_t       *req;
};


static ngx_int_t ngx_http_oxmigrate_db_connect(
    ngx_http_oxmigrate_db_req_t *req);
static void ngx_http_oxmigrate_db_run(ngx_http_oxmigrate_db_conn_t *dc,
    int ready);
static ngx_int_t ngx_http_oxmigrate_db_wait(ngx_http_oxmigrate_db_conn_t *dc,
    int status);
static void ngx_http_oxmigrate_db_event_handler(ngx_event_t *ev);
static void ngx_http_oxmigrate_db_result(ngx_http_oxmigrate_db_conn_t *dc,
    MYSQL_RES *res);
static void ngx_http_oxmigrate_db_fail(ngx_http_oxmigrate_db_conn_t *dc,
    const char *what);
static void ngx_http_oxmigrate_db_release(ngx_http_oxmigrate_db_conn_t *dc);
static void ngx_http_oxmigrate_db_close(ngx_http_oxmigrate_db_conn_t *dc);
static void ngx_http_oxmigrate_db_complete(ngx_http_oxmigrate_db_req_t *req,
    ngx_int_t rc);
static void ngx_http_oxmigrate_db_deferred(ngx_event_t *ev);
static void ngx_http_oxmigrate_db_queue_timeout(ngx_event_t *ev);
static void ngx_http_oxmigrate_db_dispatch(void);
static void ngx_http_oxmigrate_db_query_idle(ngx_http_oxmigrate_db_req_t *req);
static ngx_http_oxmigrate_db_req_t *ngx_http_oxmigrate_db_req_new(
    ngx_http_oxmigrate_db_handler_pt handler, void *data);
static ngx_int_t ngx_http_oxmigrate_db_start(ngx_http_oxmigrate_db_req_t *req);
static ngx_uint_t ngx_http_oxmigrate_db_pick(void);
static void ngx_http_oxmigrate_db_mark(ngx_uint_t server, ngx_msec_t ms,
    const char *why);
static ngx_int_t ngx_http_oxmigrate_db_retry(ngx_http_oxmigrate_db_req_t *req);
static void ngx_http_oxmigrate_db_leave_worse(void);
static void ngx_http_oxmigrate_db_rows(ngx_http_oxmigrate_db_req_t *req,
    MYSQL_RES *res);


static ngx_http_oxmigrate_db_conf_t  *ngx_http_oxmigrate_dcf;
static ngx_queue_t                    ngx_http_oxmigrate_db_idle;
static ngx_queue_t                    ngx_http_oxmigrate_db_busy;
static ngx_queue_t                    ngx_http_oxmigrate_db_pending;
static ngx_uint_t                     ngx_http_oxmigrate_db_nconns;
static ngx_msec_t                    *ngx_http_oxmigrate_db_down_until;
static ngx_uint_t                     ngx_http_oxmigrate_db_positions;


/*
 * One statement answers the whole decision: the context part's cid, the
 * context's state and the name of the server it lives on.  The key goes in
 * as a hex literal, so no byte of a login name can ever be read as SQL,
 * and '%' or '_' are plain characters (no LIKE anywhere).
 */

static const char  ngx_http_oxmigrate_db_select[] =
    "SELECT l.cid, c.enabled, c.reason_id, p.server_id, p.db_schema, s.name"
    " FROM login2context l"
    " JOIN context c ON c.cid = l.cid"
    " JOIN context_server2db_pool p ON p.cid = l.cid"
    " LEFT JOIN server s ON s.server_id = p.server_id"
    " WHERE l.login_info = _utf8mb4 X'";

/*
 * With the change log: one row always, the server's change-log position
 * and its clock (unix ms, when the statement started) last, the context's
 * columns NULL when the name is unknown.
 */

static const char  ngx_http_oxmigrate_db_select_pos[] =
    "SELECT l.cid, c.enabled, c.reason_id, p.server_id, p.db_schema, s.name,"
    " x.pos, x.at"
    " FROM (SELECT COALESCE(MAX(id), 0) AS pos,"
    " CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) AS at"
    " FROM oxmigrate_change) x"
    " LEFT JOIN (login2context l"
    " JOIN context c ON c.cid = l.cid"
    " JOIN context_server2db_pool p ON p.cid = l.cid"
    " LEFT JOIN server s ON s.server_id = p.server_id)"
    " ON l.login_info = _utf8mb4 X'";

static const char  ngx_http_oxmigrate_db_select_cid_pos[] =
    "SELECT c.cid, c.enabled, c.reason_id, p.server_id, p.db_schema, s.name,"
    " x.pos, x.at"
    " FROM (SELECT COALESCE(MAX(id), 0) AS pos,"
    " CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS UNSIGNED) AS at"
    " FROM oxmigrate_change) x"
    " LEFT JOIN (context c"
    " JOIN context_server2db_pool p ON p.cid = c.cid"
    " LEFT JOIN server s ON s.server_id = p.server_id)"
    " ON c.cid = ";

/* the same answer for a context id (a share link): the cid is digits */
static const char  ngx_http_oxmigrate_db_select_cid[] =
    "SELECT c.cid, c.enabled, c.reason_id, p.server_id, p.db_schema, s.name"
    " FROM context c"
    " JOIN context_server2db_pool p ON p.cid = c.cid"
    " LEFT JOIN server s ON s.server_id = p.server_id"
    " WHERE c.cid = ";


ngx_int_t
ngx_http_oxmigrate_db_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_db_conf_t *dcf)
{
    ngx_http_oxmigrate_dcf = dcf;

    ngx_queue_init(&ngx_http_oxmigrate_db_idle);
    ngx_queue_init(&ngx_http_oxmigrate_db_busy);
    ngx_queue_init(&ngx_http_oxmigrate_db_pending);
    ngx_http_oxmigrate_db_nconns = 0;

    ngx_http_oxmigrate_db_down_until = ngx_pcalloc(cycle->pool,
                                           dcf->servers->nelts
                                           * sizeof(ngx_msec_t));
    if (ngx_http_oxmigrate_db_down_until == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


void
ngx_http_oxmigrate_db_exit_worker(ngx_cycle_t *cycle)
{
    ngx_queue_t                   *q;
    ngx_http_oxmigrate_db_conn_t  *dc;

    if (ngx_http_oxmigrate_dcf == NULL) {
        return;
    }

    while (!ngx_queue_empty(&ngx_http_oxmigrate_db_idle)) {
        q = ngx_queue_head(&ngx_http_oxmigrate_db_idle);
        dc = ngx_queue_data(q, ngx_http_oxmigrate_db_conn_t, queue);
        ngx_http_oxmigrate_db_close(dc);
    }

    while (!ngx_queue_empty(&ngx_http_oxmigrate_db_busy)) {
        q = ngx_queue_head(&ngx_http_oxmigrate_db_busy);
        dc = ngx_queue_data(q, ngx_http_oxmigrate_db_conn_t, queue);

        if (dc->req) {
            ngx_free(dc->req);
            dc->req = NULL;
        }

        ngx_http_oxmigrate_db_close(dc);
    }
}


void
ngx_http_oxmigrate_db_changelog(ngx_uint_t present)
{
    ngx_http_oxmigrate_db_positions = present;
}


ngx_int_t
ngx_http_oxmigrate_db_lookup(ngx_str_t *key, uint64_t min_pos,
    ngx_http_oxmigrate_db_handler_pt handler, void *data)
{
    u_char                       *p;
    ngx_int_t                     cid;
    ngx_uint_t                    pos;
    ngx_http_oxmigrate_db_req_t  *req;

    if (ngx_http_oxmigrate_dcf == NULL
        || key->len > NGX_HTTP_OXMIGRATE_KEY_MAX)
    {
        return NGX_ERROR;
    }

    req = ngx_http_oxmigrate_db_req_new(handler, data);
    if (req == NULL) {
        return NGX_ERROR;
    }

    req->min_pos = min_pos;

    pos = ngx_http_oxmigrate_db_positions;

    if (ngx_http_oxmigrate_is_cid_key(key)) {
        cid = ngx_atoi(key->data + NGX_HTTP_OXMIGRATE_CID_KEY_LEN,
                       key->len - NGX_HTTP_OXMIGRATE_CID_KEY_LEN);
        if (cid == NGX_ERROR) {
            ngx_free(req);
            return NGX_ERROR;
        }

        p = pos ? ngx_cpymem(req->query, ngx_http_oxmigrate_db_select_cid_pos,
                             sizeof(ngx_http_oxmigrate_db_select_cid_pos) - 1)
                : ngx_cpymem(req->query, ngx_http_oxmigrate_db_select_cid,
                             sizeof(ngx_http_oxmigrate_db_select_cid) - 1);
        p = ngx_sprintf(p, "%i LIMIT 1", cid);

    } else {
        p = pos ? ngx_cpymem(req->query, ngx_http_oxmigrate_db_select_pos,
                             sizeof(ngx_http_oxmigrate_db_select_pos) - 1)
                : ngx_cpymem(req->query, ngx_http_oxmigrate_db_select,
                             sizeof(ngx_http_oxmigrate_db_select) - 1);
        p = ngx_hex_dump(p, key->data, key->len);
        p = ngx_cpymem(p, "' LIMIT 1", sizeof("' LIMIT 1") - 1);
    }
    req->query_len = p - req->query;

    return ngx_http_oxmigrate_db_start(req);
}


/*
 * Any other statement (the change-log poll): row_handler gets each row's
 * columns (NULL columns empty), then handler is called once with NGX_OK or
 * NGX_ERROR (info NULL).  Same pool, same timeouts as a lookup.
 */

ngx_int_t
ngx_http_oxmigrate_db_query(ngx_str_t *sql,
    ngx_http_oxmigrate_db_row_pt row_handler,
    ngx_http_oxmigrate_db_handler_pt handler, void *data)
{
    ngx_http_oxmigrate_db_req_t  *req;

    if (ngx_http_oxmigrate_dcf == NULL
        || sql->len > NGX_HTTP_OXMIGRATE_QUERY_MAX)
    {
        return NGX_ERROR;
    }

    req = ngx_http_oxmigrate_db_req_new(handler, data);
    if (req == NULL) {
        return NGX_ERROR;
    }

    req->row_handler = row_handler;

    ngx_memcpy(req->query, sql->data, sql->len);
    req->query_len = sql->len;

    return ngx_http_oxmigrate_db_start(req);
}


static ngx_http_oxmigrate_db_req_t *
ngx_http_oxmigrate_db_req_new(ngx_http_oxmigrate_db_handler_pt handler,
    void *data)
{
    ngx_http_oxmigrate_db_req_t  *req;

    req = ngx_calloc(sizeof(ngx_http_oxmigrate_db_req_t), ngx_cycle->log);
    if (req == NULL) {
        return NULL;
    }

    req->handler = handler;
    req->data = data;
    req->event.data = req;
    req->event.log = ngx_cycle->log;

    return req;
}


/* an idle connection, a new one, or a place in the queue */

static ngx_int_t
ngx_http_oxmigrate_db_start(ngx_http_oxmigrate_db_req_t *req)
{
    ngx_http_oxmigrate_db_leave_worse();

    if (!ngx_queue_empty(&ngx_http_oxmigrate_db_idle)) {
        ngx_http_oxmigrate_db_query_idle(req);
        return NGX_OK;
    }

    if (ngx_http_oxmigrate_db_nconns < ngx_http_oxmigrate_dcf->pool) {
        if (ngx_http_oxmigrate_db_connect(req) != NGX_OK) {
            ngx_free(req);
            return NGX_ERROR;
        }

        return NGX_OK;
    }

    /* all connections busy: wait for one, but not longer than a query */

    ngx_queue_insert_tail(&ngx_http_oxmigrate_db_pending, &req->queue);

    req->event.handler = ngx_http_oxmigrate_db_queue_timeout;
    ngx_add_timer(&req->event, ngx_http_oxmigrate_dcf->connect_timeout
                               + ngx_http_oxmigrate_dcf->timeout);

    return NGX_OK;
}




static ngx_int_t
ngx_http_oxmigrate_db_connect(ngx_http_oxmigrate_db_req_t *req)
{
    unsigned int                   off;
    ngx_http_oxmigrate_db_conn_t  *dc;

    dc = ngx_calloc(sizeof(ngx_http_oxmigrate_db_conn_t), ngx_cycle->log);
    if (dc == NULL) {
        return NGX_ERROR;
    }

    dc->mysql = mysql_init(NULL);
    if (dc->mysql == NULL) {
        ngx_free(dc);
        return NGX_ERROR;
    }

    off = 0;

    mysql_options(dc->mysql, MYSQL_OPT_NONBLOCK, 0);
    mysql_options(dc->mysql, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    /* a reconnect would block and hide a dropped connection */
    mysql_options(dc->mysql, MYSQL_OPT_RECONNECT, &off);

    dc->state = NGX_HTTP_OXMIGRATE_DB_CONNECT;
    dc->req = req;
    dc->server = ngx_http_oxmigrate_db_pick();

    ngx_queue_insert_tail(&ngx_http_oxmigrate_db_busy, &dc->queue);
    ngx_http_oxmigrate_db_nconns++;

    ngx_http_oxmigrate_db_run(dc, 0);

    return NGX_OK;
}


/*
 * Drives one connection's state machine.  ready is 0 to start a step, or
 * the MYSQL_WAIT_* bits of the event that arrived to continue one.
 */

static void
ngx_http_oxmigrate_db_run(ngx_http_oxmigrate_db_conn_t *dc, int ready)
{
    int                              status, err;
    MYSQL                           *ret;
    MYSQL_RES                       *res;
    ngx_http_oxmigrate_db_conf_t    *dcf;
    ngx_http_oxmigrate_db_server_t  *srv;

    dcf = ngx_http_oxmigrate_dcf;
    srv = (ngx_http_oxmigrate_db_server_t *) dcf->servers->elts + dc->server;

    for ( ;; ) {

        switch (dc->state) {

        case NGX_HTTP_OXMIGRATE_DB_CONNECT:
            if (ready) {
                status = mysql_real_connect_cont(&ret, dc->mysql, ready);

            } else {
                status = mysql_real_connect_start(&ret, dc->mysql,
                             srv->host.len ? (char *) srv->host.data : NULL,
                             (char *) dcf->user.data,
                             (char *) dcf->password.data,
                             (char *) dcf->database.data,
                             srv->port,
                             srv->socket.len ? (char *) srv->socket.data
                                             : NULL,
                             0);
            }

            if (status) {
                if (ngx_http_oxmigrate_db_wait(dc, status) != NGX_OK) {
                    ngx_http_oxmigrate_db_fail(dc, "connect");
                }

                return;
            }

            if (ret == NULL) {
                ngx_http_oxmigrate_db_fail(dc, "connect");
                return;
            }

            if (dc->connection && dc->connection->read->timer_set) {
                ngx_del_timer(dc->connection->read);
            }

            dc->state = NGX_HTTP_OXMIGRATE_DB_QUERY;
            ready = 0;

            if (dc->connection == NULL
                && ngx_http_oxmigrate_db_wait(dc, 0) != NGX_OK)
            {
                ngx_http_oxmigrate_db_fail(dc, "connect");
                return;
            }

            ngx_add_timer(dc->connection->read, dcf->timeout);
            break;

        case NGX_HTTP_OXMIGRATE_DB_QUERY:
            if (ready) {
                status = mysql_real_query_cont(&err, dc->mysql, ready);

            } else {
                status = mysql_real_query_start(&err, dc->mysql,
                                                (char *) dc->req->query,
                                                dc->req->query_len);
            }

            if (status) {
                if (ngx_http_oxmigrate_db_wait(dc, status) != NGX_OK) {
                    ngx_http_oxmigrate_db_fail(dc, "query");
                }

                return;
            }

            if (err) {
                ngx_http_oxmigrate_db_fail(dc, "query");
                return;
            }

            dc->state = NGX_HTTP_OXMIGRATE_DB_STORE;
            ready = 0;
            break;

        case NGX_HTTP_OXMIGRATE_DB_STORE:
            if (ready) {
                status = mysql_store_result_cont(&res, dc->mysql, ready);

            } else {
                status = mysql_store_result_start(&res, dc->mysql);
            }

            if (status) {
                if (ngx_http_oxmigrate_db_wait(dc, status) != NGX_OK) {
                    ngx_http_oxmigrate_db_fail(dc, "store result");
                }

                return;
            }

            if (res == NULL) {
                ngx_http_oxmigrate_db_fail(dc, "store result");
                return;
            }

            ngx_http_oxmigrate_db_result(dc, res);
            return;

        default: /* NGX_HTTP_OXMIGRATE_DB_IDLE */
            return;
        }
    }
}


/*
 * Registers the library's socket with nginx's event loop the first time,
 * and remembers what the library waits for.  The socket is registered for
 * both directions, edge-triggered: the library always tries to read or
 * write before it asks to wait, so an edge is never lost.
 */

static ngx_int_t
ngx_http_oxmigrate_db_wait(ngx_http_oxmigrate_db_conn_t *dc, int status)
{
    my_socket          fd;
    ngx_connection_t  *c;

    dc->waiting = status & (MYSQL_WAIT_READ|MYSQL_WAIT_WRITE);

    if (dc->connection) {
        return NGX_OK;
    }

    fd = mysql_get_socket(dc->mysql);
    if (fd == (my_socket) -1) {
        return NGX_ERROR;
    }

    c = ngx_get_connection(fd, ngx_cycle->log);
    if (c == NULL) {
        return NGX_ERROR;
    }

    c->data = dc;
    c->read->handler = ngx_http_oxmigrate_db_event_handler;
    c->write->handler = ngx_http_oxmigrate_db_event_handler;
    c->read->log = c->log;
    c->write->log = c->log;

    dc->connection = c;

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            return NGX_ERROR;
        }

    } else {
        if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_CLEAR_EVENT)
            == NGX_ERROR
            || ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_CLEAR_EVENT)
               == NGX_ERROR)
        {
            return NGX_ERROR;
        }
    }

    ngx_add_timer(c->read, dc->state == NGX_HTTP_OXMIGRATE_DB_CONNECT
                           ? ngx_http_oxmigrate_dcf->connect_timeout
                           : ngx_http_oxmigrate_dcf->timeout);

    return NGX_OK;
}


static void
ngx_http_oxmigrate_db_event_handler(ngx_event_t *ev)
{
    int                            ready;
    ngx_connection_t              *c;
    ngx_http_oxmigrate_db_conn_t  *dc;

    c = ev->data;
    dc = c->data;

    if (dc->state == NGX_HTTP_OXMIGRATE_DB_IDLE) {

        /*
         * Nothing is expected on an idle connection: the server closed it
         * (wait_timeout, restart), or nginx is shutting down (c->close).
         */

        if (ev->write && !c->close) {
            return;
        }

        ngx_http_oxmigrate_db_close(dc);
        return;
    }

    if (ev->timedout) {
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "oxmigrate: configdb did not answer in time");
        ngx_http_oxmigrate_db_fail(dc, NULL);
        return;
    }

    ready = ev->write ? MYSQL_WAIT_WRITE : MYSQL_WAIT_READ;

    if (!(dc->waiting & ready)) {
        return;
    }

    ngx_http_oxmigrate_db_run(dc, ready);
}


static void
ngx_http_oxmigrate_db_result(ngx_http_oxmigrate_db_conn_t *dc, MYSQL_RES *res)
{
    u_char                       *p, *last;
    size_t                        len;
    MYSQL_ROW                     row;
    unsigned long                *lengths;
    ngx_http_oxmigrate_db_req_t  *req;

    req = dc->req;

    if (req->row_handler) {
        ngx_http_oxmigrate_db_rows(req, res);
        mysql_free_result(res);
        ngx_http_oxmigrate_db_release(dc);
        ngx_http_oxmigrate_db_complete(req, NGX_OK);
        return;
    }

    row = mysql_fetch_row(res);

    req->info.pos_set = 0;
    req->info.at = 0;

    if (row && mysql_num_fields(res) > 6) {
        lengths = mysql_fetch_lengths(res);
        req->info.pos = row[6] ? (uint64_t) ngx_atoof((u_char *) row[6],
                                                      lengths[6])
                               : 0;
        req->info.pos_set = 1;
        req->info.at = (mysql_num_fields(res) > 7 && row[7])
                       ? (uint64_t) ngx_atoof((u_char *) row[7], lengths[7])
                       : 0;

        if ((off_t) req->info.at == NGX_ERROR) {
            req->info.at = 0;
        }

        if (req->info.pos < req->min_pos
            && req->tries + 1 < ngx_http_oxmigrate_dcf->servers->nelts)
        {
            /*
             * A replica behind what this balancer applied: ask the next
             * server.  With no other one left the answer is used (it is the
             * freshest there is; the cache does not keep it when a change
             * after its position touches it).
             */
            mysql_free_result(res);
            ngx_http_oxmigrate_db_mark(dc->server,
                                       NGX_HTTP_OXMIGRATE_DB_BEHIND,
                                       "behind the change log");
            ngx_http_oxmigrate_db_release(dc);

            if (ngx_http_oxmigrate_db_retry(req) != NGX_OK) {
                ngx_http_oxmigrate_db_complete(req, NGX_ERROR);
            }

            return;
        }

        if (row[0] == NULL) {
            row = NULL;     /* the name is unknown */
        }
    }

    if (row == NULL) {
        req->info.found = 0;

    } else {
        lengths = mysql_fetch_lengths(res);

        p = req->row;
        last = req->row + sizeof(req->row);

        req->info.found = 1;
        req->info.cid = ngx_atoi((u_char *) row[0], lengths[0]);
        req->info.enabled = (row[1] && row[1][0] != '0');
        req->info.reason_id = row[2] ? ngx_atoi((u_char *) row[2], lengths[2])
                                     : 0;
        req->info.server_id = ngx_atoi((u_char *) row[3], lengths[3]);

        len = ngx_min((size_t) lengths[4], (size_t) (last - p) / 2);
        req->info.schema.data = p;
        req->info.schema.len = len;
        p = ngx_cpymem(p, row[4], len);

        req->info.server.data = p;
        req->info.server.len = 0;

        if (row[5]) {
            len = ngx_min((size_t) lengths[5], (size_t) (last - p));
            ngx_memcpy(p, row[5], len);
            req->info.server.len = len;
        }
    }

    /* a stored result is all in memory: freeing it never waits */
    mysql_free_result(res);

    ngx_http_oxmigrate_metrics_backend(NGX_HTTP_OXMIGRATE_M_CONFIGDB,
                                       NGX_HTTP_OXMIGRATE_M_UP);

    ngx_http_oxmigrate_db_release(dc);
    ngx_http_oxmigrate_db_complete(req, NGX_OK);
}


/* every row of a stored result to the row handler (all in memory) */

static void
ngx_http_oxmigrate_db_rows(ngx_http_oxmigrate_db_req_t *req, MYSQL_RES *res)
{
    ngx_uint_t      i, n;
    ngx_str_t       cols[8];
    MYSQL_ROW       row;
    unsigned long  *lengths;

    n = ngx_min(mysql_num_fields(res), 8);

    while ((row = mysql_fetch_row(res)) != NULL) {
        lengths = mysql_fetch_lengths(res);

        for (i = 0; i < n; i++) {
            cols[i].data = (u_char *) (row[i] ? row[i] : "");
            cols[i].len = row[i] ? lengths[i] : 0;
        }

        req->row_handler(req->data, cols, n);
    }
}


static void
ngx_http_oxmigrate_db_fail(ngx_http_oxmigrate_db_conn_t *dc, const char *what)
{
    ngx_http_oxmigrate_db_req_t  *req;

    if (what) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "oxmigrate: configdb %s failed: %s",
                      what, mysql_error(dc->mysql));
    }

    ngx_http_oxmigrate_metrics_backend(NGX_HTTP_OXMIGRATE_M_CONFIGDB,
        what == NULL ? NGX_HTTP_OXMIGRATE_M_TIMEOUT
        : (what[0] == 'c' ? NGX_HTTP_OXMIGRATE_M_CONNECT
                          : NGX_HTTP_OXMIGRATE_M_QUERY));

    req = dc->req;
    dc->req = NULL;

    /* connect failed, or no answer in time: that server is down a while */

    if (what == NULL || what[0] == 'c') {
        ngx_http_oxmigrate_db_mark(dc->server, NGX_HTTP_OXMIGRATE_DB_DOWN,
                                   what ? "connect failed" : "timed out");
    }

    ngx_http_oxmigrate_db_close(dc);

    if (req
        && ((what != NULL && what[0] != 'c')
            || ngx_http_oxmigrate_db_retry(req) != NGX_OK))
    {
        ngx_http_oxmigrate_db_complete(req, NGX_ERROR);
    }

    /* a freed slot may start a connection for someone waiting */
    ngx_http_oxmigrate_db_dispatch();
}


/* the query is done: the connection serves the next waiter or idles */

static void
ngx_http_oxmigrate_db_release(ngx_http_oxmigrate_db_conn_t *dc)
{
    ngx_connection_t  *c;

    c = dc->connection;

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    dc->req = NULL;
    dc->waiting = 0;
    dc->state = NGX_HTTP_OXMIGRATE_DB_IDLE;

    if (ngx_terminate || ngx_exiting) {
        ngx_http_oxmigrate_db_close(dc);
        return;
    }

    if ((ngx_msec_int_t) (ngx_http_oxmigrate_db_down_until[dc->server]
                          - ngx_http_oxmigrate_clock_msec()) > 0)
    {
        /* its server is skipped now: the next query connects elsewhere */
        ngx_http_oxmigrate_db_close(dc);
        ngx_http_oxmigrate_db_dispatch();
        return;
    }

    ngx_queue_remove(&dc->queue);

    /* idle connections must not hold up a graceful shutdown or a reload */
    c->idle = 1;
    ngx_queue_insert_head(&ngx_http_oxmigrate_db_idle, &dc->queue);

    ngx_http_oxmigrate_db_dispatch();
}


static void
ngx_http_oxmigrate_db_dispatch(void)
{
    ngx_queue_t                  *q;
    ngx_http_oxmigrate_db_req_t  *req;

    while (!ngx_queue_empty(&ngx_http_oxmigrate_db_pending)) {

        if (ngx_queue_empty(&ngx_http_oxmigrate_db_idle)
            && ngx_http_oxmigrate_db_nconns >= ngx_http_oxmigrate_dcf->pool)
        {
            return;
        }

        q = ngx_queue_head(&ngx_http_oxmigrate_db_pending);
        ngx_queue_remove(q);

        req = ngx_queue_data(q, ngx_http_oxmigrate_db_req_t, queue);

        if (req->event.timer_set) {
            ngx_del_timer(&req->event);
        }

        if (ngx_queue_empty(&ngx_http_oxmigrate_db_idle)) {
            if (ngx_http_oxmigrate_db_connect(req) != NGX_OK) {
                ngx_http_oxmigrate_db_complete(req, NGX_ERROR);
            }

            continue;
        }

        ngx_http_oxmigrate_db_query_idle(req);
    }
}


/* the most recently used idle connection takes the query */

static void
ngx_http_oxmigrate_db_query_idle(ngx_http_oxmigrate_db_req_t *req)
{
    ngx_queue_t                   *q;
    ngx_http_oxmigrate_db_conn_t  *dc;

        q = ngx_queue_head(&ngx_http_oxmigrate_db_idle);
        dc = ngx_queue_data(q, ngx_http_oxmigrate_db_conn_t, queue);

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&ngx_http_oxmigrate_db_busy, q);

        dc->connection->idle = 0;
        dc->req = req;
        dc->state = NGX_HTTP_OXMIGRATE_DB_QUERY;

        ngx_add_timer(dc->connection->read, ngx_http_oxmigrate_dcf->timeout);
        ngx_http_oxmigrate_db_run(dc, 0);
}


static void
ngx_http_oxmigrate_db_close(ngx_http_oxmigrate_db_conn_t *dc)
{
    ngx_connection_t  *c;

    c = dc->connection;

    if (c) {
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        /*
         * The descriptor is closed below by mysql_close(), or was already
         * closed by the library after a failed connect: the kernel drops
         * it from the event set, no syscall is needed (or possible).
         */

        if (ngx_del_conn) {
            ngx_del_conn(c, NGX_CLOSE_EVENT);

        } else {
            if (c->read->active) {
                ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
            }

            if (c->write->active) {
                ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
            }
        }

        /* the library closes the descriptor itself */
        c->fd = (ngx_socket_t) -1;
        ngx_free_connection(c);
        dc->connection = NULL;
    }

    if (dc->state != NGX_HTTP_OXMIGRATE_DB_IDLE) {
        /*
         * Mid-protocol: mysql_close() would try to say goodbye on a socket
         * in an unknown state.  Shut it down first so that write fails at
         * once instead of waiting.
         */
        if (mysql_get_socket(dc->mysql) != (my_socket) -1) {
            (void) shutdown(mysql_get_socket(dc->mysql), SHUT_RDWR);
        }
    }

    mysql_close(dc->mysql);

    ngx_queue_remove(&dc->queue);
    ngx_http_oxmigrate_db_nconns--;

    ngx_free(dc);
}


/*
 * Answers are delivered from a posted event: an answer can come about
 * inside ngx_http_oxmigrate_db_lookup() itself (a connect that fails at
 * once), and callers must never see their handler run before the lookup
 * call returned.  The posted event runs in the same loop iteration.
 */

static void
ngx_http_oxmigrate_db_complete(ngx_http_oxmigrate_db_req_t *req, ngx_int_t rc)
{
    req->rc = rc;
    req->event.handler = ngx_http_oxmigrate_db_deferred;

    ngx_post_event(&req->event, &ngx_posted_events);
}


static void
ngx_http_oxmigrate_db_deferred(ngx_event_t *ev)
{
    ngx_http_oxmigrate_db_req_t  *req = ev->data;

    req->handler(req->data, req->rc, &req->info);

    ngx_free(req);
}


static void
ngx_http_oxmigrate_db_queue_timeout(ngx_event_t *ev)
{
    ngx_http_oxmigrate_db_req_t  *req = ev->data;

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "oxmigrate: no configdb connection free in time");

    ngx_http_oxmigrate_metrics_backend(NGX_HTTP_OXMIGRATE_M_CONFIGDB,
                                       NGX_HTTP_OXMIGRATE_M_POOL);

    ngx_queue_remove(&req->queue);

    req->handler(req->data, NGX_ERROR, &req->info);

    ngx_free(req);
}


/* the first server not marked down (or the one back soonest) */

static ngx_uint_t
ngx_http_oxmigrate_db_pick(void)
{
    ngx_uint_t   i, best;
    ngx_msec_t   now, *down;

    down = ngx_http_oxmigrate_db_down_until;
    now = ngx_http_oxmigrate_clock_msec();
    best = 0;

    for (i = 0; i < ngx_http_oxmigrate_dcf->servers->nelts; i++) {
        if ((ngx_msec_int_t) (down[i] - now) <= 0) {
            return i;
        }

        if ((ngx_msec_int_t) (down[i] - down[best]) < 0) {
            best = i;
        }
    }

    return best;
}


/*
 * Marks a server down for ms (with one server there is nothing to fail
 * over to: it is never marked); its idle connections are closed, so the
 * next lookups connect to the next server.
 */

static void
ngx_http_oxmigrate_db_mark(ngx_uint_t server, ngx_msec_t ms, const char *why)
{
    ngx_queue_t                     *q, *next;
    ngx_http_oxmigrate_db_conn_t    *dc;
    ngx_http_oxmigrate_db_server_t  *srv;

    if (ngx_http_oxmigrate_dcf->servers->nelts < 2) {
        return;
    }

    srv = (ngx_http_oxmigrate_db_server_t *)
              ngx_http_oxmigrate_dcf->servers->elts + server;

    if ((ngx_msec_int_t) (ngx_http_oxmigrate_db_down_until[server]
                          - ngx_http_oxmigrate_clock_msec()) <= 0)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "oxmigrate: configdb server %s:%ui %s, "
                      "skipped for %M ms",
                      srv->socket.len ? srv->socket.data : srv->host.data,
                      srv->port, why, ms);
    }

    ngx_http_oxmigrate_db_down_until[server] =
        ngx_http_oxmigrate_clock_msec() + ms;

    for (q = ngx_queue_head(&ngx_http_oxmigrate_db_idle);
         q != ngx_queue_sentinel(&ngx_http_oxmigrate_db_idle);
         q = next)
    {
        next = ngx_queue_next(q);
        dc = ngx_queue_data(q, ngx_http_oxmigrate_db_conn_t, queue);

        if (dc->server == server) {
            ngx_http_oxmigrate_db_close(dc);
        }
    }
}


/* the same request once more, on another server, while there is one */

static ngx_int_t
ngx_http_oxmigrate_db_retry(ngx_http_oxmigrate_db_req_t *req)
{
    if (++req->tries >= ngx_http_oxmigrate_dcf->servers->nelts) {
        return NGX_ERROR;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "oxmigrate: configdb lookup asked again (try %ui)",
                   req->tries + 1);

    /* as db_start(), but req stays the caller's when this fails */

    ngx_http_oxmigrate_db_leave_worse();

    if (!ngx_queue_empty(&ngx_http_oxmigrate_db_idle)) {
        ngx_http_oxmigrate_db_query_idle(req);
        return NGX_OK;
    }

    if (ngx_http_oxmigrate_db_nconns < ngx_http_oxmigrate_dcf->pool) {
        return ngx_http_oxmigrate_db_connect(req);
    }

    ngx_queue_insert_tail(&ngx_http_oxmigrate_db_pending, &req->queue);

    req->event.handler = ngx_http_oxmigrate_db_queue_timeout;
    ngx_add_timer(&req->event, ngx_http_oxmigrate_dcf->connect_timeout
                               + ngx_http_oxmigrate_dcf->timeout);

    return NGX_OK;
}


/*
 * After a failover the idle connections lead to a less preferred server;
 * once the preferred one is no longer marked, they are closed as they come
 * up for a query, so new ones go back to it.
 */

static void
ngx_http_oxmigrate_db_leave_worse(void)
{
    ngx_uint_t                     best;
    ngx_queue_t                   *q;
    ngx_http_oxmigrate_db_conn_t  *dc;

    if (ngx_http_oxmigrate_dcf->servers->nelts < 2
        || ngx_queue_empty(&ngx_http_oxmigrate_db_idle))
    {
        return;
    }

    best = ngx_http_oxmigrate_db_pick();

    q = ngx_queue_head(&ngx_http_oxmigrate_db_idle);
    dc = ngx_queue_data(q, ngx_http_oxmigrate_db_conn_t, queue);

    if (dc->server > best) {
        ngx_http_oxmigrate_db_close(dc);
    }
}
