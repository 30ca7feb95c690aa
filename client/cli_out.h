/* cli_out.h -- what the client verbs print: aligned tables, indented JSON, and the
 * usage error every verb ends a bad command line with.
 * Not responsible for what goes in the rows (the verbs) nor for YAML (yaml_emit.h). */
#ifndef CLIENT_CLI_OUT_H
#define CLIENT_CLI_OUT_H

#include <jansson.h>
#include <stddef.h>

/* Rows of ncols cells, copied (NULL prints "-"); widths are computed at print time. Set
 * ncols, zero the rest. */
struct cli_table {
    char **cells;
    size_t ncols, nrows, cap;
};

void cli_table_row(struct cli_table *t, const char *const *cells);

/* Prints the rows with aligned columns on stdout, then frees them (as cli_table_free). */
void cli_table_print(struct cli_table *t);

void cli_table_free(struct cli_table *t);

/* v as indented JSON on stdout, keys in their order. */
void cli_print_json(const json_t *v);

/* "fedsched: <message>" and "Run 'fedsched <verb> --help' for usage." on stderr; returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends "key=value" to the request path in b, value percent-encoded, after "?" when b has
 * no query yet and "&" after one; nothing when value is NULL. */
struct buf;
void cli_query_param(struct buf *b, const char *key, const char *value);

#endif
