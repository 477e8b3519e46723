/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: the OX upgrade tools (upgradeschemata, registerserver,
 * listdatabaseschema, disableschema, changeserver, runupdate, enableschema,
 * runallupdate, listUpdateTasks, forceupdatetask, listupdatetasknamespaces,
 * checkdatabase, unblockdatabase) with their flags, output formats and exit
 * codes, as a thin client of the oxmigrate admin API (docs/admin-api.md).
 * See docs/cli.md.
 *
 *   oxmigrate COMMAND [OPTIONS]
 *   oxmigrate --help
 *
 * A link named like a command (e.g. /usr/sbin/disableschema -> oxmigrate)
 * runs that command.
 *
 * This file: the command table and main(); oxmigrate.h says where the
 * rest is.
 */


#include "oxmigrate.h"


static const opt_t  o_name_server[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the server's name (its SERVER_NAME)" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_schema[] = {
    { "schema", 'm', OPT_NEED, O_SCHEMA, "the database schema" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_changeserver[] = {
    { "server-id", 's', OPT_NEED, O_SERVER_ID, "the id of the new server" },
    { "schema", 'm', OPT_NEED, O_SCHEMA, "the database schema" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_name_schema[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the schema's name" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_runallupdate[] = {
    { "error", 'e', 0, O_ERROR, "stop at the first schema that fails" },
    { "no-wait", 0, 0, O_NO_WAIT, "print the job id and return" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_listupdatetasks[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the schema's name" },
    { "all", 'a', 0, O_ALL, "pending and excluded tasks (default)" },
    { "executed", 'e', 0, O_EXECUTED, "executed tasks" },
    { "pending", 'g', 0, O_PENDING, "pending tasks" },
    { "excluded", 'x', 0, O_EXCLUDED, "excluded tasks" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_force[] = {
    { "task", 't', OPT_NEED, O_TASK, "the update task's name" },
    { "name", 'n', 1, O_NAME, "the schema (default: all schemas)" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_unblock[] = {
    { "id", 'i', 1, O_ID, "the id of the database" },
    { "name", 'n', 1, O_NAME, "the name of the database" },
    { "schema", 0, 1, O_SCHEMA, "only this schema of the database" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_upgrade[] = {
    { "name", 'n', OPT_NEED, O_NAME, "the upgraded server's name (registered when missing)" },
    { "force", 'f', 0, O_FORCE, "go on past schemas whose update fails" },
    { "schema", 'm', 1, O_SCHEMA, "start after this schema (skipping it)" },
    { "skip", 'k', 1, O_SKIP, "comma-separated schemas to leave out" },
    { "continue", 0, 0, O_CONTINUE, "use an already registered server without asking" },
    { "parallel", 0, 1, O_PARALLEL, "up to N schemas at once, one per database host (1-64)" },
    { "dry-run", 0, 0, O_DRY_RUN, "print the plan, change nothing" },
    { "no-wait", 0, 0, O_NO_WAIT, "print the job id and return" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_lookup[] = {
    { "primary", 0, 1, O_PRIMARY, "server names of a primary balancer: its decision" },
    { "secondary", 0, 1, O_SECONDARY, "server names of a secondary balancer: its decision" },
    { NULL, 0, 0, 0, NULL }
};
static const opt_t  o_jobs[] = {
    { "limit", 0, 1, O_LIMIT, "list: at most N jobs (default 50)" },
    { "no-wait", 0, 0, O_NO_WAIT, "resume, continue: return at once" },
    { NULL, 0, 0, 0, NULL }
};

/* the data of the commands that differ from others only in it */

static const list_t  l_servers = { "servers", "servers", "id name",
    NULL, NULL };

static const list_t  l_schemas = { "schemas", "schemas",
    "id=db_pool_id hostname=host scheme=name contexts enabled maintenance"
    " server=server_ids status", NULL, NULL };

static const list_t  l_check = { "databases/check", "schemas",
    "id name hostname scheme status",
    "Neither pending, blocking nor stale schemas found", NULL };

static const switch_t  sw_disable = { "disable", "disabled" };
static const switch_t  sw_enable = { "enable", "enabled" };

const cmd_t  cmds[] = {
    { "upgradeschemata", run_upgradeschemata, o_upgrade, 0, 0, NULL,
      "register the server and upgrade every schema onto it (a job)", NULL },
    { "registerserver", run_registerserver, o_name_server, 0, 0, NULL,
      "register a server", NULL },
    { "listserver", run_list, NULL, 1, 0, NULL,
      "list the registered servers", &l_servers },
    { "listdatabaseschema", run_list, NULL, 1, 0, NULL,
      "list the database schemas", &l_schemas },
    { "disableschema", run_schema_switch, o_schema, 0, 0, NULL,
      "disable every context of a schema", &sw_disable },
    { "changeserver", run_changeserver, o_changeserver, 0, 0, NULL,
      "point a disabled schema's contexts to a server", NULL },
    { "runupdate", run_runupdate, o_name_schema, 0, 1, NULL,
      "run the pending update tasks of a schema", NULL },
    { "enableschema", run_schema_switch, o_schema, 0, 0, NULL,
      "enable the contexts disableschema disabled", &sw_enable },
    { "runallupdate", run_runallupdate, o_runallupdate, 0, 1, NULL,
      "run the pending update tasks of every schema (a job)", NULL },
    { "listUpdateTasks", run_listupdatetasks, o_listupdatetasks, 1, 0, NULL,
      "list the executed, pending or excluded update tasks of a schema",
      NULL },
    { "forceupdatetask", run_forceupdatetask, o_force, 0, 1, NULL,
      "(re-)run one update task", NULL },
    { "listupdatetasknamespaces", run_namespaces, NULL, 0, 0, NULL,
      "list the update task namespaces", NULL },
    { "checkdatabase", run_list, NULL, 1, 0, NULL,
      "list pending, blocked and stale schemas", &l_check },
    { "unblockdatabase", run_unblockdatabase, o_unblock, 1, 0, NULL,
      "remove the dead update locks of a database", NULL },
    { "jobs", run_jobs, o_jobs, 1, 0,
      "[list | show ID | watch ID | resume ID | pause ID | continue ID | cancel ID]",
      "the jobs of upgradeschemata and runallupdate", NULL },
    { "lookup", run_lookup, o_lookup, 0, 0, "LOGIN",
      "where a login's context is routed, and what the caches hold", NULL },
    { NULL, NULL, NULL, 0, 0, NULL, NULL, NULL }
};


static const cmd_t *
find_cmd(const char *name)
{
    const cmd_t  *c;

    for (c = cmds; c->name; c++) {
        if (strcmp(c->name, name) == 0) {
            return c;
        }
    }
    /* OX spells it listUpdateTasks; the seed also says listupdatetasks */
    if (strcasecmp(name, "listupdatetasks") == 0) {
        return find_cmd("listUpdateTasks");
    }
    return NULL;
}


int
main(int argc, char **argv)
{
    const cmd_t  *c;
    const char   *base;
    got_t         o;
    int           rc;

    base = strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    g.prog = "oxmigrate";

    /* run as a link named like a command, or "oxmigrate COMMAND ..." */
    c = find_cmd(base);
    if (c == NULL) {
        if (argc < 2) {
            usage(NULL, stderr);
            return EX_MISSING_OPTION;
        }
        if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0
            || strcmp(argv[1], "help") == 0)
        {
            usage(NULL, stdout);
            return EX_OK;
        }
        if (strcmp(argv[1], "--version") == 0) {
            printf("oxmigrate %s\n", OXM_VERSION);
            return EX_OK;
        }
        c = find_cmd(argv[1]);
        if (c == NULL) {
            int i;

            for (i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--json") == 0) {
                    g.json = 1;
                }
            }
            return usage_error(EX_ILLEGAL_VALUE, "unknown command '%s'",
                               argv[1]);
        }
        argv++;
        argc--;
        g.prog = xasprintf("oxmigrate %s", c->name);
    } else {
        g.prog = c->name;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        msg("curl_global_init failed");
        return EX_REMOTE;
    }

    rc = parse(c, argc, argv, &o);
    if (rc) {
        return rc;
    }
    rc = setup(&o);
    if (rc) {
        return rc;
    }

    g.curl = curl_easy_init();
    if (g.curl == NULL) {
        msg("curl_easy_init failed");
        return EX_REMOTE;
    }

    signal(SIGPIPE, SIG_IGN);
    rc = check_args(c, &o);
    if (rc == 0) {
        rc = c->run(c, &o);
    }
    fflush(stdout);

    curl_easy_cleanup(g.curl);
    curl_global_cleanup();
    return rc;
}
