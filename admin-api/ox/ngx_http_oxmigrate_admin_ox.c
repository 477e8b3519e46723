/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the OX connector (its directives are in
 * ngx_http_oxmigrate_admin_oxconf.c).  Runs OX's own command-line tools
 * (/opt/open-xchange/sbin on a node of the old or the new cluster), so that
 * OX drops its caches and sessions and runs its own update tasks.
 *
 * The process runner (thread pool): a tool is started with posix_spawn() and an argument
 * vector (no shell), in a process group of its own, stdin /dev/null,
 * stdout and stderr read through pipes up to a limit; at the timeout the
 * whole group is killed and the process reaped.  The worker's SIGCHLD is
 * set to the default action (oxconf.c), so nginx's SIGCHLD handler does
 * not reap a tool before the thread that waits for it.
 */


#include "ngx_http_oxmigrate_admin.h"

#include <spawn.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>


#define NGX_HTTP_OXMIGRATE_OX_OUT_MAX  65536


extern char **environ;


static ngx_int_t ngx_http_oxmigrate_admin_ox_spawn(
    ngx_http_oxmigrate_ox_call_t *call, char **argv, char **envp, pid_t *pid,
    int *fds);
static void ngx_http_oxmigrate_admin_ox_wait(ngx_http_oxmigrate_ox_call_t *call,
    pid_t pid, int *fds, ngx_msec_t timeout);
static ngx_int_t ngx_http_oxmigrate_admin_ox_result(
    ngx_http_oxmigrate_ox_call_t *call, ngx_msec_t timeout);
static void ngx_http_oxmigrate_admin_ox_read(ngx_http_oxmigrate_ox_call_t *call,
    int *fd, ngx_str_t *buf);


static const char  *ngx_http_oxmigrate_ox_cluster[] = { "old", "new" };


/* a word that means the same to execv(), a remote shell and an OX tool */

ngx_uint_t
ngx_http_oxmigrate_admin_ox_safe(const u_char *s, size_t len)
{
    size_t  i;

    if (len == 0 || len > 255 || s[0] == '-') {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
            || (s[i] >= '0' && s[i] <= '9')
            || ngx_strchr("_.-:@%+=,/", s[i]))
        {
            continue;
        }

        return 0;
    }

    return 1;
}



/*
 * How a tool takes the master password (ox-facts 7): the admin console
 * tools read ADMIN_PASSWORD from the environment when -P is absent;
 * unblockdatabase and the RMI update-task tools (7.10.1+) take it only as
 * -P; the JMX update-task tools of 7.10.0 need none.
 */

#define NGX_HTTP_OXMIGRATE_OX_AUTH_NONE  0
#define NGX_HTTP_OXMIGRATE_OX_AUTH_ENV   1
#define NGX_HTTP_OXMIGRATE_OX_AUTH_P     2

static ngx_uint_t
ngx_http_oxmigrate_admin_ox_auth(ngx_http_oxmigrate_ox_call_t *call)
{
    ngx_uint_t    i;
    const char   *env[] = { "disableschema", "enableschema", "changeserver",
                            "registerserver", "checkdatabase",
                            "listdatabaseschema", NULL };

    if (!call->creds) {
        return NGX_HTTP_OXMIGRATE_OX_AUTH_NONE;
    }

    for (i = 0; env[i]; i++) {
        if (ngx_strcmp(call->tool, env[i]) == 0) {
            return NGX_HTTP_OXMIGRATE_OX_AUTH_ENV;
        }
    }

    if (ngx_strcmp(call->tool, "unblockdatabase") == 0
        || call->alcf->ox[call->cluster]->version
           >= NGX_HTTP_OXMIGRATE_OX_RMI_TOOLS)
    {
        return NGX_HTTP_OXMIGRATE_OX_AUTH_P;
    }

    return NGX_HTTP_OXMIGRATE_OX_AUTH_NONE;
}


/*
 * The argument vector: via words, [password_wrapper] DIR/tool, -A user
 * [--adminpass=pass], mode, args.  The password is an argument only for a -P tool
 * without a wrapper (masked: "********" in what is shown).
 */

static char **
ngx_http_oxmigrate_admin_ox_argv(ngx_http_oxmigrate_ox_call_t *call,
    ngx_uint_t auth, ngx_uint_t masked)
{
    char                           **argv, **via, *path;
    size_t                           len;
    ngx_uint_t                       n, i, k;
    ngx_http_oxmigrate_ox_tools_t   *t;

    t = call->alcf->ox[call->cluster];

    for (k = 0; call->args[k]; k++) { /* void */ }

    n = t->via->nelts + 2 + 4 + 1 + k + 1;

    argv = ngx_pcalloc(call->pool, n * sizeof(char *));
    if (argv == NULL) {
        return NULL;
    }

    via = t->via->elts;
    n = 0;

    for (i = 0; i < t->via->nelts; i++) {
        argv[n++] = via[i];
    }

    if (auth == NGX_HTTP_OXMIGRATE_OX_AUTH_P && t->wrapper) {
        argv[n++] = t->wrapper;
    }

    len = t->dir.len + 1 + ngx_strlen(call->tool);
    path = ngx_pnalloc(call->pool, len + 1);
    if (path == NULL) {
        return NULL;
    }

    ngx_sprintf((u_char *) path, "%V/%s%Z", &t->dir, call->tool);
    argv[n++] = path;

    if (auth != NGX_HTTP_OXMIGRATE_OX_AUTH_NONE) {
        argv[n++] = "-A";
        argv[n++] = (char *) call->alcf->ox_user.data;
    }

    if (auth == NGX_HTTP_OXMIGRATE_OX_AUTH_P && t->wrapper == NULL) {
        /* one word: a password that starts with "-" is no option then */
        argv[n++] = masked ? "--adminpass=********" : call->alcf->ox_passarg;
    }

    if (call->mode) {
        argv[n++] = (char *) call->mode;
    }

    for (i = 0; i < k; i++) {
        argv[n++] = (char *) call->args[i];
    }

    argv[n] = NULL;

    return argv;
}


/* the worker's environment with ADMIN_PASSWORD, for a tool that needs it */

static char **
ngx_http_oxmigrate_admin_ox_envp(ngx_http_oxmigrate_ox_call_t *call,
    ngx_uint_t auth)
{
    char        **envp;
    ngx_uint_t    n, i;

    if (auth == NGX_HTTP_OXMIGRATE_OX_AUTH_NONE) {
        return environ;
    }

    for (n = 0; environ[n]; n++) { /* void */ }

    envp = ngx_pcalloc(call->pool, (n + 2) * sizeof(char *));
    if (envp == NULL) {
        return NULL;
    }

    for (i = 0, n = 0; environ[i]; i++) {
        if (ngx_strncmp(environ[i], "ADMIN_PASSWORD=", 15) != 0) {
            envp[n++] = environ[i];
        }
    }

    envp[n++] = call->alcf->ox_env;
    envp[n] = NULL;

    return envp;
}


/*
 * Runs the tool and waits for it (thread).  NGX_OK: it exited with 0;
 * NGX_DECLINED: it ran and failed (exit code, signal); NGX_ERROR: it
 * could not be started, timed out or was aborted.  call->error says it in
 * one sentence, without the password.
 */

ngx_int_t
ngx_http_oxmigrate_admin_ox_run(ngx_http_oxmigrate_ox_call_t *call)
{
    int         fds[2];
    char      **argv, **envp;
    pid_t       pid;
    ngx_uint_t  i, auth;
    ngx_msec_t  timeout;
    int64_t     start;

    call->exit_code = -1;
    call->signo = 0;
    call->error[0] = '\0';
    ngx_str_null(&call->out);
    ngx_str_null(&call->err);

    for (i = 0; call->args[i]; i++) {
        if (!ngx_http_oxmigrate_admin_ox_safe((u_char *) call->args[i],
                                              ngx_strlen(call->args[i]))
            && !(call->args[i][0] == '-' && i % 2 == 0))
        {
            ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                         "%s: refused to pass \"%s\" as an argument%Z",
                         call->tool, call->args[i]);
            call->not_started = 1;
            return NGX_ERROR;
        }
    }

    auth = ngx_http_oxmigrate_admin_ox_auth(call);
    argv = ngx_http_oxmigrate_admin_ox_argv(call, auth, 0);
    call->argv = ngx_http_oxmigrate_admin_ox_argv(call, auth, 1);
    envp = ngx_http_oxmigrate_admin_ox_envp(call, auth);

    call->out.data = ngx_pnalloc(call->pool, NGX_HTTP_OXMIGRATE_OX_OUT_MAX + 1);
    call->err.data = ngx_pnalloc(call->pool, NGX_HTTP_OXMIGRATE_OX_OUT_MAX + 1);

    if (argv == NULL || call->argv == NULL || envp == NULL
        || call->out.data == NULL || call->err.data == NULL)
    {
        ngx_cpystrn((u_char *) call->error, (u_char *) "out of memory",
                    sizeof(call->error));
        call->not_started = 1;
        return NGX_ERROR;
    }

    start = ngx_http_oxmigrate_clock_real_ms();

    if (ngx_http_oxmigrate_admin_ox_spawn(call, argv, envp, &pid, fds)
        != NGX_OK)
    {
        call->not_started = 1;
        return NGX_ERROR;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, call->log, 0,
                   "oxmigrate admin: %s started, pid %P", call->tool, pid);

    timeout = call->quick ? call->alcf->ox_quick_timeout
                          : call->alcf->ox_timeout;

    ngx_http_oxmigrate_admin_ox_wait(call, pid, fds, timeout);

    call->elapsed = ngx_http_oxmigrate_clock_real_ms() - start;
    call->out.data[call->out.len] = '\0';
    call->err.data[call->err.len] = '\0';

    return ngx_http_oxmigrate_admin_ox_result(call, timeout);
}


/*
 * The line of a tool's output that says why it failed: the one after
 * "Server response:" of the admin console tools (then stack frames
 * follow), else the first line that is not blank.
 */

u_char *
ngx_http_oxmigrate_admin_ox_said(ngx_str_t *out, size_t *len)
{
    u_char  *p, *end, *eol;

    end = out->data + out->len;
    p = ngx_strlcasestrn(out->data, end, (u_char *) "Server response:",
                         16 - 1);
    p = p ? ngx_strlchr(p, end, '\n') : NULL;
    p = p ? p + 1 : out->data;

    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
        p++;
    }

    eol = ngx_strlchr(p, end, '\n');
    if (eol == NULL) {
        eol = end;
    }

    while (eol > p && (eol[-1] == '\r' || eol[-1] == ' ')) {
        eol--;
    }

    *len = eol - p;

    return p;
}


/* how the tool ended, in call->error: NGX_OK, NGX_DECLINED, NGX_ERROR */

static ngx_int_t
ngx_http_oxmigrate_admin_ox_result(ngx_http_oxmigrate_ox_call_t *call,
    ngx_msec_t timeout)
{
    u_char     *p;
    size_t      len;
    ngx_str_t  *said;

    if (call->timed_out) {
        ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                     "%s (%s cluster) did not finish within %M ms and was "
                     "killed%Z", call->tool,
                     ngx_http_oxmigrate_ox_cluster[call->cluster], timeout);
        return NGX_ERROR;
    }

    if (call->aborted) {
        ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                     "%s (%s cluster) was killed: %s%Z", call->tool,
                     ngx_http_oxmigrate_ox_cluster[call->cluster],
                     call->abort_reason ? call->abort_reason : "aborted");
        return NGX_ERROR;
    }

    if (call->exit_code == 0) {
        return NGX_OK;
    }

    if (call->signo) {
        ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                     "%s (%s cluster) was killed by signal %d%Z", call->tool,
                     ngx_http_oxmigrate_ox_cluster[call->cluster],
                     call->signo);

    } else {
        said = call->err.len ? &call->err : &call->out;
        p = ngx_http_oxmigrate_admin_ox_said(said, &len);

        ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                     "%s (%s cluster) exited with code %d: %*s%Z", call->tool,
                     ngx_http_oxmigrate_ox_cluster[call->cluster],
                     call->exit_code, ngx_min(len, 300), p);
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_oxmigrate_admin_ox_spawn(ngx_http_oxmigrate_ox_call_t *call,
    char **argv, char **envp, pid_t *pid, int *fds)
{
    int                          out[2], err[2], rc;
    sigset_t                     none, all;
    posix_spawnattr_t            attr;
    posix_spawn_file_actions_t   fa;

    if (pipe2(out, O_CLOEXEC) == -1) {
        goto pipe_failed;
    }

    if (pipe2(err, O_CLOEXEC) == -1) {
        close(out[0]);
        close(out[1]);
        goto pipe_failed;
    }

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
#if defined(__GLIBC__)                                                        \
    && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
    /* listening sockets and connections are not the tool's business */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif

    /* nginx's threads block every signal; the tool starts clean */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP
                                    | POSIX_SPAWN_SETSIGMASK
                                    | POSIX_SPAWN_SETSIGDEF);

    rc = posix_spawnp(pid, argv[0], &fa, &attr, argv, envp);

    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out[1]);
    close(err[1]);

    if (rc != 0) {
        close(out[0]);
        close(err[0]);
        ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                     "%s (%s cluster) could not be started: %s: %s%Z",
                     call->tool, ngx_http_oxmigrate_ox_cluster[call->cluster],
                     argv[0], strerror(rc));
        return NGX_ERROR;
    }

    fds[0] = out[0];
    fds[1] = err[0];

    return NGX_OK;

pipe_failed:

    ngx_snprintf((u_char *) call->error, sizeof(call->error) - 1,
                 "%s: pipe2() failed: %s%Z", call->tool, strerror(errno));
    return NGX_ERROR;
}


static void
ngx_http_oxmigrate_admin_ox_read(ngx_http_oxmigrate_ox_call_t *call, int *fd,
    ngx_str_t *buf)
{
    u_char   tmp[4096];
    ssize_t  n;
    size_t   room;

    n = read(*fd, tmp, sizeof(tmp));

    if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }

    if (n <= 0) {
        close(*fd);
        *fd = -1;
        return;
    }

    room = NGX_HTTP_OXMIGRATE_OX_OUT_MAX - buf->len;

    if ((size_t) n > room) {
        call->truncated = 1;
        n = room;
    }

    buf->len = ngx_cpymem(buf->data + buf->len, tmp, n) - buf->data;
}


/*
 * Whether the running tool is to be killed now (1): its timeout, a fast
 * shutdown of nginx, or its tick says so (a dead OX lock).
 */

static ngx_uint_t
ngx_http_oxmigrate_admin_ox_due(ngx_http_oxmigrate_ox_call_t *call,
    int64_t now, int64_t deadline, int64_t *next_tick)
{
    if (now >= deadline) {
        call->timed_out = 1;
        return 1;
    }

    if (ngx_terminate) {
        call->aborted = 1;
        call->abort_reason = "nginx is shutting down";
        return 1;
    }

    if (*next_tick && now >= *next_tick) {
        *next_tick = now + call->tick_ms;

        if (call->tick(call) == NGX_ABORT) {
            call->aborted = 1;
            return 1;
        }
    }

    return 0;
}


/* reads both pipes until the tool is gone, kills it at the timeout */

static void
ngx_http_oxmigrate_admin_ox_wait(ngx_http_oxmigrate_ox_call_t *call,
    pid_t pid, int *fds, ngx_msec_t timeout)
{
    int             status, n, wait;
    pid_t           rc;
    int64_t         now, deadline, next_tick, gone;
    ngx_uint_t      i, reaped, killed;
    struct pollfd   pfd[2];

    now = ngx_http_oxmigrate_clock_real_ms();
    deadline = now + timeout;
    next_tick = call->tick ? now + call->tick_ms : 0;
    reaped = 0;
    killed = 0;
    gone = 0;

    for ( ;; ) {
        n = 0;

        for (i = 0; i < 2; i++) {
            if (fds[i] != -1) {
                pfd[n].fd = fds[i];
                pfd[n].events = POLLIN;
                pfd[n].revents = 0;
                n++;
            }
        }

        if (reaped && n == 0) {
            break;
        }

        now = ngx_http_oxmigrate_clock_real_ms();
        wait = (int) ngx_min(deadline - now, 200);

        if (next_tick && next_tick - now < wait) {
            wait = (int) (next_tick - now);
        }

        if (wait < 0) {
            wait = 0;
        }

        /* both pipes closed: the tool is exiting, reap it within 1 ms */
        if (poll(pfd, n, n ? wait : ngx_min(wait, 1)) > 0) {
            for (i = 0; i < (ngx_uint_t) n; i++) {
                if (pfd[i].revents) {
                    ngx_http_oxmigrate_admin_ox_read(call,
                                        pfd[i].fd == fds[0] ? &fds[0] : &fds[1],
                                        pfd[i].fd == fds[0] ? &call->out
                                                            : &call->err);
                }
            }
        }

        if (!reaped) {
            rc = waitpid(pid, &status, WNOHANG);

            if (rc == pid || (rc == -1 && errno == ECHILD)) {
                reaped = 1;
                gone = ngx_http_oxmigrate_clock_real_ms();

                if (rc == pid && WIFEXITED(status)) {
                    call->exit_code = WEXITSTATUS(status);

                } else if (rc == pid && WIFSIGNALED(status)) {
                    call->signo = WTERMSIG(status);
                }
            }
        }

        now = ngx_http_oxmigrate_clock_real_ms();

        /* a grandchild that keeps the pipes open: 1 s, then let go */
        if (reaped && now - gone > 1000) {
            break;
        }

        if (reaped) {
            continue;
        }

        if (!killed) {
            killed = ngx_http_oxmigrate_admin_ox_due(call, now, deadline,
                                                     &next_tick);
        }

        if (killed == 1) {
            /* the whole group: a wrapper (via=) and what it started */
            (void) kill(-pid, SIGKILL);
            (void) kill(pid, SIGKILL);
            killed = 2;
            deadline = now + 5000;
        }
    }

    for (i = 0; i < 2; i++) {
        if (fds[i] != -1) {
            close(fds[i]);
        }
    }

    if (!reaped) {
        /* cannot happen after SIGKILL, but never leave a zombie */
        (void) waitpid(pid, &status, 0);
    }
}


/* the reason of a tool that failed: it timed out, is not there, or said
   no */

const char *
ngx_http_oxmigrate_admin_ox_reason(ngx_http_oxmigrate_ox_call_t *call)
{
    if (call->timed_out) {
        return "ox_tool_timeout";
    }

    if (call->not_started || call->exit_code == 126 || call->exit_code == 127)
    {
        return "ox_tool_unavailable";
    }

    return "ox_tool_failed";
}


/* a new call of a step (st->call), the step's pool and log */

ngx_http_oxmigrate_ox_call_t *
ngx_http_oxmigrate_admin_ox_call(ngx_http_oxmigrate_step_t *st,
    const char *tool, ngx_uint_t cluster)
{
    st->call = ngx_palloc(st->pool, sizeof(ngx_http_oxmigrate_ox_call_t));
    if (st->call == NULL) {
        return NULL;
    }

    ngx_http_oxmigrate_admin_ox_init(st->call, st->alcf, st->pool, st->log,
                                     tool, cluster);
    return st->call;
}


void
ngx_http_oxmigrate_admin_ox_init(ngx_http_oxmigrate_ox_call_t *call,
    ngx_http_oxmigrate_admin_loc_conf_t *alcf, ngx_pool_t *pool,
    ngx_log_t *log, const char *tool, ngx_uint_t cluster)
{
    ngx_memzero(call, sizeof(ngx_http_oxmigrate_ox_call_t));
    call->alcf = alcf;
    call->pool = pool;
    call->log = log;
    call->tool = tool;
    call->cluster = cluster;
    call->creds = 1;
    call->quick = 1;
    call->exit_code = -1;
}
