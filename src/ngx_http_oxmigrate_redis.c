/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate: the Redis layer, hiredis async on nginx's event loop.
 *
 * One redisAsyncContext per worker.  Its socket is wrapped in an
 * ngx_connection_t so that nginx's event module drives hiredis: the read and
 * write handlers call redisAsyncHandleRead/Write, and hiredis asks for events
 * through the ev.addRead/... hooks below.
 *
 * hiredis 0.14 (Debian 12) has no timeouts of its own, so every command that
 * waits for an answer carries an nginx timer.  Replies come back in order on
 * one connection, so a command that times out means that everything queued
 * behind it is stuck as well: the connection is dropped, hiredis answers all
 * pending callbacks with a NULL reply, and a reconnect is tried a second
 * later.  While the connection is not up, get() declines at once, so a login
 * goes to MariaDB without waiting.
 *
 * The invalidation epoch (<prefix>epoch) is polled twice a second (the
 * contract is "within 1 s", and a poll plus the login that follows must fit
 * in it); cached values are keyed by epoch, so an increment retires every
 * older entry in every worker within a second.
 *
 * Rules hiredis imposes, and why the code looks the way it does:
 *  - hiredis closes its own fd (redisFree): the cleanup hook deletes the
 *    events and frees the ngx_connection_t, but never closes it.
 *  - redisAsyncFree() must not run inside hiredis (a callback or a hook):
 *    there the drop is deferred to a posted event.
 *  - redisAsyncHandleRead/Write may free the context: nothing touches it
 *    after they return.
 *  - redisBufferRead() reads at most 16k per call, so the events are level
 *    triggered: with edge triggered epoll a burst of pipelined replies larger
 *    than that would stall until the next packet.
 *
 * The worker's state is one struct, ngx_http_oxmigrate_redis_t, as nginx's
 * upstream keepalive module keeps one per connection pool: the context and
 * its generation, the connection state, the epoch and when it was read,
 * the log-once flags, the four events (connect timeout, reconnect, epoch
 * poll, the deferred drop of the second rule with drop_gen/drop_reason) and
 * the dummy connection their ev->data points to.  It is the file's one
 * static, one instance per worker process, filled by init_worker: hiredis'
 * callbacks and the callers of get/set/epoch carry no pointer to it, and a
 * process that never ran init_worker finds it zeroed (down, epoch 0, not
 * inited).  Nothing outside this file touches it.
 */


#include <hiredis/hiredis.h>
#include <hiredis/async.h>

#include "ngx_http_oxmigrate.h"


#define NGX_HTTP_OXMIGRATE_REDIS_RECONNECT      1000
#define NGX_HTTP_OXMIGRATE_REDIS_POLL           500
#define NGX_HTTP_OXMIGRATE_REDIS_TIMEOUT        1000   /* when unset */
#define NGX_HTTP_OXMIGRATE_REDIS_TTL            300    /* when unset */
#define NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN                                      \
    (NGX_HTTP_OXMIGRATE_KEY_MAX + 256)


typedef enum {
    NGX_HTTP_OXMIGRATE_REDIS_DOWN = 0,
    NGX_HTTP_OXMIGRATE_REDIS_CONNECTING,   /* TCP, AUTH, SELECT, first poll */
    NGX_HTTP_OXMIGRATE_REDIS_CONNECTED
} ngx_http_oxmigrate_redis_state_e;


/* one command waiting for its reply; not in any request's pool */
typedef struct {
    ngx_event_t                        timer;
    ngx_http_oxmigrate_redis_get_pt    handler;
    void                              *data;
} ngx_http_oxmigrate_redis_req_t;


/*
 * The worker's Redis state: the only mutable file-scope data of this file,
 * one instance per worker process (see the header comment).
 */
typedef struct {
    ngx_http_oxmigrate_redis_conf_t   *conf;
    ngx_log_t                         *log;
    char                              *host;      /* NUL-terminated */

    redisAsyncContext                 *ac;        /* NULL: none */
    ngx_http_oxmigrate_redis_state_e   state;
    ngx_uint_t                         epoch_value;
    ngx_msec_t                         epoch_at;  /* when it was true */
    ngx_msec_t                         poll_sent;

    /* a context generation, so a deferred drop hits the context it was for */
    ngx_uint_t                         gen;
    ngx_uint_t                         drop_gen;
    const char                        *drop_reason;

    ngx_uint_t                         setup_n;   /* AUTH/SELECT unanswered */
    ngx_uint_t                         inited;
    ngx_uint_t                         ever_up;
    ngx_uint_t                         reported;  /* "down" was logged */
    ngx_uint_t                         polling;   /* an epoch GET in flight */
    ngx_uint_t                         set_err;
    ngx_uint_t                         epoch_err;
    /* no reconnects: the worker is shutting down */
    ngx_uint_t                         quitting;
    /* no handlers: the worker process is exiting, requests are abandoned */
    ngx_uint_t                         exiting;

    ngx_event_t                        connect_ev;
    ngx_event_t                        reconnect_ev;
    ngx_event_t                        poll_ev;
    ngx_event_t                        drop_ev;

    /*
     * Timer events carry a connection in ev->data for nginx's debug log
     * (ngx_event_ident reads its fd): a dummy one with fd -1.
     */
    ngx_connection_t                   dummy;
} ngx_http_oxmigrate_redis_t;


static void ngx_http_oxmigrate_redis_connect(void);
static void ngx_http_oxmigrate_redis_connected(void);
static void ngx_http_oxmigrate_redis_mark_down(ngx_uint_t level,
    const char *reason);
static void ngx_http_oxmigrate_redis_drop(const char *reason);
static void ngx_http_oxmigrate_redis_drop_later(const char *reason);
static void ngx_http_oxmigrate_redis_lost(const redisAsyncContext *ac);
static void ngx_http_oxmigrate_redis_schedule_reconnect(void);
static ngx_int_t ngx_http_oxmigrate_redis_send(redisAsyncContext *ac,
    ngx_http_oxmigrate_redis_get_pt handler, void *data, const char *fmt,
    u_char *arg, size_t len);
static size_t ngx_http_oxmigrate_redis_key(u_char *buf, ngx_str_t *key,
    ngx_uint_t epoch);

static void ngx_http_oxmigrate_redis_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_oxmigrate_redis_set_reply(redisAsyncContext *ac,
    void *r, void *privdata);
static void ngx_http_oxmigrate_redis_setup_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static void ngx_http_oxmigrate_redis_epoch_handler(void *data, ngx_int_t rc,
    ngx_str_t *value);
static ngx_uint_t ngx_http_oxmigrate_redis_epoch_back(ngx_uint_t epoch);
static void ngx_http_oxmigrate_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_oxmigrate_redis_on_disconnect(
    const redisAsyncContext *ac, int status);

static void ngx_http_oxmigrate_redis_add_read(void *privdata);
static void ngx_http_oxmigrate_redis_del_read(void *privdata);
static void ngx_http_oxmigrate_redis_add_write(void *privdata);
static void ngx_http_oxmigrate_redis_del_write(void *privdata);
static void ngx_http_oxmigrate_redis_cleanup(void *privdata);
static void ngx_http_oxmigrate_redis_read_handler(ngx_event_t *rev);
static void ngx_http_oxmigrate_redis_write_handler(ngx_event_t *wev);

static void ngx_http_oxmigrate_redis_timeout_handler(ngx_event_t *ev);
static void ngx_http_oxmigrate_redis_connect_timeout_handler(ngx_event_t *ev);
static void ngx_http_oxmigrate_redis_reconnect_handler(ngx_event_t *ev);
static void ngx_http_oxmigrate_redis_poll_handler(ngx_event_t *ev);
static void ngx_http_oxmigrate_redis_drop_handler(ngx_event_t *ev);


/* zeroed like any static: DOWN, epoch 0, not inited */
static ngx_http_oxmigrate_redis_t        ngx_http_oxmigrate_redis;


#define ngx_http_oxmigrate_redis_stopping()                                  \
    (ngx_http_oxmigrate_redis.quitting || ngx_exiting || ngx_quit            \
     || ngx_terminate)


ngx_int_t
ngx_http_oxmigrate_redis_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_redis_conf_t *rcf)
{
    ngx_uint_t    i;
    ngx_event_t  *ev[4];

    ngx_http_oxmigrate_redis.conf = rcf;
    ngx_http_oxmigrate_redis.log = cycle->log;

    ngx_http_oxmigrate_redis.host = ngx_pnalloc(cycle->pool,
                                                rcf->host.len + 1);
    if (ngx_http_oxmigrate_redis.host == NULL) {
        return NGX_ERROR;
    }

    (void) ngx_cpystrn((u_char *) ngx_http_oxmigrate_redis.host,
                       rcf->host.data, rcf->host.len + 1);

    ngx_http_oxmigrate_redis.dummy.fd = (ngx_socket_t) -1;

    ev[0] = &ngx_http_oxmigrate_redis.connect_ev;
    ev[0]->handler = ngx_http_oxmigrate_redis_connect_timeout_handler;
    ev[1] = &ngx_http_oxmigrate_redis.reconnect_ev;
    ev[1]->handler = ngx_http_oxmigrate_redis_reconnect_handler;
    ev[2] = &ngx_http_oxmigrate_redis.poll_ev;
    ev[2]->handler = ngx_http_oxmigrate_redis_poll_handler;
    ev[3] = &ngx_http_oxmigrate_redis.drop_ev;
    ev[3]->handler = ngx_http_oxmigrate_redis_drop_handler;

    for (i = 0; i < 4; i++) {
        ev[i]->data = &ngx_http_oxmigrate_redis.dummy;
        ev[i]->log = cycle->log;
        /* a reload or a graceful shutdown must not wait for these */
        ev[i]->cancelable = 1;
    }

    ngx_http_oxmigrate_redis.state = NGX_HTTP_OXMIGRATE_REDIS_DOWN;
    ngx_http_oxmigrate_redis.inited = 1;

    ngx_http_oxmigrate_redis_connect();

    ngx_add_timer(&ngx_http_oxmigrate_redis.poll_ev,
                  NGX_HTTP_OXMIGRATE_REDIS_POLL);

    return NGX_OK;
}


void
ngx_http_oxmigrate_redis_exit_worker(ngx_cycle_t *cycle)
{
    if (!ngx_http_oxmigrate_redis.inited) {
        return;
    }

    /*
     * The process is about to exit: the requests that wait for Redis are
     * abandoned with their connections, so pending callbacks only free
     * their state and call nobody.
     */

    ngx_http_oxmigrate_redis.quitting = 1;
    ngx_http_oxmigrate_redis.exiting = 1;

    if (ngx_http_oxmigrate_redis.connect_ev.timer_set) {
        ngx_del_timer(&ngx_http_oxmigrate_redis.connect_ev);
    }

    if (ngx_http_oxmigrate_redis.reconnect_ev.timer_set) {
        ngx_del_timer(&ngx_http_oxmigrate_redis.reconnect_ev);
    }

    if (ngx_http_oxmigrate_redis.poll_ev.timer_set) {
        ngx_del_timer(&ngx_http_oxmigrate_redis.poll_ev);
    }

    if (ngx_http_oxmigrate_redis.drop_ev.posted) {
        ngx_delete_posted_event(&ngx_http_oxmigrate_redis.drop_ev);
    }

    ngx_http_oxmigrate_redis_drop(NULL);

    ngx_http_oxmigrate_redis.inited = 0;
}


ngx_uint_t
ngx_http_oxmigrate_redis_epoch(ngx_msec_t *at)
{
    *at = ngx_http_oxmigrate_redis.epoch_at;

    return ngx_http_oxmigrate_redis.epoch_value;
}


ngx_int_t
ngx_http_oxmigrate_redis_get(ngx_str_t *key, ngx_uint_t epoch,
    ngx_http_oxmigrate_redis_get_pt handler, void *data)
{
    size_t  len;
    u_char  buf[NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN];

    if (ngx_http_oxmigrate_redis.state != NGX_HTTP_OXMIGRATE_REDIS_CONNECTED
        || ngx_http_oxmigrate_redis.ac == NULL)
    {
        return NGX_DECLINED;
    }

    len = ngx_http_oxmigrate_redis_key(buf, key, epoch);
    if (len == 0) {
        return NGX_DECLINED;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                   "oxmigrate redis: GET \"%*s\"", len, buf);

    /*
     * hiredis only queues the command here: the handler runs from an event
     * handler later, never before get() returns.
     */

    return ngx_http_oxmigrate_redis_send(ngx_http_oxmigrate_redis.ac,
                                         handler, data, "GET %b", buf, len);
}


void
ngx_http_oxmigrate_redis_set(ngx_str_t *key, ngx_uint_t epoch,
    ngx_str_t *value, time_t ttl)
{
    size_t  len;
    u_char  buf[NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN];

    if (ngx_http_oxmigrate_redis.state != NGX_HTTP_OXMIGRATE_REDIS_CONNECTED
        || ngx_http_oxmigrate_redis.ac == NULL)
    {
        return;
    }

    if (ttl <= 0) {
        ttl = ngx_http_oxmigrate_redis.conf->ttl;

        if (ttl <= 0) {
            ttl = NGX_HTTP_OXMIGRATE_REDIS_TTL;
        }
    }

    len = ngx_http_oxmigrate_redis_key(buf, key, epoch);
    if (len == 0) {
        return;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                   "oxmigrate redis: SET \"%*s\" EX %T", len, buf, ttl);

    /* the reply only matters when it is an error */

    (void) redisAsyncCommand(ngx_http_oxmigrate_redis.ac,
                             ngx_http_oxmigrate_redis_set_reply, NULL,
                             "SET %b %b EX %lld", buf, len,
                             value->data, value->len, (long long) ttl);
}


/* GET <prefix><name>: a key of oxmigrate's own, not of a lookup (hold.c) */

ngx_int_t
ngx_http_oxmigrate_redis_get_raw(ngx_str_t *name,
    ngx_http_oxmigrate_redis_get_pt handler, void *data)
{
    u_char      buf[NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN];
    ngx_str_t  *prefix;

    if (ngx_http_oxmigrate_redis.conf == NULL) {
        return NGX_DECLINED;
    }

    prefix = &ngx_http_oxmigrate_redis.conf->prefix;

    if (ngx_http_oxmigrate_redis.state != NGX_HTTP_OXMIGRATE_REDIS_CONNECTED
        || ngx_http_oxmigrate_redis.ac == NULL
        || prefix->len + name->len > sizeof(buf))
    {
        return NGX_DECLINED;
    }

    ngx_memcpy(ngx_cpymem(buf, prefix->data, prefix->len), name->data,
               name->len);

    return ngx_http_oxmigrate_redis_send(ngx_http_oxmigrate_redis.ac,
                                         handler, data, "GET %b", buf,
                                         prefix->len + name->len);
}


/* HINCRBY <prefix><name> field 1 and EXPIRE, fire and forget (hold.c) */

void
ngx_http_oxmigrate_redis_hincr(ngx_str_t *name, const char *field,
    time_t ttl)
{
    size_t      len;
    u_char      buf[NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN];
    ngx_str_t  *prefix;

    if (ngx_http_oxmigrate_redis.conf == NULL) {
        return;
    }

    prefix = &ngx_http_oxmigrate_redis.conf->prefix;

    if (ngx_http_oxmigrate_redis.state != NGX_HTTP_OXMIGRATE_REDIS_CONNECTED
        || ngx_http_oxmigrate_redis.ac == NULL
        || prefix->len + name->len > sizeof(buf))
    {
        return;
    }

    len = ngx_cpymem(ngx_cpymem(buf, prefix->data, prefix->len), name->data,
                     name->len)
          - buf;

    (void) redisAsyncCommand(ngx_http_oxmigrate_redis.ac,
                             ngx_http_oxmigrate_redis_set_reply, NULL,
                             "HINCRBY %b %s 1", buf, len, field);
    (void) redisAsyncCommand(ngx_http_oxmigrate_redis.ac,
                             ngx_http_oxmigrate_redis_set_reply, NULL,
                             "EXPIRE %b %lld", buf, len, (long long) ttl);
}


/*
 * <prefix>v<epoch>:<key>, or <prefix>v<epoch>#cid:<cid> for a lookup by
 * context id; 0 when it does not fit
 */

static size_t
ngx_http_oxmigrate_redis_key(u_char *buf, ngx_str_t *key, ngx_uint_t epoch)
{
    u_char     *p;
    ngx_str_t  *prefix;

    prefix = &ngx_http_oxmigrate_redis.conf->prefix;

    if (prefix->len + key->len + NGX_INT_T_LEN + 2
        > NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN)
    {
        ngx_log_error(NGX_LOG_WARN, ngx_http_oxmigrate_redis.log, 0,
                      "oxmigrate redis: key of %uz bytes is too long",
                      key->len);
        return 0;
    }

    if (ngx_http_oxmigrate_is_cid_key(key)) {
        p = ngx_sprintf(buf, "%Vv%ui#%*s", prefix, epoch, key->len - 1,
                        key->data + 1);

    } else {
        p = ngx_sprintf(buf, "%Vv%ui:%V", prefix, epoch, key);
    }

    return p - buf;
}


/*
 * Queues a command whose reply goes to handler, with a timer.
 * NGX_OK: handler will be called once.  NGX_DECLINED: it will not.
 */

static ngx_int_t
ngx_http_oxmigrate_redis_send(redisAsyncContext *ac,
    ngx_http_oxmigrate_redis_get_pt handler, void *data, const char *fmt,
    u_char *arg, size_t len)
{
    ngx_msec_t                       timeout;
    ngx_http_oxmigrate_redis_req_t  *req;

    req = ngx_alloc(sizeof(ngx_http_oxmigrate_redis_req_t),
                    ngx_http_oxmigrate_redis.log);
    if (req == NULL) {
        return NGX_DECLINED;
    }

    ngx_memzero(req, sizeof(ngx_http_oxmigrate_redis_req_t));

    req->handler = handler;
    req->data = data;

    req->timer.handler = ngx_http_oxmigrate_redis_timeout_handler;
    req->timer.data = &ngx_http_oxmigrate_redis.dummy;
    req->timer.log = ngx_http_oxmigrate_redis.log;
    req->timer.cancelable = 1;

    if (redisAsyncCommand(ac, ngx_http_oxmigrate_redis_reply, req, fmt,
                          arg, len)
        != REDIS_OK)
    {
        /* the context is going away, or out of memory */
        ngx_free(req);
        return NGX_DECLINED;
    }

    timeout = ngx_http_oxmigrate_redis.conf->timeout;

    if (timeout == 0 || timeout == NGX_CONF_UNSET_MSEC) {
        timeout = NGX_HTTP_OXMIGRATE_REDIS_TIMEOUT;
    }

    ngx_add_timer(&req->timer, timeout);

    return NGX_OK;
}


static void
ngx_http_oxmigrate_redis_connect(void)
{
    u_char                           *host;
    ngx_connection_t                 *c;
    redisAsyncContext                *ac;
    ngx_http_oxmigrate_redis_conf_t  *rcf;

    rcf = ngx_http_oxmigrate_redis.conf;
    host = (u_char *) ngx_http_oxmigrate_redis.host;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                   "oxmigrate redis: connecting to %V:%ui",
                   &rcf->host, rcf->port);

    /*
     * The host is a numeric address (resolved at configuration time), so
     * hiredis' getaddrinfo() does not block; the connect is non-blocking.
     */

    if (ngx_strncmp(host, "unix:", 5) == 0) {
        ac = redisAsyncConnectUnix((char *) host + 5);

    } else {
        ac = redisAsyncConnect((char *) host, (int) rcf->port);
    }

    if (ac == NULL) {
        ngx_http_oxmigrate_redis_mark_down(NGX_LOG_WARN, "out of memory");
        ngx_http_oxmigrate_redis_schedule_reconnect();
        return;
    }

    if (ac->err) {
        /* e.g. "Connection refused" straight from connect() */
        ngx_http_oxmigrate_redis_mark_down(NGX_LOG_WARN, ac->errstr);
        redisAsyncFree(ac);
        ngx_http_oxmigrate_redis_schedule_reconnect();
        return;
    }

    c = ngx_get_connection(ac->c.fd, ngx_http_oxmigrate_redis.log);
    if (c == NULL) {
        ngx_http_oxmigrate_redis_mark_down(NGX_LOG_WARN,
                                           "no free connection");
        redisAsyncFree(ac);
        ngx_http_oxmigrate_redis_schedule_reconnect();
        return;
    }

    c->data = ac;
    c->read->handler = ngx_http_oxmigrate_redis_read_handler;
    c->write->handler = ngx_http_oxmigrate_redis_write_handler;
    c->read->log = ngx_http_oxmigrate_redis.log;
    c->write->log = ngx_http_oxmigrate_redis.log;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);

    /*
     * Like an idle upstream keepalive connection: a graceful shutdown
     * (ngx_close_idle_connections) sets c->close and calls the read
     * handler, which drops the connection instead of keeping the worker.
     */
    c->idle = 1;

    ac->ev.data = c;
    ac->ev.addRead = ngx_http_oxmigrate_redis_add_read;
    ac->ev.delRead = ngx_http_oxmigrate_redis_del_read;
    ac->ev.addWrite = ngx_http_oxmigrate_redis_add_write;
    ac->ev.delWrite = ngx_http_oxmigrate_redis_del_write;
    ac->ev.cleanup = ngx_http_oxmigrate_redis_cleanup;

    ngx_http_oxmigrate_redis.ac = ac;
    ngx_http_oxmigrate_redis.gen++;
    ngx_http_oxmigrate_redis.state = NGX_HTTP_OXMIGRATE_REDIS_CONNECTING;
    ngx_http_oxmigrate_redis.setup_n = 0;
    ngx_http_oxmigrate_redis.set_err = 0;
    /* the last context's poll was answered (NULL reply) when it was freed */
    ngx_http_oxmigrate_redis.polling = 0;

    (void) redisAsyncSetDisconnectCallback(ac,
                                   ngx_http_oxmigrate_redis_on_disconnect);

    /* this adds the write event: connect(2) completes when it fires */
    (void) redisAsyncSetConnectCallback(ac,
                                   ngx_http_oxmigrate_redis_on_connect);

    ngx_add_timer(&ngx_http_oxmigrate_redis.connect_ev,
                  (rcf->timeout && rcf->timeout != NGX_CONF_UNSET_MSEC)
                  ? rcf->timeout : NGX_HTTP_OXMIGRATE_REDIS_TIMEOUT);
}


/* called by hiredis (not flagged as "in callback") */

static void
ngx_http_oxmigrate_redis_on_connect(const redisAsyncContext *cac, int status)
{
    u_char                           *p;
    u_char                            buf[NGX_INT_T_LEN + 2];
    redisAsyncContext                *ac;
    ngx_http_oxmigrate_redis_conf_t  *rcf;

    ac = (redisAsyncContext *) cac;

    if (ac != ngx_http_oxmigrate_redis.ac) {
        return;
    }

    if (status != REDIS_OK) {
        /* hiredis frees the context right after this returns */
        ngx_http_oxmigrate_redis_lost(ac);
        return;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                   "oxmigrate redis: TCP connected");

    rcf = ngx_http_oxmigrate_redis.conf;

    /*
     * AUTH and SELECT are pipelined before everything else; the connection
     * counts as up once the first epoch poll behind them is answered, so
     * get() never runs with a stale epoch or on a wrong database.
     */

    if (rcf->password.len) {
        if (ngx_http_oxmigrate_redis_send(ac,
                                      ngx_http_oxmigrate_redis_setup_handler,
                                      (void *) "AUTH", "AUTH %b",
                                      rcf->password.data, rcf->password.len)
            != NGX_OK)
        {
            ngx_http_oxmigrate_redis_drop_later("AUTH not sent");
            return;
        }

        ngx_http_oxmigrate_redis.setup_n++;
    }

    if (rcf->db != 0 && rcf->db != NGX_CONF_UNSET) {
        p = ngx_sprintf(buf, "%i", rcf->db);

        if (ngx_http_oxmigrate_redis_send(ac,
                                      ngx_http_oxmigrate_redis_setup_handler,
                                      (void *) "SELECT", "SELECT %b",
                                      buf, p - buf)
            != NGX_OK)
        {
            ngx_http_oxmigrate_redis_drop_later("SELECT not sent");
            return;
        }

        ngx_http_oxmigrate_redis.setup_n++;
    }

    ngx_http_oxmigrate_redis_poll_handler(NULL);
}


/* all redisAsyncFree() paths of a connected context end here */

static void
ngx_http_oxmigrate_redis_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                   "oxmigrate redis: disconnected, status %d", status);

    ngx_http_oxmigrate_redis_lost(ac);
}


static void
ngx_http_oxmigrate_redis_connected(void)
{
    ngx_uint_t                        level;
    ngx_http_oxmigrate_redis_conf_t  *rcf;

    if (ngx_http_oxmigrate_redis.connect_ev.timer_set) {
        ngx_del_timer(&ngx_http_oxmigrate_redis.connect_ev);
    }

    rcf = ngx_http_oxmigrate_redis.conf;

    ngx_http_oxmigrate_redis.state = NGX_HTTP_OXMIGRATE_REDIS_CONNECTED;

    ngx_http_oxmigrate_metrics_backend(NGX_HTTP_OXMIGRATE_M_REDIS,
                                       NGX_HTTP_OXMIGRATE_M_UP);

    level = ngx_http_oxmigrate_redis.reported ? NGX_LOG_WARN : NGX_LOG_NOTICE;

    ngx_log_error(level, ngx_http_oxmigrate_redis.log, 0,
                  "oxmigrate redis %V:%ui %s, epoch %ui",
                  &rcf->host, rcf->port,
                  ngx_http_oxmigrate_redis.ever_up ? "reconnected"
                                                   : "connected",
                  ngx_http_oxmigrate_redis.epoch_value);

    ngx_http_oxmigrate_redis.reported = 0;
    ngx_http_oxmigrate_redis.ever_up = 1;
}


/*
 * The state becomes "down" (get() declines from now on); logs once per
 * transition, not per failed reconnect.  reason NULL: quietly.
 */

static void
ngx_http_oxmigrate_redis_mark_down(ngx_uint_t level, const char *reason)
{
    ngx_http_oxmigrate_redis_conf_t  *rcf;

    rcf = ngx_http_oxmigrate_redis.conf;

    if (reason != NULL && !ngx_http_oxmigrate_redis.exiting) {
        ngx_http_oxmigrate_metrics_backend(NGX_HTTP_OXMIGRATE_M_REDIS,
            ngx_strstr(reason, "timed out") ? NGX_HTTP_OXMIGRATE_M_TIMEOUT
                                            : NGX_HTTP_OXMIGRATE_M_CONNECT);
    }

    if (reason == NULL || ngx_http_oxmigrate_redis.exiting) {
        /* shutdown */

    } else if (ngx_http_oxmigrate_redis.state
               == NGX_HTTP_OXMIGRATE_REDIS_CONNECTED)
    {
        ngx_log_error(level, ngx_http_oxmigrate_redis.log, 0,
                      "oxmigrate redis %V:%ui down: %s, logins are answered "
                      "from MariaDB until it is back",
                      &rcf->host, rcf->port, reason);
        ngx_http_oxmigrate_redis.reported = 1;

    } else if (!ngx_http_oxmigrate_redis.reported) {
        ngx_log_error(level, ngx_http_oxmigrate_redis.log, 0,
                      "oxmigrate redis %V:%ui unavailable: %s, "
                      "retrying every second",
                      &rcf->host, rcf->port, reason);
        ngx_http_oxmigrate_redis.reported = 1;

    } else {
        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                       "oxmigrate redis %V:%ui still unavailable: %s",
                       &rcf->host, rcf->port, reason);
    }

    ngx_http_oxmigrate_redis.state = NGX_HTTP_OXMIGRATE_REDIS_DOWN;

    if (ngx_http_oxmigrate_redis.connect_ev.timer_set) {
        ngx_del_timer(&ngx_http_oxmigrate_redis.connect_ev);
    }
}


/*
 * Frees the context now: hiredis answers every pending callback with a NULL
 * reply (their handlers get NGX_ERROR), then calls the cleanup hook.  Only
 * from outside hiredis: timers, posted events, nginx's close of idle
 * connections, exit_worker.
 */

static void
ngx_http_oxmigrate_redis_drop(const char *reason)
{
    redisAsyncContext  *ac;

    ac = ngx_http_oxmigrate_redis.ac;

    if (ac == NULL) {
        return;
    }

    if (ac->c.flags & REDIS_IN_CALLBACK) {
        ngx_http_oxmigrate_redis_drop_later(reason);
        return;
    }

    ngx_http_oxmigrate_redis_mark_down(NGX_LOG_WARN, reason);

    ngx_http_oxmigrate_redis.ac = NULL;

    redisAsyncFree(ac);

    ngx_http_oxmigrate_redis_schedule_reconnect();
}


/* from inside hiredis: callbacks and event hooks */

static void
ngx_http_oxmigrate_redis_drop_later(const char *reason)
{
    if (ngx_http_oxmigrate_redis.ac == NULL) {
        return;
    }

    ngx_http_oxmigrate_redis_mark_down(NGX_LOG_WARN, reason);

    ngx_http_oxmigrate_redis.drop_gen = ngx_http_oxmigrate_redis.gen;
    ngx_http_oxmigrate_redis.drop_reason = reason;

    ngx_post_event(&ngx_http_oxmigrate_redis.drop_ev, &ngx_posted_events);
}


static void
ngx_http_oxmigrate_redis_drop_handler(ngx_event_t *ev)
{
    if (ngx_http_oxmigrate_redis.drop_gen != ngx_http_oxmigrate_redis.gen) {
        return;
    }

    ngx_http_oxmigrate_redis_drop(ngx_http_oxmigrate_redis.drop_reason);
}


/* hiredis is freeing ac on its own (error, EOF, failed connect) */

static void
ngx_http_oxmigrate_redis_lost(const redisAsyncContext *ac)
{
    if (ac != ngx_http_oxmigrate_redis.ac) {
        /* we dropped it ourselves, or already noticed */
        return;
    }

    /* ac->err is copied from ac->c only after onConnect returns */

    ngx_http_oxmigrate_redis_mark_down(NGX_LOG_WARN,
                                       ac->c.err ? ac->c.errstr
                                                 : "connection closed");

    ngx_http_oxmigrate_redis.ac = NULL;

    ngx_http_oxmigrate_redis_schedule_reconnect();
}


static void
ngx_http_oxmigrate_redis_schedule_reconnect(void)
{
    if (ngx_http_oxmigrate_redis_stopping()) {
        return;
    }

    ngx_add_timer(&ngx_http_oxmigrate_redis.reconnect_ev,
                  NGX_HTTP_OXMIGRATE_REDIS_RECONNECT);
}


static void
ngx_http_oxmigrate_redis_reconnect_handler(ngx_event_t *ev)
{
    if (ngx_http_oxmigrate_redis_stopping()
        || ngx_http_oxmigrate_redis.ac != NULL)
    {
        return;
    }

    ngx_http_oxmigrate_redis_connect();
}


static void
ngx_http_oxmigrate_redis_connect_timeout_handler(ngx_event_t *ev)
{
    if (ngx_http_oxmigrate_redis.state
        != NGX_HTTP_OXMIGRATE_REDIS_CONNECTING)
    {
        return;
    }

    ngx_http_oxmigrate_redis_drop("connect timed out");
}


static void
ngx_http_oxmigrate_redis_timeout_handler(ngx_event_t *ev)
{
    /*
     * Replies arrive in order: whatever was sent after this command is
     * stuck too.  Dropping the connection answers all of them, this one
     * included, with NGX_ERROR through their NULL-reply callbacks.
     */

    ngx_http_oxmigrate_redis_drop("command timed out");
}


/*
 * Every second: GET <prefix>epoch.  Called with ev NULL right after the
 * TCP connection is up, as the last step of the setup.
 */

static void
ngx_http_oxmigrate_redis_poll_handler(ngx_event_t *ev)
{
    u_char              buf[NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN];
    ngx_str_t          *prefix;
    redisAsyncContext  *ac;

    if (ev != NULL) {
        if (ngx_http_oxmigrate_redis_stopping()) {
            return;
        }

        ngx_add_timer(ev, NGX_HTTP_OXMIGRATE_REDIS_POLL);

        if (ngx_http_oxmigrate_redis.state
            != NGX_HTTP_OXMIGRATE_REDIS_CONNECTED)
        {
            return;
        }
    }

    ac = ngx_http_oxmigrate_redis.ac;

    /* a poll still in flight is covered by its own timer */

    if (ac == NULL || ngx_http_oxmigrate_redis.polling) {
        return;
    }

    prefix = &ngx_http_oxmigrate_redis.conf->prefix;

    if (prefix->len + sizeof("epoch") > sizeof(buf)) {
        return;
    }

    ngx_memcpy(buf, prefix->data, prefix->len);
    ngx_memcpy(buf + prefix->len, "epoch", sizeof("epoch") - 1);

    if (ngx_http_oxmigrate_redis_send(ac,
                                      ngx_http_oxmigrate_redis_epoch_handler,
                                      NULL, "GET %b", buf,
                                      prefix->len + sizeof("epoch") - 1)
        != NGX_OK)
    {
        if (ev == NULL) {
            ngx_http_oxmigrate_redis_drop_later("epoch poll not sent");
        }

        return;
    }

    ngx_http_oxmigrate_redis.polling = 1;
    ngx_http_oxmigrate_redis.poll_sent = ngx_current_msec;
}


static void
ngx_http_oxmigrate_redis_epoch_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    ngx_int_t   n;
    ngx_uint_t  epoch;

    ngx_http_oxmigrate_redis.polling = 0;

    epoch = ngx_http_oxmigrate_redis.epoch_value;

    switch (rc) {

    case NGX_OK:
        n = ngx_atoi(value->data, value->len);

        if (n == NGX_ERROR) {
            if (!ngx_http_oxmigrate_redis.epoch_err) {
                ngx_log_error(NGX_LOG_ERR, ngx_http_oxmigrate_redis.log, 0,
                              "oxmigrate redis: %Vepoch is not a number: "
                              "\"%V\"",
                              &ngx_http_oxmigrate_redis.conf->prefix, value);
                ngx_http_oxmigrate_redis.epoch_err = 1;
            }

            rc = NGX_ERROR;
            break;
        }

        epoch = (ngx_uint_t) n;
        break;

    case NGX_DECLINED:
        /* nobody has incremented it yet */
        epoch = 0;
        break;

    default:
        if (value->len == 0) {
            /* a NULL reply: the connection is gone, the epoch is kept */
            return;
        }

        /* e.g. WRONGTYPE: the server answers, so it is still usable */

        if (!ngx_http_oxmigrate_redis.epoch_err
            && ngx_http_oxmigrate_redis.state
               != NGX_HTTP_OXMIGRATE_REDIS_DOWN)
        {
            ngx_log_error(NGX_LOG_ERR, ngx_http_oxmigrate_redis.log, 0,
                          "oxmigrate redis: GET %Vepoch: %V",
                          &ngx_http_oxmigrate_redis.conf->prefix, value);
            ngx_http_oxmigrate_redis.epoch_err = 1;
        }

        break;
    }

    if (rc != NGX_ERROR) {
        ngx_http_oxmigrate_redis.epoch_err = 0;
    }

    if (epoch < ngx_http_oxmigrate_redis.epoch_value && rc != NGX_ERROR) {
        epoch = ngx_http_oxmigrate_redis_epoch_back(epoch);
    }

    if (epoch != ngx_http_oxmigrate_redis.epoch_value) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_http_oxmigrate_redis.log, 0,
                      "oxmigrate redis: epoch %ui -> %ui",
                      ngx_http_oxmigrate_redis.epoch_value, epoch);
        ngx_http_oxmigrate_redis.epoch_value = epoch;

        /* when this was true: a newer observation wins in the shared zone */
        ngx_http_oxmigrate_redis.epoch_at =
                                ngx_http_oxmigrate_redis.poll_sent
                                ? ngx_http_oxmigrate_redis.poll_sent : 1;
    }

    if (ngx_http_oxmigrate_redis.state == NGX_HTTP_OXMIGRATE_REDIS_CONNECTING
        && ngx_http_oxmigrate_redis.setup_n == 0)
    {
        ngx_http_oxmigrate_redis_connected();
    }
}


static void
ngx_http_oxmigrate_redis_setup_handler(void *data, ngx_int_t rc,
    ngx_str_t *value)
{
    if (ngx_http_oxmigrate_redis.setup_n) {
        ngx_http_oxmigrate_redis.setup_n--;
    }

    if (rc == NGX_OK || value->len == 0) {
        /* done, or a NULL reply: the connection is already gone */
        return;
    }

    /*
     * A wrong password or database is a configuration error: log it at
     * "error" once, not at every reconnect, then treat Redis as down.
     */

    if (!ngx_http_oxmigrate_redis.reported) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_oxmigrate_redis.log, 0,
                      "oxmigrate redis %V:%ui: %s failed: %V",
                      &ngx_http_oxmigrate_redis.conf->host,
                      ngx_http_oxmigrate_redis.conf->port,
                      (char *) data, value);
        ngx_http_oxmigrate_redis.reported = 1;
    }

    ngx_http_oxmigrate_redis_drop_later("setup failed");
}


/* the callback of every command sent with a req */

static void
ngx_http_oxmigrate_redis_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    ngx_int_t                        rc;
    ngx_str_t                        value;
    redisReply                      *reply;
    ngx_http_oxmigrate_redis_req_t  *req;

    req = privdata;
    reply = r;

    if (req->timer.timer_set) {
        ngx_del_timer(&req->timer);
    }

    ngx_str_null(&value);

    if (reply == NULL) {
        /* the context is being freed: by us, or on an error */
        ngx_http_oxmigrate_redis_lost(ac);
        rc = NGX_ERROR;

    } else {
        switch (reply->type) {

        case REDIS_REPLY_STRING:
        case REDIS_REPLY_STATUS:
            value.data = (u_char *) reply->str;
            value.len = reply->len;
            rc = NGX_OK;
            break;

        case REDIS_REPLY_NIL:
            rc = NGX_DECLINED;
            break;

        case REDIS_REPLY_ERROR:
            value.data = (u_char *) reply->str;
            value.len = reply->len;
            rc = NGX_ERROR;

            ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log,
                           0, "oxmigrate redis: error reply \"%V\"", &value);
            break;

        default:
            rc = NGX_ERROR;
            break;
        }
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                   "oxmigrate redis: reply rc %i", rc);

    if (!ngx_http_oxmigrate_redis.exiting) {
        /* the value is hiredis' memory: valid during this call only */
        req->handler(req->data, rc, &value);
    }

    ngx_free(req);
}


static void
ngx_http_oxmigrate_redis_set_reply(redisAsyncContext *ac, void *r,
    void *privdata)
{
    redisReply  *reply;

    reply = r;

    if (reply == NULL || reply->type != REDIS_REPLY_ERROR) {
        return;
    }

    /* e.g. OOM or READONLY: once per connection, it repeats per login */

    if (!ngx_http_oxmigrate_redis.set_err) {
        ngx_http_oxmigrate_redis.set_err = 1;
        ngx_log_error(NGX_LOG_ERR, ngx_http_oxmigrate_redis.log, 0,
                      "oxmigrate redis: SET failed: %*s",
                      (size_t) reply->len, reply->str);
    }
}


/* event hooks: level triggered, idempotent as hiredis expects */

static void
ngx_http_oxmigrate_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        return;
    }

    if (ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_http_oxmigrate_redis_drop_later("adding a read event failed");
    }
}


static void
ngx_http_oxmigrate_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        return;
    }

    if (ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_http_oxmigrate_redis_drop_later("deleting a read event failed");
    }
}


static void
ngx_http_oxmigrate_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        return;
    }

    if (ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK) {
        ngx_http_oxmigrate_redis_drop_later("adding a write event failed");
    }
}


static void
ngx_http_oxmigrate_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->write->active) {
        return;
    }

    if (ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT) != NGX_OK)
    {
        ngx_http_oxmigrate_redis_drop_later("deleting a write event failed");
    }
}


/*
 * Called by hiredis just before it closes the fd: forget the events and
 * give the ngx_connection_t back, but leave the fd to hiredis.
 */

static void
ngx_http_oxmigrate_redis_cleanup(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                   "oxmigrate redis: cleanup fd:%d", c->fd);

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }

    /* with accept_mutex the events may be posted, not yet handled */

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    ngx_free_connection(c);

    /* the epoll loop recognizes events of this connection as stale */
    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_oxmigrate_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t  *c;

    c = rev->data;

    if (c->close) {
        /* graceful shutdown or reload: nginx closes idle connections */
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, ngx_http_oxmigrate_redis.log, 0,
                       "oxmigrate redis: closing on shutdown");

        ngx_http_oxmigrate_redis.quitting = 1;
        ngx_http_oxmigrate_redis_drop(NULL);
        return;
    }

    /* this may free the context and c */
    redisAsyncHandleRead(c->data);
}


static void
ngx_http_oxmigrate_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t  *c;

    c = wev->data;

    redisAsyncHandleWrite(c->data);
}


/*
 * The epoch went back: Redis restarted from an older snapshot (or lost its
 * data).  The entries it brought back are stored under that older epoch
 * and may predate changes made since: they must never be read.  The epoch
 * is moved past the last one this worker saw (INCRBY: another balancer
 * doing the same only moves it further), and this worker uses that at
 * once.
 */

static ngx_uint_t
ngx_http_oxmigrate_redis_epoch_back(ngx_uint_t epoch)
{
    u_char      buf[NGX_HTTP_OXMIGRATE_REDIS_KEY_LEN];
    ngx_str_t  *prefix;
    ngx_uint_t  next;

    next = ngx_http_oxmigrate_redis.epoch_value + 1;
    prefix = &ngx_http_oxmigrate_redis.conf->prefix;

    ngx_log_error(NGX_LOG_WARN, ngx_http_oxmigrate_redis.log, 0,
                  "oxmigrate redis: %Vepoch went back from %ui to %ui (a "
                  "restart from an older snapshot?): moved to %ui, so that "
                  "no entry it brought back is read",
                  prefix, ngx_http_oxmigrate_redis.epoch_value, epoch, next);

    if (ngx_http_oxmigrate_redis.ac == NULL
        || prefix->len + sizeof("epoch") > sizeof(buf))
    {
        return next;
    }

    ngx_memcpy(ngx_cpymem(buf, prefix->data, prefix->len), "epoch",
               sizeof("epoch") - 1);

    (void) redisAsyncCommand(ngx_http_oxmigrate_redis.ac,
                             ngx_http_oxmigrate_redis_set_reply, NULL,
                             "INCRBY %b %lld", buf,
                             prefix->len + sizeof("epoch") - 1,
                             (long long) (next - epoch));

    return next;
}
