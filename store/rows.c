/* rows.c -- the one decoder of job rows, driven by a column table (rows.h). */
#include "store/rows.h"

#include "base/mem.h"
#include "store/conn.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JOB_ROW(sql, type, field, count) COL_ROW(struct job, sql, type, field, count)

const struct col job_cols[] = {COL_ROW(struct job, "id", COL_I64, id, id) JOB_COLUMN_LIST(JOB_ROW)};
const size_t job_ncols = sizeof(job_cols) / sizeof(job_cols[0]);

void store_rows_arena_size(const PGresult *r, const struct col *cols, size_t ncols, size_t *bytes,
                           size_t *names, size_t *uses, size_t *nums)
{
    *bytes = *names = *uses = *nums = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        for (size_t c = 0; c < ncols; c++) {
            const char *text = PQgetvalue(r, row, (int)c);

            if (cols[c].type == COL_NUMS)
                *nums += store_array_count(text);
            if (cols[c].type != COL_NAMES && cols[c].type != COL_PLAN_NODES &&
                cols[c].type != COL_PLAN_GPUS)
                continue;
            *bytes += (size_t)PQgetlength(r, row, (int)c) + 1;
            *names += store_array_count(text);
            if (cols[c].type == COL_PLAN_NODES)
                *uses += store_array_count(text);
        }
    }
}

static int64_t i64_of(const char *v)
{
    return strtoll(v, NULL, 10);
}

static void decode_plan_gpus(const char *text, struct job_node_use *plan, size_t n,
                             struct row_arena *a)
{
    /* The names arena is scratch here: the numbers are read at once. */
    char *scratch = a->next;
    size_t k = store_array_parse(text, &scratch, a->names, n);

    for (size_t i = 0; i < k; i++)
        plan[i].gpus = a->names[i] ? (int)i64_of(a->names[i]) : 0;
}

void store_row_decode(const PGresult *r, int row, const struct col *cols, size_t ncols, void *out,
                      struct row_arena *a)
{
    char *base = out;

    for (size_t c = 0; c < ncols; c++) {
        const struct col *k = &cols[c];
        const char *v = PQgetvalue(r, row, (int)c);
        bool null = PQgetisnull(r, row, (int)c);
        void *field = base + k->off;
        size_t *count = (size_t *)(base + k->count_off);

        switch (k->type) {
        case COL_I64: *(int64_t *)field = null ? 0 : i64_of(v); break;
        case COL_INT: *(int *)field = null ? 0 : (int)i64_of(v); break;
        case COL_BOOL: *(bool *)field = v[0] == 't'; break;
        case COL_PHASE: {
            enum job_phase p = PHASE_QUEUED;

            job_phase_parse(v, &p); /* the CHECK constraint guards it */
            *(enum job_phase *)field = p;
            break;
        }
        case COL_TEXT: *(char **)field = null ? NULL : xstrdup(v); break;
        case COL_CHARS: snprintf(field, k->size, "%s", v); break;
        case COL_NAMES:
            *(const char ***)field = a->names;
            *count = store_array_parse(v, &a->next, a->names, store_array_count(v));
            a->names += *count;
            break;
        case COL_PLAN_NODES: {
            struct job_node_use *plan = a->uses;
            size_t n = store_array_parse(v, &a->next, a->names, store_array_count(v));

            for (size_t i = 0; i < n; i++)
                plan[i] = (struct job_node_use){a->names[i], 0};
            a->names += n;
            a->uses += n;
            *(struct job_node_use **)field = plan;
            *count = n;
            break;
        }
        case COL_PLAN_GPUS: decode_plan_gpus(v, *(struct job_node_use **)field, *count, a); break;
        case COL_NUMS:
            *(const double **)field = a->nums;
            *count = store_array_numbers(v, a->nums, store_array_count(v));
            a->nums += *count;
            break;
        }
    }
}

struct job *store_job_from_row(const PGresult *r, int row)
{
    struct job *j = job_new();

    store_row_decode(r, row, job_cols, job_ncols, j, NULL);
    return j;
}
