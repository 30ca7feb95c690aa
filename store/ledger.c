/* ledger.c -- the lost-work ledger read back: filtered keyset pages of reclaims rows with
 * their jobs, and all-time totals by cluster, SKU and cause. */
#include "store/ledger.h"

#include "base/buf.h"
#include "base/err.h"
#include "base/mem.h"
#include "store/conn.h"
#include "store/store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int store_ledger_cause_valid(const char *cause)
{
    return cause && (strcmp(cause, "reclaim") == 0 || strcmp(cause, "preemption") == 0 ||
                     strcmp(cause, "retry") == 0);
}

/* Every filter is a parameter that is NULL when unset, so the statement is one text. */
static const char sql_list[] =
    "SELECT r.id, j.namespace, j.name, j.uid::text, r.attempt, r.cluster, COALESCE(r.pool, ''),"
    " r.sku, r.cause, r.reason, r.gpus, r.lost_gpu_hours,"
    " (extract(epoch FROM r.requested_at) * 1000)::bigint,"
    " COALESCE((extract(epoch FROM r.freed_at) * 1000)::bigint, 0)"
    " FROM reclaims r JOIN jobs j ON j.id = r.job_id"
    " WHERE r.id > $1::bigint"
    "  AND ($3::text IS NULL OR r.cluster = $3) AND ($4::text IS NULL OR r.namespace = $4)"
    "  AND ($5::text IS NULL OR r.sku = $5) AND ($6::text IS NULL OR r.cause = $6)"
    "  AND ($7::text[] IS NULL OR r.namespace = ANY($7::text[]))"
    "  AND ($8::bigint IS NULL OR r.requested_at >= to_timestamp($8::bigint / 1000.0))"
    "  AND ($9::bigint IS NULL OR r.requested_at < to_timestamp($9::bigint / 1000.0))"
    " ORDER BY r.id LIMIT $2::int";

static int64_t col_i64(const PGresult *r, int row, int col)
{
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static void entry_from_row(struct store_ledger_entry *x, const PGresult *r, int row)
{
    x->id = col_i64(r, row, 0);
    snprintf(x->ns, sizeof(x->ns), "%s", PQgetvalue(r, row, 1));
    snprintf(x->name, sizeof(x->name), "%s", PQgetvalue(r, row, 2));
    snprintf(x->uid, sizeof(x->uid), "%s", PQgetvalue(r, row, 3));
    x->attempt = (int)col_i64(r, row, 4);
    snprintf(x->cluster, sizeof(x->cluster), "%s", PQgetvalue(r, row, 5));
    snprintf(x->pool, sizeof(x->pool), "%s", PQgetvalue(r, row, 6));
    snprintf(x->sku, sizeof(x->sku), "%s", PQgetvalue(r, row, 7));
    snprintf(x->cause, sizeof(x->cause), "%s", PQgetvalue(r, row, 8));
    snprintf(x->reason, sizeof(x->reason), "%s", PQgetvalue(r, row, 9));
    x->gpus = (int)col_i64(r, row, 10);
    x->lost_gpu_hours = strtod(PQgetvalue(r, row, 11), NULL);
    x->requested_ms = col_i64(r, row, 12);
    x->freed_ms = col_i64(r, row, 13);
}

int store_ledger_list(struct store *s, const struct store_ledger_filter *f,
                      struct store_ledger_entry **out, size_t *n, int64_t *next_after,
                      struct err *e)
{
    char after[24], limit[16], since[24], until[24];
    const char *params[9];
    char *ns_list = NULL;
    struct store_ledger_entry *v;
    PGresult *r;
    size_t count;
    int rc;

    if (f->limit < 1 || f->limit > STORE_LEDGER_MAX_LIMIT)
        return err_set(e, ERR_INVALID, "limit", "limit %d not in 1..%d", f->limit,
                       STORE_LEDGER_MAX_LIMIT);
    if (f->cause && !store_ledger_cause_valid(f->cause))
        return err_set(e, ERR_INVALID, "cause",
                       "unknown cause \"%s\"; causes are reclaim, preemption, retry", f->cause);
    snprintf(after, sizeof(after), "%" PRId64, f->after_id);
    snprintf(limit, sizeof(limit), "%d", f->limit + 1);
    snprintf(since, sizeof(since), "%" PRId64, f->since_ms);
    snprintf(until, sizeof(until), "%" PRId64, f->until_ms);
    if (f->n_namespaces) {
        struct buf b;

        buf_init(&b, 0);
        buf_puts(&b, "{");
        for (size_t i = 0; i < f->n_namespaces; i++)
            store_array_add(&b, f->namespaces[i]);
        buf_puts(&b, "}");
        ns_list = buf_steal(&b);
    }
    params[0] = after;
    params[1] = limit;
    params[2] = f->cluster;
    params[3] = f->ns;
    params[4] = f->sku;
    params[5] = f->cause;
    params[6] = ns_list;
    params[7] = f->since_ms ? since : NULL;
    params[8] = f->until_ms ? until : NULL;
    rc = store_exec(s, sql_list, 9, params, &r, e);
    free(ns_list);
    if (rc)
        return -1;
    count = (size_t)PQntuples(r);
    *next_after = 0;
    if (count > (size_t)f->limit) {
        count = (size_t)f->limit;
        *next_after = col_i64(r, (int)count - 1, 0);
    }
    v = xcalloc(count ? count : 1, sizeof(*v));
    for (size_t i = 0; i < count; i++)
        entry_from_row(&v[i], r, (int)i);
    PQclear(r);
    *out = v;
    *n = count;
    return 0;
}

int store_ledger_totals(struct store *s, struct store_ledger_total **out, size_t *n, struct err *e)
{
    static const char sql[] =
        "SELECT cluster, sku, cause, count(*), sum(lost_gpu_hours) FROM reclaims"
        " GROUP BY 1, 2, 3 ORDER BY cluster COLLATE \"C\", sku COLLATE \"C\", cause COLLATE \"C\"";
    struct store_ledger_total *v;
    PGresult *r;

    if (store_exec(s, sql, 0, NULL, &r, e))
        return -1;
    v = xcalloc((size_t)PQntuples(r) + 1, sizeof(*v));
    for (int row = 0; row < PQntuples(r); row++) {
        snprintf(v[row].cluster, sizeof(v[row].cluster), "%s", PQgetvalue(r, row, 0));
        snprintf(v[row].sku, sizeof(v[row].sku), "%s", PQgetvalue(r, row, 1));
        snprintf(v[row].cause, sizeof(v[row].cause), "%s", PQgetvalue(r, row, 2));
        v[row].count = col_i64(r, row, 3);
        v[row].lost_gpu_hours = strtod(PQgetvalue(r, row, 4), NULL);
    }
    *n = (size_t)PQntuples(r);
    *out = v;
    PQclear(r);
    return 0;
}
