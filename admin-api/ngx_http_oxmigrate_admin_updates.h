/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */

/*
 * oxmigrate admin API: the declarations of the update-task family
 * (updates, update tasks, databases) (issue 18).
 * Included by ngx_http_oxmigrate_admin.h at its end.
 *
 *   svc/updates.c, tasklist.c, check.c   the services (thread)
 *   ox/oxtasks.c, oxforce.c              their OX-tools path: runs a tool,
 *                                        reads its output into a result
 *   store/store_updatetask.c             updateTask and OX's lock rows
 *   http/answer_updates.c                the answers: statuses and JSON
 */


#ifndef _NGX_HTTP_OXMIGRATE_ADMIN_UPDATES_H_INCLUDED_
#define _NGX_HTTP_OXMIGRATE_ADMIN_UPDATES_H_INCLUDED_


/* what GET /schemas/{s}/updatetasks?state= asks for */
#define NGX_HTTP_OXMIGRATE_TASKS_EXECUTED  0x01
#define NGX_HTTP_OXMIGRATE_TASKS_PENDING   0x02
#define NGX_HTTP_OXMIGRATE_TASKS_EXCLUDED  0x04


/*
 * The tool an endpoint's OX-tools path ran, first in every result below:
 * failed: the answer is the tool's failure (502, 503, 504 with its words)
 */
typedef struct {
    ngx_http_oxmigrate_ox_call_t  *call;       /* NULL: none ran */
    ngx_uint_t                     failed;
} ngx_http_oxmigrate_ox_ran_t;


/* a schema of a database, as checkdatabase and unblockdatabase list it */
typedef struct {
    int64_t                     id;          /* the database (db_pool) */
    ngx_str_t                   name;        /* data NULL: null */
    ngx_str_t                   hostname;
    ngx_str_t                   scheme;
    ngx_str_t                   status;      /* data NULL: no "status" */
    ngx_uint_t                  short_row;   /* only "id" and "scheme" */
} ngx_http_oxmigrate_db_row_t;

/* GET /databases/check */
typedef struct {
    ngx_http_oxmigrate_ox_ran_t  ox;
    ngx_array_t                 *rows;       /* ngx_http_oxmigrate_db_row_t */
} ngx_http_oxmigrate_db_check_t;

/* POST /databases/{id}/unblock */
typedef struct {
    ngx_http_oxmigrate_ox_ran_t  ox;
    int64_t                      database;
    ngx_array_t                 *unblocked;  /* ngx_http_oxmigrate_db_row_t */
    ngx_array_t                 *kept;       /* NULL: not answered */
    ngx_str_t                    message;
} ngx_http_oxmigrate_db_unblock_t;


/*
 * An entry of a schema's task list: executed (e, its updateTask row),
 * excluded (by: why, in OX's words) or pending; ns NULL: no namespace
 */
typedef struct {
    ngx_str_t                       name;
    ngx_str_t                      *ns;
    ngx_http_oxmigrate_executed_t  *e;
    ngx_str_t                      *by;
} ngx_http_oxmigrate_task_entry_t;

/* GET /schemas/{s}/updatetasks: every entry; the answer keeps the wanted */
typedef struct {
    ngx_http_oxmigrate_ox_ran_t  ox;
    const char                  *schema;
    ngx_uint_t                   want;
    ngx_array_t                 *tasks;  /* ngx_http_oxmigrate_task_entry_t */
} ngx_http_oxmigrate_task_list_t;

/* GET /updatetasks/namespaces */
typedef struct {
    ngx_str_t                   name;
    ngx_uint_t                  excluded;
    ngx_array_t                *tasks;      /* ngx_str_t */
} ngx_http_oxmigrate_namespace_t;

typedef struct {
    ngx_http_oxmigrate_ox_ran_t  ox;
    ngx_array_t                 *namespaces;
} ngx_http_oxmigrate_namespaces_t;


/* what forcing a task did in one schema */
typedef struct {
    const char                 *schema;
    ngx_uint_t                  successful;
    const char                 *error;      /* NULL: none */
} ngx_http_oxmigrate_forced_t;

/* POST /schemas/{s}/updatetasks/{t}/force */
typedef struct {
    ngx_http_oxmigrate_ox_ran_t  ox;
    const char                  *task;
    ngx_uint_t                   broke;      /* the runner failed: 500 */
    ngx_http_oxmigrate_forced_t  forced;
} ngx_http_oxmigrate_force_t;

/* POST /updatetasks/{t}/force */
typedef struct {
    ngx_http_oxmigrate_ox_ran_t  ox;
    const char                  *task;
    ngx_array_t                 *schemas;   /* ngx_http_oxmigrate_forced_t */
} ngx_http_oxmigrate_force_all_t;

/* POST /schemas/{s}/update */
typedef struct {
    ngx_uint_t                   ox_failed;  /* st.call: the answer */
    ngx_uint_t                   stepped;    /* st and u were run */
    const char                  *schema;
    ngx_http_oxmigrate_step_t    st;
    ngx_http_oxmigrate_update_t  u;
} ngx_http_oxmigrate_schema_update_t;


/* svc/ngx_http_oxmigrate_admin_updates.c (thread) */

ngx_int_t ngx_http_oxmigrate_admin_schema_update(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_task_force(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_task_force_all(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_namespaces(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);

/* the database host of a schema (configdb); NGX_DECLINED/NGX_ERROR: res */
ngx_int_t ngx_http_oxmigrate_admin_schema_host(
    ngx_http_oxmigrate_admin_conn_t *c, const char *schema,
    ngx_http_oxmigrate_dbhost_t *h, ngx_http_oxmigrate_admin_res_t *res);
/* every schema of configdb in order; NGX_ERROR: res */
ngx_int_t ngx_http_oxmigrate_admin_schemas(ngx_http_oxmigrate_admin_conn_t *c,
    ngx_array_t **all, ngx_http_oxmigrate_admin_res_t *res);
/* a name that may become a tool's argument; NGX_DECLINED: res (400) */
ngx_int_t ngx_http_oxmigrate_admin_upd_safe(
    ngx_http_oxmigrate_admin_res_t *res, const char *what, const char *s);
/* the tool of ox failed: its reason and words into res */
ngx_int_t ngx_http_oxmigrate_admin_upd_ox_failed(
    ngx_http_oxmigrate_admin_res_t *res, ngx_http_oxmigrate_ox_ran_t *ox);


/* svc/ngx_http_oxmigrate_admin_tasklist.c (thread) */

ngx_int_t ngx_http_oxmigrate_admin_tasks_list(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);


/* svc/ngx_http_oxmigrate_admin_check.c (thread) */

ngx_int_t ngx_http_oxmigrate_admin_db_check(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);
ngx_int_t ngx_http_oxmigrate_admin_db_unblock(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_admin_args_t *a,
    ngx_http_oxmigrate_admin_res_t *res);


/* ox/ngx_http_oxmigrate_admin_oxtasks.c: the tools, read (thread) */

/*
 * Runs call; with one, a tool that printed neither one nor other is not
 * believed.  NGX_ERROR: call->error says why.
 */
ngx_int_t ngx_http_oxmigrate_admin_oxt_run(ngx_http_oxmigrate_ox_call_t *call,
    const char *one, const char *other);
/* checkdatabase: its rows; NGX_ERROR: ck->ox.call->error */
ngx_int_t ngx_http_oxmigrate_admin_ox_db_check(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_db_check_t *ck);
/* unblockdatabase -i id [--schema schema]; NGX_ERROR: ub->ox.call->error */
ngx_int_t ngx_http_oxmigrate_admin_ox_db_unblock(
    ngx_http_oxmigrate_admin_conn_t *c, char *id, const char *schema,
    ngx_http_oxmigrate_db_unblock_t *ub);
/* listUpdateTasks -a -n schema: its pending and excluded tasks into tasks */
ngx_int_t ngx_http_oxmigrate_admin_ox_tasks(ngx_http_oxmigrate_admin_conn_t *c,
    const char *schema, ngx_http_oxmigrate_ox_ran_t *ox, ngx_array_t *tasks);
/* listUpdateTaskNamespaces: the namespaces and their tasks */
ngx_int_t ngx_http_oxmigrate_admin_ox_namespaces(
    ngx_http_oxmigrate_admin_conn_t *c, ngx_http_oxmigrate_namespaces_t *ns);


/* ox/ngx_http_oxmigrate_admin_oxforce.c (thread) */

/*
 * forceupdatetask [-n schema] -t task, run; *since: the time the rows OX
 * writes for it are newer than.  NGX_ERROR: ox->call->error.
 */
ngx_int_t ngx_http_oxmigrate_admin_ox_force(ngx_http_oxmigrate_admin_conn_t *c,
    const char *schema, const char *task, ngx_http_oxmigrate_ox_ran_t *ox,
    int64_t *since);
/* the tool said another process updates the schema */
ngx_uint_t ngx_http_oxmigrate_admin_ox_force_conflict(
    ngx_http_oxmigrate_ox_call_t *call);
/* what the task's newest updateTask row in schema says (sm NULL: none) */
void ngx_http_oxmigrate_admin_ox_forced(ngx_http_oxmigrate_admin_conn_t *c,
    MYSQL *sm, const char *task, int64_t since,
    ngx_http_oxmigrate_forced_t *f);


/* tasks/ngx_http_oxmigrate_admin_tasks.c: an entry of a task list;
 * NGX_ERROR: no memory */
ngx_int_t ngx_http_oxmigrate_admin_task_entry(ngx_array_t *tasks,
    ngx_str_t *name, ngx_str_t *ns, ngx_http_oxmigrate_executed_t *e,
    ngx_str_t *by);


/* store/ngx_http_oxmigrate_admin_store_updatetask.c (thread) */

/* the newest row of a task since a time: 1, 0 (failed), -1 (none) */
ngx_int_t ngx_http_oxmigrate_admin_store_task_result(MYSQL *sm,
    ngx_pool_t *pool, const char *schema, const char *task, int64_t since);
/* deletes OX's lock row if it still has lastModified locked: 1, 0, -1 */
int64_t ngx_http_oxmigrate_admin_store_unlock(MYSQL *sm, ngx_pool_t *pool,
    const char *schema, int64_t locked);
/*
 * The rows of a schema's updateTask into st: executed tasks, OX's lock,
 * missing (no such database); no updateTask is no rows.  NGX_ERROR: see sm
 */
ngx_int_t ngx_http_oxmigrate_admin_store_task_rows(MYSQL *sm,
    ngx_pool_t *pool, const char *schema,
    ngx_http_oxmigrate_schema_state_t *st);


/* the runner's statements (tasks/runner.c, refresher.c, taskrun.c) */
ngx_int_t ngx_http_oxmigrate_admin_store_task_table(MYSQL *m,
    ngx_pool_t *pool, const char *schema);
int64_t ngx_http_oxmigrate_admin_store_lock(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t now);
int64_t ngx_http_oxmigrate_admin_store_lock_takeover(MYSQL *m,
    ngx_pool_t *pool, const char *schema, int64_t now, int64_t idle_before,
    int64_t mine);
ngx_int_t ngx_http_oxmigrate_admin_store_lock_read(MYSQL *m,
    ngx_pool_t *pool, const char *schema, int64_t *last);
int64_t ngx_http_oxmigrate_admin_store_lock_refresh(MYSQL *m,
    ngx_pool_t *pool, const char *schema, int64_t now, int64_t last);
ngx_int_t ngx_http_oxmigrate_admin_store_tasks_begin(MYSQL *m,
    ngx_pool_t *pool);
int64_t ngx_http_oxmigrate_admin_store_unlock_end(MYSQL *m, ngx_pool_t *pool,
    const char *schema, int64_t last);
/*
 * After a task: its transaction and table locks gone, the schema again;
 * a task's row and COMMIT (update: a forced re-run's row).  t/admin-82
 * breaks on these two names.
 */
ngx_int_t ngx_http_oxmigrate_admin_task_end(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_uint_t ended);
/* end: the task's end in the same round trip (then task_end's ended) */
ngx_int_t ngx_http_oxmigrate_admin_record(MYSQL *m, ngx_pool_t *pool,
    const char *schema, ngx_str_t *name, ngx_uint_t ok, ngx_uint_t update,
    ngx_uint_t end);

/* runupdate's proof (ox/oxupdate.c): task names, the newest task row */
ngx_int_t ngx_http_oxmigrate_admin_store_task_names(MYSQL *sm,
    ngx_pool_t *pool, const char *schema, ngx_uint_t successful,
    int64_t since, ngx_array_t *names);
ngx_int_t ngx_http_oxmigrate_admin_store_task_newest(MYSQL *sm,
    ngx_pool_t *pool, const char *schema, int64_t *newest);

/*
 * store/ngx_http_oxmigrate_admin_store.c: a job's heartbeat and its
 * schema's progress message while the runner or runupdate works
 */
int64_t ngx_http_oxmigrate_admin_store_heartbeat(MYSQL *m, ngx_pool_t *pool,
    uint64_t job_id, uint64_t claim, int64_t now);
int64_t ngx_http_oxmigrate_admin_store_job_message(MYSQL *m,
    ngx_pool_t *pool, uint64_t job_id, const char *schema,
    const char *message);


/* http/ngx_http_oxmigrate_admin_answer_updates.c (thread) */

void ngx_http_oxmigrate_admin_answer_update(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_tasks(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_force(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_force_all(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_namespaces(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_check(ngx_http_oxmigrate_admin_op_t *op,
    ngx_int_t rc);
void ngx_http_oxmigrate_admin_answer_unblock(
    ngx_http_oxmigrate_admin_op_t *op, ngx_int_t rc);


#endif /* _NGX_HTTP_OXMIGRATE_ADMIN_UPDATES_H_INCLUDED_ */
