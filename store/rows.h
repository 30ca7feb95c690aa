/* rows.h -- store-internal: a job row's columns, each listed once with the SQL that
 * selects it and the field it lands in. The select list and the decoder are made from
 * the same list, so they cannot disagree about positions. One decoder reads every
 * record: the API's struct job and the scheduler's live job. */
#ifndef STORE_ROWS_H
#define STORE_ROWS_H

#include <libpq-fe.h>
#include <stddef.h>

#include "base/job.h"

enum col_type {
    COL_I64,        /* int64_t; NULL is 0 */
    COL_INT,        /* int; NULL is 0 */
    COL_BOOL,       /* bool from 't'/'f' */
    COL_PHASE,      /* enum job_phase (the CHECK constraint guards the text) */
    COL_TEXT,       /* char *, a malloc'ed copy; NULL stays NULL */
    COL_CHARS,      /* char[size], inline; NULL is "" */
    COL_NAMES,      /* const char ** of a text[] in the arena; its count at count_off */
    COL_PLAN_NODES, /* struct job_node_use * of a text[] of node names; count at count_off */
    COL_PLAN_GPUS,  /* the GPUs of the same plan entries, from an int[] in the same order */
    COL_NUMS,       /* const double * of a float8[] in the arena; its count at count_off. An
                     * element that is NULL or not a finite number is 0 */
};

struct col {
    const char *sql; /* the select expression, for the documentation of the list */
    enum col_type type;
    size_t off;       /* of the field */
    size_t size;      /* of the field (COL_CHARS) */
    size_t count_off; /* of the size_t count (COL_NAMES, COL_PLAN_*, COL_NUMS) */
};

/* Where a job list's arrays and their strings go: sized by store_rows_arena_size(). */
struct row_arena {
    char *next;         /* the next free byte of the strings */
    const char **names; /* the next free name pointer */
    struct job_node_use *uses;
    double *nums; /* the next free number */
};

/* Bytes of strings, name pointers, plan entries and numbers the array columns of rows
 * [0, n) need. */
void store_rows_arena_size(const PGresult *r, const struct col *cols, size_t ncols, size_t *bytes,
                           size_t *names, size_t *uses, size_t *nums);

/* Decodes row (columns from 0, in the order of cols) into out. a may be NULL when cols has
 * no array column. */
void store_row_decode(const PGresult *r, int row, const struct col *cols, size_t ncols, void *out,
                      struct row_arena *a);

/* A row of a cols[] table from an X-list entry X(sql, type, field, count) of record st:
 * count names the size_t count of an array field (for other types, the field itself). */
#define COL_ROW(st, sql, type, field, count)                                                       \
    {sql, type, offsetof(st, field), sizeof(((st *)0)->field), offsetof(st, count)},
#define COL_SQL(sql, type, field, count) ", " sql

/* ---- the job record the API reads: struct job ---------------------------------------------- */

#define MS_OF(c) "(extract(epoch FROM " c ") * 1000)::bigint"

/* The columns of struct job after its id, in select order. */
#define JOB_COLUMN_LIST(X)                                                                         \
    X("uid", COL_TEXT, uid, uid)                                                                   \
    X("namespace", COL_TEXT, ns, ns)                                                               \
    X("name", COL_TEXT, name, name)                                                                \
    X("api_version", COL_TEXT, api_version, api_version)                                           \
    X("labels::text", COL_TEXT, labels_json, labels_json)                                          \
    X("spec::text", COL_TEXT, spec_json, spec_json)                                                \
    X("phase", COL_PHASE, phase, phase)                                                            \
    X("cluster", COL_TEXT, cluster, cluster)                                                       \
    X("pool", COL_TEXT, pool, pool)                                                                \
    X("member_namespace", COL_TEXT, member_ns, member_ns)                                          \
    X("priority", COL_INT, priority, priority)                                                     \
    X("preemptible", COL_BOOL, preemptible, preemptible)                                           \
    X("sku", COL_TEXT, sku, sku)                                                                   \
    X("gpu_count", COL_INT, gpu_count, gpu_count)                                                  \
    X("gpus_per_worker", COL_INT, gpus_per_worker, gpus_per_worker)                                \
    X("attempt", COL_INT, attempt, attempt)                                                        \
    X("preemptions", COL_INT, preemptions, preemptions)                                            \
    X("retries", COL_INT, retries, retries)                                                        \
    X("held", COL_BOOL, held, held)                                                                \
    X("reason", COL_TEXT, reason, reason)                                                          \
    X("message", COL_TEXT, message, message)                                                       \
    X(MS_OF("created_at"), COL_I64, created_ms, created_ms)                                        \
    X(MS_OF("updated_at"), COL_I64, updated_ms, updated_ms)                                        \
    X(MS_OF("admitted_at"), COL_I64, admitted_ms, admitted_ms)                                     \
    X(MS_OF("started_at"), COL_I64, started_ms, started_ms)                                        \
    X(MS_OF("finished_at"), COL_I64, finished_ms, finished_ms)                                     \
    X(MS_OF("last_checkpoint_at"), COL_I64, last_checkpoint_ms, last_checkpoint_ms)                \
    X(MS_OF("checkpoint_requested_at"), COL_I64, checkpoint_requested_ms, checkpoint_requested_ms) \
    X(MS_OF("checkpoint_deadline"), COL_I64, checkpoint_deadline_ms, checkpoint_deadline_ms)       \
    X(MS_OF("not_before"), COL_I64, not_before_ms, not_before_ms)                                  \
    X("resource_version", COL_I64, resource_version, resource_version)

/* The select list of struct job: "id, uid, ..., resource_version". */
#define JOB_COLUMNS "id" JOB_COLUMN_LIST(COL_SQL)

extern const struct col job_cols[];
extern const size_t job_ncols;
#define JOB_NCOLUMNS ((int)job_ncols) /* a query's own columns follow */

/* Builds a job from row of a result selected with JOB_COLUMNS. Caller owns it. */
struct job *store_job_from_row(const PGresult *r, int row);

#endif
