/* cli_out.c -- tables, JSON and usage errors of the client verbs (see cli_out.h). */
#include "client/cli_out.h"

#include "base/buf.h"
#include "base/mem.h"
#include "client/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_table_row(struct cli_table *t, const char *const *cells)
{
    if (t->nrows == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->cells = xrealloc(t->cells, t->cap * t->ncols * sizeof(*t->cells));
    }
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = xstrdup(cells[c] ? cells[c] : "-");
    t->nrows++;
}

void cli_table_free(struct cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = t->cap = 0;
}

void cli_table_print(struct cli_table *t)
{
    size_t *w = xcalloc(t->ncols + 1, sizeof(*w));

    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        if (strlen(t->cells[i]) > w[i % t->ncols])
            w[i % t->ncols] = strlen(t->cells[i]);
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        if ((i + 1) % t->ncols == 0)
            printf("%s\n", t->cells[i]);
        else
            printf("%-*s  ", (int)w[i % t->ncols], t->cells[i]);
    }
    free(w);
    cli_table_free(t);
}

void cli_print_json(const json_t *v)
{
    char *text = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

    printf("%s\n", text ? text : "null");
    free(text);
}

int cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "fedsched: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun 'fedsched %s --help' for usage.\n", verb);
    return CLI_EXIT_USAGE;
}

void cli_query_param(struct buf *b, const char *key, const char *value)
{
    if (!value)
        return;
    buf_printf(b, "%c%s=", b->data && strchr(b->data, '?') ? '&' : '?', key);
    buf_url_escape(b, value);
}
