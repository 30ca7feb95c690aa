/* cli_bulk.c -- the job-set verbs' names and how their result is printed (see cli_bulk.h). */
#include "client/cli_bulk.h"

#include "client/cli_out.h"

#include <stdio.h>
#include <string.h>

bool cli_bulk_is_verb(const char *name)
{
    return strcmp(name, "hold") == 0 || strcmp(name, "release") == 0;
}

/* A from or to value as text: a phase, true/false or a priority. */
static void value_text(const json_t *v, char *out, size_t size)
{
    if (json_is_string(v))
        snprintf(out, size, "%s", json_string_value(v));
    else if (json_is_boolean(v))
        snprintf(out, size, "%s", json_is_true(v) ? "held" : "not held");
    else if (json_is_integer(v))
        snprintf(out, size, "%lld", (long long)json_integer_value(v));
    else
        snprintf(out, size, "-");
}

static void rows(struct cli_table *t, const json_t *items, bool changed)
{
    const json_t *it;
    size_t i;

    json_array_foreach(items, i, it)
    {
        char from[64], to[64], result[160];
        const char *cells[3] = {json_string_value(json_object_get(it, "namespace")),
                                json_string_value(json_object_get(it, "name")), result};

        value_text(json_object_get(it, "from"), from, sizeof(from));
        if (changed) {
            value_text(json_object_get(it, "to"), to, sizeof(to));
            snprintf(result, sizeof(result), "%s -> %s", from, to);
        } else {
            const char *why = json_string_value(json_object_get(it, "reason"));

            snprintf(result, sizeof(result), "unchanged: %s", why ? why : "-");
        }
        cli_table_row(t, cells);
    }
}

void cli_bulk_print(const json_t *result, const char *output)
{
    static const char *const header[] = {"NAMESPACE", "NAME", "RESULT"};
    const json_t *changed = json_object_get(result, "changed"),
                 *unchanged = json_object_get(result, "unchanged"), *it;
    struct cli_table t = {.ncols = 3};
    size_t i;

    if (strcmp(output, "json") == 0) {
        cli_print_json(result);
        return;
    }
    if (strcmp(output, "name") == 0) {
        json_array_foreach(changed, i, it)
        {
            printf("trainingjob/%s\n", json_string_value(json_object_get(it, "name")));
        }
        return;
    }
    cli_table_row(&t, header);
    rows(&t, changed, true);
    rows(&t, unchanged, false);
    if (t.nrows > 1)
        cli_table_print(&t);
    else
        cli_table_free(&t);
    printf("%s: %lld matched, %zu changed, %zu unchanged\n",
           json_string_value(json_object_get(result, "operation")),
           (long long)json_integer_value(json_object_get(result, "matched")),
           json_array_size(changed), json_array_size(unchanged));
}
