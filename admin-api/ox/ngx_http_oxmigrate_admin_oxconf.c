/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the OX connector's configuration (at config time,
 * in the master): oxmigrate_ox_tools, oxmigrate_ox_credentials,
 * oxmigrate_ox_tools_timeout, their merge; and the worker's SIGCHLD.
 * Running a tool: ngx_http_oxmigrate_admin_ox.c.
 */


#include "ngx_http_oxmigrate_admin.h"

#include <signal.h>


static char *ngx_http_oxmigrate_admin_ox_param(ngx_conf_t *cf,
    ngx_http_oxmigrate_ox_tools_t *t, ngx_str_t *v);
static char *ngx_http_oxmigrate_admin_ox_check(ngx_conf_t *cf,
    ngx_http_oxmigrate_admin_loc_conf_t *conf);
static char *ngx_http_oxmigrate_admin_ox_via(ngx_conf_t *cf,
    ngx_http_oxmigrate_ox_tools_t *t, u_char *p, u_char *last);


/*
 * oxmigrate_ox_tools old|new DIR [via=COMMAND] [version=X.Y.Z]
 *     [rmi=HOST:PORT,...] [password_wrapper=PATH] [lock_idle=TIME]
 */

char *
ngx_http_oxmigrate_admin_ox_tools(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf = conf;

    char                           *rv;
    ngx_str_t                      *value;
    ngx_uint_t                      c, i;
    ngx_http_oxmigrate_ox_tools_t  *t;

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "old") == 0) {
        c = NGX_HTTP_OXMIGRATE_OX_OLD;

    } else if (ngx_strcmp(value[1].data, "new") == 0) {
        c = NGX_HTTP_OXMIGRATE_OX_NEW;

    } else {
        return "takes \"old\" or \"new\" first";
    }

    if (alcf->ox[c] != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    if (value[2].len < 2 || value[2].data[0] != '/') {
        return "needs an absolute directory";
    }

    t = ngx_pcalloc(cf->pool, sizeof(ngx_http_oxmigrate_ox_tools_t));
    if (t == NULL) {
        return NGX_CONF_ERROR;
    }

    t->dir = value[2];
    while (t->dir.len > 1 && t->dir.data[t->dir.len - 1] == '/') {
        t->dir.len--;
    }

    t->dir.data = (u_char *) ngx_http_oxmigrate_admin_strndup(cf->pool,
                                                    t->dir.data, t->dir.len);
    t->via = ngx_array_create(cf->pool, 4, sizeof(char *));
    if (t->dir.data == NULL || t->via == NULL) {
        return NGX_CONF_ERROR;
    }

    /* the old cluster runs 7.10.0, the upgraded node 7.10.1 or later */
    t->version = (c == NGX_HTTP_OXMIGRATE_OX_OLD) ? 71000 : 71001;
    t->lock_idle = NGX_CONF_UNSET_MSEC;

    for (i = 3; i < cf->args->nelts; i++) {
        rv = ngx_http_oxmigrate_admin_ox_param(cf, t, &value[i]);
        if (rv != NGX_CONF_OK) {
            return rv;
        }
    }

    /*
     * 7.10.x refreshes its lock every 5 minutes and never takes one over;
     * 8.x every 20 s and takes over after locked.idleMillis (60 s)
     */
    if (t->lock_idle == NGX_CONF_UNSET_MSEC) {
        t->lock_idle = (t->version >= NGX_HTTP_OXMIGRATE_OX_V8)
                       ? 60000 : 15 * 60000;
    }

    alcf->ox[c] = t;

    return NGX_CONF_OK;
}


static char *
ngx_http_oxmigrate_admin_ox_param(ngx_conf_t *cf,
    ngx_http_oxmigrate_ox_tools_t *t, ngx_str_t *v)
{
    u_char     *p, *last;
    ngx_int_t   n[3];
    ngx_uint_t  i;
    ngx_str_t   s;

    last = v->data + v->len;

    if (ngx_strncmp(v->data, "via=", 4) == 0 && t->via->nelts == 0) {
        return ngx_http_oxmigrate_admin_ox_via(cf, t, v->data + 4, last);
    }

    if (ngx_strncmp(v->data, "version=", 8) == 0) {
        p = v->data + 8;

        for (i = 0; i < 3; i++) {
            s.data = p;
            while (p < last && *p >= '0' && *p <= '9') {
                p++;
            }

            s.len = p - s.data;
            n[i] = ngx_atoi(s.data, s.len);

            if (n[i] == NGX_ERROR || n[i] > 99
                || (i < 2 && (p == last || *p++ != '.')))
            {
                return "has an invalid \"version=\" (X.Y.Z, e.g. 7.10.6)";
            }
        }

        if (p != last) {
            return "has an invalid \"version=\" (X.Y.Z, e.g. 7.10.6)";
        }

        t->version = n[0] * 10000 + n[1] * 100 + n[2];
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(v->data, "rmi=", 4) == 0) {
        if (!ngx_http_oxmigrate_admin_ox_safe(v->data + 4, v->len - 4)) {
            return "has an invalid \"rmi=\" (host:port,host:port)";
        }

        t->rmi = ngx_http_oxmigrate_admin_strndup(cf->pool, v->data + 4,
                                                  v->len - 4);
        return t->rmi ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_strncmp(v->data, "password_wrapper=", 17) == 0) {
        if (v->len < 19 || v->data[17] != '/'
            || !ngx_http_oxmigrate_admin_ox_safe(v->data + 17, v->len - 17))
        {
            return "needs an absolute path in \"password_wrapper=\"";
        }

        t->wrapper = ngx_http_oxmigrate_admin_strndup(cf->pool, v->data + 17,
                                                      v->len - 17);
        return t->wrapper ? NGX_CONF_OK : NGX_CONF_ERROR;
    }

    if (ngx_strncmp(v->data, "lock_idle=", 10) == 0) {
        s.data = v->data + 10;
        s.len = v->len - 10;
        t->lock_idle = ngx_parse_time(&s, 0);

        if (t->lock_idle == (ngx_msec_t) NGX_ERROR || t->lock_idle == 0) {
            return "has an invalid \"lock_idle=\" time";
        }

        return NGX_CONF_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\"", v);
    return NGX_CONF_ERROR;
}


/* via=COMMAND: its words, split at blanks */

static char *
ngx_http_oxmigrate_admin_ox_via(ngx_conf_t *cf,
    ngx_http_oxmigrate_ox_tools_t *t, u_char *p, u_char *last)
{
    char    **w;
    u_char   *start;

    while (p < last) {
        while (p < last && (*p == ' ' || *p == '\t')) {
            p++;
        }

        start = p;
        while (p < last && *p != ' ' && *p != '\t') {
            p++;
        }

        if (p == start) {
            break;
        }

        w = ngx_array_push(t->via);
        if (w == NULL) {
            return NGX_CONF_ERROR;
        }

        *w = ngx_http_oxmigrate_admin_strndup(cf->pool, start, p - start);
        if (*w == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    if (t->via->nelts == 0) {
        return "has an empty \"via=\"";
    }

    return NGX_CONF_OK;
}


/*
 * oxmigrate_ox_credentials FILE: "user:password", one line, read by the
 * master at start (the workers may not be able to read it).  The user is
 * a word (it is an argument, -A); the password may hold any character but
 * a line break: it reaches the tools in the environment (ADMIN_PASSWORD),
 * never in an argument list where the tool reads it from there
 * (ngx_http_oxmigrate_admin_ox.c).
 */

char *
ngx_http_oxmigrate_admin_ox_credentials(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf = conf;

    u_char           *p, *colon, *last, buf[1024];
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t        *value, name;
    ngx_file_info_t   fi;

    if (alcf->ox_user.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    name = value[1];

    if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%s\" failed", name.data);
        return NGX_CONF_ERROR;
    }

    /* like ssh with a private key: any access by group or others refuses */

    if (ngx_fd_info(fd, &fi) != NGX_FILE_ERROR
        && (fi.st_mode & (S_IRWXG | S_IRWXO)))
    {
        ngx_close_file(fd);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" is open to others than its owner "
                           "(mode 0%d%d%d): it holds OX's master password, "
                           "chmod 600 it", name.data,
                           (int) (fi.st_mode >> 6) & 7,
                           (int) (fi.st_mode >> 3) & 7,
                           (int) fi.st_mode & 7);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, buf, sizeof(buf) - 1);
    ngx_close_file(fd);

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "read \"%s\" failed", name.data);
        return NGX_CONF_ERROR;
    }

    last = buf + n;
    while (last > buf && (last[-1] == '\n' || last[-1] == '\r')) {
        last--;
    }

    colon = ngx_strlchr(buf, last, ':');

    if (colon == NULL
        || ngx_strlchr(buf, last, '\n')
        || ngx_strlchr(buf, last, '\r')
        || ngx_strlchr(buf, last, '\0')
        || colon + 1 == last
        || !ngx_http_oxmigrate_admin_ox_safe(buf, colon - buf))
    {
        ngx_explicit_memzero(buf, sizeof(buf));
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%s\" must hold one line \"user:password\": "
                           "the user of letters, digits and _.-:@%%+=,/ "
                           "(not starting with \"-\"), the password of any "
                           "characters but a line break", name.data);
        return NGX_CONF_ERROR;
    }

    p = (u_char *) ngx_http_oxmigrate_admin_strndup(cf->pool, buf,
                                                    colon - buf);
    alcf->ox_user.data = p;
    alcf->ox_user.len = colon - buf;

    p = (u_char *) ngx_http_oxmigrate_admin_strndup(cf->pool, colon + 1,
                                                    last - colon - 1);
    alcf->ox_pass.data = p;
    alcf->ox_pass.len = last - colon - 1;

    alcf->ox_env = ngx_pnalloc(cf->pool, sizeof("ADMIN_PASSWORD=")
                                         + (last - colon - 1));
    if (alcf->ox_env) {
        ngx_sprintf((u_char *) alcf->ox_env, "ADMIN_PASSWORD=%*s%Z",
                    last - colon - 1, colon + 1);
    }

    alcf->ox_passarg = ngx_pnalloc(cf->pool, sizeof("--adminpass=")
                                             + (last - colon - 1));
    if (alcf->ox_passarg) {
        ngx_sprintf((u_char *) alcf->ox_passarg, "--adminpass=%*s%Z",
                    last - colon - 1, colon + 1);
    }

    ngx_explicit_memzero(buf, sizeof(buf));

    if (alcf->ox_user.data == NULL || alcf->ox_pass.data == NULL
        || alcf->ox_env == NULL || alcf->ox_passarg == NULL)
    {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* oxmigrate_ox_tools_timeout TIME [quick=TIME] */

char *
ngx_http_oxmigrate_admin_ox_timeout(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_oxmigrate_admin_loc_conf_t  *alcf = conf;

    ngx_str_t  *value, s;

    if (alcf->ox_timeout != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    alcf->ox_timeout = ngx_parse_time(&value[1], 0);
    if (alcf->ox_timeout == (ngx_msec_t) NGX_ERROR || alcf->ox_timeout == 0) {
        return "has an invalid time";
    }

    if (cf->args->nelts == 3) {
        if (ngx_strncmp(value[2].data, "quick=", 6) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        s.data = value[2].data + 6;
        s.len = value[2].len - 6;

        alcf->ox_quick_timeout = ngx_parse_time(&s, 0);
        if (alcf->ox_quick_timeout == (ngx_msec_t) NGX_ERROR
            || alcf->ox_quick_timeout == 0)
        {
            return "has an invalid \"quick=\" time";
        }
    }

    return NGX_CONF_OK;
}


/* merge: both clusters and the credentials, or none of them */

char *
ngx_http_oxmigrate_admin_ox_merge(ngx_conf_t *cf,
    ngx_http_oxmigrate_admin_loc_conf_t *prev,
    ngx_http_oxmigrate_admin_loc_conf_t *conf)
{
    ngx_conf_merge_ptr_value(conf->ox[0], prev->ox[0], NULL);
    ngx_conf_merge_ptr_value(conf->ox[1], prev->ox[1], NULL);
    ngx_conf_merge_str_value(conf->ox_user, prev->ox_user, "");
    ngx_conf_merge_str_value(conf->ox_pass, prev->ox_pass, "");
    if (conf->ox_env == NULL) {
        /* set with ox_user, by oxmigrate_ox_credentials */
        conf->ox_env = prev->ox_env;
        conf->ox_passarg = prev->ox_passarg;
    }
    ngx_conf_merge_msec_value(conf->ox_timeout, prev->ox_timeout,
                              6 * 3600 * 1000);
    ngx_conf_merge_msec_value(conf->ox_quick_timeout, prev->ox_quick_timeout,
                              300 * 1000);

    if (!conf->enable) {
        return NGX_CONF_OK;
    }

    if ((conf->ox[0] == NULL) != (conf->ox[1] == NULL)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oxmigrate_ox_tools\" needs both \"old\" and "
                           "\"new\"");
        return NGX_CONF_ERROR;
    }

    if (conf->ox[0] == NULL) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "oxmigrate admin: no \"oxmigrate_ox_tools\": "
                           "disable, enable and changeserver are plain SQL "
                           "on configdb and update tasks are the *.sql "
                           "files of oxmigrate_update_tasks; the OX nodes' "
                           "context caches are not invalidated and their "
                           "sessions not closed (\"ox_caches\":\"not "
                           "invalidated\")");
        return NGX_CONF_OK;
    }

    if (conf->ox_user.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"oxmigrate_ox_tools\" needs "
                           "\"oxmigrate_ox_credentials\"");
        return NGX_CONF_ERROR;
    }

    return ngx_http_oxmigrate_admin_ox_check(cf, conf);
}


/*
 * What a configuration of both clusters means for the password and the
 * caches: a tool that takes the password only as -P (unblockdatabase, the
 * 7.10.1+ update-task tools) gets it from password_wrapper= on the node;
 * without one it is an argument, which a remote shell (via=) re-splits,
 * so it must then be a plain word.  -r reaches both clusters only when
 * both list their RMI hosts.
 */

static char *
ngx_http_oxmigrate_admin_ox_check(ngx_conf_t *cf,
    ngx_http_oxmigrate_admin_loc_conf_t *conf)
{
    ngx_uint_t                      c;
    ngx_http_oxmigrate_ox_tools_t  *t;

    static const char  *names[] = { "old", "new" };

    for (c = 0; c < 2; c++) {
        t = conf->ox[c];

        if (t->wrapper) {
            continue;
        }

        if (t->via->nelts
            && !ngx_http_oxmigrate_admin_ox_safe(conf->ox_pass.data,
                                                 conf->ox_pass.len))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "the OX master password has characters a "
                               "remote shell would split: \"oxmigrate_ox_"
                               "tools %s\" with \"via=\" needs "
                               "\"password_wrapper=\" (contrib/"
                               "oxmigrate-ox-password)", names[c]);
            return NGX_CONF_ERROR;
        }

        if (c == NGX_HTTP_OXMIGRATE_OX_NEW) {
            ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                               "oxmigrate admin: no \"password_wrapper=\" "
                               "on \"oxmigrate_ox_tools new\": the tools "
                               "that take the password only as -P show it "
                               "in the process list");
        }
    }

    if (conf->ox[0]->rmi && conf->ox[1]->rmi) {
        conf->ox_caches = "invalidated by OX in both clusters";

    } else {
        conf->ox_caches = "invalidated by OX in the old cluster only: the "
                          "new cluster was not reached (rmi= is not set "
                          "on both oxmigrate_ox_tools)";
    }

    return NGX_CONF_OK;
}


/* the worker: nginx's SIGCHLD handler would reap our tools (waitpid(-1)) */

void
ngx_http_oxmigrate_admin_ox_init_process(ngx_cycle_t *cycle)
{
    struct sigaction  sa;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    ngx_memzero(&sa, sizeof(struct sigaction));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);

    if (sigaction(SIGCHLD, &sa, NULL) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno,
                      "oxmigrate admin: sigaction(SIGCHLD) failed");
    }
}
