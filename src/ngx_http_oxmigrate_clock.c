/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate: the modules' clock, and the tests' way to move it
 * (oxmigrate_test_clock FILE; not for production).
 *
 * Every idle, ttl, heartbeat, lock, hole and window time of both modules
 * is compared against this clock: the shm cache's ttl and negative ttl,
 * the change log's hole time, a configdb replica's down time, the admin
 * API's wall clock (job heartbeats and idle times, OX lock ages, the
 * update lock watch, max_downtime) and the jobs' time windows.  How long
 * an OX tool runs (its timeout) is real time (clock_real_ms()).
 *
 * Without the directive the clock is nginx's: the offset stays 0 and no
 * timer runs.  With it, FILE holds an offset in seconds ("90", "-1.5";
 * missing or empty: 0) that is added to the real time.  Each worker
 * stat()s the file every NGX_HTTP_OXMIGRATE_CLOCK_TICK ms on a timer of
 * its own and reads it only when it changed (a new inode, size or mtime),
 * never on the request path.  The offset is one aligned 64-bit word that
 * the worker writes and its pool threads read.
 */


#include "ngx_http_oxmigrate.h"

#include <sys/time.h>


#define NGX_HTTP_OXMIGRATE_CLOCK_TICK  100       /* ms */


static volatile int64_t  ngx_http_oxmigrate_clock_offset;   /* ms */


static ngx_str_t    ngx_http_oxmigrate_clock_file;
static ngx_event_t  ngx_http_oxmigrate_clock_ev;
static struct stat  ngx_http_oxmigrate_clock_st;


static void ngx_http_oxmigrate_clock_read(ngx_log_t *log);
static void ngx_http_oxmigrate_clock_tick(ngx_event_t *ev);


/* nginx's millisecond clock (ngx_current_msec), moved by the offset */

ngx_msec_t
ngx_http_oxmigrate_clock_msec(void)
{
    return ngx_current_msec + (ngx_msec_t) ngx_http_oxmigrate_clock_offset;
}


/* seconds since the epoch (ngx_time()), moved by the offset */

time_t
ngx_http_oxmigrate_clock_time(void)
{
    return ngx_time() + (time_t) (ngx_http_oxmigrate_clock_offset / 1000);
}


/*
 * milliseconds since the epoch (nginx's cached time of day), moved: the
 * wall clock of the Redis copies (shared by all balancers) and of the
 * expected windows of held logins (written by the admin API)
 */

ngx_msec_t
ngx_http_oxmigrate_clock_unix_ms(void)
{
    ngx_time_t  *tp;

    tp = ngx_timeofday();

    return (ngx_msec_t) (tp->sec * 1000 + tp->msec
                         + ngx_http_oxmigrate_clock_offset);
}


/* milliseconds since the epoch, read now (any thread), moved */

int64_t
ngx_http_oxmigrate_clock_wall_ms(void)
{
    struct timeval  tv;

    gettimeofday(&tv, NULL);

    return (int64_t) tv.tv_sec * 1000 + tv.tv_usec / 1000
           + ngx_http_oxmigrate_clock_offset;
}


/*
 * milliseconds of the monotonic clock, never moved (any thread): how long
 * a process runs (an OX tool's timeout), not an idle or lock time
 */

int64_t
ngx_http_oxmigrate_clock_real_ms(void)
{
    struct timespec  ts;

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


/* the test clock is configured: timers check it on short ticks */

ngx_uint_t
ngx_http_oxmigrate_clock_faked(void)
{
    return ngx_http_oxmigrate_clock_file.len != 0;
}


/* "[-]S[.fff]" seconds to ms; NGX_ERROR: not a number */

static ngx_int_t
ngx_http_oxmigrate_clock_parse(u_char *p, u_char *last, int64_t *ms)
{
    int64_t     s, f, scale;
    ngx_uint_t  neg, digits;

    while (last > p && (last[-1] == '\n' || last[-1] == ' '
                        || last[-1] == '\r' || last[-1] == '\t'))
    {
        last--;
    }

    neg = (p < last && *p == '-');
    p += neg;
    s = 0;
    f = 0;
    scale = 1000;
    digits = 0;

    for ( /* void */ ; p < last && *p >= '0' && *p <= '9'; p++) {
        if (s > 100000000000LL) {
            return NGX_ERROR;
        }

        s = s * 10 + (*p - '0');
        digits++;
    }

    if (p < last && *p == '.') {
        for (p++; p < last && *p >= '0' && *p <= '9'; p++) {
            if (scale > 1) {
                scale /= 10;
                f += (*p - '0') * scale;
            }

            digits++;
        }
    }

    if (p != last || digits == 0) {
        return NGX_ERROR;
    }

    *ms = (s * 1000 + f) * (neg ? -1 : 1);

    return NGX_OK;
}


static void
ngx_http_oxmigrate_clock_read(ngx_log_t *log)
{
    int          fd;
    u_char       buf[64];
    ssize_t      n;
    int64_t      ms;
    struct stat  st, *last;

    last = &ngx_http_oxmigrate_clock_st;

    if (stat((char *) ngx_http_oxmigrate_clock_file.data, &st) == -1) {
        ngx_memzero(last, sizeof(struct stat));
        ngx_http_oxmigrate_clock_offset = 0;
        return;
    }

    if (st.st_ino == last->st_ino && st.st_size == last->st_size
        && st.st_mtim.tv_sec == last->st_mtim.tv_sec
        && st.st_mtim.tv_nsec == last->st_mtim.tv_nsec)
    {
        return;
    }

    fd = open((char *) ngx_http_oxmigrate_clock_file.data, O_RDONLY);
    if (fd == -1) {
        return;
    }

    n = read(fd, buf, sizeof(buf));
    close(fd);

    if (n < 0 || n == (ssize_t) sizeof(buf)) {
        return;
    }

    if (n == 0) {
        ms = 0;

    } else if (ngx_http_oxmigrate_clock_parse(buf, buf + n, &ms) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "oxmigrate_test_clock: \"%V\" holds no number of "
                      "seconds", &ngx_http_oxmigrate_clock_file);
        return;
    }

    *last = st;

    if (ms != ngx_http_oxmigrate_clock_offset) {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "oxmigrate_test_clock: offset %L ms", ms);
        ngx_http_oxmigrate_clock_offset = ms;
    }
}


static void
ngx_http_oxmigrate_clock_tick(ngx_event_t *ev)
{
    ngx_http_oxmigrate_clock_read(ev->log);

    if (!(ngx_exiting || ngx_terminate || ngx_quit)) {
        ngx_add_timer(ev, NGX_HTTP_OXMIGRATE_CLOCK_TICK);
    }
}


char *
ngx_http_oxmigrate_test_clock(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_oxmigrate_main_conf_t *omcf = conf;

    ngx_str_t  *value;

    if (omcf->test_clock.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        return "needs a file name";
    }

    omcf->test_clock = value[1];

    if (ngx_conf_full_name(cf->cycle, &omcf->test_clock, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_NOTICE, cf, 0,
                       "oxmigrate_test_clock \"%V\" is for tests only",
                       &omcf->test_clock);

    return NGX_CONF_OK;
}


/* a worker of a configuration with the directive: FILE's offset, ticks */

ngx_int_t
ngx_http_oxmigrate_clock_init_worker(ngx_cycle_t *cycle,
    ngx_http_oxmigrate_main_conf_t *omcf)
{
    ngx_event_t  *ev;

    ngx_http_oxmigrate_clock_file = omcf->test_clock;
    ngx_http_oxmigrate_clock_offset = 0;

    if (ngx_http_oxmigrate_clock_file.len == 0) {
        return NGX_OK;
    }

    ngx_http_oxmigrate_clock_read(cycle->log);

    ev = &ngx_http_oxmigrate_clock_ev;
    ev->handler = ngx_http_oxmigrate_clock_tick;
    ev->log = cycle->log;
    ev->data = cycle;     /* its debug line reads a connection */
    ev->cancelable = 1;

    ngx_add_timer(ev, NGX_HTTP_OXMIGRATE_CLOCK_TICK);

    return NGX_OK;
}
