/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API, jobs: time windows.  A job starts schemas only
 * inside its window; the directive oxmigrate_job_utc_offset gives the
 * zone, oxmigrate_job_clock the tests' clock.  GET /jobs shows whether a
 * window is open; PATCH /jobs/{id} and the requests check one.
 */


#include "ngx_http_oxmigrate_admin_job.h"


/*
 * Time windows.  "HH:MM-HH:MM" in the zone of oxmigrate_job_utc_offset
 * (a fixed offset such as "+01:00"; "UTC"): a job starts schemas only
 * inside it (one that ends before it starts spans midnight), and waits
 * outside it.  oxmigrate_job_clock names a file holding "HH:MM" that
 * replaces the time of day (the tests' faked clock).
 */

char *
ngx_http_oxmigrate_admin_job_utc_offset(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t *alcf = conf;

    u_char     *p;
    ngx_int_t   h, m, sign;
    ngx_str_t  *value;

    if (alcf->job_utc_offset != NGX_CONF_UNSET) {
        return "is duplicate";
    }

    value = cf->args->elts;
    p = value[1].data;

    if (value[1].len == 3 && ngx_strncasecmp(p, (u_char *) "UTC", 3) == 0) {
        alcf->job_utc_offset = 0;
        return NGX_CONF_OK;
    }

    if (value[1].len != 6 || (p[0] != '+' && p[0] != '-') || p[3] != ':') {
        goto invalid;
    }

    sign = (p[0] == '-') ? -1 : 1;
    h = ngx_atoi(p + 1, 2);
    m = ngx_atoi(p + 4, 2);

    if (h == NGX_ERROR || m == NGX_ERROR || h > 14 || m > 59) {
        goto invalid;
    }

    alcf->job_utc_offset = sign * (h * 3600 + m * 60);
    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "oxmigrate_job_utc_offset: "
                       "\"%V\" is not \"+HH:MM\", \"-HH:MM\" or \"UTC\"",
                       &value[1]);
    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_oxmigrate_admin_hhmm(const char *p)
{
    ngx_int_t  h, m;

    if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9' || p[2] != ':'
        || p[3] < '0' || p[3] > '9' || p[4] < '0' || p[4] > '9')
    {
        return NGX_ERROR;
    }

    h = (p[0] - '0') * 10 + (p[1] - '0');
    m = (p[3] - '0') * 10 + (p[4] - '0');

    if (h > 24 || m > 59 || (h == 24 && m != 0)) {
        return NGX_ERROR;
    }

    return h * 60 + m;
}


ngx_int_t
ngx_http_oxmigrate_admin_job_window(const char *w, ngx_int_t *start,
    ngx_int_t *end)
{
    if (w == NULL || ngx_strlen(w) != 11 || w[5] != '-') {
        return NGX_ERROR;
    }

    *start = ngx_http_oxmigrate_admin_hhmm(w);
    *end = ngx_http_oxmigrate_admin_hhmm(w + 6);

    if (*start == NGX_ERROR || *end == NGX_ERROR || *start == *end) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a minute of the day inside a window (start to end, maybe over midnight) */

ngx_uint_t
ngx_http_oxmigrate_admin_job_inside(ngx_int_t start, ngx_int_t end,
    ngx_int_t minute)
{
    return (start < end) ? (minute >= start && minute < end)
                         : (minute >= start || minute < end);
}


/* a job's window ("HH:MM-HH:MM"; NULL or not a window: none) (thread) */

void
ngx_http_oxmigrate_admin_job_set_window(ngx_http_oxmigrate_job_t *job,
    const char *w)
{
    if (w
        && ngx_http_oxmigrate_admin_job_window(w, &job->win_start,
                                               &job->win_end)
           == NGX_OK)
    {
        job->minute = ngx_http_oxmigrate_admin_job_minute(job->alcf);

    } else {
        job->win_start = -1;
        job->win_end = -1;
    }
}


ngx_int_t
ngx_http_oxmigrate_admin_job_minute(ngx_http_oxmigrate_admin_loc_conf_t *alcf)
{
    int        fd;
    char       buf[16];
    ssize_t    n;
    ngx_int_t  m;
    time_t     now;

    if (alcf->job_clock.len) {
        fd = open((char *) alcf->job_clock.data, O_RDONLY);
        if (fd >= 0) {
            n = read(fd, buf, sizeof(buf) - 1);
            close(fd);

            if (n >= 5) {
                buf[n] = '\0';
                m = ngx_http_oxmigrate_admin_hhmm(buf);
                if (m != NGX_ERROR) {
                    return m % 1440;
                }
            }
        }
    }

    now = ngx_http_oxmigrate_clock_wall_ms() / 1000 + alcf->job_utc_offset;

    return (ngx_int_t) ((now % 86400 + 86400) % 86400) / 60;
}
