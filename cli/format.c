/* Copyright (C) the oxmigrate authors. BSD-2-Clause: see LICENSE. */
/*
 * oxmigrate: the OX tools' tables (and --csv) from an answer's arrays, an
 * object as flat "a.b: value" lines.
 */


#include "oxmigrate.h"


/* a cell of a table: the member key of a row (a JSON object) as text */
typedef char *(*cell_pt)(yajl_val row, const char *key);

#define TABLE_COLS  16

typedef struct {
    size_t    ncols;
    char     *keys[TABLE_COLS];
    cell_pt   cells[TABLE_COLS];
    char    **rows;     /* nrows * ncols cells, row 0 is the header */
    size_t    nrows;
    size_t    cap;
} table_t;


char *
cell_text(yajl_val row, const char *key)
{
    return jtext(jget(row, key));
}


/* epoch ms as OX prints lastModified: "2016-12-23 10:43:51 CET" */
char *
cell_time(yajl_val row, const char *key)
{
    char       out[64];
    time_t     t;
    struct tm  tm;
    yajl_val   v;

    v = jget(row, key);
    if (v == NULL || !YAJL_IS_INTEGER(v)) {
        return xstrdup("-");
    }
    t = (time_t) (YAJL_GET_INTEGER(v) / 1000);
    localtime_r(&t, &tm);
    strftime(out, sizeof(out), "%Y-%m-%d %H:%M:%S %Z", &tm);
    return xstrdup(out);
}


/* the length of an array */
static char *
cell_count(yajl_val row, const char *key)
{
    return xasprintf("%zu", jlen(jget(row, key)));
}


/* an array, "-" when empty */
static char *
cell_list(yajl_val row, const char *key)
{
    return jlen(jget(row, key)) ? cell_text(row, key) : xstrdup("-");
}


/* listUpdateTasks: an excluded task says what excluded it */
static char *
cell_taskstate(yajl_val row, const char *key)
{
    const char  *st;

    st = jstr_or(row, key, "");
    if (strcmp(st, "excluded") == 0 && jstr(row, "excluded_by")) {
        return xstrdup(jstr(row, "excluded_by"));
    }
    return xstrdup(st);
}


static const struct {
    const char  *name;
    cell_pt      cell;
} cell_kinds[] = {
    { "time", cell_time },
    { "count", cell_count },
    { "list", cell_list },
    { "taskstate", cell_taskstate },
    { NULL, NULL }
};


/* the cell of a column's KIND (n bytes at name) */
static cell_pt
cell_kind(const char *name, size_t n)
{
    size_t  i;

    for (i = 0; cell_kinds[i].name; i++) {
        if (strncmp(cell_kinds[i].name, name, n) == 0
            && cell_kinds[i].name[n] == '\0')
        {
            return cell_kinds[i].cell;
        }
    }
    abort();        /* a spec of ours names no such kind: a bug */
}


/*
 * A table with the columns of spec, "HEADER[=KEY][:KIND] ...": the cell of
 * a row is its member KEY (default: HEADER) as text, or as KIND says
 * (cell_kinds).
 */
static void
table_init(table_t *t, const char *spec)
{
    const char  *p, *key;
    size_t       n, c;

    memset(t, 0, sizeof(*t));
    t->cap = 16;
    t->rows = xmalloc(sizeof(char *) * TABLE_COLS * t->cap);

    for (p = spec, c = 0; *p; p += strspn(p, " "), c++) {
        if (c == TABLE_COLS) {
            abort();    /* a spec of ours: make TABLE_COLS larger */
        }
        n = strcspn(p, "=: ");
        t->rows[c] = xstrndup(p, n);
        key = p;
        p += n;
        if (*p == '=') {
            key = ++p;
            n = strcspn(p, ": ");
            p += n;
        }
        t->keys[c] = xstrndup(key, n);
        t->cells[c] = cell_text;
        if (*p == ':') {
            n = strcspn(++p, " ");
            t->cells[c] = cell_kind(p, n);
            p += n;
        }
    }
    t->ncols = c;
    t->nrows = 1;
}


/* a row of the table from a JSON object */
static void
table_add(table_t *t, yajl_val row)
{
    size_t   i;
    char   **n;

    if (t->nrows == t->cap) {
        t->cap *= 2;
        n = realloc(t->rows, sizeof(char *) * t->ncols * t->cap);
        if (n == NULL) {
            die_oom();
        }
        t->rows = n;
    }
    for (i = 0; i < t->ncols; i++) {
        t->rows[t->nrows * t->ncols + i] = t->cells[i](row, t->keys[i]);
    }
    t->nrows++;
}


static void
csv_cell(const char *s)
{
    fputc('"', stdout);
    for (; *s; s++) {
        if (*s == '"') {
            fputc('"', stdout);
        }
        fputc(*s, stdout);
    }
    fputc('"', stdout);
}


/*
 * The OX tools' tables: a header line, then one line per row, the columns
 * separated by spaces (padded to a common width, the last one not).  --csv:
 * every cell quoted, comma-separated, header first (as OX's --csv).
 */
static void
table_print(table_t *t)
{
    size_t   r, c, *w, l;
    char    *s;

    w = xmalloc(sizeof(size_t) * t->ncols);
    memset(w, 0, sizeof(size_t) * t->ncols);
    for (r = 0; r < t->nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            l = strlen(t->rows[r * t->ncols + c]);
            if (l > w[c]) {
                w[c] = l;
            }
        }
    }

    for (r = 0; r < t->nrows; r++) {
        for (c = 0; c < t->ncols; c++) {
            s = t->rows[r * t->ncols + c];
            if (g.csv) {
                if (c) {
                    fputc(',', stdout);
                }
                csv_cell(s);
            } else if (c + 1 < t->ncols) {
                printf("%-*s ", (int) w[c], s);
            } else {
                fputs(s, stdout);
            }
        }
        fputc('\n', stdout);
    }

    for (r = 0; r < t->nrows * t->ncols; r++) {
        free(t->rows[r]);
    }
    for (c = 0; c < t->ncols; c++) {
        free(t->keys[c]);
    }
    free(t->rows);
    free(w);
}


/* the table l of an answer (l->none when it has no rows) */
void
print_list(const list_t *l, yajl_val json)
{
    table_t   t;
    yajl_val  a, row;
    size_t    i;

    a = jget(json, l->key);
    if (l->none && jlen(a) == 0 && !g.csv) {
        printf("%s\n", l->none);
        return;
    }
    table_init(&t, l->cols);
    for (i = 0; i < jlen(a); i++) {
        row = jat(a, i);
        if (l->skip == NULL || !l->skip(row)) {
            table_add(&t, row);
        }
    }
    table_print(&t);
}


/* text_pt of a list_t */
void
list_text(yajl_val json, const void *arg)
{
    print_list(arg, json);
}


/* an object as "a.b.c: value" lines, in the API's order */
void
print_flat(const char *prefix, yajl_val v)
{
    size_t   i;
    char    *k, *t;

    if (v && YAJL_IS_OBJECT(v)) {
        for (i = 0; i < v->u.object.len; i++) {
            k = prefix[0] ? xasprintf("%s.%s", prefix, v->u.object.keys[i])
                          : xstrdup(v->u.object.keys[i]);
            print_flat(k, v->u.object.values[i]);
            free(k);
        }
        return;
    }
    t = jtext(v);
    printf("%s: %s\n", prefix, t);
    free(t);
}
