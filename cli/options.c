/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: the options of a command (getopt), the checks every command
 * makes of them, the settings from them and the environment, --help.
 */


#include "oxmigrate.h"


static const opt_t  common_opts[] = {
    { "help", 'h', 0, O_HELP, "this text" },
    { "adminuser", 'A', 1, O_USER, "admin user (or from the credentials file)" },
    { "adminpass", 'P', 1, O_PASS, "admin password (visible in ps: prefer the credentials file)" },
    { "url", 0, 1, O_URL, "the admin API (default $OXMIGRATE_URL, else " OXM_DEFAULT_URL ")" },
    { "credentials", 0, 1, O_CRED, "netrc file with the credentials (default $OXMIGRATE_CREDENTIALS)" },
    { "json", 0, 0, O_JSON, "print the API's JSON answer unchanged" },
    { "responsetimeout", 0, 1, O_TIMEOUT, "seconds to wait for an answer (default 0: infinite)" },
    { NULL, 0, 0, 0, NULL }
};

static const opt_t  csv_opt = { "csv", 0, 0, O_CSV, "CSV output" };
static const opt_t  jmx_opts[] = {
    { "login", 'l', 1, O_USER, "same as -A (OX's JMX login)" },
    { "password", 's', 1, O_PASS, "same as -P (OX's JMX password)" },
};


/* the options of c, its own first (the order of its --help); returns n */
static size_t
cmd_opts(const cmd_t *c, const opt_t **all)
{
    size_t        n = 0;
    const opt_t  *op;

    for (op = c->opts; op && op->lng; op++) {
        all[n++] = op;
    }
    for (op = common_opts; op->lng; op++) {
        all[n++] = op;
    }
    if (c->csv) {
        all[n++] = &csv_opt;
    }
    if (c->jmx) {
        all[n++] = &jmx_opts[0];
        all[n++] = &jmx_opts[1];
    }
    return n;
}


/*
 * Parses argv for the command c into o.  Returns 0, or the exit code of a
 * usage error (printed).
 */
int
parse(const cmd_t *c, int argc, char **argv, got_t *o)
{
    struct option   lo[64];
    const opt_t    *all[64];
    char            so[160], *p;
    size_t          n, i;
    int             ch, idx;
    const opt_t    *op;

    n = cmd_opts(c, all);
    p = so;
    *p++ = ':';
    for (i = 0; i < n; i++) {
        lo[i].name = all[i]->lng;
        lo[i].has_arg = all[i]->arg ? required_argument : no_argument;
        lo[i].flag = NULL;
        lo[i].val = 1000 + (int) i;
        if (all[i]->shrt) {
            *p++ = (char) all[i]->shrt;
            if (all[i]->arg) {
                *p++ = ':';
            }
        }
    }
    *p = '\0';
    memset(&lo[n], 0, sizeof(lo[n]));

    memset(o, 0, sizeof(*o));
    o->cmd = c;
    for (i = 1; i < (size_t) argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            g.json = 1;     /* usage errors before it are JSON too */
        }
    }
    opterr = 0;
    optind = 1;

    while ((ch = getopt_long(argc, argv, so, lo, &idx)) != -1) {
        if (ch == '?') {
            if (optopt && optopt < 1000) {
                return usage_error(EX_ILLEGAL_VALUE, "unknown option '-%c'",
                                   optopt);
            }
            return usage_error(EX_ILLEGAL_VALUE, "unknown option '%s'",
                               argv[optind - 1]);
        }
        if (ch == ':') {
            return usage_error(EX_MISSING_OPTION,
                               "option '%s' needs a value",
                               argv[optind - 1]);
        }
        if (ch >= 1000) {
            op = all[ch - 1000];
        } else {
            op = NULL;
            for (i = 0; i < n; i++) {
                if (all[i]->shrt == ch) {
                    op = all[i];
                    break;
                }
            }
            if (op == NULL) {
                return usage_error(EX_ILLEGAL_VALUE, "unknown option '-%c'",
                                   ch);
            }
        }
        if (op->id == O_HELP) {
            usage(c, stdout);
            exit(EX_OK);
        }
        if (op->id == O_JSON) {
            g.json = 1;
        }
        o->val[op->id] = op->arg ? optarg : "";

        /* -P/-s: keep the password out of ps as far as we can */
        if (op->id == O_PASS && optarg) {
            o->val[op->id] = xstrdup(optarg);
            memset(optarg, 'x', strlen(optarg));
        }
    }

    o->args = argv + optind;
    o->nargs = argc - optind;
    return 0;
}


/* at most n positional arguments */
int
max_args(got_t *o, int n)
{
    if (o->nargs > n) {
        return usage_error(EX_ILLEGAL_VALUE, "unexpected argument '%s'",
                           o->args[n]);
    }
    return 0;
}


/*
 * What every command checks first: the options it cannot do without
 * (OPT_NEED, in their order), then that there are no positional arguments
 * unless it takes some (c->args).
 */
int
check_args(const cmd_t *c, got_t *o)
{
    const opt_t  *op;

    for (op = c->opts; op && op->lng; op++) {
        if (op->arg == OPT_NEED
            && (o->val[op->id] == NULL || o->val[op->id][0] == '\0'))
        {
            return usage_error(EX_MISSING_OPTION, "missing option -%c/--%s",
                               op->shrt, op->lng);
        }
    }
    return c->args ? 0 : max_args(o, 0);
}


/* a positive integer option value; -1 on error (printed) */
long long
num(const char *s, const char *flag, int *rc)
{
    char       *end;
    long long   v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0 || !isdigit((unsigned char) *s)) {
        *rc = usage_error(EX_ILLEGAL_VALUE,
                          "option %s: '%s' is not a number", flag, s);
        return -1;
    }
    *rc = 0;
    return v;
}


/* num() from lo to hi */
long long
num_in(const char *s, const char *flag, long long lo, long long hi, int *rc)
{
    long long  v;

    v = num(s, flag, rc);
    if (*rc == 0 && (v < lo || v > hi)) {
        *rc = usage_error(EX_ILLEGAL_VALUE, "%s must be %lld to %lld", flag,
                          lo, hi);
    }
    return v;
}


/* settings from the options and the environment */
int
setup(got_t *o)
{
    const char   *e;
    struct stat   st;
    size_t        l;
    int           rc;

    e = o->val[O_URL] ? o->val[O_URL] : getenv("OXMIGRATE_URL");
    g.url = xstrdup(e && *e ? e : OXM_DEFAULT_URL);
    l = strlen(g.url);
    while (l > 0 && g.url[l - 1] == '/') {
        g.url[--l] = '\0';
    }

    g.user = o->val[O_USER];
    g.pass = o->val[O_PASS];

    e = o->val[O_CRED] ? o->val[O_CRED] : getenv("OXMIGRATE_CREDENTIALS");
    if (e && *e) {
        if (stat(e, &st) != 0 || access(e, R_OK) != 0) {
            return usage_error(EX_ILLEGAL_VALUE,
                               "cannot read the credentials file %s: %s",
                               e, strerror(errno ? errno : EACCES));
        }
        if (st.st_mode & (S_IRWXG | S_IRWXO)) {
            msg("warning: the credentials file %s is readable by others"
                " (chmod 600 it)", e);
        }
        g.netrc = xstrdup(e);
    }

    if (o->val[O_TIMEOUT]) {
        g.timeout = (long) num(o->val[O_TIMEOUT], "--responsetimeout", &rc);
        if (rc) {
            return rc;
        }
    }

    e = getenv("OXMIGRATE_POLL_MS");
    g.poll_ms = (e && atol(e) > 0) ? atol(e) : 1000;
    g.csv = o->val[O_CSV] != NULL;
    return 0;
}


static void
print_opt(FILE *f, const opt_t *op)
{
    char  flag[64];

    if (op->shrt) {
        snprintf(flag, sizeof(flag), "-%c,--%s%s", op->shrt, op->lng,
                 op->arg ? " <arg>" : "");
    } else {
        snprintf(flag, sizeof(flag), "--%s%s", op->lng,
                 op->arg ? " <arg>" : "");
    }
    fprintf(f, "  %-28s %s\n", flag, op->help);
}


/* --help: of the command c, else (NULL) of oxmigrate */
int
usage(const cmd_t *c, FILE *f)
{
    const opt_t  *all[64];
    size_t        n, i;

    if (c == NULL) {
        fprintf(f, "usage: oxmigrate COMMAND [OPTIONS]   (oxmigrate COMMAND"
                   " --help)\n\nThe OX upgrade tools as a client of the"
                   " oxmigrate admin API.\n\ncommands:\n");
        for (c = cmds; c->name; c++) {
            fprintf(f, "  %-26s %s\n", c->name, c->what);
        }
        fprintf(f, "\nThe API: --url, else $OXMIGRATE_URL, else %s\n"
                   "  (OpenAPI: /usr/share/doc/oxmigrate-tools/openapi.yaml)."
                   "\n"
                   "Credentials: -A/-P, or a netrc file (--credentials,"
                   " $OXMIGRATE_CREDENTIALS;\n  recommended: -P shows in"
                   " ps):  machine 127.0.0.1 login oxadminmaster password"
                   " ...\nExit codes: 0 ok, 101 invalid credentials, 103"
                   " invalid data (unknown name),\n  104 missing option, 105"
                   " API unreachable, 106 storage error or conflict,\n  107"
                   " remote error, 109 illegal option or value, 110 server"
                   " exists (not continued),\n  111 failed (job or update"
                   " tasks), 112 not supported by the API, 113 job"
                   " interrupted,\n  114 job paused, 115 job cancelled; lookup: 102 no such"
                   " context.\n", OXM_DEFAULT_URL);
        return 0;
    }

    fprintf(f, "usage: oxmigrate %s [OPTIONS]%s%s\n\n%s\n\n", c->name,
            c->args ? " " : "", c->args ? c->args : "", c->what);
    n = cmd_opts(c, all);
    for (i = 0; i < n; i++) {
        print_opt(f, all[i]);
    }
    return 0;
}
