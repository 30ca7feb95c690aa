/* retention.c -- bounded deletes of old rows (retention.h). */
#include "store/retention.h"

#include "base/err.h"
#include "store/conn.h"

#include <stdio.h>
#include <stdlib.h>

/* One statement per kind: the oldest first is not needed, any batch of expired rows will
 * do, so the subquery takes what its index gives first (on ts, or migration 0029's), and
 * the delete finds them by key (an array, so the planner looks each up rather than
 * scanning the table to join them). */
static const char *const purge_sql[STORE_RETAINED_COUNT] = {
    "DELETE FROM capacity_samples WHERE ctid = ANY (ARRAY (SELECT ctid FROM capacity_samples"
    " WHERE ts < to_timestamp($1::bigint / 1000.0) LIMIT $2::bigint))",
    "DELETE FROM audit_log WHERE ctid = ANY (ARRAY (SELECT ctid FROM audit_log"
    " WHERE ts < to_timestamp($1::bigint / 1000.0) LIMIT $2::bigint))",
    "DELETE FROM jobs WHERE id = ANY (ARRAY (SELECT id FROM jobs"
    " WHERE phase IN ('Succeeded', 'Failed', 'Cancelled')"
    " AND coalesce(finished_at, updated_at) < to_timestamp($1::bigint / 1000.0)"
    " LIMIT $2::bigint))",
    /* The marks go with the first batch: a span no longer marked is read from its
     * samples, which are gone by then too. */
    "WITH m AS (DELETE FROM capacity_rollup_marks WHERE start < to_timestamp($1::bigint / 1000.0))"
    " DELETE FROM capacity_rollup WHERE ctid = ANY (ARRAY (SELECT ctid FROM capacity_rollup"
    " WHERE start < to_timestamp($1::bigint / 1000.0) LIMIT $2::bigint))",
};

static const char *const names[STORE_RETAINED_COUNT] = {"capacity_samples", "audit_log", "jobs",
                                                        "capacity_rollup"};

const char *store_retained_name(enum store_retained what)
{
    return (unsigned)what < STORE_RETAINED_COUNT ? names[what] : "?";
}

int store_purge(struct store *s, enum store_retained what, int64_t before_ms, long batch,
                long max_rows, long *deleted, struct err *e)
{
    char before[24], limit[24];
    const char *params[2] = {before, limit};
    long done = 0, n;

    if ((unsigned)what >= STORE_RETAINED_COUNT || batch < 1)
        return err_set(e, ERR_INVALID, "what", "nothing to purge");
    snprintf(before, sizeof(before), "%lld", (long long)before_ms);
    snprintf(limit, sizeof(limit), "%ld", batch);
    do {
        PGresult *r = NULL;

        if (store_exec(s, purge_sql[what], 2, params, &r, e)) {
            PQclear(r);
            *deleted += done;
            return -1;
        }
        n = strtol(PQcmdTuples(r), NULL, 10);
        PQclear(r);
        done += n;
    } while (n == batch && done < max_rows);
    *deleted += done;
    return 0;
}
